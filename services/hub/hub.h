/* hub.h -- herald-hub's shared state: configuration, the process context,
 * the service threads and the per-connection record.
 *
 * One process runs HERALD_HUB_THREADS service threads. Each owns one
 * libwebsockets context, its own SO_REUSEPORT listening socket, its
 * connections, their group index and one timer wheel; nothing of a
 * connection is ever touched by another thread. Events reach a thread
 * through its inbox (mutex + lws_cancel_service(), the one thread-safe lws
 * call). Process-wide state (limits, metrics, token verifier) is
 * thread-safe by itself. */
#ifndef HUB_H
#define HUB_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "service/health.h"
#include "kafka/kafka.h"
#include "core/metrics.h"
#include "auth/usertoken.h"
#include "services/hub/hub_event.h"
#include "services/hub/hub_limits.h"
#include "services/hub/hub_metrics.h"
#include "services/hub/hub_registry.h"
#include "services/hub/hub_signalr.h"
#include "services/hub/hub_wheel.h"

struct hub_config {
    int port;
    char *bind;
    int threads; /* 0 = one per core */
    int max_connections;
    int max_per_user;
    int anon_per_ip;
    int max_message; /* inbound bytes per message */
    int handshake_timeout_s;
    int ping_interval_s;
    int client_timeout_s;
    int queue_max; /* queued messages per connection */
    int shutdown_timeout_s;
    int write_delay_ms;    /* gather queued messages this long */
    int negotiate;         /* serve POST .../negotiate */
    char *installation_id; /* joins Installation_<id> when set */
    char *internal_key;    /* bearer key of POST /send */
    char *group_id;        /* Kafka group id; unset: unique per process */
    int epoll;             /* libev on epoll rather than lws's poll() */
};

extern const struct hd_config_field hub_config_fields[];

enum hub_kind {
    HUB_KIND_MAIN = 0, /* /notifications/hub */
    HUB_KIND_ANON = 1, /* /notifications/anonymous-hub */
    HUB_KIND__COUNT,
};

const char *hub_kind_name(enum hub_kind k);

struct hub_thread;
struct hub_kafka;

struct hub_ctx {
    struct hub_config cfg;
    struct hd_usertoken_config jwt_cfg;
    struct hd_kafka_config kafka_cfg;
    struct hd_usertoken *tokens;
    struct hd_metrics *metrics;
    struct hub_metrics m;
    struct hd_health *health;
    struct hub_limits limits;
    struct hub_thread *threads;
    int nthreads;
    struct hub_kafka *kafka; /* NULL without HERALD_KAFKA_BROKERS */
};

enum hub_conn_state {
    HUB_CS_HANDSHAKE = 0, /* upgraded, waiting for the SignalR handshake */
    HUB_CS_OPEN,          /* handshake answered: receives notifications */
    HUB_CS_CLOSING,       /* flushing its last messages, then closes */
    HUB_CS_DEAD,          /* being killed: nothing more is queued */
};

#define HUB_CF_CLOSE_NOW 0x01 /* close at the next writable callback */
#define HUB_CF_COUNTED 0x02   /* counted in the connections gauge */
#define HUB_CF_DIRTY 0x04     /* on the thread's flush list */

/* What the HTTP upgrade decided, kept until the handshake completes:
 * who the client is, the slots it holds and the handshake in progress. */
struct hub_pending {
    enum hub_kind kind;
    int client_type;
    char *key;   /* "u:<sub>" or "a:<token>": new */
    char **orgs; /* new, norgs of them */
    size_t norgs;
    struct hub_lent *slot; /* per-user or per-address slot */
    int conn_slot;         /* holds a hub_limits connection slot */
    struct hd_buf hs;      /* handshake bytes so far */
    char *reply;           /* handshake reply to write: new */
    size_t reply_len;
    int reply_error; /* close after writing the reply */
};

/* One HTTP request in progress (non-upgrade requests only). */
struct hub_http;

/* The per-session data of every connection (lws allocates it zeroed). */
struct hub_conn {
    struct lws *wsi;              /* set once established */
    struct hub_conn *next, *prev; /* the thread's connection list */
    struct hub_wheel_node timer;
    struct hub_member user;      /* "u:" or "a:" group */
    struct hub_member *orgs;     /* "o:" groups, norgs: new */
    struct hub_lframe **ring;    /* queued messages: new, qcap */
    struct hub_pending *pending; /* until the handshake completes */
    struct hub_http *http;       /* HTTP requests only */
    struct hub_lent *slot;
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

/* Per-thread counters, added to the shared metrics on each tick so the
 * delivery path never writes a shared cache line. */
struct hub_tstats {
    uint64_t deliveries[HUB_PROTO__COUNT];
    uint64_t pings;
    uint64_t dropped;
};

struct hub_thread {
    struct hub_ctx *hub;
    int idx;
    pthread_t tid;
    struct lws_context *lws;
    struct ev_loop *loop; /* epoll loop, or NULL: lws's poll() loop */
    struct lws_vhost *vh;
    struct lws *listen_wsi;
    int listen_fd;

