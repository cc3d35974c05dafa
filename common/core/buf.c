/* buf.c -- struct hd_buf.
 *
 * Growth doubles the allocation (bounded by max + 1 for the NUL), so
 * appending n bytes costs O(n) amortised. The ceiling check happens before
 * any copy, which is what makes "unchanged on failure" hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/banned.h"

void
hd_buf_init(struct hd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void
hd_buf_release(struct hd_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void
hd_buf_reset(struct hd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for extra more bytes (plus the NUL). */
static int
grow(struct hd_buf *b, size_t extra, struct hd_err *err)
{
    size_t need;
    size_t ncap;

    if (extra > b->max || b->len > b->max - extra)
        return hd_err_set(err, HD_ETOOBIG, "buffer limit %zu bytes exceeded",
                          b->max);
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    b->data = hd_xrealloc(b->data, ncap);
    b->cap = ncap;
    return 0;
}

int
hd_buf_append(struct hd_buf *b, const void *p, size_t n, struct hd_err *err)
{
    if (grow(b, n, err) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
hd_buf_puts(struct hd_buf *b, const char *s, struct hd_err *err)
{
    return hd_buf_append(b, s, strlen(s), err);
}

int
hd_buf_putc(struct hd_buf *b, char c, struct hd_err *err)
{
    return hd_buf_append(b, &c, 1, err);
}

int
hd_buf_vprintf(struct hd_buf *b, struct hd_err *err, const char *fmt,
               va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return hd_err_set(err, HD_EINVAL, "bad format");
    if (grow(b, (size_t)n, err) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
hd_buf_printf(struct hd_buf *b, struct hd_err *err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = hd_buf_vprintf(b, err, fmt, ap);
    va_end(ap);
    return rc;
}

/* 1 for the bytes hd_buf_json_escape() copies as they are. */
static int
json_plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
}

int
hd_buf_json_escape(struct hd_buf *b, const char *s, size_t n,
                   struct hd_err *err)
{
    size_t start = b->len;
    size_t i = 0, run;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        int rc;

        for (run = i; run < n && json_plain((unsigned char)s[run]); run++)
            ;
        if (run > i) { /* a run of bytes that need no escape: one copy */
            rc = hd_buf_append(b, s + i, run - i, err);
            i = run;
        } else {
            if (c == '"')
                rc = hd_buf_append(b, "\\\"", 2, err);
            else if (c == '\\')
                rc = hd_buf_append(b, "\\\\", 2, err);
            else if (c == '\n')
                rc = hd_buf_append(b, "\\n", 2, err);
            else if (c == '\r')
                rc = hd_buf_append(b, "\\r", 2, err);
            else if (c == '\t')
                rc = hd_buf_append(b, "\\t", 2, err);
            else
                rc = hd_buf_printf(b, err, "\\u%04x", c);
            i++;
        }
        if (rc < 0) {
            /* keep the "unchanged on failure" promise */
            b->len = start;
            if (b->data)
                b->data[start] = '\0';
            return -1;
        }
    }
    return 0;
}

void
hd_buf_consume(struct hd_buf *b, size_t n)
{
    if (n >= b->len) {
        hd_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *
hd_buf_detach(struct hd_buf *b, size_t *len)
{
    char *p = b->data ? b->data : hd_xstrdup("");

    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
