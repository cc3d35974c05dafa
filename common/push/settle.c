/* settle.c -- what the push engine does once a target's fate is known:
 * one feedback record per final outcome, the re-queue, hand-back and
 * dead-letter records of a finished batch, their acknowledgements, and
 * the end of the batch. The decisions are outcome.c's; this file applies
 * them.
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
#include "push/settle.h"
#include "core/banned.h"

#define RESEND_MS 1000

/* The reason as a label value: a provider's reason is a short word
 * (BadDeviceToken, UNREGISTERED, 80100003, HTTP_418); anything else a
 * provider or a proxy in front of it might answer is "other", so the
 * label's values stay a small set. */
static const char *
code_label(const char *code)
{
    size_t i;

    for (i = 0; code[i]; i++)
        if (i == 32 || !((code[i] >= 'a' && code[i] <= 'z') ||
                         (code[i] >= 'A' && code[i] <= 'Z') ||
                         (code[i] >= '0' && code[i] <= '9') || code[i] == '_'))
            return "other";
    return code;
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
                                  "false", code_label(code)));
}

/* ---- the circuit breaker's state ------------------------------------------
 */

/* 1 while the circuit breaker suspends token removal; logs and sets the
 * gauge when that changes. */
static int
breaker_open(struct hd_pushengine *e)
{
    unsigned bad, total;
    int open =
        pe_window_open(&e->win, hd_clock_wall_ms(e->clock), &bad, &total);

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

/* ---- produced records -------------------------------------------------------
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
        pe_wake(e);
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
        pe_wake(e);
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

void
pe_expire_range(struct hd_pushengine *e, struct pe_batch *b, size_t from,
                size_t to)
{
    size_t t;

    for (t = from; t < to; t++)
        if (b->state[t] == PE_T_PENDING || b->state[t] == PE_T_SENDING)
            pe_final(e, b, t, HD_OUTCOME_EXPIRED, "", 0);
}

void
pe_apply(struct hd_pushengine *e, struct pe_batch *b, size_t t,
         const struct hd_push_result *r)
{
    int64_t now = hd_clock_wall_ms(e->clock);
    struct pe_budget budget = {e->cfg.max_attempts,
                               (int64_t)e->cfg.retry_window_s * 1000};
    struct pe_decision d;
    int ok, bad, open = 0;

    if (pe_window_input(r, &ok, &bad))
        pe_window_note(&e->win, now, ok, bad);
    if (r->action == HD_PUSH_TOKEN_INVALID && r->guarded)
        open = breaker_open(e);
    if (r->action == HD_PUSH_RETRY)
        snprintf(b->last_code, sizeof(b->last_code), "%s", r->code);
    pe_decide(r, open, b->d.attempt, b->d.created_ms, &budget, &e->backoff, now,
              b->d.expire_at_ms, e->rnd, &d);
    switch (d.verdict) {
    case PE_V_FINAL:
        pe_final(e, b, t, d.outcome, d.code, r->http_status);
        break;
    case PE_V_DLQ:
        settle(b, t, PE_T_DLQ);
        b->ndlq++;
        hd_counter_inc(e->m.dead);
        count_outcome(e, b, 0, d.code);
        feedback(e, b, t, d.outcome, d.code, r->http_status);
        break;
    case PE_V_REQUEUE:
        hd_counter_inc(
            hd_metric_with(e->m.retries, e->p->name, code_label(d.code)));
        settle(b, t, PE_T_REQUEUE);
        b->nrequeue++;
        if (d.requeue_at > b->requeue_at)
            b->requeue_at = d.requeue_at;
        break;
    }
}

/* ---- finishing -------------------------------------------------------- */

/* Drops one reference; the last one finishes the record. */
static void
unref(struct hd_pushengine *e, struct pe_batch *b)
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
    unref(e, b);
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
    unref(e, b);
}
