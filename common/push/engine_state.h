/* engine_state.h -- the push engine's internal structures, shared by
 * engine.c (the public API, the inbox, held batches, the engine thread's
 * turn), send.c (requests: jobs, answers, pauses, the drain) and settle.c
 * (what happens to each target: feedback, re-queue, dead letters,
 * acknowledgements). The decisions themselves are outcome.c's.
 *
 * Not part of the public API: only those files include it, and it
 * declares no function of theirs. Everything here belongs to the engine
 * thread except the fields marked "locked" (under e->lock) and the
 * atomics. */
#ifndef HD_PUSH_ENGINE_STATE_H
#define HD_PUSH_ENGINE_STATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/backoff.h"
#include "core/buf.h"
#include "push/engine_deps.h"
#include "push/outcome.h"

/* The state of one target (a device token, or the topic/condition). */
enum pe_tstate {
    PE_T_PENDING = 0, /* not yet in a request */
    PE_T_SENDING,     /* in a request (or one waiting to be resent) */
    PE_T_DONE,        /* final outcome reported (feedback produced) */
    PE_T_REQUEUE,     /* retried later: goes into the re-queue record */
    PE_T_HANDBACK,    /* never tried before a drain: handed back as is */
    PE_T_DLQ,         /* out of attempts: dead letter + feedback failed */
};

struct pe_batch {
    struct hd_msg_delivery d;
    int decoded; /* 0: undecodable, raw kept for the DLQ */
    char *raw;   /* undecodable record value */
    size_t rawlen;
    char reason[HD_ERR_MSG_LEN + 64];
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;
    size_t ntargets;
    unsigned char *state; /* enum pe_tstate per target */
    void *bctx;           /* the provider's per-batch data */
    int prepared;
    size_t next;       /* first target not yet put in a job */
    size_t open_jobs;  /* jobs built and not finished */
    size_t unresolved; /* targets not DONE/REQUEUE/HANDBACK/DLQ */
    size_t nrequeue, nhandback, ndlq;
    int64_t requeue_at; /* not_before of the re-queue record */
    char last_code[HD_PUSH_CODE_MAX];
    int finalized;
    uint64_t start_mono; /* when it became ready */
    atomic_long refs;    /* the engine's + one per unacknowledged record */
    size_t heap_i;
    struct pe_batch *next_ready; /* ready list */
    struct pe_batch *next_in;    /* inbox lists (locked) */
    struct pe_batch *prev_all, *next_all;
};

struct pe_job {
    struct hd_pushengine *e;
    struct pe_batch *b;
    size_t first, n;
    int reauth_tried;
    int probe;
    struct hd_push_req req;
    struct pe_job *next;
};

/* One produced record waiting for its acknowledgement. */
struct pe_rec {
    struct hd_pushengine *e;
    struct pe_batch *b;
    enum hd_pushsink_topic topic;
    char *key;
    size_t keylen;
    char *value;
    size_t len;
    int64_t retry_at;
    struct pe_rec *next;
};

struct pe_metrics {
    struct hd_metric *sent;         /* herald_push_notifications_total */
    struct hd_metric_series *ok[3]; /* success series per recipient type */
    struct hd_metric_series *lag;
    struct hd_metric_series *inflight_jobs;
    struct hd_metric *duration;
    struct hd_metric_series *dur[3];
    struct hd_metric *retries;
    struct hd_metric_series *requests;
    struct hd_metric_series *paused;
    struct hd_metric_series *breaker;
    struct hd_metric_series *dead;
    struct hd_metric_series *handback;
};

struct hd_pushengine {
    struct hd_pushworker_config cfg;
    struct hd_pushengine_deps deps;
    const struct hd_push_provider *p;
    const struct hd_clock *clock;
    const struct hd_rand *rnd;
    struct hd_backoff backoff;
    size_t max_requests;

    pthread_mutex_t lock;
    struct pe_batch *in_head, *in_tail; /* locked: new batches */
    struct pe_batch *in_done;           /* locked: last ack arrived */
    struct pe_rec *in_failed;           /* locked: produce failed */
    atomic_int draining;
    atomic_long nrecords; /* produced, not acknowledged */

    struct pe_batch **heap; /* held until not_before */
    size_t nheap, heapcap;
    struct pe_batch *ready_head, *ready_tail;
    struct pe_job *resend_head, *resend_tail;
    struct pe_job *pool;
    size_t npool;
    struct pe_rec *retry_recs;
    struct pe_batch *all;
    long nbatches, nrequests, ndone;
    int handed_back;
    int auth_wait;
    int freeing;

    int64_t pause_ms; /* > 0 while paused by a configuration error */
    int64_t paused_until;
    int probing;

    struct pe_window win; /* the circuit breaker's answers */
    int breaker_open;

    struct hd_push_result *res; /* classify scratch, tokens_per_request */
    struct hd_buf enc;          /* encoding scratch */
    struct pe_metrics m;
};

/* Makes a waiting step() return: the transport's wake-up. Any thread. */
static inline void
pe_wake(struct hd_pushengine *e)
{
    if (e->deps.transport.wake)
        e->deps.transport.wake(e->deps.transport.ud);
}

#endif
