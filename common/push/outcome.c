/* pushoutcome.c -- what the push engine does with each target's result:
 * one feedback record per final outcome, the re-queue, hand-back and
 * dead-letter records of a finished batch, their acknowledgements, the
 * token-removal circuit breaker, and the push metrics.
 *
 * Invariant: a batch holds one reference for the engine plus one per
 * produced record not yet acknowledged; the last reference to go calls
 * done(). Acknowledgements arrive on the producer's thread and only touch
 * the atomic count and the locked inbox. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "push/engine_private.h"
#include "core/banned.h"

#define RESEND_MS 1000

static const char *const action_names[] = {
    "sent", "retry", "token_invalid", "reauth", "config", "bad_request",
};

const char *
hd_push_action_name(enum hd_push_action a)
{
    if ((size_t)a >= sizeof(action_names) / sizeof(action_names[0]))
        return "unknown";
    return action_names[a];
}

/* ---- metrics ------------------------------------------------------------ */

void
pe_metrics_init(struct hd_pushengine *e)
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

static void
count_outcome(struct hd_pushengine *e, const struct pe_batch *b, int ok,
              const char *code)
{
    int rt = (int)b->d.rtype;

    if (ok) {
        hd_counter_inc(e->m.ok[rt]);
        return;
    }
    hd_counter_inc(hd_metric_with(e->m.sent, e->p->name,
                                  hd_rcpt_type_name(b->d.rtype), e->p->platform,
                                  "false", code));
}

/* ---- circuit breaker (specs/providers.md section 4.2) ----------------- */

static void
breaker_note(struct hd_pushengine *e, int ok, int bad)
{
    int64_t now = hd_clock_wall_ms(e->clock);
    int64_t slot = now / PE_BREAKER_BUCKET_MS;
    size_t i = (size_t)(slot % PE_BREAKER_BUCKETS);

    if (e->win[i].start != slot) {
        e->win[i].start = slot;
        e->win[i].ok = e->win[i].bad = e->win[i].total = 0;
    }
    e->win[i].ok += ok ? 1u : 0u;
    e->win[i].bad += bad ? 1u : 0u;
    e->win[i].total++;
}

int
pe_breaker_open(struct hd_pushengine *e)
{
    int64_t slot = hd_clock_wall_ms(e->clock) / PE_BREAKER_BUCKET_MS;
    unsigned ok = 0, bad = 0, total = 0;
    int open;
    size_t i;

    for (i = 0; i < PE_BREAKER_BUCKETS; i++) {
        if (slot - e->win[i].start >= PE_BREAKER_BUCKETS)
            continue;
        ok += e->win[i].ok;
        bad += e->win[i].bad;
        total += e->win[i].total;
    }
    open = total >= PE_BREAKER_MIN && bad * 2 >= total && ok == 0;
    if (open != e->breaker_open) {
        e->breaker_open = open;
        hd_gauge_set(e->m.breaker, open);
        if (open)
            hd_log(HD_LOG_ERROR, 0,
                   "%u of the last %u sends say the token is invalid and "
                   "none succeeded: not removing tokens (check the "
                   "environment, topic, project or app id)",
                   bad, total);
        else
            hd_log(HD_LOG_INFO, 0, "token removal resumed");
    }
    return open;
}

/* ---- produced records -----------------------------------------------------
 */

static void
on_ack(void *opaque, int ok, const char *errstr)
{
    struct pe_rec *rec = opaque;
    struct hd_pushengine *e = rec->e;
    struct pe_batch *b = rec->b;

    if (!ok) {
        hd_log(HD_LOG_WARN, 0, "produce failed, resending in %d ms: %s",
               RESEND_MS, errstr ? errstr : "?");
        pthread_mutex_lock(&e->lock);
        rec->next = e->in_failed;
        e->in_failed = rec;
        pthread_mutex_unlock(&e->lock);
        hd_pushengine_wake(e);
        return;
    }
    free(rec->key);
    free(rec->value);
    free(rec);
    atomic_fetch_sub(&e->nrecords, 1);
    if (atomic_fetch_sub(&b->refs, 1) == 1) {
        pthread_mutex_lock(&e->lock);
        b->next_in = e->in_done;
        e->in_done = b;
        pthread_mutex_unlock(&e->lock);
        hd_pushengine_wake(e);
    }
}

