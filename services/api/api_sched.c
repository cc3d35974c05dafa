/* api_sched.c -- send_at and cancel_push: pushes held in PostgreSQL
 * (scheduled_pushes, db/migrations/0005) until their time, and the
 * scheduler stage that releases them to herald.requests.
 *
 * A release is one transaction: claim up to a batch of due rows (FOR
 * UPDATE SKIP LOCKED, so replicas share the work without waiting on each
 * other), produce each record, wait until Kafka acknowledged all of
 * them, mark them released, commit. A replica killed in between leaves
 * the rows pending: they are claimed again and the fan-out's uid
 * idempotency drops the second copy. One thread per replica. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/thread.h"
#include "core/banned.h"

#define RELEASE_BATCH 1000
#define SCHED_ACK_WAIT_MS 30000

struct api_sched {
    struct api_ctx *ctx;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    /* acknowledgements of the batch in flight (under mu) */
    long acked;
    long failed;
};

int
api_sched_put(struct api_ctx *ctx, struct hd_pg *pool,
              const struct hd_msg_request *r, int64_t due_ms,
              struct hd_err *err)
{
    char due[24];
    const char *vals[4];
    struct hd_buf rec;
    PGresult *res = NULL;
    char *key = NULL;
    int rc;

    hd_buf_init(&rec, HD_KAFKA_MAX_MESSAGE);
    if (hd_msg_request_encode(r, &rec, err) < 0) {
        hd_buf_release(&rec);
        return -1;
    }
    if (r->part)
        key = hd_xasprintf("%s#%s", r->uid, r->part);
    snprintf(due, sizeof(due), "%lld", (long long)due_ms);
    vals[0] = r->app;
    vals[1] = key ? key : r->uid;
    vals[2] = due;
    vals[3] = rec.data;
    rc = api_query(pool, ctx->cfg.pg_wait_ms, "sp_put", 4, vals, &res, err);
    PQclear(res);
    hd_buf_release(&rec);
    free(key);
    return rc;
}

int
api_sched_cancelled(struct api_ctx *ctx, const char *app, const char *uid)
{
    const char *vals[2] = {app, uid};
    struct hd_err err = {0};
    PGresult *res = NULL;
    int yes;

    if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, "sp_cancelled", 2, vals, &res,
                  &err) < 0)
        return 0; /* unknown: keep going, the next page asks again */
    yes = PQntuples(res) > 0;
    PQclear(res);
    return yes;
}

