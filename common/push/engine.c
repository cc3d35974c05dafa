/* engine.c -- the push engine's public face and the engine thread's turn:
 * the inbox fed by other threads, batches held until not_before (a
 * min-heap), batches made ready for requests, produce retries, and the
 * waits. Requests are send.c's, what happens to each target settle.c's,
 * and the decisions outcome.c's.
 *
 * Everything here runs on the engine thread except offer(), wake() and
 * drain(). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "push/engine.h"
#include "push/send.h"
#include "push/settle.h"
#include "core/banned.h"

#define AUTH_POLL_MS 200 /* re-check a credential that is not ready */

/* ---- metrics ------------------------------------------------------------ */

static void
metrics_init(struct hd_pushengine *e)
{
    static const char *const l_sent[] = {"provider", "recipient_type",
                                         "platform", "success", "err_code"};
    static const char *const l_queue[] = {"provider", "queue"};
    static const char *const l_rt[] = {"provider", "recipient_type"};
    static const char *const l_code[] = {"provider", "err_code"};
    static const char *const l_p[] = {"provider"};
    struct pe_metrics *m = &e->m;
    struct hd_metrics *r = e->deps.metrics;
    const char *name = e->p->name;
    struct hd_metric *f;
    int i;

    m->sent = hd_metrics_counter(
        r, "herald_push_notifications_total",
        "Final push outcomes per device (or topic/condition send)", 5, l_sent);
    m->duration = hd_metrics_histogram(
        r, "herald_push_job_duration_seconds",
        "Time from a batch becoming due to its last outcome", 2, l_rt,
        hd_metrics_latency_buckets, hd_metrics_latency_nbuckets);
    for (i = 0; i < 3; i++) {
        const char *rt = hd_rcpt_type_name((enum hd_rcpt_type)i);

        m->ok[i] =
            hd_metric_with(m->sent, name, rt, e->p->platform, "true", "");
        m->dur[i] = hd_metric_with(m->duration, name, rt);
    }
    f = hd_metrics_gauge(r, "herald_push_queue_consuming_lag_seconds",
                         "Age of the last batch when the worker took it", 2,
                         l_queue);
    m->lag = hd_metric_with(f, name, e->deps.queue);
    f = hd_metrics_gauge(r, "herald_push_consuming_inflight_jobs",
                         "Batches held by the worker and not yet finished", 2,
                         l_queue);
    m->inflight_jobs = hd_metric_with(f, name, e->deps.queue);
    m->retries =
        hd_metrics_counter(r, "herald_push_retries_total",
                           "Targets scheduled for another attempt", 2, l_code);
    f = hd_metrics_gauge(r, "herald_push_requests_inflight",
                         "Provider HTTP requests in flight", 1, l_p);
    m->requests = hd_metric_with(f, name);
    f = hd_metrics_gauge(r, "herald_push_config_error",
                         "1 while sends are paused by a configuration error "
                         "(alert on it)",
                         1, l_p);
    m->paused = hd_metric_with(f, name);
    f = hd_metrics_gauge(r, "herald_push_breaker_open",
                         "1 while token removal is suspended: most tokens "
                         "look invalid, suspect the environment or app id",
                         1, l_p);
    m->breaker = hd_metric_with(f, name);
    f = hd_metrics_counter(r, "herald_push_dead_letters_total",
                           "Targets dead-lettered after the last attempt", 1,
                           l_p);
    m->dead = hd_metric_with(f, name);
    f = hd_metrics_counter(r, "herald_push_handed_back_total",
                           "Targets handed back untried at shutdown", 1, l_p);
    m->handback = hd_metric_with(f, name);
}

/* ---- held batches: a min-heap on not_before --------------------------- */

static int
heap_less(const struct pe_batch *a, const struct pe_batch *b)
{
    return a->d.not_before_ms < b->d.not_before_ms;
}

