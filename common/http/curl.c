/* curl.c -- hd_httpc's libcurl transport: the multi_socket API on the
 * client's epoll loop, for any URL, over HTTP/1.1 or HTTP/2.
 *
 * multi_socket rather than curl_multi_perform(): perform walks every easy
 * handle on each call, which costs O(in flight) per wake-up with a
 * thousand streams; socket_action only touches the connection that has
 * data. Easy handles live in the pooled transfers, so a steady load
 * allocates nothing per request: request headers are linked as
 * curl_slist nodes that live next to the handle and point at the
 * caller's strings. It knows nothing of the client: finished transfers
 * leave through host->complete() only. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/transport.h"
#include "core/banned.h"

#define NO_TIMER UINT64_MAX

_Static_assert(HTTPC_ERROR_LEN >= CURL_ERROR_SIZE,
               "libcurl's error buffer must fit in httpc_xfer.error");

/* A transfer's libcurl state (its priv slot), kept across reuses. */
struct easy {
    CURL *h;
    struct httpc_xfer *x;
    struct curl_slist nodes[HD_HTTPC_MAX_HEADERS + 1];
    struct easy *prev, *next; /* active list */
};

struct tp {
    struct httpc_host host;
    CURLM *multi;
    uint64_t timer_at; /* mono ms, NO_TIMER when curl wants none */
    enum hd_httpc_version version;
    int timeout_ms;
    int connect_timeout_ms;
    char *ca_file, *cert_file, *cert_type, *key_file, *key_password;
    struct curl_slist *connect_to;
    int (*addr_ok)(void *ud, const struct sockaddr *sa);
    void *addr_ud;
    struct easy *active;
};

/* ---- libcurl callbacks ------------------------------------------------ */

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    struct httpc_xfer *x = ud;
    size_t len = size * n;

    if (hd_buf_append(&x->body, p, len, NULL) < 0) {
        x->toobig = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    struct httpc_xfer *x = ud;
    size_t len = size * n;

    /* a new status line (after 1xx) starts a new header block */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0)
        hd_buf_reset(&x->hdrs);
    /* past the ceiling, later lines are dropped: headers are advisory */
    hd_buf_append(&x->hdrs, p, len, NULL);
    return len;
}

/* socketp holds the events registered for s plus one, so a transfer that
 * asks for what the socket already waits for costs no epoll_ctl. */
static int
on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct tp *t = userp;
    struct epoll_event ev;
    uintptr_t have = (uintptr_t)socketp;
    uintptr_t want;
    int epfd = t->host.epfd;

    (void)e;
    memset(&ev, 0, sizeof(ev));
    ev.data.u64 = t->host.tag | (uint64_t)s;
    if (what == CURL_POLL_REMOVE) {
        if (have != 0) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, s, &ev);
            curl_multi_assign(t->multi, s, NULL);
        }
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    want = (uintptr_t)ev.events + 1;
    if (want == have)
        return 0;
    if (have == 0) {
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
            epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
    } else if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT) {
        epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
    }
    curl_multi_assign(t->multi, s, (void *)want);
    return 0;
}

static int
on_timer(CURLM *m, long timeout_ms, void *userp)
{
    struct tp *t = userp;

    (void)m;
    t->timer_at =
        timeout_ms < 0 ? NO_TIMER : hd_now_mono_ms() + (uint64_t)timeout_ms;
    return 0;
}

/* ---- completion -----------------------------------------------------------
 */

static enum hd_httpc_fail
map_code(CURLcode rc, const struct httpc_xfer *x)
{
    switch (rc) {
    case CURLE_OK:
        return HD_HTTPC_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return HD_HTTPC_ECONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
        return HD_HTTPC_ETLS;
    case CURLE_OPERATION_TIMEDOUT:
        return HD_HTTPC_ETIMEOUT;
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return HD_HTTPC_ESTREAM;
    case CURLE_WRITE_ERROR:
        return x->toobig ? HD_HTTPC_ETOOBIG : HD_HTTPC_EOTHER;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return HD_HTTPC_EPROTO;
    default:
        return HD_HTTPC_EOTHER;
    }
}

