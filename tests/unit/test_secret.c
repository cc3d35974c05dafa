/* test_secret.c -- unit tests for common/auth/secret.c: equal keys match,
 * any difference (content, a prefix, a longer key, an empty or missing
 * configured key) does not. */
#include <string.h>

#include "tests/unit/unit.h"
#include "auth/secret.h"

static void
test_equal_and_different(void)
{
    const char *k = "0123456789abcdef0123456789abcdef";

    ASSERT_INT_EQ(hd_secret_equal(k, k, strlen(k)), 1);
    ASSERT_INT_EQ(hd_secret_equal(k, "0123456789abcdef0123456789abcdeX", 32),
                  0);
    ASSERT_INT_EQ(hd_secret_equal(k, k, strlen(k) - 1), 0); /* a prefix */
    ASSERT_INT_EQ(hd_secret_equal(k, "0123456789abcdef0123456789abcdef0", 33),
                  0); /* longer */
    ASSERT_INT_EQ(hd_secret_equal(k, "", 0), 0);
    /* got need not be terminated: only gotlen bytes count */
    ASSERT_INT_EQ(hd_secret_equal("abc", "abcdef", 3), 1);
}

static void
test_no_configured_key_never_matches(void)
{
    ASSERT_INT_EQ(hd_secret_equal("", "", 0), 0);
    ASSERT_INT_EQ(hd_secret_equal(NULL, "x", 1), 0);
    ASSERT_INT_EQ(hd_secret_equal("x", NULL, 0), 0);
}

int
main(void)
{
    RUN_TEST(test_equal_and_different);
    RUN_TEST(test_no_configured_key_never_matches);
    return UNIT_DONE();
}
