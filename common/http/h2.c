/* h2.c -- hd_httpc's native HTTP/2 transport: nghttp2 sessions over
 * non-blocking OpenSSL connections, driven by the client's epoll loop.
 *
 * Why it exists: libcurl writes every stream's frames with their own TLS
 * record and system call. Here nghttp2 serialises into a per-connection
 * buffer that leaves in one SSL_write per loop turn, whatever the number
 * of streams. It does HTTP/2 over TLS only (ALPN h2; no cleartext, no
 * HTTP/1.1), with the client's CA file, connect-to rules, client
 * certificate, connection and stream limits, per-request timeouts and
 * bounded bodies (the TLS context, connect-to rules and origins are set
 * up in h2_setup.c). Invariant: every transfer taken by h2_start() leaves
 * through host.complete() exactly once, and never from inside an
 * nghttp2 callback that could free its own session. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "http/h2_conn.h"
#include "http/h2_queue.h"
#include "http/h2_setup.h"
#include "core/limits.h"
#include "core/banned.h"

static void
h2_xfer_free(void *priv)
{
    free(priv);
}

/* Leaves the engine: off every list, then the callback. */
static void
finish(struct h2 *h, struct httpc_xfer *x, enum hd_httpc_fail f,
       const char *why)
{
    struct h2_stream *s = h2_sx(x);

    h2_heap_del(h, x);
    if (s->conn) {
        h2_list_del(&s->conn->streams, x);
        s->conn->nstreams--;
        s->conn = NULL;
    } else if (s->o) {
        h2_queue_del(s->o, x);
    }
    s->o = NULL;
    x->version = 2;
    h->host.complete(h->host.owner, x, f, why);
}

/* ---- connections --------------------------------------------------------- */

static void
conn_watch(struct h2_conn *k, uint32_t events)
{
    struct epoll_event ev;

    if (events == k->events)
        return;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.u64 = k->h->host.tag | (uint64_t)(uintptr_t)k;
    epoll_ctl(k->h->host.epfd, k->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, k->fd,
              &ev);
    k->events = events;
}

/* Closes k and fails the streams it carries with f. When it never became
 * ready and no other connection of the origin is, the queue fails too:
 * the caller's retry policy decides, not a reconnect loop here. */
void
h2_conn_close(struct h2_conn *k, enum hd_httpc_fail f, const char *why)
{
    struct h2 *h = k->h;
    struct h2_origin *o = k->o;
    struct h2_conn **pp;
    int never_ready = k->state < C_READY;

    for (pp = &o->conns; *pp; pp = &(*pp)->next)
        if (*pp == k)
            break;
    if (*pp)
        *pp = k->next;
    o->nconns--;
    while (k->streams)
        finish(h, k->streams, f, why);
    if (k->fd >= 0) {
        epoll_ctl(h->host.epfd, EPOLL_CTL_DEL, k->fd, NULL);
        close(k->fd);
    }
    if (k->ng)
        nghttp2_session_del(k->ng);
    if (k->ssl)
        SSL_free(k->ssl);
    hd_buf_release(&k->out);
    free(k);
    if (never_ready && o->nconns == 0)
        while (o->qhead)
            finish(h, o->qhead, f, why);
}

static int
is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* Starts a TCP connection to the origin's target. NULL after failing the
 * origin's queue when even that is impossible. */
static struct h2_conn *
conn_open(struct h2 *h, struct h2_origin *o)
{
    struct addrinfo hints, *ai = NULL;
    struct h2_conn *k;
    char port[16];
    int one = 1, rc, fd;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", o->cport);
    /* Blocking resolution on the loop thread: once per connection, and
     * usually of a literal address (connect-to) or a cached name. */
    rc = getaddrinfo(o->chost, port, &hints, &ai);
    if (rc != 0)
        return NULL;
    if (h->host.cfg->addr_ok &&
        !h->host.cfg->addr_ok(h->host.cfg->addr_ud, ai->ai_addr)) {
        freeaddrinfo(ai);
        return NULL;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0 && errno != EINPROGRESS) {
        close(fd);
        return NULL;
    }
    k = hd_xcalloc(1, sizeof(*k));
    k->h = h;
    k->o = o;
    k->fd = fd;
    k->state = C_CONNECT;
    k->deadline = hd_now_mono_ms() + (uint64_t)h->connect_timeout_ms;
    hd_buf_init(&k->out, OUT_CHUNK + 16384);
    k->next = o->conns;
    o->conns = k;
    o->nconns++;
    conn_watch(k, EPOLLOUT);
    return k;
}

