/* api_fanout.c -- the fan-out stage: group herald-fanout on
 * herald.requests, workers that expand requests, and completion.
 *
 * The consumer thread polls up to FO_CHECK_MAX records, looks their uids
 * up in push_requests in one query (recorded: a repeat, skipped), parks a
 * repeat of a uid still running behind the first, queues the rest, and
 * records finished requests in one statement per round before marking
 * their offsets done. Idempotency window: docs/api.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "services/api/api_fanout.h"
#include "services/api/api_store.h"
#include "core/banned.h"

#define POLL_MS 10
#define DB_RETRY_MS 500

static int
stopping(struct api_fanout *fo)
{
    return atomic_load(&fo->stop);
}

static void
timed_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(cv, mu, &ts);
}

/* ---- the in-progress table (consumer thread only) ---------------------- */

static size_t
bucket(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)(h & (FO_BUCKETS - 1));
}

static struct fo_req *
table_find(struct api_fanout *fo, const char *key)
{
    struct fo_req *r;

    for (r = fo->table[bucket(key)]; r; r = r->hnext)
        if (strcmp(r->key, key) == 0)
            return r;
    return NULL;
}

static void
table_add(struct api_fanout *fo, struct fo_req *req)
{
    size_t b = bucket(req->key);

    req->hnext = fo->table[b];
    fo->table[b] = req;
    fo->reqs_inflight++;
    hd_gauge_set(fo->ctx->m.fo_inflight, (double)fo->reqs_inflight);
}

static void
table_remove(struct api_fanout *fo, struct fo_req *req)
{
    struct fo_req **pp = &fo->table[bucket(req->key)];

    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == req) {
            *pp = req->hnext;
            fo->reqs_inflight--;
            hd_gauge_set(fo->ctx->m.fo_inflight, (double)fo->reqs_inflight);
            return;
        }
    }
}

static void
req_free(struct fo_req *req)
{
    hd_msg_request_release(&req->r);
    api_personal_release(&req->pers);
    free(req->rid);
    free(req->key);
    free(req);
}

/* ---- workers ----------------------------------------------------------- */

static void *
worker_main(void *arg)
{
    struct api_fanout *fo = arg;
    struct fo_req *req;

    hd_log_ctx_set("thread", "fanout");
    for (;;) {
        pthread_mutex_lock(&fo->mu);
        while (!stopping(fo) && fo->work_head == NULL)
            pthread_cond_wait(&fo->work_cv, &fo->mu);
        if (stopping(fo)) {
            pthread_mutex_unlock(&fo->mu);
            break;
        }
        req = fo->work_head;
        fo->work_head = req->next;
        if (fo->work_head == NULL)
            fo->work_tail = NULL;
        pthread_mutex_unlock(&fo->mu);
        hd_log_ctx_set("uid", "%s", req->r.uid);
        fo_expand(fo, req);
        hd_log_ctx_unset("uid");
        fo_req_unref(req); /* the expansion's reference */
    }
    atomic_fetch_sub(&fo->workers_running, 1);
    pthread_mutex_lock(&fo->mu);
    pthread_cond_signal(&fo->wake_cv);
    pthread_mutex_unlock(&fo->mu);
    hd_log_ctx_clear();
    return NULL;
}

static void
queue_work(struct api_fanout *fo, struct fo_req *req)
{
    req->next = NULL;
    pthread_mutex_lock(&fo->mu);
    if (fo->work_tail)
        fo->work_tail->next = req;
    else
        fo->work_head = req;
    fo->work_tail = req;
    pthread_cond_signal(&fo->work_cv);
    pthread_mutex_unlock(&fo->mu);
}

/* ---- completion (consumer thread) --------------------------------------- */

static void
mark_done(struct api_fanout *fo, struct fo_req *req, const char *result)
{
    hd_kconsumer_done(fo->c, fo->ctx->topic_requests, req->partition,
                      req->offset);
    hd_counter_inc(hd_metric_with(fo->ctx->m.fo_requests, result));
}

/* Marks req and every parked repeat of it done, and frees them. */
static void
retire(struct api_fanout *fo, struct fo_req *req, const char *result)
{
    struct fo_req *d;

    table_remove(fo, req);
    mark_done(fo, req, result);
    while ((d = req->dups) != NULL) {
        req->dups = d->next;
        mark_done(fo, d, "duplicate");
        req_free(d);
    }
    req_free(req);
}

