/* httpc.c -- struct hd_httpc: libcurl's multi_socket API on an epoll loop.
 *
 * multi_socket rather than curl_multi_perform(): perform walks every easy
 * handle on each call, which costs O(in flight) per wake-up with a
 * thousand streams; socket_action only touches the connection that has
 * data. Submissions from any thread go through a locked pending list and
 * an eventfd; only the loop thread ever touches libcurl handles. Transfers
 * (easy handle plus buffers) are pooled, so a steady load allocates
 * nothing per request: request headers are linked as curl_slist nodes
 * that live in the transfer and point at the caller's strings. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/client.h"
#include "http/client_private.h"
#include "core/limits.h"
#include "core/banned.h"

#define POOL_MAX 1024        /* idle transfers kept for reuse */
#define KEEP_BUF (16 * 1024) /* larger buffers are freed on reuse */
#define NO_TIMER UINT64_MAX
#define EVENTS 64

static const char *const fail_names[] = {
    "ok",     "connect", "tls",    "timeout", "stream",
    "toobig", "proto",   "cancel", "other",
};

const char *
hd_httpc_fail_name(enum hd_httpc_fail f)
{
    if ((size_t)f >= sizeof(fail_names) / sizeof(fail_names[0]))
        return "other";
    return fail_names[f];
}

/* ---- libcurl callbacks ------------------------------------------------ */

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
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
    struct xfer *x = ud;
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
    struct hd_httpc *c = userp;
    struct epoll_event ev;
    uintptr_t have = (uintptr_t)socketp;
    uintptr_t want;

    (void)e;
    memset(&ev, 0, sizeof(ev));
    ev.data.u64 = (uint64_t)s;
    if (what == CURL_POLL_REMOVE) {
        if (have != 0) {
            epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, &ev);
            curl_multi_assign(c->multi, s, NULL);
        }
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    want = (uintptr_t)ev.events + 1;
    if (want == have)
        return 0;
    if (have == 0) {
        if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
            epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev);
    } else if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev) < 0 &&
               errno == ENOENT) {
        epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev);
    }
    curl_multi_assign(c->multi, s, (void *)want);
    return 0;
}

static int
on_timer(CURLM *m, long timeout_ms, void *userp)
{
    struct hd_httpc *c = userp;

    (void)m;
    c->timer_at =
        timeout_ms < 0 ? NO_TIMER : hd_now_mono_ms() + (uint64_t)timeout_ms;
    return 0;
}

/* ---- transfers ---------------------------------------------------------- */

static struct xfer *
xfer_get(struct hd_httpc *c)
{
    struct xfer *x;

    pthread_mutex_lock(&c->lock);
    x = c->pool;
    if (x != NULL) {
        c->pool = x->q;
        c->npool--;
    }
    pthread_mutex_unlock(&c->lock);
    if (x == NULL) {
        x = hd_xcalloc(1, sizeof(*x));
        x->c = c;
        hd_buf_init(&x->body, HD_HTTPC_MAX_RESPONSE);
        hd_buf_init(&x->hdrs, HD_HTTPC_MAX_RESP_HEADERS);
    }
    x->q = NULL;
    x->prev = x->next = NULL;
    x->toobig = 0;
    x->status = 0;
    x->version = 0;
    x->errbuf[0] = '\0';
    return x;
}

static void
xfer_destroy(struct xfer *x)
{
    if (x->easy)
        curl_easy_cleanup(x->easy);
    h2_stream_free(x->h2s);
    hd_buf_release(&x->body);
    hd_buf_release(&x->hdrs);
    free(x);
}

static void
xfer_put(struct hd_httpc *c, struct xfer *x)
{
    if (x->body.cap > KEEP_BUF) {
        hd_buf_release(&x->body);
        hd_buf_init(&x->body, HD_HTTPC_MAX_RESPONSE);
    }
    if (x->hdrs.cap > KEEP_BUF) {
        hd_buf_release(&x->hdrs);
        hd_buf_init(&x->hdrs, HD_HTTPC_MAX_RESP_HEADERS);
    }
    hd_buf_reset(&x->body);
    hd_buf_reset(&x->hdrs);
    x->cb = NULL;
    x->ud = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool < POOL_MAX) {
        x->q = c->pool;
        c->pool = x;
        c->npool++;
        x = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (x != NULL)
        xfer_destroy(x);
}

