/* api_store.h -- herald-api's SQL: the prepared-statement table (declared
 * in api.h) and the helpers that pass lists to it.
 *
 * Lists travel as PostgreSQL array literals built here with proper
 * quoting, never as SQL text, so a hostile string is only ever data.
 * Result helpers read text columns, NULL-aware. Pure functions. */
#ifndef API_STORE_H
#define API_STORE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "pg/array.h"

/* Array literals are bounded by what one call can carry: HD_LIST_MAX of
 * the longest tokens, each possibly doubled by escaping. */
#define API_PG_ARRAY_MAX (HD_LIST_MAX * (2 * HD_TOKEN_MAX_FCM + 4))

/* The literal of a JSON array of strings, into b (reset first). Returns
 * b->data, or NULL when arr is NULL (an absent list is SQL NULL). On
 * overflow returns NULL with err set: check err->code. */
const char *api_pgarr_json(struct hd_buf *b, json_t *arr, struct hd_err *err);

struct hd_pg;

/* Runs one prepared statement on a connection from pg (waiting up to
 * wait_ms for one). Any database failure comes back as HD_EUPSTREAM with
 * a message for the log (never for a client). Returns 0 with *res (new,
 * PQclear it) when res is not NULL, or -1 with err. */
int api_query(struct hd_pg *pg, int wait_ms, const char *stmt, int n,
              const char *const *vals, PGresult **res, struct hd_err *err);

/* The text of (row, col), or NULL for SQL NULL. Borrowed from res. */
const char *api_pg_get(const PGresult *res, int row, int col);

/* (row, col) as an integer, 0 for NULL or junk. */
long long api_pg_get_ll(const PGresult *res, int row, int col);

/* (row, col) of a jsonb/json column parsed (new), NULL for SQL NULL. */
json_t *api_pg_get_json(const PGresult *res, int row, int col);

#endif
