/* admit.c -- connection admission: per-address and half-open caps, room
 * for newcomers, and the request-head deadline (see admit.h).
 *
 * Two hash tables under one lock: connections by descriptor (found again
 * when libmicrohttpd reports STARTED for it) and peer addresses with their
 * counts. Every connection waiting for a head is on one global list (the
 * deadline thread scans it) and on its address's list, oldest first (the
 * one evicted when room is needed). An address with half-open connections
 * is on the list of such addresses, so the one holding the most is found
 * without walking every address. A connection that was shut down leaves
 * every count at once: libmicrohttpd closes it shortly after. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "http/admit.h"
#include "http/peer.h"
#include "core/thread.h"
#include "core/banned.h"

#define NBUCKETS 4096 /* both tables; chains stay short at our caps */
#define TICK_MS 200   /* deadline resolution */

enum reason {
    R_PER_ADDRESS,     /* refused: the address is at its cap */
    R_MAX_CONNECTIONS, /* refused: full of busy connections */
    R_HALF_OPEN,       /* closed to make room */
    R_HEAD_TIMEOUT,    /* closed: no complete head in time */
    R_N
};

static const char *const reason_names[R_N] = {
    "per_address", "max_connections", "half_open_evicted", "head_timeout"};

struct addr {
    unsigned char key[17]; /* family byte + 16 address bytes */
    int exempt;            /* a trusted proxy: no per-address cap */
    int refs;              /* connections pointing here */
    int open;              /* admitted, not shut */
    int half;              /* of which waiting for a head */
    struct conn *hfirst;   /* its half-open connections, oldest first */
    struct conn *hlast;
    struct addr *hnext; /* table chain */
    struct addr *lprev; /* list of addresses with half > 0 */
    struct addr *lnext;
};

struct conn {
    int fd;
    int linger_fd; /* a duplicate kept to drain after close, or -1 */
    int attached;  /* between STARTED and CLOSED */
    int shut;      /* shut down by us; out of every count */
    int waiting;   /* on the half-open lists */
    uint64_t deadline_ms;
    struct addr *addr;
    struct conn *fnext; /* table chain */
    struct conn *prev;  /* global half-open list */
    struct conn *next;
    struct conn *aprev; /* the address's half-open list */
    struct conn *anext;
};

/* A socket libmicrohttpd closed after an early answer: read and
 * discarded until the client is done, so closing does not reset the
 * connection and destroy the answer before the client reads it. */
struct lingerer {
    int fd;
    uint64_t end_ms;  /* draining stops then whatever */
    uint64_t idle_ms; /* ... or then, if nothing arrives */
};

struct hd_admit {
    struct hd_admit_config cfg;
    const struct hd_peer_trust *trust;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t timer;
    struct conn *byfd[NBUCKETS];
    struct addr *byaddr[NBUCKETS];
    struct addr *halfers; /* addresses with half-open connections */
    struct conn *first;   /* half-open, in the order they started waiting */
    struct conn *last;
    int open;
    int half;
    int nlinger_fds; /* duplicates held by connections */
    struct lingerer linger[HD_HTTP_LINGER_CONNS];
    size_t nlinger;
    struct hd_metric_series *rejected[R_N];
    struct hd_metric_series *g_open;
    struct hd_metric_series *g_half;
};

static size_t
fd_bucket(int fd)
{
    return (size_t)fd & (NBUCKETS - 1);
}

static size_t
addr_bucket(const unsigned char *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < 17; i++)
        h = (h ^ k[i]) * 16777619u;
    return h & (NBUCKETS - 1);
}

static void
count(struct hd_admit *a, enum reason r)
{
    if (a->rejected[r])
        hd_counter_inc(a->rejected[r]);
}

static void
gauge(struct hd_metric_series *g, double d)
{
    if (g)
        hd_gauge_add(g, d);
}

/* The key of a socket address (IPv4-mapped IPv6 as IPv4); exempt says
 * whether it is a trusted proxy. */
static void
addr_key(const struct hd_admit *a, const struct sockaddr *sa, socklen_t len,
         unsigned char *k, int *exempt)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = "";

    memset(k, 0, 17);
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        k[0] = 4;
        memcpy(k + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
               4);
    } else if (sa->sa_family == AF_INET6 &&
               len >= sizeof(struct sockaddr_in6)) {
        const unsigned char *b =
            ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

        if (memcmp(b, mapped, 12) == 0) {
            k[0] = 4;
            memcpy(k + 1, b + 12, 4);
        } else {
            k[0] = 6;
            memcpy(k + 1, b, 16);
        }
    }
    *exempt = 0;
    if (a->trust && k[0]) {
        inet_ntop(k[0] == 4 ? AF_INET : AF_INET6, k + 1, text, sizeof(text));
        *exempt = hd_peer_trusted(a->trust, text);
    }
}

