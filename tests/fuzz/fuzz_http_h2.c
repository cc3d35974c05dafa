/* fuzz_http_h2.c -- the HTTP/2 client's answer side (common/http/h2.c): a
 * provider's bytes, after TLS, fed to a client session that carries h2.c's
 * nghttp2 callbacks (headers, data, stream close, GOAWAY, refused
 * streams), as conn_read() feeds them. The first byte says how many
 * requests are in flight (bits 0-1: 1..4; the first has a body) and, with
 * bit 2, a small response ceiling (the body-over-limit path). The rest is
 * what the server sends, its SETTINGS first. h2.c's invariant is checked:
 * every request completes exactly once, or is queued again (a refused
 * stream), never both; a completed one has a status when it is OK. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "http/h2_state.h"
#include "http/h2_conn.h"
#include "http/h2_queue.h"
#include "tests/fuzz/fuzz.h"

#define NREQ_MAX 4

struct slot {
    struct httpc_xfer x;
    int completed;
};

static struct slot slots[NREQ_MAX];

static void
complete(void *owner, struct httpc_xfer *x, enum hd_httpc_fail fail,
         const char *why)
{
    struct slot *s = (struct slot *)(void *)x;

    (void)owner;
    (void)why;
    if (s->completed++ || (fail == HD_HTTPC_OK && x->status <= 0))
        abort();
}

/* Whatever the session wants to send (preface, requests, acks): dropped,
 * as if written. */
static void
drain_output(nghttp2_session *ng)
{
    const uint8_t *p;

    while (nghttp2_session_mem_send(ng, &p) > 0) {
    }
}

static int
queued(const struct h2_origin *o, struct httpc_xfer *x)
{
    struct httpc_xfer *q;

    for (q = o->qhead; q; q = h2_sx(q)->next)
        if (q == x)
            return 1;
    return 0;
}

static void
submit(struct h2_conn *k, struct slot *s, int with_body, size_t max)
{
    static const char body[] = "{\"message\":{\"token\":\"t\"}}";
    static const char *const hdrs[] = {
        "Content-Type: application/json", "authorization: bearer x",
        "Connection: keep-alive", "apns-topic:", "apns-push-type: alert"};
    struct h2_stream *st = hd_xcalloc(1, sizeof(*st));

    memset(&s->x, 0, sizeof(s->x));
    s->completed = 0;
    s->x.req.url = "https://fcm.example:443/v1/projects/p/messages:send";
    memcpy(s->x.req.headers, hdrs, sizeof(hdrs));
    s->x.req.nheaders = sizeof(hdrs) / sizeof(hdrs[0]);
    if (with_body) {
        s->x.req.body = body;
        s->x.req.len = sizeof(body) - 1;
    }
    hd_buf_init(&s->x.body, max);
    hd_buf_init(&s->x.hdrs, 1024);
    st->heap_i = SIZE_MAX;
    st->o = k->o; /* as h2_start() does */
    s->x.priv[HTTPC_SLOT_H2] = st;
    h2_stream_submit(k, &s->x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct h2 h;
    struct h2_origin o;
    struct h2_conn *k;
    int nreq, i, closed = 0;
    size_t max;
    ssize_t used;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    nreq = 1 + (data[0] & 3);
    max = data[0] & 4 ? 64 : 64 * 1024;
    memset(&h, 0, sizeof(h));
    memset(&o, 0, sizeof(o));
    h.host.epfd = -1;
    h.host.complete = complete;
    snprintf(o.host, sizeof(o.host), "%s", "fcm.example");
    o.port = 443;
    snprintf(o.authority, sizeof(o.authority), "%s", "fcm.example");
    k = hd_xcalloc(1, sizeof(*k));
    k->h = &h;
    k->o = &o;
    k->fd = -1;
    k->state = C_READY;
    hd_buf_init(&k->out, OUT_CHUNK);
    o.conns = k;
    o.nconns = 1;
    if (h2_session_new(k) < 0)
        abort();
    for (i = 0; i < nreq; i++)
        submit(k, &slots[i], i == 0, max);
    drain_output(k->ng);
    used = nghttp2_session_mem_recv(k->ng, data + 1, size - 1);
    if (used < 0) {
        h2_conn_close(k, HD_HTTPC_ESTREAM, nghttp2_strerror((int)used));
        closed = 1;
    } else {
        drain_output(k->ng);
    }
    if (!closed)
        h2_conn_close(k, HD_HTTPC_ECANCEL, "end of input");
    for (i = 0; i < nreq; i++) {
        struct httpc_xfer *x = &slots[i].x;
        struct h2_stream *st = h2_sx(x);

        /* refused: back in the origin's queue, not completed */
        if (slots[i].completed == 0 && queued(&o, x))
            h2_queue_del(&o, x);
        else if (slots[i].completed != 1)
            abort();
        hd_buf_release(&x->body);
        hd_buf_release(&x->hdrs);
        free(st);
    }
    return 0;
}
