/* http_server.c -- the HTTP server over libmicrohttpd: the daemon, its
 * callbacks, the worker pool for blocking routes, and shutdown.
 *
 * MHD calls ahc() several times per request: when the headers are in
 * (route, request id, Content-Length check), once per body chunk, and when
 * the request is complete, where the handler is dispatched. settle() then
 * queues the response or suspends the connection until http_req.c's
 * finish() resumes it; no MHD function is called under a request's lock.
 * Which connections get in, and for how long before their head is
 * complete, is admit.c's: accept_main() asks it, and the STARTED/CLOSED
 * notifications, the first ahc() call of a request and its completion
 * tell it where each connection is. It logs nothing (the access line is
 * request.c's). */
#include <errno.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/admit.h"
#include "http/server_private.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/banned.h"

#define FORCE_GRACE_MS 250 /* to write the 503s of abandoned requests */

const struct hd_config_field hd_http_config_fields[] = {
    HD_CFG_STR("HERALD_HTTP_BIND", struct hd_http_config, bind, "0.0.0.0", 0,
               "HTTP listen address (IPv4 or IPv6)"),
    HD_CFG_INT("HERALD_HTTP_THREADS", struct hd_http_config, io_threads, 2, 1,
               64, "HTTP I/O threads (libmicrohttpd thread pool)"),
    HD_CFG_INT("HERALD_HTTP_WORKERS", struct hd_http_config, workers, 16, 0,
               256, "threads for routes that block (database)"),
    HD_CFG_INT("HERALD_HTTP_MAX_CONNECTIONS", struct hd_http_config,
               max_connections, 4096, 1, 1000000,
               "open HTTP connections at most"),
    HD_CFG_INT("HERALD_HTTP_IDLE_TIMEOUT_S", struct hd_http_config, timeout_s,
               30, 1, 3600,
               "idle connection timeout, seconds; a keep-alive connection "
               "must also complete its next request head within it"),
    HD_CFG_INT("HERALD_HTTP_HEAD_TIMEOUT_S", struct hd_http_config,
               head_timeout_s, 10, 1, 3600,
               "a new connection must complete its request head (request "
               "line and headers) within this many seconds or is closed"),
    HD_CFG_INT("HERALD_HTTP_MAX_PER_ADDRESS", struct hd_http_config,
               max_per_address, 256, 0, 1000000,
               "open connections per client address (the TCP peer; trusted "
               "proxies are exempt); 0: no cap"),
    HD_CFG_INT("HERALD_HTTP_MAX_HALF_OPEN", struct hd_http_config,
               max_half_open, 1024, 0, 1000000,
               "connections still sending their request head; past it the "
               "oldest of the address holding the most is closed; 0: no cap"),
    HD_CFG_BOOL("HERALD_HTTP_ACCESS_LOG", struct hd_http_config, access_log,
                true, "log one line per HTTP request"),
    HD_CFG_END,
};

/* ---- dispatch ---- */

static void
run_handler(struct hd_http_req *r)
{
    const struct hd_http_route_entry *e = &r->s->router.e[r->route];

    hd_log_ctx_set("req_id", "%s", r->id);
    e->r->handler(r, e->ud); /* r may be gone once this returns */
    hd_log_ctx_clear();
}

static void *
worker_main(void *arg)
{
    struct hd_http_server *s = arg;
    struct hd_http_req *r;

    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qstop && s->qlen == 0)
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (s->qstop) {
            pthread_mutex_unlock(&s->qmu);
            return NULL;
        }
        r = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        pthread_mutex_unlock(&s->qmu);
        run_handler(r);
    }
}

static int
enqueue(struct hd_http_server *s, struct hd_http_req *r)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qstop || s->qlen == s->qcap) {
        pthread_mutex_unlock(&s->qmu);
        return -1;
    }
    s->queue[(s->qhead + s->qlen) % s->qcap] = r;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return 0;
}

