/* hub_http.c -- the hub's plain HTTP endpoints, served by libwebsockets on
 * the WebSocket port: /healthz, /readyz (ok or not ok: the details and
 * /metrics are on the admin listener), POST /send (the self-hosted path,
 * internal bearer key) and the optional negotiate.
 *
 * Request bodies are bounded by HD_HTTP_MAX_BODY; responses are built
 * whole and written in HD_HUB_PACK_MAX pieces from writable callbacks. A
 * request's state lives in struct hub_http, allocated only while an HTTP
 * request is in progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/secret.h"
#include "core/alloc.h"
#include "core/json.h"
#include "proto/bitwarden.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/hub/hub_conn.h"
#include "services/hub/hub_dispatch.h"
#include "services/hub/hub_http.h"
#include "core/banned.h"

enum hub_http_route {
    HUB_RT_NONE = 0,
    HUB_RT_SEND,
    HUB_RT_NEGOTIATE,
};

struct hub_http {
    enum hub_http_route route;
    int authorized;
    struct hd_buf body;
    char *out;
    size_t outlen, off;
};

static void
http_free(struct hub_conn *c)
{
    if (c->http == NULL)
        return;
    hd_buf_release(&c->http->body);
    free(c->http->out);
    free(c->http);
    c->http = NULL;
}

static struct hub_http *
http_state(struct hub_conn *c)
{
    if (c->http == NULL) {
        c->http = hd_xcalloc(1, sizeof(*c->http));
        hd_buf_init(&c->http->body, HD_HTTP_MAX_BODY);
    }
    return c->http;
}

/* Writes a complete response (status, JSON or text body, and the header
 * xname: xval when xname is not NULL; xname ends in ':'). Returns 0 or -1
 * (close). */
static int
respond_x(struct hub_conn *c, struct lws *wsi, unsigned status,
          const char *ctype, const char *body, size_t len, const char *xname,
          const char *xval)
{
    unsigned char hdr[LWS_PRE + 512];
    unsigned char *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof(hdr) - 1;
    struct hub_http *h = http_state(c);

    if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p,
                                     end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                     (const unsigned char *)"close", 5, &p,
                                     end) ||
        (xname != NULL &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)xname,
                                     (const unsigned char *)xval,
                                     (int)strlen(xval), &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    free(h->out);
    h->out = len ? hd_xmemdup(body, len) : NULL;
    h->outlen = len;
    h->off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int
respond(struct hub_conn *c, struct lws *wsi, unsigned status, const char *ctype,
        const char *body, size_t len)
{
    return respond_x(c, wsi, status, ctype, body, len, NULL, NULL);
}

static int
respond_json(struct hub_conn *c, struct lws *wsi, unsigned status,
             const char *body)
{
    return respond(c, wsi, status, "application/json", body, strlen(body));
}

static int
respond_error(struct hub_conn *c, struct lws *wsi, unsigned status,
              const char *msg)
{
    struct hd_buf b;
    int rc;

    hd_buf_init(&b, 1024);
    hd_buf_puts(&b, "{\"error\":\"", NULL);
    hd_buf_json_escape(&b, msg, strlen(msg), NULL);
    hd_buf_puts(&b, "\"}", NULL);
    rc = respond(c, wsi, status, "application/json", b.data ? b.data : "{}",
                 b.len);
    hd_buf_release(&b);
    return rc;
}

