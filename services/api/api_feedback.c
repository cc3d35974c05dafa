/* api_feedback.c -- the feedback consumer (group herald-feedback): every
 * outcome lands in push_status; token_invalid removes the device unless
 * the circuit breaker holds (api_breaker.h); sent refreshes last_seen_at.
 *
 * Outcomes are stored in batches (HERALD_API_FEEDBACK_BATCH records or
 * FB_LINGER_MS) as three statements over arrays; offsets are done only
 * after the batch is stored, and a failed batch is retried whole (every
 * statement is idempotent). One thread owns consumer, batch and breaker. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api.h"
#include "services/api/api_breaker.h"
#include "services/api/api_store.h"
#include "core/banned.h"

#define POLL_MS 100
#define FB_LINGER_MS 50
#define RETRY_BASE_MS 200
#define RETRY_CAP_MS 5000

struct fb_item {
    struct hd_msg_feedback f;
    int32_t partition;
    int64_t offset;
};

struct api_feedback {
    struct api_ctx *ctx;
    struct hd_kconsumer *c;
    pthread_t tid;
    atomic_int stop;
    pthread_mutex_t mu; /* guards c against dlq_done */
    struct api_breaker *breaker;
    struct fb_item *items; /* the batch */
    size_t n;
    size_t cap;
};

static int
stopping(struct api_feedback *fb)
{
    return atomic_load(&fb->stop);
}

/* push_status target of an outcome without a device: the raw token's
 * digest (tokens may be too long for an index key), or the topic. */
static void
target_of(const struct hd_msg_feedback *f, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[32];
    unsigned int dl = sizeof(d);
    char buf[64];
    EVP_MD_CTX *md;
    int i;

    if (f->device != NULL) {
        snprintf(out, outlen, "%s", f->device);
        return;
    }
    if (f->token == NULL) {
        snprintf(out, outlen, "topic:%s", hd_provider_name(f->provider));
        return;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, hd_provider_name(f->provider),
                         strlen(hd_provider_name(f->provider))) != 1 ||
        EVP_DigestUpdate(md, ":", 1) != 1 ||
        EVP_DigestUpdate(md, f->token, strlen(f->token)) != 1 ||
        EVP_DigestFinal_ex(md, d, &dl) != 1)
        memset(d, 0, sizeof(d));
    EVP_MD_CTX_free(md);
    for (i = 0; i < 16; i++) {
        buf[2 * i] = hex[d[i] >> 4];
        buf[2 * i + 1] = hex[d[i] & 15];
    }
    buf[32] = '\0';
    snprintf(out, outlen, "token:%s", buf);
}

static void
batch_clear(struct api_feedback *fb)
{
    size_t i;

    for (i = 0; i < fb->n; i++)
        hd_msg_feedback_release(&fb->items[i].f);
    fb->n = 0;
}

/* Removals allowed by the breaker, as (device, token) arrays. Counts
 * and logs the devices kept while it is open. */
static size_t
removals(struct api_feedback *fb, struct hd_buf *ids, struct hd_buf *toks,
         int64_t now)
{
    struct api_ctx *ctx = fb->ctx;
    size_t i, n = 0;

    hd_pg_array_begin(ids);
    hd_pg_array_begin(toks);
    for (i = 0; i < fb->n; i++) {
        const struct hd_msg_feedback *f = &fb->items[i].f;
        int changed = 0;
        int open;

        if (f->outcome != HD_OUTCOME_TOKEN_INVALID || f->device == NULL ||
            f->token == NULL)
            continue;
        open =
            api_breaker_open(fb->breaker, f->app, f->provider, now, &changed);
        if (changed) {
            /* a count per provider: an app id (a relay installation's
             * among them) is never a label, the log line names it */
            hd_gauge_add(hd_metric_with(ctx->m.breaker_open,
                                        hd_provider_name(f->provider)),
                         open ? 1.0 : -1.0);
            if (open)
                hd_log(HD_LOG_ERROR, 0,
                       "token cleanup suspended for app %s provider %s: "
                       "recent sends all failed as token-invalid with no "
                       "success (wrong environment, project or app id?); "
                       "devices are kept",
                       f->app, hd_provider_name(f->provider));
            else
                hd_log(HD_LOG_WARN, 0,
                       "token cleanup resumed for app %s provider %s", f->app,
                       hd_provider_name(f->provider));
        }
        if (open) {
            hd_counter_inc(hd_metric_with(ctx->m.breaker_kept,
                                          hd_provider_name(f->provider)));
            continue;
        }
        hd_pg_array_add(ids, f->device, NULL);
        hd_pg_array_add(toks, f->token, NULL);
        n++;
    }
    hd_pg_array_end(ids, NULL);
    hd_pg_array_end(toks, NULL);
    return n;
}

