/* api_dlq.c -- dead letters: a consumed record that cannot be processed
 * (undecodable, unknown version) goes to herald.dlq wrapped with the
 * reason, and its offset is done only once the dead letter is
 * acknowledged, so nothing is ever dropped on the floor. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "services/api/api.h"
#include "core/banned.h"

struct dlq_wait {
    api_dlq_done_fn *done;
    void *ud;
    int32_t partition;
    int64_t offset;
};

static void
acked(void *opaque, int ok, const char *errstr)
{
    struct dlq_wait *w = opaque;

    (void)errstr;
    if (ok)
        w->done(w->ud, w->partition, w->offset);
    free(w);
}

int
api_dead_letter(struct api_ctx *ctx, const struct hd_kmsg *msg, const char *why,
                api_dlq_done_fn *done, void *ud, struct hd_err *err)
{
    struct dlq_wait *w = hd_xmalloc(sizeof(*w));
    struct hd_buf b;
    int rc;

    w->done = done;
    w->ud = ud;
    w->partition = msg->partition;
    w->offset = msg->offset;
    /* the original may be escaped into a string: room for twice its size */
    hd_buf_init(&b, 2 * HD_KAFKA_MAX_MESSAGE + 4096);
    rc = hd_msg_dlq_encode(msg->topic, why, NULL, msg->value, msg->len,
                           hd_now_wall_ms(), &b, err);
    if (rc == 0)
        rc = hd_kproducer_send(ctx->producer, ctx->topic_dlq, NULL, 0, b.data,
                               b.len, acked, w, err);
    if (rc < 0)
        free(w);
    hd_buf_release(&b);
    return rc;
}