/* Status and version from the handle, then the transfer leaves. */
static void
complete(struct tp *t, struct httpc_xfer *x, enum hd_httpc_fail fail,
         const char *why)
{
    struct easy *ez = x->priv[HTTPC_SLOT_CURL];
    long status = 0, ver = 0;

    if (fail == HD_HTTPC_OK && ez != NULL && ez->h != NULL) {
        curl_easy_getinfo(ez->h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(ez->h, CURLINFO_HTTP_VERSION, &ver);
    }
    x->status = (int)status;
    x->version = ver == CURL_HTTP_VERSION_2_0 ? 2
                 : ver == CURL_HTTP_VERSION_3 ? 3
                                              : 1;
    t->host.complete(t->host.owner, x, fail, why);
}

static void
active_unlink(struct tp *t, struct easy *ez)
{
    if (ez->prev)
        ez->prev->next = ez->next;
    else
        t->active = ez->next;
    if (ez->next)
        ez->next->prev = ez->prev;
    ez->prev = ez->next = NULL;
}

/* ---- requests -------------------------------------------------------------
 */

/* CURLOPT_OPENSOCKETFUNCTION: the address check of hd_httpc_config. */
static curl_socket_t
open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct tp *t = ud;

    (void)purpose;
    if (!t->addr_ok(t->addr_ud, &a->addr))
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

/* The options every request of this client shares, set once per easy
 * handle: a pooled handle keeps them, so a request only sets what differs
 * (curl_easy_reset() would free and rebuild all of it each time). */
static CURL *
easy_new(struct tp *t, struct httpc_xfer *x)
{
    CURL *e = curl_easy_init();
    CURLcode rc = CURLE_OK;
    long ver = t->version == HD_HTTPC_HTTP1 ? CURL_HTTP_VERSION_1_1
                                            : CURL_HTTP_VERSION_2TLS;

    if (e == NULL)
        return NULL;
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, ver);
    rc |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                           (long)t->connect_timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (t->ca_file)
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    if (t->connect_to)
        rc |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, t->connect_to);
    if (t->addr_ok) {
        rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        rc |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    }
    if (t->cert_file) {
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE,
                               t->cert_type ? t->cert_type : "PEM");
    }
    if (t->key_file)
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
    if (t->key_password)
        rc |= curl_easy_setopt(e, CURLOPT_KEYPASSWD, t->key_password);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

static void
link_header(struct easy *ez, size_t *n, const char *line)
{
    ez->nodes[*n].data = (char *)(uintptr_t)line;
    ez->nodes[*n].next = NULL;
    if (*n > 0)
        ez->nodes[*n - 1].next = &ez->nodes[*n];
    (*n)++;
}

/* Sets the options of one request and adds it to the multi. Returns 0,
 * or -1 with a reason in x->error. */
static int
add(struct tp *t, struct httpc_xfer *x, struct easy *ez)
{
    const struct hd_httpc_req *q = &x->req;
    int post = q->body != NULL || (q->method && strcmp(q->method, "POST") == 0);
    const char *custom = NULL;
    CURLcode rc = CURLE_OK;
    size_t i, n = 0;
    CURL *e;

    if (ez->h == NULL)
        ez->h = easy_new(t, x);
    e = ez->h;
    if (e == NULL) {
        snprintf(x->error, sizeof(x->error), "libcurl refused an option");
        return -1;
    }
    for (i = 0; i < q->nheaders; i++)
        link_header(ez, &n, q->headers[i]);
    if (post) /* no "Expect: 100-continue" round trip on HTTP/1.1 */
        link_header(ez, &n, "Expect:");
    if (q->method && strcmp(q->method, "POST") != 0 &&
        strcmp(q->method, "GET") != 0)
        custom = q->method;
    rc |= curl_easy_setopt(e, CURLOPT_URL, q->url);
    rc |= curl_easy_setopt(
        e, CURLOPT_TIMEOUT_MS,
        (long)(q->timeout_ms > 0 ? q->timeout_ms : t->timeout_ms));
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, n > 0 ? &ez->nodes[0] : NULL);
    rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, custom);
    if (post) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                               (curl_off_t)(q->body ? q->len : 0));
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                               q->body ? (const char *)q->body : "");
    } else {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (rc != CURLE_OK) {
        snprintf(x->error, sizeof(x->error), "libcurl refused an option");
        return -1;
    }
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        snprintf(x->error, sizeof(x->error), "curl_multi_add_handle failed");
        return -1;
    }
    ez->next = t->active;
    if (t->active)
        t->active->prev = ez;
    t->active = ez;
    return 0;
}

/* ---- the transport ---------------------------------------------------- */

static int
curl_wants(void *tp, const struct httpc_xfer *x)
{
    (void)tp;
    (void)x;
    return 1; /* anything libcurl may refuse is refused in start */
}

static void
curl_start(void *tp, struct httpc_xfer *x)
{
    struct tp *t = tp;
    struct easy *ez = x->priv[HTTPC_SLOT_CURL];

    if (ez == NULL) {
        ez = hd_xcalloc(1, sizeof(*ez));
        ez->x = x;
        x->priv[HTTPC_SLOT_CURL] = ez;
    }
    if (add(t, x, ez) < 0)
        complete(t, x, HD_HTTPC_EOTHER, x->error);
}

/* Completes the transfers libcurl has finished. */
static void
drain_done(struct tp *t)
{
    CURLMsg *m;
    int left = 0;

    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        struct httpc_xfer *x = NULL;
        CURLcode rc;

        if (m->msg != CURLMSG_DONE)
            continue;
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(t->multi, m->easy_handle);
        active_unlink(t, x->priv[HTTPC_SLOT_CURL]);
        complete(t, x, map_code(rc, x), NULL);
    }
}

static void
curl_before(void *tp)
{
    drain_done(tp); /* start failures complete immediately */
}

