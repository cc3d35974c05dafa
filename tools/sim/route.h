/* route.h -- the endpoints the simulator serves and the one path every
 * request takes: route by host and path, let the endpoint answer, apply
 * the latency, record and count.
 *
 * Each provider module (providers/) defines its endpoints as const struct
 * sim_endpoint values (endpoint.h); this module's tables are the one place
 * that lists them, and it never switches on a provider name. A new
 * provider adds its value to enum sim_provider (sim.h), its file under
 * providers/, and its hosts and paths to the tables of route.c.
 * Thread-safe: the tables are const and the shared state lives in struct
 * sim_ctx. */
#ifndef SIM_ROUTE_H
#define SIM_ROUTE_H

#include "tools/sim/endpoint.h"
#include "tools/sim/exchange.h"
#include "tools/sim/sim.h"

/* The endpoint for a request to host (lowercase, no port) and path, or
 * NULL. Known hostnames decide first; any other host (localhost, an IP)
 * is routed by path alone. */
const struct sim_endpoint *sim_route(const char *host, const char *path);

/* The endpoint a TLS SNI name belongs to, or NULL (unknown or empty). */
const struct sim_endpoint *sim_route_sni(const char *sni);

/* The endpoint of provider p and kind k (never NULL for valid input). */
const struct sim_endpoint *sim_endpoint_of(enum sim_provider p,
                                           enum sim_ep_kind k);

/* Routes, handles, applies the default latency, records and counts one
 * request. Always fills resp (404 for unknown paths). Returns the
 * endpoint, or NULL when nothing matched. */
const struct sim_endpoint *sim_dispatch(struct sim_ctx *ctx,
                                        struct sim_peer *peer,
                                        const struct sim_req *req,
                                        struct sim_resp *resp);

#endif
