/* admin.c -- the admin listener (see admin.h). A small server of its own:
 * one I/O thread, two workers for /readyz and the service's blocking
 * routes, and few connections, since only operators and scrapers call. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/server.h"
#include "service/admin.h"
#include "service/health.h"
#include "core/banned.h"

#define ADMIN_MAX_CONNECTIONS 64
#define ADMIN_IDLE_TIMEOUT_S 30

const struct hd_config_field hd_admin_config_fields[] = {
    HD_CFG_STR("HERALD_ADMIN_BIND", struct hd_admin_config, bind, "127.0.0.1",
               0,
               "address of the admin listener (/metrics, detailed /readyz "
               "and operator routes); keep it off the public network"),
    HD_CFG_END,
};

void
hd_admin_port_field(struct hd_config_field *f, const char *name,
                    const char *def, size_t base_off)
{
    *f = (struct hd_config_field){
        name,
        HD_CFG_T_INT,
        base_off + offsetof(struct hd_admin_config, port),
        def,
        HD_ADMIN_OFF,
        65535,
        0,
        NULL,
        "TCP port of the admin listener on HERALD_ADMIN_BIND: /metrics, "
        "/readyz with each check's detail, /healthz (0 picks a free port, "
        "-1 turns it off)"};
}

int
hd_admin_start(const struct hd_admin_config *cfg, struct hd_health *h,
               struct hd_metrics *m, const struct hd_http_route *routes,
               size_t n, void *ud, struct hd_http_server **out,
               struct hd_err *err)
{
    struct hd_http_config hc;
    struct hd_http_server *s;

    *out = NULL;
    if (cfg->port == HD_ADMIN_OFF) {
        hd_log(HD_LOG_INFO, 0, "admin listener off");
        return 0;
    }
    memset(&hc, 0, sizeof(hc));
    hc.bind = cfg->bind;
    hc.io_threads = 1;
    hc.workers = 2;
    hc.max_connections = ADMIN_MAX_CONNECTIONS;
    hc.timeout_s = ADMIN_IDLE_TIMEOUT_S;
    s = hd_http_server_new(&hc, cfg->port, NULL, m, err);
    if (s == NULL)
        return -1;
    if (hd_health_mount_admin(h, m, s, err) < 0 ||
        (n > 0 && hd_http_server_add_routes(s, routes, n, ud, err) < 0) ||
        hd_http_server_start(s, err) < 0) {
        hd_http_server_free(s, 0);
        return -1;
    }
    hd_log(HD_LOG_INFO, 0, "admin listener on %s:%d",
           cfg->bind && cfg->bind[0] ? cfg->bind : "0.0.0.0",
           hd_http_server_port(s));
    *out = s;
    return 0;
}
