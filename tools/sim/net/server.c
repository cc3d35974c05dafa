/* server.c -- the TLS port's threads: SSL_CTX with ALPN, SO_REUSEPORT
 * listeners, round-robin hand-off of accepted sockets, the epoll loop,
 * timers, idle/age sweeps and control-API GOAWAY.
 *
 * A connection stays on the thread it was handed to (conn.c), so only the
 * hand-off queue locks. The protocol work is in h2.c and h1.c; requests
 * meet the providers in sim_conn_request(). */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "tools/sim/net/conn.h"
#include "tools/sim/net/h1.h"
#include "tools/sim/net/h2.h"
#include "tools/sim/creds.h"
#include "tools/sim/route.h"
#include "tools/sim/net/server.h"
#include "core/banned.h"

#define MAX_EVENTS 256

/* ---- TLS setup ---- */

static const unsigned char session_id_context[] = "herald-sim";

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned int inlen, void *arg)
{
    const unsigned char *h1 = NULL;
    unsigned int i = 0;

    (void)ssl;
    (void)arg;
    while (i < inlen) {
        unsigned int l = in[i];

        if (i + 1 + l > inlen)
            break;
        if (l == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
        if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0)
            h1 = in + i + 1;
        i += 1 + l;
    }
    if (h1 == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    *out = h1;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
}

/* Accepts every client certificate chain during the handshake: the
 * verdict (SSL_get_verify_result) is read per connection and an untrusted
 * certificate is answered the way APNs does, 403 BadCertificate, instead
 * of a handshake failure that tells a test nothing. */
static int
accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

/* APNs certificate authentication: ask every client for a certificate
 * (optional: token-authenticated and other clients send none) and trust
 * the simulator's CA for it. Without a readable CA file nothing is
 * asked. */
static void
client_auth(SSL_CTX *c, const struct sim_creds *creds)
{
    char *ca = hd_xasprintf("%s/%s", creds->dir, SIM_FILE_CA);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);

    if (names != NULL && SSL_CTX_load_verify_locations(c, ca, NULL) == 1) {
        SSL_CTX_set_client_CA_list(c, names);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any);
    } else {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
    }
    ERR_clear_error();
    free(ca);
}

