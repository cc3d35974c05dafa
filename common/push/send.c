/* send.c -- the push engine's requests: ready batches cut into jobs of
 * tokens_per_request targets, the concurrency limit, credential waits,
 * configuration-error pauses with a single probe, the answers, and the
 * hand-back at shutdown.
 *
 * Engine thread only; the transport's callbacks run inside its run(). A
 * request never starts for a batch past its expiry: its targets are
 * reported expired instead. What an answer means is outcome.c's
 * decision; settle.c applies it to each target. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "push/send.h"
#include "push/settle.h"
#include "core/banned.h"

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

static void
ready_pop(struct hd_pushengine *e)
{
    struct pe_batch *b = e->ready_head;

    e->ready_head = b->next_ready;
    if (e->ready_head == NULL)
        e->ready_tail = NULL;
    b->next_ready = NULL;
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

static void
handle_answer(struct hd_pushengine *e, struct pe_job *j,
              const struct hd_httpc_resp *resp)
{
    struct pe_batch *b = j->b;
    struct hd_push_result *res = e->res;
    const char *why;
    size_t i;

    if (resp->fail != HD_HTTPC_OK) {
        pe_answer_failed(res, j->n, resp->fail);
        hd_log(HD_LOG_DEBUG, 0, "uid %s: %s", b->d.uid, resp->error);
    } else {
        memset(res, 0, j->n * sizeof(*res));
        e->p->classify(e->deps.pst, &b->d, j->first, j->n, resp, res);
    }
    switch (pe_answer_judge(res, j->n, j->reauth_tried,
                            atomic_load(&e->draining), e->pause_ms > 0, &why)) {
    case PE_ANSWER_REAUTH:
        hd_log(HD_LOG_INFO, 0, "credential refused (%s): refreshing", why);
        e->p->auth_reject(e->deps.pst, j->req.auth_gen);
        j->reauth_tried = 1;
        resend_push(e, j, 0);
        return;
    case PE_ANSWER_PAUSE:
        enter_pause(e, why);
        pe_answer_defer(res, j->n, e->pause_ms);
        break;
    case PE_ANSWER_RESUME:
        leave_pause(e);
        break;
    case PE_ANSWER_APPLY:
        break;
    }
    for (i = 0; i < j->n; i++)
        pe_apply(e, b, j->first + i, &res[i]);
    b->open_jobs--;
    job_put(e, j);
    pe_maybe_finalize(e, b);
}

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
            if (!pe_expired(j->b->d.expire_at_ms, now))
                return j;
            b = j->b;
            pe_expire_range(e, b, j->first, j->first + j->n);
            b->open_jobs--;
            job_put(e, j);
            pe_maybe_finalize(e, b);
            continue;
        }
        b = e->ready_head;
        if (b == NULL)
            return NULL;
        if (pe_expired(b->d.expire_at_ms, now)) {
            ready_pop(e);
            pe_expire_range(e, b, b->next, b->ntargets);
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

void
pe_pump(struct hd_pushengine *e)
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

void
pe_hand_back(struct hd_pushengine *e)
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

void
pe_jobs_free(struct hd_pushengine *e)
{
    struct pe_job *j;

    while ((j = resend_pop(e)) != NULL)
        job_destroy(j);
    while ((j = e->pool) != NULL) {
        e->pool = j->next;
        job_destroy(j);
    }
}
