/* webpush.c -- Web Push requests (RFC 8030 section 5, RFC 8291, RFC 8292).
 *
 * Per batch the notification is read once: the payload bytes and the
 * TTL, Urgency and Topic header lines. Per subscription: the canonical
 * token is parsed, its endpoint passes the SSRF guard, the payload is
 * encrypted for its keys (a fresh key pair and salt each time) and the
 * cached VAPID token of its origin is attached. Requests to one origin
 * share that origin's HTTP/2 connections; origins do not share any. TTL
 * never reaches past the delivery's expire_at. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/json.h"
#include "services/worker-webpush/webpush.h"
#include "webpush/ece.h"
#include "webpush/guard.h"
#include "webpush/sub.h"
#include "webpush/vapid.h"
#include "core/banned.h"

#define TTL_DEFAULT 2419200 /* four weeks, as the browsers' services keep */
#define TOPIC_MAX 32        /* RFC 8030 5.4: at most 32 base64url chars */
#define LINE_MAX_LEN 96

#define WC struct webpush_config
static const struct hd_config_field webpush_fields[] = {
    HD_CFG_STR("HERALD_WEBPUSH_VAPID_PRIVATE_KEY", WC, vapid_key, "",
               HD_CFG_SECRET,
               "VAPID private key: 32 bytes base64url (as web-push's "
               "generateVAPIDKeys; `herald-worker-webpush vapid-keygen` "
               "makes one)"),
    HD_CFG_STR("HERALD_WEBPUSH_VAPID_PRIVATE_KEY_FILE", WC, vapid_key_file, "",
               0,
               "file holding the VAPID private key (base64url or PEM), "
               "instead of HERALD_WEBPUSH_VAPID_PRIVATE_KEY"),
    HD_CFG_STR("HERALD_WEBPUSH_VAPID_PUBLIC_KEY", WC, vapid_pub, "", 0,
               "VAPID public key (the browsers' applicationServerKey); when "
               "set it must match the private key"),
    HD_CFG_STR("HERALD_WEBPUSH_VAPID_SUBJECT", WC, vapid_subject, NULL,
               HD_CFG_REQUIRED,
               "VAPID contact: a mailto: or https: URI push services may "
               "use to reach you"),
    HD_CFG_STR("HERALD_WEBPUSH_ORIGINS", WC, origins,
               HD_WEBPUSH_DEFAULT_ORIGINS, 0, HD_WEBPUSH_ORIGINS_HELP),
    HD_CFG_STR("HERALD_WEBPUSH_EXTRA_ORIGINS", WC, extra_origins, "", 0,
               HD_WEBPUSH_EXTRA_HELP),
    HD_CFG_STR("HERALD_WEBPUSH_TEST_SIMULATOR", WC, test_sim, "", 0,
               "tests and demos only: HOST:PORT:ADDRESS:PORT sends the "
               "origin https://HOST:PORT to herald-sim at ADDRESS:PORT, the "
               "one private address allowed; ADDRESS is an IP address or a "
               "name resolved once at start (HERALD_WORKER_CONNECT_TO is "
               "ignored by this worker)"),
    HD_CFG_END,
};
#undef WC

struct webpush {
    struct hd_webpush_guard *guard;
    struct hd_vapid *vapid;
    struct hd_ece *ece;
    const struct hd_clock *clock;
};

/* Per batch: the plaintext and the constant header lines. */
struct wp_batch {
    struct hd_buf payload;
    char ttl[LINE_MAX_LEN];
    char urgency[LINE_MAX_LEN];
    char topic[LINE_MAX_LEN];
};

/* The connect-time guard lives as long as the HTTP client, which is made
 * (net()) before the provider state (init()) and freed before it. */
static struct hd_webpush_guard *net_guard;

static int
deny_all(void *ud, const struct sockaddr *sa)
{
    (void)ud;
    (void)sa;
    return 0;
}

static void
webpush_net(const void *cfgp, struct hd_httpc_config *net)
{
    const struct webpush_config *cfg = cfgp;

    hd_webpush_guard_free(net_guard);
    net_guard = hd_webpush_guard_new(cfg->origins, cfg->extra_origins,
                                     cfg->test_sim, NULL);
    net->addr_ok = net_guard ? hd_webpush_guard_addr : deny_all;
    net->addr_ud = net_guard;
    /* only the explicit simulator setting redirects connections, to the
     * one address the guard allows */
    net->connect_to = hd_webpush_guard_connect_to(net_guard);
}

static char *
read_key_file(const char *path, struct hd_err *err)
{
    struct hd_buf b;
    char chunk[1024];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        hd_err_set(err, HD_EINVAL, "%s: cannot open", path);
        return NULL;
    }
    hd_buf_init(&b, HD_VAPID_KEY_TEXT_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (hd_buf_append(&b, chunk, n, err) < 0) {
            fclose(f);
            hd_buf_release(&b);
            return NULL;
        }
    }
    fclose(f);
    return hd_buf_detach(&b, NULL);
}

