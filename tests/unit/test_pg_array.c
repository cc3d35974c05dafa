/* test_pg_array.c -- hd_pg_array_* (common/pg/array.c): PostgreSQL array
 * literals with quoting, NULL elements, numbers, and a buffer too small. */
#include <stdint.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "core/buf.h"
#include "pg/array.h"
#include "core/banned.h"

static void
test_quotes_and_escapes(void)
{
    struct hd_buf b;
    struct hd_err err = {0};

    hd_buf_init(&b, 256);
    hd_pg_array_begin(&b);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "plain", &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "a\"b\\c", &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add(&b, NULL, &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "{x,y}", &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "", &err), 0);
    ASSERT_INT_EQ(hd_pg_array_end(&b, &err), 0);
    ASSERT_STR_EQ(b.data, "{\"plain\",\"a\\\"b\\\\c\",NULL,\"{x,y}\",\"\"}");
    /* begin empties the buffer for the next literal */
    hd_pg_array_begin(&b);
    ASSERT_INT_EQ(hd_pg_array_add_i64(&b, -7, &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add_i64(&b, INT64_MAX, &err), 0);
    ASSERT_INT_EQ(hd_pg_array_end(&b, &err), 0);
    ASSERT_STR_EQ(b.data, "{-7,9223372036854775807}");
    hd_pg_array_begin(&b);
    ASSERT_INT_EQ(hd_pg_array_end(&b, &err), 0);
    ASSERT_STR_EQ(b.data, "{}");
    hd_buf_release(&b);
}

static void
test_too_long_element_leaves_the_literal(void)
{
    struct hd_buf b;
    struct hd_err err = {0};

    hd_buf_init(&b, 16);
    hd_pg_array_begin(&b);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "ab", &err), 0);
    ASSERT_INT_EQ(hd_pg_array_add(&b, "0123456789abcdef", &err), -1);
    ASSERT_INT_NE(err.code, 0);
    /* what was there before the failed element, nothing of it */
    ASSERT_STR_EQ(b.data, "{\"ab\"");
    hd_buf_release(&b);
}

int
main(void)
{
    RUN_TEST(test_quotes_and_escapes);
    RUN_TEST(test_too_long_element_leaves_the_literal);
    return UNIT_DONE();
}