void
pe_resend(struct hd_pushengine *e, struct pe_rec *rec)
{
    struct hd_err err = {0};

    if (e->deps.sink.send(e->deps.sink.ud, rec->topic, rec->key, rec->keylen,
                          rec->value, rec->len, on_ack, rec, &err) == 0)
        return;
    hd_log(HD_LOG_WARN, 0, "produce refused, retrying in %d ms: %s", RESEND_MS,
           err.msg);
    rec->retry_at = hd_clock_wall_ms(e->clock) + RESEND_MS;
    rec->next = e->retry_recs;
    e->retry_recs = rec;
}

/* Produces e->enc as one record for b (the value is copied). */
static void
produce(struct hd_pushengine *e, struct pe_batch *b, enum hd_pushsink_topic t,
        const char *key)
{
    struct pe_rec *rec = hd_xcalloc(1, sizeof(*rec));

    rec->e = e;
    rec->b = b;
    rec->topic = t;
    rec->keylen = key ? strlen(key) : 0;
    rec->key = key ? hd_xmemdup(key, rec->keylen) : NULL;
    rec->len = e->enc.len;
    rec->value = hd_xmemdup(e->enc.data, e->enc.len);
    atomic_fetch_add(&b->refs, 1);
    atomic_fetch_add(&e->nrecords, 1);
    pe_resend(e, rec);
}

static void
feedback(struct hd_pushengine *e, struct pe_batch *b, size_t t,
         enum hd_outcome o, const char *code, int http_status)
{
    struct hd_msg_feedback f;
    struct hd_err err = {0};
    const char *key;

    memset(&f, 0, sizeof(f));
    f.uid = b->d.uid;
    f.app = b->d.app;
    f.provider = b->d.provider;
    if (b->d.rtype == HD_RT_DEVICE) {
        f.token = b->d.tokens[t].token;
        f.device = b->d.tokens[t].device;
    }
    f.outcome = o;
    f.code = (char *)(uintptr_t)(code ? code : "");
    f.http_status = http_status;
    f.attempt = b->d.attempt;
    f.ts_ms = hd_clock_wall_ms(e->clock);
    key = f.device ? f.device : f.token ? f.token : f.uid;
    hd_buf_reset(&e->enc);
    if (hd_msg_feedback_encode(&f, &e->enc, &err) < 0) {
        /* cannot happen with decoded input; never lose the outcome quietly */
        hd_log(HD_LOG_ERROR, 0, "feedback for uid %s not encodable: %s",
               b->d.uid, err.msg);
        return;
    }
    produce(e, b, HD_PUSHSINK_FEEDBACK, key);
}

/* ---- outcomes --------------------------------------------------------- */

static void
settle(struct pe_batch *b, size_t t, enum pe_tstate s)
{
    b->state[t] = (unsigned char)s;
    b->unresolved--;
}

void
pe_final(struct hd_pushengine *e, struct pe_batch *b, size_t t,
         enum hd_outcome o, const char *code, int http_status)
{
    settle(b, t, PE_T_DONE);
    count_outcome(e, b, o == HD_OUTCOME_SENT,
                  code && *code ? code : hd_outcome_name(o));
    feedback(e, b, t, o, code, http_status);
}

