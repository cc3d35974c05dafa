/* outcome.c -- the push engine's decisions as pure functions: what a
 * provider result means for its target (final, another attempt, dead
 * letter), what an answer means for the engine (refresh the credential,
 * pause, resume), and the circuit breaker's window.
 *
 * It reads only its arguments and writes only its out-parameters: the
 * engine applies every decision, so each rule can be read and tested
 * alone. */
#include <stdio.h>
#include <string.h>

#include "push/outcome.h"
#include "core/banned.h"

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

/* ---- circuit breaker ------------------------------------------------------
 */

void
pe_window_note(struct pe_window *w, int64_t now_ms, int ok, int bad)
{
    int64_t slot = now_ms / PE_BREAKER_BUCKET_MS;
    size_t i = (size_t)(slot % PE_BREAKER_BUCKETS);

    if (w->b[i].start != slot) {
        w->b[i].start = slot;
        w->b[i].ok = w->b[i].bad = w->b[i].total = 0;
    }
    w->b[i].ok += ok ? 1u : 0u;
    w->b[i].bad += bad ? 1u : 0u;
    w->b[i].total++;
}

int
pe_window_open(const struct pe_window *w, int64_t now_ms, unsigned *bad,
               unsigned *total)
{
    int64_t slot = now_ms / PE_BREAKER_BUCKET_MS;
    unsigned ok = 0;
    size_t i;

    *bad = *total = 0;
    for (i = 0; i < PE_BREAKER_BUCKETS; i++) {
        if (slot - w->b[i].start >= PE_BREAKER_BUCKETS)
            continue;
        ok += w->b[i].ok;
        *bad += w->b[i].bad;
        *total += w->b[i].total;
    }
    return *total >= PE_BREAKER_MIN && *bad * 2 >= *total && ok == 0;
}

int
pe_window_input(const struct hd_push_result *r, int *ok, int *bad)
{
    *ok = r->action == HD_PUSH_SENT;
    *bad = r->action == HD_PUSH_TOKEN_INVALID && r->guarded;
    return r->action != HD_PUSH_RETRY;
}

/* ---- one target ------------------------------------------------------------
 */

int
pe_expired(int64_t expire_at_ms, int64_t now_ms)
{
    return expire_at_ms > 0 && now_ms >= expire_at_ms;
}

static void
final(struct pe_decision *out, enum hd_outcome o, const char *code)
{
    out->verdict = PE_V_FINAL;
    out->outcome = o;
    out->code = code;
}

void
pe_decide(const struct hd_push_result *r, int breaker_open, int attempt,
          int64_t created_ms, const struct pe_budget *budget,
          const struct hd_backoff *bo, int64_t now_ms, int64_t expire_at_ms,
          const struct hd_rand *rnd, struct pe_decision *out)
{
    int64_t at = 0;

    memset(out, 0, sizeof(*out));
    switch (r->action) {
    case HD_PUSH_SENT:
        final(out, HD_OUTCOME_SENT, "");
        break;
    case HD_PUSH_TOKEN_INVALID:
        /* most tokens look invalid and none work: suspect our side */
        final(out,
              r->guarded && breaker_open ? HD_OUTCOME_FAILED
                                         : HD_OUTCOME_TOKEN_INVALID,
              r->code);
        break;
    case HD_PUSH_RETRY:
        if (attempt + 1 >= budget->max_attempts &&
            now_ms - created_ms >= budget->window_ms) {
            out->verdict = PE_V_DLQ;
            out->outcome = HD_OUTCOME_FAILED;
            out->code = r->code;
        } else if (hd_backoff_next(bo, (unsigned)attempt, r->retry_after_ms,
                                   now_ms, expire_at_ms, rnd, &at) < 0) {
            final(out, HD_OUTCOME_EXPIRED, r->code);
        } else {
            out->verdict = PE_V_REQUEUE;
            out->code = r->code;
            out->requeue_at = at;
        }
        break;
    case HD_PUSH_REAUTH: /* the engine turns these into retries */
    case HD_PUSH_CONFIG:
    case HD_PUSH_BAD_REQUEST:
        final(out, HD_OUTCOME_FAILED, r->code);
        break;
    }
}

/* ---- one answer ------------------------------------------------------------
 */

enum pe_answer_kind
pe_answer_judge(const struct hd_push_result *res, size_t n, int reauth_tried,
                int draining, int paused, const char **why)
{
    int reauth = 0, config = 0, sent = 0;
    size_t i;

    *why = NULL;
    for (i = 0; i < n; i++) {
        if (res[i].action == HD_PUSH_REAUTH && !reauth) {
            reauth = 1;
            *why = *why ? *why : res[i].code;
        }
        if (res[i].action == HD_PUSH_CONFIG && !config) {
            config = 1;
            *why = res[i].code;
        }
        sent |= res[i].action == HD_PUSH_SENT;
    }
    if (reauth && !config && !reauth_tried && !draining)
        return PE_ANSWER_REAUTH;
    /* refused twice, or our configuration is wrong: stop for a while */
    if (reauth || config)
        return PE_ANSWER_PAUSE;
    /* a success proves the credentials work */
    if (sent && paused)
        return PE_ANSWER_RESUME;
    return PE_ANSWER_APPLY;
}

void
pe_answer_defer(struct hd_push_result *res, size_t n, int64_t pause_ms)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (res[i].action != HD_PUSH_REAUTH && res[i].action != HD_PUSH_CONFIG)
            continue;
        res[i].action = HD_PUSH_RETRY;
        if (res[i].retry_after_ms < (uint64_t)pause_ms)
            res[i].retry_after_ms = (uint64_t)pause_ms;
    }
}

void
pe_answer_failed(struct hd_push_result *res, size_t n, enum hd_httpc_fail fail)
{
    size_t i;

    memset(res, 0, n * sizeof(*res));
    for (i = 0; i < n; i++) {
        res[i].action = HD_PUSH_RETRY;
        snprintf(res[i].code, sizeof(res[i].code), "http_%s",
                 hd_httpc_fail_name(fail));
    }
}
