/* api_sink.c -- the Kafka sink: requests to herald.requests keyed by uid
 * (so a repeated uid lands on the partition that already saw it, in
 * order); a user's hub events to herald.events keyed by user id (so
 * each partition, and each hub shard reading it, holds a fixed set of
 * users), every other hub event (organization, installation, auth
 * request) to herald.broadcast, which every hub shard reads whole.
 *
 * Records are encoded by common/proto/msg.h on the caller's thread; the
 * producer copies them, so nothing here outlives the call but the
 * callback's opaque pointer. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/limits.h"
#include "services/api/api_sink.h"
#include "core/banned.h"

#define KAFKA_CHECK_MS 1500

struct ksink {
    struct hd_kproducer *p;
    char *topic_requests;
    char *topic_events;
    char *topic_broadcast;
};

static int
k_submit(void *impl, const struct hd_msg_request *r, api_sink_cb *cb,
         void *opaque, struct hd_err *err)
{
    struct ksink *k = impl;
    struct hd_buf b;
    int rc;

    hd_buf_init(&b, HD_KAFKA_MAX_MESSAGE);
    rc = hd_msg_request_encode(r, &b, err);
    if (rc == 0)
        rc = hd_kproducer_send(k->p, k->topic_requests, r->uid, strlen(r->uid),
                               b.data, b.len, cb, opaque, err);
    hd_buf_release(&b);
    if (rc < 0 && err->code == HD_EINVAL) /* ours, not the caller's */
        err->code = HD_EUPSTREAM;
    return rc;
}

static int
k_publish(void *impl, const struct hd_msg_event *e, api_sink_cb *cb,
          void *opaque, struct hd_err *err)
{
    struct ksink *k = impl;
    const char *key = e->target_id;
    const char *topic =
        e->target == HD_TARGET_USER ? k->topic_events : k->topic_broadcast;
    struct hd_buf b;
    int rc;

    hd_buf_init(&b, HD_KAFKA_MAX_MESSAGE);
    rc = hd_msg_event_encode(e, &b, err);
    if (rc == 0)
        rc = hd_kproducer_send(k->p, topic, key, key ? strlen(key) : 0, b.data,
                               b.len, cb, opaque, err);
    hd_buf_release(&b);
    return rc;
}

static int
k_check(void *impl, struct hd_err *err)
{
    struct ksink *k = impl;

    return hd_kproducer_ping(k->p, KAFKA_CHECK_MS, err);
}

static void
k_free(void *impl)
{
    struct ksink *k = impl;

    free(k->topic_requests);
    free(k->topic_events);
    free(k->topic_broadcast);
    free(k);
}

static const struct api_sink_ops kafka_ops = {
    "kafka", k_submit, k_publish, k_check, k_free, NULL, NULL,
};

void
api_sink_kafka_init(struct api_sink *s, struct hd_kproducer *p,
                    const char *topic_requests, const char *topic_events,
                    const char *topic_broadcast)
{
    struct ksink *k = hd_xcalloc(1, sizeof(*k));

    k->p = p;
    k->topic_requests = hd_xstrdup(topic_requests);
    k->topic_events = hd_xstrdup(topic_events);
    k->topic_broadcast = hd_xstrdup(topic_broadcast);
    s->ops = &kafka_ops;
    s->impl = k;
}

void
api_sink_release(struct api_sink *s)
{
    if (s->ops != NULL)
        s->ops->free(s->impl);
    memset(s, 0, sizeof(*s));
}

int
api_sink_check(void *ud, struct hd_err *err)
{
    struct api_sink *s = ud;

    return s->ops->check(s->impl, err);
}
