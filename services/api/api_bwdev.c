/* api_bwdev.c -- Bitwarden's client device endpoints: PUT|POST
 * /devices/identifier/{identifier}/token, .../web-push-auth (a browser's
 * Web Push subscription, stored as a webpush device) and .../clear-token.
 *
 * The bearer JWT gives the user (sub), the provider (devicetype: Android
 * FCM, iOS APNs, AndroidAmazon ADM: stored, counted, never delivered, as
 * no worker speaks ADM; any other device type is answered 200 and not
 * registered, as upstream) and the organizations, which become the device's
 * own channels "org:<id>". clear-token removes the user's devices with that
 * identifier; without a token (as the apps call it at logout, allowed
 * unless HERALD_API_CLEAR_TOKEN_ANONYMOUS=false) every device with that
 * identifier, rate-limited per client address, 404 when there is none.
 * 200 with no body, as Bitwarden. Worker threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/bitwarden.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "services/api/api_webpush.h"
#include "core/banned.h"

#define BW_PUSH_TOKEN_MAX 255 /* DeviceTokenRequestModel.PushToken */

/* Verifies the bearer token into *u. 1 when valid; 0 when there is no
 * Authorization header (nothing answered); -1 after answering 401. */
static int
user_of(struct api_ctx *ctx, struct hd_http_req *req, struct hd_user *u)
{
    const char *h = hd_http_req_header(req, "Authorization");
    struct hd_err err = {0};
    const char *tok;
    size_t len = 0;

    if (h == NULL)
        return 0;
    tok = api_bearer(h, &len);
    if (tok == NULL || ctx->tokens == NULL ||
        hd_usertoken_verify(ctx->tokens, tok, len, u, &err) < 0) {
        hd_log(HD_LOG_INFO, 0, "device endpoint: user token refused: %s",
               tok == NULL           ? "not a bearer token"
               : ctx->tokens == NULL ? "no user-token key configured"
                                     : err.msg);
        hd_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        hd_http_respond_error(req, 401, "unauthorized",
                              "a valid user access token is required");
        return -1;
    }
    return 1;
}

static const char *
identifier_of(struct hd_http_req *req)
{
    const char *id = hd_http_req_param(req, "identifier");
    struct hd_err err = {0};

    if (id == NULL ||
        api_check_str(API_K_ID, id, strlen(id), "identifier", &err) < 0) {
        hd_http_respond_error(req, 400, "bad_request",
                              "identifier: 1 to %d printable characters",
                              HD_ID_MAX);
        return NULL;
    }
    return id;
}

static int
device_type_of(struct hd_http_req *req, const struct hd_user *u)
{
    const char *h = hd_http_req_header(req, "Device-Type");
    int t = -1;

    if (u->device_type >= 0)
        return u->device_type;
    if (h != NULL && hd_parse_int(h, 0, 255, &t) == 0)
        return t;
    return -1;
}

/* The user's organizations as channels "org:<id>" (new). */
static json_t *
org_channels(const struct hd_user *u)
{
    json_t *a = json_array();
    char ch[HD_ID_MAX + 8];
    size_t i;

    for (i = 0; i < u->norgs && i < HD_LIST_MAX; i++) {
        snprintf(ch, sizeof(ch), "org:%s", u->orgs[i]);
        json_array_append_new(a, json_string(ch));
    }
    return a;
}

static void
respond_ok(struct hd_http_req *req)
{
    hd_http_respond(req, 200, NULL, NULL, 0);
}

/* Self-hosted mode: tells the upstream relay too (api_sink_relay.c). Like
 * upstream, a relay failure is logged and does not fail the request: the
 * device is saved and re-registers on its next token update. */
static void
relay_register(struct api_ctx *ctx, json_t *device,
               const struct api_register *r, const struct hd_user *u)
{
    struct api_sink_device d;
    struct hd_err err = {0};
    json_t *orgs = json_array();
    size_t i;

    for (i = 0; i < u->norgs && i < HD_LIST_MAX; i++)
        json_array_append_new(orgs, json_string(u->orgs[i]));
    d.id = json_string_value(json_object_get(device, "id"));
    d.token = r->token;
    d.user = r->user;
    d.identifier = r->identifier;
    d.device_type = r->device_type;
    d.org_ids = orgs;
    if (d.id != NULL && api_sink_device_register(&ctx->sink, &d, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "device token: relay: %s", err.msg);
    json_decref(orgs);
}

/* The removed device ids of a bw_clear_* result, told to the relay. */
static void
relay_remove(struct api_ctx *ctx, PGresult *res)
{
    struct hd_err err = {0};
    int i;

    for (i = 0; res != NULL && i < PQntuples(res); i++)
        if (api_sink_device_remove(&ctx->sink, PQgetvalue(res, i, 0), &err) < 0)
            hd_log(HD_LOG_WARN, 0, "clear token: relay: %s", err.msg);
}

/* 1 when r's token belongs to a device of another user under another
 * identifier: saving it would move that device to this user. The same
 * identifier (the same app installation, another account) or the same
 * user may take a token over. 0 when free; -1 with err. */
static int
token_taken(struct api_ctx *ctx, const struct api_register *r,
            const char *ident, struct hd_err *err)
{
    const char *vals[5] = {r->app, hd_provider_name(r->provider), r->token,
                           r->user, ident};
    PGresult *res = NULL;
    int taken;

    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms, "bw_token_taken", 5, vals, &res,
                  err) < 0)
        return -1;
    taken = PQntuples(res) > 0;
    PQclear(res);
    return taken;
}