/* Stores the batch: statuses, removals, last-seen. 0 or -1 with err. */
static int
store(struct api_feedback *fb, struct hd_err *err)
{
    struct api_ctx *ctx = fb->ctx;
    struct hd_buf a[8], ids, toks, seen;
    int64_t now = hd_now_wall_ms();
    const char *vals[8];
    PGresult *res = NULL;
    size_t i, nrm, nseen = 0;
    char target[HD_ID_MAX + 48];
    int rc = -1, k;

    for (k = 0; k < 8; k++) {
        hd_buf_init(&a[k], API_PG_ARRAY_MAX);
        hd_pg_array_begin(&a[k]);
    }
    hd_buf_init(&ids, API_PG_ARRAY_MAX);
    hd_buf_init(&toks, API_PG_ARRAY_MAX);
    hd_buf_init(&seen, API_PG_ARRAY_MAX);
    hd_pg_array_begin(&seen);
    for (i = 0; i < fb->n; i++) {
        const struct hd_msg_feedback *f = &fb->items[i].f;

        target_of(f, target, sizeof(target));
        hd_pg_array_add(&a[0], f->app, NULL);
        hd_pg_array_add(&a[1], f->uid, NULL);
        hd_pg_array_add(&a[2], target, NULL);
        hd_pg_array_add(&a[3], f->device, NULL);
        hd_pg_array_add(&a[4], hd_provider_name(f->provider), NULL);
        hd_pg_array_add(&a[5], f->device ? NULL : f->token, NULL);
        hd_pg_array_add(&a[6], hd_outcome_name(f->outcome), NULL);
        hd_pg_array_add(&a[7], f->code && *f->code ? f->code : NULL, NULL);
        if (f->outcome == HD_OUTCOME_SENT && f->device) {
            hd_pg_array_add(&seen, f->device, NULL);
            nseen++;
        }
    }
    for (k = 0; k < 8; k++) {
        hd_pg_array_end(&a[k], NULL);
        vals[k] = a[k].data;
    }
    hd_pg_array_end(&seen, NULL);
    nrm = removals(fb, &ids, &toks, now);
    if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, "fb_status", 8, vals, NULL,
                  err) < 0)
        goto out;
    if (nrm > 0) {
        vals[0] = ids.data;
        vals[1] = toks.data;
        if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, "fb_remove", 2, vals, &res,
                      err) < 0)
            goto out;
        for (k = 0; k < PQntuples(res); k++)
            hd_counter_inc(hd_metric_with(ctx->m.removed, api_pg_get(res, k, 1),
                                          "token_invalid"));
        if (PQntuples(res) > 0)
            hd_log(HD_LOG_INFO, 0, "removed %d devices with invalid tokens",
                   PQntuples(res));
    }
    if (nseen > 0) {
        vals[0] = seen.data;
        if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, "fb_seen", 1, vals, NULL,
                      err) < 0)
            goto out;
    }
    rc = 0;
out:
    PQclear(res);
    for (k = 0; k < 8; k++)
        hd_buf_release(&a[k]);
    hd_buf_release(&ids);
    hd_buf_release(&toks);
    hd_buf_release(&seen);
    return rc;
}

/* Stores the batch (retrying until it works or we stop), then marks its
 * offsets done. Stopping with the batch unstored leaves it uncommitted. */
static void
flush(struct api_feedback *fb)
{
    const struct hd_backoff bo = {RETRY_BASE_MS, RETRY_CAP_MS};
    struct hd_err err = {0};
    unsigned fails = 0;
    size_t i;

    if (fb->n == 0)
        return;
    while (store(fb, &err) < 0) {
        uint64_t until;

        hd_log(HD_LOG_WARN, 0, "storing %zu outcomes (retried): %s", fb->n,
               err.msg);
        until =
            hd_now_mono_ms() + hd_backoff_delay(&bo, fails++, &hd_rand_system);
        while (!stopping(fb) && hd_now_mono_ms() < until) {
            struct timespec ts = {0, 20 * 1000000L};

            nanosleep(&ts, NULL);
        }
        if (stopping(fb)) {
            batch_clear(fb);
            return;
        }
    }
    for (i = 0; i < fb->n; i++) {
        const struct fb_item *it = &fb->items[i];

        hd_counter_inc(hd_metric_with(fb->ctx->m.feedback,
                                      hd_provider_name(it->f.provider),
                                      hd_outcome_name(it->f.outcome)));
        hd_kconsumer_done(fb->c, fb->ctx->topic_feedback, it->partition,
                          it->offset);
    }
    batch_clear(fb);
}

static void
dlq_done(void *ud, int32_t partition, int64_t offset)
{
    struct api_feedback *fb = ud;

    pthread_mutex_lock(&fb->mu);
    if (fb->c != NULL)
        hd_kconsumer_done(fb->c, fb->ctx->topic_feedback, partition, offset);
    pthread_mutex_unlock(&fb->mu);
}

