/* hms.c -- HMS Push Kit v1 requests and the reading of their answers
 * (specs/providers.md 3.3-3.5).
 *
 * A whole delivery batch (up to 1000 tokens) goes out as one request: the
 * message is serialised once without its target, then the token array (or
 * topic/condition) is appended. HMS answers HTTP 200 for most business
 * errors, so the body's code decides and the status is only the fallback
 * for proxy answers. 80100000 is a partial success: only the tokens listed
 * in msg.illegal_tokens are invalid, every other token was delivered and
 * must never be sent again. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/limits.h"
#include "http/url.h"
#include "services/worker-hms/hms.h"
#include "core/banned.h"

static const struct hd_config_field hms_fields[] = {
    HD_CFG_STR("HERALD_WORKER_HMS_APP_ID", struct hms_config, app_id, NULL,
               HD_CFG_REQUIRED,
               "the app's OAuth 2.0 client id (AppGallery Connect app id)"),
    HD_CFG_STR("HERALD_WORKER_HMS_CLIENT_SECRET", struct hms_config, secret,
               NULL, HD_CFG_REQUIRED | HD_CFG_SECRET,
               "the app's OAuth 2.0 client secret"),
    HD_CFG_STR("HERALD_WORKER_HMS_URL", struct hms_config, url,
               "https://push-api.cloud.huawei.com", 0,
               "Push Kit base URL (keep it; redirect with "
               "HERALD_WORKER_CONNECT_TO)"),
    HD_CFG_STR("HERALD_WORKER_HMS_TOKEN_URL", struct hms_config, token_url,
               "https://oauth-login.cloud.huawei.com/oauth2/v3/token", 0,
               "OAuth 2.0 token endpoint"),
    HD_CFG_END,
};

struct hms {
    struct hms_auth *auth;
    const struct hd_clock *clock;
    char *send_url; /* <url>/v1/<app id>/messages:send */
};

struct hms_batch {
    struct hd_buf inner;
};

static const char *const targets[] = {"token", "topic", "condition", NULL};

static int
hms_init(void **st, const void *cfgp, const struct hd_push_env *env,
         struct hd_err *err)
{
    const struct hms_config *cfg = cfgp;
    struct hms *h = hd_xcalloc(1, sizeof(*h));
    size_t n;

    h->clock = env->clock;
    h->auth = hms_auth_new(cfg, env, err);
    if (h->auth == NULL) {
        free(h);
        return -1;
    }
    n = hd_url_base_len(cfg->url);
    h->send_url =
        hd_xasprintf("%.*s/v1/%s/messages:send", (int)n, cfg->url, cfg->app_id);
    *st = h;
    return 0;
}

static void
hms_free(void *st)
{
    struct hms *h = st;

    if (h == NULL)
        return;
    hms_auth_free(h->auth);
    free(h->send_url);
    free(h);
}

static int
hms_ready(void *st, struct hd_err *err)
{
    struct hms *h = st;

    return hd_pushauth_ready(hms_auth_cache(h->auth), err);
}

static void
hms_reject(void *st, unsigned gen)
{
    struct hms *h = st;

    hd_pushauth_reject(hms_auth_cache(h->auth), gen);
}

static int
hms_prepare(void *st, const struct hd_msg_delivery *d, void **bctx,
            struct hd_err *err)
{
    json_t *msg = hd_push_message(d, err);
    json_t *copy, *data;
    struct hms_batch *b;
    char *text;
    int rc;

    (void)st;
    if (msg == NULL)
        return -1;
    copy = json_copy(msg);
    data = json_object_get(copy, "data");
    if (data != NULL && !json_is_string(data)) {
        /* HMS wants data as a string holding JSON */
        text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        json_object_set_new(copy, "data", json_string(text ? text : ""));
        free(text);
    }
    b = hd_xcalloc(1, sizeof(*b));
    rc = hd_push_inner_init(&b->inner, copy, targets, HD_PAYLOAD_MAX_HMS, "HMS",
                            err);
    json_decref(copy);
    if (rc < 0) {
        free(b);
        return -1;
    }
    *bctx = b;
    return 0;
}

