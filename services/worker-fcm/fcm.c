/* fcm.c -- FCM HTTP v1 requests and the reading of their answers
 * (specs/providers.md 1.3-1.5).
 *
 * One messages:send per token: the delivery's "message" is serialised once
 * per batch without any target, and each request splices its own
 * "token" (or "topic"/"condition") in front of it, so a 500-token batch
 * costs one JSON serialisation. A message FCM would refuse for its size or
 * its data values is refused here before any token is spent on it.
 * INVALID_ARGUMENT removes a token only when the answer proves the token
 * is at fault: FCM uses the same code for a bad payload. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/limits.h"
#include "http/url.h"
#include "services/worker-fcm/fcm.h"
#include "core/banned.h"

#define QUOTA_MIN_MS 60000 /* FCM: wait at least a minute on quota errors */
#define BAD_TOKEN_MSG "The registration token is not a valid FCM registration"

static const struct hd_config_field fcm_fields[] = {
    HD_CFG_STR("HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE", struct fcm_config,
               service_account, NULL, HD_CFG_REQUIRED,
               "service-account JSON downloaded from the Firebase console"),
    HD_CFG_STR("HERALD_WORKER_FCM_URL", struct fcm_config, url,
               "https://fcm.googleapis.com", 0,
               "FCM base URL (keep it; redirect with "
               "HERALD_WORKER_CONNECT_TO)"),
    HD_CFG_STR("HERALD_WORKER_FCM_TOKEN_URL", struct fcm_config, token_url, "",
               0,
               "where token requests go (default: the file's token_uri, "
               "which stays the assertion's audience)"),
    HD_CFG_STR("HERALD_WORKER_FCM_PROJECT_ID", struct fcm_config, project, "",
               0, "Firebase project (default: the file's project_id)"),
    HD_CFG_END,
};

struct fcm {
    struct fcm_auth *auth;
    const struct hd_clock *clock;
    char *send_url; /* <url>/v1/projects/<project>/messages:send */
};

/* Per batch: the message without target, braces stripped. */
struct fcm_batch {
    struct hd_buf inner;
};

static const char *const targets[] = {"token", "topic", "condition", "fid",
                                      NULL};

static int
fcm_init(void **st, const void *cfgp, const struct hd_push_env *env,
         struct hd_err *err)
{
    const struct fcm_config *cfg = cfgp;
    struct fcm *f = hd_xcalloc(1, sizeof(*f));
    size_t n;

    f->clock = env->clock;
    f->auth = fcm_auth_new(cfg, env, err);
    if (f->auth == NULL) {
        free(f);
        return -1;
    }
    n = hd_url_base_len(cfg->url);
    f->send_url = hd_xasprintf("%.*s/v1/projects/%s/messages:send", (int)n,
                               cfg->url, fcm_auth_project(f->auth));
    *st = f;
    return 0;
}

static void
fcm_free(void *st)
{
    struct fcm *f = st;

    if (f == NULL)
        return;
    fcm_auth_free(f->auth);
    free(f->send_url);
    free(f);
}

static int
fcm_auth_ready(void *st, struct hd_err *err)
{
    struct fcm *f = st;

    return hd_pushauth_ready(fcm_auth_cache(f->auth), err);
}

static void
fcm_auth_reject(void *st, unsigned gen)
{
    struct fcm *f = st;

    hd_pushauth_reject(fcm_auth_cache(f->auth), gen);
}

/* FCM refuses non-string data values and reserved keys: catch them before
 * spending tokens (specs/providers.md 1.3). */
static int
check_data(json_t *msg, struct hd_err *err)
{
    json_t *data = json_object_get(msg, "data");
    const char *k;
    json_t *v;

    if (data == NULL)
        return 0;
    if (!json_is_object(data))
        return hd_err_set(err, HD_EINVAL, "message.data: must be an object");
    json_object_foreach(data, k, v)
    {
        if (!json_is_string(v))
            return hd_err_set(err, HD_EINVAL,
                              "message.data.%s: values must be strings", k);
        if (strcmp(k, "from") == 0 || strcmp(k, "message_type") == 0 ||
            strcmp(k, "gcm") == 0 || strncmp(k, "google.", 7) == 0 ||
            strncmp(k, "gcm.", 4) == 0)
            return hd_err_set(err, HD_EINVAL, "message.data.%s: reserved key",
                              k);
    }
    return 0;
}