static void
server_error(struct hd_http_req *r)
{
    char allow[128];

    switch (r->err_status) {
    case MHD_HTTP_NOT_FOUND:
        hd_http_respond_error(r, 404, "not_found", "no such endpoint");
        break;
    case MHD_HTTP_METHOD_NOT_ALLOWED:
        hd_http_router_allow(&r->s->router, r->path, allow, sizeof(allow));
        hd_http_req_add_header(r, "Allow", allow);
        hd_http_respond_error(r, 405, "method_not_allowed",
                              "method not allowed here");
        break;
    case MHD_HTTP_URI_TOO_LONG:
        hd_http_respond_error(r, 414, "uri_too_long",
                              "request target over %d bytes", HD_HTTP_MAX_URL);
        break;
    default:
        hd_http_respond_error(r, 413, "too_large",
                              "request body over %zu bytes", r->max_body);
        break;
    }
}

/* The connection's admission record (admit.h), or NULL. */
static void *
conn_ctx(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result
queue_response(struct hd_http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned status;

    pthread_mutex_lock(&r->mu);
    resp = r->resp;
    status = r->status;
    r->resp = NULL;
    r->state = HD_RS_QUEUED;
    pthread_mutex_unlock(&r->mu);
    /* draining: move keep-alive clients to another instance. Done here,
     * on the I/O thread, because a late finish() must not touch s. An
     * answer before the body closes the connection too, lingering. */
    if ((atomic_load(&r->s->quiesced) || r->early) &&
        MHD_get_response_header(resp, MHD_HTTP_HEADER_CONNECTION) == NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->early) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        if (ci)
            hd_admit_linger(r->s->admit, conn_ctx(r->conn), ci->connect_fd);
    }
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* After a dispatch, on the I/O thread: queue the response if it is
 * already there, otherwise suspend until finish() resumes us. The suspend
 * happens before the state says SUSPENDED, so finish() can only resume a
 * suspended connection; if the response slipped in between, resume here. */
static enum MHD_Result
settle(struct hd_http_req *r)
{
    int wake = 0;

    pthread_mutex_lock(&r->mu);
    if (r->state == HD_RS_RESPONDED) {
        pthread_mutex_unlock(&r->mu);
        return queue_response(r);
    }
    pthread_mutex_unlock(&r->mu);
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&r->mu);
    if (r->state == HD_RS_RESPONDED)
        wake = 1;
    else
        r->state = HD_RS_SUSPENDED;
    pthread_mutex_unlock(&r->mu);
    if (wake)
        MHD_resume_connection(r->conn);
    return MHD_YES;
}

static enum MHD_Result
dispatch(struct hd_http_req *r)
{
    struct hd_http_server *s = r->s;

    pthread_mutex_lock(&r->mu);
    r->state = HD_RS_ACTIVE;
    pthread_mutex_unlock(&r->mu);
    if (r->err_status) {
        server_error(r);
    } else if (s->router.e[r->route].r->blocking && s->nworkers > 0) {
        if (enqueue(s, r) < 0) {
            hd_http_req_add_header(r, "Retry-After", "1");
            hd_http_respond_error(r, 503, "overloaded",
                                  "too many requests waiting");
        }
    } else {
        run_handler(r);
    }
    return settle(r);
}

static enum MHD_Result
on_headers(struct hd_http_req *r)
{
    struct hd_http_server *s = r->s;
    struct hd_http_route_match m;
    const char *cl;
    int hit;

    if (strnlen(r->path, HD_HTTP_MAX_URL + 1) > HD_HTTP_MAX_URL) {
        r->err_status = MHD_HTTP_URI_TOO_LONG;
    } else {
        r->route =
            hd_http_router_find(&s->router, r->method, r->path, &hit, &m);
        if (r->route < 0) {
            r->route = hit;
            r->err_status =
                hit >= 0 ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
        } else if (m.n) {
            hd_http_req_set_params_(r, &m);
        }
    }
    r->max_body = HD_HTTP_MAX_BODY;
    if (r->err_status == 0 && s->router.e[r->route].r->max_body)
        r->max_body = s->router.e[r->route].r->max_body;
    r->body.max = r->max_body;
    cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && *end == '\0' && n > r->max_body) {
            /* before a byte of the body is read */
            r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
            r->early = 1;
            return dispatch(r);
        }
    }
    return MHD_YES;
}

