/* hub_ws.h -- the transport: one libwebsockets context per service
 * thread, its event loop (HERALD_HUB_EPOLL: libev on epoll), its
 * SO_REUSEPORT listener (hub_accept.h) and the lws callbacks.
 *
 * This layer knows lws and nothing of SignalR, groups or HTTP routes: it
 * turns each lws callback into a call through the struct hub_ws_events
 * table the thread registers, and keeps the upgrade's verdict (struct
 * hub_pending) in lws's opaque user pointer until the connection is
 * established, because lws re-allocates the per-session data on upgrade.
 * Its listener keeps the limits of connections whose request is not in:
 * per client address, half-open connections, the request's deadline. It
 * never calls the layers above it. Everything here runs on the
 * service thread that owns th. */
#ifndef HUB_WS_H
#define HUB_WS_H

#include <stddef.h>

#include "core/err.h"
#include "services/hub/hub.h"

struct hub_pending;

/* What the transport reports upward. Every callback runs on th's service
 * thread; c is the per-session record (session_size bytes, zeroed by lws
 * before the first callback). Returning -1 closes the connection. */
struct hub_ws_events {
    size_t session_size;
    /* A WebSocket upgrade request. Returns 0 and *verdict to accept, 1 when
     * it answered with an HTTP status, -1 to drop the socket. */
    int (*upgrade)(struct hub_thread *th, struct lws *wsi,
                   struct hub_pending **verdict);
    /* An accepted upgrade that never became a connection: frees verdict. */
    void (*upgrade_dropped)(struct hub_thread *th, struct hub_pending *verdict);
    /* The upgrade completed; c takes over verdict and addr (the client
     * address's connection slot, NULL when the listener took none). */
    void (*established)(struct hub_thread *th, struct hub_conn *c,
                        struct lws *wsi, struct hub_pending *verdict,
                        struct hub_lent *addr);
    int (*receive)(struct hub_thread *th, struct hub_conn *c, const void *in,
                   size_t len);
    int (*writable)(struct hub_thread *th, struct hub_conn *c);
    void (*closed)(struct hub_thread *th, struct hub_conn *c);
    /* A plain HTTP request (not an upgrade), its body, its writes, its end
     * (c may be NULL there). */
    int (*http_request)(struct hub_thread *th, struct hub_conn *c,
                        struct lws *wsi, const char *path);
    int (*http_body)(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                     const void *in, size_t len);
    int (*http_body_done)(struct hub_thread *th, struct hub_conn *c,
                          struct lws *wsi);
    int (*http_writable)(struct hub_thread *th, struct hub_conn *c,
                         struct lws *wsi);
    void (*http_closed)(struct hub_thread *th, struct hub_conn *c);
    /* lws_cancel_service() was called: another thread wants attention. */
    void (*wakeup)(struct hub_thread *th);
};

/* Creates th's lws context and listening socket (th->hub->cfg port and
 * bind) and starts reporting to ev, which must outlive the context.
 * Returns 0, or -1 with err (call hub_ws_stop() anyway). */
int hub_ws_start(struct hub_thread *th, const struct hub_ws_events *ev,
                 struct hd_err *err);
/* Serves th's connections until hub_ws_end() (or an lws failure). */
void hub_ws_run(struct hub_thread *th);
/* Makes hub_ws_run() return; called from one of th's own callbacks. */
void hub_ws_end(struct hub_thread *th);
/* Destroys the context, closing what is left (callbacks still run during
 * the call), then the event loop, then the sockets lws never got. */
void hub_ws_stop(struct hub_thread *th);
/* Closes the connections whose request is not in after
 * HERALD_HUB_HEAD_TIMEOUT_S; th->now must be fresh (the thread's tick). */
void hub_ws_tick(struct hub_thread *th);
/* Stops accepting: new sockets are closed, the listener is dropped. */
void hub_ws_stop_listening(struct hub_thread *th);

#endif