void
api_cancel_push(struct api_call *call)
{
    static const char *const known[] = {"uid", "app", NULL};
    const char *vals[2];
    struct hd_err err = {0};
    PGresult *res = NULL;

    if (api_params_known(&call->ctx->rules, call->params, "params", known,
                         &err) < 0 ||
        api_get_app(call->params, "params", &vals[0], &err) < 0 ||
        api_get_str(call->params, "params", "uid", API_K_ID, 1, &vals[1],
                    &err) < 0 ||
        api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "sp_cancel", 2,
                  vals, &res, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    PQclear(res);
    api_call_result(call, NULL);
}

/* ---- send_at's insert, off the HTTP I/O threads ---------------------- */

/* send_push_notification runs on an I/O thread; its send_at insert waits
 * on PostgreSQL, so it is queued to one thread of its own, which answers
 * the call. At most SCHEDQ_MAX wait: past it the call is answered 100. */
#define SCHEDQ_MAX 1024

struct sched_put {
    struct api_call *call;
    struct hd_msg_request r;
    int64_t due_ms;
    struct sched_put *next;
};

struct api_schedq {
    struct api_ctx *ctx;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct sched_put *head, *tail;
    int n;
    int stop;
};

static void
put_one(struct api_schedq *q, struct sched_put *p)
{
    struct hd_err err = {0};

    if (api_sched_put(q->ctx, q->ctx->pg, &p->r, p->due_ms, &err) < 0)
        api_call_fail(p->call, &err);
    else
        api_call_result_str(p->call, "uid", p->r.uid);
    hd_msg_request_release(&p->r);
    free(p);
}

static void *
schedq_main(void *arg)
{
    struct api_schedq *q = arg;
    struct sched_put *p;

    hd_log_ctx_set("thread", "send_at");
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->head == NULL && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->head == NULL)
            break; /* stopping, and nothing left */
        p = q->head;
        q->head = p->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->n--;
        pthread_mutex_unlock(&q->mu);
        put_one(q, p);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

struct api_schedq *
api_schedq_start(struct api_ctx *ctx, struct hd_err *err)
{
    struct api_schedq *q = hd_xcalloc(1, sizeof(*q));

    q->ctx = ctx;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    if (pthread_create(&q->tid, NULL, schedq_main, q) != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        hd_err_set(err, HD_EIO, "cannot start the send_at thread");
        return NULL;
    }
    return q;
}

void
api_schedq_stop(struct api_schedq *q)
{
    if (q == NULL)
        return;
    hd_thread_stop(q->tid, &q->mu, &q->cv, &q->stop);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

void
api_sched_hold(struct api_call *call, struct hd_msg_request *r, int64_t due_ms)
{
    struct api_schedq *q = call->ctx->schedq;
    struct sched_put *p;

    if (q == NULL) { /* no queue (tests of the parser): answer here */
        struct hd_err err = {0};

        if (api_sched_put(call->ctx, call->ctx->pg, r, due_ms, &err) < 0)
            api_call_fail(call, &err);
        else
            api_call_result_str(call, "uid", r->uid);
        hd_msg_request_release(r);
        return;
    }
    p = hd_xcalloc(1, sizeof(*p));
    p->call = call;
    p->r = *r; /* taken over */
    memset(r, 0, sizeof(*r));
    p->due_ms = due_ms;
    pthread_mutex_lock(&q->mu);
    if (q->n >= SCHEDQ_MAX || q->stop) {
        pthread_mutex_unlock(&q->mu);
        hd_log(HD_LOG_WARN, 0, "send %s: send_at queue full", p->r.uid);
        api_call_error(call, API_E_INTERNAL, "internal server error");
        hd_msg_request_release(&p->r);
        free(p);
        return;
    }
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* ---- the stage --------------------------------------------------------- */

static int
stopped(struct api_sched *s)
{
    int v;

    pthread_mutex_lock(&s->mu);
    v = s->stop;
    pthread_mutex_unlock(&s->mu);
    return v;
}

static void
acked(void *opaque, int ok, const char *errstr)
{
    struct api_sched *s = opaque;

    pthread_mutex_lock(&s->mu);
    if (ok) {
        s->acked++;
    } else {
        s->failed++;
        hd_log(HD_LOG_WARN, 0, "scheduler: release not queued: %s", errstr);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Produces the claimed rows; 1 when Kafka acknowledged every one. The
 * (app, uid) literals of the acknowledged rows go to apps and uids. */
static int
produce_claimed(struct api_sched *s, PGresult *res, struct hd_buf *apps,
                struct hd_buf *uids)
{
    struct hd_err err = {0};
    long sent = 0;
    uint64_t until;
    int i, n = PQntuples(res), all;

    pthread_mutex_lock(&s->mu);
    s->acked = s->failed = 0;
    pthread_mutex_unlock(&s->mu);
    hd_pg_array_begin(apps);
    hd_pg_array_begin(uids);
    for (i = 0; i < n; i++) {
        const char *rec = api_pg_get(res, i, 2);
        const char *key = api_pg_get(res, i, 1);

        /* the record as it was written (encoded by api_sched_put): no
         * decoding and encoding again; the fan-out dead-letters a record
         * it cannot read */
        if (rec == NULL) {
            hd_log(HD_LOG_ERROR, 0, "scheduler: %s: no record", key);
        } else if (hd_kproducer_send(s->ctx->producer, s->ctx->topic_requests,
                                     key, strlen(key), rec, strlen(rec), acked,
                                     s, &err) == 0) {
            sent++;
        } else {
            hd_log(HD_LOG_WARN, 0, "scheduler: %s", err.msg);
        }
        /* a bad record is released too: it would come back forever */
        hd_pg_array_add(apps, api_pg_get(res, i, 0), NULL);
        hd_pg_array_add(uids, api_pg_get(res, i, 1), NULL);
    }
    hd_pg_array_end(apps, NULL);
    hd_pg_array_end(uids, NULL);
    until = hd_now_mono_ms() + SCHED_ACK_WAIT_MS;
    pthread_mutex_lock(&s->mu);
    while (s->acked + s->failed < sent && hd_now_mono_ms() < until) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    all = s->failed == 0 && s->acked == sent;
    pthread_mutex_unlock(&s->mu);
    return all;
}

/* One claim-produce-mark transaction. The rows released, or -1. */
static int
release_due(struct api_sched *s)
{
    struct api_ctx *ctx = s->ctx;
    struct hd_err err = {0};
    struct hd_buf apps, uids;
    struct hd_pgconn *c;
    PGresult *res = NULL;
    char lim[16];
    const char *vals[2];
    int n = -1;

    snprintf(lim, sizeof(lim), "%d", RELEASE_BATCH);
    vals[0] = lim;
    c = hd_pg_acquire(ctx->bg, ctx->cfg.pg_wait_ms, &err);
    if (c == NULL)
        goto out;
    hd_buf_init(&apps, API_PG_ARRAY_MAX);
    hd_buf_init(&uids, API_PG_ARRAY_MAX);
    if (hd_pg_begin(c, &err) < 0)
        goto done;
    if (hd_pg_exec(c, "sp_claim", 1, vals, NULL, NULL, &res, &err) < 0)
        goto rollback;
    if (PQntuples(res) == 0) {
        n = 0;
        goto rollback; /* nothing due: nothing to keep */
    }
    if (!produce_claimed(s, res, &apps, &uids)) {
        hd_err_set(&err, HD_EUPSTREAM, "Kafka did not take every release");
        goto rollback;
    }
    vals[0] = apps.data;
    vals[1] = uids.data;
    PQclear(res);
    res = NULL;
    if (hd_pg_exec(c, "sp_released", 2, vals, NULL, NULL, &res, &err) < 0 ||
        hd_pg_commit(c, &err) < 0)
        goto rollback;
    n = (int)strtol(PQcmdTuples(res), NULL, 10);
    goto done;
rollback:
    hd_pg_rollback(c);
done:
    PQclear(res);
    hd_buf_release(&apps);
    hd_buf_release(&uids);
    hd_pg_release(ctx->bg, c);
out:
    if (n < 0)
        hd_log(HD_LOG_WARN, 0, "scheduler (retried): %s", err.msg);
    return n;
}

static void *
run(void *arg)
{
    struct api_sched *s = arg;

    hd_log_ctx_set("thread", "scheduler");
    while (!stopped(s)) {
        struct timespec ts;
        int n = release_due(s);

        if (n >= RELEASE_BATCH)
            continue; /* more may be due: no pause */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)s->ctx->cfg.sched_poll_ms * 1000000L;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&s->mu);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
            ;
        pthread_mutex_unlock(&s->mu);
    }
    hd_log_ctx_clear();
    return NULL;
}

struct api_sched *
api_sched_start(struct api_ctx *ctx, struct hd_err *err)
{
    struct api_sched *s = hd_xcalloc(1, sizeof(*s));

    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    hd_thread_cond_init(&s->cv);
    if (pthread_create(&s->tid, NULL, run, s) != 0) {
        hd_err_set(err, HD_EIO, "cannot start the scheduler thread");
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void
api_sched_stop(struct api_sched *s)
{
    if (s == NULL)
        return;
    hd_thread_stop(s->tid, &s->mu, &s->cv, &s->stop);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