/* A body chunk. libmicrohttpd 0.9.75 cannot queue a response while the
 * body is still arriving, so past the limit the rest is counted and
 * dropped, never buffered, and the 413 goes out when the body ends; a
 * sender that goes on for more than HD_HTTP_MAX_BODY beyond is cut off.
 * (A declared Content-Length over the limit is refused before reading.)
 * The bodies of requests already refused (404, 405) are dropped too. */
static enum MHD_Result
on_body(struct hd_http_req *r, const char *data, size_t n)
{
    if (r->err_status == 0) {
        if (hd_buf_append(&r->body, data, n, NULL) == 0)
            return MHD_YES;
        r->discarded = r->body.len;
        hd_buf_release(&r->body);
        r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
    }
    r->discarded += n;
    if (r->discarded > r->max_body) {
        r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
        if (r->discarded - r->max_body > HD_HTTP_MAX_BODY)
            return MHD_NO;
    }
    return MHD_YES;
}

/* Every request from its headers to its completion is on s->live, so
 * shutdown can wait for them and answer the abandoned ones. */
static void
link_live(struct hd_http_server *s, struct hd_http_req *r)
{
    pthread_mutex_lock(&s->mu);
    r->next = s->live;
    if (s->live)
        s->live->prev = r;
    s->live = r;
    s->nlive++;
    pthread_mutex_unlock(&s->mu);
}

static void
notify_conn(void *cls, struct MHD_Connection *conn, void **ctx,
            enum MHD_ConnectionNotificationCode code)
{
    struct hd_http_server *s = cls;
    const union MHD_ConnectionInfo *ci;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        hd_admit_closed(s->admit, ctx);
        return;
    }
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        hd_admit_started(s->admit, ci->connect_fd, ctx);
}

static enum MHD_Result
ahc(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size,
    void **con_cls)
{
    struct hd_http_req *r = *con_cls;
    enum hd_http_req_state st;
    size_t n;

    (void)version;
    if (r == NULL) {
        hd_admit_head_done(((struct hd_http_server *)cls)->admit,
                           conn_ctx(conn));
        r = hd_http_req_new_(cls, conn, url, method);
        link_live(cls, r);
        *con_cls = r;
        return on_headers(r);
    }
    pthread_mutex_lock(&r->mu);
    st = r->state;
    pthread_mutex_unlock(&r->mu);
    if (st != HD_RS_RECEIVING) {
        /* resumed, or more body after an early 413 */
        *upload_data_size = 0;
        return st == HD_RS_RESPONDED ? queue_response(r) : MHD_YES;
    }
    n = *upload_data_size;
    if (n) {
        *upload_data_size = 0;
        return on_body(r, upload_data, n);
    }
    return dispatch(r);
}

/* ---- completion: freeing ---- */

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct hd_http_server *s = cls;
    struct hd_http_req *r = *con_cls;
    int free_now;

    if (r == NULL)
        return;
    *con_cls = NULL;
    hd_http_req_account_(r, toe);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        hd_admit_idle(s->admit, conn_ctx(conn));
    pthread_mutex_lock(&s->mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (--s->nlive == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    /* the last of MHD and the handler frees it */
    pthread_mutex_lock(&r->mu);
    r->conn_gone = 1;
    free_now = r->state == HD_RS_RECEIVING || r->handler_done;
    pthread_mutex_unlock(&r->mu);
    if (free_now)
        hd_http_req_free_(r);
}

/* MHD's own diagnostics: kept (the last one) for start-up errors, never
 * logged from here. */
static void __attribute__((format(printf, 2, 0)))
mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct hd_http_server *s = cls;
    size_t n;

    pthread_mutex_lock(&s->mu);
    vsnprintf(s->mhd_err, sizeof(s->mhd_err), fmt, ap);
    n = strlen(s->mhd_err);
    while (n > 0 && (s->mhd_err[n - 1] == '\n' || s->mhd_err[n - 1] == '\r'))
        s->mhd_err[--n] = '\0';
    pthread_mutex_unlock(&s->mu);
}