static void
hms_unprepare(void *st, void *bctx)
{
    struct hms_batch *b = bctx;

    (void)st;
    if (b == NULL)
        return;
    hd_buf_release(&b->inner);
    free(b);
}

static int
put_string(struct hd_buf *out, const char *s, struct hd_err *err)
{
    if (hd_buf_putc(out, '"', err) < 0 ||
        hd_buf_json_escape(out, s, strlen(s), err) < 0 ||
        hd_buf_putc(out, '"', err) < 0)
        return -1;
    return 0;
}

static int
hms_build(void *st, void *bctx, const struct hd_msg_delivery *d, size_t first,
          size_t n, struct hd_push_req *req, struct hd_err *err)
{
    struct hms *h = st;
    struct hms_batch *b = bctx;
    struct hd_buf *o = &req->body;
    size_t i;

    if (hd_pushauth_get(hms_auth_cache(h->auth), &req->auth, &req->auth_gen,
                        err) <= 0)
        return hd_err_set(err, HD_EAUTH, "no access token");
    if (hd_buf_puts(o, "{\"validate_only\":false,\"message\":{", err) < 0 ||
        hd_buf_append(o, b->inner.data, b->inner.len, err) < 0 ||
        (b->inner.len > 0 && hd_buf_putc(o, ',', err) < 0))
        return -1;
    if (d->rtype == HD_RT_DEVICE) {
        if (hd_buf_puts(o, "\"token\":[", err) < 0)
            return -1;
        for (i = first; i < first + n; i++)
            if ((i > first && hd_buf_putc(o, ',', err) < 0) ||
                put_string(o, d->tokens[i].token, err) < 0)
                return -1;
        if (hd_buf_putc(o, ']', err) < 0)
            return -1;
    } else if (hd_buf_puts(
                   o, d->rtype == HD_RT_TOPIC ? "\"topic\":" : "\"condition\":",
                   err) < 0 ||
               put_string(o, d->rtype == HD_RT_TOPIC ? d->topic : d->condition,
                          err) < 0) {
        return -1;
    }
    if (hd_buf_puts(o, "}}", err) < 0)
        return -1;
    req->http.method = "POST";
    req->http.url = h->send_url;
    req->http.headers[0] = "Content-Type: application/json; charset=UTF-8";
    req->http.headers[1] = req->auth.data;
    req->http.nheaders = 2;
    req->http.body = o->data;
    req->http.len = o->len;
    return 0;
}

/* ---- answers ------------------------------------------------------------ */

static void
all(struct hd_push_result *res, size_t n, enum hd_push_action a,
    const char *code, int guarded)
{
    size_t i;

    for (i = 0; i < n; i++) {
        res[i].action = a;
        res[i].guarded = guarded;
        snprintf(res[i].code, sizeof(res[i].code), "%s",
                 a == HD_PUSH_SENT ? "" : code);
    }
}

static int
in(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return 1;
    return 0;
}

/* 80100000: msg is a JSON string {"success":n,"failure":m,
 * "illegal_tokens":[...]}. Unreadable: all are taken as delivered, since
 * sending again would duplicate the delivered ones. */
static void
partial(const char *msg, const char *const *tokens, size_t n,
        struct hd_push_result *res)
{
    json_t *j = msg ? hd_json_parse(msg, strlen(msg), NULL) : NULL;
    json_t *ill = json_object_get(j, "illegal_tokens");
    json_t *v;
    size_t i, k;

    all(res, n, HD_PUSH_SENT, "", 0);
    json_array_foreach(ill, k, v)
    {
        const char *t = json_string_value(v);

        for (i = 0; t && i < n; i++) {
            if (strcmp(tokens[i], t) != 0)
                continue;
            res[i].action = HD_PUSH_TOKEN_INVALID;
            snprintf(res[i].code, sizeof(res[i].code), "80100000");
        }
    }
    json_decref(j);
}

