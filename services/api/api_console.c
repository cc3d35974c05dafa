/* api_console.c -- the console's routes: its static files, login and
 * sessions, the server API's methods behind a session, and the services'
 * metrics for the charts (see api_console.h).
 *
 * Sessions live in a fixed table (API_CONSOLE_SESSIONS): a login when it
 * is full replaces the session closest to its end. Ids and CSRF tokens are
 * 32 random bytes; ids are compared in constant time. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/secret.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/ratelimit.h"
#include "http/client.h"
#include "http/server.h"
#include "services/api/api.h"
#include "services/api/api_console.h"
#include "core/banned.h"

#define API_CONSOLE_SESSIONS 64
#define API_CONSOLE_SOURCES 8      /* HERALD_CONSOLE_METRICS_URLS entries */
#define API_CONSOLE_NAME_MAX 32    /* a metrics source's name */
#define API_CONSOLE_LOGIN_MAX 4096 /* the login body */
#define SECRET_HEX 65              /* 32 bytes as hex + NUL */
#define COOKIE "herald_console"

/* The embedded files (scripts/embed-assets.sh). */
extern const char *const api_console_asset_names[];
extern const unsigned char *const api_console_asset_data[];
extern const size_t api_console_asset_lens[];
extern const size_t api_console_nassets;

const struct hd_config_field api_console_config_fields[] = {
    HD_CFG_INT("HERALD_CONSOLE_SESSION_S", struct api_console_config, session_s,
               3600, 1, 86400,
               "lifetime of a console session, seconds (then log in again)"),
    HD_CFG_STR("HERALD_CONSOLE_METRICS_URLS", struct api_console_config,
               metrics_urls, "", 0,
               "services whose /metrics the console's charts read, as "
               "name=admin-URL pairs separated by commas "
               "(hub=http://127.0.0.1:8091,fcm=http://127.0.0.1:9111); "
               "herald-api's own are always there as \"api\""),
    HD_CFG_END,
};

struct session {
    char id[SECRET_HEX];
    char csrf[SECRET_HEX];
    uint64_t expires_ms; /* 0: free */
};

struct source {
    char name[API_CONSOLE_NAME_MAX];
    char *url; /* .../metrics */
};

struct api_console {
    struct api_ctx *ctx;
    int session_s;
    pthread_mutex_t mu;
    struct session sessions[API_CONSOLE_SESSIONS];
    struct hd_ratelimit logins; /* login attempts per client address */
    struct source sources[API_CONSOLE_SOURCES];
    size_t nsources;
    struct hd_httpc *http; /* NULL without sources */
};

/* ---- configuration ------------------------------------------------------ */

static int
parse_sources(struct api_console *c, const char *list, struct hd_err *err)
{
    const char *p = list ? list : "";

    while (*p) {
        const char *end = strchr(p, ',');
        const char *eq;
        size_t len = end ? (size_t)(end - p) : strlen(p);
        struct source *s;

        eq = memchr(p, '=', len);
        if (eq == NULL || eq == p || (size_t)(eq - p) >= API_CONSOLE_NAME_MAX ||
            eq + 1 == p + len)
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_CONSOLE_METRICS_URLS: \"%.*s\" is not "
                              "name=URL",
                              (int)(len > 64 ? 64 : len), p);
        if (c->nsources == API_CONSOLE_SOURCES)
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_CONSOLE_METRICS_URLS: more than %d "
                              "services",
                              API_CONSOLE_SOURCES);
        if (strncmp(eq + 1, "http://", 7) != 0 &&
            strncmp(eq + 1, "https://", 8) != 0)
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_CONSOLE_METRICS_URLS: %.*s: the URL "
                              "must start with http:// or https://",
                              (int)(eq - p), p);
        s = &c->sources[c->nsources++];
        memcpy(s->name, p, (size_t)(eq - p));
        s->url = hd_xmalloc((size_t)(p + len - eq) + 16);
        snprintf(s->url, (size_t)(p + len - eq) + 16, "%.*s/metrics",
                 (int)(p + len - eq - 1), eq + 1);
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