static enum hd_httpc_fail
map_code(CURLcode rc, const struct xfer *x)
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

void
httpc_complete(struct hd_httpc *c, struct xfer *x, enum hd_httpc_fail fail,
               const char *why)
{
    struct hd_httpc_resp r;

    memset(&r, 0, sizeof(r));
    r.fail = fail;
    if (fail == HD_HTTPC_OK) {
        r.status = x->status;
        r.http_version = x->version;
        if (c->version == HD_HTTPC_HTTP2_ONLY && r.http_version != 2) {
            r.fail = HD_HTTPC_EPROTO;
            why = "the server answered over HTTP/1.x; HTTP/2 is required";
        }
    }
    if (r.fail != HD_HTTPC_OK) {
        r.status = 0;
        if (why == NULL)
            why = x->errbuf[0] ? x->errbuf : hd_httpc_fail_name(r.fail);
    }
    r.body = x->body.data ? x->body.data : "";
    r.len = x->body.len;
    r.headers = x->hdrs.data ? x->hdrs.data : "";
    r.headers_len = x->hdrs.len;
    r.error = r.fail == HD_HTTPC_OK ? "" : why;
    r.duration_us = hd_now_mono_us() - x->start_us;
    atomic_fetch_sub(&c->inflight, 1);
    c->ncompleted++;
    x->cb(x->ud, &r);
    xfer_put(c, x);
}

/* The libcurl path's completion: status and version from the handle. */
static void
complete(struct hd_httpc *c, struct xfer *x, enum hd_httpc_fail fail,
         const char *why)
{
    long status = 0, ver = 0;

    if (fail == HD_HTTPC_OK && x->easy != NULL) {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &ver);
    }
    x->status = (int)status;
    x->version = ver == CURL_HTTP_VERSION_2_0 ? 2
                 : ver == CURL_HTTP_VERSION_3 ? 3
                                              : 1;
    httpc_complete(c, x, fail, why);
}

static void
active_unlink(struct hd_httpc *c, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* The options every request of this client shares, set once per easy
 * handle: a pooled handle keeps them, so a request only sets what differs
 * (curl_easy_reset() would free and rebuild all of it each time). */
static CURL *
easy_new(struct hd_httpc *c, struct xfer *x)
{
    CURL *e = curl_easy_init();
    CURLcode rc = CURLE_OK;
    long ver = c->version == HD_HTTPC_HTTP1 ? CURL_HTTP_VERSION_1_1
                                            : CURL_HTTP_VERSION_2TLS;

    if (e == NULL)
        return NULL;
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
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
                           (long)c->connect_timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->ca_file)
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->connect_to)
        rc |= curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
    if (c->cert_file) {
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE,
                               c->cert_type ? c->cert_type : "PEM");
    }
    if (c->key_file)
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
    if (c->key_password)
        rc |= curl_easy_setopt(e, CURLOPT_KEYPASSWD, c->key_password);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

static void
link_header(struct xfer *x, size_t *n, const char *line)
{
    x->nodes[*n].data = (char *)(uintptr_t)line;
    x->nodes[*n].next = NULL;
    if (*n > 0)
        x->nodes[*n - 1].next = &x->nodes[*n];
    (*n)++;
}

/* Sets the options of one request and adds it to the multi. Returns 0,
 * or -1 with a reason in x->errbuf. */
static int
start(struct hd_httpc *c, struct xfer *x)
{
    const struct hd_httpc_req *q = &x->req;
    int post = q->body != NULL || (q->method && strcmp(q->method, "POST") == 0);
    const char *custom = NULL;
    CURLcode rc = CURLE_OK;
    size_t i, n = 0;
    CURL *e;

    if (x->easy == NULL)
        x->easy = easy_new(c, x);
    e = x->easy;
    if (e == NULL) {
        snprintf(x->errbuf, sizeof(x->errbuf), "libcurl refused an option");
        return -1;
    }
    for (i = 0; i < q->nheaders; i++)
        link_header(x, &n, q->headers[i]);
    if (post) /* no "Expect: 100-continue" round trip on HTTP/1.1 */
        link_header(x, &n, "Expect:");
    if (q->method && strcmp(q->method, "POST") != 0 &&
        strcmp(q->method, "GET") != 0)
        custom = q->method;
    rc |= curl_easy_setopt(e, CURLOPT_URL, q->url);
    rc |= curl_easy_setopt(
        e, CURLOPT_TIMEOUT_MS,
        (long)(q->timeout_ms > 0 ? q->timeout_ms : c->timeout_ms));
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, n > 0 ? &x->nodes[0] : NULL);
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
        snprintf(x->errbuf, sizeof(x->errbuf), "libcurl refused an option");
        return -1;
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        snprintf(x->errbuf, sizeof(x->errbuf), "curl_multi_add_handle failed");
        return -1;
    }
    x->next = c->active;
    if (c->active)
        c->active->prev = x;
    c->active = x;
    return 0;
}

