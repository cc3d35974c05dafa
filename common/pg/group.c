/* pg_group.c -- group commit for one prepared statement (see pg_group.h).
 *
 * Each caller's call lives on its own stack with its own condition
 * variable; the queue links them in arrival order. Whoever finds a free
 * slot leads: it unlinks up to max_rows calls, runs them without the
 * mutex, then marks them done and wakes their owners, and the first call
 * still queued (a slot is free again). A call is unlinked by its leader
 * or, when its wait ran out while queued, by its owner; nobody touches a
 * call after marking it done, so its owner may return at once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "pg/group.h"
#include "core/thread.h"
#include "core/banned.h"

enum { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct call {
    const char *const *values;
    const char *key;
    int seq; /* arrival order within a group: ties keep it */
    int state;
    int rc;
    PGresult *res;
    struct hd_err err;
    pthread_cond_t cv;
    struct call *next;
};

struct hd_pg_group {
    pthread_mutex_t mu;
    struct hd_pg *pg;
    char *stmt;
    int nparams;
    int slots;
    int max_rows;
    int running; /* groups in flight */
    struct call *head;
    struct call **tailp;
    struct hd_pg_group_stats stats;
};

struct hd_pg_group *
hd_pg_group_new(struct hd_pg *pg, const char *stmt, int nparams, int slots,
                int max_rows, struct hd_err *err)
{
    struct hd_pg_group *g;

    if (pg == NULL || stmt == NULL || nparams < 0 ||
        nparams > HD_PG_MAX_PARAMS || slots < 1 || max_rows < 1 ||
        max_rows > HD_PG_BATCH_MAX) {
        hd_err_set(err, HD_EINVAL, "pg group: bad arguments");
        return NULL;
    }
    g = hd_xcalloc(1, sizeof(*g));
    pthread_mutex_init(&g->mu, NULL);
    g->pg = pg;
    g->stmt = hd_xstrdup(stmt);
    g->nparams = nparams;
    g->slots = slots;
    g->max_rows = max_rows;
    g->tailp = &g->head;
    return g;
}

void
hd_pg_group_free(struct hd_pg_group *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->mu);
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

/* Runs the n calls (mutex not held). Returns 1 when they went as one
 * group, 2 when the group fell back to one call at a time, 0 otherwise. */
static int
run_calls(struct hd_pg_group *g, struct call **calls, int n, int wait_ms)
{
    PGresult *res[HD_PG_BATCH_MAX];
    const char **vals;
    struct hd_pgconn *c;
    struct hd_err e = {0};
    int i, rc, how = 0;

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
    vals = hd_xcalloc((size_t)n * (size_t)g->nparams, sizeof(vals[0]));
    for (i = 0; i < n; i++)
        memcpy(vals + (size_t)i * (size_t)g->nparams, calls[i]->values,
               (size_t)g->nparams * sizeof(vals[0]));
    rc = hd_pg_exec_batch(c, g->stmt, g->nparams, n, vals, res, &e);
    free(vals);
    if (rc == 0) {
        for (i = 0; i < n; i++) {
            calls[i]->rc = 0;
            calls[i]->res = res[i];
        }
        how = 1;
    } else if (row_failure(c, &e)) {
        for (i = 0; i < n; i++)
            run_alone(g, c, calls[i]);
        how = 2;
    } else {
        for (i = 0; i < n; i++) {
            calls[i]->rc = -1;
            calls[i]->err = e;
        }
    }
    hd_pg_release(g->pg, c);
    return how;
}

/* Takes up to max_rows queued calls and runs them. Called and returns
 * with g->mu held. */
static void
lead(struct hd_pg_group *g, int wait_ms)
{
    struct call *calls[HD_PG_BATCH_MAX];
    int n = 0, how, i;

    while (g->head != NULL && n < g->max_rows) {
        calls[n] = g->head;
        g->head = g->head->next;
        calls[n]->state = CALL_RUNNING;
        calls[n]->seq = n;
        n++;
    }
    if (g->head == NULL)
        g->tailp = &g->head;
    g->running++;
    /* two groups may have ended while one owner was waking: the rest of
     * the queue need not wait for this group if a slot is still free */
    if (g->head != NULL && g->running < g->slots)
        pthread_cond_signal(&g->head->cv);
    pthread_mutex_unlock(&g->mu);

    how = run_calls(g, calls, n, wait_ms);

    pthread_mutex_lock(&g->mu);
    g->running--;
    g->stats.calls += (uint64_t)n;
    g->stats.groups += how == 1;
    g->stats.grouped += how == 1 ? (uint64_t)n : 0;
    g->stats.fallbacks += how == 2;
    for (i = 0; i < n; i++) {
        calls[i]->state = CALL_DONE;
        pthread_cond_signal(&calls[i]->cv);
    }
    if (g->head != NULL)
        pthread_cond_signal(&g->head->cv); /* a slot is free */
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

int
hd_pg_group_exec(struct hd_pg_group *g, int wait_ms, const char *const *values,
                 const char *key, PGresult **res, struct hd_err *err)
{
    uint64_t until = hd_now_mono_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : 0);
    struct call me;
    struct timespec ts;

    memset(&me, 0, sizeof(me));
    me.values = values;
    me.key = key;
    me.state = CALL_QUEUED;
    hd_thread_cond_init(&me.cv);

    pthread_mutex_lock(&g->mu);
    *g->tailp = &me;
    g->tailp = &me.next;
    while (me.state != CALL_DONE) {
        if (me.state == CALL_QUEUED && g->running < g->slots) {
            /* the wait for a connection is what is left of ours */
            uint64_t now = hd_now_mono_ms();

            lead(g, now < until ? (int)(until - now) : 1);
            continue;
        }
        if (me.state == CALL_QUEUED) {
            if (hd_now_mono_ms() >= until) {
                unlink_call(g, &me);
                me.rc = hd_err_set(&me.err, HD_ETIMEDOUT,
                                   "pg group %.64s: no connection free for "
                                   "%d ms",
                                   g->stmt, wait_ms);
                break;
            }
            ts.tv_sec = (time_t)(until / 1000);
            ts.tv_nsec = (long)(until % 1000) * 1000000L;
            pthread_cond_timedwait(&me.cv, &g->mu, &ts);
        } else {
            pthread_cond_wait(&me.cv, &g->mu);
        }
    }
    /* a queued call that leaves passes a free slot on */
    if (me.state == CALL_QUEUED && g->head != NULL && g->running < g->slots)
        pthread_cond_signal(&g->head->cv);
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
hd_pg_group_stats(struct hd_pg_group *g, struct hd_pg_group_stats *out)
{
    pthread_mutex_lock(&g->mu);
    *out = g->stats;
    pthread_mutex_unlock(&g->mu);
}