static int
fcm_prepare(void *st, const struct hd_msg_delivery *d, void **bctx,
            struct hd_err *err)
{
    json_t *msg = hd_push_message(d, err);
    struct fcm_batch *b;

    (void)st;
    if (msg == NULL || check_data(msg, err) < 0)
        return -1;
    b = hd_xcalloc(1, sizeof(*b));
    if (hd_push_inner_init(&b->inner, msg, targets, HD_PAYLOAD_MAX_FCM, "FCM",
                           err) < 0) {
        free(b);
        return -1;
    }
    *bctx = b;
    return 0;
}

static void
fcm_unprepare(void *st, void *bctx)
{
    struct fcm_batch *b = bctx;

    (void)st;
    if (b == NULL)
        return;
    hd_buf_release(&b->inner);
    free(b);
}

static int
fcm_build(void *st, void *bctx, const struct hd_msg_delivery *d, size_t first,
          size_t n, struct hd_push_req *req, struct hd_err *err)
{
    struct fcm *f = st;
    struct fcm_batch *b = bctx;
    const char *key, *value;
    int rc;

    (void)n;
    rc = hd_pushauth_get(fcm_auth_cache(f->auth), &req->auth, &req->auth_gen,
                         err);
    if (rc <= 0)
        return hd_err_set(err, HD_EAUTH, "no access token");
    if (d->rtype == HD_RT_DEVICE) {
        key = "token";
        value = d->tokens[first].token;
    } else if (d->rtype == HD_RT_TOPIC) {
        key = "topic";
        value = d->topic;
    } else {
        key = "condition";
        value = d->condition;
    }
    if (hd_buf_printf(&req->body, err, "{\"message\":{\"%s\":\"", key) < 0 ||
        hd_buf_json_escape(&req->body, value, strlen(value), err) < 0 ||
        hd_buf_puts(&req->body, b->inner.len ? "\"," : "\"", err) < 0 ||
        hd_buf_append(&req->body, b->inner.data, b->inner.len, err) < 0 ||
        hd_buf_puts(&req->body, "}}", err) < 0)
        return -1;
    req->http.method = "POST";
    req->http.url = f->send_url;
    req->http.headers[0] = "Content-Type: application/json; charset=UTF-8";
    req->http.headers[1] = req->auth.data;
    req->http.nheaders = 2;
    req->http.body = req->body.data;
    req->http.len = req->body.len;
    return 0;
}

/* ---- answers ------------------------------------------------------------ */

struct fcm_error {
    const char *status; /* google.rpc.Status "status" */
    const char *message;
    const char *code;    /* FcmError errorCode, NULL without one */
    const char *apns;    /* ApnsError reason */
    int token_violation; /* BadRequest fieldViolation on message.token */
};

static int
type_is(json_t *d, const char *suffix)
{
    const char *t = json_string_value(json_object_get(d, "@type"));
    size_t tl, sl = strlen(suffix);

    if (t == NULL)
        return 0;
    tl = strlen(t);
    return tl >= sl && strcmp(t + tl - sl, suffix) == 0;
}

static void
read_error(json_t *root, struct fcm_error *e)
{
    json_t *er = json_object_get(root, "error");
    json_t *details, *d, *fv, *v;
    size_t i, k;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(er))
        return;
    e->status = json_string_value(json_object_get(er, "status"));
    e->message = json_string_value(json_object_get(er, "message"));
    details = json_object_get(er, "details");
    json_array_foreach(details, i, d)
    {
        if (type_is(d, ".FcmError"))
            e->code = json_string_value(json_object_get(d, "errorCode"));
        else if (type_is(d, ".ApnsError"))
            e->apns = json_string_value(json_object_get(d, "reason"));
        else if (type_is(d, ".BadRequest")) {
            fv = json_object_get(d, "fieldViolations");
            json_array_foreach(fv, k, v)
            {
                const char *field =
                    json_string_value(json_object_get(v, "field"));

                if (field && strcmp(field, "message.token") == 0)
                    e->token_violation = 1;
            }
        }
    }
}

