/* test_pg_group.c -- unit tests for hd_pg_exec_batch (one pipeline, one
 * transaction) and hd_pg_group (group commit of concurrent calls, as a
 * pipeline or as one call of an arrays statement) against a real
 * PostgreSQL. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "core/limits.h"
#include "pg/pg.h"
#include "pg/group.h"
#include "tests/unit/pg_fixture.h"
#include "core/banned.h"

#define THREADS 16
#define PER_THREAD 40

static void
test_batch_applies_every_row(void)
{
    const char *vals[6] = {"1", "one", "2", "two", "3", "three"};
    PGresult *res[3];
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct fx fx;
    int i;

    ASSERT_INT_EQ(fx_open(&fx, "batch_ok", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_pg_exec_batch(c, "item_add", 2, 3, vals, res, &err), 0);
    for (i = 0; i < 3; i++) {
        char want[8];

        snprintf(want, sizeof(want), "%d", (i + 1) * 10);
        ASSERT_NOT_NULL(res[i]);
        ASSERT_INT_EQ(PQntuples(res[i]), 1);
        ASSERT_STR_EQ(PQgetvalue(res[i], 0, 0), want);
        PQclear(res[i]);
    }
    /* committed, and the connection is back to one query at a time */
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), 3);
    ASSERT_INT_EQ(hd_pg_exec(c, "item_count", 0, NULL, NULL, NULL, res, &err),
                  0);
    ASSERT_STR_EQ(PQgetvalue(res[0], 0, 0), "3");
    PQclear(res[0]);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static void
test_batch_is_all_or_nothing(void)
{
    /* row 2 repeats row 0's id: rows 0 and 1 must not stay either */
    const char *vals[8] = {"1", "a-name", "2", "b-name",
                           "1", "c-name", "4", "secret-value-zz9"};
    const char *bad[4] = {"5", "ok", "not-a-number-qq7", "x"};
    PGresult *res[4];
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct fx fx;
    int i;

    ASSERT_INT_EQ(fx_open(&fx, "batch_fail", 1, 5000), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_FAILS(hd_pg_exec_batch(c, "item_add", 2, 4, vals, res, &err),
                 HD_ECONFLICT);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "23505");
    ASSERT_STR_CONTAINS(err.msg, "item_add");
    for (i = 0; i < 4; i++)
        ASSERT_NULL(res[i]);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), 0);

    /* the value the server quotes never reaches the message */
    ASSERT_FAILS(hd_pg_exec_batch(c, "item_add", 2, 2, bad, res, &err),
                 HD_EINVAL);
    ASSERT_STR_LACKS(err.msg, "not-a-number-qq7");
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), 0);

    /* the connection is still good for a batch and a single statement */
    ASSERT_INT_EQ(hd_pg_exec_batch(c, "item_add", 2, 1, vals, res, &err), 0);
    PQclear(res[0]);
    ASSERT_INT_EQ(hd_pg_exec(c, "item_count", 0, NULL, NULL, NULL, res, &err),
                  0);
    ASSERT_STR_EQ(PQgetvalue(res[0], 0, 0), "1");
    PQclear(res[0]);

    /* caller mistakes never reach the server */
    ASSERT_FAILS(hd_pg_exec_batch(c, "item_add", 2, 0, vals, res, &err),
                 HD_EINVAL);
    ASSERT_FAILS(hd_pg_exec_batch(c, "item_add", 2, HD_PG_BATCH_MAX + 1, vals,
                                  res, &err),
                 HD_EINVAL);
    ASSERT_FAILS(hd_pg_exec_batch(c, "item_add", 3, 1, vals, res, &err),
                 HD_EINVAL);
    ASSERT_FAILS(hd_pg_exec_batch(c, "no_such", 2, 1, vals, res, &err),
                 HD_EINVAL);
    hd_pg_release(fx.pg, c);
    fx_close(&fx);
}

static void
test_batch_statement_timeout(void)
{
    const char *vals[2] = {"0", "5"};
    PGresult *res[2];
    struct hd_err err = {0};
    struct hd_pgconn *c;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "batch_timeout", 1, 200), 0);
    c = hd_pg_acquire(fx.pg, 1000, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_FAILS(hd_pg_exec_batch(c, "sleep", 1, 2, vals, res, &err),
                 HD_ETIMEDOUT);
    ASSERT_STR_EQ(hd_pg_sqlstate(c), "57014");
    hd_pg_release(fx.pg, c);
    /* the pool goes on */
    ASSERT_INT_EQ(hd_pg_ping(fx.pg, 1000, &err), 0);
    fx_close(&fx);
}

