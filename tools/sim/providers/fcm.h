/* fcm.h -- FCM HTTP v1: POST /v1/projects/{project}/messages:send.
 *
 * Authenticates the bearer access token issued by the Google token
 * endpoint (oauth.h), applies the project quota, validates the message
 * (targets, data map, reserved keys, Android priority and TTL, size) and
 * answers with google.rpc.Status error bodies carrying FcmError details,
 * exactly as specs/providers.md 1.4 lists them. Runs on the I/O threads. */
#ifndef SIM_FCM_H
#define SIM_FCM_H

#include "tools/sim/endpoint.h"

extern const struct sim_endpoint sim_fcm_send;

#endif
