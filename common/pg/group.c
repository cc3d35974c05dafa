/* group.c -- group commit for one prepared statement (see group.h).
 *
 * Calls queue in arrival order; `slots` leader threads of the group take
 * up to max_rows of them at a time, run them without the mutex, and
 * complete them: a waiting caller's call is marked done and its owner
 * woken, a submitted call's callback runs on the leader. A leader goes on
 * with the rest of the queue itself, so under load nobody is woken to
 * run a group. A waiting caller's call is unlinked by a leader or, when
 * its wait ran out while queued, by its owner; nobody touches such a call
 * after marking it done, so its owner may return at once. A submitted
 * call is the group's from hd_pg_group_submit() to its callback. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/limits.h"
#include "pg/array.h"
#include "pg/group.h"
#include "core/thread.h"
#include "core/banned.h"

enum { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct call {
    const char *const *values;
    const char *key;
    uint64_t until; /* monotonic ms: queued past it, the call fails */
    int wait_ms;
    int seq; /* arrival order within a group: ties keep it */
    int state;
    int rc;
    PGresult *res;
    struct hd_err err;
    hd_pg_group_done_fn *done; /* NULL: its owner waits on cv */
    void *arg;
    pthread_cond_t cv;
    struct call *next;
};

struct hd_pg_group {
    pthread_mutex_t mu;
    pthread_cond_t work; /* idle leaders wait here */
    struct hd_pg *pg;
    char *stmt;
    char *arrays_stmt;  /* NULL: groups are pipelines */
    char *ordered_stmt; /* groups not apart; NULL: pipelines */
    hd_pg_group_apart_fn apart;
    int nparams;
    int max_rows;
    int idle; /* leaders waiting for work */
    int stop;
    pthread_t *leaders;
    int nleaders;
    struct call *head;
    struct call **tailp;
    struct hd_pg_group_stats stats;
};

static void *leader_main(void *arg);

struct hd_pg_group *
hd_pg_group_new(struct hd_pg *pg, const char *stmt, int nparams, int slots,
                int max_rows, struct hd_err *err)
{
    struct hd_pg_group *g;
    int i, rc;

    if (pg == NULL || stmt == NULL || nparams < 0 ||
        nparams > HD_PG_MAX_PARAMS || slots < 1 || slots > HD_PG_POOL_MAX ||
        max_rows < 1 || max_rows > HD_PG_BATCH_MAX) {
        hd_err_set(err, HD_EINVAL, "pg group: bad arguments");
        return NULL;
    }
    g = hd_xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->work, NULL);
    g->pg = pg;
    g->stmt = hd_xstrdup(stmt);
    g->nparams = nparams;
    g->max_rows = max_rows;
    g->tailp = &g->head;
    g->leaders = hd_xcalloc((size_t)slots, sizeof(*g->leaders));
    for (i = 0; i < slots; i++) {
        rc = pthread_create(&g->leaders[i], NULL, leader_main, g);
        if (rc != 0) {
            hd_err_set(err, HD_EIO, "pg group: start a thread: %s",
                       strerror(rc));
            hd_pg_group_free(g);
            return NULL;
        }
        g->nleaders++;
    }
    return g;
}

void
hd_pg_group_set_arrays(struct hd_pg_group *g, const char *arrays_stmt,
                       const char *ordered_stmt, hd_pg_group_apart_fn apart)
{
    free(g->arrays_stmt);
    free(g->ordered_stmt);
    g->arrays_stmt = arrays_stmt ? hd_xstrdup(arrays_stmt) : NULL;
    g->ordered_stmt = ordered_stmt ? hd_xstrdup(ordered_stmt) : NULL;
    g->apart = apart;
}

void
hd_pg_group_free(struct hd_pg_group *g)
{
    int i;

    if (g == NULL)
        return;
    /* the leaders run what is still queued before they leave */
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_broadcast(&g->work);
    pthread_mutex_unlock(&g->mu);
    for (i = 0; i < g->nleaders; i++)
        pthread_join(g->leaders[i], NULL);
    free(g->leaders);
    pthread_cond_destroy(&g->work);
    pthread_mutex_destroy(&g->mu);
    free(g->arrays_stmt);
    free(g->ordered_stmt);
    free(g->stmt);
    free(g);
}

static int
by_key(const void *a, const void *b)
{
    const struct call *x = *(struct call *const *)a;
    const struct call *y = *(struct call *const *)b;
    int d = strcmp(x->key ? x->key : "", y->key ? y->key : "");

    return d != 0 ? d : x->seq - y->seq;
}