static int
curl_timeout(void *tp)
{
    struct tp *t = tp;
    uint64_t now;

    if (t->timer_at == NO_TIMER)
        return -1;
    now = hd_now_mono_ms();
    return t->timer_at > now ? (int)(t->timer_at - now) : 0;
}

static int
curl_event(void *tp, uint64_t data, uint32_t events, struct hd_err *err)
{
    struct tp *t = tp;
    int flags = 0, running = 0;

    if (events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    /* an unknown socket (closed earlier in this batch) is ignored */
    if (curl_multi_socket_action(t->multi, (curl_socket_t)data, flags,
                                 &running) == CURLM_OUT_OF_MEMORY)
        return hd_err_set(err, HD_EIO, "curl_multi_socket_action: OOM");
    return 0;
}

static int
curl_after(void *tp, struct hd_err *err)
{
    struct tp *t = tp;
    int running = 0;

    if (t->timer_at != NO_TIMER && t->timer_at <= hd_now_mono_ms()) {
        t->timer_at = NO_TIMER;
        if (curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running) == CURLM_OUT_OF_MEMORY)
            return hd_err_set(err, HD_EIO, "curl_multi_socket_action: OOM");
    }
    drain_done(t);
    return 0;
}

static void
curl_cancel(void *tp)
{
    struct tp *t = tp;
    struct easy *ez;

    while ((ez = t->active) != NULL) {
        curl_multi_remove_handle(t->multi, ez->h);
        active_unlink(t, ez);
        complete(t, ez->x, HD_HTTPC_ECANCEL, "client freed");
    }
}

static void
curl_xfer_free(void *priv)
{
    struct easy *ez = priv;

    if (ez == NULL)
        return;
    if (ez->h)
        curl_easy_cleanup(ez->h);
    free(ez);
}

static char *
dup_opt(const char *s)
{
    return s && *s ? hd_xstrdup(s) : NULL;
}

/* Splits "a,b,c" into a curl_slist. Returns 0 or -1. */
static int
split_list(const char *s, struct curl_slist **out)
{
    const char *p = s;

    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            char *item = hd_xstrndup(p, n);
            struct curl_slist *l = curl_slist_append(*out, item);

            free(item);
            if (l == NULL)
                return -1;
            *out = l;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void
curl_destroy(void *tp)
{
    struct tp *t = tp;

    if (t == NULL)
        return;
    if (t->multi)
        curl_multi_cleanup(t->multi);
    curl_slist_free_all(t->connect_to);
    free(t->ca_file);
    free(t->cert_file);
    free(t->cert_type);
    free(t->key_file);
    free(t->key_password);
    free(t);
}

static int
multi_setup(struct tp *t, const struct hd_httpc_config *cfg)
{
    CURLMcode mc = CURLM_OK;
    long conns = cfg->max_connections;
    long streams = cfg->max_streams > 1000 ? 1000 : cfg->max_streams;

    mc |= curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_PIPELINING,
                            (long)CURLPIPE_MULTIPLEX);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, streams);
    mc |= curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, conns * 4);
    return mc == CURLM_OK ? 0 : -1;
}

static void *
curl_create(const struct httpc_host *host, struct hd_err *err)
{
    const struct hd_httpc_config *cfg = host->cfg;
    struct tp *t = hd_xcalloc(1, sizeof(*t));

    t->host = *host;
    t->timer_at = NO_TIMER;
    t->version = cfg->version;
    t->timeout_ms = cfg->timeout_ms;
    t->connect_timeout_ms = cfg->connect_timeout_ms;
    t->addr_ok = cfg->addr_ok;
    t->addr_ud = cfg->addr_ud;
    t->ca_file = dup_opt(cfg->ca_file);
    t->cert_file = dup_opt(cfg->cert_file);
    t->cert_type = dup_opt(cfg->cert_type);
    t->key_file = dup_opt(cfg->key_file);
    t->key_password = dup_opt(cfg->key_password);
    if (split_list(cfg->connect_to, &t->connect_to) < 0) {
        hd_err_set(err, HD_EINVAL, "connect-to list: out of memory");
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        hd_err_set(err, HD_EIO, "curl_global_init failed");
        goto fail;
    }
    t->multi = curl_multi_init();
    if (t->multi == NULL) {
        hd_err_set(err, HD_EIO, "curl_multi_init failed");
        goto fail;
    }
    if (multi_setup(t, cfg) < 0) {
        hd_err_set(err, HD_EINVAL, "libcurl refused a multi option");
        goto fail;
    }
    return t;
fail:
    curl_destroy(t);
    return NULL;
}

const struct httpc_transport httpc_curl_transport = {
    .name = "libcurl",
    .create = curl_create,
    .cancel = curl_cancel,
    .destroy = curl_destroy,
    .xfer_free = curl_xfer_free,
    .wants = curl_wants,
    .start = curl_start,
    .before = curl_before,
    .timeout = curl_timeout,
    .event = curl_event,
    .after = curl_after,
};
