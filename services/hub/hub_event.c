/* hub_event.c -- events and their shared frames, and building an event
 * from what the hub receives (POST /send bodies, herald.events records),
 * routed with the Bitwarden table when the producer did not say where.
 *
 * Both encodings are made eagerly when the event is created, on the
 * producing thread (Kafka or HTTP), so service threads only copy bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/limits.h"
#include "proto/bitwarden.h"
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

/* ---- building events --------------------------------------------------- */

/* The notification re-keyed to PascalCase; Payload and ContextId values
 * are shared, not copied. new. */
static json_t *
pascal_notification(json_t *doc)
{
    json_t *n = json_object();
    json_t *v;

    v = hd_json_get_ci(doc, "Type");
    json_object_set(n, "Type", v ? v : json_null());
    v = hd_json_get_ci(doc, "Payload");
    json_object_set(n, "Payload", v ? v : json_null());
    v = hd_json_get_ci(doc, "ContextId");
    json_object_set(n, "ContextId", v ? v : json_null());
    return n;
}

/* Herald's routing extension of a /send body, the herald.events record's
 * fields: "target" (user, organization, installation, auth_request),
 * "target_id", "client_type" (0-5). Returns 1 when present (target and
 * *id set, *id new), 0 when absent, -1 with err when malformed. */
static int
send_target(json_t *doc, enum hd_event_target *target, char **id,
            int *client_type, struct hd_err *err)
{
    json_t *t = json_object_get(doc, "target");
    json_t *tid = json_object_get(doc, "target_id");
    json_t *ct = json_object_get(doc, "client_type");

    if (t == NULL && tid == NULL && ct == NULL)
        return 0;
    if (!json_is_string(t) ||
        hd_event_target_parse(json_string_value(t), target) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "target: must be one of user, organization, "
                          "installation, auth_request");
    if (!json_is_string(tid) || json_string_length(tid) == 0 ||
        json_string_length(tid) > HD_ID_MAX)
        return hd_err_set(err, HD_EINVAL,
                          "target_id: must be a string of 1 to %d bytes",
                          HD_ID_MAX);
    if (ct != NULL && (!json_is_integer(ct) || json_integer_value(ct) < 0 ||
                       json_integer_value(ct) > 5))
        return hd_err_set(err, HD_EINVAL,
                          "client_type: must be an integer from 0 to 5");
    *client_type = ct ? (int)json_integer_value(ct) : 0;
    *id = hd_xstrdup(json_string_value(tid));
    return 1;
}

struct hub_event *
hub_event_from_send(const char *body, size_t len, struct hd_err *err)
{
    enum hd_event_target target;
    struct hub_event *e = NULL;
    json_t *doc, *note = NULL;
    char *target_id = NULL;
    int client_type = 0, explicit;

    doc = hd_json_parse(body, len, err);
    if (doc == NULL)
        return NULL;
    if (!json_is_object(doc)) {
        hd_err_set(err, HD_EINVAL, "body: must be a JSON object");
        goto out;
    }
    note = pascal_notification(doc);
    explicit = send_target(doc, &target, &target_id, &client_type, err);
    if (explicit < 0 || (explicit == 0 && hd_bw_route(note, &target, &target_id,
                                                      &client_type, err) < 0))
        goto out;
    e = hub_event_new(target, target_id, client_type, note, err);
out:
    free(target_id);
    json_decref(note);
    json_decref(doc);
    return e;
}

/* The notification's Type when it is a PushType (a byte) this build does
 * not know, else -1 (a known Type, or not a byte: the router refuses it as
 * POST /send does). */
static long long
type_unknown(json_t *notification)
{
    json_t *t = hd_json_get_ci(notification, "Type");
    json_int_t n;

    if (!json_is_integer(t))
        return -1;
    n = json_integer_value(t);
    return n >= 0 && n <= 255 && !hd_bw_type_known(n) ? n : -1;
}

struct hub_event *
hub_event_from_record(const void *data, size_t len, long long *unknown_type,
                      struct hd_err *err)
{
    struct hd_msg_event ev = {0};
    enum hd_event_target target;
    struct hub_event *e = NULL;
    char *routed_id = NULL;
    const char *id;
    int client_type;

    *unknown_type = -1;
    if (hd_msg_event_decode(data, len, &ev, err) < 0)
        return NULL;
    *unknown_type = type_unknown(ev.notification);
    if (*unknown_type >= 0)
        goto out;
    target = ev.target;
    id = ev.target_id;
    client_type = ev.client_type;
    if (target == HD_TARGET_NONE) {
        if (hd_bw_route(ev.notification, &target, &routed_id, &client_type,
                        err) < 0)
            goto out;
        id = routed_id;
    }
    e = hub_event_new(target, id, client_type, ev.notification, err);
    if (e)
        e->created_ms = ev.created_ms;
out:
    free(routed_id);
    hd_msg_event_release(&ev);
    return e;
}
