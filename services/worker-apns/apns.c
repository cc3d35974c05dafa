/* apns.c -- APNs requests and the reading of their answers
 * (specs/providers.md 2.3-2.5).
 *
 * Per batch, the payload is serialised once and the apns-* header lines
 * are built once (the delivery's notification.headers, the configured
 * apns-topic when it has none, and apns-expiration from the delivery's
 * expiry when it has none, so APNs itself never stores a push past it);
 * every token then costs only its :path. Header names other than apns-*
 * are ignored and values with line breaks refused, so a notification can
 * never inject a header. A token that is not hex never reaches the wire. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/limits.h"
#include "http/url.h"
#include "services/worker-apns/apns.h"
#include "core/banned.h"

#define MAX_LINES 12 /* header lines per notification */
#define VOIP_PAYLOAD_MAX 5120
#define DEVICE_BACKOFF_MS 60000 /* TooManyRequests: 1 min, doubling */
#define DEVICE_BACKOFF_MAX_MS 3600000

static const struct hd_config_field apns_fields[] = {
    HD_CFG_ENUM("HERALD_WORKER_APNS_ENVIRONMENT", struct apns_config,
                environment, "production", "production|sandbox",
                "api.push.apple.com or api.sandbox.push.apple.com"),
    HD_CFG_STR("HERALD_WORKER_APNS_URL", struct apns_config, url, "", 0,
               "base URL overriding the environment's (keep the real host; "
               "redirect with HERALD_WORKER_CONNECT_TO)"),
    HD_CFG_STR("HERALD_WORKER_APNS_TOPIC", struct apns_config, topic, "", 0,
               "apns-topic (bundle id) for notifications that carry none"),
    HD_CFG_STR("HERALD_WORKER_APNS_KEY_FILE", struct apns_config, key_file, "",
               0, "token authentication: the .p8 signing key; " APNS_AUTH_RULE),
    HD_CFG_STR(
        "HERALD_WORKER_APNS_KEY_ID", struct apns_config, key_id, "", 0,
        "token authentication: the key's 10-character id; " APNS_TOKEN_RULE),
    HD_CFG_STR(
        "HERALD_WORKER_APNS_TEAM_ID", struct apns_config, team_id, "", 0,
        "token authentication: the 10-character team id; " APNS_TOKEN_RULE),
    HD_CFG_INT("HERALD_WORKER_APNS_JWT_REFRESH_S", struct apns_config,
               jwt_refresh_s, 3000, 1200, 3540,
               "how long one provider JWT is reused (Apple: 20 to 60 "
               "minutes)"),
    HD_CFG_STR(
        "HERALD_WORKER_APNS_CERT_FILE", struct apns_config, cert_file, "", 0,
        "certificate authentication: client certificate; " APNS_AUTH_RULE),
    HD_CFG_ENUM("HERALD_WORKER_APNS_CERT_TYPE", struct apns_config, cert_type,
                "PEM", "PEM|P12", "format of the certificate file"),
    HD_CFG_STR("HERALD_WORKER_APNS_CERT_KEY_FILE", struct apns_config,
               cert_key_file, "", 0,
               "certificate authentication: private key, when not in the "
               "certificate file"),
    HD_CFG_STR("HERALD_WORKER_APNS_CERT_PASSWORD", struct apns_config,
               cert_password, "", HD_CFG_SECRET,
               "password of the key or the .p12"),
    HD_CFG_END,
};

struct apns {
    struct apns_auth *auth;
    const struct hd_clock *clock;
    char *base; /* https://api.push.apple.com */
    char *topic;
};

struct apns_batch {
    struct hd_buf payload;
    struct hd_buf lines; /* NUL-separated header lines */
    size_t nlines;
    size_t offs[MAX_LINES];
};

static void
apns_net(const void *cfgp, struct hd_httpc_config *net)
{
    const struct apns_config *cfg = cfgp;

    if (cfg->cert_file && *cfg->cert_file) {
        net->cert_file = cfg->cert_file;
        net->cert_type = cfg->cert_type;
        net->key_file = *cfg->cert_key_file ? cfg->cert_key_file : NULL;
        net->key_password = *cfg->cert_password ? cfg->cert_password : NULL;
    }
}

static int
apns_init(void **st, const void *cfgp, const struct hd_push_env *env,
          struct hd_err *err)
{
    const struct apns_config *cfg = cfgp;
    struct apns *a = hd_xcalloc(1, sizeof(*a));
    const char *base = cfg->url;

    a->clock = env->clock;
    a->auth = apns_auth_new(cfg, env, err);
    if (a->auth == NULL) {
        free(a);
        return -1;
    }
    if (base == NULL || *base == '\0')
        base = strcmp(cfg->environment, "sandbox") == 0
                   ? "https://api.sandbox.push.apple.com"
                   : "https://api.push.apple.com";
    a->base = hd_xstrndup(base, hd_url_base_len(base));
    a->topic = cfg->topic && *cfg->topic ? hd_xstrdup(cfg->topic) : NULL;
    *st = a;
    return 0;
}

