/* apns.h -- the APNs provider API: POST /3/device/<token> over HTTP/2,
 * validated in Apple's order, authenticated with ES256 provider tokens.
 *
 * apns.c validates headers, path, token and payload and renders every
 * reason of specs/providers.md 2.4; apns_auth.c holds the provider-token
 * rules (kid/iss/iat, connection binding, refresh floor). Both run on the
 * connection's I/O thread; the only shared state is the team table for
 * HERALD_SIM_APNS_TOKEN_UPDATE_SCOPE=team, which has its own lock. */
#ifndef SIM_APNS_H
#define SIM_APNS_H

#include <stddef.h>

#include "tools/sim/creds.h"
#include "tools/sim/exchange.h"
#include "tools/sim/route.h"
#include "tools/sim/sim.h"

extern const struct sim_endpoint sim_apns_send;

/* Checks the request's provider token for a push to topic in env and
 * updates peer (accepted token, binding). Returns NULL when the request
 * may proceed, else the static reason to answer with (a name of the APNs
 * error table). Writes "TEAMID/KEYID" to identity when the token could be
 * read. */
const char *sim_apns_auth(struct sim_ctx *ctx, struct sim_peer *peer,
                          const struct sim_req *req, const char *topic,
                          enum sim_apns_env env, char *identity, size_t idlen);

/* The bundle id of an apns-topic: the topic without a push-type suffix
 * (".voip", ".complication", ...), into out. */
void sim_apns_base_topic(const char *topic, char *out, size_t outlen);

/* Team table for HERALD_SIM_APNS_TOKEN_UPDATE_SCOPE=team. */
struct sim_apns_teams *sim_apns_teams_new(void);
void sim_apns_teams_free(struct sim_apns_teams *t);

/* Forgets every team's last token (control API reset). */
void sim_apns_teams_clear(struct sim_apns_teams *t);

#endif