/* ---- server lifecycle ---- */

struct hd_http_server *
hd_http_server_new(const struct hd_http_config *cfg, int port,
                   const struct hd_http_tls *tls, struct hd_metrics *metrics,
                   struct hd_err *err)
{
    static const char *const req_labels[] = {"route", "method", "status"};
    static const char *const dur_labels[] = {"route"};
    struct hd_http_server *s;
    pthread_condattr_t ca;

    if (port < 0 || port > 65535) {
        hd_err_set(err, HD_EINVAL, "bad HTTP port %d", port);
        return NULL;
    }
    if (cfg->io_threads < 1 || cfg->io_threads > 64 || cfg->workers < 0 ||
        cfg->workers > 256 || cfg->max_connections < 1 || cfg->timeout_s < 0) {
        hd_err_set(err, HD_EINVAL, "bad HTTP server configuration");
        return NULL;
    }
    if (tls && (tls->cert_pem == NULL || tls->key_pem == NULL)) {
        hd_err_set(err, HD_EINVAL, "TLS needs a certificate and a key");
        return NULL;
    }
    s = hd_xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->bind = hd_xstrdup(cfg->bind && cfg->bind[0] ? cfg->bind : "0.0.0.0");
    s->cfg.bind = s->bind;
    s->port = port;
    s->lfd = -1;
    if (tls) {
        s->cert = hd_xstrdup(tls->cert_pem);
        s->key = hd_xstrdup(tls->key_pem);
    }
    atomic_init(&s->quiesced, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    s->metrics = metrics;
    if (metrics) {
        s->m_reqs = hd_metrics_counter(metrics, "herald_http_requests_total",
                                       "HTTP requests by route, method and "
                                       "status.",
                                       3, req_labels);
        s->m_dur = hd_metrics_histogram(
            metrics, "herald_http_request_duration_seconds",
            "HTTP request duration from headers to completion, by route.", 1,
            dur_labels, hd_metrics_latency_buckets,
            hd_metrics_latency_nbuckets);
        s->unmatched_dur = hd_metric_with(s->m_dur, "unmatched");
    }
    return s;
}

int
hd_http_server_add_routes(struct hd_http_server *s,
                          const struct hd_http_route *routes, size_t n,
                          void *ud, struct hd_err *err)
{
    size_t start = s->router.n;
    size_t i;

    if (s->d)
        return hd_err_set(err, HD_EINVAL, "routes added after start");
    if (n > HD_HTTP_MAX_ROUTES - start)
        return hd_err_set(err, HD_ETOOBIG, "more than %d HTTP routes",
                          HD_HTTP_MAX_ROUTES);
    for (i = 0; i < n; i++) {
        if (hd_http_router_add(&s->router, &routes[i], ud, err) < 0) {
            s->router.n = start; /* all or nothing */
            return -1;
        }
        if (s->m_dur)
            s->dur[s->router.n - 1] = hd_metric_with(s->m_dur, routes[i].path);
    }
    return 0;
}

static void
stop_workers(struct hd_http_server *s)
{
    int i;

    pthread_mutex_lock(&s->qmu);
    s->qstop = 1;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
}

static int
start_workers(struct hd_http_server *s, struct hd_err *err)
{
    int i;

    if (s->cfg.workers == 0)
        return 0;
    s->qcap = (size_t)s->cfg.workers * HD_HTTP_QUEUE_PER_WORKER;
    s->queue = hd_xcalloc(s->qcap, sizeof(*s->queue));
    s->workers = hd_xcalloc((size_t)s->cfg.workers, sizeof(*s->workers));
    for (i = 0; i < s->cfg.workers; i++) {
        int rc = pthread_create(&s->workers[i], NULL, worker_main, s);

        if (rc != 0) {
            stop_workers(s);
            return hd_err_set(err, HD_EIO, "start HTTP worker: %s",
                              strerror(rc));
        }
        s->nworkers++;
    }
    return 0;
}

static int
start_admit(struct hd_http_server *s, struct hd_err *err)
{
    struct hd_admit_config ac = {
        .max_connections = s->cfg.max_connections,
        .max_per_address = s->cfg.max_per_address,
        .max_half_open = s->cfg.max_half_open,
        .head_timeout_s = s->cfg.head_timeout_s > 0 ? s->cfg.head_timeout_s
                                                    : HD_HTTP_HEAD_TIMEOUT_S,
        .idle_timeout_s =
            s->cfg.timeout_s > 0 ? s->cfg.timeout_s : HD_HTTP_CONN_TIMEOUT_S,
        .plain = s->cert == NULL,
    };

    s->admit = hd_admit_new(&ac, s->trust, s->metrics, err);
    return s->admit ? 0 : -1;
}

/* Binds and listens on s->bind:s->port; fills s->lfd and s->port. */
static int
listen_socket(struct hd_http_server *s, struct hd_err *err)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)&ss;
    socklen_t len;
    int one = 1;
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, s->bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)s->port);
        len = sizeof(*a4);
    } else if (inet_pton(AF_INET6, s->bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)s->port);
        len = sizeof(*a6);
    } else {
        return hd_err_set(err, HD_EINVAL, "HERALD_HTTP_BIND: bad address %s",
                          s->bind);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return hd_err_set(err, HD_EIO, "HTTP listen on %s port %d: %s", s->bind,
                          s->port, strerror(e));
    }
    s->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
    s->lfd = fd;
    return 0;
}