static void
apns_free(void *st)
{
    struct apns *a = st;

    if (a == NULL)
        return;
    apns_auth_free(a->auth);
    free(a->base);
    free(a->topic);
    free(a);
}

static int
apns_ready(void *st, struct hd_err *err)
{
    struct apns *a = st;

    return apns_auth_ready(a->auth, err);
}

static void
apns_reject(void *st, unsigned gen)
{
    struct apns *a = st;

    apns_auth_reject(a->auth, gen);
}

static int
add_line(struct apns_batch *b, const char *name, const char *value,
         struct hd_err *err)
{
    if (b->nlines >= MAX_LINES)
        return hd_err_set(err, HD_EINVAL, "headers: more than %d", MAX_LINES);
    if (strpbrk(value, "\r\n") != NULL)
        return hd_err_set(err, HD_EINVAL, "headers.%s: line break in value",
                          name);
    b->offs[b->nlines++] = b->lines.len;
    if (hd_buf_printf(&b->lines, err, "%s: %s", name, value) < 0 ||
        hd_buf_putc(&b->lines, '\0', err) < 0)
        return -1;
    return 0;
}

/* apns-[a-z-]+ only: anything else is not ours to send. */
static int
apns_header_name(const char *k)
{
    const char *p;

    if (strncasecmp(k, "apns-", 5) != 0 || k[5] == '\0')
        return 0;
    for (p = k + 5; *p; p++)
        if (!isalpha((unsigned char)*p) && *p != '-')
            return 0;
    return 1;
}

static int
build_headers(struct apns *a, const struct hd_msg_delivery *d, json_t *hdrs,
              struct apns_batch *b, int *voip, struct hd_err *err)
{
    int have_topic = 0, have_exp = 0;
    const char *k;
    json_t *v;
    char num[32];

    if (hdrs != NULL && !json_is_object(hdrs))
        return hd_err_set(err, HD_EINVAL, "headers: must be an object");
    json_object_foreach(hdrs, k, v)
    {
        const char *value = json_string_value(v);

        if (!apns_header_name(k))
            continue;
        if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long)json_integer_value(v));
            value = num;
        }
        if (value == NULL)
            return hd_err_set(err, HD_EINVAL, "headers.%s: must be a string",
                              k);
        have_topic |= strcasecmp(k, "apns-topic") == 0;
        have_exp |= strcasecmp(k, "apns-expiration") == 0;
        if (strcasecmp(k, "apns-push-type") == 0 && strcmp(value, "voip") == 0)
            *voip = 1;
        if (add_line(b, k, value, err) < 0)
            return -1;
    }
    if (!have_topic && a->topic && add_line(b, "apns-topic", a->topic, err) < 0)
        return -1;
    if (add_line(b, "content-type", "application/json", err) < 0)
        return -1;
    if (!have_exp && d->expire_at_ms > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)(d->expire_at_ms / 1000));
        if (add_line(b, "apns-expiration", num, err) < 0)
            return -1;
    }
    return 0;
}

static void
apns_unprepare(void *st, void *bctx)
{
    struct apns_batch *b = bctx;

    (void)st;
    if (b == NULL)
        return;
    hd_buf_release(&b->payload);
    hd_buf_release(&b->lines);
    free(b);
}

static int
apns_prepare(void *st, const struct hd_msg_delivery *d, void **bctx,
             struct hd_err *err)
{
    struct apns *a = st;
    struct apns_batch *b;
    json_t *payload = json_object_get(d->notification, "payload");
    int voip = 0;

    if (!json_is_object(payload))
        return hd_err_set(err, HD_EINVAL, "payload: must be an object");
    b = hd_xcalloc(1, sizeof(*b));
    hd_buf_init(&b->payload, VOIP_PAYLOAD_MAX);
    hd_buf_init(&b->lines, 4096);
    if (build_headers(a, d, json_object_get(d->notification, "headers"), b,
                      &voip, err) < 0)
        goto fail;
    if (hd_json_dump(payload, &b->payload, err) < 0 ||
        b->payload.len > (voip ? VOIP_PAYLOAD_MAX : HD_PAYLOAD_MAX_APNS)) {
        hd_err_set(err, HD_EINVAL, "payload: larger than %d bytes",
                   voip ? VOIP_PAYLOAD_MAX : HD_PAYLOAD_MAX_APNS);
        goto fail;
    }
    *bctx = b;
    return 0;
fail:
    apns_unprepare(st, b);
    return -1;
}

static int
hex_token(const char *t)
{
    size_t n = 0;

    for (; t[n]; n++)
        if (!isxdigit((unsigned char)t[n]))
            return 0;
    return n > 0 && n <= HD_TOKEN_MAX_APNS;
}