static void
retry(struct hd_pushengine *e, struct pe_batch *b, size_t t,
      const struct hd_push_result *r)
{
    int64_t now = hd_clock_wall_ms(e->clock);
    int64_t at = 0;

    snprintf(b->last_code, sizeof(b->last_code), "%s", r->code);
    if (b->d.attempt + 1 >= e->cfg.max_attempts) {
        settle(b, t, PE_T_DLQ);
        b->ndlq++;
        hd_counter_inc(e->m.dead);
        count_outcome(e, b, 0, r->code);
        feedback(e, b, t, HD_OUTCOME_FAILED, r->code, r->http_status);
        return;
    }
    if (hd_backoff_next(&e->backoff, (unsigned)b->d.attempt, r->retry_after_ms,
                        now, b->d.expire_at_ms, e->rnd, &at) < 0) {
        pe_final(e, b, t, HD_OUTCOME_EXPIRED, r->code, r->http_status);
        return;
    }
    hd_counter_inc(hd_metric_with(e->m.retries, e->p->name, r->code));
    settle(b, t, PE_T_REQUEUE);
    b->nrequeue++;
    if (at > b->requeue_at)
        b->requeue_at = at;
}

void
pe_apply(struct hd_pushengine *e, struct pe_batch *b, size_t t,
         const struct hd_push_result *r)
{
    switch (r->action) {
    case HD_PUSH_SENT:
        breaker_note(e, 1, 0);
        pe_final(e, b, t, HD_OUTCOME_SENT, "", r->http_status);
        break;
    case HD_PUSH_TOKEN_INVALID:
        breaker_note(e, 0, r->guarded);
        if (r->guarded && pe_breaker_open(e))
            pe_final(e, b, t, HD_OUTCOME_FAILED, r->code, r->http_status);
        else
            pe_final(e, b, t, HD_OUTCOME_TOKEN_INVALID, r->code,
                     r->http_status);
        break;
    case HD_PUSH_RETRY:
        retry(e, b, t, r);
        break;
    case HD_PUSH_REAUTH: /* the engine turns these into retries */
    case HD_PUSH_CONFIG:
    case HD_PUSH_BAD_REQUEST:
        breaker_note(e, 0, 0);
        pe_final(e, b, t, HD_OUTCOME_FAILED, r->code, r->http_status);
        break;
    }
}

/* Encodes the targets of b in state s as a delivery record into e->enc,
 * with attempt and not_before given. The subset borrows b's strings. */
static int
encode_subset(struct hd_pushengine *e, struct pe_batch *b, enum pe_tstate s,
              int attempt, int64_t not_before, struct hd_err *err)
{
    struct hd_msg_delivery sub = b->d;
    struct hd_msg_token *toks = NULL;
    size_t i, n = 0;
    int rc;

    sub.attempt = attempt;
    sub.not_before_ms = not_before;
    if (b->d.rtype == HD_RT_DEVICE) {
        toks = hd_xmalloc(b->ntargets * sizeof(*toks));
        for (i = 0; i < b->ntargets; i++)
            if (b->state[i] == s)
                toks[n++] = b->d.tokens[i];
        sub.tokens = toks;
        sub.ntokens = n;
        sub.cap = n;
    }
    hd_buf_reset(&e->enc);
    rc = hd_msg_delivery_encode(&sub, &e->enc, err);
    free(toks);
    return rc;
}

static void
log_lost(const struct pe_batch *b, const char *what, const struct hd_err *err)
{
    hd_log(HD_LOG_ERROR, 0, "uid %s: %s record not encodable: %s", b->d.uid,
           what, err->msg);
}

