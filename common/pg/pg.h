/* pg.h -- PostgreSQL through libpq: a connection pool, prepared statements
 * only, reconnect, and the migrations runner.
 *
 * A service declares its SQL once as a const table of struct hd_pg_stmt;
 * every connection prepares the whole table when it (re)connects, and
 * queries name a statement, never carry SQL text. A connection that breaks
 * is reset on its next acquire, so a database restart costs failed queries
 * while it is down and nothing after: no process restart. Every connection
 * has connect, statement and TCP timeouts, so no call blocks forever.
 *
 * Thread-safety: the pool (hd_pg_*) is thread-safe; a struct hd_pgconn is
 * used by one thread between acquire and release.
 *
 * common/pg/ owns every conversation with PostgreSQL: this pool, pipelines
 * (batch.c), group commit (group.h) and the migrations compiled into every
 * binary (migrations.h). The SQL itself belongs to the service that runs it.
 */
#ifndef HD_PG_H
#define HD_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "pg/migrations.h"

struct hd_pg_config {
    char *dsn;                /* HERALD_PG_DSN (secret) */
    int pool_size;            /* HERALD_PG_POOL_SIZE */
    int connect_timeout_ms;   /* HERALD_PG_CONNECT_TIMEOUT_MS */
    int statement_timeout_ms; /* HERALD_PG_STATEMENT_TIMEOUT_MS */
};

/* HERALD_PG_DSN (required, secret), HERALD_PG_POOL_SIZE,
 * HERALD_PG_CONNECT_TIMEOUT_MS, HERALD_PG_STATEMENT_TIMEOUT_MS. */
extern const struct hd_config_field hd_pg_config_fields[];

struct hd_pg_stmt {
    const char *name; /* unique within the table */
    const char *sql;  /* $1..$n parameters */
    int nparams;      /* <= HD_PG_MAX_PARAMS */
};

struct hd_pg;
struct hd_pgconn;

/* new: a pool of up to cfg->pool_size connections that prepare stmts
 * (borrowed: a static table) on connect. Connects lazily, so it succeeds
 * while the database is down. NULL with err on bad arguments. */
struct hd_pg *hd_pg_new(const struct hd_pg_config *cfg,
                        const struct hd_pg_stmt *stmts, size_t nstmts,
                        struct hd_err *err);

/* Closes every connection. Connections must have been released. NULL is a
 * no-op. */
void hd_pg_free(struct hd_pg *pg);

/* Takes a connection, waiting up to timeout_ms for one to be free, and
 * (re)connects and (re)prepares it if needed. NULL with err (HD_ETIMEDOUT
 * when the pool stayed busy, HD_EUPSTREAM when the database cannot be
 * reached). */
struct hd_pgconn *hd_pg_acquire(struct hd_pg *pg, int timeout_ms,
                                struct hd_err *err);

/* Gives the connection back. If it is broken or still inside a
 * transaction, it is rolled back or reset first. NULL is a no-op. */
void hd_pg_release(struct hd_pg *pg, struct hd_pgconn *c);

/* Runs the named prepared statement. values[i] is text (formats NULL) or
 * binary when formats[i] = 1 with lengths[i]; NULL values[i] is SQL NULL.
 * *res (new: PQclear it) receives the result when res is not NULL.
 * Returns 0, or -1 with err: HD_ECONFLICT for unique/exclusion violations
 * (SQLSTATE 23505, 23P01), HD_EINVAL for data and constraint errors (22xxx,
 * 23xxx), HD_ETIMEDOUT for statement timeout (57014), HD_EUPSTREAM for a
 * lost connection (the connection is marked broken). The message names the
 * statement and never contains parameter values. */
int hd_pg_exec(struct hd_pgconn *c, const char *stmt, int nparams,
               const char *const *values, const int *lengths,
               const int *formats, PGresult **res, struct hd_err *err);

/* Runs stmt once per row of parameters (values[row * nparams + i], text;
 * nrows <= HD_PG_BATCH_MAX) in one pipeline ending in a single sync: one
 * round trip and one implicit transaction, so every row applies or none
 * does. res[row] (new: PQclear each) receives each row's result. Returns
 * 0, or -1 with err as hd_pg_exec gives it for the first row that failed
 * (every res[] NULL, nothing applied). Outside any explicit transaction. */
int hd_pg_exec_batch(struct hd_pgconn *c, const char *stmt, int nparams,
                     int nrows, const char *const *values, PGresult **res,
                     struct hd_err *err);

/* hd_pg_exec in two halves, so the caller works while the statement runs:
 * hd_pg_send sends it (0, or -1 with err as hd_pg_exec gives it), and
 * hd_pg_recv, called next on c with the same arguments (values unchanged
 * in between), waits for its result. Nothing else may run on c in
 * between; releasing c instead drops the connection. */
int hd_pg_send(struct hd_pgconn *c, const char *stmt, int nparams,
               const char *const *values, struct hd_err *err);
int hd_pg_recv(struct hd_pgconn *c, const char *stmt, int nparams,
               const char *const *values, PGresult **res, struct hd_err *err);

/* SQLSTATE of the last failed hd_pg_exec on this connection, "" if none. */
const char *hd_pg_sqlstate(const struct hd_pgconn *c);

/* Transaction control on one connection. Return 0 or -1 with err.
 * hd_pg_rollback never fails visibly: a broken connection is reset on
 * release. */
int hd_pg_begin(struct hd_pgconn *c, struct hd_err *err);
int hd_pg_commit(struct hd_pgconn *c, struct hd_err *err);
void hd_pg_rollback(struct hd_pgconn *c);

/* For /readyz: acquires a connection and runs SELECT 1 within timeout_ms.
 * Returns 0, or -1 with err. */
int hd_pg_ping(struct hd_pg *pg, int timeout_ms, struct hd_err *err);

/* Applies every migration (table ends with a NULL name) not yet recorded
 * in the schema_migrations table, in version order, each in its own
 * transaction, holding an advisory lock so concurrent starters apply each
 * migration once. Returns 0 (also when nothing was pending) or -1 with
 * err naming the migration. *applied (may be NULL) gets the count. */
int hd_pg_migrate(struct hd_pg *pg, const struct hd_migration *migrations,
                  int *applied, struct hd_err *err);

#endif
