/* test_url.c -- unit tests for common/http/url.c: trailing slashes go,
 * everything else (a path prefix, a port, a lone scheme) stays. */
#include "tests/unit/unit.h"
#include "http/url.h"

static void
test_base_len_strips_trailing_slashes_only(void)
{
    ASSERT_INT_EQ(hd_url_base_len("https://fcm.googleapis.com"), 26);
    ASSERT_INT_EQ(hd_url_base_len("https://fcm.googleapis.com/"), 26);
    ASSERT_INT_EQ(hd_url_base_len("https://fcm.googleapis.com///"), 26);
    ASSERT_INT_EQ(hd_url_base_len("http://127.0.0.1:8080/api/"), 25);
    ASSERT_INT_EQ(hd_url_base_len("http://127.0.0.1:8080/api"), 25);
    ASSERT_INT_EQ(hd_url_base_len("/"), 0);
    ASSERT_INT_EQ(hd_url_base_len(""), 0);
    ASSERT_INT_EQ(hd_url_base_len(NULL), 0);
}

int
main(void)
{
    RUN_TEST(test_base_len_strips_trailing_slashes_only);
    return UNIT_DONE();
}
