/* h1.c -- HTTP/1.1 for the endpoints that accept it (FCM, HMS, both OAuth
 * endpoints) and Apple's answer to it on APNs (an HTTP/2 GOAWAY).
 *
 * Requests are parsed from the connection's input buffer once complete
 * (Content-Length or chunked), answered one at a time in order, with
 * keep-alive and pipelining. The request gets the same pseudo-headers an
 * HTTP/2 request has, so the providers never see the difference. Parsing
 * restarts from the buffer's start until a request is whole: simple, and
 * bounded by SIM_H1_IN_MAX. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "tools/sim/net/h1.h"
#include "tools/sim/net/h2.h"
#include "tools/sim/route.h"
#include "core/banned.h"

enum parse_rc {
    P_MORE = 0,
    P_DONE = 1,
    P_BAD = -1,
    P_TOOBIG = -2,
};

static const char *
reason_phrase(int status)
{
    static const struct {
        int status;
        const char *text;
    } t[] = {
        {100, "Continue"},
        {200, "OK"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {410, "Gone"},
        {413, "Payload Too Large"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].status == status)
            return t[i].text;
    return "Unknown";
}

static const char *
find(const char *p, size_t len, const char *what)
{
    return memmem(p, len, what, strlen(what));
}

/* Decodes a chunked body starting at p. Returns P_DONE with *used, P_MORE
 * or P_BAD/P_TOOBIG. */
static int
dechunk(struct sim_req *r, const char *p, size_t len, size_t *used)
{
    size_t off = 0;

    for (;;) {
        const char *eol = find(p + off, len - off, "\r\n");
        unsigned long long size = 0;
        const char *q;

        if (eol == NULL)
            return len - off > 64 ? P_BAD : P_MORE;
        for (q = p + off; q < eol && isxdigit((unsigned char)*q); q++) {
            size = size * 16 +
                   (unsigned)(isdigit((unsigned char)*q)
                                  ? *q - '0'
                                  : tolower((unsigned char)*q) - 'a' + 10);
            if (size > r->body.max)
                return P_TOOBIG;
        }
        if (q == p + off)
            return P_BAD;
        off = (size_t)(eol - p) + 2;
        if (size == 0) {
            /* trailers until an empty line */
            for (;;) {
                eol = find(p + off, len - off, "\r\n");
                if (eol == NULL)
                    return P_MORE;
                if (eol == p + off) {
                    *used = off + 2;
                    return P_DONE;
                }
                off = (size_t)(eol - p) + 2;
            }
        }
        if (len - off < size + 2)
            return P_MORE;
        sim_req_add_body(r, p + off, (size_t)size);
        if (r->body_overflow)
            return P_TOOBIG;
        off += (size_t)size + 2;
    }
}

