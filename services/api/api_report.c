/* api_report.c -- a device the api itself decided not to send to (the
 * user online, a template that does not render) reported on
 * herald.feedback the way a worker reports a send, so the status list and
 * the analytics count it like any other outcome. */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "services/api/api.h"
#include "core/banned.h"

void
api_report_device(struct api_ctx *ctx, const struct hd_msg_request *r,
                  enum hd_provider p, const char *device, const char *token,
                  enum hd_outcome outcome, const char *code)
{
    struct hd_msg_feedback f = {0};
    struct hd_err err = {0};
    struct hd_buf b;

    if (ctx->producer == NULL)
        return; /* no Kafka: nothing reads feedback */
    f.uid = r->uid;
    f.app = r->app;
    f.provider = p;
    f.device = (char *)(uintptr_t)device;
    f.token = (char *)(uintptr_t)token;
    f.outcome = outcome;
    f.code = (char *)(uintptr_t)code;
    f.ts_ms = hd_now_wall_ms();
    hd_buf_init(&b, HD_KAFKA_MAX_MESSAGE);
    if (hd_msg_feedback_encode(&f, &b, &err) < 0 ||
        hd_kproducer_send(ctx->producer, ctx->topic_feedback, f.uid,
                          strlen(f.uid), b.data, b.len, NULL, NULL, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "send %s: %s report for device %s: %s", r->uid,
               code, device, err.msg);
    hd_buf_release(&b);
}
