/* conn.c -- one TLS connection on its I/O thread: handshake, protocol
 * detection, reads drained to WANT_READ, batched writes, the per-thread
 * stream objects and timer heap, and close.
 *
 * Everything here runs on the connection's own thread (conn.h). A stream
 * whose answer is delayed stays in the timer heap after its connection
 * closes, with conn NULL, and is freed when its timer fires. */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "tools/sim/net/conn.h"
#include "tools/sim/route.h"
#include "core/banned.h"

/* ---- streams and timers ---- */

struct sim_stream *
sim_stream_get(struct sim_thread *t)
{
    struct sim_stream *st = t->free_streams;

    if (st != NULL) {
        t->free_streams = st->next;
        t->nfree--;
    } else {
        st = hd_xcalloc(1, sizeof(*st));
        sim_req_init(&st->req, (size_t)t->ctx->cfg.max_body);
        sim_resp_init(&st->resp);
    }
    st->next = NULL;
    st->prev = NULL;
    return st;
}

void
sim_stream_put(struct sim_thread *t, struct sim_stream *st)
{
    /* keep small buffers for reuse; large ones go back to the heap */
    if (st->req.body.cap > 65536) {
        hd_buf_release(&st->req.body);
        hd_buf_init(&st->req.body, (size_t)t->ctx->cfg.max_body);
    }
    if (st->resp.tokens.cap > 65536) {
        hd_buf_release(&st->resp.tokens);
        hd_buf_init(&st->resp.tokens, 1024 * 1024);
    }
    sim_req_reset(&st->req);
    sim_resp_reset(&st->resp);
    st->conn = NULL;
    st->id = 0;
    st->body_off = 0;
    st->closed = 0;
    st->in_timer = 0;
    st->dispatched = 0;
    st->answered = 0;
    if (t->nfree >= SIM_FREE_STREAMS) {
        sim_req_release(&st->req);
        sim_resp_release(&st->resp);
        free(st);
        return;
    }
    st->prev = NULL;
    st->next = t->free_streams;
    t->free_streams = st;
    t->nfree++;
}

static void
unlink_stream(struct sim_conn *c, struct sim_stream *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else if (c->streams == st)
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->prev = NULL;
    st->next = NULL;
}

void
sim_stream_done(struct sim_conn *c, struct sim_stream *st)
{
    if (c->h1 == st)
        c->h1 = NULL;
    else
        unlink_stream(c, st);
    st->conn = NULL;
    if (!st->in_timer)
        sim_stream_put(c->t, st);
}

void
sim_timer_push(struct sim_thread *t, uint64_t due, struct sim_stream *st)
{
    size_t i;

    if (t->nheap == t->capheap) {
        t->capheap = t->capheap ? t->capheap * 2 : 256;
        t->heap = hd_xrealloc(t->heap, t->capheap * sizeof(*t->heap));
    }
    i = t->nheap++;
    while (i > 0 && t->heap[(i - 1) / 2].due > due) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = (struct sim_timer){due, st};
}

struct sim_stream *
sim_timer_pop(struct sim_thread *t)
{
    struct sim_stream *top = t->heap[0].st;
    struct sim_timer last = t->heap[--t->nheap];
    size_t i = 0;

    for (;;) {
        size_t l = 2 * i + 1;
        size_t m;

        if (l >= t->nheap)
            break;
        m = l + 1 < t->nheap && t->heap[l + 1].due < t->heap[l].due ? l + 1 : l;
        if (t->heap[m].due >= last.due)
            break;
        t->heap[i] = t->heap[m];
        i = m;
    }
    if (t->nheap > 0)
        t->heap[i] = last;
    return top;
}

/* ---- connections ---- */

void
sim_conn_close(struct sim_conn *c)
{
    struct sim_thread *t = c->t;

    while (c->streams != NULL)
        sim_stream_done(c, c->streams);
    if (c->h1 != NULL)
        sim_stream_done(c, c->h1);
    if (c->proto != NULL && c->proto->release != NULL)
        c->proto->release(c);
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    close(c->fd); /* also leaves the epoll set */
    hd_buf_release(&c->in);
    hd_buf_release(&c->out);
    sim_peer_release(&c->peer);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    free(c);
}

void
sim_conn_answer(struct sim_conn *c, struct sim_stream *st)
{
    if (c->proto->answer(c, st) < 0)
        c->closing = 1;
}

void
sim_conn_request(struct sim_conn *c, struct sim_stream *st)
{
    struct sim_thread *t = c->t;
    const struct sim_endpoint *ep;

    st->conn = c;
    st->dispatched = 1;
    st->req.conn_id = c->peer.id;
    ep = sim_dispatch(t->ctx, &c->peer, &st->req, &st->resp);
    if (ep != NULL && c->provider < 0)
        c->provider = (int)ep->provider;
    if (ep != NULL && ep->h2_only)
        c->apns_host = 1;
    if (st->resp.action == SIM_ACT_STALL)
        return;
    if (st->resp.delay_ms > 0) {
        st->in_timer = 1;
        sim_timer_push(t, t->now + (uint64_t)st->resp.delay_ms, st);
        return;
    }
    sim_conn_answer(c, st);
}

void
sim_conn_flush(struct sim_conn *c)
{
    while (!c->closing) {
        int n;
        int e;

        if (c->proto != NULL && c->proto->pull != NULL &&
            c->out.len < SIM_OUT_BATCH && c->proto->pull(c) < 0) {
            c->closing = 1;
            return;
        }
        if (c->out.len == 0)
            return;
        n = SSL_write(c->ssl, c->out.data,
                      c->out.len > INT_MAX ? INT_MAX : (int)c->out.len);
        if (n > 0) {
            hd_buf_consume(&c->out, (size_t)n);
            continue;
        }
        e = SSL_get_error(c->ssl, n);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
            c->closing = 1;
        ERR_clear_error();
        return;
    }
}