/* The one accepting thread. libmicrohttpd does not accept itself: its
 * MHD_quiesce_daemon() races with its own epoll loop and can abort the
 * process, so quiescing is ours: shut the socket down, which wakes
 * accept(), and close it. New connections are refused from then on. */
static void *
accept_main(void *arg)
{
    struct hd_http_server *s = arg;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd >= 0) {
            if (!hd_admit_accept(s->admit, fd, (struct sockaddr *)&ss, len))
                continue; /* refused, closed */
            /* MHD closes fd itself when it cannot take it */
            if (MHD_add_connection(s->d, fd, (struct sockaddr *)&ss, len) !=
                MHD_YES)
                hd_admit_add_failed(s->admit, fd);
            continue;
        }
        if (atomic_load(&s->quiesced) || errno == EINVAL || errno == EBADF)
            return NULL;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM)
            usleep(10000); /* out of descriptors: let some close */
    }
}

int
hd_http_server_start(struct hd_http_server *s, struct hd_err *err)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_USE_ERROR_LOG;
    struct MHD_OptionItem ops[4];
    size_t nops = 0;
    int rc;

    if (s->d)
        return hd_err_set(err, HD_EINVAL, "HTTP server already started");
    if (s->cfg.io_threads > 1)
        ops[nops++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                              s->cfg.io_threads, NULL};
    if (s->cert) {
        flags |= MHD_USE_TLS;
        ops[nops++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key};
        ops[nops++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert};
    }
    ops[nops] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (listen_socket(s, err) < 0)
        return -1;
    if (start_workers(s, err) < 0)
        goto fail;
    if (start_admit(s, err) < 0)
        goto fail;
    s->mhd_err[0] = '\0';
    /* admission (admit.c) keeps the real cap; MHD's limit only leaves room
     * for connections shut down and not yet closed */
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, ahc, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections * 2 + 64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        notify_conn, s, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (s->d == NULL) {
        hd_err_set(err, HD_EIO, "HTTP server on %s port %d: %s", s->bind,
                   s->port, s->mhd_err[0] ? s->mhd_err : "cannot start");
        goto fail;
    }
    rc = pthread_create(&s->acceptor, NULL, accept_main, s);
    if (rc != 0) {
        hd_err_set(err, HD_EIO, "start HTTP acceptor: %s", strerror(rc));
        MHD_stop_daemon(s->d);
        s->d = NULL;
        goto fail;
    }
    return 0;
