/* pool_private.h -- what pg.c (the pool) lends batch.c and migrate.c:
 * deadlines, the statement table and its checks, opening a connection.
 *
 * Not part of the contract: only the parts of common/pg/pg.h include it.
 * Kept apart from private.h so that roundtrip.c, which pg.c calls, never
 * depends on pg.c in turn. */
#ifndef HD_PG_POOL_PRIVATE_H
#define HD_PG_POOL_PRIVATE_H

#include <stdint.h>

#include "core/err.h"
#include "pg/pg.h"
#include "pg/private.h"

/* The monotonic time ms from now. */
uint64_t hd_pg_deadline_after(int ms);

/* Client-side bound on one statement (0: none). */
uint64_t hd_pg_stmt_deadline(const struct hd_pg *pg);

/* The statement named stmt in the pool's table, NULL if none. */
const struct hd_pg_stmt *hd_pg_find_stmt(const struct hd_pg *pg,
                                         const char *stmt);

/* "exec <statement>": how messages name a prepared statement's run. */
#define HD_PG_WHAT_MAX 96

/* hd_pg_exec's checks before sending: stmt is in the table with nparams
 * parameters and c is usable. Fills what (HD_PG_WHAT_MAX bytes); 0 or -1
 * with err. */
int hd_pg_exec_check(struct hd_pgconn *c, const char *stmt, int nparams,
                     const char *const *values, char *what, struct hd_err *err);

/* Opens c->conn with the pool's parameters, bounded by deadline_ms. */
int hd_pg_open_conn(struct hd_pg *pg, struct hd_pgconn *c, uint64_t deadline_ms,
                    struct hd_err *err);

#endif
