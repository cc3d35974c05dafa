/* hub_metrics.c -- registration of the hub's metric families. */
#include "services/hub/hub_metrics.h"
#include "core/banned.h"

static const char *const kind_names[2] = {"main", "anonymous"};
static const char *const proto_names[2] = {"messagepack", "json"};
static const char *const reject_names[HUB_REJ__COUNT] = {
    "unauthorized", "max_connections", "max_per_user", "anon_per_ip",
    "bad_request",  "bad_protocol",    "wrong_shard",  "not_ready"};
static const char *const lreject_names[HUB_LREJ__COUNT] = {
    "max_per_address", "max_per_address_evicted", "max_half_open_evicted",
    "head_timeout"};
static const char *const disc_names[HUB_DISC__COUNT] = {
    "client",        "handshake_timeout", "client_timeout", "message_too_big",
    "slow_consumer", "shutdown",          "protocol"};
static const char *const src_names[HUB_SRC__COUNT] = {"kafka", "send"};
static const char *const evres_names[HUB_EV__COUNT] = {"routed", "malformed",
                                                       "dropped"};

/* Event lag buckets, seconds: 1 ms .. 60 s. */
static const double lag_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,  0.1,    0.25,  0.5,  1,
                                     2.5,   5,      10,    30,   60};

void
hub_metrics_init(struct hub_metrics *m, struct hd_metrics *reg)
{
    static const char *const hp[] = {"hub", "protocol"};
    static const char *const reason[] = {"reason"};
    static const char *const proto[] = {"protocol"};
    static const char *const sr[] = {"source", "result"};
    struct hd_metric *conns, *acc, *rej, *disc, *del, *ev, *f;
    int k, p, i;

    conns = hd_metrics_gauge(reg, "herald_hub_connections",
                             "Open SignalR connections", 2, hp);
    acc = hd_metrics_counter(reg, "herald_hub_connections_total",
                             "SignalR connections that completed the "
                             "handshake",
                             2, hp);
    for (k = 0; k < 2; k++) {
        for (p = 0; p < 2; p++) {
            m->conns[k][p] =
                hd_metric_with(conns, kind_names[k], proto_names[p]);
            m->accepted[k][p] =
                hd_metric_with(acc, kind_names[k], proto_names[p]);
        }
    }
    rej =
        hd_metrics_counter(reg, "herald_hub_rejected_total",
                           "Connection attempts refused, by reason", 1, reason);
    for (i = 0; i < HUB_REJ__COUNT; i++)
        m->rejected[i] = hd_metric_with(rej, reject_names[i]);
    rej = hd_metrics_counter(reg, "herald_hub_connections_rejected_total",
                             "Connections the listener refused, or closed "
                             "before their request was in, by reason",
                             1, reason);
    for (i = 0; i < HUB_LREJ__COUNT; i++)
        m->conn_rejected[i] = hd_metric_with(rej, lreject_names[i]);
    f = hd_metrics_gauge(reg, "herald_hub_half_open",
                         "Connections whose request is not in yet", 0, NULL);
    m->half_open = hd_metric_with(f);
    disc = hd_metrics_counter(reg, "herald_hub_disconnects_total",
                              "Connections closed, by reason", 1, reason);
    for (i = 0; i < HUB_DISC__COUNT; i++)
        m->disconnects[i] = hd_metric_with(disc, disc_names[i]);
    del = hd_metrics_counter(reg, "herald_hub_deliveries_total",
                             "Notifications written to connections", 1, proto);
    for (p = 0; p < 2; p++)
        m->deliveries[p] = hd_metric_with(del, proto_names[p]);
    f = hd_metrics_counter(reg, "herald_hub_dropped_total",
                           "Queued notifications dropped with a slow "
                           "consumer",
                           0, NULL);
    m->dropped = hd_metric_with(f);
    f = hd_metrics_counter(reg, "herald_hub_slow_consumer_closes_total",
                           "Connections closed because their queue was full", 0,
                           NULL);
    m->slow_closes = hd_metric_with(f);
    f = hd_metrics_counter(reg, "herald_hub_pings_total",
                           "SignalR keep-alive pings sent", 0, NULL);
    m->pings = hd_metric_with(f);
    ev = hd_metrics_counter(reg, "herald_hub_events_total",
                            "Events received, by source and result", 2, sr);
    for (i = 0; i < HUB_SRC__COUNT; i++) {
        for (k = 0; k < HUB_EV__COUNT; k++)
            m->events[i][k] = hd_metric_with(ev, src_names[i], evres_names[k]);
    }
    f = hd_metrics_histogram(reg, "herald_hub_event_lag_seconds",
                             "Time from event creation to its routing", 0, NULL,
                             lag_buckets,
                             sizeof(lag_buckets) / sizeof(lag_buckets[0]));
    m->lag = hd_metric_with(f);
    hd_bw_unknown_init(&m->bw_unknown, reg,
                       "herald_hub_bitwarden_unknown_type_total");
}