/* Moves the pending list into the multi (loop thread). */
static void
add_pending(struct hd_httpc *c)
{
    struct xfer *list, *x;

    pthread_mutex_lock(&c->lock);
    list = c->pending;
    c->pending = c->pending_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    while (list != NULL) {
        x = list;
        list = x->q;
        x->q = NULL;
        if (c->h2 && h2_wants(c->h2, x))
            h2_start(c->h2, x);
        else if (start(c, x) < 0)
            complete(c, x, HD_HTTPC_EOTHER, x->errbuf);
    }
}

static int
drain_done(struct hd_httpc *c)
{
    CURLMsg *m;
    int left = 0, n = 0;

    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct xfer *x = NULL;
        CURLcode rc;

        if (m->msg != CURLMSG_DONE)
            continue;
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(c->multi, m->easy_handle);
        active_unlink(c, x);
        complete(c, x, map_code(rc, x), NULL);
        n++;
    }
    return n;
}

/* ---- public API --------------------------------------------------------- */

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

struct hd_httpc *
hd_httpc_new(const struct hd_httpc_config *cfg, struct hd_err *err)
{
    struct hd_httpc *c = hd_xcalloc(1, sizeof(*c));
    struct epoll_event ev;
    CURLMcode mc = CURLM_OK;
    long conns = cfg->max_connections > 0 ? cfg->max_connections : 4;
    long streams = cfg->max_streams > 0 ? cfg->max_streams : 100;

    c->epfd = -1;
    c->wakefd = -1;
    pthread_mutex_init(&c->lock, NULL);
    c->timer_at = NO_TIMER;
    c->version = cfg->version;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : HD_HTTPC_TIMEOUT_MS;
    c->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    c->ca_file = dup_opt(cfg->ca_file);
    c->cert_file = dup_opt(cfg->cert_file);
    c->cert_type = dup_opt(cfg->cert_type);
    c->key_file = dup_opt(cfg->key_file);
    c->key_password = dup_opt(cfg->key_password);
    if (streams > 1000)
        streams = 1000;
    if (split_list(cfg->connect_to, &c->connect_to) < 0) {
        hd_err_set(err, HD_EINVAL, "connect-to list: out of memory");
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        hd_err_set(err, HD_EIO, "curl_global_init failed");
        goto fail;
    }
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->epfd < 0 || c->wakefd < 0) {
        hd_err_set(err, HD_EIO, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)c->wakefd;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) < 0) {
        hd_err_set(err, HD_EIO, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        hd_err_set(err, HD_EIO, "curl_multi_init failed");
        goto fail;
    }
    mc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_PIPELINING,
                            (long)CURLPIPE_MULTIPLEX);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, streams);
    mc |= curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, conns * 4);
    if (mc != CURLM_OK) {
        hd_err_set(err, HD_EINVAL, "libcurl refused a multi option");
        goto fail;
    }
    if (cfg->native_h2) {
        c->h2 = h2_new(c, cfg, err);
        if (c->h2 == NULL)
            goto fail;
    }
    return c;
fail:
    hd_httpc_free(c);
    return NULL;
}

static void *
loop_main(void *arg)
{
    struct hd_httpc *c = arg;

    c->loop = pthread_self();
    atomic_store(&c->have_loop, 1);
    while (!atomic_load(&c->stop))
        hd_httpc_run(c, 1000, NULL);
    return NULL;
}

int
hd_httpc_start(struct hd_httpc *c, struct hd_err *err)
{
    int rc;

    if (c->threaded || atomic_load(&c->have_loop))
        return hd_err_set(err, HD_EINVAL, "httpc: loop thread already set");
    rc = pthread_create(&c->thread, NULL, loop_main, c);
    if (rc != 0)
        return hd_err_set(err, HD_EIO, "pthread_create: %s", strerror(rc));
    c->threaded = 1;
    return 0;
}