static SSL_CTX *
make_ssl_ctx(const struct sim_creds *creds, struct hd_err *err)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());

    if (c == NULL) {
        hd_err_set(err, HD_EIO, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_use_certificate_chain_file(c, creds->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, creds->key_file, SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(c) != 1) {
        hd_err_set(err, HD_EINVAL, "TLS certificate %s / key %s unusable",
                   creds->cert_file, creds->key_file);
        ERR_clear_error();
        SSL_CTX_free(c);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
    /* With SSL_VERIFY_PEER (client_auth) OpenSSL refuses to resume a
     * session whose id context is unset and answers internal_error; the
     * context names this server's sessions so tickets and ids resume. */
    if (SSL_CTX_set_session_id_context(c, session_id_context,
                                       sizeof(session_id_context) - 1) != 1) {
        hd_err_set(err, HD_EIO, "SSL_CTX_set_session_id_context failed");
        ERR_clear_error();
        SSL_CTX_free(c);
        return NULL;
    }
    client_auth(c, creds);
    return c;
}

static int
listen_on(const char *bind_addr, int port, struct hd_err *err)
{
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    char ps[16];
    int one = 1;
    int fd = -1;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    rc = getaddrinfo(bind_addr, ps, &hints, &ai);
    if (rc != 0)
        return hd_err_set(err, HD_EINVAL, "HERALD_SIM_BIND %s: %s", bind_addr,
                          gai_strerror(rc));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        hd_err_set(err, HD_EIO, "listen %s:%d: %s", bind_addr, port,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* SO_REUSEPORT would let a second process (a stale simulator, another
 * test) silently share the port: bind once without it first. */
static int
port_free(const char *bind_addr, int port, struct hd_err *err)
{
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    char ps[16];
    int one = 1;
    int fd;
    int rc = 0;

    if (port == 0)
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(bind_addr, ps, &hints, &ai) != 0)
        return 0; /* listen_on() reports the address */
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
            rc = hd_err_set(err, HD_EIO, "listen %s:%d: %s", bind_addr, port,
                            strerror(errno));
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

static int
bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Hands fd to thread `to` (its queue, then its eventfd). */
static void
hand_over(struct sim_thread *to, int fd)
{
    uint64_t one = 1;

    pthread_mutex_lock(&to->qmu);
    if (to->nq == to->capq) {
        to->capq = to->capq ? to->capq * 2 : 64;
        to->q = hd_xrealloc(to->q, to->capq * sizeof(*to->q));
    }
    to->q[to->nq++] = fd;
    pthread_mutex_unlock(&to->qmu);
    if (write(to->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        hd_log(HD_LOG_WARN, errno, "eventfd write failed");
}

/* Sockets other threads accepted for this one. */
static void
take_handed(struct sim_thread *t)
{
    int fds[64];
    size_t n;
    size_t i;

    do {
        pthread_mutex_lock(&t->qmu);
        n = t->nq < 64 ? t->nq : 64;
        if (n > 0) {
            memcpy(fds, t->q, n * sizeof(*fds));
            memmove(t->q, t->q + n, (t->nq - n) * sizeof(*t->q));
            t->nq -= n;
        }
        pthread_mutex_unlock(&t->qmu);
        for (i = 0; i < n; i++)
            sim_conn_new(t, fds[i]);
    } while (n == 64);
}

/* The kernel spreads connections over the SO_REUSEPORT listeners by a
 * hash, which with a handful of clients (a benchmark's 8 connections)
 * can leave one thread with most of them: connections are dealt out
 * round-robin instead. */
static void
accept_all(struct sim_thread *t)
{
    struct sim_server *s = t->srv;

    for (;;) {
        int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        unsigned to;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                hd_log(HD_LOG_WARN, errno, "accept on the TLS port failed");
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        to = atomic_fetch_add(&s->rr, 1) % (unsigned)s->nthreads;
        if ((int)to == t->idx)
            sim_conn_new(t, fd);
        else
            hand_over(&s->threads[to], fd);
    }
}

static void
run_timers(struct sim_thread *t)
{
    while (t->nheap > 0 && t->heap[0].due <= t->now) {
        struct sim_stream *st = sim_timer_pop(t);
        struct sim_conn *c = st->conn;

        st->in_timer = 0;
        if (c == NULL) {
            sim_stream_put(t, st);
            continue;
        }
        sim_conn_answer(c, st);
        sim_conn_settle(c);
    }
}

/* A control-API GOAWAY or a shutdown for one connection. */
static void
goaway_conn(struct sim_conn *c, uint32_t code, const char *debug)
{
    if (c->state == SIM_C_H2)
        sim_h2_goaway(c, code, debug, strlen(debug), 0);
    else if (c->state == SIM_C_H1 && c->h1_busy)
        c->h1_close = 1;
    else
        c->closing = 1;
}

static void
sweep(struct sim_thread *t)
{
    const struct sim_config *cfg = &t->ctx->cfg;
    struct sim_goaway_req *g = &t->ctx->goaway;
    unsigned gen = atomic_load(&g->gen);
    int apply = gen != t->goaway_gen;
    int prov = atomic_load(&g->provider);
    struct sim_conn *c = t->conns;
    struct sim_conn *next;

    t->goaway_gen = gen;
    for (; c != NULL; c = next) {
        next = c->next;
        if (c->state == SIM_C_HANDSHAKE) {
            if (t->now - c->created_ms > 10000)
                c->closing = 1; /* handshake never finished */
        } else if (apply && (prov < 0 || prov == c->provider)) {
            goaway_conn(c, atomic_load(&g->code), g->debug);
        } else if (cfg->idle_timeout_s > 0 && c->streams == NULL &&
                   t->now - c->active_ms >
                       (uint64_t)cfg->idle_timeout_s * 1000) {
            goaway_conn(c, 0,
                        c->apns_host || c->provider == SIM_APNS
                            ? "{\"reason\":\"IdleTimeout\"}"
                            : "");
            c->close_after_flush = 1;
        } else if (cfg->max_conn_age_s > 0 && !c->goaway_sent &&
                   t->now - c->created_ms >
                       (uint64_t)cfg->max_conn_age_s * 1000) {
            goaway_conn(c, 0, "max connection age");
        }
        sim_conn_settle(c);
    }
}

static int
next_timeout(struct sim_thread *t)
{
    uint64_t due = t->next_sweep;

    if (t->nheap > 0 && t->heap[0].due < due)
        due = t->heap[0].due;
    return due <= t->now ? 0 : (int)(due - t->now);
}

static void *
thread_main(void *arg)
{
    struct sim_thread *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    int i;

    t->now = hd_now_mono_ms();
    t->next_sweep = t->now + SIM_SWEEP_MS;
    while (!atomic_load(&t->srv->stop)) {
        int n = epoll_wait(t->ep, evs, MAX_EVENTS, next_timeout(t));

        t->now = hd_now_mono_ms();
        for (i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;

            if (p == &t->lfd) {
                accept_all(t);
            } else if (p == &t->evfd) {
                uint64_t v;

                if (read(t->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    hd_log(HD_LOG_WARN, errno, "eventfd read failed");
                take_handed(t);
                if (atomic_load(&t->ctx->goaway.gen) != t->goaway_gen)
                    t->next_sweep = t->now; /* apply a GOAWAY now */
            } else {
                sim_conn_io(p);
            }
        }
        run_timers(t);
        if (t->now >= t->next_sweep) {
            sweep(t);
            t->next_sweep = t->now + SIM_SWEEP_MS;
        }
    }
    /* shutdown: tell HTTP/2 clients, then close everything */
    while (t->conns != NULL) {
        struct sim_conn *c = t->conns;

        if (c->state == SIM_C_H2) {
            const char *why = c->apns_host ? "{\"reason\":\"Shutdown\"}" : "";

            sim_h2_goaway(c, 0, why, strlen(why), 1);
            sim_conn_flush(c);
        }
        sim_conn_close(c);
    }
    return NULL;
}

static int
watch(int ep, int fd, void *tag)
{
    struct epoll_event ev;

    ev.events = EPOLLIN;
    ev.data.ptr = tag;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

struct sim_server *
sim_server_new(struct sim_ctx *ctx, struct hd_err *err)
{
    struct sim_server *s = hd_xcalloc(1, sizeof(*s));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int i;

    s->ctx = ctx;
    s->h1 = &sim_h1_proto;
    s->h2 = &sim_h2_proto;
    s->nthreads =
        ctx->cfg.threads > 0 ? ctx->cfg.threads : (int)(ncpu > 0 ? ncpu : 1);
    s->threads = hd_xcalloc((size_t)s->nthreads, sizeof(*s->threads));
    for (i = 0; i < s->nthreads; i++) {
        s->threads[i].lfd = -1;
        s->threads[i].ep = -1;
        s->threads[i].evfd = -1;
        pthread_mutex_init(&s->threads[i].qmu, NULL);
    }
    s->ssl_ctx = make_ssl_ctx(ctx->creds, err);
    if (s->ssl_ctx == NULL)
        goto fail;
    s->port = ctx->cfg.port;
    if (port_free(ctx->cfg.bind, s->port, err) < 0)
        goto fail;
    for (i = 0; i < s->nthreads; i++) {
        struct sim_thread *t = &s->threads[i];

        t->srv = s;
        t->ctx = ctx;
        t->idx = i;
        t->lfd = listen_on(ctx->cfg.bind, s->port, err);
        if (t->lfd < 0)
            goto fail;
        if (i == 0)
            s->port = bound_port(t->lfd);
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (t->ep < 0 || t->evfd < 0 || watch(t->ep, t->lfd, &t->lfd) < 0 ||
            watch(t->ep, t->evfd, &t->evfd) < 0) {
            hd_err_set(err, HD_EIO, "epoll setup: %s", strerror(errno));
            goto fail;
        }
    }
    ctx->tls_port = s->port;
    return s;
fail:
    sim_server_free(s);
    return NULL;
}

int
sim_server_port(const struct sim_server *s)
{
    return s->port;
}

int
sim_server_start(struct sim_server *s, struct hd_err *err)
{
    int i;

    for (i = 0; i < s->nthreads; i++) {
        int rc = pthread_create(&s->threads[i].tid, NULL, thread_main,
                                &s->threads[i]);

        if (rc != 0) {
            sim_server_stop(s);
            return hd_err_set(err, HD_EIO, "pthread_create: %s", strerror(rc));
        }
        s->threads[i].started = 1;
    }
    return 0;
}

void
sim_server_kick(struct sim_server *s)
{
    uint64_t one = 1;
    int i;

    for (i = 0; i < s->nthreads; i++)
        if (s->threads[i].evfd >= 0 &&
            write(s->threads[i].evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            hd_log(HD_LOG_WARN, errno, "eventfd write failed");
}

void
sim_server_stop(struct sim_server *s)
{
    int i;

    atomic_store(&s->stop, 1);
    sim_server_kick(s);
    for (i = 0; i < s->nthreads; i++) {
        if (s->threads[i].started)
            pthread_join(s->threads[i].tid, NULL);
        s->threads[i].started = 0;
    }
}

void
sim_server_free(struct sim_server *s)
{
    int i;

    if (s == NULL)
        return;
    sim_server_stop(s);
    for (i = 0; i < s->nthreads; i++) {
        struct sim_thread *t = &s->threads[i];

        while (t->conns != NULL)
            sim_conn_close(t->conns);
        while (t->nheap > 0)
            sim_stream_put(t, sim_timer_pop(t));
        t->nfree = SIM_FREE_STREAMS; /* make put free instead of keep */
        while (t->free_streams != NULL) {
            struct sim_stream *st = t->free_streams;

            t->free_streams = st->next;
            sim_req_release(&st->req);
            sim_resp_release(&st->resp);
            free(st);
        }
        free(t->heap);
        while (t->nq > 0)
            close(t->q[--t->nq]);
        free(t->q);
        pthread_mutex_destroy(&t->qmu);
        if (t->lfd >= 0)
            close(t->lfd);
        if (t->ep >= 0)
            close(t->ep);
        if (t->evfd >= 0)
            close(t->evfd);
    }
    if (s->ssl_ctx)
        SSL_CTX_free(s->ssl_ctx);
    free(s->threads);
    free(s);
}
