/* test_rand.c -- unit tests for common/core/rand.c. */
#include <ctype.h>

#include "tests/unit/unit.h"
#include "core/rand.h"

static void
test_uuid_shape(void)
{
    char a[37], b[37];
    int i;

    hd_uuid4(a);
    hd_uuid4(b);
    ASSERT_INT_EQ(strlen(a), 36);
    ASSERT_TRUE(strcmp(a, b) != 0);
    ASSERT_INT_EQ(a[8], '-');
    ASSERT_INT_EQ(a[14], '4');
    ASSERT_TRUE(strchr("89ab", a[19]) != NULL);
    for (i = 0; i < 36; i++)
        ASSERT_TRUE(a[i] == '-' || isxdigit((unsigned char)a[i]));
}

static void
test_hex_and_u64(void)
{
    char h[200];

    hd_random_hex(h, 80);
    ASSERT_INT_EQ(strlen(h), 160);
    ASSERT_TRUE(hd_rand_u64() != hd_rand_u64());
}

int
main(void)
{
    RUN_TEST(test_uuid_shape);
    RUN_TEST(test_hex_and_u64);
    return UNIT_DONE();
}