static int
apns_build(void *st, void *bctx, const struct hd_msg_delivery *d, size_t first,
           size_t n, struct hd_push_req *req, struct hd_err *err)
{
    struct apns *a = st;
    struct apns_batch *b = bctx;
    const char *token;
    size_t i;

    (void)n;
    if (d->rtype != HD_RT_DEVICE)
        return hd_err_set(err, HD_EINVAL, "APNs has no topic sends");
    token = d->tokens[first].token;
    if (!hex_token(token))
        return hd_err_set(err, HD_EINVAL, "device token is not hex");
    if (apns_auth_line(a->auth, &req->auth, &req->auth_gen, err) < 0)
        return -1;
    if (hd_buf_printf(&req->url, err, "%s/3/device/%s", a->base, token) < 0)
        return -1;
    for (i = 0; i < b->nlines; i++)
        req->http.headers[i] = b->lines.data + b->offs[i];
    if (req->auth.len > 0)
        req->http.headers[i++] = req->auth.data;
    req->http.nheaders = i;
    req->http.method = "POST";
    req->http.url = req->url.data;
    req->http.body = b->payload.data;
    req->http.len = b->payload.len;
    return 0;
}

/* ---- answers ------------------------------------------------------------ */

static int
is(const char *s, const char *v)
{
    return strcmp(s, v) == 0;
}

void
apns_classify(int status, const char *body, size_t len, uint64_t retry_after_ms,
              int attempt, struct hd_push_result *res)
{
    json_t *root;
    const char *reason = NULL;
    char code[HD_PUSH_CODE_MAX];
    uint64_t dev;

    memset(res, 0, sizeof(*res));
    res->http_status = status;
    if (status == 200) {
        res->action = HD_PUSH_SENT;
        return;
    }
    root = hd_json_parse(body, len, NULL);
    if (root)
        reason = json_string_value(json_object_get(root, "reason"));
    if (reason != NULL)
        snprintf(code, sizeof(code), "%s", reason);
    else
        snprintf(code, sizeof(code), "HTTP_%d", status);
    if (status == 410) {
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID,
                           code); /* Unregistered, Expired */
    } else if (is(code, "BadDeviceToken") ||
               is(code, "DeviceTokenNotForTopic")) {
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, code);
        res->guarded = 1; /* the wrong environment or topic does this too */
    } else if (is(code, "ExpiredProviderToken")) {
        hd_push_result_set(res, HD_PUSH_REAUTH, code);
    } else if (is(code, "TooManyRequests")) {
        hd_push_result_set(res, HD_PUSH_RETRY,
                           code); /* this device: back off long */
        dev = DEVICE_BACKOFF_MS << (attempt < 6 ? attempt : 6);
        if (dev > DEVICE_BACKOFF_MAX_MS)
            dev = DEVICE_BACKOFF_MAX_MS;
        if (retry_after_ms < dev)
            retry_after_ms = dev;
    } else if (is(code, "TooManyProviderTokenUpdates")) {
        hd_push_result_set(res, HD_PUSH_CONFIG,
                           code); /* someone else mints for our team */
    } else if (is(code, "UnrelatedKeyIdInToken") || is(code, "IdleTimeout") ||
               is(code, "Shutdown") || status >= 500) {
        hd_push_result_set(res, HD_PUSH_RETRY, code);
    } else if (status == 403 || is(code, "BadTopic") ||
               is(code, "MissingTopic") || is(code, "TopicDisallowed")) {
        hd_push_result_set(res, HD_PUSH_CONFIG, code);
    } else if (status == 429) {
        hd_push_result_set(res, HD_PUSH_RETRY, code);
    } else {
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, code);
    }
    if (res->action == HD_PUSH_RETRY)
        res->retry_after_ms = retry_after_ms;
    json_decref(root);
}

static void
apns_answer(void *st, const struct hd_msg_delivery *d, size_t first, size_t n,
            const struct hd_httpc_resp *resp, struct hd_push_result *res)
{
    struct apns *a = st;
    uint64_t ra = 0;

    (void)first;
    (void)n;
    if (resp->status != 200)
        ra = hd_push_retry_after(resp, a->clock);
    apns_classify(resp->status, resp->body, resp->len, ra, d->attempt, res);
}

const struct hd_push_provider apns_provider = {
    .name = "apns",
    .binary = "herald-worker-apns",
    .id = HD_PROVIDER_APNS,
    .platform = "ios",
    .port_var = "HERALD_WORKER_APNS_PORT",
    .default_port = 9102,
    .summary = "delivers herald.deliver.apns through Apple's APNs "
               "(HTTP/2)",
    .tokens_per_request = 1,
    .default_connections = 2,
    .default_streams = 500,
    .native_h2 = 1,
    .version = HD_HTTPC_HTTP2_ONLY,
    .fields = apns_fields,
    .cfg_size = sizeof(struct apns_config),
    .net = apns_net,
    .init = apns_init,
    .free = apns_free,
    .auth = apns_ready,
    .auth_reject = apns_reject,
    .prepare = apns_prepare,
    .unprepare = apns_unprepare,
    .build = apns_build,
    .classify = apns_answer,
};
