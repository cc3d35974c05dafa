/* pushengine.c -- the push engine's scheduling: the inbox fed by other
 * threads, batches held until not_before, the ready list cut into
 * requests, the concurrency limit, credential waits, configuration-error
 * pauses with a single probe, and the drain at shutdown.
 *
 * Everything here runs on the engine thread except offer(), wake() and
 * drain(). What happens to a target once its answer is known lives in
 * pushoutcome.c. A request never starts for a batch past its expiry: its
 * targets are reported expired instead. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "push/engine_private.h"
#include "core/banned.h"

#define AUTH_POLL_MS 200 /* re-check a credential that is not ready */

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

/* ---- jobs ---------------------------------------------------------------- */

static struct pe_job *
job_get(struct hd_pushengine *e)
{
    struct pe_job *j = e->pool;

    if (j != NULL) {
        e->pool = j->next;
        e->npool--;
    } else {
        j = hd_xcalloc(1, sizeof(*j));
        j->e = e;
        hd_buf_init(&j->req.url, HD_PUSH_URL_MAX);
        hd_buf_init(&j->req.body, HD_PUSH_BODY_MAX);
        hd_buf_init(&j->req.auth, HD_PUSH_AUTH_LINE_MAX);
    }
    j->next = NULL;
    j->reauth_tried = 0;
    j->probe = 0;
    return j;
}

static void
job_destroy(struct pe_job *j)
{
    hd_buf_release(&j->req.url);
    hd_buf_release(&j->req.body);
    hd_buf_release(&j->req.auth);
    free(j);
}

static void
job_put(struct hd_pushengine *e, struct pe_job *j)
{
    if (e->npool >= e->max_requests || j->req.body.cap > 64 * 1024) {
        job_destroy(j);
        return;
    }
    j->b = NULL;
    j->next = e->pool;
    e->pool = j;
    e->npool++;
}

static void
resend_push(struct hd_pushengine *e, struct pe_job *j, int front)
{
    j->next = NULL;
    if (e->resend_head == NULL) {
        e->resend_head = e->resend_tail = j;
    } else if (front) {
        j->next = e->resend_head;
        e->resend_head = j;
    } else {
        e->resend_tail->next = j;
        e->resend_tail = j;
    }
}

static struct pe_job *
resend_pop(struct hd_pushengine *e)
{
    struct pe_job *j = e->resend_head;

    if (j != NULL) {
        e->resend_head = j->next;
        if (e->resend_head == NULL)
            e->resend_tail = NULL;
        j->next = NULL;
    }
    return j;
}

/* ---- batches ----------------------------------------------------------- */

static int
expired(const struct pe_batch *b, int64_t now)
{
    return b->d.expire_at_ms > 0 && now >= b->d.expire_at_ms;
}

/* Reports targets [from, to) that are still pending as expired. */
static void
expire_range(struct hd_pushengine *e, struct pe_batch *b, size_t from,
             size_t to)
{
    size_t t;

    for (t = from; t < to; t++)
        if (b->state[t] == PE_T_PENDING || b->state[t] == PE_T_SENDING)
            pe_final(e, b, t, HD_OUTCOME_EXPIRED, "", 0);
}