void
hms_classify(int status, const char *body, size_t len, uint64_t retry_after_ms,
             const char *const *tokens, size_t n, struct hd_push_result *res)
{
    static const char *const reauth[] = {"80200001", "80200003", "80200005",
                                         NULL};
    static const char *const config[] = {"80300002", "80300011", "80300013",
                                         "80600003", NULL};
    static const char *const retry[] = {"80100017", "81000001", NULL};
    json_t *root = hd_json_parse(body, len, NULL);
    const char *code = json_string_value(json_object_get(root, "code"));
    char fallback[32];
    size_t i;

    memset(res, 0, n * sizeof(*res));
    for (i = 0; i < n; i++)
        res[i].http_status = status;
    snprintf(fallback, sizeof(fallback), "HTTP_%d", status);
    if (status == 503 || (code == NULL && (status == 429 || status >= 500))) {
        /* flow control or a proxy: the whole request again, later */
        all(res, n, HD_PUSH_RETRY, code ? code : fallback, 0);
    } else if (code == NULL) {
        all(res, n, status == 401 ? HD_PUSH_REAUTH : HD_PUSH_BAD_REQUEST,
            fallback, 0);
    } else if (strcmp(code, "80000000") == 0) {
        all(res, n, HD_PUSH_SENT, "", 0);
    } else if (strcmp(code, "80100000") == 0) {
        partial(json_string_value(json_object_get(root, "msg")), tokens, n,
                res);
    } else if (strcmp(code, "80300007") == 0) {
        all(res, n, HD_PUSH_TOKEN_INVALID, code, 1);
    } else if (in(code, reauth)) {
        all(res, n, HD_PUSH_REAUTH, code, 0);
    } else if (in(code, config)) {
        all(res, n, HD_PUSH_CONFIG, code, 0);
    } else if (in(code, retry) || status >= 500) {
        all(res, n, HD_PUSH_RETRY, code, 0);
    } else {
        all(res, n, HD_PUSH_BAD_REQUEST, code, 0);
    }
    for (i = 0; i < n; i++)
        if (res[i].action == HD_PUSH_RETRY)
            res[i].retry_after_ms = retry_after_ms;
    json_decref(root);
}

static void
hms_answer(void *st, const struct hd_msg_delivery *d, size_t first, size_t n,
           const struct hd_httpc_resp *resp, struct hd_push_result *res)
{
    struct hms *h = st;
    const char *topic[1];
    const char **tokens = topic;
    uint64_t ra = hd_push_retry_after(resp, h->clock);
    size_t i;

    if (d->rtype == HD_RT_DEVICE) {
        tokens = hd_xmalloc(n * sizeof(*tokens));
        for (i = 0; i < n; i++)
            tokens[i] = d->tokens[first + i].token;
    } else {
        topic[0] = d->rtype == HD_RT_TOPIC ? d->topic : d->condition;
    }
    hms_classify(resp->status, resp->body, resp->len, ra, tokens, n, res);
    if (tokens != topic)
        free(tokens);
}

const struct hd_push_provider hms_provider = {
    .name = "hms",
    .binary = "herald-worker-hms",
    .id = HD_PROVIDER_HMS,
    .platform = "android",
    .port_var = "HERALD_WORKER_HMS_PORT",
    .default_port = 9103,
    .summary = "delivers herald.deliver.hms through Huawei Push Kit",
    .tokens_per_request = HD_BATCH_MAX_HMS,
    .default_connections = 4,
    .default_streams = 8,
    .native_h2 = 0,
    .version = HD_HTTPC_HTTP2,
    .fields = hms_fields,
    .cfg_size = sizeof(struct hms_config),
    .init = hms_init,
    .free = hms_free,
    .auth = hms_ready,
    .auth_reject = hms_reject,
    .prepare = hms_prepare,
    .unprepare = hms_unprepare,
    .build = hms_build,
    .classify = hms_answer,
};