static void
log_done(const struct fo_req *req, const char *state)
{
    long tokens = atomic_load(&req->tokens);
    double ms = (double)(hd_now_mono_us() - req->start_us) / 1000.0;

    hd_log(tokens >= 1000 || ms >= 1000 ? HD_LOG_INFO : HD_LOG_DEBUG, 0,
           "request %s %s: %ld tokens in %ld batches, %.1f ms", req->rid, state,
           tokens, atomic_load(&req->batches), ms);
}

/* Writes the rows of finished requests, then marks their offsets done.
 * Abandoned requests are dropped, uncommitted. */
static void
run_finished(struct api_fanout *fo)
{
    struct fo_req *list, *req, *ok = NULL;
    struct hd_buf a[5];
    struct hd_err err = {0};
    const char *vals[5];
    int i, n = 0;

    pthread_mutex_lock(&fo->mu);
    list = fo->finished;
    fo->finished = NULL;
    pthread_mutex_unlock(&fo->mu);
    if (list == NULL)
        return;
    for (i = 0; i < 5; i++) {
        hd_buf_init(&a[i], API_PG_ARRAY_MAX);
        hd_pg_array_begin(&a[i]);
    }
    while ((req = list) != NULL) {
        unsigned f = atomic_load(&req->flags);

        list = req->next;
        if (f & FO_F_ABANDONED) {
            struct fo_req *d;

            fo->abandoned++;
            table_remove(fo, req);
            while ((d = req->dups) != NULL) {
                req->dups = d->next;
                req_free(d);
            }
            req_free(req);
            continue;
        }
        hd_pg_array_add(&a[0], req->r.app, NULL);
        hd_pg_array_add(&a[1], req->rid, NULL);
        hd_pg_array_add(&a[2], f & FO_F_EXPIRED ? "expired" : "done", NULL);
        hd_pg_array_add_i64(&a[3], atomic_load(&req->tokens), NULL);
        hd_pg_array_add_i64(&a[4], req->r.created_ms, NULL);
        req->next = ok;
        ok = req;
        n++;
    }
    for (i = 0; i < 5; i++) {
        hd_pg_array_end(&a[i], NULL);
        vals[i] = a[i].data;
    }
    if (n > 0 && api_query(fo->ctx->bg, fo->ctx->cfg.pg_wait_ms, "fo_mark_done",
                           5, vals, NULL, &err) < 0) {
        hd_log(HD_LOG_WARN, 0,
               "fan-out: recording %d finished requests "
               "(retried): %s",
               n, err.msg);
        pthread_mutex_lock(&fo->mu);
        while ((req = ok) != NULL) {
            ok = req->next;
            req->next = fo->finished;
            fo->finished = req;
        }
        pthread_mutex_unlock(&fo->mu);
        n = 0;
    }
    while ((req = ok) != NULL) {
        unsigned f = atomic_load(&req->flags);
        const char *state = f & FO_F_EXPIRED ? "expired" : "done";

        ok = req->next;
        log_done(req, state);
        hd_histogram_observe(hd_metric_with(fo->ctx->m.job_duration, "all",
                                            hd_recipient_key(req->r.kind)),
                             (double)(hd_now_mono_us() - req->start_us) / 1e6);
        retire(fo, req, state);
    }
    for (i = 0; i < 5; i++)
        hd_buf_release(&a[i]);
    if (err.code != HD_EOK) {
        struct timespec ts = {0, DB_RETRY_MS * 1000000L};

        nanosleep(&ts, NULL);
    }
}

/* ---- intake (consumer thread) ------------------------------------------ */

static void
dlq_done(void *ud, int32_t partition, int64_t offset)
{
    struct api_fanout *fo = ud;

    /* under mu: the consumer thread lets go of fo->c under it too */
    pthread_mutex_lock(&fo->mu);
    if (fo->c != NULL)
        hd_kconsumer_done(fo->c, fo->ctx->topic_requests, partition, offset);
    pthread_mutex_unlock(&fo->mu);
}

/* An undecodable record goes to herald.dlq; its offset is done once the
 * dead letter is acknowledged. */