struct caller {
    struct hd_pg_group *g;
    int first;     /* ids first .. first + PER_THREAD - 1 */
    int dup_every; /* every n-th call repeats an existing id (0: none) */
    int ok;
    int conflicts;
    int wrong; /* results that were not the caller's own */
};

static void *
caller_main(void *arg)
{
    struct caller *k = arg;
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        int id = k->first + i;
        int dup = k->dup_every > 0 && i > 0 && i % k->dup_every == 0;
        char sid[16], name[32], want[24];
        const char *vals[2] = {sid, name};
        struct hd_err err = {0};
        PGresult *res = NULL;

        /* a repeated id: the previous call's, which has committed */
        snprintf(sid, sizeof(sid), "%d", dup ? id - 1 : id);
        snprintf(name, sizeof(name), "n%d", id);
        snprintf(want, sizeof(want), "%d", (dup ? id - 1 : id) * 10);
        if (hd_pg_group_exec(k->g, 5000, vals, name, &res, &err) == 0) {
            k->ok++;
            if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), want))
                k->wrong++;
            PQclear(res);
        } else if (err.code == HD_ECONFLICT) {
            k->conflicts++;
        }
    }
    return NULL;
}

/* Runs THREADS callers through g; returns the totals in *sum. */
static void
run_callers(struct hd_pg_group *g, int dup_every, struct caller *sum)
{
    struct caller k[THREADS];
    pthread_t th[THREADS];
    int i;

    memset(sum, 0, sizeof(*sum));
    for (i = 0; i < THREADS; i++) {
        memset(&k[i], 0, sizeof(k[i]));
        k[i].g = g;
        k[i].first = 1 + i * PER_THREAD;
        k[i].dup_every = dup_every;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, caller_main, &k[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        sum->ok += k[i].ok;
        sum->conflicts += k[i].conflicts;
        sum->wrong += k[i].wrong;
    }
}

static void
test_group_commits_concurrent_calls(void)
{
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct caller sum;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_ok", 4, 5000), 0);
    /* one slot: every call that arrives while one runs joins a group */
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    run_callers(g, 0, &sum);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD);
    ASSERT_INT_EQ(sum.wrong, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"),
                  THREADS * PER_THREAD);
    hd_pg_group_stats(g, &st);
    ASSERT_INT_EQ((int)st.calls, THREADS * PER_THREAD);
    ASSERT_TRUE(st.groups > 0);
    ASSERT_INT_EQ((int)st.fallbacks, 0);
    hd_pg_group_free(g);
    fx_close(&fx);
}

static void
test_group_bad_row_costs_only_itself(void)
{
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct caller sum;
    struct fx fx;
    int dups = THREADS * ((PER_THREAD - 1) / 5);

    ASSERT_INT_EQ(fx_open(&fx, "group_fail", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    run_callers(g, 5, &sum);
    /* every repeated id fails alone; every other call succeeded */
    ASSERT_INT_EQ(sum.conflicts, dups);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD - dups);
    ASSERT_INT_EQ(sum.wrong, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"),
                  THREADS * PER_THREAD - dups);
    hd_pg_group_stats(g, &st);
    ASSERT_TRUE(st.fallbacks > 0);
    hd_pg_group_free(g);
    fx_close(&fx);
}

static int
always_apart(const char *const *const *rows, int n)
{
    (void)rows;
    return n > 0;
}

static int
never_apart(const char *const *const *rows, int n)
{
    (void)rows;
    (void)n;
    return 0;
}

static void
test_group_arrays_hand_each_its_row(void)
{
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct caller sum;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_arrays", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    hd_pg_group_set_arrays(g, "item_add_many", NULL, always_apart);
    run_callers(g, 0, &sum);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD);
    ASSERT_INT_EQ(sum.wrong, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"),
                  THREADS * PER_THREAD);
    hd_pg_group_stats(g, &st);
    ASSERT_TRUE(st.arrays > 0);
    ASSERT_TRUE(st.groups >= st.arrays);
    ASSERT_INT_EQ((int)st.fallbacks, 0);
    hd_pg_group_free(g);
    fx_close(&fx);
}

