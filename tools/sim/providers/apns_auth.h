/* apns_auth.h -- APNs provider-token (ES256 JWT) authentication and the
 * team table behind HERALD_SIM_APNS_TOKEN_UPDATE_SCOPE=team. Runs on the
 * connection's I/O thread; the team table has its own lock. */
#ifndef SIM_APNS_AUTH_H
#define SIM_APNS_AUTH_H

#include <stddef.h>

#include "tools/sim/creds.h"
#include "tools/sim/exchange.h"
#include "tools/sim/sim.h"

/* Checks the request's provider token for a push to topic in env and
 * updates peer (accepted token, binding). Returns NULL when the request
 * may proceed, else the static reason to answer with (a name of the APNs
 * error table). Writes "TEAMID/KEYID" to identity when the token could be
 * read. */
const char *sim_apns_auth(struct sim_ctx *ctx, struct sim_peer *peer,
                          const struct sim_req *req, const char *topic,
                          enum sim_apns_env env, char *identity, size_t idlen);

/* Team table for HERALD_SIM_APNS_TOKEN_UPDATE_SCOPE=team. */
struct sim_apns_teams *sim_apns_teams_new(void);
void sim_apns_teams_free(struct sim_apns_teams *t);

/* Forgets every team's last token (control API reset). */
void sim_apns_teams_clear(struct sim_apns_teams *t);

#endif