static void
dead_letter(struct api_fanout *fo, const struct hd_kmsg *msg, const char *why)
{
    struct hd_err err = {0};

    hd_log(HD_LOG_WARN, 0, "malformed request at %s/%d/%lld: %s", msg->topic,
           (int)msg->partition, (long long)msg->offset, why);
    hd_counter_inc(hd_metric_with(fo->ctx->m.fo_requests, "malformed"));
    if (api_dead_letter(fo->ctx, msg, why, dlq_done, fo, &err) < 0)
        hd_log(HD_LOG_ERROR, 0, "dead-lettering: %s", err.msg);
}

static struct fo_req *
take(struct api_fanout *fo, const struct hd_kmsg *msg)
{
    struct fo_req *req = hd_xcalloc(1, sizeof(*req));
    struct hd_err err = {0};

    if (hd_msg_request_decode(msg->value, msg->len, &req->r, &err) < 0) {
        dead_letter(fo, msg, err.msg);
        free(req);
        return NULL;
    }
    if (req->r.personal &&
        api_personal_parse(&fo->ctx->rules, req->r.personal,
                           req->r.notification, req->r.kind == HD_RCPT_FILTER,
                           NULL, &req->pers, &err) < 0) {
        dead_letter(fo, msg, err.msg);
        hd_msg_request_release(&req->r);
        free(req);
        return NULL;
    }
    req->has_pers = req->r.personal != NULL;
    req->rid = req->r.part ? hd_xasprintf("%s#%s", req->r.uid, req->r.part)
                           : hd_xstrdup(req->r.uid);
    if (msg->timestamp_ms > 0)
        hd_gauge_set(fo->ctx->m.fo_lag,
                     (double)(hd_now_wall_ms() - msg->timestamp_ms) / 1e3);
    req->fo = fo;
    req->partition = msg->partition;
    req->offset = msg->offset;
    req->key = hd_xasprintf("%s\x1f%s", req->r.app, req->rid);
    atomic_init(&req->pending, 1);
    atomic_init(&req->flags, 0);
    atomic_init(&req->tokens, 0);
    atomic_init(&req->batches, 0);
    return req;
}

/* Looks the list's uids up in push_requests: the ones recorded are
 * repeats and retire at once; the rest go to the workers. 0, or -1 when
 * the lookup failed (the list is kept for the next round). */
static int
dispatch(struct api_fanout *fo, struct fo_req **list)
{
    struct hd_buf apps, uids;
    struct hd_err err = {0};
    const char *vals[2];
    PGresult *res = NULL;
    struct fo_req *req;
    int i, rc = -1;

    if (*list == NULL)
        return 0;
    hd_buf_init(&apps, API_PG_ARRAY_MAX);
    hd_buf_init(&uids, API_PG_ARRAY_MAX);
    hd_pg_array_begin(&apps);
    hd_pg_array_begin(&uids);
    for (req = *list; req; req = req->next) {
        hd_pg_array_add(&apps, req->r.app, NULL);
        hd_pg_array_add(&uids, req->rid, NULL);
    }
    hd_pg_array_end(&apps, NULL);
    hd_pg_array_end(&uids, NULL);
    vals[0] = apps.data;
    vals[1] = uids.data;
    if (api_query(fo->ctx->bg, fo->ctx->cfg.pg_wait_ms, "fo_done_check", 2,
                  vals, &res, &err) < 0) {
        hd_log(HD_LOG_WARN, 0, "fan-out: uid lookup (retried): %s", err.msg);
        goto out;
    }
    while ((req = *list) != NULL) {
        int seen = 0;

        *list = req->next;
        for (i = 0; i < PQntuples(res) && !seen; i++)
            seen = strcmp(api_pg_get(res, i, 0), req->r.app) == 0 &&
                   strcmp(api_pg_get(res, i, 1), req->rid) == 0;
        if (seen) {
            retire(fo, req, "duplicate");
            continue;
        }
        req->start_us = hd_now_mono_us();
        queue_work(fo, req);
    }
    rc = 0;
out:
    PQclear(res);
    hd_buf_release(&apps);
    hd_buf_release(&uids);
    return rc;
}

/* Polls up to FO_CHECK_MAX records onto *list (in order), parking
 * repeats of uids in progress. */