static void
test_group_arrays_bad_row_costs_only_itself(void)
{
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct caller sum;
    struct fx fx;
    int dups = THREADS * ((PER_THREAD - 1) / 5);

    ASSERT_INT_EQ(fx_open(&fx, "group_arrays_fail", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    hd_pg_group_set_arrays(g, "item_add_many", NULL, always_apart);
    run_callers(g, 5, &sum);
    ASSERT_INT_EQ(sum.conflicts, dups);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD - dups);
    ASSERT_INT_EQ(sum.wrong, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"),
                  THREADS * PER_THREAD - dups);
    hd_pg_group_stats(g, &st);
    ASSERT_TRUE(st.fallbacks > 0);
    hd_pg_group_free(g);
    fx_close(&fx);
}

static void
test_group_arrays_only_when_apart(void)
{
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct caller sum;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_not_apart", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    hd_pg_group_set_arrays(g, "item_add_many", NULL, never_apart);
    run_callers(g, 0, &sum);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD);
    ASSERT_INT_EQ(sum.wrong, 0);
    hd_pg_group_stats(g, &st);
    ASSERT_TRUE(st.groups > 0);
    ASSERT_INT_EQ((int)st.arrays, 0);
    ASSERT_INT_EQ((int)st.ordered, 0);
    hd_pg_group_free(g);
    fx_close(&fx);

    /* with an ordered statement, the groups not apart go as one call of
     * it, each caller still getting its own row */
    ASSERT_INT_EQ(fx_open(&fx, "group_ordered", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    hd_pg_group_set_arrays(g, "item_add_odd", "item_add_many", never_apart);
    run_callers(g, 0, &sum);
    ASSERT_INT_EQ(sum.ok, THREADS * PER_THREAD);
    ASSERT_INT_EQ(sum.wrong, 0);
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"),
                  THREADS * PER_THREAD);
    hd_pg_group_stats(g, &st);
    ASSERT_TRUE(st.ordered > 0);
    ASSERT_INT_EQ((int)st.arrays, 0);
    ASSERT_TRUE(st.groups >= st.ordered);
    hd_pg_group_free(g);
    fx_close(&fx);
}

struct odd_caller {
    struct hd_pg_group *g;
    int id;
    int rows;   /* rows of its result */
    int fields; /* columns of its result */
    char first[16];
};

static void *
odd_main(void *arg)
{
    struct odd_caller *k = arg;
    char sid[16], name[16];
    const char *vals[2] = {sid, name};
    struct hd_err err = {0};
    PGresult *res = NULL;

    snprintf(sid, sizeof(sid), "%d", k->id);
    snprintf(name, sizeof(name), "n%d", k->id);
    k->rows = -1;
    if (hd_pg_group_exec(k->g, 5000, vals, name, &res, &err) == 0) {
        k->rows = PQntuples(res);
        k->fields = PQnfields(res);
        if (k->rows > 0)
            snprintf(k->first, sizeof(k->first), "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return NULL;
}

static void
test_group_arrays_row_not_returned(void)
{
    struct odd_caller k[THREADS];
    pthread_t th[THREADS];
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct fx fx;
    int i;

    ASSERT_INT_EQ(fx_open(&fx, "group_arrays_odd", 4, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    hd_pg_group_set_arrays(g, "item_add_odd", NULL, always_apart);
    for (i = 0; i < THREADS; i++) {
        memset(&k[i], 0, sizeof(k[i]));
        k[i].g = g;
        k[i].id = i + 1;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, odd_main, &k[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* a caller alone got item_add's row; in a group, an odd id its own
     * row and an even one no row; always item_add's one column */
    for (i = 0; i < THREADS; i++) {
        char want[16];

        snprintf(want, sizeof(want), "%d", k[i].id * 10);
        ASSERT_INT_EQ(k[i].fields, 1);
        ASSERT_TRUE(k[i].rows == 0 || k[i].rows == 1);
        if (k[i].id % 2 == 1)
            ASSERT_INT_EQ(k[i].rows, 1);
        if (k[i].rows == 1)
            ASSERT_STR_EQ(k[i].first, want);
    }
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), THREADS);
    hd_pg_group_free(g);
    fx_close(&fx);
}

struct sleeper {
    struct hd_pg_group *g;
    const char *secs;
    int wait_ms;
    int rc;
    struct hd_err err;
};

static void *
sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    const char *vals[1] = {s->secs};
    PGresult *res = NULL;

    s->rc = hd_pg_group_exec(s->g, s->wait_ms, vals, NULL, &res, &s->err);
    PQclear(res);
    return NULL;
}

static void
test_group_queued_call_times_out(void)
{
    struct sleeper a = {0}, b = {0};
    struct hd_err err = {0};
    pthread_t ta, tb;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_wait", 2, 5000), 0);
    a.g = hd_pg_group_new(fx.pg, "sleep", 1, 1, 8, &err);
    ASSERT_NOT_NULL(a.g);
    b.g = a.g;
    a.secs = "0.6";
    a.wait_ms = 2000;
    b.secs = "0";
    b.wait_ms = 100;
    ASSERT_INT_EQ(pthread_create(&ta, NULL, sleeper_main, &a), 0);
    sleep_ms(150); /* a holds the only slot */
    ASSERT_INT_EQ(pthread_create(&tb, NULL, sleeper_main, &b), 0);
    pthread_join(tb, NULL);
    pthread_join(ta, NULL);
    ASSERT_INT_EQ(a.rc, 0);
    ASSERT_INT_EQ(b.rc, -1);
    ASSERT_INT_EQ(b.err.code, HD_ETIMEDOUT);
    /* the slot is free again */
    b.wait_ms = 1000;
    sleeper_main(&b);
    ASSERT_INT_EQ(b.rc, 0);
    hd_pg_group_free(a.g);
    fx_close(&fx);
}

/* Submitted calls: each one's values and what its callback saw. */
#define SUBMITS 200

struct submitted {
    pthread_mutex_t *mu;
    const char *want; /* the result it must see */
    int *left;
    char sid[16], name[32], wantbuf[24];
    const char *vals[2];
    int rc;
    int code;
    int right; /* its own result */
    int calls; /* times the callback ran */
};

static void
submitted_done(void *arg, int rc, PGresult *res, const struct hd_err *err)
{
    struct submitted *k = arg;

    pthread_mutex_lock(k->mu);
    k->calls++;
    k->rc = rc;
    k->code = rc < 0 ? err->code : 0;
    k->right = rc == 0 && res != NULL && PQntuples(res) == 1 &&
               strcmp(PQgetvalue(res, 0, 0), k->want) == 0;
    (*k->left)--;
    pthread_mutex_unlock(k->mu);
    PQclear(res);
}

static void
submit_items(struct hd_pg_group *g, struct submitted *k, int n,
             pthread_mutex_t *mu, int *left)
{
    int i;

    *left = n;
    for (i = 0; i < n; i++) {
        k[i].mu = mu;
        k[i].left = left;
        snprintf(k[i].sid, sizeof(k[i].sid), "%d", i + 1);
        snprintf(k[i].name, sizeof(k[i].name), "n%d", i + 1);
        snprintf(k[i].wantbuf, sizeof(k[i].wantbuf), "%d", (i + 1) * 10);
        k[i].want = k[i].wantbuf;
        k[i].vals[0] = k[i].sid;
        k[i].vals[1] = k[i].name;
        hd_pg_group_submit(g, 5000, k[i].vals, k[i].name, submitted_done,
                           &k[i]);
    }
}

static void
test_group_submit_answers_each_call_once(void)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct submitted *k = hd_xcalloc(SUBMITS, sizeof(*k));
    struct hd_pg_group_stats st;
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct fx fx;
    int left, i, left_now;

    ASSERT_INT_EQ(fx_open(&fx, "group_submit", 2, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    submit_items(g, k, SUBMITS, &mu, &left);
    for (i = 0; i < 1000; i++) {
        pthread_mutex_lock(&mu);
        left_now = left;
        pthread_mutex_unlock(&mu);
        if (left_now == 0)
            break;
        sleep_ms(10);
    }
    ASSERT_INT_EQ(left_now, 0);
    for (i = 0; i < SUBMITS; i++) {
        ASSERT_INT_EQ(k[i].calls, 1);
        ASSERT_INT_EQ(k[i].right, 1);
    }
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), SUBMITS);
    /* the burst queued behind the one slot: it went in groups */
    hd_pg_group_stats(g, &st);
    ASSERT_INT_EQ((int)st.calls, SUBMITS);
    ASSERT_TRUE(st.groups > 0);
    hd_pg_group_free(g);
    free(k);
    fx_close(&fx);
}

static void
test_group_free_runs_queued_submits(void)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct submitted *k = hd_xcalloc(SUBMITS, sizeof(*k));
    struct hd_err err = {0};
    struct hd_pg_group *g;
    struct fx fx;
    int left, i;

    ASSERT_INT_EQ(fx_open(&fx, "group_free", 2, 5000), 0);
    g = hd_pg_group_new(fx.pg, "item_add", 2, 1, 8, &err);
    ASSERT_NOT_NULL(g);
    submit_items(g, k, SUBMITS, &mu, &left);
    hd_pg_group_free(g); /* at once: most calls are still queued */
    ASSERT_INT_EQ(left, 0);
    for (i = 0; i < SUBMITS; i++) {
        ASSERT_INT_EQ(k[i].calls, 1);
        ASSERT_INT_EQ(k[i].right, 1);
    }
    ASSERT_INT_EQ(admin(&fx, "SELECT count(*) FROM items"), SUBMITS);
    free(k);
    fx_close(&fx);
}

static void
test_group_queued_submit_times_out(void)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct submitted late = {0};
    struct sleeper a = {0};
    struct hd_err err = {0};
    int left = 1;
    pthread_t ta;
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_submit_wait", 2, 5000), 0);
    a.g = hd_pg_group_new(fx.pg, "sleep", 1, 1, 8, &err);
    ASSERT_NOT_NULL(a.g);
    a.secs = "0.6";
    a.wait_ms = 2000;
    ASSERT_INT_EQ(pthread_create(&ta, NULL, sleeper_main, &a), 0);
    sleep_ms(150); /* a holds the only slot */
    late.mu = &mu;
    late.left = &left;
    snprintf(late.sid, sizeof(late.sid), "0");
    late.want = "";
    late.vals[0] = late.sid;
    hd_pg_group_submit(a.g, 100, late.vals, NULL, submitted_done, &late);
    pthread_join(ta, NULL);
    hd_pg_group_free(a.g); /* every callback has run */
    ASSERT_INT_EQ(a.rc, 0);
    ASSERT_INT_EQ(late.calls, 1);
    ASSERT_INT_EQ(late.rc, -1);
    ASSERT_INT_EQ(late.code, HD_ETIMEDOUT);
    fx_close(&fx);
}

static void
test_group_rejects_bad_arguments(void)
{
    struct hd_err err = {0};
    struct fx fx;

    ASSERT_INT_EQ(fx_open(&fx, "group_args", 1, 5000), 0);
    ASSERT_NONE(hd_pg_group_new(NULL, "item_add", 2, 1, 8, &err), HD_EINVAL);
    ASSERT_NONE(hd_pg_group_new(fx.pg, "item_add", 2, 0, 8, &err), HD_EINVAL);
    ASSERT_NONE(
        hd_pg_group_new(fx.pg, "item_add", 2, 1, HD_PG_BATCH_MAX + 1, &err),
        HD_EINVAL);
    hd_pg_group_free(NULL);
    fx_close(&fx);
}

int
main(void)
{
    RUN_TEST(test_dsn_is_set);
    if (unit_failed > 0)
        return UNIT_DONE();
    RUN_TEST(test_batch_applies_every_row);
    RUN_TEST(test_batch_is_all_or_nothing);
    RUN_TEST(test_batch_statement_timeout);
    RUN_TEST(test_group_commits_concurrent_calls);
    RUN_TEST(test_group_bad_row_costs_only_itself);
    RUN_TEST(test_group_arrays_hand_each_its_row);
    RUN_TEST(test_group_arrays_bad_row_costs_only_itself);
    RUN_TEST(test_group_arrays_only_when_apart);
    RUN_TEST(test_group_arrays_row_not_returned);
    RUN_TEST(test_group_queued_call_times_out);
    RUN_TEST(test_group_submit_answers_each_call_once);
    RUN_TEST(test_group_free_runs_queued_submits);
    RUN_TEST(test_group_queued_submit_times_out);
    RUN_TEST(test_group_rejects_bad_arguments);
    return UNIT_DONE();
}
