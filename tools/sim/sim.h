/* sim.h -- herald-sim's base: the context (configuration, credentials,
 * recording store, fault rules, issued access tokens, rate limiters and the
 * virtual clock), created once in main() by sim_ctx_init() (ctx.h) and
 * passed to every module, and the few functions every module uses
 * (sim.c): provider names, the clock, ids, the default latency.
 *
 * The simulator's folders, from the bottom up: this base, exchange.h (a
 * request and its response), endpoint.h (the endpoint vtable), faults/
 * (token prefixes, rules), providers/ (APNs, FCM, HMS, Web Push, OAuth: one
 * endpoint table each), route.h (the endpoints by host and path, the
 * request path), net/ (TLS, HTTP/2, HTTP/1.1), control.h (the control
 * API); ctx.c and main.c wire them. A file calls only the ones below it.
 *
 * Nothing here does I/O. Invariant: everything reachable from a struct
 * sim_ctx is either immutable after sim_ctx_init() (cfg, creds) or guarded
 * by its own lock or atomics, so every I/O thread and the control API
 * share one context without further locking. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

enum sim_provider {
    SIM_APNS = 0,
    SIM_FCM,
    SIM_HMS,
    SIM_WEBPUSH,
    SIM_NPROV,
};

/* "apns", "fcm", "hms", "webpush". */
const char *sim_provider_name(enum sim_provider p);
/* Returns 0 and *out, or -1 for an unknown name. */
int sim_provider_parse(const char *name, enum sim_provider *out);

struct sim_config {
    int port;               /* HERALD_SIM_PORT: TLS, every provider */
    char *bind;             /* HERALD_SIM_BIND */
    int threads;            /* HERALD_SIM_THREADS, 0 = one per CPU */
    char *creds_dir;        /* HERALD_SIM_CREDENTIALS_DIR */
    int latency_ms;         /* HERALD_SIM_LATENCY_MS */
    int jitter_ms;          /* HERALD_SIM_LATENCY_JITTER_MS */
    int records_max;        /* HERALD_SIM_RECORDS_MAX */
    int record_body_max;    /* HERALD_SIM_RECORD_BODY_MAX */
    int max_body;           /* HERALD_SIM_MAX_BODY */
    int seed;               /* HERALD_SIM_SEED */
    int idle_timeout_s;     /* HERALD_SIM_IDLE_TIMEOUT_S */
    int max_conn_age_s;     /* HERALD_SIM_MAX_CONN_AGE_S */
    int window_size;        /* HERALD_SIM_WINDOW_SIZE */
    int h2_prior_knowledge; /* HERALD_SIM_H2_PRIOR_KNOWLEDGE */
    /* APNs */
    int apns_max_streams;
    int apns_streams_before_auth;
    int apns_throttle_after_reject;
    int apns_goaway_on_excess;
    char *apns_keys;
    char *apns_topics;
    int apns_refresh_min_s;
    char *apns_update_scope;
    int apns_max_age_s;
    int apns_token_hex_len;
    int apns_id_upper;
    int apns_unique_id;
    int apns_topic_suffix;
    int apns_background_10;
    int apns_wedge;
    /* FCM */
    int fcm_max_streams;
    int fcm_token_ttl_s;
    char *fcm_accounts;
    int fcm_quota_per_min;
    /* HMS */
    int hms_token_ttl_s;
    char *hms_apps;
    char *hms_status_mode;
    int hms_qps;
    int hms_token_rate;
};

struct sim_creds;
struct sim_store;
struct sim_rules;
struct sim_tokens;
struct sim_rate;
struct sim_apns_teams;

/* Runtime-settable latency of one provider (control API). */
struct sim_latency {
    atomic_int ms;
    atomic_int jitter_ms;
};

/* A request to send GOAWAY on every open connection (control API). The
 * I/O threads compare gen with the last one they applied. */
struct sim_goaway_req {
    atomic_uint gen;
    atomic_int provider; /* -1: every connection */
    atomic_uint code;
    char debug[256]; /* written before gen is bumped */
};

struct sim_ctx {
    struct sim_config cfg;   /* filled by hd_config_load() */
    struct sim_creds *creds; /* immutable after init */
    struct sim_store *store;
    struct sim_rules *rules;
    struct sim_tokens *tokens;
    struct sim_rate *fcm_quota;      /* messages per minute per project */
    struct sim_rate *hms_qps;        /* tokens per second per app */
    struct sim_rate *hms_token_rate; /* token requests per 5 min per app */
    struct sim_apns_teams *teams;    /* team-scoped token-update tracking */
    struct sim_latency latency[SIM_NPROV];
    struct sim_goaway_req goaway;
    atomic_llong clock_offset_ms; /* virtual clock = wall + offset */
    atomic_ullong ids;            /* counter behind every generated id */
    int tls_port;                 /* bound TLS port, set by the server */
};

/* Virtual wall clock, Unix milliseconds: the system clock plus the offset
 * set through the control API. Thread-safe. */
int64_t sim_now_ms(const struct sim_ctx *ctx);

/* The next value of the id counter (1, 2, ...). Thread-safe. */
uint64_t sim_next_id(struct sim_ctx *ctx);

/* Effective latency for one response of provider p: the control-API value
 * (initially HERALD_SIM_LATENCY_MS) plus uniform jitter. Thread-safe. */
int sim_default_delay_ms(struct sim_ctx *ctx, enum sim_provider p);

#endif