static struct addr *
addr_get(struct hd_admit *a, const unsigned char *k, int exempt)
{
    size_t b = addr_bucket(k);
    struct addr *p;

    for (p = a->byaddr[b]; p; p = p->hnext)
        if (memcmp(p->key, k, 17) == 0)
            return p;
    p = hd_xcalloc(1, sizeof(*p));
    memcpy(p->key, k, 17);
    p->exempt = exempt;
    p->hnext = a->byaddr[b];
    a->byaddr[b] = p;
    return p;
}

/* Frees p once no connection refers to it. */
static void
addr_put(struct hd_admit *a, struct addr *p)
{
    struct addr **pp = &a->byaddr[addr_bucket(p->key)];

    if (p->refs > 0)
        return;
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    free(p);
}

static void
wait_add(struct hd_admit *a, struct conn *c, uint64_t deadline_ms)
{
    struct addr *p = c->addr;

    c->waiting = 1;
    c->deadline_ms = deadline_ms;
    c->prev = a->last;
    c->next = NULL;
    if (a->last)
        a->last->next = c;
    else
        a->first = c;
    a->last = c;
    c->aprev = p->hlast;
    c->anext = NULL;
    if (p->hlast)
        p->hlast->anext = c;
    else
        p->hfirst = c;
    p->hlast = c;
    if (p->half++ == 0) {
        p->lprev = NULL;
        p->lnext = a->halfers;
        if (a->halfers)
            a->halfers->lprev = p;
        a->halfers = p;
    }
    a->half++;
    gauge(a->g_half, 1);
}

static void
wait_remove(struct hd_admit *a, struct conn *c)
{
    struct addr *p = c->addr;

    if (!c->waiting)
        return;
    c->waiting = 0;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        a->last = c->prev;
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        p->hfirst = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    else
        p->hlast = c->aprev;
    if (--p->half == 0) {
        if (p->lprev)
            p->lprev->lnext = p->lnext;
        else
            a->halfers = p->lnext;
        if (p->lnext)
            p->lnext->lprev = p->lprev;
    }
    a->half--;
    gauge(a->g_half, -1);
}

/* Takes c out of every count: it is closed or about to be. */
static void
leave(struct hd_admit *a, struct conn *c)
{
    wait_remove(a, c);
    c->addr->open--;
    a->open--;
    gauge(a->g_open, -1);
}

/* Shuts an attached connection down (libmicrohttpd then closes it). */
static void
shut(struct hd_admit *a, struct conn *c, enum reason r)
{
    leave(a, c);
    c->shut = 1;
    shutdown(c->fd, SHUT_RDWR);
    count(a, r);
}

/* Makes room by shutting the oldest half-open connection of the address
 * holding the most. Returns 0, or -1: none can go. */
static int
evict(struct hd_admit *a)
{
    struct addr *p, *top = NULL;
    struct conn *c;

    for (p = a->halfers; p; p = p->lnext)
        if (top == NULL || p->half > top->half)
            top = p;
    if (top == NULL)
        return -1;
    /* a connection not yet started cannot be shut safely: the next one */
    for (c = top->hfirst; c && !c->attached; c = c->anext) {
    }
    if (c == NULL)
        return -1;
    shut(a, c, R_HALF_OPEN);
    return 0;
}

static struct conn **
conn_slot(struct hd_admit *a, int fd)
{
    struct conn **pp = &a->byfd[fd_bucket(fd)];

    while (*pp && (*pp)->fd != fd)
        pp = &(*pp)->fnext;
    return pp;
}

/* Unlinks and frees c from the fd table. */
static void
conn_drop(struct hd_admit *a, struct conn *c)
{
    struct conn **pp = &a->byfd[fd_bucket(c->fd)];
    struct addr *p = c->addr;

    while (*pp && *pp != c)
        pp = &(*pp)->fnext;
    if (*pp)
        *pp = c->fnext;
    if (!c->shut)
        leave(a, c);
    if (c->linger_fd >= 0) {
        uint64_t now = hd_now_mono_ms();

        a->nlinger_fds--;
        a->linger[a->nlinger++] = (struct lingerer){
            c->linger_fd, now + (uint64_t)HD_HTTP_LINGER_S * 1000,
            now + (uint64_t)HD_HTTP_LINGER_IDLE_S * 1000};
        pthread_cond_signal(&a->cv);
    }
    free(c);
    p->refs--;
    addr_put(a, p);
}