/* Flushes and closes when the connection is finished. Returns 1 when c
 * was freed. */
int
sim_conn_settle(struct sim_conn *c)
{
    sim_conn_flush(c);
    if (c->closing || (c->close_after_flush && c->out.len == 0) ||
        (c->proto != NULL && c->proto->done != NULL && c->out.len == 0 &&
         c->proto->done(c))) {
        sim_conn_close(c);
        return 1;
    }
    return 0;
}

/* A client certificate (APNs certificate authentication): whether it
 * chains to the simulator's CA, and its subject UID, the topic. */
static void
peer_cert(struct sim_conn *c)
{
    X509 *x = SSL_get1_peer_certificate(c->ssl);
    int n;

    if (x == NULL)
        return;
    c->peer.cert = 1;
    c->peer.cert_ok = SSL_get_verify_result(c->ssl) == X509_V_OK;
    n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_userId,
                                  c->peer.cert_topic,
                                  (int)sizeof(c->peer.cert_topic));
    if (n <= 0 || (size_t)n >= sizeof(c->peer.cert_topic) - 1)
        c->peer.cert_topic[0] = '\0';
    X509_free(x);
}

/* c speaks proto from now on (state H2 or H1). 0 or -1. */
static int
speak(struct sim_conn *c, enum sim_conn_state state,
      const struct sim_proto *proto)
{
    c->state = state;
    c->proto = proto;
    return proto->start != NULL ? proto->start(c) : 0;
}

static void
tls_ready(struct sim_conn *c)
{
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;
    const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
    const struct sim_endpoint *ep = sim_route_sni(sni);

    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
    if (alen > 0 && alen < sizeof(c->peer.alpn)) {
        memcpy(c->peer.alpn, alpn, alen);
        c->peer.alpn[alen] = '\0';
    }
    if (sni != NULL)
        sim_copy(c->peer.sni, sizeof(c->peer.sni), sni);
    peer_cert(c);
    if (ep != NULL) {
        c->provider = (int)ep->provider;
        c->apns_host = ep->h2_only;
    }
    if (alen == 2 && memcmp(alpn, "h2", 2) == 0) {
        if (speak(c, SIM_C_H2, c->t->srv->h2) < 0)
            c->closing = 1;
    } else if (alen == 8) {
        speak(c, SIM_C_H1, c->t->srv->h1);
    } else {
        c->state = SIM_C_DETECT;
    }
}

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* DETECT: HTTP/2 preface (prior knowledge) or HTTP/1.1. */
static int
detect(struct sim_conn *c)
{
    size_t pl = sizeof(preface) - 1;
    size_t n = c->in.len < pl ? c->in.len : pl;
    int rc;

    if (memcmp(c->in.data, preface, n) == 0 && c->in.len < pl)
        return 0; /* need more */
    if (n == pl && memcmp(c->in.data, preface, pl) == 0 &&
        c->t->ctx->cfg.h2_prior_knowledge) {
        if (speak(c, SIM_C_H2, c->t->srv->h2) < 0)
            return -1;
        rc = c->proto->recv(c, (const unsigned char *)c->in.data, c->in.len);
        hd_buf_reset(&c->in);
        return rc;
    }
    if (speak(c, SIM_C_H1, c->t->srv->h1) < 0)
        return -1;
    return c->proto->recv(c, NULL, 0); /* c->in holds the bytes */
}

static int
feed(struct sim_conn *c, const unsigned char *p, size_t n)
{
    if (c->proto != NULL)
        return c->proto->recv(c, p, n);
    if (hd_buf_append(&c->in, p, n, NULL) < 0)
        return -1;
    return detect(c);
}

void
sim_conn_io(struct sim_conn *c)
{
    struct sim_thread *t = c->t;

    c->active_ms = t->now;
    if (c->state == SIM_C_HANDSHAKE) {
        int r = SSL_do_handshake(c->ssl);

        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);

            ERR_clear_error();
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                sim_conn_close(c);
            return;
        }
        tls_ready(c);
    }
    while (!c->closing && !c->close_after_flush) {
        int n = SSL_read(c->ssl, t->rbuf, sizeof(t->rbuf));
        int e;

        if (n > 0) {
            if (feed(c, t->rbuf, (size_t)n) < 0)
                c->closing = 1;
            if (c->out.len >= SIM_OUT_BATCH)
                sim_conn_flush(c);
            continue;
        }
        e = SSL_get_error(c->ssl, n);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        c->closing = 1; /* EOF, reset or TLS error */
    }
    sim_conn_settle(c);
}

/* Takes over an accepted socket on thread t. */
void
sim_conn_new(struct sim_thread *t, int fd)
{
    struct epoll_event ev;
    struct sim_conn *c;
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = hd_xcalloc(1, sizeof(*c));
    c->t = t;
    c->fd = fd;
    c->provider = -1;
    c->created_ms = t->now;
    c->active_ms = t->now;
    sim_peer_init(&c->peer, sim_next_id(t->ctx));
    hd_buf_init(&c->in, SIM_H1_IN_MAX);
    hd_buf_init(&c->out, SIM_OUT_MAX);
    c->ssl = SSL_new(t->srv->ssl_ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        ERR_clear_error();
        if (c->ssl)
            SSL_free(c->ssl);
        close(fd);
        sim_peer_release(&c->peer);
        free(c);
        return;
    }
    SSL_set_accept_state(c->ssl);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = c;
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        sim_conn_close(c);
        return;
    }
    sim_conn_io(c);
}
