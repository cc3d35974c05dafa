/* hub_event.h -- one notification on its way to connections: routed once,
 * encoded once per protocol, and its framed bytes shared by every
 * recipient.
 *
 * A struct hub_event is created by the Kafka consumer or by POST /send,
 * handed to every service thread, and released by each once routed; the
 * last release calls the done callback (the Kafka offset is then marked
 * done). The framed bytes live in struct hub_frame, reference-counted
 * atomically once per thread; inside a thread, connection queues count
 * their references in a struct hub_lframe without atomics, so fan-out to
 * 10,000 connections costs no shared cache-line traffic. */
#ifndef HUB_EVENT_H
#define HUB_EVENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "proto/msg.h"
#include "services/hub/hub_signalr.h"

/* Immutable bytes shared between threads. */
struct hub_frame {
    atomic_int refs;
    uint32_t len;
    unsigned char data[];
};

/* new: a copy of len bytes with one reference. */
struct hub_frame *hub_frame_new(const void *data, size_t len);
void hub_frame_ref(struct hub_frame *f);
/* Drops one reference; the last frees. NULL is a no-op. Any thread. */
void hub_frame_unref(struct hub_frame *f);

/* One thread's handle on a frame: refs counts that thread's queue entries.
 * A static lframe (shared NULL, refs pinned by its owner) serves constant
 * messages such as Ping. Owning thread only. */
struct hub_lframe {
    uint32_t refs;
    uint32_t len;
    const unsigned char *data;
    struct hub_frame *shared; /* NULL for static bytes */
};

/* new: a handle holding one reference to f (taken here) and refs = 1. */
struct hub_lframe *hub_lframe_new(struct hub_frame *f);
static inline void
hub_lframe_ref(struct hub_lframe *lf)
{
    lf->refs++;
}
/* Drops one reference; the last drops the shared frame and frees. */
void hub_lframe_unref(struct hub_lframe *lf);

typedef void hub_event_done_fn(void *ud);

struct hub_event {
    atomic_int pending; /* holders that have not released it */
    enum hd_event_target target;
    char *target_id; /* new; NULL for a broadcast (never today) */
    int client_type; /* 0 = every client type */
    struct hub_frame *frames[HUB_PROTO__COUNT];
    int64_t created_ms;      /* producer time, for the lag metric */
    hub_event_done_fn *done; /* may be NULL */
    void *done_ud;
};

/* new: routes nothing yet; encodes notification (borrowed) for both
 * protocols as an invocation of ReceiveMessage, or of
 * AuthRequestResponseRecieved for HD_TARGET_AUTH_REQUEST. pending = 1.
 * NULL with err when it cannot be encoded within HD_HUB_FRAME_MAX. */
struct hub_event *hub_event_new(enum hd_event_target target,
                                const char *target_id, int client_type,
                                json_t *notification, struct hd_err *err);

/* Adds n holders (before handing the event to n threads). */
void hub_event_hold(struct hub_event *e, int n);

/* Drops one holder; the last calls done(done_ud) and frees. Any thread. */
void hub_event_release(struct hub_event *e);

/* The SignalR target an event of that kind is invoked as. */
const char *hub_event_method(enum hd_event_target target);

/* Builds an event from a Bitwarden notification {Type, Payload,
 * ContextId} in any key case (a POST /send body): routed with the §3.4
 * table, re-keyed to PascalCase, Payload passed through. new, or NULL
 * with err (HD_EINVAL: the caller answers 400). Any thread. */
struct hub_event *hub_event_from_send(const char *body, size_t len,
                                      struct hd_err *err);

/* Builds an event from a herald.events record (docs/kafka-messages.md).
 * new, or NULL: with *unknown_type set to the record's Type when the
 * record is well formed but its Type is one this build does not know (the
 * caller drops it, as POST /send does), else with *unknown_type = -1 and
 * err for a malformed record. Any thread. */
struct hub_event *hub_event_from_record(const void *data, size_t len,
                                        long long *unknown_type,
                                        struct hd_err *err);

#endif
