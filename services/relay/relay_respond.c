/* relay_respond.c -- the answers every relay endpoint shares: a failure
 * in upstream's ErrorResponseModel shape. Endpoints call it; it calls
 * nothing of theirs. */
#include <jansson.h>

#include "services/relay/relay.h"
#include "core/banned.h"

void
relay_respond_fail(struct hd_http_req *req, const struct relay_fail *f)
{
    json_t *b = relay_error_body(f);

    hd_http_respond_json(req, f->status, b);
    json_decref(b);
}