static int
webpush_init(void **st, const void *cfgp, const struct hd_push_env *env,
             struct hd_err *err)
{
    const struct webpush_config *cfg = cfgp;
    struct webpush *w = hd_xcalloc(1, sizeof(*w));
    char *key = NULL;

    w->clock = env->clock;
    w->guard = hd_webpush_guard_new(cfg->origins, cfg->extra_origins,
                                    cfg->test_sim, err);
    if (w->guard == NULL)
        goto fail;
    if ((cfg->vapid_key[0] != '\0') == (cfg->vapid_key_file[0] != '\0')) {
        hd_err_set(err, HD_EINVAL,
                   "set one of HERALD_WEBPUSH_VAPID_PRIVATE_KEY and "
                   "HERALD_WEBPUSH_VAPID_PRIVATE_KEY_FILE");
        goto fail;
    }
    if (cfg->vapid_key_file[0] != '\0') {
        key = read_key_file(cfg->vapid_key_file, err);
        if (key == NULL)
            goto fail;
    }
    w->vapid = hd_vapid_new(key ? key : cfg->vapid_key, cfg->vapid_pub,
                            cfg->vapid_subject, err);
    if (key != NULL) {
        memset(key, 0, strlen(key));
        free(key);
    }
    if (w->vapid == NULL)
        goto fail;
    w->ece = hd_ece_new(err);
    if (w->ece == NULL)
        goto fail;
    *st = w;
    return 0;
fail:
    hd_webpush_guard_free(w->guard);
    hd_vapid_free(w->vapid);
    free(w);
    return -1;
}

static void
webpush_free(void *st)
{
    struct webpush *w = st;

    hd_webpush_guard_free(net_guard);
    net_guard = NULL;
    if (w == NULL)
        return;
    hd_webpush_guard_free(w->guard);
    hd_vapid_free(w->vapid);
    hd_ece_free(w->ece);
    free(w);
}

static int
webpush_auth(void *st, struct hd_err *err)
{
    (void)st;
    (void)err;
    return 1; /* VAPID tokens are signed locally, on demand */
}

static void
webpush_auth_reject(void *st, unsigned gen)
{
    (void)st;
    (void)gen;
}

/* ---- the notification: {"headers":{"TTL","Urgency","Topic"},"payload"} */

static int
read_headers(json_t *h, const struct hd_msg_delivery *d, int64_t now_ms,
             struct wp_batch *b, struct hd_err *err)
{
    static const char *const urgencies[] = {"very-low", "low", "normal", "high",
                                            NULL};
    long long ttl = TTL_DEFAULT;
    const char *k;
    json_t *v;
    size_t i;

    if (h != NULL && !json_is_object(h))
        return hd_err_set(err, HD_EINVAL, "webpush.headers: must be an object");
    json_object_foreach(h, k, v)
    {
        if (strcasecmp(k, "TTL") == 0) {
            /* a number, or its decimal text (as HTTP headers are) */
            const char *s = json_string_value(v);
            char *end = NULL;

            if (json_is_integer(v))
                ttl = json_integer_value(v);
            else if (s != NULL && *s != '\0')
                ttl = strtoll(s, &end, 10);
            if ((!json_is_integer(v) && (end == NULL || *end != '\0')) ||
                ttl < 0 || ttl > TTL_DEFAULT)
                return hd_err_set(err, HD_EINVAL,
                                  "webpush.headers.TTL: 0..%d seconds",
                                  TTL_DEFAULT);
        } else if (strcasecmp(k, "Urgency") == 0) {
            const char *s = json_string_value(v);

            for (i = 0; s && urgencies[i] && strcmp(s, urgencies[i]); i++)
                ;
            if (s == NULL || urgencies[i] == NULL)
                return hd_err_set(err, HD_EINVAL,
                                  "webpush.headers.Urgency: very-low, low, "
                                  "normal or high");
            snprintf(b->urgency, sizeof(b->urgency), "Urgency: %s", s);
        } else if (strcasecmp(k, "Topic") == 0) {
            const char *s = json_string_value(v);
            size_t n = s ? strlen(s) : 0;

            if (n == 0 || n > TOPIC_MAX ||
                strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789-_") != n)
                return hd_err_set(err, HD_EINVAL,
                                  "webpush.headers.Topic: 1..%d base64url "
                                  "characters",
                                  TOPIC_MAX);
            snprintf(b->topic, sizeof(b->topic), "Topic: %s", s);
        } else {
            return hd_err_set(err, HD_EINVAL,
                              "webpush.headers.%s: only TTL, Urgency and "
                              "Topic",
                              k);
        }
    }
    /* the push service keeps the message no longer than we may deliver it */
    if (d->expire_at_ms > 0) {
        long long left = (d->expire_at_ms - now_ms) / 1000;

        if (left < ttl)
            ttl = left > 0 ? left : 0;
    }
    snprintf(b->ttl, sizeof(b->ttl), "TTL: %lld", ttl);
    return 0;
}

static int
read_payload(json_t *p, struct wp_batch *b, struct hd_err *err)
{
    int rc;

    if (p == NULL || json_is_null(p))
        return 0;
    if (json_is_string(p))
        rc = hd_buf_append(&b->payload, json_string_value(p),
                           json_string_length(p), err);
    else if (json_is_object(p) || json_is_array(p))
        rc = hd_json_dump(p, &b->payload, err);
    else
        return hd_err_set(err, HD_EINVAL,
                          "webpush.payload: a string or JSON object");
    if (rc < 0)
        return hd_err_set(err, HD_EINVAL,
                          "webpush.payload: larger than %d bytes (%d "
                          "encrypted)",
                          HD_ECE_PLAIN_MAX, HD_ECE_BODY_MAX);
    return 0;
}

static int
webpush_prepare(void *st, const struct hd_msg_delivery *d, void **bctx,
                struct hd_err *err)
{
    struct webpush *w = st;
    struct wp_batch *b;
    json_t *n = d->notification;