/* A group's failure is one row's when the server named a data,
 * constraint or transaction-rollback (deadlock, serialization) error; a
 * timeout or a lost connection is everyone's. */
static int
row_failure(const struct hd_pgconn *c, const struct hd_err *e)
{
    const char *st = hd_pg_sqlstate(c);

    if (e->code == HD_ETIMEDOUT)
        return 0;
    return strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
           strncmp(st, "40", 2) == 0;
}

static void
run_alone(struct hd_pg_group *g, struct hd_pgconn *c, struct call *k)
{
    k->rc = hd_pg_exec(c, g->stmt, g->nparams, k->values, NULL, NULL, &k->res,
                       &k->err);
}

/* Row `row` of the arrays statement's result r (-1: none) as a result of
 * its own with stmt's columns: all of r's but the last. */
static PGresult *
one_row(const PGresult *r, int row)
{
    int nf = PQnfields(r) - 1, j;
    PGresAttDesc *att = hd_xcalloc((size_t)(nf > 0 ? nf : 1), sizeof(*att));
    PGresult *one = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    if (one == NULL)
        abort(); /* out of memory, as hd_xmalloc */
    for (j = 0; j < nf; j++) {
        att[j].name = PQfname(r, j);
        att[j].tableid = PQftable(r, j);
        att[j].columnid = PQftablecol(r, j);
        att[j].format = PQfformat(r, j);
        att[j].typid = PQftype(r, j);
        att[j].typlen = PQfsize(r, j);
        att[j].atttypmod = PQfmod(r, j);
    }
    if (nf > 0 && !PQsetResultAttrs(one, nf, att))
        abort();
    free(att);
    for (j = 0; row >= 0 && j < nf; j++) {
        int null = PQgetisnull(r, row, j);

        if (!PQsetvalue(one, 0, j, null ? NULL : PQgetvalue(r, row, j),
                        null ? -1 : PQgetlength(r, row, j)))
            abort();
    }
    return one;
}

/* The group's values as an arrays statement's parameters: cols[j] the literal
 * of every call's value j, in order. */
static void
array_params(const struct hd_pg_group *g, struct call **calls, int n,
             struct hd_buf *cols)
{
    int i, j;

    for (j = 0; j < g->nparams; j++) {
        size_t max = 3; /* braces and the terminator */

        for (i = 0; i < n; i++) {
            const char *v = calls[i]->values[j];

            max += v ? 2 * strlen(v) + 3 : 5; /* escaped, quoted, comma */
        }
        hd_buf_init(&cols[j], max);
        hd_pg_array_begin(&cols[j]);
        for (i = 0; i < n; i++)
            hd_pg_array_add(&cols[j], calls[i]->values[j], NULL);
        hd_pg_array_end(&cols[j], NULL);
    }
}

/* Runs the n calls as one call of stmt (an arrays statement) and hands
 * each its row. 0, or -1 with e (nothing handed out). */
static int
run_arrays(struct hd_pg_group *g, const char *stmt, struct hd_pgconn *c,
           struct call **calls, int n, struct hd_err *e)
{
    struct hd_buf cols[HD_PG_MAX_PARAMS];
    const char *vals[HD_PG_MAX_PARAMS];
    int rows[HD_PG_BATCH_MAX];
    PGresult *res = NULL;
    int i, j, rc;

    array_params(g, calls, n, cols);
    for (j = 0; j < g->nparams; j++)
        vals[j] = cols[j].data;
    rc = hd_pg_exec(c, stmt, g->nparams, vals, NULL, NULL, &res, e);
    for (j = 0; j < g->nparams; j++)
        hd_buf_release(&cols[j]);
    if (rc < 0)
        return -1;
    for (i = 0; i < n; i++)
        rows[i] = -1;
    for (i = 0; i < PQntuples(res) && PQnfields(res) > 0; i++) {
        long k = strtol(PQgetvalue(res, i, PQnfields(res) - 1), NULL, 10);

        if (k >= 1 && k <= n && rows[k - 1] < 0)
            rows[k - 1] = i;
    }
    for (i = 0; i < n; i++) {
        calls[i]->rc = 0;
        calls[i]->res = one_row(res, rows[i]);
    }
    PQclear(res);
    return 0;
}

