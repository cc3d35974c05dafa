/* http_req.c -- one HTTP request: its id, its accessors, and its one
 * response.
 *
 * Responses are built on the caller's thread (any thread) and handed over
 * in finish() under the request's lock; whether the I/O thread queues the
 * response itself or must be resumed is the state machine in
 * http_private.h. The only log line is the request's access line, when
 * it completes. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/server_private.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/peer.h"
#include "core/banned.h"

void
hd_http_misuse_(const char *what)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"http: %s\"}\n", what);
    fflush(stderr);
    abort();
}

static int
valid_id(const char *v)
{
    size_t i;

    if (v == NULL || v[0] == '\0')
        return 0;
    for (i = 0; v[i]; i++) {
        char c = v[i];

        if (i == HD_HTTP_ID_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* 24 hex characters (96 bits) from the per-thread generator: ids only
 * need to be unique, and this costs no system call. */
static void
new_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = hd_rand_u64();
    uint64_t b = hd_rand_u64();
    int i;

    for (i = 0; i < 16; i++)
        out[i] = hex[(a >> (4 * i)) & 15];
    for (i = 0; i < 8; i++)
        out[16 + i] = hex[(b >> (4 * i)) & 15];
    out[24] = '\0';
}

/* Collects every line of one header, joined by ",", as RFC 9110 5.3
 * allows: a proxy may append its hop as a header line of its own, and
 * reading only the first line would read the client's. */
struct joined {
    const char *name;
    struct hd_buf b;
    int over;
};

static enum MHD_Result
join_header(void *cls, enum MHD_ValueKind kind, const char *key,
            const char *value)
{
    struct joined *j = cls;

    (void)kind;
    if (strcasecmp(key, j->name) != 0 || value == NULL)
        return MHD_YES;
    if ((j->b.len && hd_buf_putc(&j->b, ',', NULL) < 0) ||
        hd_buf_puts(&j->b, value, NULL) < 0)
        j->over = 1;
    return MHD_YES;
}