static void
ready_pop(struct hd_pushengine *e)
{
    struct pe_batch *b = e->ready_head;

    e->ready_head = b->next_ready;
    if (e->ready_head == NULL)
        e->ready_tail = NULL;
    b->next_ready = NULL;
}

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
    if (expired(b, now)) {
        expire_range(e, b, 0, b->ntargets);
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

/* ---- pauses and credentials -------------------------------------------- */

static void
enter_pause(struct hd_pushengine *e, const char *why)
{
    int64_t now = hd_clock_wall_ms(e->clock);

    if (e->pause_ms == 0) {
        e->pause_ms = e->cfg.pause_base_ms;
        hd_gauge_set(e->m.paused, 1);
        hd_log(HD_LOG_ERROR, 0,
               "%s configuration error (%s): sends paused, tokens kept; "
               "probing again in %lld ms",
               e->p->name, why, (long long)e->pause_ms);
    } else if (now < e->paused_until) {
        return; /* more answers from the same episode */
    } else {
        e->pause_ms *= 2;
        if (e->pause_ms > e->cfg.pause_max_ms)
            e->pause_ms = e->cfg.pause_max_ms;
        hd_log(HD_LOG_DEBUG, 0, "still failing (%s): next probe in %lld ms",
               why, (long long)e->pause_ms);
    }
    e->paused_until = now + e->pause_ms;
}

static void
leave_pause(struct hd_pushengine *e)
{
    e->pause_ms = 0;
    e->probing = 0;
    hd_gauge_set(e->m.paused, 0);
    hd_log(HD_LOG_INFO, 0, "%s configuration error cleared: sending again",
           e->p->name);
}

static int
can_send(struct hd_pushengine *e, int64_t now)
{
    struct hd_err err = {0};
    int r;

    if (e->pause_ms > 0 && (now < e->paused_until || e->probing))
        return 0;
    r = e->p->auth(e->deps.pst, &err);
    if (r == 0) {
        e->auth_wait = 1;
        return 0;
    }
    if (r < 0) {
        enter_pause(e, err.msg);
        return 0;
    }
    e->auth_wait = 0;
    return 1;
}

/* ---- requests ---------------------------------------------------------- */

static void handle_answer(struct hd_pushengine *e, struct pe_job *j,
                          const struct hd_httpc_resp *resp);

static void
on_answer(void *ud, const struct hd_httpc_resp *resp)
{
    struct pe_job *j = ud;
    struct hd_pushengine *e = j->e;

    e->nrequests--;
    hd_gauge_set(e->m.requests, (double)e->nrequests);
    if (j->probe)
        e->probing = 0;
    if (resp->fail == HD_HTTPC_ECANCEL || e->freeing) {
        /* shutting down: the batch stays undone, delivered again */
        job_put(e, j);
        return;
    }
    handle_answer(e, j, resp);
}

/* The next request to send, or NULL. Expired targets are reported here,
 * so nothing past its expiry is ever sent. */
static struct pe_job *
take_job(struct hd_pushengine *e, int64_t now)
{
    struct pe_batch *b;
    struct pe_job *j;
    size_t n, t;

    for (;;) {
        j = resend_pop(e);
        if (j != NULL) {
            if (!expired(j->b, now))
                return j;
            b = j->b;
            expire_range(e, b, j->first, j->first + j->n);
            b->open_jobs--;
            job_put(e, j);
            pe_maybe_finalize(e, b);
            continue;
        }
        b = e->ready_head;
        if (b == NULL)
            return NULL;
        if (expired(b, now)) {
            ready_pop(e);
            expire_range(e, b, b->next, b->ntargets);
            b->next = b->ntargets;
            pe_maybe_finalize(e, b);
            continue;
        }
        n = b->ntargets - b->next;
        if (n > e->p->tokens_per_request)
            n = e->p->tokens_per_request;
        j = job_get(e);
        j->b = b;
        j->first = b->next;
        j->n = n;
        for (t = j->first; t < j->first + n; t++)
            b->state[t] = PE_T_SENDING;
        b->next += n;
        b->open_jobs++;
        if (b->next >= b->ntargets)
            ready_pop(e);
        return j;
    }
}

static void
send_job(struct hd_pushengine *e, struct pe_job *j)
{
    struct pe_batch *b = j->b;
    struct hd_err err = {0};
    struct hd_httpc_resp fake;
    size_t t;

    hd_buf_reset(&j->req.url);
    hd_buf_reset(&j->req.body);
    hd_buf_reset(&j->req.auth);
    memset(&j->req.http, 0, sizeof(j->req.http));
    j->req.auth_gen = 0;
    if (e->p->build(e->deps.pst, b->bctx, &b->d, j->first, j->n, &j->req,
                    &err) < 0) {
        if (err.code == HD_EAUTH) { /* credential gone meanwhile */
            e->auth_wait = 1;
            resend_push(e, j, 1);
            return;
        }
        hd_log(HD_LOG_WARN, 0, "uid %s: request not buildable: %s", b->d.uid,
               err.msg);
        for (t = j->first; t < j->first + j->n; t++)
            pe_final(e, b, t, HD_OUTCOME_FAILED, "bad_request", 0);
        b->open_jobs--;
        job_put(e, j);
        pe_maybe_finalize(e, b);
        return;
    }
    if (e->pause_ms > 0) {
        j->probe = 1;
        e->probing = 1;
    }
    e->nrequests++;
    hd_gauge_set(e->m.requests, (double)e->nrequests);
    if (e->deps.transport.submit(e->deps.transport.ud, &j->req.http, on_answer,
                                 j, &err) < 0) {
        memset(&fake, 0, sizeof(fake));
        fake.fail = HD_HTTPC_EOTHER;
        fake.error = err.msg;
        on_answer(j, &fake);
    }
}

static void
pump(struct hd_pushengine *e)
{
    int64_t now = hd_clock_wall_ms(e->clock);
    struct pe_job *j;

    while (!atomic_load(&e->draining) &&
           (size_t)e->nrequests < e->max_requests &&
           (e->resend_head != NULL || e->ready_head != NULL)) {
        if (!can_send(e, now))
            break;
        j = take_job(e, now);
        if (j == NULL)
            break;
        send_job(e, j);
    }
}

static void
handle_answer(struct hd_pushengine *e, struct pe_job *j,
              const struct hd_httpc_resp *resp)
{
    struct pe_batch *b = j->b;
    struct hd_push_result *res = e->res;
    const char *why = NULL;
    int reauth = 0, config = 0, sent = 0;
    size_t i;

    memset(res, 0, j->n * sizeof(*res));
    if (resp->fail != HD_HTTPC_OK) {
        for (i = 0; i < j->n; i++) {
            res[i].action = HD_PUSH_RETRY;
            snprintf(res[i].code, sizeof(res[i].code), "http_%s",
                     hd_httpc_fail_name(resp->fail));
        }
        hd_log(HD_LOG_DEBUG, 0, "uid %s: %s", b->d.uid, resp->error);
    } else {
        e->p->classify(e->deps.pst, &b->d, j->first, j->n, resp, res);
    }
    for (i = 0; i < j->n; i++) {
        if (res[i].action == HD_PUSH_REAUTH && !reauth) {
            reauth = 1;
            why = why ? why : res[i].code;
        }
        if (res[i].action == HD_PUSH_CONFIG && !config) {
            config = 1;
            why = res[i].code;
        }
        sent |= res[i].action == HD_PUSH_SENT;
    }
    if (reauth && !config && !j->reauth_tried && !atomic_load(&e->draining)) {
        hd_log(HD_LOG_INFO, 0, "credential refused (%s): refreshing", why);
        e->p->auth_reject(e->deps.pst, j->req.auth_gen);
        j->reauth_tried = 1;
        resend_push(e, j, 0);
        return;
    }
    if (reauth || config) {
        /* refused twice, or our configuration is wrong: stop sending for
         * a while; the targets keep their tokens and come back after the
         * pause as an ordinary retry, so their attempts stay bounded */
        enter_pause(e, why);
        for (i = 0; i < j->n; i++) {
            if (res[i].action != HD_PUSH_REAUTH &&
                res[i].action != HD_PUSH_CONFIG)
                continue;
            res[i].action = HD_PUSH_RETRY;
            if (res[i].retry_after_ms < (uint64_t)e->pause_ms)
                res[i].retry_after_ms = (uint64_t)e->pause_ms;
        }
    } else if (sent && e->pause_ms > 0) {
        leave_pause(e); /* a success proves the credentials work */
    }
    for (i = 0; i < j->n; i++)
        pe_apply(e, b, j->first + i, &res[i]);
    b->open_jobs--;
    job_put(e, j);
    pe_maybe_finalize(e, b);
}

/* ---- drain -------------------------------------------------------------- */

/* The targets of j go back untried (same attempt) in the hand-back
 * record; the caller finalizes the batch. */
static void
hand_back_job(struct hd_pushengine *e, struct pe_job *j)
{
    struct pe_batch *b = j->b;
    size_t t;

    for (t = j->first; t < j->first + j->n; t++) {
        b->state[t] = PE_T_HANDBACK;
        b->unresolved--;
        b->nhandback++;
    }
    b->open_jobs--;
    job_put(e, j);
}

/* Hands back every target of a started batch that no request holds, so the
 * batch can finish; unstarted batches stay undone. */
static void
hand_back(struct hd_pushengine *e)
{
    struct pe_batch *b, *next;
    struct pe_job *j;
    size_t t;

    while ((j = resend_pop(e)) != NULL)
        hand_back_job(e, j);
    while ((b = e->ready_head) != NULL) {
        ready_pop(e);
        if (b->next == 0)
            continue;
        for (t = b->next; t < b->ntargets; t++) {
            b->state[t] = PE_T_HANDBACK;
            b->unresolved--;
            b->nhandback++;
        }
        b->next = b->ntargets;
    }
    for (b = e->all; b != NULL; b = next) {
        next = b->next_all; /* finalizing may free b */
        if (b->decoded && b->next > 0)
            pe_maybe_finalize(e, b);
    }
    e->handed_back = 1;
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
    pe_metrics_init(e);
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
    struct pe_job *j;

    if (e == NULL)
        return;
    e->freeing = 1;
    while ((j = resend_pop(e)) != NULL)
        job_destroy(j);
    while ((j = e->pool) != NULL) {
        e->pool = j->next;
        job_destroy(j);
    }
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
    if (e->deps.transport.wake)
        e->deps.transport.wake(e->deps.transport.ud);
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
        hand_back(e);
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
    pump(e);
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
