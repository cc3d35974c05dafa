/* engine.h -- the push-worker engine: delivery batches in, HTTP
 * requests out, one outcome per device, done only when all is settled.
 *
 * common/push/ owns what every push worker shares: this engine (engine.c:
 * inbox, held batches, the engine thread's turn; send.c: requests,
 * answers, pauses, the drain; settle.c: feedback, re-queue and dead-letter
 * records; outcome.c: the decisions, as pure functions), the provider
 * contract and the worker process (worker.h, worker.c), and the cached
 * provider credential (credential.h). Nothing in it names a provider.
 *
 * It knows neither Kafka nor libcurl: records arrive through
 * hd_pushengine_offer(), requests leave through a transport (httpc in
 * production, a fake in tests), produced records go to a sink (the Kafka
 * producer, or memory) and finished records are handed back through done().
 * The invariant that makes at-least-once hold: done(partition, offset) is
 * called only when every target of the batch has an outcome (sent,
 * token_invalid, failed, expired, re-queued or dead-lettered) and every
 * record produced for it (feedback, re-queue, dead letter) has been
 * acknowledged. Anything else stays undone and is delivered again.
 *
 * Threads: one engine thread calls hd_pushengine_step() (and everything
 * else not marked "any thread"); the transport's callbacks run inside
 * step(). offer(), wake(), drain() and the sink's acknowledgements may
 * come from any thread. */
#ifndef HD_PUSHENGINE_H
#define HD_PUSHENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/metrics.h"
#include "push/engine_deps.h"
#include "push/worker.h"
#include "core/rand.h"

struct hd_pushengine;

/* new: the engine (cfg and deps copied; the strings they point to are
 * borrowed). NULL with err on bad settings. */
struct hd_pushengine *hd_pushengine_new(const struct hd_pushworker_config *cfg,
                                        const struct hd_pushengine_deps *deps,
                                        struct hd_err *err);

/* Frees everything, settled or not, without calling done() or producing.
 * The transport must have cancelled its requests already (their callbacks
 * may still arrive during this call and are ignored). NULL is a no-op. */
void hd_pushengine_free(struct hd_pushengine *e);

/* Takes one herald.deliver record (copied, decoded here: call it on the
 * consumer thread). ts_ms is the record's timestamp (-1 unknown). A record
 * that does not decode is dead-lettered. Any thread. */
void hd_pushengine_offer(struct hd_pushengine *e, int32_t partition,
                         int64_t offset, const void *value, size_t len,
                         int64_t ts_ms);

/* One turn of the engine thread: takes what arrived, starts due batches,
 * submits requests up to the concurrency limit, then waits in the
 * transport up to max_wait_ms (less when a timer is due). Returns 0, or
 * -1 with err when the transport failed for good. */
int hd_pushengine_step(struct hd_pushengine *e, int max_wait_ms,
                       struct hd_err *err);

/* Makes a waiting step() return. Any thread. */
void hd_pushengine_wake(struct hd_pushengine *e);

/* Begins shutdown: no new request starts; targets of a started batch that
 * were never tried are handed back as a new record (same attempt), so the
 * batch can finish; unstarted batches stay undone. Any thread. */
void hd_pushengine_drain(struct hd_pushengine *e);

/* 1 when draining and nothing is in flight any more: no request, no
 * unacknowledged record. Engine thread. */
int hd_pushengine_drained(struct hd_pushengine *e);

/* Engine-thread bookkeeping after the transport and the sink are gone:
 * finishes batches whose last acknowledgement arrived. */
void hd_pushengine_collect(struct hd_pushengine *e);

struct hd_pushengine_stats {
    long batches;     /* held by the engine, not yet done */
    long held;        /* waiting for not_before */
    long requests;    /* in flight */
    long records;     /* produced, not yet acknowledged */
    long done;        /* records finished since start */
    int paused;       /* 1 while a configuration error pauses sends */
    int breaker_open; /* 1 while token removal is suspended */
};

/* Engine thread (or after the engine thread stopped). */
void hd_pushengine_stats(struct hd_pushengine *e,
                         struct hd_pushengine_stats *st);

#endif