static void
heap_swap(struct hd_pushengine *e, size_t i, size_t j)
{
    struct pe_batch *t = e->heap[i];

    e->heap[i] = e->heap[j];
    e->heap[j] = t;
    e->heap[i]->heap_i = i;
    e->heap[j]->heap_i = j;
}

static void
heap_push(struct hd_pushengine *e, struct pe_batch *b)
{
    size_t i;

    if (e->nheap == e->heapcap) {
        e->heapcap = e->heapcap ? e->heapcap * 2 : 64;
        e->heap = hd_xrealloc(e->heap, e->heapcap * sizeof(*e->heap));
    }
    i = e->nheap++;
    e->heap[i] = b;
    b->heap_i = i;
    while (i > 0 && heap_less(e->heap[i], e->heap[(i - 1) / 2])) {
        heap_swap(e, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct pe_batch *
heap_pop(struct hd_pushengine *e)
{
    struct pe_batch *top = e->heap[0];
    size_t i = 0;

    e->heap[0] = e->heap[--e->nheap];
    e->heap[0]->heap_i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < e->nheap && heap_less(e->heap[l], e->heap[m]))
            m = l;
        if (r < e->nheap && heap_less(e->heap[r], e->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(e, i, m);
        i = m;
    }
    return top;
}

/* ---- batches ----------------------------------------------------------- */

/* not_before has come: prepare the batch and queue it for requests. */
static void
make_ready(struct hd_pushengine *e, struct pe_batch *b, int64_t now)
{
    struct hd_err err = {0};
    int64_t ref = b->ts_ms > 0 ? b->ts_ms : b->d.created_ms;
    size_t t;

    if (b->d.not_before_ms > ref)
        ref = b->d.not_before_ms;
    if (ref > 0 && now > ref)
        hd_gauge_set(e->m.lag, (double)(now - ref) / 1000.0);
    if (e->p->prepare(e->deps.pst, &b->d, &b->bctx, &err) < 0) {
        hd_log(HD_LOG_WARN, 0, "uid %s: not sendable, reported failed: %s",
               b->d.uid, err.msg);
        for (t = 0; t < b->ntargets; t++)
            pe_final(e, b, t, HD_OUTCOME_FAILED, "bad_request", 0);
        b->next = b->ntargets;
        pe_maybe_finalize(e, b);
        return;
    }
    b->prepared = 1;
    b->start_mono = hd_clock_mono_ms(e->clock);
    if (e->ready_tail)
        e->ready_tail->next_ready = b;
    else
        e->ready_head = b;
    e->ready_tail = b;
}

static void
admit(struct hd_pushengine *e, struct pe_batch *b, int64_t now)
{
    if (!b->decoded) {
        pe_dead_letter_raw(e, b);
        return;
    }
    if (pe_expired(b->d.expire_at_ms, now)) {
        pe_expire_range(e, b, 0, b->ntargets);
        b->next = b->ntargets;
        pe_maybe_finalize(e, b);
        return;
    }
    if (b->d.not_before_ms > now) {
        heap_push(e, b);
        return;
    }
    make_ready(e, b, now);
}

/* Takes what other threads queued. New batches are admitted unless the
 * engine is draining (they then stay undone and are delivered again). */
static void
take_inbox(struct hd_pushengine *e, int admit_new)
{
    struct pe_batch *in, *done, *b;
    struct pe_rec *failed, *r;
    int64_t now;

    pthread_mutex_lock(&e->lock);
    in = e->in_head;
    done = e->in_done;
    failed = e->in_failed;
    e->in_head = e->in_tail = NULL;
    e->in_done = NULL;
    e->in_failed = NULL;
    pthread_mutex_unlock(&e->lock);
    now = hd_clock_wall_ms(e->clock);
    while (in != NULL) {
        b = in;
        in = b->next_in;
        b->next_in = NULL;
        b->next_all = e->all;
        if (e->all)
            e->all->prev_all = b;
        e->all = b;
        e->nbatches++;
        hd_gauge_set(e->m.inflight_jobs, (double)e->nbatches);
        if (admit_new)
            admit(e, b, now);
    }
    while (done != NULL) {
        b = done;
        done = b->next_in;
        pe_batch_done(e, b);
    }
    while (failed != NULL) {
        r = failed;
        failed = r->next;
        r->retry_at = now + 1000;
        r->next = e->retry_recs;
        e->retry_recs = r;
    }
}

/* ---- public API ---------------------------------------------------------- */

struct hd_pushengine *
hd_pushengine_new(const struct hd_pushworker_config *cfg,
                  const struct hd_pushengine_deps *deps, struct hd_err *err)
{
    struct hd_pushengine *e;
    const struct hd_push_provider *p = deps->p;
    long conns, streams;

    if (p == NULL || deps->transport.submit == NULL ||
        deps->transport.run == NULL || deps->sink.send == NULL ||
        deps->done == NULL || deps->metrics == NULL) {
        hd_err_set(err, HD_EINVAL, "push engine: missing dependencies");
        return NULL;
    }
    if (cfg->max_attempts < 1 || p->tokens_per_request < 1) {
        hd_err_set(err, HD_EINVAL,
                   "push engine: max attempts and tokens per "
                   "request must be at least 1");
        return NULL;
    }
    e = hd_xcalloc(1, sizeof(*e));
    e->cfg = *cfg;
    e->deps = *deps;
    e->p = p;
    e->clock = deps->clock ? deps->clock : &hd_clock_system;
    e->rnd = deps->rnd ? deps->rnd : &hd_rand_system;
    e->backoff.base_ms = (uint64_t)cfg->backoff_base_ms;
    e->backoff.cap_ms = (uint64_t)cfg->backoff_cap_ms;
    if (e->cfg.pause_base_ms <= 0)
        e->cfg.pause_base_ms = 5000;
    if (e->cfg.pause_max_ms < e->cfg.pause_base_ms)
        e->cfg.pause_max_ms = e->cfg.pause_base_ms;
    conns = cfg->connections > 0 ? cfg->connections : p->default_connections;
    streams = cfg->streams > 0 ? cfg->streams : p->default_streams;
    e->max_requests =
        (size_t)(conns > 0 ? conns : 1) * (size_t)(streams > 0 ? streams : 1);
    pthread_mutex_init(&e->lock, NULL);
    e->res = hd_xcalloc(p->tokens_per_request, sizeof(*e->res));
    hd_buf_init(&e->enc, HD_KAFKA_MAX_MESSAGE);
    metrics_init(e);
    return e;
}

static void
free_recs(struct pe_rec *r)
{
    while (r != NULL) {
        struct pe_rec *next = r->next;

        free(r->key);
        free(r->value);
        free(r);
        r = next;
    }
}

void
hd_pushengine_free(struct hd_pushengine *e)
{
    struct pe_batch *b;

    if (e == NULL)
        return;
    e->freeing = 1;
    pe_jobs_free(e);
    free_recs(e->retry_recs);
    free_recs(e->in_failed);
    /* batches on the done list are still on the all list */
    while ((b = e->in_head) != NULL) {
        e->in_head = b->next_in;
        pe_batch_free(e, b);
    }
    while ((b = e->all) != NULL)
        pe_batch_free(e, b);
    free(e->heap);
    free(e->res);
    hd_buf_release(&e->enc);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

void
hd_pushengine_offer(struct hd_pushengine *e, int32_t partition, int64_t offset,
                    const void *value, size_t len, int64_t ts_ms)
{
    struct pe_batch *b = hd_xcalloc(1, sizeof(*b));
    struct hd_err err = {0};

    b->partition = partition;
    b->offset = offset;
    b->ts_ms = ts_ms;
    atomic_init(&b->refs, 1);
    if (hd_msg_delivery_decode(value, len, &b->d, &err) < 0) {
        snprintf(b->reason, sizeof(b->reason), "undecodable delivery: %s",
                 err.msg);
    } else if (b->d.provider != e->p->id) {
        snprintf(b->reason, sizeof(b->reason), "a %s delivery on the %s topic",
                 hd_provider_name(b->d.provider), e->p->name);
        hd_msg_delivery_release(&b->d);
    } else {
        b->decoded = 1;
        b->ntargets = b->d.rtype == HD_RT_DEVICE ? b->d.ntokens : 1;
        b->state = hd_xcalloc(b->ntargets, 1);
        b->unresolved = b->ntargets;
    }
    if (!b->decoded) {
        b->raw = hd_xmemdup(value, len);
        b->rawlen = len;
    }
    pthread_mutex_lock(&e->lock);
    if (e->in_tail)
        e->in_tail->next_in = b;
    else
        e->in_head = b;
    e->in_tail = b;
    pthread_mutex_unlock(&e->lock);
    hd_pushengine_wake(e);
}

void
hd_pushengine_wake(struct hd_pushengine *e)
{
    pe_wake(e);
}

void
hd_pushengine_drain(struct hd_pushengine *e)
{
    atomic_store(&e->draining, 1);
    hd_pushengine_wake(e);
}

static int
clamp_wait(int64_t wait, int64_t d)
{
    if (d < 0)
        d = 0;
    return (int)(wait < 0 || d < wait ? d : wait);
}

int
hd_pushengine_step(struct hd_pushengine *e, int max_wait_ms, struct hd_err *err)
{
    int draining = atomic_load(&e->draining);
    struct pe_rec *r, **pp;
    int64_t now;
    int wait = max_wait_ms;
    int pending;

    take_inbox(e, !draining);
    if (draining && !e->handed_back)
        pe_hand_back(e);
    now = hd_clock_wall_ms(e->clock);
    while (!draining && e->nheap > 0 && e->heap[0]->d.not_before_ms <= now)
        admit(e, heap_pop(e), now);
    for (pp = &e->retry_recs; (r = *pp) != NULL;) {
        if (r->retry_at <= now) {
            *pp = r->next;
            pe_resend(e, r);
        } else {
            wait = clamp_wait(wait, r->retry_at - now);
            pp = &r->next;
        }
    }
    pe_pump(e);
    if (!draining && e->nheap > 0)
        wait = clamp_wait(wait, e->heap[0]->d.not_before_ms - now);
    pending = !draining && (e->ready_head != NULL || e->resend_head != NULL);
    if (pending && e->pause_ms > 0 && !e->probing)
        wait = clamp_wait(wait, e->paused_until - now);
    if (pending && e->auth_wait)
        wait = clamp_wait(wait, AUTH_POLL_MS);
    pthread_mutex_lock(&e->lock);
    if (e->in_head || e->in_done || e->in_failed)
        wait = 0;
    pthread_mutex_unlock(&e->lock);
    if (e->deps.transport.run(e->deps.transport.ud, wait, err) < 0)
        return -1;
    return 0;
}

int
hd_pushengine_drained(struct hd_pushengine *e)
{
    int empty;

    if (!atomic_load(&e->draining) || !e->handed_back || e->nrequests > 0 ||
        atomic_load(&e->nrecords) > 0)
        return 0;
    pthread_mutex_lock(&e->lock);
    empty = e->in_done == NULL && e->in_failed == NULL;
    pthread_mutex_unlock(&e->lock);
    return empty;
}

void
hd_pushengine_collect(struct hd_pushengine *e)
{
    /* failed records land on the retry list and are never resent now:
     * their batches stay undone and are delivered again */
    take_inbox(e, 0);
}

void
hd_pushengine_stats(struct hd_pushengine *e, struct hd_pushengine_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->batches = e->nbatches;
    st->held = (long)e->nheap;
    st->requests = e->nrequests;
    st->records = atomic_load(&e->nrecords);
    st->done = e->ndone;
    st->paused = e->pause_ms > 0;
    st->breaker_open = e->breaker_open;
}
