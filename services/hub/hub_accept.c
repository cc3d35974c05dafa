/* hub_accept.c -- accept, the wait for the request head, the hand-over to
 * lws, and the listener's limits.
 *
 * A connection is half-open from accept until its request is in. Until
 * its head is complete it is a bare socket on the thread's epoll set
 * (edge-triggered: one peek per arrival of bytes, never a spin on bytes
 * already seen); then lws adopts it and reads the head from the socket
 * itself. It stays in th->early, under the same deadline, until lws has
 * the whole request (hub_accept_head_done()). At a cap, the connection
 * that gives way is the oldest half-open one of the address holding the
 * most, or of the new connection's own address at its per-address cap,
 * so that a flood pays for itself and a client that sends its request at
 * once gets in. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub_accept.h"
#include "services/hub/hub_ws.h"
#include "core/banned.h"

#define ACCEPT_BATCH 256 /* accepts, or heads read, per wake-up */

static struct hub_sock *
sock_of(struct hub_early_node *n)
{
    return (struct hub_sock *)((char *)n - offsetof(struct hub_sock, early));
}

void
hub_accept_head_done(struct hub_thread *th, struct hub_sock *s)
{
    if (s == NULL || !hub_early_has(&s->early))
        return;
    hub_early_del(&th->early, &s->early);
    hd_gauge_add(th->hub->m.half_open, -1);
}

void
hub_accept_free(struct hub_thread *th, struct hub_sock *s)
{
    hub_accept_head_done(th, s);
    if (s->verdict)
        th->ev->upgrade_dropped(th, s->verdict);
    hub_limits_put(&th->hub->limits, s->addr);
    if (s->wsi == NULL && s->fd >= 0)
        close(s->fd); /* leaves the epoll set with it */
    free(s);
}

/* Closes a half-open connection: at its deadline, or to make room. Once
 * lws has it, the socket is shut down as well as timed out: lws resets a
 * connection's timeout as its request progresses, but a shut-down socket
 * reads end-of-file and is closed at its next read whatever its state. */