static void
intake(struct api_fanout *fo, struct fo_req **list)
{
    struct fo_req *tail = NULL, *req, *first;
    struct hd_err err = {0};
    struct hd_kmsg msg;
    int n = 0, rc;

    while (n < FO_CHECK_MAX &&
           fo->reqs_inflight < fo->ctx->cfg.fanout_max_requests) {
        rc = hd_kconsumer_poll(fo->c, n == 0 ? POLL_MS : 0, &msg, &err);
        if (rc < 0) {
            hd_log(HD_LOG_ERROR, 0, "consuming %s: %s", fo->ctx->topic_requests,
                   err.msg);
            break;
        }
        if (rc == 0)
            break;
        req = take(fo, &msg);
        hd_kmsg_release(&msg);
        n++;
        if (req == NULL)
            continue;
        first = table_find(fo, req->key);
        if (first != NULL) {
            req->next = first->dups; /* order among repeats is moot */
            first->dups = req;
            continue;
        }
        table_add(fo, req);
        req->next = NULL;
        if (tail)
            tail->next = req;
        else
            *list = req;
        tail = req;
    }
}

/* Stopping: what was never dispatched (pending) and what the workers
 * never picked up stays uncommitted; batches in flight get up to
 * FO_DRAIN_MS to be acknowledged, and what they finish is committed. */
static void
drain_on_stop(struct api_fanout *fo, struct fo_req *pending)
{
    struct fo_req *req;
    uint64_t deadline;

    while ((req = pending) != NULL) {
        pending = req->next;
        atomic_fetch_or(&req->flags, FO_F_ABANDONED);
        fo_req_unref(req);
    }
    deadline = hd_now_mono_ms() + FO_DRAIN_MS;
    for (;;) {
        long left;
        int busy;

        pthread_mutex_lock(&fo->mu);
        while ((req = fo->work_head) != NULL &&
               atomic_load(&fo->workers_running) == 0) {
            fo->work_head = req->next;
            atomic_fetch_or(&req->flags, FO_F_ABANDONED);
            pthread_mutex_unlock(&fo->mu);
            fo_req_unref(req);
            pthread_mutex_lock(&fo->mu);
        }
        if (fo->work_head == NULL)
            fo->work_tail = NULL;
        left = fo->batches_inflight;
        busy = atomic_load(&fo->workers_running) > 0 || left > 0 ||
               fo->work_head != NULL;
        if (busy && fo->finished == NULL && fo->retry == NULL)
            timed_wait(&fo->wake_cv, &fo->mu, POLL_MS);
        pthread_mutex_unlock(&fo->mu);
        fo_run_retries(fo);
        run_finished(fo);
        if (!busy)
            break;
        if (hd_now_mono_ms() >= deadline) {
            hd_log(HD_LOG_WARN, 0,
                   "fan-out stopping with %ld batches "
                   "unacknowledged: their requests stay uncommitted",
                   left);
            break;
        }
    }
    if (fo->abandoned > 0)
        hd_log(HD_LOG_INFO, 0,
               "fan-out stopped: %ld unfinished requests left "
               "uncommitted for the next owner",
               fo->abandoned);
}

