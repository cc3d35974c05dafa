/* pg.c -- the PostgreSQL pool: connecting, preparing the statement table,
 * acquire/release with reconnect backoff, transactions.
 *
 * Connecting and every round trip (roundtrip.c) go through libpq's
 * asynchronous calls and poll(2) with a deadline, so a server that stops
 * answering costs a bounded wait, not a stuck thread. It does not retry
 * queries: a failed query is reported, and only the next acquire
 * reconnects. Invariant: a slot is touched only by the thread that holds
 * it (in_use set under the mutex); the mutex is never held across network
 * I/O. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/limits.h"
#include "pg/pg.h"
#include "pg/pool_private.h"
#include "pg/private.h"
#include "core/rand.h"
#include "core/thread.h"
#include "core/banned.h"

/* TCP liveness: an idle peer that vanished is noticed within about
 * IDLE + INTERVAL * COUNT seconds, unacknowledged writes within
 * TCP_USER_TIMEOUT. */
#define PG_KEEPALIVE_IDLE_S "5"
#define PG_KEEPALIVE_INTERVAL_S "2"
#define PG_KEEPALIVE_COUNT "3"
#define PG_TCP_USER_TIMEOUT_MIN_MS 5000
/* How long past the server's statement_timeout we wait before deciding the
 * server itself is gone (at least this, or the connect timeout). */
#define PG_GRACE_MS 1000
/* Reconnect backoff per slot: full jitter, so a restarted server sees the
 * pool back within PG_BACKOFF_CAP_MS without being hammered while down. */
#define PG_BACKOFF_BASE_MS 100
#define PG_BACKOFF_CAP_MS 1000

/* PQconnectStartParams keywords. Entries before dbname are defaults the DSN
 * may override; the entry after it (options) overrides the DSN. */
static const char *const pg_keywords[] = {
    "fallback_application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "dbname", /* the DSN, expanded */
    "options",
    NULL,
};
_Static_assert(sizeof(pg_keywords) / sizeof(pg_keywords[0]) == HD_PG_NKW,
               "HD_PG_NKW is the keyword count");

const struct hd_config_field hd_pg_config_fields[] = {
    HD_CFG_STR("HERALD_PG_DSN", struct hd_pg_config, dsn, NULL,
               HD_CFG_REQUIRED | HD_CFG_SECRET,
               "PostgreSQL connection string (URI or key=value)"),
    HD_CFG_INT("HERALD_PG_POOL_SIZE", struct hd_pg_config, pool_size, 8, 1,
               HD_PG_POOL_MAX, "connections per pool, opened on demand"),
    HD_CFG_INT("HERALD_PG_CONNECT_TIMEOUT_MS", struct hd_pg_config,
               connect_timeout_ms, 3000, 100, 60000,
               "bound on connecting and preparing a connection"),
    HD_CFG_INT("HERALD_PG_STATEMENT_TIMEOUT_MS", struct hd_pg_config,
               statement_timeout_ms, 10000, 0, 600000,
               "server-side statement_timeout (0 = none)"),
    HD_CFG_END,
};

static void
quiet_notices(void *arg, const PGresult *res)
{
    /* common/ never logs; libpq's default would print to stderr */
    (void)arg;
    (void)res;
}

uint64_t
hd_pg_deadline_after(int ms)
{
    return hd_now_mono_ms() + (uint64_t)ms;
}

