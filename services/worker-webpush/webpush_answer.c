/* webpush_answer.c -- what a push service's answer means (RFC 8030
 * section 5 and the services' documented codes), and `vapid-keygen`.
 *
 * 404 and 410 say the subscription is gone: the device is removed. 401
 * and 403 say the push service refused our VAPID key for this
 * subscription (it was made with another applicationServerKey): a failure
 * counted under its own code, not a dead device and not a reason to stop
 * sending to everyone else. A redirect is never followed. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "services/worker-webpush/webpush.h"
#include "webpush/vapid.h"
#include "core/banned.h"

void
webpush_classify(int status, uint64_t retry_after_ms,
                 struct hd_push_result *res)
{
    memset(res, 0, sizeof(*res));
    res->http_status = status;
    if (status >= 200 && status < 300)
        res->action = HD_PUSH_SENT;
    else if (status == 404)
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, "NotFound");
    else if (status == 410)
        hd_push_result_set(res, HD_PUSH_TOKEN_INVALID, "Gone");
    else if (status == 413)
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, "PayloadTooLarge");
    else if (status == 401 || status == 403)
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, "VapidRejected");
    else if (status == 429)
        hd_push_result_set(res, HD_PUSH_RETRY, "TooManyRequests");
    else if (status >= 500)
        hd_push_result_set(res, HD_PUSH_RETRY, "ServiceUnavailable");
    else if (status >= 300 && status < 400)
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, "Redirect");
    else if (status == 400)
        hd_push_result_set(res, HD_PUSH_BAD_REQUEST, "BadRequest");
    else {
        res->action = HD_PUSH_BAD_REQUEST;
        snprintf(res->code, sizeof(res->code), "HTTP_%d", status);
    }
    if (res->action == HD_PUSH_RETRY)
        res->retry_after_ms = retry_after_ms;
}

int
webpush_keygen_main(void)
{
    struct hd_buf priv, pub;
    struct hd_err err = {0};
    int rc = 0;

    hd_buf_init(&priv, 128);
    hd_buf_init(&pub, 128);
    if (hd_vapid_keygen(&priv, &pub, &err) < 0) {
        fprintf(stderr, "vapid-keygen: %s\n", err.msg);
        rc = 1;
    } else {
        printf("HERALD_WEBPUSH_VAPID_PUBLIC_KEY=%s\n"
               "HERALD_WEBPUSH_VAPID_PRIVATE_KEY=%s\n",
               pub.data, priv.data);
    }
    hd_buf_release(&priv);
    hd_buf_release(&pub);
    return rc;
}
