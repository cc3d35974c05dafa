/* buf.h -- struct hd_buf: growable bytes with a hard ceiling.
 *
 * The one growable buffer in Herald. Every buffer has a max (from
 * common/core/limits.h); an append that would pass it fails with HD_ETOOBIG and
 * leaves the buffer unchanged. The bytes are always NUL-terminated (the NUL
 * is not counted in len), so text can be used as a C string. Not
 * thread-safe: one owner at a time. */
#ifndef HD_BUF_H
#define HD_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct hd_buf {
    char *data; /* NULL until the first append; then len + 1 bytes valid */
    size_t len; /* bytes used, not counting the trailing NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the ceiling for len */
};

/* Initialises an empty buffer that will never hold more than max bytes. */
void hd_buf_init(struct hd_buf *b, size_t max);

/* Frees the bytes and leaves a zeroed struct (max 0: every append fails). */
void hd_buf_release(struct hd_buf *b);

/* Empties the buffer, keeping its allocation and max. */
void hd_buf_reset(struct hd_buf *b);

/* Appends n bytes. Returns 0, or -1 with HD_ETOOBIG (buffer unchanged). */
int hd_buf_append(struct hd_buf *b, const void *p, size_t n,
                  struct hd_err *err);

/* Appends a C string. Same contract as hd_buf_append(). */
int hd_buf_puts(struct hd_buf *b, const char *s, struct hd_err *err);

/* Appends one byte. Same contract as hd_buf_append(). */
int hd_buf_putc(struct hd_buf *b, char c, struct hd_err *err);

/* Appends formatted text. Same contract as hd_buf_append(). */
int hd_buf_printf(struct hd_buf *b, struct hd_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int hd_buf_vprintf(struct hd_buf *b, struct hd_err *err, const char *fmt,
                   va_list ap) __attribute__((format(printf, 3, 0)));

/* Appends s as the inside of a JSON string (quotes not included): escapes
 * ", \ and control bytes; passes UTF-8 through. */
int hd_buf_json_escape(struct hd_buf *b, const char *s, size_t n,
                       struct hd_err *err);

/* Removes the first n bytes (n <= len), moving the rest to the front. */
void hd_buf_consume(struct hd_buf *b, size_t n);

/* Steals the bytes: returns them (new, caller frees; never NULL, "" when
 * empty) and leaves the buffer empty with the same max. */
char *hd_buf_detach(struct hd_buf *b, size_t *len);

#endif