int
hub_http_writable(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    struct hub_http *h = c->http;
    unsigned char *buf = th->wbuf + LWS_PRE;
    size_t n;
    int final;

    if (h == NULL)
        return 0;
    if (h->off < h->outlen) {
        n = h->outlen - h->off;
        if (n > HD_HUB_PACK_MAX)
            n = HD_HUB_PACK_MAX;
        final = h->off + n == h->outlen;
        memcpy(buf, h->out + h->off, n);
        if (lws_write(wsi, buf, n,
                      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
            return -1;
        h->off += n;
        if (!final) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    http_free(c);
    /* One request per connection ("connection: close"): lws 4.1 can spin
     * on a keep-alive request that arrives while the thread is busy
     * writing to thousands of WebSockets. */
    return -1;
}

/* The static key, or a JWT of the server's identity server (RS256/ES256,
 * scope internal, issuer and lifetime checked), as a Bitwarden server's
 * NotificationsApiPushEngine sends it. */
static int
send_authorized(struct hub_thread *th, struct lws *wsi)
{
    const char *key = th->hub->cfg.internal_key;
    char buf[HD_JWT_MAX_LEN + 8];
    struct hd_err err = {0};
    const char *tok;
    int n;

    n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 7 || strncasecmp(buf, "Bearer ", 7) != 0)
        return 0;
    tok = buf + 7;
    while (*tok == ' ')
        tok++;
    if (key != NULL && hd_secret_equal(key, tok, strlen(tok)))
        return 1;
    if (th->hub->service_tokens == NULL || strchr(tok, '.') == NULL)
        return 0;
    if (hd_usertoken_check(th->hub->service_tokens, tok, strlen(tok), &err) ==
        0)
        return 1;
    hd_log(HD_LOG_INFO, 0, "POST /send: token refused: %s", err.msg);
    return 0;
}

/* 1 when the body's Type is a PushType (a byte) this build does not know:
 * upstream answers 200 and drops it. */
static int
send_type_unknown(const char *body, size_t len, long long *type)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *t = hd_json_get_ci(doc, "Type");
    json_int_t n = json_is_integer(t) ? json_integer_value(t) : -1;
    int unknown = n >= 0 && n <= 255 && !hd_bw_type_known(n);

    if (unknown)
        *type = n;
    json_decref(doc);
    return unknown;
}

static int
do_send(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    struct hub_ctx *hub = th->hub;
    struct hub_http *h = c->http;
    struct hd_err err = {0};
    struct hub_event *e;
    long long type = 0;

    if (h->body.len == 0) /* upstream ignores an empty body */
        return respond(c, wsi, HTTP_STATUS_OK, "application/json", NULL, 0);
    if (send_type_unknown(h->body.data, h->body.len, &type)) {
        if (hd_bw_unknown_note(&hub->m.bw_unknown, type))
            hd_log(HD_LOG_WARN, 0,
                   "POST /send: Type %lld is unknown to this build; such "
                   "pushes are accepted and dropped (logged once per type)",
                   type);
        return respond(c, wsi, HTTP_STATUS_OK, "application/json", NULL, 0);
    }
    e = hub_event_from_send(h->body.data, h->body.len, &err);
    if (e == NULL) {
        hd_counter_inc(hub->m.events[HUB_SRC_SEND][HUB_EV_MALFORMED]);
        hd_log(HD_LOG_INFO, 0, "POST /send refused: %s", err.msg);
        return respond_error(c, wsi, HTTP_STATUS_BAD_REQUEST, err.msg);
    }
    if (hub_dispatch(hub, e, 0) < 0) {
        hd_counter_inc(hub->m.events[HUB_SRC_SEND][HUB_EV_DROPPED]);
        return respond_error(c, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                             "hub overloaded");
    }
    hd_counter_inc(hub->m.events[HUB_SRC_SEND][HUB_EV_ROUTED]);
    return respond(c, wsi, HTTP_STATUS_OK, "application/json", NULL, 0);
}

static int
do_negotiate(struct hub_conn *c, struct lws *wsi)
{
    char id[37], tok[37], body[512];

    hd_uuid4(id);
    hd_uuid4(tok);
    snprintf(body, sizeof(body),
             "{\"connectionId\":\"%s\",\"connectionToken\":\"%s\","
             "\"negotiateVersion\":1,\"availableTransports\":[{\"transport\":"
             "\"WebSockets\",\"transferFormats\":[\"Text\",\"Binary\"]}]}",
             id, tok);
    return respond_json(c, wsi, HTTP_STATUS_OK, body);
}

static int
finish_post(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    enum hub_http_route route = c->http->route;

    c->http->route = HUB_RT_NONE; /* answered once */
    if (route == HUB_RT_SEND)
        return do_send(th, c, wsi);
    return do_negotiate(c, wsi);
}

/* Does path (after an optional /notifications) name a hub's negotiate? */
/* GET /shard: the shard owning the user of the request's token, as the
 * header X-Herald-Shard (for nginx's auth_request) and a JSON body. */
static int
do_shard(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    struct hub_ctx *hub = th->hub;
    struct hd_user user = {0};
    struct hd_err err = {0};
    char *buf, num[16], body[64];
    int n, owner;

    if (hub->shard.count == 0)
        return respond_error(c, wsi, HTTP_STATUS_NOT_FOUND,
                             "this hub is not sharded");
    buf = hd_xmalloc(HD_HUB_TOKEN_MAX + 16);
    n = hub_shard_request_token(wsi, buf, HD_HUB_TOKEN_MAX + 16);
    if (n <= 0 || hub->tokens == NULL ||
        hd_usertoken_verify(hub->tokens, buf, (size_t)n, &user, &err) < 0) {
        free(buf);
        return respond_error(c, wsi, HTTP_STATUS_UNAUTHORIZED,
                             n <= 0 ? "no access token" : "bad access token");
    }
    free(buf);
    owner = hub_shard_of_user(&hub->shard, user.sub);
    hd_user_release(&user);
    if (owner < 0)
        return respond_error(c, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                             "the partition count is not known yet");
    snprintf(num, sizeof(num), "%d", owner);
    snprintf(body, sizeof(body), "{\"shard\":%d,\"shards\":%d}", owner,
             hub->shard.count);
    return respond_x(c, wsi, HTTP_STATUS_OK, "application/json", body,
                     strlen(body), "x-herald-shard:", num);
}

static int
negotiate_path(const char *path)
{
    if (strncmp(path, "/notifications", 14) == 0)
        path += 14;
    return strcmp(path, "/hub/negotiate") == 0 ||
           strcmp(path, "/anonymous-hub/negotiate") == 0;
}

static int
is_hub_path(const char *path)
{
    if (strncmp(path, "/notifications", 14) == 0)
        path += 14;
    return strcmp(path, "/hub") == 0 || strcmp(path, "/anonymous-hub") == 0;
}

int
hub_http_request(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                 const char *path)
{
    struct hub_ctx *hub = th->hub;
    int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    int is_get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    struct hub_http *h;
    struct hd_buf out;
    int status, rc;

    http_free(c);
    if (is_get && strcmp(path, "/healthz") == 0)
        return respond_json(c, wsi, HTTP_STATUS_OK, "{\"status\":\"ok\"}");
    if (is_get && strcmp(path, "/readyz") == 0) {
        hd_buf_init(&out, 64);
        status = hd_health_public(hub->health, &out);
        rc = respond(c, wsi, (unsigned)status, "application/json",
                     out.data ? out.data : "{}", out.len);
        hd_buf_release(&out);
        return rc;
    }
    if (is_get && strcmp(path, "/shard") == 0)
        return do_shard(th, c, wsi);
    if (is_post && strcmp(path, "/send") == 0) {
        if (!send_authorized(th, wsi))
            return respond_error(c, wsi, HTTP_STATUS_UNAUTHORIZED,
                                 "bad or missing internal key");
        h = http_state(c);
        h->route = HUB_RT_SEND;
    } else if (is_post && hub->cfg.negotiate && negotiate_path(path)) {
        h = http_state(c);
        h->route = HUB_RT_NEGOTIATE;
        h->body.max = HD_HUB_NEGOTIATE_BODY_MAX; /* clients send none */
    } else if (is_get && is_hub_path(path)) {
        return respond_error(c, wsi, HTTP_STATUS_BAD_REQUEST,
                             "WebSocket upgrade required");
    } else {
        return respond_error(c, wsi, HTTP_STATUS_NOT_FOUND, "not found");
    }
    /* a POST: lws calls HTTP_BODY_COMPLETION once the body is in, even
     * for "Content-Length: 0"; a POST with no length has no body */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 &&
        lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0)
        return finish_post(th, c, wsi);
    return 0;
}

int
hub_http_body(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
              const void *in, size_t len)
{
    (void)th;
    if (c->http == NULL)
        return -1;
    if (c->http->route == HUB_RT_NONE) /* already answered: discard */
        return 0;
    if (hd_buf_append(&c->http->body, in, len, NULL) < 0) {
        /* answer now, then keep reading (and discarding) the rest: closing
         * with unread bytes would reset the connection before the client
         * reads its 413 */
        c->http->route = HUB_RT_NONE;
        hd_buf_release(&c->http->body);
        return respond_error(c, wsi, 413, "body too large");
    }
    return 0;
}

int
hub_http_body_done(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    if (c->http == NULL)
        return -1;
    if (c->http->route == HUB_RT_NONE) /* already answered */
        return 0;
    return finish_post(th, c, wsi);
}

void
hub_http_closed(struct hub_thread *th, struct hub_conn *c)
{
    (void)th;
    if (c)
        http_free(c);
}
