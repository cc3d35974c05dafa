/* webpush.h -- herald-sim's Web Push service (RFC 8030 as the browsers'
 * push services run it): POST /fcm/send/<id> or /wpush/<id> on any host.
 *
 * Subscriptions need no set-up: the keys of subscription <id> are derived
 * from HERALD_SIM_SEED and the id, and GET /control/webpush/subscription
 * hands them out (with the private key, so tests can decrypt on their
 * own). See docs/sim.md "Web Push". */
#ifndef SIM_WEBPUSH_H
#define SIM_WEBPUSH_H

#include "http/server.h"
#include "tools/sim/endpoint.h"

extern const struct sim_endpoint sim_webpush_send;

/* Answers GET /control/webpush/subscription?id=ID
 * [&key=APPLICATION_SERVER_KEY][&origin=https://HOST] (a control API
 * route, control.c): the PushSubscription JSON of ID plus "ua_private". */
void sim_webpush_subscription(struct hd_http_req *r, struct sim_ctx *ctx);

#endif
