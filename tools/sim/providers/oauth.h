/* oauth.h -- the two OAuth token endpoints: Google's (JWT-bearer grant
 * with an RS256 service-account assertion, for FCM) and Huawei's (client
 * credentials, for HMS).
 *
 * Both check their input in the provider's order, answer with the exact
 * error bodies of specs/providers.md 1.2 and 3.2, and remember issued
 * tokens (tokens.h) with their expiry on the virtual clock, so the send
 * endpoints can tell expired from unknown. Run on the I/O threads. */
#ifndef SIM_OAUTH_H
#define SIM_OAUTH_H

#include <stddef.h>

#include "core/buf.h"
#include "tools/sim/endpoint.h"

extern const struct sim_endpoint sim_google_token;
extern const struct sim_endpoint sim_hms_token;

/* Finds name in an application/x-www-form-urlencoded body and appends its
 * decoded value to out. Returns 1 found, 0 absent, -1 malformed or too
 * long. */
int sim_form_get(const char *body, size_t len, const char *name,
                 struct hd_buf *out);

#endif
