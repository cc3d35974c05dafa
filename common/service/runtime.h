/* runtime.h -- the skeleton every Herald service runs on.
 *
 * One struct hd_runtime per process holds what every service has:
 * configuration (the service's sections plus its port, the HTTP server
 * settings and the shutdown timeout), the metrics registry, the health
 * checks, an HTTP server serving /healthz, /readyz (ok or not ok) and the
 * service's own routes, and the admin listener (service/admin.h) with
 * /metrics, the detailed /readyz and the service's admin routes. A
 * service's main() is then wiring only:
 *
 *   rc = hd_runtime_init(&rt, &desc, argc, argv);   // 1: --help, -1: bad
 * config
 *   ... create the service context, add health checks and metrics ...
 *   hd_runtime_serve(&rt, routes, n, ctx, NULL);    // listen
 *   hd_runtime_wait(&rt);                           // until SIGTERM/SIGINT
 *   hd_runtime_drain(&rt);                          // /readyz 503, stop
 * accepting
 *   ... finish in-flight work, commit ...
 *   hd_runtime_release(&rt);                        // close HTTP, free
 *
 * Call everything from main()'s thread.
 *
 * common/service/ owns what every binary runs on: --help and --version
 * (service.h), this runtime skeleton and the health checks with their
 * /healthz, /readyz and /metrics routes, on top of common/http/.
 */
#ifndef HD_RUNTIME_H
#define HD_RUNTIME_H

#include "core/config.h"
#include "service/admin.h"
#include "service/health.h"
#include "http/peer.h"
#include "http/server.h"
#include "core/metrics.h"
#include "service/service.h"

#define HD_RUNTIME_MAX_SECTIONS 12

struct hd_runtime_desc {
    const char *name;     /* "herald-api" */
    const char *summary;  /* one line for --help */
    const char *usage;    /* subcommand lines for --help, or NULL */
    const char *port_var; /* "HERALD_API_PORT" */
    int default_port;
    const struct hd_config_section *secs; /* the service's own sections */
    size_t n;
    /* What listens on port_var besides /healthz and /readyz, for --help
     * ("the server API (/api), /events, ..."); NULL: nothing. */
    const char *serves;
    /* "HERALD_API_ADMIN_PORT" and its default; NULL: no admin listener,
     * and /metrics and the detailed /readyz are served on port_var (for
     * a port that is never public, such as herald-sim's control API). */
    const char *admin_port_var;
    int default_admin_port;
};

struct hd_runtime {
    struct hd_service svc;
    int port;     /* from desc->port_var */
    int drain_ms; /* HERALD_SHUTDOWN_TIMEOUT_MS */
    struct hd_http_config http_cfg;
    struct hd_peer_config peer_cfg; /* HERALD_TRUSTED_PROXIES, ... */
    struct hd_peer_trust trust;     /* parsed from peer_cfg */
    struct hd_metrics *metrics;
    struct hd_health *health;
    struct hd_http_server *http;
    struct hd_admin_config admin_cfg;
    struct hd_http_server *admin; /* NULL when off */
    /* private */
    const struct hd_http_route *admin_routes;
    size_t admin_nroutes;
    void *admin_ud;
    int has_admin;
    struct hd_config_section secs[HD_RUNTIME_MAX_SECTIONS];
    struct hd_config_field port_fields[4];
    char port_def[16];
    char admin_port_def[16];
    char port_help[512];
};

/* Parses arguments and configuration, starts logging, creates the metrics
 * registry and health checks. Returns 0 to run, 1 when --help/--version
 * was printed (exit 0), -1 on bad usage or configuration (already logged;
 * exit HD_EXIT_CONFIG). On 1 and -1 nothing needs releasing. */
int hd_runtime_init(struct hd_runtime *rt, const struct hd_runtime_desc *d,
                    int argc, char **argv);

/* Routes the admin listener serves besides /healthz, /readyz and
 * /metrics (the table borrowed, sharing ud). Call before
 * hd_runtime_serve(). */
void hd_runtime_admin_routes(struct hd_runtime *rt,
                             const struct hd_http_route *routes, size_t n,
                             void *ud);

/* Starts the HTTP server on rt->port with /healthz, /readyz and routes
 * (may be NULL with n 0), and the admin listener. tls may be NULL.
 * Returns 0, or -1 after logging why. */
int hd_runtime_serve(struct hd_runtime *rt, const struct hd_http_route *routes,
                     size_t n, void *ud, const struct hd_http_tls *tls);

/* Blocks until SIGTERM/SIGINT (or hd_shutdown_request()). */
void hd_runtime_wait(struct hd_runtime *rt);

/* Begins shutdown: /readyz answers 503 and the server stops accepting new
 * connections; requests in progress continue. */
void hd_runtime_drain(struct hd_runtime *rt);

/* Waits up to drain_ms for in-progress requests, stops the HTTP server,
 * frees metrics, health and configuration. Logs the stop. */
void hd_runtime_release(struct hd_runtime *rt);

#endif
