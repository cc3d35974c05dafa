/* pg_array.c -- PostgreSQL array literals (see pg_array.h). */
#include "pg/array.h"
#include "core/banned.h"

void
hd_pg_array_begin(struct hd_buf *b)
{
    hd_buf_reset(b);
    hd_buf_putc(b, '{', NULL);
}

int
hd_pg_array_add(struct hd_buf *b, const char *s, struct hd_err *err)
{
    size_t start = b->len;
    const char *p;

    if (b->len > 1 && hd_buf_putc(b, ',', err) < 0)
        return -1;
    if (s == NULL)
        return hd_buf_puts(b, "NULL", err);
    if (hd_buf_putc(b, '"', err) < 0)
        goto fail;
    for (p = s; *p; p++) {
        if ((*p == '"' || *p == '\\') && hd_buf_putc(b, '\\', err) < 0)
            goto fail;
        if (hd_buf_putc(b, *p, err) < 0)
            goto fail;
    }
    if (hd_buf_putc(b, '"', err) < 0)
        goto fail;
    return 0;
fail:
    b->len = start;
    b->data[start] = '\0';
    return -1;
}

int
hd_pg_array_add_i64(struct hd_buf *b, int64_t v, struct hd_err *err)
{
    if (b->len > 1 && hd_buf_putc(b, ',', err) < 0)
        return -1;
    return hd_buf_printf(b, err, "%lld", (long long)v);
}

int
hd_pg_array_end(struct hd_buf *b, struct hd_err *err)
{
    return hd_buf_putc(b, '}', err);
}
