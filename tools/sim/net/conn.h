/* conn.h -- the transport's internal types: I/O threads, TLS connections
 * and streams, shared by server.c (epoll, TLS, timers), h2.c (nghttp2)
 * and h1.c (HTTP/1.1). conn.c owns a connection's life and reaches the
 * HTTP version it speaks only through struct sim_proto, which h1.c and
 * h2.c implement and server.c hands over; they call back only the
 * request and stream functions of this header.
 *
 * Not a public API: only the transport files include it. Invariant: a
 * connection, its streams and its nghttp2 session belong to exactly one
 * I/O thread and are touched by no other; a stream outlives its
 * connection only while a delayed response for it sits in the thread's
 * timer heap (its conn pointer is then NULL). */
#ifndef SIM_CONN_H
#define SIM_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "tools/sim/exchange.h"
#include "tools/sim/sim.h"

#define SIM_READ_CHUNK (32 * 1024)
#define SIM_OUT_MAX (4 * 1024 * 1024)    /* plaintext queued for one conn */
#define SIM_OUT_BATCH (64 * 1024)        /* nghttp2 output per SSL_write */
#define SIM_H1_IN_MAX (16 * 1024 * 1024) /* buffered HTTP/1.1 input */
#define SIM_FREE_STREAMS 4096            /* stream objects kept for reuse */
#define SIM_SWEEP_MS 500                 /* idle/age checks */

struct sim_server;
struct sim_thread;
struct sim_conn;
struct sim_stream;

/* One HTTP version's side of a connection (h1.c, h2.c). NULL members do
 * nothing. Called on the connection's I/O thread. */
struct sim_proto {
    /* Starts the protocol on c (HTTP/2: the server SETTINGS). 0 or -1. */
    int (*start)(struct sim_conn *c);
    /* Feeds n bytes read from the peer; n = 0 after protocol detection,
     * when c->in already holds them. 0, or -1 when c must close. */
    int (*recv)(struct sim_conn *c, const unsigned char *p, size_t n);
    /* Sends st's answer (or its RST/GOAWAY/close action). 0, or -1 when
     * c must close. */
    int (*answer)(struct sim_conn *c, struct sim_stream *st);
    /* Moves pending output into c->out. 0 or -1. */
    int (*pull)(struct sim_conn *c);
    /* 1 when nothing is left to read or write (close c). */
    int (*done)(struct sim_conn *c);
    /* Frees the protocol's state; streams are already released. */
    void (*release)(struct sim_conn *c);
};

struct sim_stream {
    struct sim_conn *conn; /* NULL once the connection is gone */
    int32_t id;
    struct sim_req req;
    struct sim_resp resp;
    size_t body_off; /* response body bytes given to nghttp2 */
    int closed;      /* nghttp2 closed it */
    int in_timer;    /* a delayed response is queued */
    int dispatched;  /* the request went to the providers */
    int answered;
    struct sim_stream *prev;
    struct sim_stream *next; /* conn's live list, or the free list */
};

enum sim_conn_state {
    SIM_C_HANDSHAKE = 0,
    SIM_C_DETECT, /* TLS up, no ALPN: HTTP/2 preface or HTTP/1.1? */
    SIM_C_H2,
    SIM_C_H1,
};