static int
is(const char *s, const char *v)
{
    return s != NULL && strcmp(s, v) == 0;
}

void
fcm_classify(int status, const char *body, size_t len, uint64_t retry_after_ms,
             struct hd_push_result *res)
{
    struct fcm_error e;
    char fallback[32];
    const char *code;
    json_t *root;

    memset(res, 0, sizeof(*res));
    res->http_status = status;
    if (status == 200) {
        res->action = HD_PUSH_SENT;
        return;
    }
    root = hd_json_parse(body, len, NULL);
    read_error(root, &e);
    snprintf(fallback, sizeof(fallback), "HTTP_%d", status);
    code = e.code ? e.code : e.status ? e.status : fallback;
    if (e.code == NULL) {
        /* no FcmError: never a token problem */
        if (status == 401)
            hd_push_result_set(res, HD_PUSH_REAUTH, code);
        else if (status == 403 || status == 404)
            hd_push_result_set(res, HD_PUSH_CONFIG, code);
        else if (status == 429 || status >= 500)
            hd_push_result_set(res, HD_PUSH_RETRY, code);
        else
            hd_push_result_set(res, HD_PUSH_BAD_REQUEST, code);
    } else if (is(e.code, "UNREGISTERED")) {
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, code);
    } else if (is(e.code, "INVALID_ARGUMENT")) {
        if (is(e.apns, "Unregistered") || is(e.apns, "BadDeviceToken") ||
            is(e.apns, "ExpiredToken") || e.token_violation ||
            (e.message &&
             strncmp(e.message, BAD_TOKEN_MSG, strlen(BAD_TOKEN_MSG)) == 0))
            hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, code);
        else
            hd_push_result_set(res, HD_PUSH_BAD_REQUEST, code);
    } else if (is(e.code, "SENDER_ID_MISMATCH")) {
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, code);
        res->guarded = 1;
    } else if (is(e.code, "QUOTA_EXCEEDED")) {
        hd_push_result_set(res, HD_PUSH_RETRY, code);
        if (retry_after_ms == 0)
            retry_after_ms = QUOTA_MIN_MS;
    } else if (is(e.code, "THIRD_PARTY_AUTH_ERROR") ||
               is(e.code, "APNS_AUTH_ERROR")) {
        hd_push_result_set(res, HD_PUSH_CONFIG, code);
    } else if (status == 429 || status >= 500) {
        hd_push_result_set(res, HD_PUSH_RETRY,
                           code); /* UNAVAILABLE, INTERNAL, ... */
    } else {
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, code);
    }
    if (res->action == HD_PUSH_RETRY)
        res->retry_after_ms = retry_after_ms;
    json_decref(root);
}

static void
fcm_answer(void *st, const struct hd_msg_delivery *d, size_t first, size_t n,
           const struct hd_httpc_resp *resp, struct hd_push_result *res)
{
    struct fcm *f = st;
    uint64_t ra = 0;

    (void)d;
    (void)first;
    (void)n;
    if (resp->status != 200)
        ra = hd_push_retry_after(resp, f->clock);
    fcm_classify(resp->status, resp->body, resp->len, ra, res);
}

const struct hd_push_provider fcm_provider = {
    .name = "fcm",
    .binary = "herald-worker-fcm",
    .id = HD_PROVIDER_FCM,
    .platform = "all",
    .port_var = "HERALD_WORKER_FCM_PORT",
    .default_port = 9101,
    .summary = "delivers herald.deliver.fcm through FCM HTTP v1",
    .tokens_per_request = 1,
    .default_connections = 8,
    .default_streams = 100,
    .native_h2 = 1,
    .version = HD_HTTPC_HTTP2,
    .fields = fcm_fields,
    .cfg_size = sizeof(struct fcm_config),
    .init = fcm_init,
    .free = fcm_free,
    .auth = fcm_auth_ready,
    .auth_reject = fcm_auth_reject,
    .prepare = fcm_prepare,
    .unprepare = fcm_unprepare,
    .build = fcm_build,
    .classify = fcm_answer,
};