static uint64_t
earliest(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

/* Client-side bound on a statement: the server's statement_timeout plus
 * grace, so the server's own 57014 normally answers first. */
uint64_t
hd_pg_stmt_deadline(const struct hd_pg *pg)
{
    int grace = pg->connect_timeout_ms > PG_GRACE_MS ? pg->connect_timeout_ms
                                                     : PG_GRACE_MS;

    if (pg->statement_timeout_ms <= 0)
        return 0;
    return hd_pg_deadline_after(pg->statement_timeout_ms + grace);
}

/* Opens c->conn with the pool's parameters, bounded by deadline_ms. The
 * message never repeats the DSN (it may hold a password). */
int
hd_pg_open_conn(struct hd_pg *pg, struct hd_pgconn *c, uint64_t deadline_ms,
                struct hd_err *err)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    uint64_t start = hd_now_mono_ms();
    char line[HD_ERR_MSG_LEN];
    PGconn *conn;
    int rc;

    conn = PQconnectStartParams(pg_keywords, pg->val, 1);
    if (conn == NULL)
        return hd_err_set(err, HD_EUPSTREAM, "pg connect: out of memory");
    PQsetNoticeReceiver(conn, quiet_notices, NULL);
    while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        rc = hd_pg_wait_fd(PQsocket(conn),
                           st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                           deadline_ms);
        if (rc == 0) {
            PQfinish(conn);
            return hd_err_set(err, HD_EUPSTREAM,
                              "pg connect: no answer within %llu ms",
                              (unsigned long long)(deadline_ms - start));
        }
        if (rc < 0)
            break;
        st = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        hd_pg_first_line(PQerrorMessage(conn), line, sizeof(line));
        PQfinish(conn);
        return hd_err_set(err, HD_EUPSTREAM, "pg connect: %s",
                          line[0] ? line : "failed");
    }
    /* sends queue and return; await_result() flushes within the deadline */
    PQsetnonblocking(conn, 1);
    c->conn = conn;
    return 0;
}

/* Connects a pool slot and prepares the statement table on it. */
static int
connect_slot(struct hd_pg *pg, struct hd_pgconn *c, uint64_t hard_deadline,
             struct hd_err *err)
{
    char what[96];
    uint64_t dl;
    size_t i;
    int sent;

    dl = earliest(hd_pg_deadline_after(pg->connect_timeout_ms), hard_deadline);
    if (hd_pg_open_conn(pg, c, dl, err) < 0)
        return -1;
    dl = earliest(hd_pg_deadline_after(pg->connect_timeout_ms), hard_deadline);
    for (i = 0; i < pg->nstmts; i++) {
        const struct hd_pg_stmt *s = &pg->stmts[i];

        snprintf(what, sizeof(what), "prepare %.64s", s->name);
        sent = PQsendPrepare(c->conn, s->name, s->sql, s->nparams, NULL);
        if (hd_pg_finish(c, sent, what, dl, NULL, NULL, err) < 0) {
            PQfinish(c->conn);
            c->conn = NULL;
            c->broken = 0;
            return -1;
        }
    }
    return 0;
}

/* An idle connection has nothing to read. If it does, it is most likely
 * the server's goodbye (FATAL 57P01, then EOF): read it and see. */
static int
conn_alive(PGconn *conn)
{
    struct pollfd p;
    int i;

    for (i = 0; i < 4; i++) {
        if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0)
            return 0;
        p.fd = PQsocket(conn);
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 0) == 0)
            return 1;
        if (!PQconsumeInput(conn))
            return 0;
    }
    return PQstatus(conn) == CONNECTION_OK;
}

static int
check_args(const struct hd_pg_config *cfg, const struct hd_pg_stmt *stmts,
           size_t nstmts, struct hd_err *err)
{
    size_t i, j;

    if (cfg == NULL || cfg->dsn == NULL || cfg->dsn[0] == '\0')
        return hd_err_set(err, HD_EINVAL, "pg: HERALD_PG_DSN is empty");
    if (cfg->pool_size < 1 || cfg->pool_size > HD_PG_POOL_MAX ||
        cfg->connect_timeout_ms < 1 || cfg->statement_timeout_ms < 0)
        return hd_err_set(err, HD_EINVAL,
                          "pg: pool size or timeouts out of range");
    if (nstmts > HD_PG_MAX_STATEMENTS || (nstmts > 0 && stmts == NULL))
        return hd_err_set(err, HD_EINVAL, "pg: %zu statements (max %d)", nstmts,
                          HD_PG_MAX_STATEMENTS);
    for (i = 0; i < nstmts; i++) {
        if (stmts[i].name == NULL || stmts[i].sql == NULL ||
            stmts[i].name[0] == '\0' || stmts[i].nparams < 0 ||
            stmts[i].nparams > HD_PG_MAX_PARAMS)
            return hd_err_set(err, HD_EINVAL, "pg: statement %zu is invalid",
                              i);
        for (j = 0; j < i; j++)
            if (strcmp(stmts[i].name, stmts[j].name) == 0)
                return hd_err_set(err, HD_EINVAL,
                                  "pg: statement %.64s declared twice",
                                  stmts[i].name);
    }
    return 0;
}