fail:
    stop_workers(s);
    hd_admit_free(s->admit);
    s->admit = NULL;
    close(s->lfd);
    s->lfd = -1;
    return -1;
}

void
hd_http_server_trust(struct hd_http_server *s, const struct hd_peer_trust *t)
{
    s->trust = t;
}

int
hd_http_server_port(const struct hd_http_server *s)
{
    return s->port;
}

void
hd_http_server_quiesce(struct hd_http_server *s)
{
    if (s->d == NULL || atomic_exchange(&s->quiesced, 1))
        return;
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    s->lfd = -1;
}

/* Waits until no request is in progress or ms have passed. */
static void
wait_idle(struct hd_http_server *s, int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->nlive > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&s->mu);
}

/* After the timeout: every request whose handler never answered gets a
 * 503 from the server, so no connection stays suspended when the daemon
 * stops. A late answer from such a handler is dropped (finish()). */
static void
force_pending(struct hd_http_server *s)
{
    struct MHD_Connection **wake;
    struct hd_http_req *r;
    size_t nwake = 0;
    size_t i;

    pthread_mutex_lock(&s->mu);
    wake = hd_xcalloc(s->nlive + 1, sizeof(*wake));
    for (r = s->live; r; r = r->next) {
        struct MHD_Response *resp;
        char body[160];
        int n;

        pthread_mutex_lock(&r->mu);
        if (r->handler_done ||
            (r->state != HD_RS_ACTIVE && r->state != HD_RS_SUSPENDED)) {
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        /* the id is [A-Za-z0-9._-]: nothing to escape */
        n = snprintf(body, sizeof(body),
                     "{\"error\":\"shutting_down\",\"message\":\"server is "
                     "shutting down\",\"request_id\":\"%s\"}",
                     r->id);
        resp = MHD_create_response_from_buffer((size_t)n, body,
                                               MHD_RESPMEM_MUST_COPY);
        if (resp == NULL)
            hd_http_misuse_("cannot create a response");
        MHD_add_response_header(resp, "X-Request-Id", r->id);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
        r->forced = 1;
        r->resp = resp;
        r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        r->resp_len = (size_t)n;
        if (r->state == HD_RS_SUSPENDED)
            wake[nwake++] = r->conn;
        r->state = HD_RS_RESPONDED;
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&s->mu);
    /* still suspended (nobody else resumes a forced request): safe */
    for (i = 0; i < nwake; i++)
        MHD_resume_connection(wake[i]);
    free(wake);
}

void
hd_http_server_free(struct hd_http_server *s, int timeout_ms)
{
    if (s == NULL)
        return;
    if (s->d) {
        hd_http_server_quiesce(s);
        wait_idle(s, timeout_ms > 0 ? timeout_ms : 0);
        stop_workers(s);
        /* queued blocking requests whose handler never ran */
        for (;;) {
            struct hd_http_req *r = NULL;

            pthread_mutex_lock(&s->qmu);
            if (s->qlen > 0) {
                r = s->queue[s->qhead];
                s->qhead = (s->qhead + 1) % s->qcap;
                s->qlen--;
            }
            pthread_mutex_unlock(&s->qmu);
            if (r == NULL)
                break;
            hd_http_respond_error(r, 503, "shutting_down",
                                  "server is shutting down");
        }
        force_pending(s);
        wait_idle(s, FORCE_GRACE_MS);
        MHD_stop_daemon(s->d);
    }
    hd_admit_free(s->admit);
    free(s->queue);
    free(s->workers);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s->bind);
    free(s->cert);
    free(s->key);
    free(s);
}
