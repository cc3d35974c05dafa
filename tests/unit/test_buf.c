/* test_buf.c -- unit tests for common/core/buf.c. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "core/buf.h"

static void
test_append_and_nul(void)
{
    struct hd_buf b;

    hd_buf_init(&b, 100);
    ASSERT_INT_EQ(hd_buf_puts(&b, "hello", NULL), 0);
    ASSERT_INT_EQ(hd_buf_putc(&b, ' ', NULL), 0);
    ASSERT_INT_EQ(hd_buf_printf(&b, NULL, "%d", 42), 0);
    ASSERT_STR_EQ(b.data, "hello 42");
    ASSERT_INT_EQ(b.len, 8);
    hd_buf_release(&b);
    ASSERT_NULL(b.data);
    ASSERT_INT_EQ(b.len + b.cap + b.max, 0);
}

static void
test_ceiling_leaves_buffer_unchanged(void)
{
    struct hd_buf b;
    struct hd_err err = {0};

    hd_buf_init(&b, 8);
    ASSERT_INT_EQ(hd_buf_puts(&b, "12345", NULL), 0);
    ASSERT_INT_EQ(hd_buf_puts(&b, "6789", &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_EQ(b.data, "12345");
    ASSERT_INT_EQ(hd_buf_printf(&b, &err, "%s", "abcd"), -1);
    ASSERT_STR_EQ(b.data, "12345");
    ASSERT_INT_EQ(hd_buf_puts(&b, "678", NULL), 0);
    ASSERT_STR_EQ(b.data, "12345678");
    ASSERT_INT_LE(b.cap, 9);
    hd_buf_release(&b);
}

static void
test_json_escape(void)
{
    struct hd_buf b;

    hd_buf_init(&b, 100);
    ASSERT_INT_EQ(hd_buf_json_escape(&b, "a\"b\\c\n\x01", 7, NULL), 0);
    ASSERT_STR_EQ(b.data, "a\\\"b\\\\c\\n\\u0001");
    hd_buf_reset(&b);
    b.max = 4;
    ASSERT_INT_EQ(hd_buf_json_escape(&b, "\"\"\"", 3, NULL), -1);
    ASSERT_INT_EQ(b.len, 0);
    hd_buf_release(&b);
}

static void
test_consume_and_detach(void)
{
    struct hd_buf b;
    size_t len = 0;
    char *p;

    hd_buf_init(&b, 1000);
    hd_buf_puts(&b, "abcdef", NULL);
    hd_buf_consume(&b, 2);
    ASSERT_STR_EQ(b.data, "cdef");
    p = hd_buf_detach(&b, &len);
    ASSERT_STR_EQ(p, "cdef");
    ASSERT_INT_EQ(len, 4);
    ASSERT_NULL(b.data);
    ASSERT_INT_EQ(b.max, 1000);
    free(p);
    p = hd_buf_detach(&b, &len);
    ASSERT_STR_EQ(p, "");
    free(p);
    hd_buf_release(&b);
}

static void
test_growth_many_appends(void)
{
    struct hd_buf b;
    int i;

    hd_buf_init(&b, 1 << 20);
    for (i = 0; i < 10000; i++)
        ASSERT_INT_EQ(hd_buf_append(&b, "0123456789", 10, NULL), 0);
    ASSERT_INT_EQ(b.len, 100000);
    ASSERT_INT_EQ(b.data[99999], '9');
    hd_buf_release(&b);
}

int
main(void)
{
    RUN_TEST(test_append_and_nul);
    RUN_TEST(test_ceiling_leaves_buffer_unchanged);
    RUN_TEST(test_json_escape);
    RUN_TEST(test_consume_and_detach);
    RUN_TEST(test_growth_many_appends);
    return UNIT_DONE();
}
