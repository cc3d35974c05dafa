/* outcome.h -- the push engine's decisions, as pure functions: what one
 * provider result means for its target, what one answer means for the
 * engine (refresh the credential, pause, resume), and the circuit
 * breaker's sliding window. Not an API outside common/push/.
 *
 * Nothing here touches the engine: every function computes from its
 * arguments, and the engine (send.c, settle.c) applies the decision. */
#ifndef HD_PUSH_OUTCOME_H
#define HD_PUSH_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"
#include "core/rand.h"
#include "http/client.h"
#include "proto/msg.h"
#include "push/worker.h"

/* ---- the token-removal circuit breaker ---------------------------------- */

#define PE_BREAKER_BUCKETS 6
#define PE_BREAKER_BUCKET_MS 10000
#define PE_BREAKER_MIN 20

/* The last minute of answers, in ten-second buckets. Zeroed: empty. */
struct pe_window {
    struct {
        int64_t start;
        unsigned ok, bad, total;
    } b[PE_BREAKER_BUCKETS];
};

/* Counts one answer at now_ms: ok (sent), bad (a guarded token_invalid). */
void pe_window_note(struct pe_window *w, int64_t now_ms, int ok, int bad);

/* 1 when token removal must stop at now_ms: at least PE_BREAKER_MIN
 * answers, at least half of them bad and none ok. *bad and *total get
 * the counts. */
int pe_window_open(const struct pe_window *w, int64_t now_ms, unsigned *bad,
                   unsigned *total);

/* 1 when r counts in the window, with *ok and *bad set: every result but
 * a retry. */
int pe_window_input(const struct hd_push_result *r, int *ok, int *bad);

/* ---- one target --------------------------------------------------------- */

enum pe_verdict {
    PE_V_FINAL,   /* report outcome now (feedback) */
    PE_V_REQUEUE, /* another attempt at requeue_at */
    PE_V_DLQ,     /* out of attempts: dead letter, feedback failed */
};

struct pe_decision {
    enum pe_verdict verdict;
    enum hd_outcome outcome; /* PE_V_FINAL */
    const char *code;        /* borrowed from the result */
    int64_t requeue_at;      /* PE_V_REQUEUE */
};

/* How long a failing target is retried: it goes to the dead-letter
 * topic after max_attempts tries, but never before its push is window_ms
 * old (0: at once), so that a provider outage shorter than the window,
 * which full-jitter backoff can cross in a few tries, loses nothing. */
struct pe_budget {
    int max_attempts;
    int64_t window_ms;
};

/* What result r means for a target of a delivery at attempt attempt,
 * created at created_ms, expiring at expire_at_ms (0: never).
 * breaker_open: the breaker is open (only asked for a guarded
 * token_invalid). A retry's time comes from bo, rnd and r's Retry-After;
 * past the expiry it is final (expired). */
void pe_decide(const struct hd_push_result *r, int breaker_open, int attempt,
               int64_t created_ms, const struct pe_budget *budget,
               const struct hd_backoff *bo, int64_t now_ms,
               int64_t expire_at_ms, const struct hd_rand *rnd,
               struct pe_decision *out);

/* 1 when a delivery expiring at expire_at_ms (0: never) is past it. */
int pe_expired(int64_t expire_at_ms, int64_t now_ms);

/* ---- one answer ---------------------------------------------------------- */

enum pe_answer_kind {
    PE_ANSWER_APPLY,  /* apply each result */
    PE_ANSWER_REAUTH, /* refresh the credential, send the request again */
    PE_ANSWER_PAUSE,  /* pause sends; then apply (see pe_answer_defer) */
    PE_ANSWER_RESUME, /* a success while paused: resume, then apply */
};

/* What the n results of one answer mean. why: the code that explains a
 * REAUTH or a PAUSE (borrowed from res). reauth_tried: this request was
 * already sent again once; draining: no resend now; paused: sends are
 * paused. */
enum pe_answer_kind pe_answer_judge(const struct hd_push_result *res, size_t n,
                                    int reauth_tried, int draining, int paused,
                                    const char **why);

/* For a pause: the re-authentication and configuration results become
 * retries no sooner than pause_ms, so their targets keep their tokens and
 * their attempts stay bounded. */
void pe_answer_defer(struct hd_push_result *res, size_t n, int64_t pause_ms);

/* The results of a request that got no HTTP answer: every target
 * retries, with code "http_<failure>". */
void pe_answer_failed(struct hd_push_result *res, size_t n,
                      enum hd_httpc_fail fail);

#endif
