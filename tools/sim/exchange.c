/* exchange.c -- bounded request/response storage shared by both
 * transports and every provider.
 *
 * Buffers are reset, not freed, between requests, so a stream object that
 * is reused keeps its allocations (no per-request heap churn on the hot
 * path). Offsets rather than pointers index the header bytes, because the
 * buffer may move while it grows. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/exchange.h"
#include "core/banned.h"

void
sim_req_init(struct sim_req *r, size_t max_body)
{
    memset(r, 0, sizeof(*r));
    hd_buf_init(&r->hbuf, SIM_REQ_HEADER_BYTES);
    hd_buf_init(&r->body, max_body);
}

void
sim_req_reset(struct sim_req *r)
{
    hd_buf_reset(&r->hbuf);
    hd_buf_reset(&r->body);
    r->nhdrs = 0;
    r->hdr_overflow = 0;
    r->body_overflow = 0;
    r->conn_id = 0;
    r->stream_id = 0;
    r->proto = NULL;
}

void
sim_req_release(struct sim_req *r)
{
    hd_buf_release(&r->hbuf);
    hd_buf_release(&r->body);
    memset(r, 0, sizeof(*r));
}

/* Appends "name\0value\0" to b and fills h; -1 when b is full. */
static int
put_pair(struct hd_buf *b, struct sim_hdr *h, const char *name, size_t nlen,
         const char *value, size_t vlen, int lower)
{
    size_t start = b->len;
    size_t i;

    if (nlen + vlen + 2 > b->max - b->len)
        return -1;
    h->name = (uint32_t)b->len;
    h->nlen = (uint32_t)nlen;
    if (hd_buf_append(b, name, nlen, NULL) < 0)
        goto full;
    for (i = 0; lower && i < nlen; i++)
        b->data[start + i] = (char)tolower((unsigned char)b->data[start + i]);
    if (hd_buf_putc(b, '\0', NULL) < 0)
        goto full;
    h->value = (uint32_t)b->len;
    h->vlen = (uint32_t)vlen;
    if (hd_buf_append(b, value, vlen, NULL) < 0 ||
        hd_buf_putc(b, '\0', NULL) < 0)
        goto full;
    return 0;
full:
    b->len = start;
    if (b->data != NULL)
        b->data[start] = '\0';
    return -1;
}

void
sim_req_add_header(struct sim_req *r, const char *name, size_t nlen,
                   const char *value, size_t vlen)
{
    if (r->nhdrs >= SIM_REQ_MAX_HEADERS ||
        put_pair(&r->hbuf, &r->hdrs[r->nhdrs], name, nlen, value, vlen, 1) <
            0) {
        r->hdr_overflow = 1;
        return;
    }
    r->nhdrs++;
}

void
sim_req_add_body(struct sim_req *r, const void *p, size_t n)
{
    if (r->body_overflow)
        return;
    if (hd_buf_append(&r->body, p, n, NULL) < 0)
        r->body_overflow = 1;
}

const char *
sim_req_header(const struct sim_req *r, const char *name)
{
    int i;

    for (i = 0; i < r->nhdrs; i++)
        if (strcmp(r->hbuf.data + r->hdrs[i].name, name) == 0)
            return r->hbuf.data + r->hdrs[i].value;
    return NULL;
}

int
sim_req_header_count(const struct sim_req *r, const char *name)
{
    int i;
    int n = 0;

    for (i = 0; i < r->nhdrs; i++)
        if (strcmp(r->hbuf.data + r->hdrs[i].name, name) == 0)
            n++;
    return n;
}

void
sim_req_host(const struct sim_req *r, char *out, size_t outlen)
{
    const char *h = sim_req_header(r, ":authority");
    size_t i = 0;

    if (h == NULL)
        h = sim_req_header(r, "host");
    if (outlen == 0)
        return;
    if (h != NULL) {
        /* "[::1]:8443" keeps its brackets; "host:port" loses the port */
        for (; h[i] != '\0' && i + 1 < outlen; i++) {
            if (h[i] == ':' && h[0] != '[')
                break;
            out[i] = (char)tolower((unsigned char)h[i]);
            if (h[i] == ']') {
                i++;
                break;
            }
        }
    }
    out[i] = '\0';
}

void
sim_resp_init(struct sim_resp *r)
{
    memset(r, 0, sizeof(*r));
    hd_buf_init(&r->hbuf, SIM_RESP_HEADER_BYTES);
    hd_buf_init(&r->body, SIM_RESP_MAX_BODY);
    hd_buf_init(&r->tokens, 1024 * 1024);
    r->delay_ms = -1;
}

void
sim_resp_reset(struct sim_resp *r)
{
    hd_buf_reset(&r->hbuf);
    hd_buf_reset(&r->body);
    hd_buf_reset(&r->tokens);
    r->status = 0;
    r->action = SIM_ACT_RESPOND;
    r->h2_code = 0;
    r->delay_ms = -1;
    r->nhdrs = 0;
    r->outcome[0] = '\0';
    r->identity[0] = '\0';
    r->ntokens = 0;
    r->accepted = 0;
    r->delivered = 0;
    r->oauth_issued = 0;
}

void
sim_resp_release(struct sim_resp *r)
{
    hd_buf_release(&r->hbuf);
    hd_buf_release(&r->body);
    hd_buf_release(&r->tokens);
    memset(r, 0, sizeof(*r));
}

void
sim_resp_header(struct sim_resp *r, const char *name, const char *value)
{
    if (r->nhdrs >= SIM_RESP_MAX_HEADERS)
        return;
    if (put_pair(&r->hbuf, &r->hdrs[r->nhdrs], name, strlen(name), value,
                 strlen(value), 1) == 0)
        r->nhdrs++;
}

const char *
sim_resp_get_header(const struct sim_resp *r, const char *name)
{
    int i;

    for (i = 0; i < r->nhdrs; i++)
        if (strcmp(r->hbuf.data + r->hdrs[i].name, name) == 0)
            return r->hbuf.data + r->hdrs[i].value;
    return NULL;
}

void
sim_resp_set(struct sim_resp *r, int status, const char *ctype,
             const char *body, size_t len)
{
    r->status = status;
    hd_buf_reset(&r->body);
    if (len > r->body.max)
        len = r->body.max;
    if (len > 0)
        hd_buf_append(&r->body, body, len, NULL);
    if (ctype != NULL)
        sim_resp_header(r, "content-type", ctype);
}

void
sim_resp_outcome(struct sim_resp *r, const char *outcome)
{
    size_t n = strlen(outcome);

    if (n >= sizeof(r->outcome))
        n = sizeof(r->outcome) - 1;
    memcpy(r->outcome, outcome, n);
    r->outcome[n] = '\0';
}

void
sim_resp_add_token(struct sim_resp *r, const char *token, size_t len)
{
    if (hd_buf_append(&r->tokens, token, len, NULL) < 0)
        return;
    if (hd_buf_putc(&r->tokens, '\0', NULL) < 0) {
        r->tokens.len -= len;
        r->tokens.data[r->tokens.len] = '\0';
        return;
    }
    r->ntokens++;
}

void
sim_copy(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);

    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

void
sim_peer_init(struct sim_peer *p, uint64_t id)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
}

void
sim_peer_release(struct sim_peer *p)
{
    free(p->jwt);
    memset(p, 0, sizeof(*p));
}
