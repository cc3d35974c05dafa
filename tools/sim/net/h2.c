/* h2.c -- HTTP/2 over nghttp2's memory API: callbacks that build
 * requests, responses submitted from the stream's buffers, SETTINGS that
 * follow the providers' wishes, and GOAWAY.
 *
 * nghttp2 enforces the advertised MAX_CONCURRENT_STREAMS itself: before
 * the client acknowledges a lower value an extra stream gets RST_STREAM
 * REFUSED_STREAM, after it a connection error. Those refusals are the
 * behaviour APNs shows; HERALD_SIM_APNS_GOAWAY_ON_EXCESS turns them into
 * Apple's "Maximum active streams violated" GOAWAY instead. */
#include <stdio.h>
#include <string.h>

#include "tools/sim/net/h2.h"
#include "core/banned.h"

#define APNS_HEADER_LIST_MAX 8000
#define EXCESS_DEBUG "Maximum active streams violated for this endpoint."

static struct sim_stream *
stream_of(nghttp2_session *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s, id);
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct sim_conn *c = ud;
    struct sim_stream *st;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st = sim_stream_get(c->t);
    st->id = f->hd.stream_id;
    st->conn = c;
    st->req.proto = "h2";
    st->req.stream_id = f->hd.stream_id;
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
          size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
          void *ud)
{
    struct sim_stream *st;

    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    st = stream_of(s, f->hd.stream_id);
    if (st == NULL || st->dispatched)
        return 0;
    sim_req_add_header(&st->req, (const char *)name, namelen,
                       (const char *)value, valuelen);
    return 0;
}

static int
on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
        size_t len, void *ud)
{
    struct sim_stream *st = stream_of(s, id);

    (void)flags;
    (void)ud;
    if (st != NULL && !st->dispatched)
        sim_req_add_body(&st->req, data, len);
    return 0;
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    struct sim_conn *c = ud;
    struct sim_stream *st;

    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    st = stream_of(s, f->hd.stream_id);
    if (st != NULL && !st->dispatched)
        sim_conn_request(c, st);
    return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    struct sim_conn *c = ud;
    struct sim_stream *st = stream_of(s, id);

    (void)code;
    if (st == NULL)
        return 0;
    st->closed = 1;
    nghttp2_session_set_stream_user_data(s, id, NULL);
    sim_stream_done(c, st);
    return 0;
}

static int
on_invalid(nghttp2_session *s, const nghttp2_frame *f, int lib_error, void *ud)
{
    struct sim_conn *c = ud;

    (void)s;
    (void)f;
    /* nghttp2 has queued RST_STREAM already; the GOAWAY goes after it,
     * once mem_recv returns (see sim_h2_recv) */
    if (lib_error == NGHTTP2_ERR_REFUSED_STREAM && c->apns_host &&
        c->t->ctx->cfg.apns_goaway_on_excess)
        c->h2_excess = 1;
    return 0;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct sim_stream *st = src->ptr;
    size_t left = st->resp.body.len - st->body_off;
    size_t n = left < len ? left : len;

    (void)s;
    (void)id;
    (void)ud;
    if (n > 0)
        memcpy(buf, st->resp.body.data + st->body_off, n);
    st->body_off += n;
    if (st->body_off >= st->resp.body.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* The stream limit this connection starts with. */
static unsigned
initial_streams(const struct sim_conn *c)
{
    const struct sim_config *cfg = &c->t->ctx->cfg;

    if (c->apns_host)
        return (unsigned)(cfg->apns_streams_before_auth > 0
                              ? cfg->apns_streams_before_auth
                              : cfg->apns_max_streams);
    if (c->provider >= 0)
        return (unsigned)cfg->fcm_max_streams;
    return (unsigned)cfg->apns_max_streams;
}

int
sim_h2_start(struct sim_conn *c)
{
    const struct sim_config *cfg = &c->t->ctx->cfg;
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_settings_entry iv[5];
    size_t n = 0;
    int rc;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb,
                                                                 on_invalid);
    rc = nghttp2_session_server_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0) {
        c->h2 = NULL;
        return -1;
    }
    c->cur_streams = initial_streams(c);
    c->peer.want_streams = c->cur_streams;
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                       c->cur_streams};
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE,
                                       (uint32_t)cfg->window_size};
    iv[n++] =
        (nghttp2_settings_entry){NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096};
    iv[n++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 16384};
    if (c->apns_host)
        iv[n++] = (nghttp2_settings_entry){
            NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, APNS_HEADER_LIST_MAX};
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, n) != 0)
        return -1;
    return 0;
}

void
sim_h2_raw_goaway(struct hd_buf *out, int32_t last_stream_id, uint32_t code,
                  const char *debug, size_t len)
{
    unsigned char h[17];
    size_t flen = 8 + len;

    h[0] = (unsigned char)(flen >> 16);
    h[1] = (unsigned char)(flen >> 8);
    h[2] = (unsigned char)flen;
    h[3] = NGHTTP2_GOAWAY;
    h[4] = 0;
    memset(h + 5, 0, 4); /* stream 0 */
    h[9] = (unsigned char)((uint32_t)last_stream_id >> 24);
    h[10] = (unsigned char)((uint32_t)last_stream_id >> 16);
    h[11] = (unsigned char)((uint32_t)last_stream_id >> 8);
    h[12] = (unsigned char)last_stream_id;
    h[13] = (unsigned char)(code >> 24);
    h[14] = (unsigned char)(code >> 16);
    h[15] = (unsigned char)(code >> 8);
    h[16] = (unsigned char)code;
    hd_buf_append(out, h, sizeof(h), NULL);
    if (len > 0)
        hd_buf_append(out, debug, len, NULL);
}