/* Saves r, the device (identifier, user) of u, and answers: 409 when its
 * token is another user's device's, 200 once stored (and, with relay,
 * told to the upstream relay). */
static void
store(struct api_ctx *ctx, struct hd_http_req *req, struct api_register *r,
      const struct hd_user *u, int relay)
{
    struct hd_err err = {0};
    const char *vals[3];
    json_t *device = NULL;
    PGresult *res = NULL;
    int rc;

    rc = token_taken(ctx, r, r->identifier, &err);
    if (rc < 0)
        goto fail;
    if (rc > 0) {
        hd_http_respond_error(req, 409, "conflict",
                              "pushToken: registered to another device");
        return;
    }
    vals[0] = r->app;
    vals[1] = r->identifier;
    vals[2] = u->sub;
    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms, "bw_find", 3, vals, &res,
                  &err) < 0)
        goto fail;
    r->id = PQntuples(res) == 1 ? api_pg_get(res, 0, 0) : NULL;
    r->topics = org_channels(u);
    rc = api_register_exec(ctx, r, 1, &device, &err);
    json_decref(r->topics);
    PQclear(res);
    if (rc < 0)
        goto fail;
    if (relay)
        relay_register(ctx, device, r, u);
    json_decref(device);
    if (r->provider == HD_PROVIDER_ADM)
        hd_counter_inc(ctx->m.undeliverable);
    respond_ok(req);
    return;
fail:
    hd_log(HD_LOG_ERROR, 0, "device token: %s", err.msg);
    hd_http_respond_error(req, 500, "internal", "internal server error");
}

/* The user of a device endpoint that needs one: 1 with *u, or 0 after
 * answering 401. */
static int
user_required(struct api_ctx *ctx, struct hd_http_req *req, struct hd_user *u)
{
    int rc;

    u->device_type = -1;
    rc = user_of(ctx, req, u);
    if (rc == 0) {
        hd_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        hd_http_respond_error(req, 401, "unauthorized",
                              "a valid user access token is required");
    }
    return rc > 0;
}

void
api_handle_bw_token(struct hd_http_req *req, void *ud)
{
    struct api_ctx *ctx = ud;
    struct hd_user u = {0};
    struct hd_err err = {0};
    struct api_register r;
    const char *ident, *body, *tok;
    json_t *doc = NULL, *pt;
    size_t len = 0;
    int dt;

    if (!user_required(ctx, req, &u))
        goto out;
    ident = identifier_of(req);
    if (ident == NULL)
        goto out;
    body = hd_http_req_body(req, &len);
    doc = hd_json_parse(body ? body : "", len, &err);
    pt = hd_json_get_ci(doc, "pushToken");
    if (!json_is_string(pt) || json_string_length(pt) == 0 ||
        json_string_length(pt) > BW_PUSH_TOKEN_MAX) {
        hd_http_respond_error(req, 400, "bad_request",
                              "pushToken: required, 1 to %d characters",
                              BW_PUSH_TOKEN_MAX);
        goto out;
    }
    tok = json_string_value(pt);
    dt = device_type_of(req, &u);
    memset(&r, 0, sizeof(r));
    r.app = API_APP_DEFAULT;
    r.token = tok;
    r.user = u.sub;
    r.identifier = ident;
    r.device_type = dt;
    r.client_type = hd_bw_client_type_of_device(dt);
    if (!hd_bw_device_type_valid(dt)) {
        hd_http_respond_error(req, 400, "bad_request",
                              "device type: 0 to 26 (Device-Type header or "
                              "the token's devicetype claim), not %d",
                              dt);
        goto out;
    }
    /* Android FCM, iOS APNs; AndroidAmazon is registered on ADM upstream,
     * answered 200: stored here, never delivered (no worker speaks ADM),
     * counted. Every other type (desktop, browser, CLI) is answered 200
     * and not registered, as upstream registers only phones on its hub
     * (browsers subscribe through web-push-auth). */
    if (hd_bw_device_provider(dt, &r.provider, &r.platform) < 0) {
        hd_log(HD_LOG_INFO, 0,
               "device token: device type %d has no push provider", dt);
        respond_ok(req);
        goto out;
    }
    if (api_check_token(&ctx->rules, r.provider, tok, strlen(tok), "pushToken",
                        &err) < 0) {
        hd_http_respond_error(req, 400, "bad_request", "%s", err.msg);
        goto out;
    }
    store(ctx, req, &r, &u, 1);
out:
    json_decref(doc);
    hd_user_release(&u);
}

