/* api_sink.h -- where accepted sends and hub events go: a small vtable.
 *
 * The handlers only ever "submit a request" and "publish an event"; the
 * sink decides how. The Kafka sink (api_sink.c) writes herald.requests
 * (keyed by uid), herald.events (user events, keyed by user id) and
 * herald.broadcast (the other hub events). A self-hosted
 * sink (upstream relay + herald-hub's POST /send) can be added behind the
 * same operations without touching a handler. It does not decide what to
 * send: records arrive complete and validated. */
#ifndef API_SINK_H
#define API_SINK_H

#include <jansson.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "kafka/kafka.h"
#include "proto/msg.h"

/* A mobile device as an upstream relay registers it (all borrowed). */
struct api_sink_device {
    const char *id;         /* Herald's device id */
    const char *token;      /* push token */
    const char *user;       /* user id */
    const char *identifier; /* the client's device identifier */
    int device_type;        /* Bitwarden DeviceType (0 Android, 1 iOS) */
    json_t *org_ids;        /* array of organization ids, or NULL */
};

/* The outcome of one submit/publish: ok 1 when it is durably accepted, 0
 * with errstr (borrowed for the call) when it failed for good. Runs
 * exactly once, on a sink thread (the Kafka producer's): keep it short. */
typedef void api_sink_cb(void *opaque, int ok, const char *errstr);

struct api_sink_ops {
    const char *name;
    /* Returns 0 and cb runs later, or -1 with err and cb never runs:
     * HD_EINVAL when this sink cannot carry such a request (err's message
     * is for the caller), HD_ETOOBIG when it is too large, any other code
     * for an internal failure. Thread-safe. The record is read during the
     * call only. */
    int (*submit_request)(void *impl, const struct hd_msg_request *r,
                          api_sink_cb *cb, void *opaque, struct hd_err *err);
    int (*publish_event)(void *impl, const struct hd_msg_event *e,
                         api_sink_cb *cb, void *opaque, struct hd_err *err);
    /* For /readyz: 0 when the destination answers. */
    int (*check)(void *impl, struct hd_err *err);
    void (*free)(void *impl);
    /* Optional (NULL: the registry is all there is). Tell an upstream
     * registry that a device was registered or removed; they block until
     * it answers, so call them from worker threads only. 0 or -1. */
    int (*device_register)(void *impl, const struct api_sink_device *d,
                           struct hd_err *err);
    int (*device_remove)(void *impl, const char *device_id, struct hd_err *err);
};

struct api_sink {
    const struct api_sink_ops *ops;
    void *impl;
};

/* A sink over an existing producer (borrowed: it must outlive the sink)
 * and the three full topic names (copied). */
void api_sink_kafka_init(struct api_sink *s, struct hd_kproducer *p,
                         const char *topic_requests, const char *topic_events,
                         const char *topic_broadcast);

/* Self-hosted mode (DESIGN.md §2, api_sink_relay.c): no Kafka. Mobile
 * sends and device registrations go to an upstream Bitwarden-compatible
 * relay with installation credentials (token cached for half its life;
 * a 400 from identity stops token requests for a day, as upstream does);
 * hub events go to herald-hub's POST /send. */
struct api_selfhost_config {
    char *relay_url;        /* HERALD_SELFHOST_RELAY_URL ("": no mobile) */
    char *identity_url;     /* HERALD_SELFHOST_IDENTITY_URL (= relay) */
    char *installation_id;  /* HERALD_SELFHOST_INSTALLATION_ID */
    char *installation_key; /* HERALD_SELFHOST_INSTALLATION_KEY */
    char *ca_file;          /* HERALD_SELFHOST_CA_FILE */
    char *hub_url;          /* HERALD_SELFHOST_HUB_URL */
    char *internal_key;     /* HERALD_INTERNAL_KEY: bearer of hub /send */
    int timeout_ms;         /* HERALD_SELFHOST_TIMEOUT_MS */
    int workers;            /* HERALD_SELFHOST_WORKERS */
    const struct hd_clock *clock; /* not a variable: NULL is the system
                                   * clock; tests pass a fake (borrowed) */
};

extern const struct hd_config_field api_selfhost_config_fields[];

/* Makes the self-hosted sink (cfg is copied). Returns 0, or -1 with err
 * naming the variable that is missing or wrong. */
int api_sink_relay_init(struct api_sink *s,
                        const struct api_selfhost_config *cfg,
                        struct hd_err *err);

/* Frees the implementation and zeroes s. A zeroed s is a no-op. */
void api_sink_release(struct api_sink *s);

static inline int
api_sink_submit(struct api_sink *s, const struct hd_msg_request *r,
                api_sink_cb *cb, void *opaque, struct hd_err *err)
{
    return s->ops->submit_request(s->impl, r, cb, opaque, err);
}

static inline int
api_sink_publish(struct api_sink *s, const struct hd_msg_event *e,
                 api_sink_cb *cb, void *opaque, struct hd_err *err)
{
    return s->ops->publish_event(s->impl, e, cb, opaque, err);
}

/* Both return 0 when the sink has no upstream registry. */
static inline int
api_sink_device_register(struct api_sink *s, const struct api_sink_device *d,
                         struct hd_err *err)
{
    return s->ops->device_register ? s->ops->device_register(s->impl, d, err)
                                   : 0;
}

static inline int
api_sink_device_remove(struct api_sink *s, const char *device_id,
                       struct hd_err *err)
{
    return s->ops->device_remove
               ? s->ops->device_remove(s->impl, device_id, err)
               : 0;
}

/* Health-check adapter: ud is a struct api_sink *. */
int api_sink_check(void *ud, struct hd_err *err);

#endif
