/* runtime.c -- the service skeleton: configuration, metrics, health, the
 * HTTP server and the shutdown sequence, in that order.
 *
 * The port variable differs per service, so its config row is built at run
 * time inside the runtime struct (the only non-static field table). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "service/runtime.h"
#include "core/shutdown.h"
#include "core/banned.h"

int
hd_runtime_init(struct hd_runtime *rt, const struct hd_runtime_desc *d,
                int argc, char **argv)
{
    struct hd_err err = {0};
    size_t n = 0;
    size_t i;
    int rc;

    memset(rt, 0, sizeof(*rt));
    if (d->n + 4 > HD_RUNTIME_MAX_SECTIONS) {
        fprintf(stderr, "%s: too many configuration sections\n", d->name);
        return -1;
    }
    snprintf(rt->port_def, sizeof(rt->port_def), "%d", d->default_port);
    snprintf(rt->port_help, sizeof(rt->port_help),
             "TCP port of %s%s%s (0 picks a free port)",
             d->serves ? d->serves : "", d->serves ? ", " : "",
             d->admin_port_var ? "/healthz and /readyz"
                               : "/healthz, /readyz and /metrics");
    rt->port_fields[0] =
        (struct hd_config_field){d->port_var,
                                 HD_CFG_T_INT,
                                 offsetof(struct hd_runtime, port),
                                 rt->port_def,
                                 0,
                                 65535,
                                 0,
                                 NULL,
                                 rt->port_help};
    rt->port_fields[1] = (struct hd_config_field){
        "HERALD_SHUTDOWN_TIMEOUT_MS",
        HD_CFG_T_INT,
        offsetof(struct hd_runtime, drain_ms),
        "15000",
        0,
        600000,
        0,
        NULL,
        "how long SIGTERM waits for in-flight work before exiting"};
    rt->port_fields[2] = (struct hd_config_field)HD_CFG_END;
    rt->port_fields[3] = (struct hd_config_field)HD_CFG_END;
    if (d->admin_port_var) {
        rt->has_admin = 1;
        snprintf(rt->admin_port_def, sizeof(rt->admin_port_def), "%d",
                 d->default_admin_port);
        hd_admin_port_field(&rt->port_fields[2], d->admin_port_var,
                            rt->admin_port_def,
                            offsetof(struct hd_runtime, admin_cfg));
    }

    for (i = 0; i < d->n; i++)
        rt->secs[n++] = d->secs[i];
    rt->secs[n].fields = rt->port_fields;
    rt->secs[n++].base = rt;
    rt->secs[n].fields = hd_http_config_fields;
    rt->secs[n++].base = &rt->http_cfg;
    rt->secs[n].fields = hd_peer_config_fields;
    rt->secs[n++].base = &rt->peer_cfg;
    if (rt->has_admin) {
        rt->secs[n].fields = hd_admin_config_fields;
        rt->secs[n++].base = &rt->admin_cfg;
    }

    rt->svc.name = d->name;
    rt->svc.summary = d->summary;
    rt->svc.usage = d->usage;
    rt->svc.secs = rt->secs;
    rt->svc.n = n;
    rc = hd_service_init(&rt->svc, argc, argv);
    if (rc != 0)
        return rc;
    if (hd_peer_trust_init(&rt->trust, &rt->peer_cfg, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        hd_service_release(&rt->svc);
        memset(rt, 0, sizeof(*rt));
        return -1;
    }
    rt->metrics = hd_metrics_new();
    rt->health = hd_health_new();
    return 0;
}

void
hd_runtime_admin_routes(struct hd_runtime *rt,
                        const struct hd_http_route *routes, size_t n, void *ud)
{
    rt->admin_routes = routes;
    rt->admin_nroutes = n;
    rt->admin_ud = ud;
}

int
hd_runtime_serve(struct hd_runtime *rt, const struct hd_http_route *routes,
                 size_t n, void *ud, const struct hd_http_tls *tls)
{
    struct hd_err err = {0};
    int rc;

    rt->http =
        hd_http_server_new(&rt->http_cfg, rt->port, tls, rt->metrics, &err);
    if (rt->http == NULL)
        goto fail;
    hd_http_server_trust(rt->http, &rt->trust);
    rc = rt->has_admin
             ? hd_health_mount(rt->health, rt->http, &err)
             : hd_health_mount_admin(rt->health, rt->metrics, rt->http, &err);
    if (rc < 0)
        goto fail;
    if (n > 0 && hd_http_server_add_routes(rt->http, routes, n, ud, &err) < 0)
        goto fail;
    if (hd_http_server_start(rt->http, &err) < 0)
        goto fail;
    rt->port = hd_http_server_port(rt->http);
    hd_log(HD_LOG_INFO, 0, "listening on %s:%d%s", rt->http_cfg.bind, rt->port,
           tls ? " (https)" : "");
    if (rt->has_admin && hd_admin_start(&rt->admin_cfg, rt->health, rt->metrics,
                                        rt->admin_routes, rt->admin_nroutes,
                                        rt->admin_ud, &rt->admin, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "cannot serve the admin listener on %s:%d: %s",
               rt->admin_cfg.bind, rt->admin_cfg.port, err.msg);
        return -1;
    }
    return 0;
fail:
    hd_log(HD_LOG_FATAL, 0, "cannot serve HTTP on port %d: %s", rt->port,
           err.msg);
    hd_http_server_free(rt->http, 0);
    rt->http = NULL;
    return -1;
}

void
hd_runtime_wait(struct hd_runtime *rt)
{
    (void)rt;
    while (!hd_shutdown_wait(-1)) {
    }
    hd_log(HD_LOG_INFO, 0, "shutdown requested (signal %d): draining",
           hd_shutdown_signal());
}

void
hd_runtime_drain(struct hd_runtime *rt)
{
    hd_health_set_draining(rt->health);
    if (rt->http)
        hd_http_server_quiesce(rt->http);
}

void
hd_runtime_release(struct hd_runtime *rt)
{
    hd_http_server_free(rt->http, rt->drain_ms);
    rt->http = NULL;
    hd_http_server_free(rt->admin, 0);
    rt->admin = NULL;
    hd_health_free(rt->health);
    hd_metrics_free(rt->metrics);
    hd_log(HD_LOG_INFO, 0, "stopped");
    hd_service_release(&rt->svc);
    memset(rt, 0, sizeof(*rt));
}
