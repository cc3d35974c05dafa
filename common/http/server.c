/* server.c -- the HTTP server over libmicrohttpd: its settings, the
 * listening socket and the accepting thread, starting the daemon, and
 * shutdown (draining, answering abandoned requests, freeing).
 *
 * A request's life on the I/O threads (the access handler, body limits,
 * dispatch) is server_io.c's; the worker pool for blocking routes is
 * server_pool.c's. Which connections get in, and for how long before
 * their head is complete, is admit.c's: accept_main() asks it. Nothing
 * here logs (the access line is request.c's). */
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
#include "http/server_io.h"
#include "http/server_pool.h"
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
    if (hd_http_pool_start_(s, err) < 0)
        goto fail;
    if (start_admit(s, err) < 0)
        goto fail;
    s->mhd_err[0] = '\0';
    /* admission (admit.c) keeps the real cap; MHD's limit only leaves room
     * for connections shut down and not yet closed */
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, hd_http_ahc_, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections * 2 + 64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, hd_http_completed_, s,
        MHD_OPTION_NOTIFY_CONNECTION, hd_http_notify_conn_, s, MHD_OPTION_ARRAY,
        ops, MHD_OPTION_END);
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
    hd_http_pool_stop_(s);
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
        hd_http_pool_stop_(s);
        /* queued blocking requests whose handler never ran */
        for (;;) {
            struct hd_http_req *r = hd_http_pool_take_(s);

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
