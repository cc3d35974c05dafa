/* hms.h -- Huawei Push Kit v1: POST /v1/{appId}/messages:send (and the
 * /v2/{projectId}/ variant).
 *
 * Every answer is {"code":"<8 digits>","msg":"...","requestId":"..."};
 * business errors come with HTTP 200 by default (observed behaviour) or
 * 400/401/500 (documented) per HERALD_SIM_HMS_STATUS_MODE, flow control
 * with HTTP 503. Partial success is 80100000 with msg holding a JSON
 * *string* listing illegal_tokens. Runs on the I/O threads. */
#ifndef SIM_HMS_H
#define SIM_HMS_H

#include "tools/sim/endpoint.h"

extern const struct sim_endpoint sim_hms_send;

#endif
