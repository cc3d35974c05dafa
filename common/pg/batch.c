/* pg_batch.c -- hd_pg_exec_batch: one statement, many parameter rows, one
 * pipeline (libpq pipeline mode) and one sync, so one round trip and one
 * implicit transaction. The results are read strictly in order: each
 * query gives one result (an error, or PGRES_PIPELINE_ABORTED after an
 * error) and then NULL, and the sync gives PGRES_PIPELINE_SYNC once the
 * transaction has committed or rolled back. Anything else, or no reply in
 * time, leaves the connection marked broken.
 *
 * Also hd_pg_send/hd_pg_recv: one statement whose result is awaited
 * later, so the caller works while the server does. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "pg/pg.h"
#include "pg/pool_private.h"
#include "pg/private.h"
#include "core/banned.h"

/* The next result of a pipeline, waiting for it up to deadline_ms. NULL
 * ends one query's results, or (with *fail set: 1 lost, 2 deadline) the
 * connection is unusable. */
static PGresult *
pipe_next(PGconn *conn, uint64_t deadline_ms, int *fail)
{
    int rc;

    while (PQisBusy(conn)) {
        rc = hd_pg_wait_input(conn, deadline_ms);
        if (rc == 0) {
            *fail = 2;
            return NULL;
        }
        if (rc < 0 || !PQconsumeInput(conn)) {
            *fail = 1;
            return NULL;
        }
    }
    return PQgetResult(conn);
}

/* Sends every row and the sync: 1 sent, 0 deadline passed, -1 failed. */
static int
pipe_send(PGconn *conn, const char *stmt, int nparams, int nrows,
          const char *const *values, uint64_t deadline_ms)
{
    int i;

    for (i = 0; i < nrows; i++)
        if (!PQsendQueryPrepared(conn, stmt, nparams,
                                 values + (size_t)i * (size_t)nparams, NULL,
                                 NULL, 0))
            return -1;
    if (!PQpipelineSync(conn))
        return -1;
    return hd_pg_flush(conn, deadline_ms);
}

static void
clear_all(PGresult **res, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        PQclear(res[i]);
        res[i] = NULL;
    }
}

int
hd_pg_exec_batch(struct hd_pgconn *c, const char *stmt, int nparams, int nrows,
                 const char *const *values, PGresult **res, struct hd_err *err)
{
    const struct hd_pg_stmt *s = hd_pg_find_stmt(c->pg, stmt);
    uint64_t dl = hd_pg_stmt_deadline(c->pg);
    struct hd_pg_params p = {nparams, NULL, NULL};
    ExecStatusType st;
    char what[96];
    PGresult *r;
    int failed = 0, fail = 0;
    int i, sent;

    if (s == NULL || nparams != s->nparams || nrows < 1 ||
        nrows > HD_PG_BATCH_MAX || values == NULL || res == NULL)
        return hd_err_set(err, HD_EINVAL, "pg batch %.64s: bad arguments",
                          stmt ? stmt : "(null)");
    for (i = 0; i < nrows; i++)
        res[i] = NULL;
    snprintf(what, sizeof(what), "batch %.64s", stmt);
    if (c->broken || c->conn == NULL)
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection is broken",
                          what);
    if (!PQenterPipelineMode(c->conn))
        goto lost;
    sent = pipe_send(c->conn, stmt, nparams, nrows, values, dl);
    if (sent <= 0) {
        fail = sent == 0 ? 2 : 1;
        goto lost;
    }
    /* each query: one result, then NULL; an aborted one too */
    for (i = 0; i < nrows; i++) {
        r = pipe_next(c->conn, dl, &fail);
        if (r == NULL)
            goto lost;
        st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            res[i] = r;
        } else {
            if (st != PGRES_PIPELINE_ABORTED && !failed) {
                p.values = values + (size_t)i * (size_t)nparams;
                hd_pg_map_error(c, r, what, &p, err);
                failed = 1;
            }
            PQclear(r);
        }
        r = pipe_next(c->conn, dl, &fail);
        if (r != NULL || fail) {
            PQclear(r);
            goto lost;
        }
    }
    r = pipe_next(c->conn, dl, &fail);
    st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    PQclear(r);
    if (st != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(c->conn))
        goto lost;
    if (!failed)
        return 0;
    clear_all(res, nrows);
    return -1;
lost:
    c->broken = 1;
    clear_all(res, nrows);
    if (fail == 2)
        return hd_err_set(err, HD_ETIMEDOUT, "pg %s: no reply in time", what);
    return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection lost", what);
}

/* ---- one statement in two halves (hd_pg_send, hd_pg_recv) ------------- */

int
hd_pg_send(struct hd_pgconn *c, const char *stmt, int nparams,
           const char *const *values, struct hd_err *err)
{
    char what[HD_PG_WHAT_MAX];
    int rc;

    if (hd_pg_exec_check(c, stmt, nparams, values, what, err) < 0)
        return -1;
    if (PQsendQueryPrepared(c->conn, stmt, nparams, values, NULL, NULL, 0))
        rc = hd_pg_flush(c->conn, hd_pg_stmt_deadline(c->pg));
    else
        rc = -1;
    if (rc > 0)
        return 0;
    c->broken = 1;
    if (rc == 0)
        return hd_err_set(err, HD_ETIMEDOUT, "pg %s: not sent in time", what);
    return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection lost", what);
}

int
hd_pg_recv(struct hd_pgconn *c, const char *stmt, int nparams,
           const char *const *values, PGresult **res, struct hd_err *err)
{
    struct hd_pg_params p = {nparams, values, NULL};
    char what[HD_PG_WHAT_MAX];

    if (hd_pg_exec_check(c, stmt, nparams, values, what, err) < 0)
        return -1;
    return hd_pg_finish(c, 1, what, hd_pg_stmt_deadline(c->pg), &p, res, err);
}