/* A refusal: a plain-text 503 when we may, then close. */
static void
refuse(struct hd_admit *a, int fd)
{
    static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Connection: close\r\n"
                               "Retry-After: 1\r\n"
                               "Content-Length: 0\r\n\r\n";

    if (a->cfg.plain) {
        ssize_t n = send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL);

        (void)n; /* best effort: the socket is non-blocking */
    }
    close(fd);
}

int
hd_admit_accept(struct hd_admit *a, int fd, const struct sockaddr *sa,
                socklen_t len)
{
    unsigned char k[17];
    struct conn **pp, *c;
    struct addr *p;
    int exempt;
    enum reason why = R_N;

    addr_key(a, sa, len, k, &exempt);
    pthread_mutex_lock(&a->mu);
    /* a descriptor number still here was closed by libmicrohttpd without
     * a STARTED (it refused the socket): forget it */
    pp = conn_slot(a, fd);
    if (*pp)
        conn_drop(a, *pp);
    p = addr_get(a, k, exempt);
    if (!p->exempt && a->cfg.max_per_address > 0 &&
        p->open >= a->cfg.max_per_address) {
        /* its own oldest half-open one makes room, if it has one */
        if (p->hfirst && p->hfirst->attached)
            shut(a, p->hfirst, R_HALF_OPEN);
        else
            why = R_PER_ADDRESS;
    }
    /* none evictable: the newcomer still gets in */
    while (why == R_N && a->cfg.max_half_open > 0 &&
           a->half >= a->cfg.max_half_open && evict(a) == 0) {
    }
    if (why == R_N && a->open >= a->cfg.max_connections && evict(a) < 0)
        why = R_MAX_CONNECTIONS;
    if (why != R_N) {
        addr_put(a, p);
        count(a, why);
        pthread_mutex_unlock(&a->mu);
        refuse(a, fd);
        return 0;
    }
    c = hd_xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->linger_fd = -1;
    c->addr = p;
    p->refs++;
    c->fnext = a->byfd[fd_bucket(fd)];
    a->byfd[fd_bucket(fd)] = c;
    p->open++;
    a->open++;
    gauge(a->g_open, 1);
    wait_add(a, c, hd_now_mono_ms() + (uint64_t)a->cfg.head_timeout_s * 1000);
    pthread_mutex_unlock(&a->mu);
    return 1;
}

void
hd_admit_add_failed(struct hd_admit *a, int fd)
{
    struct conn **pp;

    pthread_mutex_lock(&a->mu);
    pp = conn_slot(a, fd);
    if (*pp && !(*pp)->attached)
        conn_drop(a, *pp);
    pthread_mutex_unlock(&a->mu);
}

void
hd_admit_started(struct hd_admit *a, int fd, void **ctx)
{
    struct conn **pp;

    pthread_mutex_lock(&a->mu);
    pp = conn_slot(a, fd);
    if (*pp && !(*pp)->attached) {
        (*pp)->attached = 1;
        *ctx = *pp;
    }
    pthread_mutex_unlock(&a->mu);
}

void
hd_admit_closed(struct hd_admit *a, void **ctx)
{
    struct conn *c = *ctx;

    if (c == NULL)
        return;
    *ctx = NULL;
    pthread_mutex_lock(&a->mu);
    conn_drop(a, c);
    pthread_mutex_unlock(&a->mu);
}