/* ---- nghttp2 callbacks -----------------------------------------------------
 */

static int
on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
          size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
          void *ud)
{
    struct httpc_xfer *x =
        nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    int st = 0;
    size_t i;

    (void)flags;
    (void)ud;
    if (x == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        for (i = 0; i < valuelen && i < 3; i++)
            st = st * 10 + (value[i] - '0');
        if (st >= 100 && st < 200) /* informational: a new block follows */
            hd_buf_reset(&x->hdrs);
        else
            x->status = st;
        return 0;
    }
    /* past the ceiling, later headers are dropped: they are advisory */
    if (x->hdrs.len + namelen + valuelen + 4 <= x->hdrs.max) {
        hd_buf_append(&x->hdrs, name, namelen, NULL);
        hd_buf_append(&x->hdrs, ": ", 2, NULL);
        hd_buf_append(&x->hdrs, value, valuelen, NULL);
        hd_buf_append(&x->hdrs, "\r\n", 2, NULL);
    }
    return 0;
}

static int
on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
        size_t len, void *ud)
{
    struct httpc_xfer *x = nghttp2_session_get_stream_user_data(ng, id);

    (void)flags;
    (void)ud;
    if (x == NULL || x->toobig)
        return 0;
    if (hd_buf_append(&x->body, data, len, NULL) < 0) {
        x->toobig = 1;
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    return 0;
}

static int
on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *ud)
{
    struct h2_conn *k = ud;
    struct httpc_xfer *x = nghttp2_session_get_stream_user_data(ng, id);
    char why[96];

    if (x == NULL)
        return 0; /* timed out earlier, already completed */
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    if (code == NGHTTP2_REFUSED_STREAM && x->status == 0 &&
        h2_sx(x)->refused++ < REFUSED_MAX) {
        /* never processed (over the peer's stream limit, or past a
         * GOAWAY): send it again, on this or another connection */
        h2_list_del(&k->streams, x);
        k->nstreams--;
        h2_sx(x)->conn = NULL;
        hd_buf_reset(&x->hdrs);
        hd_buf_reset(&x->body);
        h2_queue_add(k->o, x);
        return 0;
    }
    if (x->toobig) {
        finish(k->h, x, HD_HTTPC_ETOOBIG, "response body over the limit");
    } else if (code == NGHTTP2_NO_ERROR && x->status > 0) {
        finish(k->h, x, HD_HTTPC_OK, NULL);
    } else {
        snprintf(why, sizeof(why), "stream closed: %s",
                 nghttp2_http2_strerror(code));
        finish(k->h, x, HD_HTTPC_ESTREAM, why);
    }
    return 0;
}

static int
on_frame(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
    struct h2_conn *k = ud;

    (void)ng;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        k->state = C_CLOSING; /* no new streams; nghttp2 fails the refused */
    return 0;
}

static ssize_t
read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    struct httpc_xfer *x = src->ptr;
    size_t left = x->req.len - h2_sx(x)->body_off;
    size_t n = left < len ? left : len;

    (void)ng;
    (void)id;
    (void)ud;
    memcpy(buf, (const char *)x->req.body + h2_sx(x)->body_off, n);
    h2_sx(x)->body_off += n;
    if (h2_sx(x)->body_off == x->req.len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- connection I/O -------------------------------------------------------
 */

static int
tls_fail_text(struct h2_conn *k, char *out, size_t n)
{
    long vr = k->ssl ? SSL_get_verify_result(k->ssl) : X509_V_OK;
    unsigned long e = ERR_get_error();
    char buf[160];

    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    if (vr != X509_V_OK)
        return snprintf(out, n, "TLS: certificate: %s",
                        X509_verify_cert_error_string(vr));
    return snprintf(out, n, "TLS handshake with %.64s: %.150s", k->o->host,
                    e ? buf : "connection closed");
}

int
h2_session_new(struct h2_conn *k)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[2] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW},
    };
    int rc;

    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    rc = nghttp2_session_client_new(&k->ng, cb, k);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    if (nghttp2_submit_settings(k->ng, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(k->ng, NGHTTP2_FLAG_NONE, 0,
                                              WINDOW * 4) != 0)
        return -1;
    return 0;
}

/* Writes what is buffered, then what nghttp2 has, in chunks of one TLS
 * write each. Returns 0, or -1 after closing k. */