void
pe_maybe_finalize(struct hd_pushengine *e, struct pe_batch *b)
{
    struct hd_err err = {0};
    struct hd_buf sub;
    char reason[HD_ERR_MSG_LEN];
    uint64_t now_mono;

    if (b->finalized || b->open_jobs > 0 || b->unresolved > 0 ||
        b->next < b->ntargets)
        return;
    b->finalized = 1;
    if (b->nrequeue > 0) {
        if (encode_subset(e, b, PE_T_REQUEUE, b->d.attempt + 1, b->requeue_at,
                          &err) < 0)
            log_lost(b, "re-queue", &err);
        else
            produce(e, b, HD_PUSHSINK_DELIVER, b->d.uid);
    }
    if (b->nhandback > 0) {
        if (encode_subset(e, b, PE_T_HANDBACK, b->d.attempt, b->d.not_before_ms,
                          &err) < 0)
            log_lost(b, "hand-back", &err);
        else
            produce(e, b, HD_PUSHSINK_DELIVER, b->d.uid);
        hd_counter_add(e->m.handback, b->nhandback);
    }
    if (b->ndlq > 0) {
        if (encode_subset(e, b, PE_T_DLQ, b->d.attempt, 0, &err) < 0) {
            log_lost(b, "dead-letter", &err);
        } else {
            hd_buf_init(&sub, HD_KAFKA_MAX_MESSAGE);
            hd_buf_append(&sub, e->enc.data, e->enc.len, NULL);
            snprintf(reason, sizeof(reason),
                     "%s: %zu target(s) still failing after %d attempts: %s",
                     e->p->name, b->ndlq, e->cfg.max_attempts, b->last_code);
            hd_buf_reset(&e->enc);
            if (hd_msg_dlq_encode(e->deps.queue, reason, b->d.uid, sub.data,
                                  sub.len, hd_clock_wall_ms(e->clock), &e->enc,
                                  &err) < 0)
                log_lost(b, "dead-letter", &err);
            else
                produce(e, b, HD_PUSHSINK_DLQ, b->d.uid);
            hd_buf_release(&sub);
            hd_log(HD_LOG_WARN, 0, "uid %s: %s", b->d.uid, reason);
        }
    }
    if (b->prepared) {
        now_mono = hd_clock_mono_ms(e->clock);
        hd_histogram_observe(e->m.dur[b->d.rtype],
                             (double)(now_mono - b->start_mono) / 1000.0);
    }
    pe_unref(e, b);
}

void
pe_dead_letter_raw(struct hd_pushengine *e, struct pe_batch *b)
{
    struct hd_err err = {0};

    hd_log(HD_LOG_WARN, 0, "partition %d offset %lld: dead-lettered: %s",
           (int)b->partition, (long long)b->offset, b->reason);
    hd_buf_reset(&e->enc);
    if (hd_msg_dlq_encode(e->deps.queue, b->reason, NULL, b->raw, b->rawlen,
                          hd_clock_wall_ms(e->clock), &e->enc, &err) < 0)
        hd_log(HD_LOG_ERROR, 0, "dead letter not encodable: %s", err.msg);
    else
        produce(e, b, HD_PUSHSINK_DLQ, NULL);
    b->finalized = 1;
    pe_unref(e, b);
}

/* ---- finishing -------------------------------------------------------- */

void
pe_unref(struct hd_pushengine *e, struct pe_batch *b)
{
    if (atomic_fetch_sub(&b->refs, 1) == 1)
        pe_batch_done(e, b);
}

void
pe_batch_free(struct hd_pushengine *e, struct pe_batch *b)
{
    if (b->prev_all)
        b->prev_all->next_all = b->next_all;
    else if (e->all == b)
        e->all = b->next_all;
    if (b->next_all)
        b->next_all->prev_all = b->prev_all;
    if (b->prepared && e->p->unprepare)
        e->p->unprepare(e->deps.pst, b->bctx);
    hd_msg_delivery_release(&b->d);
    free(b->raw);
    free(b->state);
    free(b);
    e->nbatches--;
    hd_gauge_set(e->m.inflight_jobs, (double)e->nbatches);
}

void
pe_batch_done(struct hd_pushengine *e, struct pe_batch *b)
{
    int32_t partition = b->partition;
    int64_t offset = b->offset;

    pe_batch_free(e, b);
    e->ndone++;
    e->deps.done(e->deps.done_ud, partition, offset);
}
