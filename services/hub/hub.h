/* hub.h -- herald-hub's shared state: configuration, the process context
 * and the service thread's record. Data only, plus the thread's clock;
 * every hub file includes it, and it calls none of them.
 *
 * The hub is built in layers, each calling only the ones below it:
 *   hub_thread   a service thread: wires the layers, its inbox, its tick
 *   hub_http     the plain HTTP endpoints (POST /send, /readyz, ...)
 *   hub_dispatch events to threads (inbox) and to connections (routing)
 *   hub_conn     one WebSocket connection: handshake, queue, writes, timer
 *   hub_admit    the upgrade: who the client is, the slots it holds
 *   hub_ws       the transport: the lws context and callbacks, reporting
 *                up through the struct hub_ws_events table, and its
 *                listener (hub_accept: accept, heads, listener limits)
 * over the leaves (event, signalr, msgpack, registry, wheel, limits,
 * early, metrics). hub_kafka feeds hub_dispatch from its own thread.
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

#include "core/clock.h"
#include "service/admin.h"
#include "http/peer.h"
#include "service/health.h"
#include "kafka/kafka.h"
#include "core/metrics.h"
#include "auth/usertoken.h"
#include "services/hub/hub_early.h"
#include "services/hub/hub_event.h"
#include "services/hub/hub_limits.h"
#include "services/hub/hub_metrics.h"
#include "services/hub/hub_presence.h"
#include "services/hub/hub_registry.h"
#include "services/hub/hub_shard.h"
#include "services/hub/hub_signalr.h"
#include "services/hub/hub_wheel.h"

struct hub_config {
    int port;
    char *bind;
    int threads; /* 0 = one per core */
    int max_connections;
    int max_per_user;
    int anon_per_ip;
    int max_per_address; /* connections per client address */
    int max_half_open;   /* connections whose request is not in */
    int head_timeout_s;  /* accept to a complete request */
    int max_message;     /* inbound bytes per message */
    int handshake_timeout_s;
    int ping_interval_s;
    int client_timeout_s;
    int queue_max; /* queued messages per connection */
    int shutdown_timeout_s;
    int write_delay_ms;    /* gather queued messages this long */
    int negotiate;         /* serve POST .../negotiate */
    char *installation_id; /* joins Installation_<id> when set */
    char *internal_key;    /* bearer key of POST /send */
    char *internal_issuer; /* required "iss" of /send JWTs */
    char *internal_scope;  /* required "scope" of /send JWTs */
    char *group_id;        /* Kafka group id; unset: none (hub_kafka.h) */
    int epoll;             /* libev on epoll rather than lws's poll() */
    int shards;            /* HERALD_HUB_SHARDS; 0: not sharded */
    int shard;             /* HERALD_HUB_SHARD; -1: from the host name */
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
    struct hd_peer_config peer_cfg; /* HERALD_TRUSTED_PROXIES ... */
    struct hd_peer_trust trust;     /* read-only after start-up */
    struct hd_usertoken_config jwt_cfg;
    struct hd_kafka_config kafka_cfg;
    struct hd_usertoken *tokens;
    struct hd_usertoken *service_tokens; /* /send JWTs; NULL: key only */
    struct hd_metrics *metrics;
    struct hub_metrics m;
    struct hd_health *health;
    struct hd_admin_config admin_cfg;
    struct hd_http_server *admin; /* /metrics, detailed /readyz */
    struct hub_limits limits;
    struct hub_thread *threads;
    int nthreads;
    struct hub_kafka *kafka; /* NULL without HERALD_KAFKA_BROKERS */
    struct hub_shard shard;
    struct hub_presence_config presence_cfg;
    struct hub_presence *presence; /* NULL: not published */
};

struct hub_conn;
struct hub_ws_events;

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
    /* the transport's (hub_ws.c) */
    struct lws_context *lws;
    struct ev_loop *loop; /* epoll loop, or NULL: lws's poll() loop */
    struct lws_vhost *vh;
    struct lws *listen_wsi;
    int listen_fd;
    struct lws *early_wsi;  /* early_fd's, in the lws loop */
    int early_fd;           /* epoll set of sockets without a head */
    unsigned char *headbuf; /* HD_HUB_HEAD_MAX: a peeked head */
    const struct hub_ws_events *ev;
    struct lws_protocols protocols[3];
    struct hub_early early; /* half-open connections */

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

/* Refreshes th->now (wheel ticks) from the monotonic clock and returns
 * it. Service thread only. */
static inline uint32_t
hub_thread_now(struct hub_thread *th)
{
    th->now = hub_wheel_ticks(hd_now_mono_ms() - th->t0_ms) + 1;
    return th->now;
}

#endif
