/* apns.h -- the APNs provider API: POST /3/device/<token> over HTTP/2,
 * validated in Apple's order, authenticated with ES256 provider tokens.
 *
 * apns.c validates headers, path, token and payload and renders every
 * reason of specs/providers.md 2.4; apns_auth.c holds the provider-token
 * rules (kid/iss/iat, connection binding, refresh floor), apns_topic.c
 * the push types and their topic suffixes. All run on the
 * connection's I/O thread; the only shared state is the team table for
 * HERALD_SIM_APNS_TOKEN_UPDATE_SCOPE=team, which has its own lock. */
#ifndef SIM_APNS_H
#define SIM_APNS_H

#include <stddef.h>

#include "tools/sim/creds.h"
#include "tools/sim/exchange.h"
#include "tools/sim/endpoint.h"
#include "tools/sim/providers/apns_auth.h"
#include "tools/sim/sim.h"

extern const struct sim_endpoint sim_apns_send;

#endif