void
hd_httpc_free(struct hd_httpc *c)
{
    struct xfer *x;

    if (c == NULL)
        return;
    atomic_store(&c->stopping, 1);
    if (c->threaded) {
        atomic_store(&c->stop, 1);
        hd_httpc_wakeup(c);
        pthread_join(c->thread, NULL);
        c->threaded = 0;
    }
    while ((x = c->active) != NULL) {
        curl_multi_remove_handle(c->multi, x->easy);
        active_unlink(c, x);
        complete(c, x, HD_HTTPC_ECANCEL, "client freed");
    }
    h2_free(c->h2);
    c->h2 = NULL;
    while ((x = c->pending) != NULL) {
        c->pending = x->q;
        complete(c, x, HD_HTTPC_ECANCEL, "client freed");
    }
    while ((x = c->pool) != NULL) {
        c->pool = x->q;
        xfer_destroy(x);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->wakefd >= 0)
        close(c->wakefd);
    curl_slist_free_all(c->connect_to);
    free(c->ca_file);
    free(c->cert_file);
    free(c->cert_type);
    free(c->key_file);
    free(c->key_password);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void
hd_httpc_wakeup(struct hd_httpc *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->wakefd, &one, sizeof(one));

    (void)n; /* EAGAIN: the counter is already non-zero, a wake is due */
}

static int
on_loop_thread(struct hd_httpc *c)
{
    return atomic_load(&c->have_loop) && pthread_equal(c->loop, pthread_self());
}

int
hd_httpc_submit(struct hd_httpc *c, const struct hd_httpc_req *req,
                hd_httpc_done_fn *cb, void *ud, struct hd_err *err)
{
    struct xfer *x;

    if (req->nheaders > HD_HTTPC_MAX_HEADERS)
        return hd_err_set(err, HD_EINVAL, "httpc: %zu headers (max %d)",
                          req->nheaders, HD_HTTPC_MAX_HEADERS);
    if (req->url == NULL)
        return hd_err_set(err, HD_EINVAL, "httpc: no URL");
    if (atomic_load(&c->stopping))
        return hd_err_set(err, HD_EIO, "httpc: client is stopping");
    x = xfer_get(c);
    x->req = *req;
    x->cb = cb;
    x->ud = ud;
    x->start_us = hd_now_mono_us();
    atomic_fetch_add(&c->inflight, 1);
    pthread_mutex_lock(&c->lock);
    if (c->pending_tail)
        c->pending_tail->q = x;
    else
        c->pending = x;
    c->pending_tail = x;
    pthread_mutex_unlock(&c->lock);
    if (!on_loop_thread(c))
        hd_httpc_wakeup(c);
    return 0;
}

/* Shortens *wait to ms when ms is sooner (ms < 0: no deadline). */
static void
sooner(int *wait, long long ms)
{
    if (ms < 0)
        return;
    if (*wait < 0 || ms < *wait)
        *wait = (int)ms;
}