static void
take(struct api_feedback *fb, const struct hd_kmsg *msg)
{
    struct fb_item *it;
    struct hd_err err = {0};

    if (fb->n == fb->cap) {
        fb->cap = fb->cap ? fb->cap * 2 : 64;
        fb->items = hd_xrealloc(fb->items, fb->cap * sizeof(*fb->items));
    }
    it = &fb->items[fb->n];
    if (hd_msg_feedback_decode(msg->value, msg->len, &it->f, &err) < 0) {
        hd_log(HD_LOG_WARN, 0, "malformed feedback at %s/%d/%lld: %s",
               msg->topic, (int)msg->partition, (long long)msg->offset,
               err.msg);
        if (api_dead_letter(fb->ctx, msg, err.msg, dlq_done, fb, &err) < 0)
            hd_log(HD_LOG_ERROR, 0, "dead-lettering: %s", err.msg);
        return;
    }
    if (msg->timestamp_ms > 0)
        hd_gauge_set(fb->ctx->m.fb_lag,
                     (double)(hd_now_wall_ms() - msg->timestamp_ms) / 1e3);
    it->partition = msg->partition;
    it->offset = msg->offset;
    api_breaker_record(fb->breaker, it->f.app, it->f.provider, it->f.outcome,
                       hd_now_wall_ms());
    fb->n++;
}

static void *
consume(void *arg)
{
    struct api_feedback *fb = arg;
    size_t max = (size_t)fb->ctx->cfg.feedback_batch;
    struct hd_err err = {0};
    struct hd_kconsumer *c;
    uint64_t first = 0;
    struct hd_kmsg msg;
    int rc;

    hd_log_ctx_set("thread", "feedback");
    while (!stopping(fb)) {
        rc = hd_kconsumer_poll(fb->c, fb->n ? 0 : POLL_MS, &msg, &err);
        if (rc < 0)
            hd_log(HD_LOG_ERROR, 0, "consuming %s: %s", fb->ctx->topic_feedback,
                   err.msg);
        if (rc == 1) {
            if (fb->n == 0)
                first = hd_now_mono_ms();
            take(fb, &msg);
            hd_kmsg_release(&msg);
        }
        hd_gauge_set(fb->ctx->m.fb_inflight, (double)fb->n);
        if (fb->n >= max ||
            (fb->n > 0 &&
             (rc != 1 || hd_now_mono_ms() - first >= FB_LINGER_MS)))
            flush(fb);
    }
    flush(fb); /* stopping: a failure leaves it uncommitted */
    pthread_mutex_lock(&fb->mu);
    c = fb->c;
    fb->c = NULL;
    pthread_mutex_unlock(&fb->mu);
    hd_kconsumer_close(c);
    hd_log_ctx_clear();
    return NULL;
}

struct api_feedback *
api_feedback_start(struct api_ctx *ctx, struct hd_err *err)
{
    struct api_feedback *fb = hd_xcalloc(1, sizeof(*fb));
    struct api_breaker_cfg bc;
    struct hd_kconsumer_opts o;
    const char *topics[1];

    fb->ctx = ctx;
    atomic_init(&fb->stop, 0);
    pthread_mutex_init(&fb->mu, NULL);
    bc.window_s = ctx->cfg.breaker_window_s;
    bc.min_sends = ctx->cfg.breaker_min_sends;
    bc.ratio_pct = ctx->cfg.breaker_ratio_pct;
    fb->breaker = api_breaker_new(&bc);
    topics[0] = ctx->topic_feedback;
    memset(&o, 0, sizeof(o));
    o.group_id = ctx->cfg.feedback_group;
    o.topics = topics;
    o.ntopics = 1;
    o.max_inflight = 4L * ctx->cfg.feedback_batch;
    fb->c = hd_kconsumer_new(&ctx->kafka_cfg, &o, err);
    if (fb->c == NULL)
        goto fail;
    if (pthread_create(&fb->tid, NULL, consume, fb) != 0) {
        hd_err_set(err, HD_EIO, "cannot start the feedback consumer");
        hd_kconsumer_close(fb->c);
        goto fail;
    }
    hd_log(HD_LOG_INFO, 0, "feedback: consuming %s as group %s",
           ctx->topic_feedback, ctx->cfg.feedback_group);
    return fb;
fail:
    api_breaker_free(fb->breaker);
    pthread_mutex_destroy(&fb->mu);
    free(fb);
    return NULL;
}

void
api_feedback_stop(struct api_feedback *fb)
{
    if (fb == NULL || atomic_exchange(&fb->stop, 1))
        return;
    pthread_join(fb->tid, NULL);
}

void
api_feedback_free(struct api_feedback *fb)
{
    if (fb == NULL)
        return;
    api_feedback_stop(fb);
    batch_clear(fb);
    free(fb->items);
    api_breaker_free(fb->breaker);
    pthread_mutex_destroy(&fb->mu);
    free(fb);
}
