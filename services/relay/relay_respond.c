/* relay_respond.c -- the answers every relay endpoint shares: a failure
 * in upstream's ErrorResponseModel shape, and a refusal of the caller.
 * Endpoints call them; they call nothing of theirs. */
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

void
relay_deny(struct hd_http_req *req, int status, const char *msg)
{
    struct relay_fail f;

    relay_fail_set(&f, status, NULL, "%s", msg);
    if (status == 401)
        hd_http_req_add_header(req, "WWW-Authenticate", "Bearer");
    relay_respond_fail(req, &f);
}
