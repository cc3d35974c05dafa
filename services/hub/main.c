/* main.c -- herald-hub: wiring only. Configuration, the token verifier,
 * metrics and health, the optional Kafka consumer, the service threads;
 * then wait for SIGTERM and stop in order (threads send Close to their
 * clients, then the consumer commits and leaves its group). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "http/server.h"
#include "service/service.h"
#include "core/shutdown.h"
#include "services/hub/hub.h"
#include "services/hub/hub_kafka.h"
#include "services/hub/hub_presence.h"
#include "services/hub/hub_thread.h"
#include "core/banned.h"

/* Large connection counts need every descriptor the hard limit allows. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
main(int argc, char **argv)
{
    struct hub_ctx hub;
    struct hd_config_section secs[7];
    struct hd_config_field admin_fields[2] = {HD_CFG_END, HD_CFG_END};
    struct hd_service svc;
    struct hd_err err = {0};
    long cores;
    int rc, status = 1;

    memset(&hub, 0, sizeof(hub));
    secs[0].fields = hub_config_fields;
    secs[0].base = &hub.cfg;
    secs[1].fields = hd_usertoken_config_fields;
    secs[1].base = &hub.jwt_cfg;
    secs[2].fields = hd_kafka_config_fields;
    secs[2].base = &hub.kafka_cfg;
    hd_admin_port_field(&admin_fields[0], "HERALD_HUB_ADMIN_PORT", "8091",
                        offsetof(struct hub_ctx, admin_cfg));
    secs[3].fields = admin_fields;
    secs[3].base = &hub;
    secs[4].fields = hd_admin_config_fields;
    secs[4].base = &hub.admin_cfg;
    secs[5].fields = hd_peer_config_fields;
    secs[5].base = &hub.peer_cfg;
    secs[6].fields = hub_presence_config_fields;
    secs[6].base = &hub.presence_cfg;
    memset(&svc, 0, sizeof(svc));
    svc.name = "herald-hub";
    svc.summary = "Bitwarden-compatible SignalR WebSocket hub";
    svc.secs = secs;
    svc.n = 7;
    rc = hd_service_init(&svc, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    raise_nofile();
    lws_set_log_level(LLL_ERR, NULL);
    if (hub_shard_init(&hub.shard, hub.cfg.shards, hub.cfg.shard, &err) < 0 ||
        (hub.cfg.shards > 0 &&
         !(hub.kafka_cfg.brokers && *hub.kafka_cfg.brokers) &&
         hd_err_set(&err, HD_EINVAL,
                    "HERALD_HUB_SHARDS: sharding needs Kafka "
                    "(HERALD_KAFKA_BROKERS)") < 0)) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        hd_service_release(&svc);
        return HD_EXIT_CONFIG;
    }

    if (hd_peer_trust_init(&hub.trust, &hub.peer_cfg, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    hub.tokens = hd_usertoken_new(&hub.jwt_cfg, &err);
    if (hub.tokens == NULL) {
        hd_log(HD_LOG_FATAL, 0, "user tokens: %s", err.msg);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    /* a Bitwarden server's /send token: the identity server's keys */
    hub.service_tokens = hd_usertoken_service(
        hub.tokens, hub.cfg.internal_scope, hub.cfg.internal_issuer, NULL);
    hub.metrics = hd_metrics_new();
    hub_metrics_init(&hub.m, hub.metrics);
    hub.health = hd_health_new();
    hub_limits_init(&hub.limits, hub.cfg.max_connections);
    cores = sysconf(_SC_NPROCESSORS_ONLN);
    hub.nthreads =
        hub.cfg.threads > 0 ? hub.cfg.threads : (int)(cores > 0 ? cores : 1);
    if (hub.nthreads > HD_HUB_MAX_THREADS)
        hub.nthreads = HD_HUB_MAX_THREADS;

    if (hub.kafka_cfg.brokers && *hub.kafka_cfg.brokers) {
        hub.kafka = hub_kafka_start(&hub, &err);
        if (hub.kafka == NULL) {
            hd_log(HD_LOG_FATAL, 0, "kafka: %s", err.msg);
            status = HD_EXIT_CONFIG;
            goto out;
        }
        hd_health_add_check(hub.health, "kafka", hub_kafka_check, hub.kafka);
    } else {
        hd_log(HD_LOG_INFO, 0,
               "no Kafka brokers: events arrive through "
               "POST /send only");
    }
    if (hub_presence_start(&hub, &hub.presence_cfg, &hub.presence, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    if (hub_threads_start(&hub, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        goto out;
    }
    hd_log(HD_LOG_INFO, 0, "listening on %s:%d with %d threads", hub.cfg.bind,
           hub.cfg.port, hub.nthreads);
    if (hd_admin_start(&hub.admin_cfg, hub.health, hub.metrics, NULL, 0, NULL,
                       &hub.admin, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "admin listener on %s:%d: %s",
               hub.admin_cfg.bind, hub.admin_cfg.port, err.msg);
        goto out;
    }

    hd_shutdown_wait(-1);
    hd_log(HD_LOG_INFO, 0, "shutting down: sending Close to every client");
    hd_health_set_draining(hub.health);
    status = 0;
out:
    /* the consumer dispatches into the service threads: it stops first;
     * the threads then release what they hold, which marks offsets done
     * on the consumer, closed last */
    hub_kafka_halt(hub.kafka);
    if (hub.threads)
        hub_threads_stop(&hub);
    hub_presence_stop(hub.presence); /* after: the closed users' records */
    hub_kafka_stop(hub.kafka);
    hd_http_server_free(hub.admin, 0);
    hd_health_free(hub.health);
    if (hub.limits.buckets)
        hub_limits_release(&hub.limits);
    hd_metrics_free(hub.metrics);
    hd_usertoken_free(hub.service_tokens);
    hd_usertoken_free(hub.tokens);
    hd_service_release(&svc);
    hd_log(HD_LOG_INFO, 0, "stopped");
    return status;
}