void
hd_admit_head_done(struct hd_admit *a, void *ctx)
{
    struct conn *c = ctx;

    if (c == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    wait_remove(a, c);
    pthread_mutex_unlock(&a->mu);
}

void
hd_admit_idle(struct hd_admit *a, void *ctx)
{
    struct conn *c = ctx;

    if (c == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    if (!c->shut && !c->waiting)
        wait_add(a, c,
                 hd_now_mono_ms() + (uint64_t)a->cfg.idle_timeout_s * 1000);
    pthread_mutex_unlock(&a->mu);
}

void
hd_admit_linger(struct hd_admit *a, void *ctx, int fd)
{
    struct conn *c = ctx;

    if (c == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    /* linger slots are only taken here, so a dropped one always fits */
    if (c->linger_fd < 0 &&
        a->nlinger + (size_t)a->nlinger_fds < HD_HTTP_LINGER_CONNS) {
        c->linger_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (c->linger_fd >= 0)
            a->nlinger_fds++;
    }
    pthread_mutex_unlock(&a->mu);
}

/* Reads what arrived on l and drops it. Returns 1 to keep draining, 0
 * when the client closed or failed. */
static int
drain(struct lingerer *l, uint64_t now)
{
    char buf[16384];
    int i;

    for (i = 0; i < 64; i++) { /* at most 1 MB a round */
        ssize_t n = read(l->fd, buf, sizeof(buf));

        if (n > 0) {
            l->idle_ms = now + (uint64_t)HD_HTTP_LINGER_IDLE_S * 1000;
            continue;
        }
        return n < 0 &&
               (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
    return 1;
}

/* Drains the lingering sockets that poll found readable, closes those
 * done or out of time. Called with a->mu held. */
static void
linger_round(struct hd_admit *a, const struct pollfd *pf, size_t n,
             uint64_t now)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        for (j = 0; j < a->nlinger && a->linger[j].fd != pf[i].fd; j++) {
        }
        if (j < a->nlinger && !drain(&a->linger[j], now))
            a->linger[j].end_ms = 0;
    }
    for (i = 0; i < a->nlinger;) {
        struct lingerer *l = &a->linger[i];

        if (l->end_ms > now && l->idle_ms > now) {
            i++;
            continue;
        }
        close(l->fd);
        *l = a->linger[--a->nlinger];
    }
}

static void *
timer_main(void *arg)
{
    struct hd_admit *a = arg;
    struct pollfd pf[HD_HTTP_LINGER_CONNS];
    struct timespec ts;

    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        uint64_t now = hd_now_mono_ms();
        struct conn *c = a->first;
        size_t i, n;

        while (c) {
            struct conn *next = c->next;

            if (c->attached && c->deadline_ms <= now)
                shut(a, c, R_HEAD_TIMEOUT);
            c = next;
        }
        n = a->nlinger;
        if (n == 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += TICK_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
            continue;
        }
        /* only this thread removes or closes lingering sockets */
        for (i = 0; i < n; i++)
            pf[i] = (struct pollfd){a->linger[i].fd, POLLIN, 0};
        pthread_mutex_unlock(&a->mu);
        if (poll(pf, n, TICK_MS) < 0)
            n = 0;
        pthread_mutex_lock(&a->mu);
        linger_round(a, pf, n, hd_now_mono_ms());
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static void
metrics_init(struct hd_admit *a, struct hd_metrics *m)
{
    static const char *const reason_label[] = {"reason"};
    static const char *const state_label[] = {"state"};
    struct hd_metric *f;
    int i;

    if (m == NULL)
        return;
    f = hd_metrics_counter(m, "herald_http_connections_rejected_total",
                           "HTTP connections refused at accept or closed "
                           "early, by reason.",
                           1, reason_label);
    for (i = 0; i < R_N; i++)
        a->rejected[i] = hd_metric_with(f, reason_names[i]);
    f = hd_metrics_gauge(m, "herald_http_connections",
                         "Open HTTP connections; half_open: still waiting "
                         "for a complete request head.",
                         1, state_label);
    a->g_open = hd_metric_with(f, "open");
    a->g_half = hd_metric_with(f, "half_open");
}

struct hd_admit *
hd_admit_new(const struct hd_admit_config *cfg,
             const struct hd_peer_trust *trust, struct hd_metrics *metrics,
             struct hd_err *err)
{
    struct hd_admit *a = hd_xcalloc(1, sizeof(*a));
    int rc;

    a->cfg = *cfg;
    a->trust = trust;
    pthread_mutex_init(&a->mu, NULL);
    hd_thread_cond_init(&a->cv);
    metrics_init(a, metrics);
    rc = pthread_create(&a->timer, NULL, timer_main, a);
    if (rc != 0) {
        hd_err_set(err, HD_EIO, "start HTTP deadline thread: %s", strerror(rc));
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return NULL;
    }
    return a;
}

void
hd_admit_free(struct hd_admit *a)
{
    size_t i;

    if (a == NULL)
        return;
    hd_thread_stop(a->timer, &a->mu, &a->cv, &a->stop);
    for (i = 0; i < NBUCKETS; i++)
        while (a->byfd[i])
            conn_drop(a, a->byfd[i]);
    for (i = 0; i < a->nlinger; i++)
        close(a->linger[i].fd);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
