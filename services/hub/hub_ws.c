/* hub_ws.c -- the transport: the lws context of one service thread and
 * its event loop (libev on epoll, or lws's own poll() loop), the listener
 * that adopts accepted sockets, and the lws callback that turns each
 * reason into a call through struct hub_ws_events.
 *
 * The listening socket is adopted by lws as a raw descriptor; readable
 * means "accept": the thread accepts and adopts the sockets itself, so a
 * connection never changes thread. The upgrade's verdict travels to the
 * established connection in lws's opaque user pointer, because lws
 * re-allocates the per-session data on upgrade. */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub_ws.h"
#include "core/banned.h"

/* No lws-level validity pings or idle hangups: the hub does its own
 * keep-alive on the timer wheel. (lws re-sorts a per-connection timer on
 * every packet otherwise, O(connections) each time.) */
static const lws_retry_bo_t no_validity = {NULL, 0, 0, 0, 0, 0};

/* ---- the listener ------------------------------------------------------ */

static int
listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));
    int one = 1, i, fd;

    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    for (i = 0; i < 256; i++) {
        fd = accept4(th->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                hd_log(HD_LOG_WARN, errno, "accept");
            break;
        }
        if (th->draining) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (lws_adopt_socket_vhost(th->vh, fd) == NULL)
            hd_log(HD_LOG_WARN, 0, "could not adopt an accepted socket");
    }
    return 0;
}

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

void
hub_ws_stop_listening(struct hub_thread *th)
{
    if (th->listen_wsi) {
        lws_set_timeout(th->listen_wsi, PENDING_TIMEOUT_USER_OK,
                        LWS_TO_KILL_ASYNC);
        th->listen_wsi = NULL;
    }
}

/* ---- the connections --------------------------------------------------- */

static int
upgrade(struct hub_thread *th, struct lws *wsi, const char *in)
{
    struct hub_pending *verdict = NULL;
    int rc;

    if (in == NULL || strcmp(in, "websocket") != 0)
        return -1;
    rc = th->ev->upgrade(th, wsi, &verdict);
    if (rc == 0)
        lws_set_opaque_user_data(wsi, verdict);
    return rc;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));
    const struct hub_ws_events *ev = th->ev;
    struct hub_conn *c = user;
    struct hub_pending *verdict;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return upgrade(th, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        verdict = lws_get_opaque_user_data(wsi);
        if (verdict == NULL)
            return -1;
        lws_set_opaque_user_data(wsi, NULL);
        ev->established(th, c, wsi, verdict);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return ev->receive(th, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ev->writable(th, c);
    case LWS_CALLBACK_CLOSED:
        ev->closed(th, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        return ev->http_request(th, c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return ev->http_body(th, c, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return ev->http_body_done(th, c, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return ev->http_writable(th, c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        ev->http_closed(th, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* an upgrade that never became a connection */
        verdict = lws_get_opaque_user_data(wsi);
        lws_set_opaque_user_data(wsi, NULL);
        ev->upgrade_dropped(th, verdict);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        ev->wakeup(th);
        return 0;
    default:
        return 0;
    }
}

/* ---- the context ------------------------------------------------------- */

static void
set_protocols(struct hub_thread *th, size_t session_size)
{
    struct lws_protocols *p = th->protocols;

    memset(th->protocols, 0, sizeof(th->protocols));
    /* rx: 128-byte reads are plenty for pings (a long message arrives in
     * pieces); tx must be set, or lws caps every send() at the rx size */
    p[0].name = "herald-hub";
    p[0].callback = ws_callback;
    p[0].per_session_data_size = session_size;
    p[0].rx_buffer_size = 128;
    p[0].tx_packet_size = LWS_PRE + HD_HUB_PACK_MAX + 16;
    p[1].name = "hub-listen";
    p[1].callback = listen_callback;
}

int
hub_ws_start(struct hub_thread *th, const struct hub_ws_events *ev,
             struct hd_err *err)
{
    struct lws_context_creation_info info;
    lws_sock_file_fd_type fd;

    th->ev = ev;
    set_protocols(th, ev->session_size);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = th->protocols;
    info.user = th;
    info.max_http_header_data = (unsigned short)(HD_HUB_TOKEN_MAX + 1024);
    info.max_http_header_pool = 64;
    info.timeout_secs = 15;
    info.keepalive_timeout = 15;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.retry_and_idle_policy = &no_validity;
    if (th->hub->cfg.epoll) {
        /* lws's own loop is poll(): every wake-up walks every descriptor.
         * libev on epoll costs per ready descriptor instead. The loop is
         * ours (a foreign loop to lws), so lws installs no signal watcher
         * and the thread decides when it ends. */
        th->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
        if (th->loop == NULL)
            return hd_err_set(err, HD_EIO, "thread %d: no epoll event loop",
                              th->idx);
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = (void **)&th->loop;
    }
    th->lws = lws_create_context(&info);
    if (th->lws == NULL && th->loop)
        return hd_err_set(err, HD_EIO,
                          "thread %d: libwebsockets could not start on epoll "
                          "(is libwebsockets-evlib-ev installed? "
                          "HERALD_HUB_EPOLL=false runs without it)",
                          th->idx);
    if (th->lws == NULL)
        return hd_err_set(err, HD_EIO, "thread %d: lws_create_context failed",
                          th->idx);
    th->vh = lws_get_vhost_by_name(th->lws, "default");
    if (th->vh == NULL)
        return hd_err_set(err, HD_EIO, "thread %d: no default vhost", th->idx);
    th->listen_fd = listen_socket(&th->hub->cfg, err);
    if (th->listen_fd < 0)
        return -1;
    fd.filefd = th->listen_fd;
    th->listen_wsi = lws_adopt_descriptor_vhost(th->vh, LWS_ADOPT_RAW_FILE_DESC,
                                                fd, "hub-listen", NULL);
    if (th->listen_wsi == NULL) {
        th->listen_fd = -1; /* lws closed it */
        return hd_err_set(err, HD_EIO,
                          "thread %d: cannot adopt the "
                          "listening socket",
                          th->idx);
    }
    return 0;
}

void
hub_ws_run(struct hub_thread *th)
{
    if (th->loop) {
        ev_run(th->loop, 0);
        return;
    }
    while (!th->exiting) {
        if (lws_service(th->lws, 0) < 0)
            break;
    }
}

void
hub_ws_end(struct hub_thread *th)
{
    th->exiting = 1;
    if (th->loop)
        ev_break(th->loop, EVBREAK_ALL);
    else
        lws_cancel_service(th->lws);
}

void
hub_ws_stop(struct hub_thread *th)
{
    if (th->lws) {
        lws_context_destroy(th->lws); /* closes what is left */
        th->lws = NULL;
    } else if (th->listen_fd >= 0) {
        close(th->listen_fd);
    }
    if (th->loop) { /* after lws: its watchers are stopped */
        ev_loop_destroy(th->loop);
        th->loop = NULL;
    }
}
