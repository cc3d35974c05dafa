/* h2_state.h -- the state of hd_httpc's native HTTP/2 transport: types
 * only, shared by h2.c (connections, nghttp2, requests), h2_setup.c (TLS
 * context, connect-to rules, origins, the state's life; h2_setup.h) and
 * h2_queue.c (deadline heap, stream lists; h2_queue.h). It declares no
 * function, so the three depend on it and never, through it, on each
 * other. Not part of any public interface. Everything here is touched by
 * the client's loop thread only. */
#ifndef HD_HTTP_H2_STATE_H
#define HD_HTTP_H2_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "http/transport.h"

#define MAX_ORIGINS 16
#define MAX_MAP 16
#define HOST_MAX 256
#define NAMES_MAX 1024        /* lower-cased header names of one request */
#define OUT_CHUNK (64 * 1024) /* nghttp2 output gathered per write */
#define READ_CHUNK (64 * 1024)
#define WINDOW (1 << 20) /* our receive window per stream */
#define REFUSED_MAX 5    /* transparent resends of a refused stream */

enum cstate { C_CONNECT, C_TLS, C_READY, C_CLOSING };

struct h2_origin;
struct h2_conn;

struct h2_stream {
    nghttp2_nv nv[HD_HTTPC_MAX_HEADERS + 6];
    size_t nnv;
    char names[NAMES_MAX];
    char clen[24];
    size_t body_off;
    int32_t id;
    struct h2_origin *o;
    struct h2_conn *conn;           /* NULL while queued */
    struct httpc_xfer *prev, *next; /* origin queue, or connection list */
    uint64_t deadline;              /* mono ms */
    size_t heap_i;                  /* SIZE_MAX: not in the heap */
    int refused;                    /* REFUSED_STREAM answers so far */
};

struct h2_conn {
    struct h2 *h;
    struct h2_origin *o;
    int fd;
    SSL *ssl;
    nghttp2_session *ng;
    enum cstate state;
    int nstreams;
    uint32_t events;
    uint64_t deadline; /* connect + handshake */
    struct hd_buf out;
    size_t out_off;
    struct httpc_xfer *streams; /* submitted, not closed */
    struct h2_conn *next;
};

struct h2_origin {
    char host[HOST_MAX]; /* SNI, certificate name */
    int port;
    char authority[HOST_MAX + 8];
    char chost[HOST_MAX]; /* where to connect */
    int cport;
    struct h2_conn *conns;
    int nconns;
    struct httpc_xfer *qhead, *qtail;
    size_t nqueued;
    struct h2_origin *next;
};

struct h2_map {
    char host[HOST_MAX];  /* "" = any */
    int port;             /* 0 = any */
    char chost[HOST_MAX]; /* "" = same */
    int cport;            /* 0 = same */
};

struct h2 {
    struct httpc_host host; /* the epoll loop, and where transfers end */
    SSL_CTX *ctx;
    int max_conns, max_streams;
    int timeout_ms, connect_timeout_ms;
    struct h2_map map[MAX_MAP];
    size_t nmap;
    struct h2_origin *origins;
    size_t norigins;
    struct httpc_xfer **heap; /* timeouts, by deadline */
    size_t nheap, heapcap;
    unsigned char rbuf[READ_CHUNK];
};

/* The transfer's stream state (its slot in httpc_xfer.priv). */
static inline struct h2_stream *
h2_sx(struct httpc_xfer *x)
{
    return x->priv[HTTPC_SLOT_H2];
}

#endif