static void
evict(struct hub_thread *th, struct hub_sock *s, enum hub_lreject why)
{
    hd_counter_inc(th->hub->m.conn_rejected[why]);
    if (s->wsi == NULL) {
        hub_accept_free(th, s);
        return;
    }
    hub_accept_head_done(th, s);
    shutdown(s->fd, SHUT_RDWR);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void
hub_accept_tick(struct hub_thread *th)
{
    uint32_t head =
        (uint32_t)th->hub->cfg.head_timeout_s * (1000 / HUB_WHEEL_TICK_MS);
    struct hub_early_node *n;

    while ((n = hub_early_expired(&th->early, th->now - head)) != NULL)
        evict(th, sock_of(n), HUB_LREJ_HEAD_TIMEOUT);
}

/* ---- accept ------------------------------------------------------------ */

/* The per-address slot of a new connection from ip, in *slot. At
 * HERALD_HUB_MAX_PER_ADDRESS, the address's oldest half-open connection
 * on this thread gives its slot to the new one; with none, the new one is
 * refused (-1). */
static int
take_addr_slot(struct hub_thread *th, uint32_t ip, const char *addr,
               struct hub_lent **slot)
{
    struct hub_ctx *hub = th->hub;
    struct hub_early_node *old;
    struct hub_sock *victim;
    char key[8 + INET_ADDRSTRLEN];
    int n;

    n = snprintf(key, sizeof(key), "c:%s", addr);
    *slot = hub_limits_acquire(&hub->limits, key, (size_t)n,
                               hub->cfg.max_per_address);
    if (*slot)
        return 0;
    old = hub_early_oldest_of(&th->early, ip);
    if (old == NULL) {
        hd_counter_inc(hub->m.conn_rejected[HUB_LREJ_PER_ADDRESS]);
        return -1;
    }
    victim = sock_of(old);
    *slot = victim->addr;
    victim->addr = NULL;
    evict(th, victim, HUB_LREJ_PER_ADDRESS_EVICTED);
    return 0;
}

/* Admits an accepted socket (or closes it): its address's slot, room
 * among the half-open connections, a place on the epoll set. */
static void
admit(struct hub_thread *th, int fd, const struct sockaddr_in *sa)
{
    struct epoll_event ev;
    struct hub_lent *slot = NULL;
    struct hub_sock *s;
    char addr[INET_ADDRSTRLEN];
    uint32_t ip = sa->sin_addr.s_addr;

    inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
    /* a trusted proxy speaks for many clients: each is counted at the
     * upgrade, by the address its forwarding header names (hub_admit.c) */
    if (!hd_peer_trusted(&th->hub->trust, addr) &&
        take_addr_slot(th, ip, addr, &slot) < 0) {
        close(fd);
        return;
    }
    if (th->early.n >= th->early.max)
        evict(th, sock_of(hub_early_victim(&th->early)),
              HUB_LREJ_HALF_OPEN_EVICTED);
    s = hd_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->addr = slot;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = s;
    if (epoll_ctl(th->early_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        hd_log(HD_LOG_WARN, errno, "epoll_ctl");
        hub_accept_free(th, s);
        return;
    }
    hub_early_add(&th->early, &s->early, ip, th->now);
    hd_gauge_add(th->hub->m.half_open, 1);
}

static void
accept_some(struct hub_thread *th)
{
    struct sockaddr_in sa;
    socklen_t salen;
    int one = 1, i, fd;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        salen = sizeof(sa);
        fd = accept4(th->listen_fd, (struct sockaddr *)&sa, &salen,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                hd_log(HD_LOG_WARN, errno, "accept");
            break;
        }
        if (th->draining || sa.sin_family != AF_INET) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        admit(th, fd, &sa);
    }
}

/* ---- the head ---------------------------------------------------------- */

/* s's head is in: lws takes the socket and reads it from there. */
static void
hand_over(struct hub_thread *th, struct hub_sock *s)
{
    struct lws *wsi;

    epoll_ctl(th->early_fd, EPOLL_CTL_DEL, s->fd, NULL);
    wsi = lws_adopt_socket_vhost(th->vh, s->fd);
    if (wsi == NULL) { /* lws closed the socket */
        hd_log(HD_LOG_WARN, 0, "could not adopt an accepted socket");
        s->fd = -1;
        hub_accept_free(th, s);
        return;
    }
    s->wsi = wsi;
    lws_set_opaque_user_data(wsi, s);
}

/* New bytes (or an end) on a socket without a complete head. */
static void
readable(struct hub_thread *th, struct hub_sock *s, uint32_t events)
{
    ssize_t n;

    n = recv(s->fd, th->headbuf, HD_HUB_HEAD_MAX, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0 && (n == HD_HUB_HEAD_MAX ||
                  memmem(th->headbuf, (size_t)n, "\r\n\r\n", 4) != NULL)) {
        /* complete, or too long for lws's header buffer: lws answers */
        hand_over(th, s);
        return;
    }
    if (n <= 0 || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        hub_accept_free(th, s); /* gone before sending its head */
}

static void
read_heads(struct hub_thread *th)
{
    struct epoll_event evs[ACCEPT_BATCH];
    int n, i;

    n = epoll_wait(th->early_fd, evs, ACCEPT_BATCH, 0);
    for (i = 0; i < n; i++)
        readable(th, evs[i].data.ptr, evs[i].events);
}

int
hub_accept_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    hub_thread_now(th);
    if (wsi == th->early_wsi)
        read_heads(th);
    else
        accept_some(th);
    return 0;
}

/* ---- start and stop ---------------------------------------------------- */

static int
listen_socket(const struct hub_config *cfg, struct hd_err *err)
{
    struct sockaddr_in sa;
    int fd, one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_HUB_BIND: not an IPv4 "
                          "address: %s",
                          cfg->bind);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return hd_err_set(err, HD_EIO, "socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4096) < 0) {
        hd_err_set(err, HD_EIO, "listen %s:%d: %s", cfg->bind, cfg->port,
                   strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Hands fd to lws as a raw descriptor of protocol name (lws closes it,
 * now on failure or with the context). */
static struct lws *
adopt_raw(struct hub_thread *th, int fd, const char *name)
{
    lws_sock_file_fd_type d;

    d.filefd = fd;
    return lws_adopt_descriptor_vhost(th->vh, LWS_ADOPT_RAW_FILE_DESC, d, name,
                                      NULL);
}

int
hub_accept_start(struct hub_thread *th, const char *name, struct hd_err *err)
{
    const struct hub_config *cfg = &th->hub->cfg;

    /* HERALD_HUB_MAX_HALF_OPEN is shared evenly by the threads */
    hub_early_init(&th->early,
                   (uint32_t)((cfg->max_half_open + th->hub->nthreads - 1) /
                              th->hub->nthreads));
    th->headbuf = hd_xmalloc(HD_HUB_HEAD_MAX);
    th->early_fd = epoll_create1(EPOLL_CLOEXEC);
    if (th->early_fd < 0)
        return hd_err_set(err, HD_EIO, "epoll_create1: %s", strerror(errno));
    th->early_wsi = adopt_raw(th, th->early_fd, name);
    if (th->early_wsi == NULL) {
        th->early_fd = -1;
        return hd_err_set(err, HD_EIO, "thread %d: cannot adopt an epoll set",
                          th->idx);
    }
    th->listen_fd = listen_socket(cfg, err);
    if (th->listen_fd < 0)
        return -1;
    th->listen_wsi = adopt_raw(th, th->listen_fd, name);
    if (th->listen_wsi == NULL) {
        th->listen_fd = -1;
        return hd_err_set(err, HD_EIO,
                          "thread %d: cannot adopt the listening socket",
                          th->idx);
    }
    return 0;
}

void
hub_accept_stop_listening(struct hub_thread *th)
{
    if (th->listen_wsi) {
        lws_set_timeout(th->listen_wsi, PENDING_TIMEOUT_USER_OK,
                        LWS_TO_KILL_ASYNC);
        th->listen_wsi = NULL;
    }
}

void
hub_accept_stop(struct hub_thread *th)
{
    /* what is left never reached lws: the context's end freed the rest */
    while (th->early.head)
        hub_accept_free(th, sock_of(th->early.head));
    if (th->early.table)
        hub_early_release(&th->early);
    free(th->headbuf);
    th->headbuf = NULL;
}