/* r->remote: the TCP peer, or the client a trusted proxy names. */
static void
set_remote(struct hd_http_req *r, const struct sockaddr *sa)
{
    const struct hd_peer_trust *t = r->s->trust;
    struct joined xff = {"X-Forwarded-For", {0}, 0};
    struct joined fwd = {"Forwarded", {0}, 0};
    char peer[INET6_ADDRSTRLEN] = "";
    const void *a = NULL;

    if (sa && sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    else if (sa && sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    if (a)
        inet_ntop(sa->sa_family, a, peer, sizeof(peer));
    if (t == NULL || !hd_peer_trusted(t, peer)) {
        hd_peer_client(t ? t : &(struct hd_peer_trust){0}, peer, NULL, NULL,
                       r->remote);
        return;
    }
    hd_buf_init(&xff.b, HD_PEER_HEADER_MAX);
    hd_buf_init(&fwd.b, HD_PEER_HEADER_MAX);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, join_header,
                              t->header == HD_PEER_FORWARDED ? (void *)&fwd
                                                             : (void *)&xff);
    hd_peer_client(t, peer, xff.over ? NULL : xff.b.data,
                   fwd.over ? NULL : fwd.b.data, r->remote);
    hd_buf_release(&xff.b);
    hd_buf_release(&fwd.b);
}

struct hd_http_req *
hd_http_req_new_(struct hd_http_server *s, struct MHD_Connection *conn,
                 const char *url, const char *method)
{
    struct hd_http_req *r = hd_xcalloc(1, sizeof(*r));
    const union MHD_ConnectionInfo *ci;
    const char *cid;

    r->s = s;
    r->conn = conn;
    r->route = -1;
    r->method = method;
    r->path = url;
    r->start_us = hd_now_mono_us();
    r->state = HD_RS_RECEIVING;
    pthread_mutex_init(&r->mu, NULL);
    hd_buf_init(&r->body, 0);
    hd_buf_init(&r->hdrs, HD_HTTP_MAX_HEADER);
    cid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (valid_id(cid))
        memcpy(r->id, cid, strlen(cid) + 1);
    else
        new_id(r->id);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    set_remote(r, ci ? ci->client_addr : NULL);
    return r;
}

void
hd_http_req_free_(struct hd_http_req *r)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    hd_buf_release(&r->body);
    hd_buf_release(&r->hdrs);
    free(r->pbuf);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void
hd_http_req_set_params_(struct hd_http_req *r,
                        const struct hd_http_route_match *m)
{
    size_t total = 0;
    size_t i;
    char *p;

    for (i = 0; i < m->n; i++)
        total += m->len[i] + 1;
    p = r->pbuf = hd_xmalloc(total ? total : 1);
    for (i = 0; i < m->n; i++) {
        memcpy(p, r->path + m->off[i], m->len[i]);
        p[m->len[i]] = '\0';
        r->pvals[i] = p;
        p += m->len[i] + 1;
    }
}

/* ---- responses ---- */

/* Hands resp to whoever queues it: ahc() if it has not settled yet, or a
 * resumed connection. After the unlock r may be freed at any moment. */
static void
finish(struct hd_http_req *r, struct MHD_Response *resp, unsigned status,
       size_t len)
{
    struct MHD_Connection *conn = r->conn;
    int wake;
    int gone;

    pthread_mutex_lock(&r->mu);
    if (r->handler_done)
        hd_http_misuse_("a second response to one request");
    r->handler_done = 1;
    if (r->forced || r->conn_gone) {
        /* answered for it at shutdown: drop this late response */
        gone = r->conn_gone;
        pthread_mutex_unlock(&r->mu);
        MHD_destroy_response(resp);
        if (gone)
            hd_http_req_free_(r);
        return;
    }
    r->resp = resp;
    r->status = status;
    r->resp_len = len;
    wake = r->state == HD_RS_SUSPENDED;
    r->state = HD_RS_RESPONDED;
    pthread_mutex_unlock(&r->mu);
    if (wake)
        MHD_resume_connection(conn);
}

static void
add_headers(struct hd_http_req *r, struct MHD_Response *resp,
            const char *content_type)
{
    size_t i = 0;

    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
    while (i < r->hdrs.len) {
        const char *name = r->hdrs.data + i;
        const char *value = name + strlen(name) + 1;

        MHD_add_response_header(resp, name, value);
        i = (size_t)(value - r->hdrs.data) + strlen(value) + 1;
    }
}

static void
respond_with(struct hd_http_req *r, int status, const char *content_type,
             struct MHD_Response *resp, size_t len)
{
    add_headers(r, resp, content_type);
    finish(r, resp, (unsigned)status, len);
}

void
hd_http_req_add_header(struct hd_http_req *r, const char *name,
                       const char *value)
{
    size_t start = r->hdrs.len;

    /* over HD_HTTP_MAX_HEADER in total the header is dropped whole */
    if (hd_buf_append(&r->hdrs, name, strlen(name) + 1, NULL) < 0 ||
        hd_buf_append(&r->hdrs, value, strlen(value) + 1, NULL) < 0)
        r->hdrs.len = start;
}

void
hd_http_respond(struct hd_http_req *r, int status, const char *content_type,
                const void *body, size_t len)
{
    struct MHD_Response *resp;

    /* MUST_COPY: the caller's buffer may die as soon as we return */
    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                           MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        hd_http_misuse_("cannot create a response");
    respond_with(r, status, content_type, resp, len);
}

void
hd_http_respond_json(struct hd_http_req *r, int status, json_t *body)
{
    char small[2048];
    struct MHD_Response *resp;
    size_t n;
    char *big;

    n = body ? json_dumpb(body, small, sizeof(small), JSON_COMPACT) : 0;
    if (n == 0) {
        hd_http_respond_error(r, 500, "internal", "response not encodable");
        return;
    }
    if (n <= sizeof(small)) {
        hd_http_respond(r, status, "application/json", small, n);
        return;
    }
    /* large: serialise once more into a buffer MHD takes over */
    big = hd_xmalloc(n);
    json_dumpb(body, big, n, JSON_COMPACT);
    resp = MHD_create_response_from_buffer_with_free_callback(n, big, free);
    if (resp == NULL)
        hd_http_misuse_("cannot create a response");
    respond_with(r, status, "application/json", resp, n);
}

void
hd_http_respond_error(struct hd_http_req *r, int status, const char *code,
                      const char *fmt, ...)
{
    char msg[1024];
    json_t *j;
    json_t *m;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* json_string() refuses bytes that are not UTF-8 (a path, say) */
    m = json_string(msg);
    if (m == NULL)
        m = json_string("(message is not valid UTF-8)");
    j = json_pack("{s:s,s:o,s:s}", "error", code, "message", m, "request_id",
                  r->id);
    if (j == NULL) {
        hd_http_respond(r, status, "application/json",
                        "{\"error\":\"internal\"}", 20);
        return;
    }
    hd_http_respond_json(r, status, j);
    json_decref(j);
}

/* ---- request accessors ---- */

const char *
hd_http_req_method(const struct hd_http_req *r)
{
    return r->method;
}

const char *
hd_http_req_path(const struct hd_http_req *r)
{
    return r->path;
}

const char *
hd_http_req_query(const struct hd_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
hd_http_req_header(const struct hd_http_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);

    if (v && strnlen(v, HD_HTTP_MAX_HEADER + 1) > HD_HTTP_MAX_HEADER)
        return NULL;
    return v;
}

const char *
hd_http_req_param(const struct hd_http_req *r, const char *name)
{
    int i;

    if (r->route < 0 || r->pbuf == NULL)
        return NULL;
    i = hd_http_router_param(&r->s->router, r->route, name);
    return i < 0 ? NULL : r->pvals[i];
}

const char *
hd_http_req_body(const struct hd_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *
hd_http_req_id(const struct hd_http_req *r)
{
    return r->id;
}

const char *
hd_http_req_remote(const struct hd_http_req *r)
{
    return r->remote;
}

/* ---- completion: metrics and the access line ---- */

static const char *
method_label(const char *m)
{
    static const char *const known[] = {"GET",    "HEAD",  "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", NULL};
    size_t i;

    /* a client picks the method: keep the label set bounded */
    for (i = 0; known[i]; i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

void
hd_http_req_account_(struct hd_http_req *r, enum MHD_RequestTerminationCode toe)
{
    struct hd_http_server *s = r->s;
    uint64_t us = hd_now_mono_us() - r->start_us;
    const char *route =
        r->route >= 0 ? s->router.e[r->route].r->path : "unmatched";
    unsigned status;
    size_t len;
    char st[16];

    pthread_mutex_lock(&r->mu);
    status = r->state == HD_RS_QUEUED ? r->status : 0;
    len = status ? r->resp_len : 0;
    pthread_mutex_unlock(&r->mu);
    if (s->m_reqs && status) {
        snprintf(st, sizeof(st), "%u", status);
        hd_counter_inc(
            hd_metric_with(s->m_reqs, route, method_label(r->method), st));
        hd_histogram_observe(r->route >= 0 ? s->dur[r->route]
                                           : s->unmatched_dur,
                             (double)us / 1e6);
    }
    if (!s->cfg.access_log || hd_log_min_level > HD_LOG_INFO)
        return;
    hd_log_ctx_set("method", "%s", r->method);
    hd_log_ctx_set("path", "%s", r->path);
    hd_log_ctx_set("status", "%u", status);
    hd_log_ctx_set("bytes", "%zu", len);
    hd_log_ctx_set("duration_ms", "%.3f", (double)us / 1000.0);
    hd_log_ctx_set("remote", "%s", r->remote);
    hd_log_ctx_set("req_id", "%s", r->id);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        hd_log_ctx_set("aborted", "%d", (int)toe);
    hd_log(HD_LOG_INFO, 0, "http request");
    hd_log_ctx_clear();
}
