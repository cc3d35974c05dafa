/* api_batch.h -- groups one request's tokens into delivery batches: one
 * open batch per provider, emitted when full (500 FCM and APNs, 1000 HMS)
 * and the rest on flush, numbered from 0 in emission order.
 *
 * It neither encodes nor sends: the emit callback does, and must copy what
 * it keeps (the batch is emptied after it returns). Providers the request
 * carries no notification for get nothing. One owner thread. */
#ifndef API_BATCH_H
#define API_BATCH_H

#include <stddef.h>

#include "core/err.h"
#include "proto/msg.h"

/* Returns 0 to go on, -1 (err set) to stop: the add/flush that called it
 * then fails with that error. */
typedef int api_batch_emit_fn(void *ud, const struct hd_msg_delivery *d,
                              size_t seq, struct hd_err *err);

/* Open batches per provider for per-device notifications (templating):
 * tokens with an equal rendered part share one. */
#define API_BATCH_VARIANTS 16

struct api_batcher {
    const struct hd_msg_request *req; /* borrowed */
    struct hd_msg_delivery cur[HD_PROVIDER__COUNT];
    /* variants: their notification is an owned reference */
    struct hd_msg_delivery var[HD_PROVIDER__COUNT][API_BATCH_VARIANTS];
    int nvar[HD_PROVIDER__COUNT];
    size_t max[HD_PROVIDER__COUNT];
    size_t seq;                        /* batches emitted */
    size_t tokens[HD_PROVIDER__COUNT]; /* tokens emitted */
    api_batch_emit_fn *emit;
    void *ud;
};

/* req (borrowed) supplies uid, app, times and the notification parts.
 * batch_max 0 uses hd_provider_batch_max(); tests pass smaller sizes. */
void api_batcher_init(struct api_batcher *b, const struct hd_msg_request *req,
                      size_t batch_max, api_batch_emit_fn *emit, void *ud);

/* 1 when the request has a notification for provider p. */
int api_batcher_wants(const struct api_batcher *b, enum hd_provider p);

/* Adds a token (device may be NULL for raw tokens). A provider the request
 * does not carry is skipped (returns 0). 0 or -1 from emit. */
int api_batcher_add(struct api_batcher *b, enum hd_provider p,
                    const char *token, const char *device, struct hd_err *err);

/* Adds a token whose notification part is part (rendered for its device;
 * a reference is taken). Tokens with an equal part (the same json_t, or
 * equal JSON) go into the same batch; with API_BATCH_VARIANTS open for
 * p, the fullest is emitted to make room. 0 or -1 from emit. */
int api_batcher_add_part(struct api_batcher *b, enum hd_provider p,
                         json_t *part, const char *token, const char *device,
                         struct hd_err *err);

/* Emits one topic or condition delivery for p (no tokens). */
int api_batcher_target(struct api_batcher *b, enum hd_provider p,
                       enum hd_rcpt_type t, const char *value,
                       struct hd_err *err);

/* Emits every partly filled batch. 0 or -1 from emit. */
int api_batcher_flush(struct api_batcher *b, struct hd_err *err);

/* Frees the open batches and zeroes b. */
void api_batcher_release(struct api_batcher *b);

#endif
