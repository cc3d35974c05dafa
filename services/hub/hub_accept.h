/* hub_accept.h -- the listener of one service thread: it accepts, holds
 * each new connection until its request head is in, and only then hands
 * it to libwebsockets.
 *
 * A connection that has sent no complete head costs a descriptor and a
 * small record, nothing of lws (whose header buffers and timeouts cost
 * O(connections) per operation in lws 4.1): the thread watches such
 * sockets on an epoll set of its own, itself one raw descriptor of the
 * lws loop, and only peeks at their bytes, which lws then reads as if
 * they had just arrived. This is where the listener's limits live:
 * HERALD_HUB_MAX_PER_ADDRESS, HERALD_HUB_MAX_HALF_OPEN (hub_early.h) and
 * HERALD_HUB_HEAD_TIMEOUT_S, which runs from accept until the request is
 * in (the head, the WebSocket upgrade, a POST's body). Part of the
 * transport (hub_ws.c): it calls nothing above it. Service thread only. */
#ifndef HUB_ACCEPT_H
#define HUB_ACCEPT_H

#include "core/err.h"
#include "services/hub/hub.h"

struct hub_pending;

/* One accepted connection until it is established as a WebSocket (or, for
 * a plain HTTP request, until lws forgets it). Once handed to lws it
 * lives in the wsi's opaque user pointer, which survives the upgrade. */
struct hub_sock {
    struct hub_early_node early; /* in th->early while half-open */
    int fd;
    struct lws *wsi;             /* NULL until its head is in */
    struct hub_pending *verdict; /* between the upgrade and ESTABLISHED */
    struct hub_lent *addr;       /* its address's slot, or NULL */
};

/* Opens th's SO_REUSEPORT listening socket and its epoll set of
 * connections without a head, both adopted by th->vh as raw descriptors
 * of protocol name. Returns 0, or -1 with err. */
int hub_accept_start(struct hub_thread *th, const char *name,
                     struct hd_err *err);
/* The callback of protocol name: accepts, and reads the heads in. */
int hub_accept_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len);
/* s's request is in (or refused): it is no longer half-open. NULL: no-op. */
void hub_accept_head_done(struct hub_thread *th, struct hub_sock *s);
/* Frees s: gives back its slot, drops its verdict (upgrade_dropped). */
void hub_accept_free(struct hub_thread *th, struct hub_sock *s);
/* Closes the connections past HERALD_HUB_HEAD_TIMEOUT_S; th->now must be
 * fresh. */
void hub_accept_tick(struct hub_thread *th);
/* Stops accepting: the listening socket is dropped. */
void hub_accept_stop_listening(struct hub_thread *th);
/* After the lws context is gone: closes the connections lws never got
 * and frees the rest. */
void hub_accept_stop(struct hub_thread *th);

#endif