/* Fills pg->val, the values for pg_keywords. */
static void
set_params(struct hd_pg *pg, int connect_timeout_ms)
{
    /* libpq's connect_timeout is whole seconds, at least 2; our own
     * deadline (milliseconds) is the real bound. */
    int secs = (connect_timeout_ms + 999) / 1000;
    int tut = connect_timeout_ms > PG_TCP_USER_TIMEOUT_MIN_MS
                  ? connect_timeout_ms
                  : PG_TCP_USER_TIMEOUT_MIN_MS;
    const char *val[HD_PG_NKW] = {
        program_invocation_short_name,
        pg->connect_timeout_s,
        "1",
        PG_KEEPALIVE_IDLE_S,
        PG_KEEPALIVE_INTERVAL_S,
        PG_KEEPALIVE_COUNT,
        pg->tcp_user_timeout_ms,
        pg->dsn,
        pg->options,
        NULL,
    };

    snprintf(pg->connect_timeout_s, sizeof(pg->connect_timeout_s), "%d",
             secs < 2 ? 2 : secs);
    snprintf(pg->tcp_user_timeout_ms, sizeof(pg->tcp_user_timeout_ms), "%d",
             tut);
    memcpy(pg->val, val, sizeof(val));
}

struct hd_pg *
hd_pg_new(const struct hd_pg_config *cfg, const struct hd_pg_stmt *stmts,
          size_t nstmts, struct hd_err *err)
{
    PQconninfoOption *opts = NULL;
    const char *user_options = NULL;
    struct hd_pg *pg;
    char *perr = NULL;
    size_t i;

    if (check_args(cfg, stmts, nstmts, err) < 0)
        return NULL;
    /* A bare database name has no options; anything else must parse. */
    if (strchr(cfg->dsn, '=') != NULL || strstr(cfg->dsn, "://") != NULL) {
        opts = PQconninfoParse(cfg->dsn, &perr);
        if (opts == NULL) {
            PQfreemem(perr); /* may quote the DSN, password included */
            hd_err_set(err, HD_EINVAL,
                       "pg: HERALD_PG_DSN is not a valid connection string");
            return NULL;
        }
        for (i = 0; opts[i].keyword != NULL; i++)
            if (strcmp(opts[i].keyword, "options") == 0)
                user_options = opts[i].val;
    }

    pg = hd_xcalloc(1, sizeof(*pg) +
                           (size_t)cfg->pool_size * sizeof(pg->slots[0]));
    pthread_mutex_init(&pg->mu, NULL);
    hd_thread_cond_init(&pg->cv);
    pg->stmts = stmts;
    pg->nstmts = nstmts;
    pg->size = cfg->pool_size;
    pg->connect_timeout_ms = cfg->connect_timeout_ms;
    pg->statement_timeout_ms = cfg->statement_timeout_ms;
    pg->dsn = hd_xstrdup(cfg->dsn);
    /* our statement_timeout is appended, so it wins over the DSN's own */
    pg->options = hd_xasprintf(
        "%s%s-c statement_timeout=%d", user_options ? user_options : "",
        user_options && user_options[0] ? " " : "", cfg->statement_timeout_ms);
    PQconninfoFree(opts);
    set_params(pg, cfg->connect_timeout_ms);
    for (i = 0; i < (size_t)pg->size; i++)
        pg->slots[i].pg = pg;
    return pg;
}

