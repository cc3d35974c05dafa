/* pg_array.h -- PostgreSQL array literals ({"a","b\"c",NULL}) built in a
 * buffer, for passing a list as one text parameter.
 *
 * Usage: hd_pg_array_begin, then hd_pg_array_add per element, then
 * hd_pg_array_end; the buffer's max bounds the literal. */
#ifndef HD_PG_ARRAY_H
#define HD_PG_ARRAY_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Empties b and opens the literal. */
void hd_pg_array_begin(struct hd_buf *b);

/* Appends s, quoted (NULL: the SQL NULL element). 0, or -1 with err when
 * b's max is reached (b then holds what it held before). */
int hd_pg_array_add(struct hd_buf *b, const char *s, struct hd_err *err);

/* Appends a number. 0 or -1 as hd_pg_array_add. */
int hd_pg_array_add_i64(struct hd_buf *b, int64_t v, struct hd_err *err);

/* Closes the literal. 0 or -1 as hd_pg_array_add. */
int hd_pg_array_end(struct hd_buf *b, struct hd_err *err);

#endif
