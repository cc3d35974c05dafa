/* route.h -- the endpoints the simulator serves and the one path every
 * request takes: route by host and path, let the endpoint answer, apply
 * the latency, record and count.
 *
 * Each provider module defines its endpoints as const struct
 * sim_endpoint values (the vtable); this module only looks them up and
 * never switches on a provider name. Thread-safe: the tables are const
 * and the shared state lives in struct sim_ctx. */
#ifndef SIM_ROUTE_H
#define SIM_ROUTE_H

#include "tools/sim/exchange.h"
#include "tools/sim/sim.h"

enum sim_ep_kind {
    SIM_EP_SEND = 0, /* a message send */
    SIM_EP_TOKEN,    /* an OAuth access-token endpoint */
};

/* handle() answers one complete request: it fills resp (status, headers,
 * body, outcome, recording fields) and may update peer. It runs on the
 * connection's I/O thread and must not block. */
typedef void sim_handler(struct sim_ctx *ctx, struct sim_peer *peer,
                         const struct sim_req *req, struct sim_resp *resp);

struct sim_endpoint {
    const char *name; /* "apns.send", "fcm.token", ... */
    enum sim_provider provider;
    enum sim_ep_kind kind;
    int h2_only; /* 1: HTTP/1.x gets GOAWAY (APNs) */
    sim_handler *handle;
    /* name of error #i of the endpoint's table, NULL past the end */
    const char *(*error_at)(int i);
};

/* The endpoint for a request to host (lowercase, no port) and path, or
 * NULL. Known hostnames decide first; any other host (localhost, an IP)
 * is routed by path alone. */
const struct sim_endpoint *sim_route(const char *host, const char *path);

/* The endpoint a TLS SNI name belongs to, or NULL (unknown or empty). */
const struct sim_endpoint *sim_route_sni(const char *sni);

/* The endpoint of provider p and kind k (never NULL for valid input). */
const struct sim_endpoint *sim_endpoint_of(enum sim_provider p,
                                           enum sim_ep_kind k);

/* "send" / "token". Returns 0 and *out, or -1. */
int sim_ep_kind_parse(const char *s, enum sim_ep_kind *out);
const char *sim_ep_kind_name(enum sim_ep_kind k);

/* The static name in ep's error table equal to name, or NULL. */
const char *sim_error_lookup(const struct sim_endpoint *ep, const char *name);

/* Routes, handles, applies the default latency, records and counts one
 * request. Always fills resp (404 for unknown paths). Returns the
 * endpoint, or NULL when nothing matched. */
const struct sim_endpoint *sim_dispatch(struct sim_ctx *ctx,
                                        struct sim_peer *peer,
                                        const struct sim_req *req,
                                        struct sim_resp *resp);

#endif