static int
conn_flush(struct h2_conn *k)
{
    for (;;) {
        if (k->out_off < k->out.len) {
            int n = SSL_write(k->ssl, k->out.data + k->out_off,
                              (int)(k->out.len - k->out_off));

            if (n <= 0) {
                int e = SSL_get_error(k->ssl, n);

                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
                    conn_watch(k, EPOLLIN | EPOLLOUT);
                    return 0;
                }
                ERR_clear_error();
                h2_conn_close(k, HD_HTTPC_ESTREAM, "connection lost on write");
                return -1;
            }
            k->out_off += (size_t)n;
            continue;
        }
        hd_buf_reset(&k->out);
        k->out_off = 0;
        while (k->out.len < OUT_CHUNK) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(k->ng, &p);

            if (n < 0) {
                h2_conn_close(k, HD_HTTPC_ESTREAM, nghttp2_strerror((int)n));
                return -1;
            }
            if (n == 0)
                break;
            hd_buf_append(&k->out, p, (size_t)n, NULL);
        }
        if (k->out.len == 0)
            break;
    }
    conn_watch(k, EPOLLIN);
    if (!nghttp2_session_want_read(k->ng) &&
        !nghttp2_session_want_write(k->ng)) {
        h2_conn_close(k, HD_HTTPC_ESTREAM, "connection finished");
        return -1;
    }
    return 0;
}

static void
conn_handshake(struct h2_conn *k)
{
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;
    char why[HOST_MAX + 64];
    int rc, e;

    ERR_clear_error();
    rc = SSL_connect(k->ssl);
    if (rc != 1) {
        e = SSL_get_error(k->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) {
            conn_watch(k, EPOLLIN);
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            conn_watch(k, EPOLLOUT);
            return;
        }
        tls_fail_text(k, why, sizeof(why));
        h2_conn_close(k, HD_HTTPC_ETLS, why);
        return;
    }
    SSL_get0_alpn_selected(k->ssl, &alpn, &alen);
    if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
        h2_conn_close(k, HD_HTTPC_EPROTO, "the server does not speak HTTP/2");
        return;
    }
    if (h2_session_new(k) < 0) {
        h2_conn_close(k, HD_HTTPC_EOTHER, "nghttp2 session");
        return;
    }
    k->state = C_READY;
    conn_watch(k, EPOLLIN);
}

static void
conn_connected(struct h2_conn *k)
{
    struct h2_origin *o = k->o;
    int err = 0;
    socklen_t len = sizeof(err);
    char why[300];

    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        snprintf(why, sizeof(why), "connect %s:%d: %s", o->chost, o->cport,
                 strerror(err ? err : errno));
        h2_conn_close(k, HD_HTTPC_ECONNECT, why);
        return;
    }
    k->ssl = SSL_new(k->h->ctx);
    if (k->ssl == NULL || SSL_set_fd(k->ssl, k->fd) != 1) {
        h2_conn_close(k, HD_HTTPC_ETLS, "SSL_new failed");
        return;
    }
    if (is_ip(o->host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(k->ssl), o->host);
    } else {
        SSL_set_tlsext_host_name(k->ssl, o->host);
        SSL_set1_host(k->ssl, o->host);
    }
    k->state = C_TLS;
    conn_handshake(k);
}

