/* hub_dispatch.c -- from a notification to the connections: building the
 * event (POST /send bodies, herald.events records), handing it to every
 * service thread, and routing it on each (specs/bitwarden.md 3.4-3.5).
 *
 * The notification is encoded once per protocol when the event is built;
 * each thread wraps the shared frames in its own lframe only if one of its
 * connections receives it. ContextId is never filtered here: clients drop
 * their own echoes (specs/bitwarden.md 1.8). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub.h"
#include "core/banned.h"

int
hub_dispatch(struct hub_ctx *hub, struct hub_event *e, int block)
{
    struct hub_thread *th;
    struct timespec ts;
    int t, rc = 0;

    if (e->created_ms > 0) {
        int64_t lag = hd_now_wall_ms() - e->created_ms;

        hd_histogram_observe(hub->m.lag, lag > 0 ? (double)lag / 1000.0 : 0);
    }
    hub_event_hold(e, hub->nthreads);
    for (t = 0; t < hub->nthreads; t++) {
        th = &hub->threads[t];
        pthread_mutex_lock(&th->mu);
        while (block && !th->gone && th->ninbox >= HD_HUB_INBOX_MAX) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&th->cond, &th->mu, &ts);
        }
        if (th->gone || th->ninbox >= HD_HUB_INBOX_MAX) {
            pthread_mutex_unlock(&th->mu);
            hub_event_release(e);
            rc = -1;
            continue;
        }
        if (th->ninbox == th->capinbox) {
            th->capinbox = th->capinbox ? th->capinbox * 2 : 16;
            th->inbox =
                hd_xrealloc(th->inbox, th->capinbox * sizeof(*th->inbox));
        }
        th->inbox[th->ninbox++] = e;
        if (th->ninbox == 1)
            lws_cancel_service(th->lws);
        pthread_mutex_unlock(&th->mu);
    }
    hub_event_release(e);
    return rc;
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

struct hub_event *
hub_event_from_record(const void *data, size_t len, struct hd_err *err)
{
    struct hd_msg_event ev = {0};
    enum hd_event_target target;
    struct hub_event *e = NULL;
    char *routed_id = NULL;
    const char *id;
    int client_type;

    if (hd_msg_event_decode(data, len, &ev, err) < 0)
        return NULL;
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

/* ---- routing on a service thread -------------------------------------- */

struct route {
    struct hub_thread *th;
    struct hub_event *e;
    struct hub_lframe *lf[HUB_PROTO__COUNT];
};

static void
deliver(struct route *r, struct hub_conn *c)
{
    struct hub_lframe *lf;

    if (c->state != HUB_CS_OPEN)
        return;
    if (r->e->client_type != 0 && c->client_type != r->e->client_type)
        return;
    lf = r->lf[c->proto];
    if (lf == NULL) {
        lf = hub_lframe_new(r->e->frames[c->proto]);
        r->lf[c->proto] = lf;
    }
    hub_conn_push(r->th, c, lf);
}

static void
deliver_group(struct route *r, char prefix, const char *id)
{
    struct hub_member *m, *next;
    char key[HD_ID_MAX + 8];
    int n;

    n = snprintf(key, sizeof(key), "%c:%s", prefix, id);
    if (n < 0 || (size_t)n >= sizeof(key))
        return;
    for (m = hub_registry_members(&r->th->reg, key, (size_t)n); m; m = next) {
        next = m->next; /* pushes never leave groups, but be safe */
        deliver(r, m->owner);
    }
}

void
hub_route(struct hub_thread *th, struct hub_event *e)
{
    const char *inst = th->hub->cfg.installation_id;
    struct route r = {th, e, {NULL, NULL}};
    struct hub_conn *c, *next;
    int p;

    if (e->target_id == NULL)
        return;
    switch (e->target) {
    case HD_TARGET_USER:
        deliver_group(&r, 'u', e->target_id);
        break;
    case HD_TARGET_ORGANIZATION:
        deliver_group(&r, 'o', e->target_id);
        break;
    case HD_TARGET_AUTH_REQUEST:
        deliver_group(&r, 'a', e->target_id);
        break;
    case HD_TARGET_INSTALLATION:
        /* every main-hub connection is in Installation_<own id> */
        if (inst == NULL || strcmp(inst, e->target_id) != 0)
            break;
        for (c = th->conns; c; c = next) {
            next = c->next;
            if (c->kind == HUB_KIND_MAIN)
                deliver(&r, c);
        }
        break;
    default:
        break;
    }
    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        if (r.lf[p])
            hub_lframe_unref(r.lf[p]);
    }
}
