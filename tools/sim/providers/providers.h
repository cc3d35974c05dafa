/* providers.h -- the providers/ folder: the simulated push services, one
 * file each, every one a set of const struct sim_endpoint values (the
 * vtable of endpoint.h) plus the state they keep (tokens.h: issued OAuth
 * tokens, rate.h: quotas, apns_auth.h: provider tokens).
 *
 * A provider answers a request on the connection's I/O thread; it calls
 * down only (faults/ for rules and token prefixes, the base in sim.h) and
 * knows nothing of the transport. Adding one (as Web Push was): a value
 * in enum sim_provider (sim.h) and its name in sim.c, a file here
 * defining its endpoints, its header included below, and its hosts and
 * paths in route.c. */
#ifndef SIM_PROVIDERS_H
#define SIM_PROVIDERS_H

#include "tools/sim/providers/apns.h"    /* sim_apns_send */
#include "tools/sim/providers/fcm.h"     /* sim_fcm_send */
#include "tools/sim/providers/hms.h"     /* sim_hms_send */
#include "tools/sim/providers/oauth.h"   /* sim_google_token, sim_hms_token */
#include "tools/sim/providers/webpush.h" /* sim_webpush_send */

#endif
