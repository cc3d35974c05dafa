/* engine_deps.h -- what the push engine (engine.h) is given: how
 * requests leave (a transport), where produced records go (a sink) and
 * who hears that a record is finished. Types only, apart from engine.h so
 * that the engine's own parts (send.c, settle.c) and its users name them
 * without depending on engine.c.
 *
 * Threads are said per member; the engine thread is the one calling
 * hd_pushengine_step(). */
#ifndef HD_PUSH_ENGINE_DEPS_H
#define HD_PUSH_ENGINE_DEPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/client.h"
#include "push/worker.h"

/* How requests leave. submit() and run() are called on the engine thread
 * only; cb runs inside run(). wake() may be called from any thread. */
struct hd_pushtransport {
    int (*submit)(void *ud, const struct hd_httpc_req *req,
                  hd_httpc_done_fn *cb, void *cbud, struct hd_err *err);
    /* Waits up to timeout_ms for completions or a wake-up. 0 or -1. */
    int (*run)(void *ud, int timeout_ms, struct hd_err *err);
    void (*wake)(void *ud);
    void *ud;
};

enum hd_pushsink_topic {
    HD_PUSHSINK_FEEDBACK = 0, /* herald.feedback */
    HD_PUSHSINK_DELIVER,      /* herald.deliver.<provider>: re-queue */
    HD_PUSHSINK_DLQ,          /* herald.dlq */
};

/* Acknowledgement of one produced record, from any thread. */
typedef void hd_pushsink_ack_fn(void *opaque, int ok, const char *errstr);

/* Where records go. send() copies key and value; returns 0 and ack runs
 * exactly once later, or -1 and ack never runs. Engine thread. */
struct hd_pushsink {
    int (*send)(void *ud, enum hd_pushsink_topic t, const void *key,
                size_t keylen, const void *value, size_t len,
                hd_pushsink_ack_fn *ack, void *opaque, struct hd_err *err);
    void *ud;
};

struct hd_pushengine_deps {
    const struct hd_push_provider *p;
    void *pst;                    /* the provider's state */
    const struct hd_clock *clock; /* NULL: system */
    const struct hd_rand *rnd;    /* jitter; NULL: system */
    struct hd_metrics *metrics;
    const char *queue; /* source topic name: DLQ and labels */
    struct hd_pushtransport transport;
    struct hd_pushsink sink;
    /* A record is finished (engine thread). */
    void (*done)(void *ud, int32_t partition, int64_t offset);
    void *done_ud;
};

#endif