int
hd_httpc_run(struct hd_httpc *c, int timeout_ms, struct hd_err *err)
{
    struct epoll_event evs[EVENTS];
    long before = c->ncompleted;
    uint64_t now;
    int wait = timeout_ms;
    int running = 0;
    int i, n;

    if (!atomic_load(&c->have_loop)) {
        c->loop = pthread_self();
        atomic_store(&c->have_loop, 1);
    }
    add_pending(c);
    drain_done(c); /* start failures complete immediately */
    if (c->h2) {
        h2_tick(c->h2);
        sooner(&wait, h2_timeout(c->h2));
    }
    if (c->timer_at != NO_TIMER) {
        now = hd_now_mono_ms();
        sooner(&wait, c->timer_at > now ? (long long)(c->timer_at - now) : 0);
    }
    if (c->ncompleted > before)
        wait = 0;
    n = epoll_wait(c->epfd, evs, EVENTS, wait);
    if (n < 0 && errno != EINTR)
        return hd_err_set(err, HD_EIO, "epoll_wait: %s", strerror(errno));
    for (i = 0; i < n; i++) {
        uint64_t data = evs[i].data.u64;
        int flags = 0;

        if (data & HTTPC_H2_TAG) {
            h2_event(c->h2, data, evs[i].events);
            continue;
        }
        if ((int)data == c->wakefd) {
            uint64_t v;
            ssize_t r = read(c->wakefd, &v, sizeof(v));

            (void)r;
            continue;
        }
        if (evs[i].events & EPOLLIN)
            flags |= CURL_CSELECT_IN;
        if (evs[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (evs[i].events & (EPOLLERR | EPOLLHUP))
            flags |= CURL_CSELECT_ERR;
        /* an unknown socket (closed earlier in this batch) is ignored */
        if (curl_multi_socket_action(c->multi, (curl_socket_t)data, flags,
                                     &running) == CURLM_OUT_OF_MEMORY)
            return hd_err_set(err, HD_EIO, "curl_multi_socket_action: OOM");
    }
    /* pick up what callbacks or other threads queued meanwhile */
    add_pending(c);
    if (c->timer_at != NO_TIMER && c->timer_at <= hd_now_mono_ms()) {
        c->timer_at = NO_TIMER;
        if (curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running) == CURLM_OUT_OF_MEMORY)
            return hd_err_set(err, HD_EIO, "curl_multi_socket_action: OOM");
    }
    drain_done(c);
    if (c->h2)
        h2_tick(c->h2); /* send what the callbacks queued, in one write */
    return (int)(c->ncompleted - before);
}

long
hd_httpc_inflight(struct hd_httpc *c)
{
    return atomic_load(&c->inflight);
}

/* ---- synchronous calls -------------------------------------------------- */

struct call_wait {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done;
    struct hd_httpc_reply *out;
};

static void
call_done(void *ud, const struct hd_httpc_resp *r)
{
    struct call_wait *w = ud;
    struct hd_httpc_reply *o = w->out;

    o->fail = r->fail;
    o->status = r->status;
    o->http_version = r->http_version;
    hd_buf_append(&o->body, r->body, r->len, NULL);
    hd_buf_append(&o->headers, r->headers, r->headers_len, NULL);
    snprintf(o->error, sizeof(o->error), "%s", r->error);
    pthread_mutex_lock(&w->m);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
}

void
hd_httpc_reply_release(struct hd_httpc_reply *r)
{
    hd_buf_release(&r->body);
    hd_buf_release(&r->headers);
    memset(r, 0, sizeof(*r));
}

int
hd_httpc_call(struct hd_httpc *c, const struct hd_httpc_req *req,
              struct hd_httpc_reply *out, struct hd_err *err)
{
    struct call_wait w;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    hd_buf_init(&out->body, HD_HTTPC_MAX_RESPONSE);
    hd_buf_init(&out->headers, HD_HTTPC_MAX_RESP_HEADERS);
    out->fail = HD_HTTPC_EOTHER;
    if (c->threaded && on_loop_thread(c))
        return hd_err_set(err, HD_EINVAL,
                          "httpc: blocking call from the loop thread");
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.m, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.out = out;
    if (hd_httpc_submit(c, req, call_done, &w, err) < 0) {
        rc = -1;
        goto out;
    }
    if (c->threaded) {
        pthread_mutex_lock(&w.m);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.m);
        pthread_mutex_unlock(&w.m);
    } else {
        while (!w.done) {
            if (hd_httpc_run(c, -1, err) < 0) {
                /* the request stays queued; cancelled by hd_httpc_free() */
                rc = -1;
                goto out;
            }
        }
    }
    if (out->fail != HD_HTTPC_OK)
        rc = hd_err_set(
            err, out->fail == HD_HTTPC_ETIMEOUT ? HD_ETIMEDOUT : HD_EUPSTREAM,
            "%s: %s (%s)", req->url, out->error, hd_httpc_fail_name(out->fail));
out:
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.m);
    return rc;
}

const char *
hd_httpc_header(const char *headers, size_t len, const char *name, char *out,
                size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = headers;
    const char *end = headers + len;

    if (outlen > 0)
        out[0] = '\0';
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;

        if ((size_t)(le - p) > nlen && p[nlen] == ':' &&
            strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            size_t n;

            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            while (le > v && (le[-1] == '\r' || le[-1] == ' ' ||
                              le[-1] == '\t' || le[-1] == '\n'))
                le--;
            n = (size_t)(le - v);
            if (outlen == 0)
                return out;
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}