struct api_console *
api_console_new(struct api_ctx *ctx, const struct api_console_config *cfg,
                struct hd_err *err)
{
    struct api_console *c = hd_xcalloc(1, sizeof(*c));
    struct hd_httpc_config hc;

    c->ctx = ctx;
    c->session_s = cfg->session_s;
    pthread_mutex_init(&c->mu, NULL);
    /* 5 attempts at once, then one every 2 s per address */
    hd_ratelimit_init_per_min(&c->logins, &hd_clock_system, 30, 5);
    if (parse_sources(c, cfg->metrics_urls, err) < 0)
        goto fail;
    if (c->nsources > 0) {
        memset(&hc, 0, sizeof(hc));
        hc.version = HD_HTTPC_HTTP1;
        hc.timeout_ms = 2000;
        hc.max_response = HD_METRICS_OUT_MAX;
        c->http = hd_httpc_new(&hc, err);
        if (c->http == NULL || hd_httpc_start(c->http, err) < 0)
            goto fail;
    }
    return c;
fail:
    api_console_free(c);
    return NULL;
}

void
api_console_free(struct api_console *c)
{
    size_t i;

    if (c == NULL)
        return;
    hd_httpc_free(c->http);
    for (i = 0; i < c->nsources; i++)
        free(c->sources[i].url);
    hd_ratelimit_release(&c->logins);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- sessions ----------------------------------------------------------- */

/* The session id of the request's cookie, copied into id; 0 if none. */
static int
cookie_id(struct hd_http_req *req, char id[SECRET_HEX])
{
    const char *h = hd_http_req_header(req, "Cookie");
    const char *p = h;
    size_t n = strlen(COOKIE);

    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, COOKIE, n) == 0 && p[n] == '=') {
            size_t len = strcspn(p + n + 1, "; ");

            if (len != SECRET_HEX - 1)
                return 0;
            memcpy(id, p + n + 1, len);
            id[len] = '\0';
            return 1;
        }
        p = strchr(p, ';');
    }
    return 0;
}

/* Copies the live session's CSRF token into csrf (may be NULL); 0 when
 * the request has no live session. */
static int
session_find(struct api_console *c, struct hd_http_req *req,
             char csrf[SECRET_HEX])
{
    char id[SECRET_HEX];
    uint64_t now = hd_now_mono_ms();
    int found = 0;
    size_t i;

    if (!cookie_id(req, id))
        return 0;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < API_CONSOLE_SESSIONS; i++) {
        struct session *s = &c->sessions[i];

        if (s->expires_ms == 0 || !hd_secret_equal(s->id, id, SECRET_HEX - 1))
            continue;
        if (s->expires_ms <= now) {
            memset(s, 0, sizeof(*s));
            break;
        }
        if (csrf)
            memcpy(csrf, s->csrf, SECRET_HEX);
        found = 1;
        break;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

static void
session_new(struct api_console *c, struct session *out)
{
    uint64_t now = hd_now_mono_ms();
    struct session *victim = &c->sessions[0];
    size_t i;

    hd_random_hex(out->id, 32);
    hd_random_hex(out->csrf, 32);
    out->expires_ms = now + (uint64_t)c->session_s * 1000;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < API_CONSOLE_SESSIONS; i++) {
        struct session *s = &c->sessions[i];

        if (s->expires_ms <= now) {
            victim = s;
            break;
        }
        if (s->expires_ms < victim->expires_ms)
            victim = s;
    }
    *victim = *out;
    pthread_mutex_unlock(&c->mu);
}

static void
session_end(struct api_console *c, struct hd_http_req *req)
{
    char id[SECRET_HEX];
    size_t i;

    if (!cookie_id(req, id))
        return;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < API_CONSOLE_SESSIONS; i++)
        if (c->sessions[i].expires_ms != 0 &&
            hd_secret_equal(c->sessions[i].id, id, SECRET_HEX - 1))
            memset(&c->sessions[i], 0, sizeof(c->sessions[i]));
    pthread_mutex_unlock(&c->mu);
}

/* ---- request checks ----------------------------------------------------- */

/* 1 when the request's Origin (if any) is this listener. A browser sends
 * Origin on every POST; a cross-site one names the other site. */