void
hd_pg_free(struct hd_pg *pg)
{
    int i;

    if (pg == NULL)
        return;
    for (i = 0; i < pg->size; i++)
        PQfinish(pg->slots[i].conn);
    pthread_cond_destroy(&pg->cv);
    pthread_mutex_destroy(&pg->mu);
    free(pg->dsn);
    free(pg->options);
    free(pg);
}

/* Picks a free slot, preferring a live connection, then the slot whose
 * reconnect is due first. Called with pg->mu held. */
static struct hd_pgconn *
pick_slot(struct hd_pg *pg)
{
    struct hd_pgconn *best = NULL;
    int i;

    for (i = 0; i < pg->size; i++) {
        struct hd_pgconn *s = &pg->slots[i];

        if (s->in_use)
            continue;
        if (s->conn != NULL && !s->broken && s->gen == pg->gen)
            return s;
        if (best == NULL || s->retry_at_ms < best->retry_at_ms)
            best = s;
    }
    return best;
}

static void
put_back(struct hd_pg *pg, struct hd_pgconn *c)
{
    pthread_mutex_lock(&pg->mu);
    c->in_use = 0;
    pthread_cond_signal(&pg->cv);
    pthread_mutex_unlock(&pg->mu);
}

/* hd_pg_acquire with an optional hard deadline (0 = none) that also bounds
 * connecting, for hd_pg_ping. */
static struct hd_pgconn *
acquire(struct hd_pg *pg, int timeout_ms, uint64_t hard_deadline,
        struct hd_err *err)
{
    const struct hd_backoff bo = {PG_BACKOFF_BASE_MS, PG_BACKOFF_CAP_MS};
    struct hd_err cerr = {0};
    uint64_t wait_until = hd_pg_deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    struct hd_pgconn *c;
    struct timespec ts;
    unsigned gen;
    uint64_t now;

    pthread_mutex_lock(&pg->mu);
    while ((c = pick_slot(pg)) == NULL) {
        if (hd_now_mono_ms() >= wait_until) {
            pthread_mutex_unlock(&pg->mu);
            hd_err_set(err, HD_ETIMEDOUT,
                       "pg acquire: all %d connections busy for %d ms",
                       pg->size, timeout_ms);
            return NULL;
        }
        ts.tv_sec = (time_t)(wait_until / 1000);
        ts.tv_nsec = (long)(wait_until % 1000) * 1000000L;
        pthread_cond_timedwait(&pg->cv, &pg->mu, &ts);
    }
    c->in_use = 1;
    gen = pg->gen;
    pthread_mutex_unlock(&pg->mu);

    if (c->conn != NULL && !c->broken && c->gen == gen && conn_alive(c->conn))
        goto ready;
    PQfinish(c->conn);
    c->conn = NULL;
    c->broken = 0;
    now = hd_now_mono_ms();
    if (now < c->retry_at_ms) {
        hd_err_set(err, c->last_code, "%s (next attempt in %llu ms)",
                   c->last_err, (unsigned long long)(c->retry_at_ms - now));
        put_back(pg, c);
        return NULL;
    }
    if (connect_slot(pg, c, hard_deadline, &cerr) < 0) {
        c->fails++;
        c->retry_at_ms = hd_now_mono_ms() +
                         hd_backoff_delay(&bo, c->fails - 1, &hd_rand_system);
        c->last_code = cerr.code;
        memcpy(c->last_err, cerr.msg, sizeof(c->last_err));
        if (err != NULL)
            *err = cerr;
        put_back(pg, c);
        return NULL;
    }
    c->gen = gen;
    c->fails = 0;
    c->retry_at_ms = 0;
ready:
    c->sqlstate[0] = '\0';
    return c;
}

struct hd_pgconn *
hd_pg_acquire(struct hd_pg *pg, int timeout_ms, struct hd_err *err)
{
    return acquire(pg, timeout_ms, 0, err);
}

