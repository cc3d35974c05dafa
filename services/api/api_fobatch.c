/* api_fobatch.c -- the fan-out's delivery batches in flight: produced
 * under the HERALD_API_FANOUT_MAX_BATCHES ceiling, acknowledged on the
 * producer's thread, re-sent with backoff when Kafka did not take them.
 *
 * A batch keeps its bytes until acknowledged (a retry sends exactly what
 * was built) and holds one reference on its request, which completes only
 * after its last batch. A batch is given up only when its request expired
 * or the stage stops (the request then stays uncommitted). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api_fanout.h"
#include "core/banned.h"

#define RETRY_BASE_MS 500
#define RETRY_CAP_MS 10000

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

void
fo_batch_free(struct fo_batch *b)
{
    free(b->key);
    free(b->value);
    free(b);
}

void
fo_req_unref(struct fo_req *req)
{
    struct api_fanout *fo = req->fo;

    if (atomic_fetch_sub(&req->pending, 1) != 1)
        return;
    pthread_mutex_lock(&fo->mu);
    req->next = fo->finished;
    fo->finished = req;
    pthread_cond_signal(&fo->wake_cv);
    pthread_mutex_unlock(&fo->mu);
}

/* A batch is over (acknowledged, or given up): free its slot. */
static void
batch_over(struct fo_batch *b)
{
    struct api_fanout *fo = b->req->fo;
    struct fo_req *req = b->req;

    fo_batch_free(b);
    pthread_mutex_lock(&fo->mu);
    fo->batches_inflight--;
    pthread_cond_signal(&fo->room_cv);
    pthread_mutex_unlock(&fo->mu);
    fo_req_unref(req);
}

static void batch_acked(void *opaque, int ok, const char *errstr);

static int
batch_send(struct api_fanout *fo, struct fo_batch *b, struct hd_err *err)
{
    return hd_kproducer_send(fo->ctx->producer,
                             fo->ctx->topic_deliver[b->provider], b->key,
                             b->keylen, b->value, b->len, batch_acked, b, err);
}

static void
batch_failed(struct fo_batch *b, const char *why)
{
    const struct hd_backoff bo = {RETRY_BASE_MS, RETRY_CAP_MS};
    struct api_fanout *fo = b->req->fo;

    hd_log(HD_LOG_WARN, 0,
           "fan-out %s: batch to %s not acknowledged (try %u, "
           "retried): %s",
           b->req->r.uid, hd_provider_name(b->provider), b->tries + 1, why);
    b->retry_at_ms =
        hd_now_mono_ms() + hd_backoff_delay(&bo, b->tries++, &hd_rand_system);
    pthread_mutex_lock(&fo->mu);
    b->next = fo->retry;
    fo->retry = b;
    pthread_cond_signal(&fo->wake_cv);
    pthread_mutex_unlock(&fo->mu);
}

/* Delivery report, on the producer's thread. */
static void
batch_acked(void *opaque, int ok, const char *errstr)
{
    struct fo_batch *b = opaque;
    struct api_ctx *ctx = b->req->fo->ctx;

    if (!ok) {
        batch_failed(b, errstr);
        return;
    }
    hd_counter_add(
        hd_metric_with(ctx->m.fo_tokens, hd_provider_name(b->provider)),
        b->ntokens);
    hd_counter_inc(
        hd_metric_with(ctx->m.fo_batches, hd_provider_name(b->provider)));
    atomic_fetch_add(&b->req->tokens, (long)b->ntokens);
    atomic_fetch_add(&b->req->batches, 1);
    batch_over(b);
}

int
fo_produce(struct api_fanout *fo, struct fo_req *req, enum hd_provider p,
           size_t ntokens, size_t seq, char *value, size_t len)
{
    struct hd_err err = {0};
    struct fo_batch *b;

    pthread_mutex_lock(&fo->mu);
    while (!stopping(fo) &&
           fo->batches_inflight >= fo->ctx->cfg.fanout_max_batches)
        timed_wait(&fo->room_cv, &fo->mu, 100);
    if (stopping(fo)) {
        pthread_mutex_unlock(&fo->mu);
        free(value);
        return -1;
    }
    fo->batches_inflight++;
    pthread_mutex_unlock(&fo->mu);

    b = hd_xcalloc(1, sizeof(*b));
    b->req = req;
    b->provider = p;
    b->ntokens = ntokens;
    b->key = hd_xasprintf("%s:%zu", req->rid, seq);
    b->keylen = strlen(b->key);
    b->value = value;
    b->len = len;
    atomic_fetch_add(&req->pending, 1);
    if (batch_send(fo, b, &err) < 0)
        batch_failed(b, err.msg);
    return 0;
}

/* Consumer thread: re-sends failed batches whose time has come; gives
 * them up when stopping or when their request expired. */
void
fo_run_retries(struct api_fanout *fo)
{
    struct fo_batch *list, *b, *keep = NULL;
    uint64_t now = hd_now_mono_ms();
    struct hd_err err = {0};

    pthread_mutex_lock(&fo->mu);
    list = fo->retry;
    fo->retry = NULL;
    pthread_mutex_unlock(&fo->mu);
    while ((b = list) != NULL) {
        const struct hd_msg_request *r = &b->req->r;

        list = b->next;
        if (stopping(fo)) {
            atomic_fetch_or(&b->req->flags, FO_F_ABANDONED);
            batch_over(b);
        } else if (r->expire_at_ms > 0 && hd_now_wall_ms() >= r->expire_at_ms) {
            atomic_fetch_or(&b->req->flags, FO_F_EXPIRED);
            batch_over(b);
        } else if (b->retry_at_ms > now) {
            b->next = keep;
            keep = b;
        } else if (batch_send(fo, b, &err) < 0) {
            batch_failed(b, err.msg);
        }
    }
    if (keep != NULL) {
        pthread_mutex_lock(&fo->mu);
        while ((b = keep) != NULL) {
            keep = b->next;
            b->next = fo->retry;
            fo->retry = b;
        }
        pthread_mutex_unlock(&fo->mu);
    }
}

void
fo_nap(struct api_fanout *fo, uint64_t ms)
{
    uint64_t until = hd_now_mono_ms() + ms;

    while (!atomic_load(&fo->stop) && hd_now_mono_ms() < until) {
        struct timespec ts = {0, 20 * 1000000L};

        nanosleep(&ts, NULL);
    }
}