static void
conn_read(struct h2_conn *k)
{
    struct h2 *h = k->h;
    char why[HOST_MAX + 64];

    for (;;) {
        int n, e;
        ssize_t used;

        ERR_clear_error();
        n = SSL_read(k->ssl, h->rbuf, sizeof(h->rbuf));
        if (n <= 0) {
            e = SSL_get_error(k->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                break;
            if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
                snprintf(why, sizeof(why), "connection closed by %s",
                         k->o->host);
            else
                tls_fail_text(k, why, sizeof(why));
            h2_conn_close(k, HD_HTTPC_ESTREAM, why);
            return;
        }
        used = nghttp2_session_mem_recv(k->ng, h->rbuf, (size_t)n);
        if (used < 0) {
            h2_conn_close(k, HD_HTTPC_ESTREAM, nghttp2_strerror((int)used));
            return;
        }
    }
    conn_flush(k);
}

static int
h2_event(void *t, uint64_t data, uint32_t events, struct hd_err *err)
{
    struct h2_conn *k = (struct h2_conn *)(uintptr_t)data;

    (void)t;
    (void)err;
    switch (k->state) {
    case C_CONNECT:
        conn_connected(k);
        break;
    case C_TLS:
        conn_handshake(k);
        break;
    case C_READY:
    case C_CLOSING:
        if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            conn_read(k);
        else if (events & EPOLLOUT)
            conn_flush(k);
        break;
    }
    return 0;
}

/* ---- requests -------------------------------------------------------------
 */

/* Fills the pseudo-headers and the lower-cased request headers. 0 or -1. */
static int
build_nv(struct httpc_xfer *x, struct h2_origin *o, const char *path)
{
    static const char *const hop[] = {"connection",
                                      "keep-alive",
                                      "host",
                                      "proxy-connection",
                                      "transfer-encoding",
                                      "upgrade",
                                      "expect",
                                      "te",
                                      NULL};
    struct h2_stream *s = h2_sx(x);
    const struct hd_httpc_req *q = &x->req;
    const char *method = q->method ? q->method : q->body ? "POST" : "GET";
    size_t used = 0, i, k;

#define NV(n, nl, v, vl)                                                       \
    do {                                                                       \
        s->nv[s->nnv].name = (uint8_t *)(uintptr_t)(n);                        \
        s->nv[s->nnv].namelen = (nl);                                          \
        s->nv[s->nnv].value = (uint8_t *)(uintptr_t)(v);                       \
        s->nv[s->nnv].valuelen = (vl);                                         \
        s->nv[s->nnv].flags = NGHTTP2_NV_FLAG_NONE;                            \
        s->nnv++;                                                              \
    } while (0)

    s->nnv = 0;
    NV(":method", 7, method, strlen(method));
    NV(":scheme", 7, "https", 5);
    NV(":authority", 10, o->authority, strlen(o->authority));
    NV(":path", 5, path, strlen(path));
    for (i = 0; i < q->nheaders; i++) {
        const char *line = q->headers[i];
        const char *colon = strchr(line, ':');
        const char *v;
        size_t nl;
        int skip = 0;

        if (colon == NULL || colon == line)
            continue;
        nl = (size_t)(colon - line);
        if (used + nl > NAMES_MAX)
            return -1;
        for (k = 0; k < nl; k++)
            s->names[used + k] =
                (char)(line[k] >= 'A' && line[k] <= 'Z' ? line[k] + 32
                                                        : line[k]);
        for (k = 0; hop[k]; k++)
            skip |= nl == strlen(hop[k]) &&
                    memcmp(s->names + used, hop[k], nl) == 0;
        v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (skip || *v == '\0')
            continue; /* "Name:" alone removes a header, as with libcurl */
        NV(s->names + used, nl, v, strlen(v));
        used += nl;
    }
    if (q->body != NULL) {
        snprintf(s->clen, sizeof(s->clen), "%zu", q->len);
        NV("content-length", 14, s->clen, strlen(s->clen));
    }
#undef NV
    return 0;
}

void
h2_stream_submit(struct h2_conn *k, struct httpc_xfer *x)
{
    struct h2_stream *s = h2_sx(x);
    const char *path = strchr(x->req.url + 8, '/'); /* after https:// */
    nghttp2_data_provider prd;
    int32_t id;

    s->body_off = 0;
    prd.source.ptr = x;
    prd.read_callback = read_body;
    if (build_nv(x, k->o, path ? path : "/") < 0) {
        finish(k->h, x, HD_HTTPC_EOTHER, "request headers too large");
        return;
    }
    id = nghttp2_submit_request(k->ng, NULL, s->nv, s->nnv,
                                x->req.body ? &prd : NULL, x);
    if (id < 0) {
        finish(k->h, x, HD_HTTPC_EOTHER, nghttp2_strerror(id));
        return;
    }
    s->id = id;
    s->conn = k;
    h2_list_add(&k->streams, x);
    k->nstreams++;
}

/* Hands queued requests to ready connections with free streams, and opens
 * connections while the queue exceeds what the open ones can take. */
static void
dispatch(struct h2 *h, struct h2_origin *o)
{
    struct h2_conn *k, *best;
    struct httpc_xfer *x;
    long room;

    while (o->qhead) {
        best = NULL;
        for (k = o->conns; k; k = k->next)
            if (k->state == C_READY && k->nstreams < h->max_streams &&
                (best == NULL || k->nstreams < best->nstreams))
                best = k;
        if (best == NULL)
            break;
        x = o->qhead;
        h2_queue_del(o, x);
        h2_stream_submit(best, x);
    }
    if (o->qhead == NULL)
        return;
    room = 0;
    for (k = o->conns; k; k = k->next)
        if (k->state == C_CONNECT || k->state == C_TLS)
            room += h->max_streams;
    while ((long)o->nqueued > room && o->nconns < h->max_conns) {
        if (conn_open(h, o) == NULL) {
            char why[300];

            snprintf(why, sizeof(why), "cannot connect to %s:%d", o->chost,
                     o->cport);
            if (o->nconns == 0)
                while (o->qhead)
                    finish(h, o->qhead, HD_HTTPC_ECONNECT, why);
            return;
        }
        room += h->max_streams;
    }
}

static int
h2_wants(void *t, const struct httpc_xfer *x)
{
    (void)t;
    return strncasecmp(x->req.url, "https://", 8) == 0;
}

static void
h2_start(void *t, struct httpc_xfer *x)
{
    struct h2 *h = t;
    struct h2_origin *o = h2_origin_of(h, x->req.url);
    struct h2_stream *s;

    if (h2_sx(x) == NULL)
        x->priv[HTTPC_SLOT_H2] = hd_xcalloc(1, sizeof(struct h2_stream));
    s = h2_sx(x);
    s->conn = NULL;
    s->o = NULL;
    s->heap_i = SIZE_MAX;
    s->refused = 0;
    if (o == NULL) {
        x->version = 2;
        h->host.complete(h->host.owner, x, HD_HTTPC_EOTHER,
                         "bad URL, or too many hosts for one client");
        return;
    }
    s->o = o;
    s->deadline =
        hd_now_mono_ms() +
        (uint64_t)(x->req.timeout_ms > 0 ? x->req.timeout_ms : h->timeout_ms);
    h2_heap_add(h, x);
    h2_queue_add(o, x);
}

/* Timeouts, new connections and writes: before the wait, and again after
 * it to send what the callbacks queued, in one write per connection. */
static void
h2_tick(struct h2 *h)
{
    uint64_t now = hd_now_mono_ms();
    struct h2_origin *o;
    struct h2_conn *k, *next;

    while (h->nheap > 0 && h2_sx(h->heap[0])->deadline <= now) {
        struct httpc_xfer *x = h->heap[0];
        struct h2_stream *s = h2_sx(x);

        if (s->conn) {
            nghttp2_session_set_stream_user_data(s->conn->ng, s->id, NULL);
            nghttp2_submit_rst_stream(s->conn->ng, NGHTTP2_FLAG_NONE, s->id,
                                      NGHTTP2_CANCEL);
        }
        finish(h, x, HD_HTTPC_ETIMEOUT, "no answer within the timeout");
    }
    for (o = h->origins; o; o = o->next) {
        for (k = o->conns; k; k = next) {
            next = k->next;
            if (k->state < C_READY && k->deadline <= now)
                h2_conn_close(k, HD_HTTPC_ECONNECT, "connect timed out");
        }
        dispatch(h, o);
        for (k = o->conns; k; k = next) {
            next = k->next;
            if (k->state >= C_READY && nghttp2_session_want_write(k->ng) &&
                k->out_off >= k->out.len)
                conn_flush(k);
        }
    }
}

static void
h2_before(void *t)
{
    h2_tick(t);
}

static int
h2_after(void *t, struct hd_err *err)
{
    (void)err;
    h2_tick(t);
    return 0;
}

static int
h2_timeout(void *t)
{
    struct h2 *h = t;
    uint64_t now = hd_now_mono_ms();
    uint64_t at = UINT64_MAX;
    struct h2_origin *o;
    struct h2_conn *k;

    if (h->nheap > 0)
        at = h2_sx(h->heap[0])->deadline;
    for (o = h->origins; o; o = o->next)
        for (k = o->conns; k; k = k->next)
            if (k->state < C_READY && k->deadline < at)
                at = k->deadline;
    if (at == UINT64_MAX)
        return -1;
    return at > now ? (int)(at - now) : 0;
}

/* ---- the transport (created and destroyed in h2_setup.c) ------------- */

static void
h2_cancel(void *t)
{
    struct h2 *h = t;
    struct h2_origin *o;

    for (o = h->origins; o; o = o->next) {
        while (o->conns)
            h2_conn_close(o->conns, HD_HTTPC_ECANCEL, "client freed");
        while (o->qhead)
            finish(h, o->qhead, HD_HTTPC_ECANCEL, "client freed");
    }
}

const struct httpc_transport httpc_h2_transport = {
    .name = "nghttp2",
    .create = h2_create,
    .cancel = h2_cancel,
    .destroy = h2_destroy,
    .xfer_free = h2_xfer_free,
    .wants = h2_wants,
    .start = h2_start,
    .before = h2_before,
    .timeout = h2_timeout,
    .event = h2_event,
    .after = h2_after,
};
