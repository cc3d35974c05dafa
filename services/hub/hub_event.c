/* hub_event.c -- events and their shared frames.
 *
 * Both encodings are made eagerly when the event is created, on the
 * producing thread (Kafka or HTTP), so service threads only copy bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/limits.h"
#include "services/hub/hub_event.h"
#include "core/banned.h"

struct hub_frame *
hub_frame_new(const void *data, size_t len)
{
    struct hub_frame *f = hd_xmalloc(sizeof(*f) + len);

    atomic_init(&f->refs, 1);
    f->len = (uint32_t)len;
    memcpy(f->data, data, len);
    return f;
}

void
hub_frame_ref(struct hub_frame *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void
hub_frame_unref(struct hub_frame *f)
{
    if (f == NULL)
        return;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

struct hub_lframe *
hub_lframe_new(struct hub_frame *f)
{
    struct hub_lframe *lf = hd_xmalloc(sizeof(*lf));

    hub_frame_ref(f);
    lf->refs = 1;
    lf->len = f->len;
    lf->data = f->data;
    lf->shared = f;
    return lf;
}

void
hub_lframe_unref(struct hub_lframe *lf)
{
    if (--lf->refs > 0 || lf->shared == NULL)
        return;
    hub_frame_unref(lf->shared);
    free(lf);
}

const char *
hub_event_method(enum hd_event_target target)
{
    return target == HD_TARGET_AUTH_REQUEST ? "AuthRequestResponseRecieved"
                                            : "ReceiveMessage";
}

struct hub_event *
hub_event_new(enum hd_event_target target, const char *target_id,
              int client_type, json_t *notification, struct hd_err *err)
{
    struct hub_event *e = hd_xcalloc(1, sizeof(*e));
    struct hd_buf b;
    int p;

    hd_buf_init(&b, HD_HUB_FRAME_MAX);
    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        hd_buf_reset(&b);
        if (hub_signalr_invocation(&b, (enum hub_proto)p,
                                   hub_event_method(target), notification,
                                   err) < 0) {
            hd_buf_release(&b);
            e->pending = 1;
            hub_event_release(e);
            return NULL;
        }
        e->frames[p] = hub_frame_new(b.data, b.len);
    }
    hd_buf_release(&b);
    atomic_init(&e->pending, 1);
    e->target = target;
    e->target_id = target_id ? hd_xstrdup(target_id) : NULL;
    e->client_type = client_type;
    return e;
}

void
hub_event_hold(struct hub_event *e, int n)
{
    atomic_fetch_add_explicit(&e->pending, n, memory_order_relaxed);
}

void
hub_event_release(struct hub_event *e)
{
    int p;

    if (atomic_fetch_sub_explicit(&e->pending, 1, memory_order_acq_rel) != 1)
        return;
    if (e->done)
        e->done(e->done_ud);
    for (p = 0; p < HUB_PROTO__COUNT; p++)
        hub_frame_unref(e->frames[p]);
    free(e->target_id);
    free(e);
}