    pthread_mutex_t mu; /* guards the fields down to started */
    pthread_cond_t cond;
    struct hub_event **inbox;
    size_t ninbox, capinbox;
    int stop;    /* shutdown asked */
    int started; /* 1 listening, -1 failed */
    int gone;    /* lws context destroyed or going */

    struct hub_wheel wheel;
    struct hub_registry reg;
    lws_sorted_usec_list_t sul;
    lws_sorted_usec_list_t flush_sul;
    struct hub_conn *dirty; /* connections to flush */
    int flush_armed;
    struct hub_conn *conns; /* established connections */
    uint32_t nconns;
    uint32_t now; /* wheel ticks, refreshed per callback */
    uint64_t t0_ms;
    struct hub_lframe ping[HUB_PROTO__COUNT];
    struct hub_lframe close[HUB_PROTO__COUNT];
    unsigned char *wbuf; /* LWS_PRE + HD_HUB_PACK_MAX */
    int draining;
    int exiting;
    uint32_t drain_deadline;
    struct hub_tstats st;
};

/* ---- hub_thread.c ---- */

/* Starts the service threads and waits until each listens. Returns 0, or
 * -1 with err (threads already started are stopped). */
int hub_threads_start(struct hub_ctx *hub, struct hd_err *err);
/* Asks every thread to send Close to its clients and stop, waits for
 * them (bounded by shutdown_timeout_s) and frees them. */
void hub_threads_stop(struct hub_ctx *hub);
/* Refreshes th->now from the monotonic clock. */
uint32_t hub_thread_now(struct hub_thread *th);
/* Routes what the inbox holds and notices a stop request (service thread,
 * on LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
void hub_thread_wakeup(struct hub_thread *th);

/* ---- hub_dispatch.c ---- */

/* Hands e to every thread (the caller's hold is consumed). With block = 0
 * (service threads), a thread whose inbox is full misses the event and
 * -1 is returned; with block = 1 the caller waits for room. Any thread. */
int hub_dispatch(struct hub_ctx *hub, struct hub_event *e, int block);

/* Builds an event from a Bitwarden notification {Type, Payload,
 * ContextId} in any key case (a POST /send body): routed with the §3.4
 * table, re-keyed to PascalCase, Payload passed through. new, or NULL
 * with err (HD_EINVAL: the caller answers 400). */
struct hub_event *hub_event_from_send(const char *body, size_t len,
                                      struct hd_err *err);

/* Builds an event from a herald.events record (docs/kafka-messages.md).
 * new, or NULL with err for a malformed record. */
struct hub_event *hub_event_from_record(const void *data, size_t len,
                                        struct hd_err *err);

/* Routes e to this thread's connections (service thread only). */
void hub_route(struct hub_thread *th, struct hub_event *e);

/* ---- hub_conn.c ---- */

/* Queues lf on c (taking a reference) and asks for a writable callback.
 * A connection whose queue is full is killed as a slow consumer. */
void hub_conn_push(struct hub_thread *th, struct hub_conn *c,
                   struct hub_lframe *lf);
/* Asks lws for a writable callback on every connection queued since the
 * last flush (the write delay timer). */
void hub_conn_flush_all(struct hub_thread *th);
/* The write-delay timer's callback. */
void hub_conn_flush_sul(lws_sorted_usec_list_t *sul);
/* Takes c off the flush list (it is closing). */
void hub_conn_undirty(struct hub_thread *th, struct hub_conn *c);
/* Writes as many queued messages as fit in one WebSocket frame. Returns
 * 0, or -1 when lws must close the connection. */
int hub_conn_writable(struct hub_thread *th, struct hub_conn *c);
/* Arms the timer for the connection's current state. */
void hub_conn_arm(struct hub_thread *th, struct hub_conn *c);
/* The wheel callback. */
void hub_conn_timer(struct hub_wheel_node *n, void *ud);
/* Marks c to close with code at its next writable callback. */
void hub_conn_close(struct hub_thread *th, struct hub_conn *c, uint16_t code);
/* Drops every queued message. */
void hub_conn_flush_queue(struct hub_conn *c);
/* Sends Close to an open connection and closes it once written. */
void hub_conn_goodbye(struct hub_thread *th, struct hub_conn *c);

/* ---- hub_ws.c ---- */

int hub_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                    void *user, void *in, size_t len);
int hub_listen_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len);
void hub_pending_free(struct hub_ctx *hub, struct hub_pending *p);

/* ---- hub_http.c ---- */

/* The plain HTTP endpoints; called from hub_ws_callback for the HTTP
 * reasons. Same return contract as an lws callback. */
int hub_http_request(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                     const char *path);
int hub_http_body(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                  const void *in, size_t len);
int hub_http_body_done(struct hub_thread *th, struct hub_conn *c,
                       struct lws *wsi);
int hub_http_writable(struct hub_thread *th, struct hub_conn *c,
                      struct lws *wsi);
void hub_http_free(struct hub_conn *c);
/* Writes a complete response (status, JSON or text body). Returns 0 or
 * -1 (close). */
int hub_http_respond(struct hub_conn *c, struct lws *wsi, unsigned status,
                     const char *ctype, const char *body, size_t len);

#endif
