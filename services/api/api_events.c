/* api_events.c -- POST /events: Bitwarden event ingest. Body: {Type,
 * Payload, ContextId} (any casing) plus Herald's routing (docs/api.md).
 *
 * It writes the event to herald.events for the hub and, unless it is
 * non-mobile-only, a send to the target's mobile devices and Web Push
 * subscriptions (.../web-push-auth) minus the acting
 * one (ContextId and device_identifier, as Notification Hubs'
 * !deviceIdentifier tag; applied by the fan-out) with Bitwarden's mobile
 * payloads. AuthRequestResponse (16) goes to the anonymous hub and to the
 * payload user's phones. A Type this build does not know is counted,
 * logged once and dropped with a 202, as upstream. 202 once both are
 * acknowledged. I/O thread; answers from the sink's thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api.h"
#include "core/banned.h"

#define BW_AUTH_REQUEST 15
#define BW_AUTH_REQUEST_RESPONSE 16

struct ev_wait {
    struct api_ctx *ctx;
    struct hd_http_req *req;
    pthread_mutex_t mu;
    int left;
    int failed;
    char uid[37]; /* the mobile send's uid, "" when none */
};

static void
ev_done(void *opaque, int ok, const char *errstr)
{
    struct ev_wait *w = opaque;
    int last, failed;

    pthread_mutex_lock(&w->mu);
    if (!ok)
        w->failed = 1;
    last = --w->left == 0;
    failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    if (!ok)
        hd_log(HD_LOG_ERROR, 0, "event (request %s) not queued: %s",
               hd_http_req_id(w->req), errstr);
    if (!last)
        return;
    if (failed) {
        hd_counter_inc(hd_metric_with(w->ctx->m.events, "failed"));
        hd_http_req_add_header(w->req, "Retry-After", "1");
        hd_http_respond_error(w->req, 503, "unavailable",
                              "the event could not be queued; retry");
    } else {
        json_t *body = json_pack("{s:s,s:o}", "status", "accepted", "uid",
                                 w->uid[0] ? json_string(w->uid) : json_null());

        hd_counter_inc(hd_metric_with(w->ctx->m.events, "accepted"));
        hd_http_respond_json(w->req, 202, body);
        json_decref(body);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* The parsed body. */
struct ev {
    const char *app;
    long long type;
    json_t *payload;    /* owned reference: an object */
    json_t *context_id; /* borrowed: string or null, NULL when absent */
    enum hd_event_target target;
    char *target_id; /* owned */
    long long client_type;
    int non_mobile_only;
    const char *device_identifier;
};

static void
ev_release(struct ev *e)
{
    json_decref(e->payload);
    free(e->target_id);
}

static int
known_key(const char *k)
{
    static const char *const bw[] = {"Type", "Payload", "ContextId", NULL};
    static const char *const ours[] = {
        "target", "client_type", "non_mobile_only", "device_identifier",
        "app",    NULL};
    size_t i;

    for (i = 0; bw[i]; i++)
        if (strcasecmp(k, bw[i]) == 0)
            return 1;
    for (i = 0; ours[i]; i++)
        if (strcmp(k, ours[i]) == 0)
            return 1;
    return 0;
}

static int
parse_target(json_t *t, struct ev *e, struct hd_err *err)
{
    static const char *const names[] = {"user", "organization", "installation",
                                        "auth_request"};
    static const enum hd_event_target kinds[] = {
        HD_TARGET_USER, HD_TARGET_ORGANIZATION, HD_TARGET_INSTALLATION,
        HD_TARGET_AUTH_REQUEST};
    const char *id = NULL;
    size_t i;

    if (!json_is_object(t) || json_object_size(t) != 1)
        return hd_err_set(err, HD_EINVAL,
                          "target: must be an object with exactly one of "
                          "user, organization, installation, auth_request");
    for (i = 0; i < 4; i++) {
        if (json_object_get(t, names[i]) == NULL)
            continue;
        if (api_get_str(t, "target", names[i], API_K_ID, 1, &id, err) < 0)
            return -1;
        e->target = kinds[i];
        e->target_id = hd_xstrdup(id);
        hd_bw_guid_normalize(e->target_id);
        return 0;
    }
    return hd_err_set(err, HD_EINVAL,
                      "target: must be one of user, organization, "
                      "installation, auth_request");
}

static int
parse(json_t *body, struct ev *e, struct hd_err *err)
{
    json_t *type = hd_json_get_ci(body, "Type");
    json_t *payload = hd_json_get_ci(body, "Payload");
    json_t *t;
    const char *key;
    json_t *v;

    memset(e, 0, sizeof(*e));
    json_object_foreach(body, key, v)
    {
        if (!known_key(key))
            return hd_err_set(err, HD_EINVAL, "%.64s: unknown field", key);
    }
    if (!json_is_integer(type) || json_integer_value(type) < 0 ||
        json_integer_value(type) > 255)
        return hd_err_set(err, HD_EINVAL,
                          "Type: required, an integer from 0 to 255");
    e->type = json_integer_value(type);
    if (json_is_string(payload))
        e->payload = json_loads(json_string_value(payload), 0, NULL);
    else if (json_is_object(payload))
        e->payload = json_incref(payload);
    if (!json_is_object(e->payload))
        return hd_err_set(err, HD_EINVAL, "Payload: required, an object");
    e->context_id = hd_json_get_ci(body, "ContextId");
    if (e->context_id != NULL && !json_is_null(e->context_id) &&
        (!json_is_string(e->context_id) ||
         api_check_str(API_K_ID, json_string_value(e->context_id),
                       json_string_length(e->context_id), "ContextId",
                       err) < 0))
        return hd_err_set(err, HD_EINVAL,
                          "ContextId: a string of 1 to %d characters or null",
                          HD_ID_MAX);
    if (api_get_app(body, "", &e->app, err) < 0 ||
        hd_json_int(body, "", "client_type", 0, 0, 5, &e->client_type, err) <
            0 ||
        hd_json_bool(body, "", "non_mobile_only", 0, &e->non_mobile_only, err) <
            0 ||
        api_get_str(body, "", "device_identifier", API_K_ID, 0,
                    &e->device_identifier, err) < 0)
        return -1;
    t = json_object_get(body, "target");
    if (t != NULL && !json_is_null(t))
        return parse_target(t, e, err);
    return 0;
}

/* The SignalR argument passed through: {Type, Payload, ContextId}. */
static json_t *
notification_of(const struct ev *e)
{
    json_t *n = json_pack("{s:I,s:O}", "Type", (json_int_t)e->type, "Payload",
                          e->payload);

    if (e->context_id != NULL)
        json_object_set(n, "ContextId", e->context_id);
    return n;
}

/* The user an AuthRequestResponse is for (borrowed), NULL if none. */
static const char *
auth_response_user(const struct ev *e)
{
    json_t *u = hd_json_get_ci(e->payload, "UserId");

    if (e->type != BW_AUTH_REQUEST_RESPONSE || !json_is_string(u) ||
        json_string_length(u) == 0 || json_string_length(u) > HD_ID_MAX)
        return NULL;
    return json_string_value(u);
}

static int
wants_mobile(const struct ev *e)
{
    if (e->non_mobile_only)
        return 0;
    /* the anonymous hub's event also reaches the user's other phones */
    if (e->target == HD_TARGET_AUTH_REQUEST && auth_response_user(e) == NULL)
        return 0;
    /* a client-type filter other than Mobile matches no phone, and other
     * than Web or Browser no Web Push subscription (the fan-out filters
     * the devices by client type) */
    return e->client_type == HD_BW_CLIENT_ALL ||
           e->client_type == HD_BW_CLIENT_MOBILE ||
           e->client_type == HD_BW_CLIENT_WEB ||
           e->client_type == HD_BW_CLIENT_BROWSER;
}

/* The mobile send for the event's target (r owned on success). */
static int
mobile_request(const struct ev *e, struct hd_msg_request *r, char *uid,
               struct hd_err *err)
{
    char value[HD_ID_MAX + 32];
    const char *ctx_id = json_string_value(e->context_id);

    memset(r, 0, sizeof(*r));
    r->notification =
        hd_bw_mobile_notification((int)e->type, e->payload, NULL, err);
    if (r->notification == NULL)
        return -1;
    hd_uuid4(uid);
    r->uid = hd_xstrdup(uid);
    r->app = hd_xstrdup(e->app);
    r->created_ms = hd_now_wall_ms();
    switch (e->target) {
    case HD_TARGET_USER:
        r->kind = HD_RCPT_USERS;
        r->values = json_pack("[s]", e->target_id);
        break;
    case HD_TARGET_AUTH_REQUEST:
        snprintf(value, sizeof(value), "%s", auth_response_user(e));
        hd_bw_guid_normalize(value);
        r->kind = HD_RCPT_USERS;
        r->values = json_pack("[s]", value);
        break;
    case HD_TARGET_ORGANIZATION:
        snprintf(value, sizeof(value), "org:%s", e->target_id);
        r->kind = HD_RCPT_CHANNELS;
        r->values = json_pack("[s]", value);
        break;
    default: /* installation: every device the relay registered for it */
        snprintf(value, sizeof(value), "installation:%s", e->target_id);
        r->kind = HD_RCPT_CHANNELS;
        r->values = json_pack("[s]", value);
        r->installation_id = hd_xstrdup(e->target_id);
        break;
    }
    /* the acting device: ContextId and/or device_identifier */
    r->exclude_identifiers = json_array();
    if (e->device_identifier)
        json_array_append_new(r->exclude_identifiers,
                              json_string(e->device_identifier));
    if (ctx_id != NULL && *ctx_id != '\0' &&
        (e->device_identifier == NULL ||
         strcmp(ctx_id, e->device_identifier) != 0))
        json_array_append_new(r->exclude_identifiers, json_string(ctx_id));
    if (json_array_size(r->exclude_identifiers) == 0) {
        json_decref(r->exclude_identifiers);
        r->exclude_identifiers = NULL;
    }
    r->client_type = (int)e->client_type;
    return 0;
}

/* A Type this build does not know: counted, logged once, dropped. */
static void
drop_unknown(struct api_ctx *ctx, struct hd_http_req *req, long long type)
{
    json_t *body;

    if (hd_bw_unknown_note(&ctx->m.bw_unknown, type))
        hd_log(HD_LOG_WARN, 0,
               "event: Type %lld is unknown to this build; such events are "
               "accepted and dropped (logged once per type)",
               type);
    hd_counter_inc(hd_metric_with(ctx->m.events, "dropped"));
    body = json_pack("{s:s,s:n}", "status", "dropped", "uid");
    hd_http_respond_json(req, 202, body);
    json_decref(body);
}

static void
reject(struct api_ctx *ctx, struct hd_http_req *req, int status,
       const char *code, const char *msg)
{
    hd_counter_inc(hd_metric_with(ctx->m.events, "rejected"));
    hd_http_respond_error(req, status, code, "%s", msg);
}

void
api_handle_events(struct hd_http_req *req, void *ud)
{
    struct api_ctx *ctx = ud;
    struct hd_msg_event evrec = {0};
    struct hd_msg_request r = {0};
    struct hd_err err = {0};
    struct ev_wait *w = NULL;
    const char *body;
    size_t len = 0;
    json_t *doc;
    struct ev e;
    int mobile, rc;

    memset(&e, 0, sizeof(e));
    if (!api_keys_check(&ctx->keys, hd_http_req_header(req, "Authorization"),
                        hd_http_req_header(req, "X-API-Key"))) {
        hd_http_req_add_header(req, "WWW-Authenticate", "apikey");
        reject(ctx, req, 401, "unauthorized", "missing or wrong API key");
        return;
    }
    body = hd_http_req_body(req, &len);
    doc = hd_json_parse(body ? body : "", len, &err);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        reject(ctx, req, 400, "bad_request", "body must be a JSON object");
        return;
    }
    rc = parse(doc, &e, &err);
    if (rc == 0 && !hd_bw_type_known(e.type)) {
        drop_unknown(ctx, req, e.type);
        goto out;
    }
    evrec.notification = rc == 0 ? notification_of(&e) : NULL;
    if (rc == 0 && e.target == HD_TARGET_NONE) {
        int ct = 0;

        rc =
            hd_bw_route(evrec.notification, &e.target, &e.target_id, &ct, &err);
        if (rc == 0 && e.client_type == 0)
            e.client_type = ct;
    }
    mobile = rc == 0 && wants_mobile(&e);
    w = hd_xcalloc(1, sizeof(*w));
    if (mobile && mobile_request(&e, &r, w->uid, &err) < 0)
        rc = -1;
    /* HERALD_PUSH_SKIP_ONLINE: not for a login approval (AuthRequest,
     * its response), which the phone must show whoever else is online */
    r.skip_online = ctx->presence_cfg.skip_events && r.kind == HD_RCPT_USERS &&
                    e.type != BW_AUTH_REQUEST &&
                    e.type != BW_AUTH_REQUEST_RESPONSE;
    if (rc < 0) {
        reject(ctx, req, 400,
               err.code == HD_ETOOBIG ? "too_large" : "bad_request", err.msg);
        goto out;
    }
    evrec.target = e.target;
    evrec.target_id = e.target_id;
    evrec.client_type = (int)e.client_type;
    evrec.created_ms = hd_now_wall_ms();
    w->ctx = ctx;
    w->req = req;
    pthread_mutex_init(&w->mu, NULL);
    w->left = mobile ? 2 : 1;
    /* Either failing leaves w->left short by one: account for it so the
     * other's callback still answers, once. */
    if (api_sink_publish(&ctx->sink, &evrec, ev_done, w, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "event: %s", err.msg);
        ev_done(w, 0, err.msg);
        if (mobile)
            ev_done(w, 0, "not sent: the event failed");
        w = NULL;
        goto out;
    }
    if (mobile && api_sink_submit(&ctx->sink, &r, ev_done, w, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "event's mobile send: %s", err.msg);
        ev_done(w, 0, err.msg);
    }
    w = NULL;
out:
    free(w);
    hd_msg_request_release(&r);
    json_decref(evrec.notification);
    ev_release(&e);
    json_decref(doc);
}
