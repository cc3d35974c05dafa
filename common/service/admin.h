/* admin.h -- the admin listener: metrics and readiness details off the
 * public port.
 *
 * Every service answers on its public port only what a load balancer or
 * an orchestrator needs: GET /healthz and GET /readyz, both saying ok or
 * not ok and nothing more. The details -- GET /metrics (Prometheus),
 * GET /readyz with each dependency check's message -- are served on a
 * second HTTP listener, bound to HERALD_ADMIN_BIND (127.0.0.1 unless
 * changed) on the service's own HERALD_<SERVICE>_ADMIN_PORT, where a
 * service may add its own operator routes (herald-api's console). */
#ifndef HD_ADMIN_H
#define HD_ADMIN_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct hd_health;
struct hd_http_route;
struct hd_http_server;
struct hd_metrics;

#define HD_ADMIN_OFF (-1) /* the port value that turns the listener off */

struct hd_admin_config {
    char *bind; /* HERALD_ADMIN_BIND */
    int port;   /* the service's HERALD_<SERVICE>_ADMIN_PORT; -1: off */
};

/* HERALD_ADMIN_BIND, shared by every service (the port is per service). */
extern const struct hd_config_field hd_admin_config_fields[];

/* Fills *f with the row of the service's admin port variable (name and
 * def borrowed: keep them alive), writing into struct hd_admin_config at
 * offset base_off of the section's struct. */
void hd_admin_port_field(struct hd_config_field *f, const char *name,
                         const char *def, size_t base_off);

/* Starts the admin listener with GET /healthz, GET /readyz (details) and
 * GET /metrics, plus routes (may be NULL with n 0) sharing ud. *out is
 * the server (NULL when cfg->port is -1: off). Returns 0, or -1 with err.
 * Logs the address it listens on. */
int hd_admin_start(const struct hd_admin_config *cfg, struct hd_health *h,
                   struct hd_metrics *m, const struct hd_http_route *routes,
                   size_t n, void *ud, struct hd_http_server **out,
                   struct hd_err *err);

#endif