struct sim_conn {
    struct sim_thread *t;
    int fd;
    SSL *ssl;
    enum sim_conn_state state;
    const struct sim_proto *proto; /* set with state H2 or H1 */
    struct sim_peer peer;
    int provider;  /* enum sim_provider once known, else -1 */
    int apns_host; /* SNI or first request named an APNs host */
    nghttp2_session *h2;
    unsigned cur_streams;       /* MAX_CONCURRENT_STREAMS last advertised */
    struct hd_buf in;           /* DETECT / HTTP/1.1 bytes not yet consumed */
    struct hd_buf out;          /* plaintext waiting for SSL_write */
    struct sim_stream *streams; /* live HTTP/2 streams */
    struct sim_stream *h1;      /* the HTTP/1.1 request being answered */
    int h1_busy;                /* its answer is delayed or stalled */
    int h1_close;               /* close once it is answered */
    int h1_continue;            /* 100 Continue already sent */
    int h1_parsing;             /* inside sim_h1_process (no re-entry) */
    int32_t h1_seq;             /* requests seen on this connection */
    int close_after_flush;      /* GOAWAY/close: stop once out is written */
    int closing;                /* close now */
    int goaway_sent;
    int h2_excess;       /* a stream over the limit: raw GOAWAY, close */
    int h2_frozen;       /* nothing more is taken from nghttp2 */
    uint64_t created_ms; /* monotonic */
    uint64_t active_ms;
    struct sim_conn *prev;
    struct sim_conn *next;
};

struct sim_timer {
    uint64_t due; /* monotonic ms */
    struct sim_stream *st;
};

struct sim_thread {
    struct sim_server *srv;
    struct sim_ctx *ctx;
    int idx;
    pthread_t tid;
    int started;
    int ep;   /* epoll */
    int lfd;  /* this thread's SO_REUSEPORT listener */
    int evfd; /* wake-up from other threads */
    struct sim_conn *conns;
    size_t nconns;
    struct sim_timer *heap;
    size_t nheap;
    size_t capheap;
    struct sim_stream *free_streams;
    size_t nfree;
    unsigned goaway_gen; /* last control-API GOAWAY applied */
    pthread_mutex_t qmu; /* guards q: sockets handed over by others */
    int *q;
    size_t nq;
    size_t capq;
    uint64_t now; /* monotonic ms, refreshed every loop */
    uint64_t next_sweep;
    unsigned char rbuf[SIM_READ_CHUNK];
};

struct sim_server {
    struct sim_ctx *ctx;
    SSL_CTX *ssl_ctx;
    struct sim_thread *threads;
    int nthreads;
    const struct sim_proto *h1; /* the protocols connections speak */
    const struct sim_proto *h2;
    int port;
    atomic_int stop;
    atomic_uint rr; /* round-robin: which thread gets the next socket */
};

/* ---- conn.c: connection lifecycle, used by server.c ---- */

/* Takes over an accepted socket on thread t (TLS handshake starts). */
void sim_conn_new(struct sim_thread *t, int fd);

/* Handles readiness: handshake, reads until WANT_READ, writes, close. */
void sim_conn_io(struct sim_conn *c);

/* Frees c and its streams (delayed ones stay with their timers). */
void sim_conn_close(struct sim_conn *c);

/* Writes what is queued (pulling from nghttp2) until the socket blocks. */
void sim_conn_flush(struct sim_conn *c);

/* Flushes, and closes c when it is finished. Returns 1 when c was freed. */
int sim_conn_settle(struct sim_conn *c);

/* Sends st's answer in the connection's protocol. */
void sim_conn_answer(struct sim_conn *c, struct sim_stream *st);

/* The thread's timer heap of delayed answers (monotonic ms). */
void sim_timer_push(struct sim_thread *t, uint64_t due, struct sim_stream *st);
struct sim_stream *sim_timer_pop(struct sim_thread *t);

/* ---- conn.c: shared by the protocol files ---- */

/* A request is complete: dispatch it and answer now or later. */
void sim_conn_request(struct sim_conn *c, struct sim_stream *st);

/* A stream object (reused when possible) with empty request/response. */
struct sim_stream *sim_stream_get(struct sim_thread *t);

/* Returns a stream object to the thread (freed past SIM_FREE_STREAMS). */
void sim_stream_put(struct sim_thread *t, struct sim_stream *st);

/* Unlinks st from its connection; frees it unless a timer still holds it
 * (then the timer frees it). */
void sim_stream_done(struct sim_conn *c, struct sim_stream *st);

#endif