    if (!json_is_object(n))
        return hd_err_set(err, HD_EINVAL, "webpush: must be an object");
    if (d->rtype != HD_RT_DEVICE)
        return hd_err_set(err, HD_EINVAL,
                          "webpush: subscriptions only (no topics)");
    b = hd_xcalloc(1, sizeof(*b));
    hd_buf_init(&b->payload, HD_ECE_PLAIN_MAX);
    if (read_headers(json_object_get(n, "headers"), d,
                     hd_clock_wall_ms(w->clock), b, err) < 0 ||
        read_payload(json_object_get(n, "payload"), b, err) < 0) {
        hd_buf_release(&b->payload);
        free(b);
        return -1;
    }
    *bctx = b;
    return 0;
}

static void
webpush_unprepare(void *st, void *bctx)
{
    struct wp_batch *b = bctx;

    (void)st;
    if (b == NULL)
        return;
    hd_buf_release(&b->payload);
    free(b);
}

static int
webpush_build(void *st, void *bctx, const struct hd_msg_delivery *d,
              size_t first, size_t n, struct hd_push_req *req,
              struct hd_err *err)
{
    struct webpush *w = st;
    struct wp_batch *b = bctx;
    const char *tok = d->tokens[first].token;
    char origin[HD_WEBPUSH_ORIGIN_MAX];
    struct hd_webpush_sub sub;
    EVP_PKEY *ua = NULL;
    size_t h = 0;
    int rc = -1;

    (void)n;
    if (hd_webpush_sub_parse(tok, strlen(tok), 0, &sub, &ua, err) < 0)
        return -1;
    if (hd_webpush_guard_endpoint(w->guard, sub.endpoint, origin,
                                  sizeof(origin), err) < 0 ||
        hd_buf_puts(&req->url, sub.endpoint, err) < 0 ||
        hd_vapid_header(w->vapid, origin, hd_clock_wall_ms(w->clock) / 1000,
                        &req->auth, err) < 0 ||
        hd_ece_encrypt(w->ece, ua, sub.auth, b->payload.data, b->payload.len, 0,
                       &req->body, err) < 0)
        goto out;
    req->http.method = "POST";
    req->http.url = req->url.data;
    req->http.headers[h++] = req->auth.data;
    req->http.headers[h++] = b->ttl;
    req->http.headers[h++] = "Content-Encoding: aes128gcm";
    req->http.headers[h++] = "Content-Type: application/octet-stream";
    if (b->urgency[0])
        req->http.headers[h++] = b->urgency;
    if (b->topic[0])
        req->http.headers[h++] = b->topic;
    req->http.nheaders = h;
    req->http.body = req->body.data;
    req->http.len = req->body.len;
    rc = 0;
out:
    EVP_PKEY_free(ua);
    return rc;
}

static void
webpush_answer(void *st, const struct hd_msg_delivery *d, size_t first,
               size_t n, const struct hd_httpc_resp *resp,
               struct hd_push_result *res)
{
    struct webpush *w = st;
    uint64_t ra = 0;

    (void)d;
    (void)first;
    (void)n;
    if (resp->status == 429 || resp->status >= 500)
        ra = hd_push_retry_after(resp, w->clock);
    webpush_classify(resp->status, ra, res);
}

const struct hd_push_provider webpush_provider = {
    .name = "webpush",
    .binary = "herald-worker-webpush",
    .id = HD_PROVIDER_WEBPUSH,
    .platform = "web",
    .port_var = "HERALD_WORKER_WEBPUSH_PORT",
    .default_port = 9104,
    .summary = "delivers herald.deliver.webpush to browsers' push services "
               "(RFC 8030, 8291, 8292); `vapid-keygen` prints a new VAPID "
               "key pair",
    .tokens_per_request = 1,
    .default_connections = 4,
    .default_streams = 100,
    .native_h2 = 1,
    .version = HD_HTTPC_HTTP2,
    .fields = webpush_fields,
    .cfg_size = sizeof(struct webpush_config),
    .net = webpush_net,
    .init = webpush_init,
    .free = webpush_free,
    .auth = webpush_auth,
    .auth_reject = webpush_auth_reject,
    .prepare = webpush_prepare,
    .unprepare = webpush_unprepare,
    .build = webpush_build,
    .classify = webpush_answer,
};
