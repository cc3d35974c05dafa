/* pool_private.h -- what pg.c (the pool) lends batch.c and migrate.c:
 * deadlines, the statement table, opening a connection.
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

/* Opens c->conn with the pool's parameters, bounded by deadline_ms. */
int hd_pg_open_conn(struct hd_pg *pg, struct hd_pgconn *c, uint64_t deadline_ms,
                    struct hd_err *err);

#endif
