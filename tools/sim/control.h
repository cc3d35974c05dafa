/* control.h -- the control API on HERALD_SIM_CONTROL_PORT (plain HTTP):
 * records, counts, wait-until, rules, reset, virtual clock, latency,
 * GOAWAY on demand, and what the simulator serves.
 *
 * Routes are served by common/http/server.h next to /healthz, /readyz and
 * /metrics; handlers run on its I/O threads and only touch thread-safe
 * state (store, rules, tokens, atomics). The endpoints and their bodies
 * are documented in docs/sim.md. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <stddef.h>

#include "http/server.h"
#include "tools/sim/sim.h"

#define SIM_WAIT_MAX_MS 120000

struct sim_server;

struct sim_control {
    struct sim_ctx *ctx;
    struct sim_server *srv; /* for GOAWAY wake-ups; may be NULL in tests */
    int control_port;
};

extern const struct hd_http_route sim_control_routes[];
extern const size_t sim_control_nroutes;

#endif
