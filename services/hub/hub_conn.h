/* hub_conn.h -- the connection layer: one WebSocket connection from the
 * upgrade to its close. It runs the SignalR handshake, joins the
 * connection's groups, queues outbound frames and writes them, and keeps
 * the handshake, ping and idle timers on the thread's wheel.
 *
 * Its entry points are the transport's events (hub_conn_established ...
 * hub_conn_closed, registered by hub_thread.c), the wheel's callback, and
 * hub_conn_push() for the routing layer above. It calls down only: lws
 * writes, hub_admit (the verdict it took over), the registry, the wheel.
 * Everything here runs on the service thread that owns the connection. */
#ifndef HUB_CONN_H
#define HUB_CONN_H

#include <stdint.h>

#include "services/hub/hub.h"

struct hub_pending;

enum hub_conn_state {
    HUB_CS_HANDSHAKE = 0, /* upgraded, waiting for the SignalR handshake */
    HUB_CS_OPEN,          /* handshake answered: receives notifications */
    HUB_CS_CLOSING,       /* flushing its last messages, then closes */
    HUB_CS_DEAD,          /* being killed: nothing more is queued */
};

#define HUB_CF_CLOSE_NOW 0x01   /* close at the next writable callback */
#define HUB_CF_COUNTED 0x02     /* counted in the connections gauge */
#define HUB_CF_DIRTY 0x04       /* on the thread's flush list */
#define HUB_CF_WRONG_SHARD 0x08 /* refused: its user is another shard's */
#define HUB_CF_IN_STEP 0x10     /* pings with its client (hub_keepalive.h) */

/* One HTTP request in progress (non-upgrade requests only). */
struct hub_http;

/* The per-session data of every connection (lws allocates it zeroed). */
struct hub_conn {
    struct lws *wsi;              /* set once established */
    struct hub_conn *next, *prev; /* the thread's connection list */
    struct hub_wheel_node timer;
    struct hub_member user;      /* "u:" or "a:" group */
    struct hub_member *orgs;     /* "o:" groups, norgs: new */
    struct hub_lframe **ring;    /* queued messages: &one or new, qcap */
    struct hub_lframe *one;      /* the queue while it holds one message */
    struct hub_pending *pending; /* until the handshake completes */
    struct hub_http *http;       /* HTTP requests only */
    struct hub_lent *slot;
    struct hub_lent *addr;       /* its client address's connection slot */
    struct hub_conn *dirty_next; /* waiting for the next flush */
    uint32_t qhead, qlen, qcap;
    uint32_t last_rx, last_tx; /* wheel ticks */
    uint32_t in_len;           /* bytes of the current inbound message */
    uint16_t norgs;
    uint16_t close_code;
    uint8_t state;
    uint8_t proto;
    uint8_t kind;
    uint8_t client_type;
    uint8_t flags;
    uint8_t conn_slot;
};

/* ---- the transport's events (struct hub_ws_events) ---- */

/* The upgrade completed: c starts its handshake and takes over p and
 * addr (NULL allowed). */
void hub_conn_established(struct hub_thread *th, struct hub_conn *c,
                          struct lws *wsi, struct hub_pending *p,
                          struct hub_lent *addr);
/* Inbound bytes: the handshake until it is answered, then ignored (a
 * whole message may take the hub's Ping along, hub_keepalive.h).
 * Returns 0, or -1 when lws must close the connection. */
int hub_conn_receive(struct hub_thread *th, struct hub_conn *c, const void *in,
                     size_t len);
/* Writes the handshake reply, or as many queued messages as fit in one
 * WebSocket frame. Returns 0, or -1 when lws must close the connection. */
int hub_conn_writable(struct hub_thread *th, struct hub_conn *c);
/* The connection is gone: leaves its groups, gives back its slots. */
void hub_conn_closed(struct hub_thread *th, struct hub_conn *c);

/* ---- for the routing and thread layers ---- */

/* Queues lf on c (taking a reference) and asks for a writable callback.
 * A connection whose queue is full is killed as a slow consumer. */
void hub_conn_push(struct hub_thread *th, struct hub_conn *c,
                   struct hub_lframe *lf);
/* The wheel callback (hub_wheel_advance()): handshake timeout, ping,
 * idle timeout. */
void hub_conn_timer(struct hub_wheel_node *n, void *ud);
/* Sends Close to an open connection and closes it once written. */
void hub_conn_goodbye(struct hub_thread *th, struct hub_conn *c);

#endif
