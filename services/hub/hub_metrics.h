/* hub_metrics.h -- herald-hub's Prometheus series, looked up once at
 * start-up so hot paths only do atomic adds.
 *
 * Families: herald_hub_connections{hub,protocol} (gauge),
 * herald_hub_connections_total{hub,protocol}, herald_hub_rejected_total
 * {reason}, herald_hub_connections_rejected_total{reason},
 * herald_hub_half_open (gauge), herald_hub_disconnects_total{reason},
 * herald_hub_deliveries_total{protocol}, herald_hub_dropped_total,
 * herald_hub_slow_consumer_closes_total, herald_hub_pings_total,
 * herald_hub_events_total{source,result} and the histogram
 * herald_hub_event_lag_seconds. Thread-safe (hd_metrics is). */
#ifndef HUB_METRICS_H
#define HUB_METRICS_H

#include "core/metrics.h"
#include "proto/bitwarden_unknown.h"

enum hub_reject {
    HUB_REJ_UNAUTHORIZED = 0, /* 401 */
    HUB_REJ_MAX_CONNECTIONS,  /* 503 */
    HUB_REJ_MAX_PER_USER,     /* 429 */
    HUB_REJ_ANON_PER_IP,      /* 429 */
    HUB_REJ_BAD_REQUEST,      /* 400 / 404 */
    HUB_REJ_BAD_PROTOCOL,     /* handshake error reply + close */
    HUB_REJ_WRONG_SHARD,      /* handshake error reply + close 1008 */
    HUB_REJ_NOT_READY,        /* 503: shard's partitions not known yet */
    HUB_REJ__COUNT,
};

/* The listener's refusals and closes of connections whose request is not
 * in (herald_hub_connections_rejected_total{reason}). */
enum hub_lreject {
    HUB_LREJ_PER_ADDRESS = 0,     /* refused: its address is at the cap */
    HUB_LREJ_PER_ADDRESS_EVICTED, /* closed for a newer one of its address */
    HUB_LREJ_HALF_OPEN_EVICTED,   /* closed: too many half-open */
    HUB_LREJ_HEAD_TIMEOUT,        /* closed: no request in time */
    HUB_LREJ__COUNT,
};

enum hub_disc {
    HUB_DISC_CLIENT = 0,        /* the client closed */
    HUB_DISC_HANDSHAKE_TIMEOUT, /* 1008 */
    HUB_DISC_CLIENT_TIMEOUT,    /* 1001 after client_timeout_s silent */
    HUB_DISC_MESSAGE_TOO_BIG,   /* 1009 */
    HUB_DISC_SLOW_CONSUMER,     /* queue full: killed */
    HUB_DISC_SHUTDOWN,          /* Close sent on SIGTERM */
    HUB_DISC_PROTOCOL,          /* handshake refused */
    HUB_DISC__COUNT,
};

enum hub_src {
    HUB_SRC_KAFKA = 0,
    HUB_SRC_SEND,
    HUB_SRC__COUNT,
};

enum hub_evres {
    HUB_EV_ROUTED = 0,
    HUB_EV_MALFORMED,
    HUB_EV_DROPPED, /* a thread's inbox was full */
    HUB_EV__COUNT,
};

struct hub_metrics {
    struct hd_metric_series *conns[2][2];    /* [kind][proto] gauge */
    struct hd_metric_series *accepted[2][2]; /* [kind][proto] */
    struct hd_metric_series *rejected[HUB_REJ__COUNT];
    struct hd_metric_series *conn_rejected[HUB_LREJ__COUNT];
    struct hd_metric_series *half_open; /* gauge */
    struct hd_metric_series *disconnects[HUB_DISC__COUNT];
    struct hd_metric_series *deliveries[2]; /* [proto] */
    struct hd_metric_series *dropped;
    struct hd_metric_series *slow_closes;
    struct hd_metric_series *pings;
    struct hd_metric_series *events[HUB_SRC__COUNT][HUB_EV__COUNT];
    struct hd_metric_series *lag;
    struct hd_bw_unknown bw_unknown; /* ..._bitwarden_unknown_type_total */
};

/* Registers the families on reg and fills m. */
void hub_metrics_init(struct hub_metrics *m, struct hd_metrics *reg);

#endif