static void *
consumer_main(void *arg)
{
    struct api_fanout *fo = arg;
    struct fo_req *pending = NULL;
    struct hd_kconsumer *c;

    hd_log_ctx_set("thread", "fanout-consumer");
    while (!stopping(fo)) {
        fo_run_retries(fo);
        run_finished(fo);
        if (pending != NULL) {
            if (dispatch(fo, &pending) < 0) {
                struct timespec ts = {0, DB_RETRY_MS * 1000000L};

                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (fo->reqs_inflight >= fo->ctx->cfg.fanout_max_requests) {
            /* not polling: commit what is done here instead */
            hd_kconsumer_commit(fo->c, 0, NULL);
            pthread_mutex_lock(&fo->mu);
            if (fo->finished == NULL && fo->retry == NULL)
                timed_wait(&fo->wake_cv, &fo->mu, POLL_MS);
            pthread_mutex_unlock(&fo->mu);
            continue;
        }
        intake(fo, &pending);
        dispatch(fo, &pending);
    }

    drain_on_stop(fo, pending);
    pthread_mutex_lock(&fo->mu);
    c = fo->c;
    fo->c = NULL;
    pthread_mutex_unlock(&fo->mu);
    hd_kconsumer_close(c);
    hd_log_ctx_clear();
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------- */

struct api_fanout *
api_fanout_start(struct api_ctx *ctx, struct hd_err *err)
{
    struct api_fanout *fo = hd_xcalloc(1, sizeof(*fo));
    struct hd_kconsumer_opts o;
    const char *topics[1];
    pthread_condattr_t ca;
    int i;

    fo->ctx = ctx;
    atomic_init(&fo->stop, 0);
    atomic_init(&fo->workers_running, 0);
    pthread_mutex_init(&fo->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fo->work_cv, &ca);
    pthread_cond_init(&fo->room_cv, &ca);
    pthread_cond_init(&fo->wake_cv, &ca);
    pthread_condattr_destroy(&ca);
    topics[0] = ctx->topic_requests;
    memset(&o, 0, sizeof(o));
    o.group_id = ctx->cfg.fanout_group;
    o.topics = topics;
    o.ntopics = 1;
    o.max_inflight = ctx->cfg.fanout_max_requests;
    fo->c = hd_kconsumer_new(&ctx->kafka_cfg, &o, err);
    if (fo->c == NULL)
        goto fail;
    fo->workers =
        hd_xcalloc((size_t)ctx->cfg.fanout_workers, sizeof(*fo->workers));
    for (i = 0; i < ctx->cfg.fanout_workers; i++) {
        atomic_fetch_add(&fo->workers_running, 1);
        if (pthread_create(&fo->workers[i], NULL, worker_main, fo) != 0) {
            atomic_fetch_sub(&fo->workers_running, 1);
            hd_err_set(err, HD_EIO, "cannot start fan-out workers");
            goto fail_threads;
        }
        fo->nworkers++;
    }
    if (pthread_create(&fo->consumer, NULL, consumer_main, fo) != 0) {
        hd_err_set(err, HD_EIO, "cannot start the fan-out consumer");
        goto fail_threads;
    }
    hd_log(HD_LOG_INFO, 0,
           "fan-out: consuming %s as group %s with %d "
           "workers",
           ctx->topic_requests, ctx->cfg.fanout_group, fo->nworkers);
    return fo;

fail_threads:
    atomic_store(&fo->stop, 1);
    pthread_mutex_lock(&fo->mu);
    pthread_cond_broadcast(&fo->work_cv);
    pthread_mutex_unlock(&fo->mu);
    for (i = 0; i < fo->nworkers; i++)
        pthread_join(fo->workers[i], NULL);
    hd_kconsumer_close(fo->c);
fail:
    free(fo->workers);
    pthread_cond_destroy(&fo->work_cv);
    pthread_cond_destroy(&fo->room_cv);
    pthread_cond_destroy(&fo->wake_cv);
    pthread_mutex_destroy(&fo->mu);
    free(fo);
    return NULL;
}

void
api_fanout_stop(struct api_fanout *fo)
{
    int i;

    if (fo == NULL)
        return;
    atomic_store(&fo->stop, 1);
    pthread_mutex_lock(&fo->mu);
    pthread_cond_broadcast(&fo->work_cv);
    pthread_cond_broadcast(&fo->room_cv);
    pthread_cond_broadcast(&fo->wake_cv);
    pthread_mutex_unlock(&fo->mu);
    for (i = 0; i < fo->nworkers; i++)
        pthread_join(fo->workers[i], NULL);
    pthread_join(fo->consumer, NULL);
    fo->nworkers = 0;
}

void
api_fanout_free(struct api_fanout *fo)
{
    struct fo_batch *b;
    struct fo_req *req, *d;
    size_t i;

    if (fo == NULL)
        return;
    /* Late delivery reports (after the drain deadline) only ever moved
     * batches to the retry list and requests to the finished list; every
     * request is still in the table. */
    while ((b = fo->retry) != NULL) {
        fo->retry = b->next;
        fo_batch_free(b);
    }
    for (i = 0; i < FO_BUCKETS; i++) {
        while ((req = fo->table[i]) != NULL) {
            fo->table[i] = req->hnext;
            while ((d = req->dups) != NULL) {
                req->dups = d->next;
                req_free(d);
            }
            req_free(req);
        }
    }
    free(fo->workers);
    pthread_cond_destroy(&fo->work_cv);
    pthread_cond_destroy(&fo->room_cv);
    pthread_cond_destroy(&fo->wake_cv);
    pthread_mutex_destroy(&fo->mu);
    free(fo);
}