/* WebPushAuthRequestModel: {"endpoint","p256dh","auth"}, all required
 * strings, any key case. The subscription JSON text (new), or NULL after
 * answering 400. */
static char *
webpush_subscription(struct hd_http_req *req)
{
    static const char *const keys[] = {"endpoint", "p256dh", "auth"};
    struct hd_err err = {0};
    const char *body;
    json_t *doc, *v[3], *sub = NULL;
    char *text = NULL;
    size_t len = 0, i;

    body = hd_http_req_body(req, &len);
    doc = hd_json_parse(body ? body : "", len, &err);
    for (i = 0; i < 3; i++) {
        v[i] = hd_json_get_ci(doc, keys[i]);
        if (!json_is_string(v[i]) || json_string_length(v[i]) == 0) {
            hd_http_respond_error(req, 400, "bad_request",
                                  "%s: required, a non-empty string", keys[i]);
            goto out;
        }
    }
    sub = json_pack("{s:O,s:{s:O,s:O}}", "endpoint", v[0], "keys", "p256dh",
                    v[1], "auth", v[2]);
    text = json_dumps(sub, JSON_COMPACT);
out:
    json_decref(sub);
    json_decref(doc);
    return text;
}

void
api_handle_bw_webpush(struct hd_http_req *req, void *ud)
{
    struct api_ctx *ctx = ud;
    struct hd_user u = {0};
    struct hd_err err = {0};
    struct api_register r;
    struct hd_buf canon;
    const char *ident;
    char *sub = NULL;
    int dt;

    hd_buf_init(&canon, HD_TOKEN_MAX_WEBPUSH);
    if (!user_required(ctx, req, &u))
        goto out;
    ident = identifier_of(req);
    if (ident == NULL)
        goto out;
    sub = webpush_subscription(req);
    if (sub == NULL)
        goto out;
    /* keys on the curve, the endpoint on the push services' allowlist */
    if (api_webpush_check(ctx->rules.webpush, sub, strlen(sub), &canon, &err) <
        0) {
        hd_http_respond_error(req, 400, "bad_request", "%s", err.msg);
        goto out;
    }
    dt = device_type_of(req, &u);
    memset(&r, 0, sizeof(r));
    r.app = API_APP_DEFAULT;
    r.provider = HD_PROVIDER_WEBPUSH;
    r.platform = "web";
    r.token = canon.data;
    r.user = u.sub;
    r.identifier = ident;
    r.device_type = dt;
    r.client_type = hd_bw_client_type_of_device(dt);
    /* self-hosted mode: registered at the relay too, whose webpush worker
     * delivers it with the relay's VAPID key (upstream Bitwarden relays no
     * Web Push; docs/self-hosted.md says why Herald does) */
    store(ctx, req, &r, &u, 1);
out:
    free(sub);
    hd_buf_release(&canon);
    hd_user_release(&u);
}

/* The anonymous clear-token's rate limit per client address. 1 to go
 * on, 0 after answering 429. */
static int
anonymous_allowed(struct api_ctx *ctx, struct hd_http_req *req)
{
    const char *addr = hd_http_req_remote(req);
    int wait = hd_ratelimit_take(&ctx->clear_limit, addr ? addr : "");
    char s[16];

    if (wait == 0)
        return 1;
    snprintf(s, sizeof(s), "%d", wait);
    hd_http_req_add_header(req, "Retry-After", s);
    hd_http_respond_error(req, 429, "rate_limited",
                          "too many anonymous clear-token calls; retry in "
                          "%d s",
                          wait);
    return 0;
}

void
api_handle_bw_clear(struct hd_http_req *req, void *ud)
{
    struct api_ctx *ctx = ud;
    struct hd_user u = {0};
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[3];
    const char *ident;
    int rc;

    u.device_type = -1;
    rc = user_of(ctx, req, &u);
    if (rc < 0)
        return;
    if (rc == 0 && !ctx->cfg.clear_token_anonymous) {
        hd_http_req_add_header(req, "WWW-Authenticate", "Bearer");
        hd_http_respond_error(req, 401, "unauthorized",
                              "a valid user access token is required");
        return;
    }
    if (rc == 0 && !anonymous_allowed(ctx, req))
        return;
    ident = identifier_of(req);
    if (ident == NULL)
        goto out;
    vals[0] = API_APP_DEFAULT;
    vals[1] = ident;
    vals[2] = u.sub;
    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms,
                  rc == 1 ? "bw_clear_user" : "bw_clear_any", rc == 1 ? 3 : 2,
                  vals, &res, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "clear token: %s", err.msg);
        hd_http_respond_error(req, 500, "internal", "internal server error");
        goto out;
    }
    if (rc == 0 && PQntuples(res) == 0) { /* as upstream: it must exist */
        hd_http_respond_error(req, 404, "not_found",
                              "no device with identifier %s", ident);
        goto out;
    }
    relay_remove(ctx, res);
    respond_ok(req);
out:
    PQclear(res);
    hd_user_release(&u);
}