static int
same_origin(struct hd_http_req *req)
{
    const char *origin = hd_http_req_header(req, "Origin");
    const char *host = hd_http_req_header(req, "Host");
    const char *rest;

    if (origin == NULL)
        return 1;
    if (host == NULL)
        return 0;
    if (strncmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    else
        return 0;
    return strcmp(rest, host) == 0;
}

/* For POSTs behind a session: a live session, the same origin and its
 * CSRF token. Answers 401/403 and returns 0 otherwise. */
static int
authorized_post(struct api_console *c, struct hd_http_req *req)
{
    char csrf[SECRET_HEX];
    const char *sent = hd_http_req_header(req, "X-Herald-CSRF");

    if (!same_origin(req)) {
        hd_http_respond_error(req, 403, "forbidden", "cross-origin request");
        return 0;
    }
    if (!session_find(c, req, csrf)) {
        hd_http_respond_error(req, 401, "unauthorized",
                              "no session or session expired: log in");
        return 0;
    }
    if (sent == NULL || !hd_secret_equal(csrf, sent, strlen(sent))) {
        hd_http_respond_error(req, 403, "forbidden",
                              "missing or wrong CSRF "
                              "token");
        return 0;
    }
    return 1;
}

/* ---- handlers ----------------------------------------------------------- */

static void
respond_asset(struct hd_http_req *req, const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"}};
    const char *dot = strrchr(name, '.');
    const char *type = "application/octet-stream";
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (dot && strcmp(dot, types[i].ext) == 0)
            type = types[i].type;
    for (i = 0; i < api_console_nassets; i++)
        if (strcmp(api_console_asset_names[i], name) == 0) {
            hd_http_req_add_header(req, "Cache-Control", "no-cache");
            hd_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
            hd_http_req_add_header(req, "X-Frame-Options", "DENY");
            hd_http_req_add_header(req, "Content-Security-Policy",
                                   "default-src 'self'; frame-ancestors "
                                   "'none'");
            hd_http_respond(req, 200, type, api_console_asset_data[i],
                            api_console_asset_lens[i]);
            return;
        }
    hd_http_respond_error(req, 404, "not_found", "no such file");
}

static void
h_index(struct hd_http_req *req, void *ud)
{
    (void)ud;
    if (strcmp(hd_http_req_path(req), "/console") == 0) {
        hd_http_req_add_header(req, "Location", "/console/");
        hd_http_respond(req, 302, NULL, NULL, 0);
        return;
    }
    respond_asset(req, "index.html");
}

static void
h_static(struct hd_http_req *req, void *ud)
{
    (void)ud;
    respond_asset(req, hd_http_req_param(req, "file"));
}

static void
h_login(struct hd_http_req *req, void *ud)
{
    struct api_console *c = ud;
    const char *addr = hd_http_req_remote(req);
    struct session s;
    char cookie[256], retry[16];
    const char *key;
    int wait;
    json_t *body, *out;

    if (!same_origin(req)) {
        hd_http_respond_error(req, 403, "forbidden", "cross-origin request");
        return;
    }
    /* every attempt takes a token, so a guess past the limit is not
     * even compared */
    wait = hd_ratelimit_take(&c->logins, addr ? addr : "");
    if (wait > 0) {
        snprintf(retry, sizeof(retry), "%d", wait);
        hd_http_req_add_header(req, "Retry-After", retry);
        hd_http_respond_error(req, 429, "too_many_requests",
                              "too many login attempts: wait");
        return;
    }
    body = api_body_object(req);
    if (body == NULL)
        return;
    key = json_string_value(json_object_get(body, "key"));
    if (key == NULL || !api_keys_check(&c->ctx->keys, NULL, key)) {
        json_decref(body);
        hd_log(HD_LOG_WARN, 0, "console: wrong key from %s", addr ? addr : "?");
        hd_http_respond_error(req, 401, "unauthorized", "wrong API key");
        return;
    }
    json_decref(body);
    session_new(c, &s);
    snprintf(cookie, sizeof(cookie),
             COOKIE "=%s; Path=/console; Max-Age=%d; HttpOnly; Secure; "
                    "SameSite=Strict",
             s.id, c->session_s);
    hd_http_req_add_header(req, "Set-Cookie", cookie);
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    out = json_pack("{s:s,s:i}", "csrf", s.csrf, "expires_in", c->session_s);
    hd_http_respond_json(req, 200, out);
    json_decref(out);
    hd_log(HD_LOG_INFO, 0, "console: login from %s", addr ? addr : "?");
}

static void
h_logout(struct hd_http_req *req, void *ud)
{
    struct api_console *c = ud;

    if (!authorized_post(c, req))
        return;
    session_end(c, req);
    hd_http_req_add_header(req, "Set-Cookie",
                           COOKIE "=; Path=/console; Max-Age=0; HttpOnly; "
                                  "Secure; SameSite=Strict");
    hd_http_respond(req, 204, NULL, NULL, 0);
}

static void
h_session(struct hd_http_req *req, void *ud)
{
    struct api_console *c = ud;
    char csrf[SECRET_HEX];
    json_t *out, *names;
    size_t i;

    if (!session_find(c, req, csrf)) {
        hd_http_respond_error(req, 401, "unauthorized",
                              "no session or session expired: log in");
        return;
    }
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    names = json_array();
    json_array_append_new(names, json_string("api"));
    for (i = 0; i < c->nsources; i++)
        json_array_append_new(names, json_string(c->sources[i].name));
    out = json_pack("{s:s,s:o}", "csrf", csrf, "metrics", names);
    hd_http_respond_json(req, 200, out);
    json_decref(out);
}

static void
h_api(struct hd_http_req *req, void *ud)
{
    struct api_console *c = ud;
    json_t *params;

    if (!authorized_post(c, req))
        return;
    params = api_body_object(req);
    if (params == NULL)
        return;
    api_run_method(c->ctx, req, hd_http_req_param(req, "method"), params);
}

static void
respond_text(struct hd_http_req *req, const struct hd_buf *b)
{
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    hd_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                    b->data ? b->data : "", b->len);
}

