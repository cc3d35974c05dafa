/* endpoint.h -- the endpoint vtable: what a provider module defines for
 * each URL it serves (a handler and its table of error names), and what
 * the request path, the fault rules and the recording know of it.
 *
 * Only types and two lookups: no module is called from here. Thread-safe:
 * endpoints are const. */
#ifndef SIM_ENDPOINT_H
#define SIM_ENDPOINT_H

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

/* "send" / "token". Returns 0 and *out, or -1. */
int sim_ep_kind_parse(const char *s, enum sim_ep_kind *out);
const char *sim_ep_kind_name(enum sim_ep_kind k);

/* The static name in ep's error table equal to name, or NULL. */
const char *sim_error_lookup(const struct sim_endpoint *ep, const char *name);

#endif
