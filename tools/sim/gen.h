/* gen.h -- `herald-sim gen DIR`: a test CA, the simulator's server
 * certificate and the provider credentials a local stack needs.
 *
 * Writes what is missing and keeps what exists (idempotent), so a stack
 * restarted with the same directory keeps its keys; only a missing CA
 * forces a new server certificate. The layout is in creds.h; the
 * variables of credentials.env are listed in docs/sim.md. Call from one
 * thread (it is a command, not a service function). */
#ifndef SIM_GEN_H
#define SIM_GEN_H

#include "core/err.h"

/* Server certificate subject alternative names: every provider host,
 * localhost and the loopback addresses. */
#define SIM_CERT_SANS                                                          \
    "DNS:localhost,DNS:fcm.googleapis.com,DNS:oauth2.googleapis.com,"          \
    "DNS:api.push.apple.com,DNS:api.sandbox.push.apple.com,"                   \
    "DNS:api.development.push.apple.com,DNS:oauth-login.cloud.huawei.com,"     \
    "DNS:push-api.cloud.huawei.com,IP:127.0.0.1,IP:::1"

#define SIM_DEFAULT_TOPIC "com.herald.sim"

/* Creates dir (0700) if needed and writes the missing files. Returns 0,
 * or -1 with err naming the file that could not be written. */
int sim_gen(const char *dir, struct hd_err *err);

#endif
