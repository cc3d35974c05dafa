/* test_err.c -- unit tests for common/core/err.c. */
#include "tests/unit/unit.h"
#include "core/err.h"

static void
test_set_formats_and_returns_minus_one(void)
{
    struct hd_err err = {0};

    ASSERT_INT_EQ(hd_err_set(&err, HD_EINVAL, "bad %s=%d", "ttl", -1), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_STR_EQ(err.msg, "bad ttl=-1");
}

static void
test_null_err_is_allowed(void)
{
    ASSERT_INT_EQ(hd_err_set(NULL, HD_EIO, "x"), -1);
    ASSERT_INT_EQ(hd_err_wrap(NULL, "y"), -1);
    hd_err_clear(NULL);
}

static void
test_long_message_truncates(void)
{
    struct hd_err err = {0};
    char big[600];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hd_err_set(&err, HD_EIO, "%s", big);
    ASSERT_INT_EQ(strlen(err.msg), HD_ERR_MSG_LEN - 1);
}

static void
test_wrap_prefixes_and_keeps_code(void)
{
    struct hd_err err = {0};

    hd_err_set(&err, HD_ETIMEDOUT, "no answer");
    ASSERT_INT_EQ(hd_err_wrap(&err, "pg %s", "connect"), -1);
    ASSERT_STR_EQ(err.msg, "pg connect: no answer");
    ASSERT_INT_EQ(err.code, HD_ETIMEDOUT);
    hd_err_clear(&err);
    ASSERT_INT_EQ(err.code, HD_EOK);
    ASSERT_STR_EQ(err.msg, "");
    ASSERT_STR_EQ(hd_err_name(HD_EAUTH), "EAUTH");
}

int
main(void)
{
    RUN_TEST(test_set_formats_and_returns_minus_one);
    RUN_TEST(test_null_err_is_allowed);
    RUN_TEST(test_long_message_truncates);
    RUN_TEST(test_wrap_prefixes_and_keeps_code);
    return UNIT_DONE();
}