int
sim_h2_recv(struct sim_conn *c, const unsigned char *p, size_t n)
{
    ssize_t r = nghttp2_session_mem_recv(c->h2, p, n);

    if (r < 0)
        return -1;
    if (c->h2_excess && !c->h2_frozen) {
        /* Apple's answer to too many streams: everything already queued
         * (answers, the RST_STREAM), then GOAWAY, then close */
        for (;;) {
            size_t before = c->out.len;

            if (sim_h2_pull(c) < 0 || c->out.len == before)
                break;
        }
        sim_h2_raw_goaway(
            &c->out, nghttp2_session_get_last_proc_stream_id(c->h2),
            NGHTTP2_PROTOCOL_ERROR, EXCESS_DEBUG, strlen(EXCESS_DEBUG));
        c->h2_frozen = 1;
        c->goaway_sent = 1;
        c->close_after_flush = 1;
    }
    return 0;
}

static void
respond(struct sim_conn *c, struct sim_stream *st)
{
    struct sim_resp *r = &st->resp;
    nghttp2_nv nva[SIM_RESP_MAX_HEADERS + 2];
    nghttp2_data_provider prd;
    char sname[] = ":status";
    char cname[] = "content-length";
    char status[8];
    char clen[24];
    size_t n = 0;
    int i;

    snprintf(status, sizeof(status), "%d", r->status);
    nva[n++] = (nghttp2_nv){(uint8_t *)sname, (uint8_t *)status, 7,
                            strlen(status), NGHTTP2_NV_FLAG_NONE};
    for (i = 0; i < r->nhdrs; i++)
        nva[n++] = (nghttp2_nv){(uint8_t *)r->hbuf.data + r->hdrs[i].name,
                                (uint8_t *)r->hbuf.data + r->hdrs[i].value,
                                r->hdrs[i].nlen, r->hdrs[i].vlen,
                                NGHTTP2_NV_FLAG_NONE};
    if (r->body.len > 0) {
        snprintf(clen, sizeof(clen), "%zu", r->body.len);
        nva[n++] = (nghttp2_nv){(uint8_t *)cname, (uint8_t *)clen, 14,
                                strlen(clen), NGHTTP2_NV_FLAG_NONE};
    }
    st->body_off = 0;
    prd.source.ptr = st;
    prd.read_callback = read_body;
    nghttp2_submit_response(c->h2, st->id, nva, n,
                            r->body.len > 0 ? &prd : NULL);
}

void
sim_h2_answer(struct sim_conn *c, struct sim_stream *st)
{
    if (st->answered || st->closed)
        return;
    st->answered = 1;
    switch (st->resp.action) {
    case SIM_ACT_RESPOND:
        respond(c, st);
        break;
    case SIM_ACT_RST:
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id,
                                  st->resp.h2_code);
        break;
    case SIM_ACT_GOAWAY:
        sim_h2_goaway(c, st->resp.h2_code, st->resp.body.data,
                      st->resp.body.len, 1);
        break;
    case SIM_ACT_CLOSE:
        c->closing = 1;
        break;
    case SIM_ACT_STALL:
        break;
    }
}

int
sim_h2_pull(struct sim_conn *c)
{
    if (c->h2_frozen)
        return 0;
    while (c->out.len < SIM_OUT_BATCH) {
        const uint8_t *p = NULL;
        ssize_t n = nghttp2_session_mem_send(c->h2, &p);

        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (hd_buf_append(&c->out, p, (size_t)n, NULL) < 0)
            return -1;
    }
    return 0;
}

void
sim_h2_sync_settings(struct sim_conn *c)
{
    nghttp2_settings_entry iv;

    if (c->peer.want_streams == 0 || c->peer.want_streams == c->cur_streams)
        return;
    iv.settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv.value = c->peer.want_streams;
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, &iv, 1) == 0)
        c->cur_streams = c->peer.want_streams;
}

void
sim_h2_goaway(struct sim_conn *c, uint32_t code, const char *debug, size_t len,
              int hard)
{
    if (c->h2 == NULL || (c->goaway_sent && !hard))
        return;
    nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->h2), code,
                          (const uint8_t *)debug, len);
    c->goaway_sent = 1;
    if (hard)
        c->close_after_flush = 1;
}

int
sim_h2_done(struct sim_conn *c)
{
    return c->h2 != NULL && !nghttp2_session_want_read(c->h2) &&
           !nghttp2_session_want_write(c->h2);
}

void
sim_h2_free(struct sim_conn *c)
{
    if (c->h2 != NULL)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
}

static int
answer(struct sim_conn *c, struct sim_stream *st)
{
    sim_h2_answer(c, st);
    sim_h2_sync_settings(c);
    return 0;
}

const struct sim_proto sim_h2_proto = {
    .start = sim_h2_start,
    .recv = sim_h2_recv,
    .answer = answer,
    .pull = sim_h2_pull,
    .done = sim_h2_done,
    .release = sim_h2_free,
};