/* Case-insensitive "does header value v (vlen) contain token tok". */
static int
has_token(const char *v, size_t vlen, const char *tok)
{
    size_t tl = strlen(tok);
    size_t i;

    for (i = 0; i + tl <= vlen; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return 1;
    return 0;
}

struct head {
    int chunked;
    long long clen; /* -1 none */
    int close;
    int expect; /* Expect: 100-continue */
};

/* Request line and headers (hlen bytes at p, ending in CRLF CRLF). */
static int
parse_head(struct sim_req *r, const char *p, size_t hlen, struct head *h)
{
    const char *hend = p + hlen - 2; /* the final CRLF */
    const char *eol = find(p, hlen, "\r\n");
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 =
        sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    const char *target;
    const char *cur;
    size_t tlen;
    int have_authority = 0;

    if (sp1 == NULL || sp1 == p || sp2 == NULL || eol - sp2 - 1 != 8 ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return P_BAD;
    h->close = sp2[8] == '0'; /* HTTP/1.0 closes unless keep-alive */
    h->clen = -1;
    sim_req_add_header(r, ":method", 7, p, (size_t)(sp1 - p));
    sim_req_add_header(r, ":scheme", 7, "https", 5);
    target = sp1 + 1;
    tlen = (size_t)(sp2 - target);
    if (tlen > 8 && (strncmp(target, "https://", 8) == 0 ||
                     strncmp(target, "http://", 7) == 0)) {
        const char *a = (const char *)memchr(target, '/', tlen) + 2;
        const char *slash = memchr(a, '/', (size_t)(sp2 - a));

        sim_req_add_header(r, ":authority", 10, a,
                           (size_t)((slash ? slash : sp2) - a));
        have_authority = 1;
        tlen = slash ? (size_t)(sp2 - slash) : 1;
        target = slash ? slash : "/";
    }
    sim_req_add_header(r, ":path", 5, target, tlen);
    for (cur = eol + 2; cur < hend;) {
        const char *le = find(cur, (size_t)(hend - cur) + 2, "\r\n");
        const char *colon = memchr(cur, ':', (size_t)(le - cur));
        const char *v;
        const char *ve = le;
        size_t nlen;

        if (colon == NULL || colon == cur)
            return P_BAD;
        nlen = (size_t)(colon - cur);
        for (v = colon + 1; v < le && (*v == ' ' || *v == '\t'); v++)
            ;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 4 && strncasecmp(cur, "host", 4) == 0 && !have_authority) {
            sim_req_add_header(r, ":authority", 10, v, (size_t)(ve - v));
            have_authority = 1;
        } else if (nlen == 14 && strncasecmp(cur, "content-length", 14) == 0) {
            char num[24];
            size_t l = (size_t)(ve - v);

            if (l == 0 || l >= sizeof(num))
                return P_BAD;
            memcpy(num, v, l);
            num[l] = '\0';
            if (hd_parse_ll(num, 0, 1LL << 40, &h->clen) < 0)
                return P_BAD;
        } else if (nlen == 17 &&
                   strncasecmp(cur, "transfer-encoding", 17) == 0) {
            h->chunked = has_token(v, (size_t)(ve - v), "chunked");
        } else if (nlen == 10 && strncasecmp(cur, "connection", 10) == 0) {
            if (has_token(v, (size_t)(ve - v), "close"))
                h->close = 1;
            else if (has_token(v, (size_t)(ve - v), "keep-alive"))
                h->close = 0;
        } else if (nlen == 6 && strncasecmp(cur, "expect", 6) == 0) {
            h->expect = has_token(v, (size_t)(ve - v), "100-continue");
        }
        sim_req_add_header(r, cur, nlen, v, (size_t)(ve - v));
        cur = le + 2;
    }
    return P_DONE;
}

/* One request from the start of c->in into st. */
static int
parse(struct sim_conn *c, struct sim_stream *st, size_t *used)
{
    const char *p = c->in.data;
    size_t len = c->in.len;
    const char *end = find(p, len, "\r\n\r\n");
    struct head h;
    size_t hlen;
    size_t blen = 0;
    int rc;

    if (end == NULL)
        return len > SIM_REQ_HEADER_BYTES ? P_BAD : P_MORE;
    hlen = (size_t)(end - p) + 4;
    memset(&h, 0, sizeof(h));
    sim_req_reset(&st->req);
    rc = parse_head(&st->req, p, hlen, &h);
    if (rc != P_DONE)
        return rc;
    if (h.chunked) {
        rc = dechunk(&st->req, p + hlen, len - hlen, &blen);
    } else if (h.clen > 0) {
        if ((unsigned long long)h.clen > st->req.body.max)
            return P_TOOBIG;
        rc = len - hlen < (size_t)h.clen ? P_MORE : P_DONE;
        blen = (size_t)h.clen;
        if (rc == P_DONE)
            sim_req_add_body(&st->req, p + hlen, blen);
    }
    if (rc == P_MORE && h.expect && !c->h1_continue) {
        hd_buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", NULL);
        c->h1_continue = 1;
    }
    if (rc == P_DONE) {
        *used = hlen + blen;
        if (h.close)
            c->h1_close = 1;
    }
    return rc;
}

static void
plain_error(struct sim_conn *c, int status)
{
    char line[160];
    int n = snprintf(line, sizeof(line),
                     "HTTP/1.1 %d %s\r\ncontent-length: 0\r\n"
                     "connection: close\r\n\r\n",
                     status, reason_phrase(status));

    hd_buf_append(&c->out, line, (size_t)n, NULL);
    c->close_after_flush = 1;
}

void
sim_h1_apns_goaway(struct sim_conn *c, const char *method, const char *path)
{
    static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
    char debug[512];
    int n = snprintf(debug, sizeof(debug), "Unexpected HTTP/1.x request: %s %s",
                     method ? method : "", path ? path : "");
    size_t dlen = n < 0                        ? 0
                  : (size_t)n >= sizeof(debug) ? sizeof(debug) - 1
                                               : (size_t)n;

    hd_buf_append(&c->out, settings, sizeof(settings), NULL);
    sim_h2_raw_goaway(&c->out, 0, NGHTTP2_PROTOCOL_ERROR, debug, dlen);
    c->close_after_flush = 1;
}

int
sim_h1_process(struct sim_conn *c)
{
    if (c->h1_parsing)
        return 0;
    c->h1_parsing = 1;
    while (!c->h1_busy && !c->closing && !c->close_after_flush &&
           c->in.len > 0) {
        const struct sim_endpoint *ep;
        struct sim_stream *st;
        char host[256];
        size_t used = 0;
        int rc;

        if (c->h1 == NULL) {
            c->h1 = sim_stream_get(c->t);
            c->h1->conn = c;
        }
        st = c->h1;
        rc = parse(c, st, &used);
        if (rc == P_MORE)
            break;
        if (rc != P_DONE) {
            plain_error(c, rc == P_TOOBIG ? 413 : 400);
            break;
        }
        hd_buf_consume(&c->in, used);
        c->h1_continue = 0;
        sim_req_host(&st->req, host, sizeof(host));
        ep = sim_route(host, sim_req_header(&st->req, ":path"));
        if (c->apns_host || (ep != NULL && ep->h2_only)) {
            sim_h1_apns_goaway(c, sim_req_header(&st->req, ":method"),
                               sim_req_header(&st->req, ":path"));
            break;
        }
        st->req.proto = "http/1.1";
        st->req.stream_id = ++c->h1_seq;
        c->h1_busy = 1;
        sim_conn_request(c, st);
    }
    c->h1_parsing = 0;
    return 0;
}

int
sim_h1_answer(struct sim_conn *c, struct sim_stream *st)
{
    struct sim_resp *r = &st->resp;
    int i;

    switch (r->action) {
    case SIM_ACT_RESPOND:
        if (hd_buf_printf(&c->out, NULL, "HTTP/1.1 %d %s\r\n", r->status,
                          reason_phrase(r->status)) < 0)
            return -1;
        for (i = 0; i < r->nhdrs; i++)
            if (hd_buf_printf(&c->out, NULL, "%s: %s\r\n",
                              r->hbuf.data + r->hdrs[i].name,
                              r->hbuf.data + r->hdrs[i].value) < 0)
                return -1;
        if (hd_buf_printf(&c->out, NULL, "content-length: %zu\r\n%s\r\n",
                          r->body.len,
                          c->h1_close ? "connection: close\r\n" : "") < 0 ||
            (r->body.len > 0 &&
             hd_buf_append(&c->out, r->body.data, r->body.len, NULL) < 0))
            return -1;
        break;
    case SIM_ACT_STALL:
        return 0; /* stays busy until the client gives up */
    case SIM_ACT_RST:
    case SIM_ACT_GOAWAY:
    case SIM_ACT_CLOSE:
        c->closing = 1;
        return 0;
    }
    sim_req_reset(&st->req);
    sim_resp_reset(&st->resp);
    st->dispatched = 0;
    st->answered = 0;
    c->h1_busy = 0;
    if (c->h1_close) {
        c->close_after_flush = 1;
        return 0;
    }
    return sim_h1_process(c);
}

static int
recv_bytes(struct sim_conn *c, const unsigned char *p, size_t n)
{
    if (n > 0 && hd_buf_append(&c->in, p, n, NULL) < 0)
        return -1;
    return c->h1_busy ? 0 : sim_h1_process(c);
}

const struct sim_proto sim_h1_proto = {
    .recv = recv_bytes,
    .answer = sim_h1_answer,
};