static void
h_metrics(struct hd_http_req *req, void *ud)
{
    struct api_console *c = ud;
    const char *name = hd_http_req_param(req, "name");
    struct hd_err err = {0};
    struct hd_httpc_req r;
    struct hd_httpc_reply rep;
    struct hd_buf b;
    size_t i;

    if (!session_find(c, req, NULL)) {
        hd_http_respond_error(req, 401, "unauthorized",
                              "no session or session expired: log in");
        return;
    }
    if (strcmp(name, "api") == 0) {
        hd_buf_init(&b, HD_METRICS_OUT_MAX);
        if (hd_metrics_render(c->ctx->registry, &b, &err) < 0)
            hd_http_respond_error(req, 500, "internal", "%s", err.msg);
        else
            respond_text(req, &b);
        hd_buf_release(&b);
        return;
    }
    for (i = 0; i < c->nsources; i++)
        if (strcmp(c->sources[i].name, name) == 0)
            break;
    if (i == c->nsources) {
        hd_http_respond_error(req, 404, "not_found",
                              "no such service in "
                              "HERALD_CONSOLE_METRICS_URLS");
        return;
    }
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.url = c->sources[i].url;
    if (hd_httpc_call(c->http, &r, &rep, &err) < 0 || rep.status != 200)
        hd_http_respond_error(req, 502, "upstream", "%s: %s", name,
                              err.msg[0] ? err.msg : "not 200");
    else
        respond_text(req, &rep.body);
    hd_httpc_reply_release(&rep);
}

const struct hd_http_route api_console_routes[] = {
    {"GET", "/console", h_index, 0, 0},
    {"GET", "/console/", h_index, 0, 0},
    {"GET", "/console/static/{file}", h_static, 0, 0},
    {"POST", "/console/login", h_login, API_CONSOLE_LOGIN_MAX, 0},
    {"POST", "/console/logout", h_logout, 0, 0},
    {"GET", "/console/session", h_session, 0, 0},
    {"POST", "/console/api/{method}", h_api, 0, 1},
    {"GET", "/console/metrics/{name}", h_metrics, 0, 1},
};
const size_t api_console_nroutes =
    sizeof(api_console_routes) / sizeof(api_console_routes[0]);