/* The n calls' values, for g->apart. */
static int
apart(const struct hd_pg_group *g, struct call **calls, int n)
{
    const char *const *rows[HD_PG_BATCH_MAX];
    int i;

    if (g->arrays_stmt == NULL)
        return 0;
    for (i = 0; i < n; i++)
        rows[i] = calls[i]->values;
    return g->apart(rows, n);
}

/* Runs the n calls as one pipeline and hands each its result. 0, or -1
 * with e (nothing handed out). */
static int
run_pipeline(struct hd_pg_group *g, struct hd_pgconn *c, struct call **calls,
             int n, struct hd_err *e)
{
    PGresult *res[HD_PG_BATCH_MAX];
    const char **vals;
    int i, rc;

    vals = hd_xcalloc((size_t)n * (size_t)g->nparams, sizeof(vals[0]));
    for (i = 0; i < n; i++)
        memcpy(vals + (size_t)i * (size_t)g->nparams, calls[i]->values,
               (size_t)g->nparams * sizeof(vals[0]));
    rc = hd_pg_exec_batch(c, g->stmt, g->nparams, n, vals, res, e);
    free(vals);
    for (i = 0; rc == 0 && i < n; i++) {
        calls[i]->rc = 0;
        calls[i]->res = res[i];
    }
    return rc;
}

/* How a group went (run_calls). */
enum {
    RAN_NONE,     /* failed as a whole, or a single call */
    RAN_PIPELINE, /* one pipeline of stmt */
    RAN_ALONE,    /* fell back to one call at a time */
    RAN_ARRAYS,   /* one call of arrays_stmt */
    RAN_ORDERED   /* one call of ordered_stmt */
};

/* Runs the n calls (mutex not held). Returns how they went: RAN_*. */
static int
run_calls(struct hd_pg_group *g, struct call **calls, int n, int wait_ms)
{
    struct hd_pgconn *c;
    struct hd_err e = {0};
    int i, how;

    c = hd_pg_acquire(g->pg, wait_ms, &e);
    if (c == NULL) {
        for (i = 0; i < n; i++) {
            calls[i]->rc = -1;
            calls[i]->err = e;
        }
        return 0;
    }
    if (n == 1) {
        run_alone(g, c, calls[0]);
        hd_pg_release(g->pg, c);
        return 0;
    }
    qsort(calls, (size_t)n, sizeof(calls[0]), by_key);
    if (apart(g, calls, n))
        how = run_arrays(g, g->arrays_stmt, c, calls, n, &e) == 0 ? RAN_ARRAYS
                                                                  : RAN_NONE;
    else if (g->ordered_stmt != NULL)
        how = run_arrays(g, g->ordered_stmt, c, calls, n, &e) == 0 ? RAN_ORDERED
                                                                   : RAN_NONE;
    else
        how = run_pipeline(g, c, calls, n, &e) == 0 ? RAN_PIPELINE : RAN_NONE;
    if (how == RAN_NONE && row_failure(c, &e)) {
        for (i = 0; i < n; i++)
            run_alone(g, c, calls[i]);
        how = RAN_ALONE;
    } else if (how == RAN_NONE) {
        for (i = 0; i < n; i++) {
            calls[i]->rc = -1;
            calls[i]->err = e;
        }
    }
    hd_pg_release(g->pg, c);
    return how;
}

/* A call queued past its wait fails as if no connection had come. */
static void
late(const struct hd_pg_group *g, struct call *k)
{
    k->rc = hd_err_set(&k->err, HD_ETIMEDOUT,
                       "pg group %.64s: no connection free for %d ms", g->stmt,
                       k->wait_ms);
}

/* Marks the calls done: waiting owners are woken, submitted calls are
 * linked onto *cbs for their callbacks. Called with g->mu held. */
static void
complete(struct call **calls, int n, struct call **cbs)
{
    int i;

    for (i = 0; i < n; i++) {
        struct call *k = calls[i];

        if (k->done != NULL) {
            k->next = *cbs;
            *cbs = k;
            continue;
        }
        k->state = CALL_DONE;
        pthread_cond_signal(&k->cv);
    }
}

/* Takes up to max_rows queued calls and runs them. Called and returns
 * with g->mu held; the callbacks run without it. */
