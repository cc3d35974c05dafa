/* httpc_private.h -- what httpc.c (the client, its loop and the libcurl
 * path) shares with httpc_h2.c (the native HTTP/2 path). Not an API.
 *
 * Invariant: a struct xfer is owned by exactly one place at a time: the
 * pending list (locked), libcurl's multi, an HTTP/2 origin queue or
 * connection, or the pool; httpc_complete() is the only way out of the
 * first four and runs the callback exactly once. */
#ifndef HD_HTTPC_PRIVATE_H
#define HD_HTTPC_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <curl/curl.h>

#include "http/client.h"

#define HTTPC_H2_TAG (UINT64_C(1) << 63) /* epoll data: an h2 connection */

struct h2;
struct h2_stream;

struct xfer {
    struct hd_httpc *c;
    CURL *easy;            /* libcurl path, kept across reuses */
    struct h2_stream *h2s; /* native path, kept across reuses */
    hd_httpc_done_fn *cb;
    void *ud;
    struct hd_httpc_req req; /* borrowed pointers, copied struct */
    struct hd_buf body;
    struct hd_buf hdrs;
    struct curl_slist nodes[HD_HTTPC_MAX_HEADERS + 1];
    char errbuf[CURL_ERROR_SIZE];
    int toobig;
    int status; /* filled before httpc_complete() */
    int version;
    uint64_t start_us;
    struct xfer *prev, *next; /* libcurl: active list */
    struct xfer *q;           /* pending list, pool */
};

struct hd_httpc {
    CURLM *multi;
    int epfd;
    int wakefd;
    uint64_t timer_at; /* mono ms, UINT64_MAX when curl wants none */
    enum hd_httpc_version version;
    int timeout_ms;
    int connect_timeout_ms;
    char *ca_file, *cert_file, *cert_type, *key_file, *key_password;
    struct curl_slist *connect_to;
    struct h2 *h2; /* NULL unless native_h2 */

    pthread_mutex_t lock; /* pending list, pool */
    struct xfer *pending, *pending_tail;
    struct xfer *pool;
    size_t npool;
    struct xfer *active; /* loop thread only */
    long ncompleted;     /* loop thread only */
    atomic_long inflight;
    atomic_int stopping;

    pthread_t loop;
    atomic_int have_loop;
    pthread_t thread;
    int threaded;
    atomic_int stop;
};

/* Runs x's callback with x->status/x->version (when fail is OK) and
 * recycles x. Loop thread. */
void httpc_complete(struct hd_httpc *c, struct xfer *x, enum hd_httpc_fail fail,
                    const char *why);

/* ---- httpc_h2.c ------------------------------------------------------- */

/* new: the native HTTP/2 engine for c (TLS context from cfg). NULL with
 * err on bad TLS material. */
struct h2 *h2_new(struct hd_httpc *c, const struct hd_httpc_config *cfg,
                  struct hd_err *err);

/* Completes everything it holds with HD_HTTPC_ECANCEL and frees. NULL is
 * a no-op. */
void h2_free(struct h2 *h);

/* Frees a transfer's stream scratch (NULL is a no-op). */
void h2_stream_free(struct h2_stream *s);

/* 1 when x (an https URL) goes through the native engine. */
int h2_wants(const struct h2 *h, const struct xfer *x);

/* Takes x: queues it on its origin and sends it when a stream is free. */
void h2_start(struct h2 *h, struct xfer *x);

/* Epoll readiness of the connection tagged in data. */
void h2_event(struct h2 *h, uint64_t data, uint32_t events);

/* Timeouts, new connections and writes: once per loop turn. */
void h2_tick(struct h2 *h);

/* Milliseconds until h2_tick() has a deadline to honour, -1 for none. */
int h2_timeout(struct h2 *h);

#endif