void
hd_pg_release(struct hd_pg *pg, struct hd_pgconn *c)
{
    PGconn *drop = NULL;

    if (c == NULL)
        return;
    if (!c->broken && c->conn != NULL) {
        switch (PQtransactionStatus(c->conn)) {
        case PQTRANS_IDLE:
            break;
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR:
            hd_pg_rollback(c);
            if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
                c->broken = 1;
            break;
        default: /* a query still running, or unknown: start over */
            c->broken = 1;
            break;
        }
    }
    if (c->broken) {
        drop = c->conn;
        c->conn = NULL;
        c->broken = 0;
    }
    put_back(pg, c);
    PQfinish(drop);
}

/* The statement named stmt in the pool's table, NULL if none. */
const struct hd_pg_stmt *
hd_pg_find_stmt(const struct hd_pg *pg, const char *stmt)
{
    size_t i;

    for (i = 0; stmt != NULL && i < pg->nstmts; i++)
        if (strcmp(pg->stmts[i].name, stmt) == 0)
            return &pg->stmts[i];
    return NULL;
}

int
hd_pg_exec_check(struct hd_pgconn *c, const char *stmt, int nparams,
                 const char *const *values, char *what, struct hd_err *err)
{
    const struct hd_pg_stmt *s = hd_pg_find_stmt(c->pg, stmt);

    if (s == NULL)
        return hd_err_set(err, HD_EINVAL, "pg exec %.64s: no such statement",
                          stmt ? stmt : "(null)");
    if (nparams != s->nparams || (nparams > 0 && values == NULL))
        return hd_err_set(err, HD_EINVAL,
                          "pg exec %.64s: %d parameters, expected %d", stmt,
                          nparams, s->nparams);
    snprintf(what, HD_PG_WHAT_MAX, "exec %.64s", stmt);
    if (c->broken || c->conn == NULL)
        return hd_err_set(err, HD_EUPSTREAM, "pg %s: connection is broken",
                          what);
    return 0;
}

int
hd_pg_exec(struct hd_pgconn *c, const char *stmt, int nparams,
           const char *const *values, const int *lengths, const int *formats,
           PGresult **res, struct hd_err *err)
{
    struct hd_pg_params p = {nparams, values, formats};
    char what[HD_PG_WHAT_MAX];
    int sent;

    if (hd_pg_exec_check(c, stmt, nparams, values, what, err) < 0)
        return -1;
    sent = PQsendQueryPrepared(c->conn, stmt, nparams, values, lengths, formats,
                               0);
    return hd_pg_finish(c, sent, what, hd_pg_stmt_deadline(c->pg), &p, res,
                        err);
}

const char *
hd_pg_sqlstate(const struct hd_pgconn *c)
{
    return c->sqlstate;
}

int
hd_pg_begin(struct hd_pgconn *c, struct hd_err *err)
{
    return hd_pg_run(c, "begin", "BEGIN", 0, NULL, hd_pg_stmt_deadline(c->pg),
                     NULL, err);
}

int
hd_pg_commit(struct hd_pgconn *c, struct hd_err *err)
{
    return hd_pg_run(c, "commit", "COMMIT", 0, NULL, hd_pg_stmt_deadline(c->pg),
                     NULL, err);
}

void
hd_pg_rollback(struct hd_pgconn *c)
{
    /* bounded even without a statement timeout: release() waits on it */
    uint64_t dl = hd_pg_deadline_after(c->pg->connect_timeout_ms + PG_GRACE_MS);

    if (c->broken || c->conn == NULL)
        return;
    if (PQtransactionStatus(c->conn) == PQTRANS_IDLE)
        return;
    (void)hd_pg_run(c, "rollback", "ROLLBACK", 0, NULL, dl, NULL, NULL);
}

int
hd_pg_ping(struct hd_pg *pg, int timeout_ms, struct hd_err *err)
{
    uint64_t dl = hd_pg_deadline_after(timeout_ms > 0 ? timeout_ms : 1);
    struct hd_pgconn *c;
    int rc;

    c = acquire(pg, timeout_ms, dl, err);
    if (c == NULL)
        return -1;
    rc = hd_pg_run(c, "ping", "SELECT 1", 0, NULL, dl, NULL, err);
    hd_pg_release(pg, c);
    return rc;
}