static void
lead(struct hd_pg_group *g)
{
    struct call *calls[HD_PG_BATCH_MAX];
    struct call *expired[HD_PG_BATCH_MAX];
    struct call *cbs = NULL;
    uint64_t now = hd_now_mono_ms();
    int n = 0, nexp = 0, how = RAN_NONE, grouped;

    while (g->head != NULL && n + nexp < g->max_rows) {
        struct call *k = g->head;

        g->head = k->next;
        if (k->done != NULL && now >= k->until) {
            late(g, k);
            expired[nexp++] = k;
            continue;
        }
        k->state = CALL_RUNNING;
        k->seq = n;
        calls[n++] = k;
    }
    if (g->head == NULL)
        g->tailp = &g->head;
    /* the rest of the queue need not wait for this group */
    if (g->head != NULL && g->idle > 0)
        pthread_cond_signal(&g->work);
    pthread_mutex_unlock(&g->mu);

    /* the wait for a connection is what is left of the first call's */
    if (n > 0)
        how =
            run_calls(g, calls, n,
                      calls[0]->until > now ? (int)(calls[0]->until - now) : 1);

    pthread_mutex_lock(&g->mu);
    g->stats.calls += (uint64_t)n;
    grouped = how == RAN_PIPELINE || how == RAN_ARRAYS || how == RAN_ORDERED;
    g->stats.groups += grouped;
    g->stats.grouped += grouped ? (uint64_t)n : 0;
    g->stats.arrays += how == RAN_ARRAYS;
    g->stats.ordered += how == RAN_ORDERED;
    g->stats.fallbacks += how == RAN_ALONE;
    complete(calls, n, &cbs);
    complete(expired, nexp, &cbs);
    if (cbs == NULL)
        return;
    pthread_mutex_unlock(&g->mu);
    while (cbs != NULL) {
        struct call *k = cbs;

        cbs = k->next;
        k->done(k->arg, k->rc, k->res, k->rc < 0 ? &k->err : NULL);
        free(k);
    }
    pthread_mutex_lock(&g->mu);
}

static void *
leader_main(void *arg)
{
    struct hd_pg_group *g = arg;

    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->head == NULL && !g->stop) {
            g->idle++;
            pthread_cond_wait(&g->work, &g->mu);
            g->idle--;
        }
        if (g->head == NULL)
            break;
        lead(g);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Unlinks a call that is still queued. Called with g->mu held. */
static void
unlink_call(struct hd_pg_group *g, struct call *k)
{
    struct call **pp;

    for (pp = &g->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == k) {
            *pp = k->next;
            if (g->tailp == &k->next)
                g->tailp = pp;
            return;
        }
    }
}

/* Queues k and wakes a leader if one is idle. Called with g->mu held. */
static void
enqueue(struct hd_pg_group *g, struct call *k, int wait_ms)
{
    k->wait_ms = wait_ms > 0 ? wait_ms : 0;
    k->until = hd_now_mono_ms() + (uint64_t)k->wait_ms;
    k->state = CALL_QUEUED;
    k->next = NULL;
    *g->tailp = k;
    g->tailp = &k->next;
    if (g->idle > 0)
        pthread_cond_signal(&g->work);
}

int
hd_pg_group_exec(struct hd_pg_group *g, int wait_ms, const char *const *values,
                 const char *key, PGresult **res, struct hd_err *err)
{
    struct call me;
    struct timespec ts;

    memset(&me, 0, sizeof(me));
    me.values = values;
    me.key = key;
    hd_thread_cond_init(&me.cv);

    pthread_mutex_lock(&g->mu);
    enqueue(g, &me, wait_ms);
    while (me.state != CALL_DONE) {
        if (me.state != CALL_QUEUED) {
            pthread_cond_wait(&me.cv, &g->mu);
            continue;
        }
        if (hd_now_mono_ms() >= me.until) {
            unlink_call(g, &me);
            late(g, &me);
            break;
        }
        ts.tv_sec = (time_t)(me.until / 1000);
        ts.tv_nsec = (long)(me.until % 1000) * 1000000L;
        pthread_cond_timedwait(&me.cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&me.cv);

    if (me.rc < 0) {
        if (err != NULL)
            *err = me.err;
        return -1;
    }
    if (res != NULL)
        *res = me.res;
    else
        PQclear(me.res);
    return 0;
}

void
hd_pg_group_submit(struct hd_pg_group *g, int wait_ms,
                   const char *const *values, const char *key,
                   hd_pg_group_done_fn *done, void *arg)
{
    struct call *k = hd_xcalloc(1, sizeof(*k));

    k->values = values;
    k->key = key;
    k->done = done;
    k->arg = arg;
    pthread_mutex_lock(&g->mu);
    enqueue(g, k, wait_ms);
    pthread_mutex_unlock(&g->mu);
}

void
hd_pg_group_stats(struct hd_pg_group *g, struct hd_pg_group_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}
