/* api_batch.c -- per-provider delivery batches for one request.
 *
 * The open batch borrows the request's uid, app and notification part, so
 * only tokens are copied; emptying a batch frees its tokens and keeps the
 * token array for the next one. Invariant: an open batch never holds
 * max[p] tokens when add() returns. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/api/api_batch.h"
#include "core/banned.h"

static json_t *
part_of(const struct hd_msg_request *req, enum hd_provider p)
{
    json_t *v = json_object_get(req->notification, hd_provider_name(p));

    return json_is_object(v) ? v : NULL;
}

void
api_batcher_init(struct api_batcher *b, const struct hd_msg_request *req,
                 size_t batch_max, api_batch_emit_fn *emit, void *ud)
{
    int p;

    memset(b, 0, sizeof(*b));
    b->req = req;
    b->emit = emit;
    b->ud = ud;
    for (p = 0; p < HD_PROVIDER__COUNT; p++) {
        struct hd_msg_delivery *d = &b->cur[p];

        b->max[p] = hd_provider_batch_max((enum hd_provider)p);
        if (batch_max > 0 && batch_max < b->max[p])
            b->max[p] = batch_max;
        d->uid = req->uid;
        d->app = req->app;
        d->provider = (enum hd_provider)p;
        d->expire_at_ms = req->expire_at_ms;
        d->created_ms = req->created_ms;
        d->rtype = HD_RT_DEVICE;
        d->notification = part_of(req, (enum hd_provider)p);
    }
}

int
api_batcher_wants(const struct api_batcher *b, enum hd_provider p)
{
    return (unsigned)p < HD_PROVIDER__COUNT && b->cur[p].notification != NULL;
}

static void
empty(struct hd_msg_delivery *d)
{
    size_t i;

    for (i = 0; i < d->ntokens; i++) {
        free(d->tokens[i].token);
        free(d->tokens[i].device);
    }
    d->ntokens = 0;
}

static int
emit(struct api_batcher *b, struct hd_msg_delivery *d, struct hd_err *err)
{
    int rc = b->emit(b->ud, d, b->seq, err);

    if (rc == 0) {
        b->seq++;
        b->tokens[d->provider] += d->ntokens;
    }
    empty(d);
    return rc;
}

int
api_batcher_add(struct api_batcher *b, enum hd_provider p, const char *token,
                const char *device, struct hd_err *err)
{
    struct hd_msg_delivery *d;

    if (!api_batcher_wants(b, p))
        return 0;
    d = &b->cur[p];
    hd_msg_delivery_add_token(d, token, device);
    if (d->ntokens < b->max[p])
        return 0;
    return emit(b, d, err);
}

/* The open variant batch of p for part: an equal one, a new slot, or
 * the fullest emitted and reused. NULL when that emit failed. */
static struct hd_msg_delivery *
variant(struct api_batcher *b, enum hd_provider p, json_t *part,
        struct hd_err *err)
{
    struct hd_msg_delivery *d;
    int i, full = 0;

    for (i = 0; i < b->nvar[p]; i++)
        if (b->var[p][i].notification == part)
            return &b->var[p][i];
    for (i = 0; i < b->nvar[p]; i++)
        if (json_equal(b->var[p][i].notification, part))
            return &b->var[p][i];
    if (b->nvar[p] < API_BATCH_VARIANTS) {
        d = &b->var[p][b->nvar[p]++];
        *d = b->cur[p];
        d->tokens = NULL;
        d->ntokens = d->cap = 0;
        d->notification = json_incref(part);
        return d;
    }
    for (i = 1; i < API_BATCH_VARIANTS; i++)
        if (b->var[p][i].ntokens > b->var[p][full].ntokens)
            full = i;
    d = &b->var[p][full];
    if (d->ntokens > 0 && emit(b, d, err) < 0)
        return NULL;
    json_decref(d->notification);
    d->notification = json_incref(part);
    return d;
}

int
api_batcher_add_part(struct api_batcher *b, enum hd_provider p, json_t *part,
                     const char *token, const char *device, struct hd_err *err)
{
    struct hd_msg_delivery *d;

    if (!api_batcher_wants(b, p))
        return 0;
    d = variant(b, p, part, err);
    if (d == NULL)
        return -1;
    hd_msg_delivery_add_token(d, token, device);
    if (d->ntokens < b->max[p])
        return 0;
    return emit(b, d, err);
}

int
api_batcher_target(struct api_batcher *b, enum hd_provider p,
                   enum hd_rcpt_type t, const char *value, struct hd_err *err)
{
    struct hd_msg_delivery d;
    int rc;

    if (!api_batcher_wants(b, p))
        return 0;
    d = b->cur[p];
    d.tokens = NULL;
    d.ntokens = 0;
    d.cap = 0;
    d.rtype = t;
    /* encoders only read these */
    d.topic = t == HD_RT_TOPIC ? (char *)(uintptr_t)value : NULL;
    d.condition = t == HD_RT_CONDITION ? (char *)(uintptr_t)value : NULL;
    rc = b->emit(b->ud, &d, b->seq, err);
    if (rc == 0)
        b->seq++;
    return rc;
}

int
api_batcher_flush(struct api_batcher *b, struct hd_err *err)
{
    int p;

    int i;

    for (p = 0; p < HD_PROVIDER__COUNT; p++) {
        if (b->cur[p].ntokens > 0 && emit(b, &b->cur[p], err) < 0)
            return -1;
        for (i = 0; i < b->nvar[p]; i++)
            if (b->var[p][i].ntokens > 0 && emit(b, &b->var[p][i], err) < 0)
                return -1;
    }
    return 0;
}

void
api_batcher_release(struct api_batcher *b)
{
    int p;

    int i;

    for (p = 0; p < HD_PROVIDER__COUNT; p++) {
        empty(&b->cur[p]);
        free(b->cur[p].tokens);
        for (i = 0; i < b->nvar[p]; i++) {
            empty(&b->var[p][i]);
            free(b->var[p][i].tokens);
            json_decref(b->var[p][i].notification);
        }
    }
    memset(b, 0, sizeof(*b));
}
