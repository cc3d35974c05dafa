/* hub_ws.c -- the transport: the lws context of one service thread and
 * its event loop (libev on epoll, or lws's own poll() loop), and the lws
 * callback that turns each reason into a call through struct
 * hub_ws_events.
 *
 * The thread accepts its sockets itself (hub_accept.c) and hands each one
 * to lws once its request head is in, so a connection never changes
 * thread. The socket's record (struct hub_sock: its address slot, then
 * the upgrade's verdict) travels in lws's opaque user pointer, because
 * lws re-allocates the per-session data on upgrade; at ESTABLISHED the
 * connection layer takes over what it holds. */
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "services/hub/hub_accept.h"
#include "services/hub/hub_ws.h"
#include "core/banned.h"

/* No lws-level validity pings or idle hangups: the hub does its own
 * keep-alive on the timer wheel. (lws re-sorts a per-connection timer on
 * every packet otherwise, O(connections) each time.) */
static const lws_retry_bo_t no_validity = {NULL, 0, 0, 0, 0, 0};

/* ---- the connections --------------------------------------------------- */

static int
upgrade(struct hub_thread *th, struct lws *wsi, const char *in)
{
    struct hub_sock *s = lws_get_opaque_user_data(wsi);
    struct hub_pending *verdict = NULL;
    int rc;

    hub_accept_head_done(th, s);
    if (s == NULL || in == NULL || strcmp(in, "websocket") != 0)
        return -1;
    rc = th->ev->upgrade(th, wsi, &verdict);
    if (rc == 0)
        s->verdict = verdict;
    return rc;
}

/* The upgrade completed: the connection layer takes over the verdict and
 * the address slot, and the socket's record is gone. */
static int
established(struct hub_thread *th, struct hub_conn *c, struct lws *wsi)
{
    struct hub_sock *s = lws_get_opaque_user_data(wsi);
    struct hub_pending *verdict;
    struct hub_lent *addr;

    if (s == NULL || s->verdict == NULL)
        return -1;
    verdict = s->verdict;
    addr = s->addr;
    s->verdict = NULL;
    s->addr = NULL;
    lws_set_opaque_user_data(wsi, NULL);
    hub_accept_free(th, s);
    th->ev->established(th, c, wsi, verdict, addr);
    return 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    struct hub_thread *th = lws_context_user(lws_get_context(wsi));
    const struct hub_ws_events *ev = th->ev;
    struct hub_conn *c = user;
    struct hub_sock *s;

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return upgrade(th, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        return established(th, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return ev->receive(th, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ev->writable(th, c);
    case LWS_CALLBACK_CLOSED:
        ev->closed(th, c);
        return 0;
    case LWS_CALLBACK_HTTP:
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 &&
            lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0)
            hub_accept_head_done(th, lws_get_opaque_user_data(wsi));
        return ev->http_request(th, c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return ev->http_body(th, c, wsi, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        hub_accept_head_done(th, lws_get_opaque_user_data(wsi));
        return ev->http_body_done(th, c, wsi);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        /* answering: the request has been read (or refused early) */
        hub_accept_head_done(th, lws_get_opaque_user_data(wsi));
        return ev->http_writable(th, c, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        ev->http_closed(th, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* every socket ends here, the listener too (it has no record) */
        s = lws_get_opaque_user_data(wsi);
        lws_set_opaque_user_data(wsi, NULL);
        if (s)
            hub_accept_free(th, s);
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
    /* rx: lws keeps a buffer of this size (+ LWS_PRE + 4) for every
     * connection and hands a data frame up in pieces of it; a client
     * ping (3 bytes in MessagePack, 11 in JSON) fits whole, the 41-byte
     * handshake arrives in three (control frames have their own buffer).
     * tx must be set, or lws caps every send() at the rx size. */
    p[0].name = "herald-hub";
    p[0].callback = ws_callback;
    p[0].per_session_data_size = session_size;
    p[0].rx_buffer_size = 16;
    p[0].tx_packet_size = LWS_PRE + HD_HUB_PACK_MAX + 16;
    p[1].name = "hub-listen";
    p[1].callback = hub_accept_callback;
}

int
hub_ws_start(struct hub_thread *th, const struct hub_ws_events *ev,
             struct hd_err *err)
{
    struct lws_context_creation_info info;

    th->ev = ev;
    set_protocols(th, ev->session_size);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = th->protocols;
    info.user = th;
    info.max_http_header_data = HD_HUB_HEAD_MAX;
    /* lws gets a socket once its head is in and holds a header buffer for
     * it until the request is read (or the answer written): as many as
     * the half-open connections the hub keeps, plus answers in flight, so
     * none waits for one (that queue is what a flood fills). The hub
     * closes a connection whose request is not in after
     * HERALD_HUB_HEAD_TIMEOUT_S itself; lws's own timeouts come later. */
    info.max_http_header_pool2 = (unsigned)th->hub->cfg.max_half_open + 256;
    info.timeout_secs = (unsigned)th->hub->cfg.head_timeout_s + 5;
    info.timeout_secs_ah_idle = info.timeout_secs;
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
    return hub_accept_start(th, "hub-listen", err);
}

void
hub_ws_tick(struct hub_thread *th)
{
    hub_accept_tick(th);
}

void
hub_ws_stop_listening(struct hub_thread *th)
{
    hub_accept_stop_listening(th);
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
    }
    if (th->loop) { /* after lws: its watchers are stopped */
        ev_loop_destroy(th->loop);
        th->loop = NULL;
    }
    hub_accept_stop(th); /* after lws: what lws never got */
}
