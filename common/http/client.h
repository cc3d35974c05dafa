/* client.h -- asynchronous HTTP client: HTTP/2 with many streams in
 * flight per connection and several connections per host.
 *
 * common/http/ owns HTTP for every binary: the server (server.h, with
 * route.h) and this client. The client (client.c) owns submissions, its
 * epoll loop, the transfer pool and the callbacks; it carries requests
 * through transports behind one vtable (transport.h): libcurl (curl.c)
 * and Herald's own HTTP/2 over nghttp2 (h2.c, h2_setup.c). No transport
 * calls back into the client except through the completion it is given.
 *
 * General-purpose: it knows nothing about push providers. Requests carry
 * their own URL, headers and body; answers come back through a callback
 * with the status, the (bounded) body, the raw response headers, or a
 * transport failure kind that is distinct from any HTTP status. It never
 * retries: the caller decides what a failure means.
 *
 * Threading contract. A client is driven by exactly one thread, its loop
 * thread, which is either
 *   - the caller's thread calling hd_httpc_run() in its own loop (driven
 *     mode; the first thread to call hd_httpc_run() becomes the loop
 *     thread), or
 *   - the client's own thread, after hd_httpc_start() (threaded mode).
 * hd_httpc_submit() and hd_httpc_wakeup() may be called from any thread.
 * Completion callbacks always run on the loop thread, inside
 * hd_httpc_run(), and may submit further requests. hd_httpc_call() blocks
 * for one answer: from the loop thread in driven mode (other callbacks may
 * run meanwhile), or from any thread except the loop thread in threaded
 * mode. hd_httpc_free() must not race with any other call. */
#ifndef HD_HTTPC_H
#define HD_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "core/buf.h"
#include "core/err.h"

#define HD_HTTPC_MAX_HEADERS 16               /* request headers per request */
#define HD_HTTPC_MAX_RESP_HEADERS (16 * 1024) /* raw response headers kept */

enum hd_httpc_version {
    HD_HTTPC_HTTP2 = 0,  /* HTTP/2 over TLS (ALPN), HTTP/1.1 otherwise */
    HD_HTTPC_HTTP1,      /* HTTP/1.1 only */
    HD_HTTPC_HTTP2_ONLY, /* like HTTP2, but an HTTP/1.x answer fails */
};

struct hd_httpc_config {
    int max_connections; /* per host (0 = 4) */
    int max_streams;     /* per HTTP/2 connection, 1..1000 (0 = 100) */
    enum hd_httpc_version version;
    int timeout_ms;         /* default whole-request timeout (0 = 10 s) */
    int connect_timeout_ms; /* TCP + TLS (0 = 5 s) */
    const char *ca_file;    /* CA bundle, NULL for the system store */
    /* Comma-separated CURLOPT_CONNECT_TO entries
     * "HOST:PORT:CONNECT-HOST:CONNECT-PORT" ("::127.0.0.1:8443" sends
     * every host there), so real hostnames (SNI, :authority, certificate
     * checks) can be served by a simulator. NULL or "" for none. */
    const char *connect_to;
    const char *cert_file;    /* TLS client certificate, or NULL */
    const char *cert_type;    /* "PEM" (default) or "P12" */
    const char *key_file;     /* private key when not in cert_file */
    const char *key_password; /* for the key or the P12, or NULL */
    /* 1: https requests go through Herald's own HTTP/2 client (nghttp2 on
     * OpenSSL) instead of libcurl: every stream of a connection leaves in
     * one TLS write per loop turn, which costs several times less CPU per
     * request. The server must speak h2 (ALPN); otherwise the request
     * fails with HD_HTTPC_EPROTO. http:// URLs still use libcurl. */
    int native_h2;
    /* Called with every address just before a connection to it is opened
     * (the address actually used, after name resolution and connect-to
     * rules, so DNS rebinding cannot slip past it): 0 refuses it and the
     * request fails with HD_HTTPC_ECONNECT without a packet sent to that
     * address. NULL: every address is allowed. Loop thread. */
    int (*addr_ok)(void *ud, const struct sockaddr *sa);
    void *addr_ud;
    /* The largest response body kept (0 = HD_HTTPC_MAX_RESPONSE, which
     * suits provider answers; a client of Herald's own list APIs needs
     * more). */
    size_t max_response;
};

/* One request. Everything is borrowed until the callback runs (or, for
 * hd_httpc_call(), until it returns). */
struct hd_httpc_req {
    const char *method; /* NULL: POST when there is a body, else GET */
    const char *url;
    const char *headers[HD_HTTPC_MAX_HEADERS]; /* "Name: value" lines */
    size_t nheaders;
    const void *body; /* may be NULL */
    size_t len;
    int timeout_ms; /* 0: the client's default */
};

enum hd_httpc_fail {
    HD_HTTPC_OK = 0,   /* a response arrived, whatever its status */
    HD_HTTPC_ECONNECT, /* name resolution or TCP connect failed */
    HD_HTTPC_ETLS,     /* TLS handshake or certificate problem */
    HD_HTTPC_ETIMEOUT, /* no complete answer within the timeout */
    HD_HTTPC_ESTREAM,  /* stream reset, GOAWAY, connection lost mid-way */
    HD_HTTPC_ETOOBIG,  /* body over the max_response */
    HD_HTTPC_EPROTO,   /* bad response, or HTTP/1.x where 2 is required */
    HD_HTTPC_ECANCEL,  /* the client was freed first */
    HD_HTTPC_EOTHER,   /* anything else (bad URL, out of handles...) */
};

/* "ok", "connect", "tls", "timeout", "stream", "toobig", "proto",
 * "cancel", "other": stable names for logs and metrics. */
const char *hd_httpc_fail_name(enum hd_httpc_fail f);

/* What a callback sees; every pointer is borrowed for the callback only. */
struct hd_httpc_resp {
    enum hd_httpc_fail fail;
    int status;       /* HTTP status, 0 when fail != HD_HTTPC_OK */
    int http_version; /* 1 or 2 (0 when no response) */
    const char *body; /* NUL-terminated; "" when empty */
    size_t len;
    const char *headers; /* raw "Name: value\r\n" lines of the response */
    size_t headers_len;
    const char *error;    /* libcurl's message when fail != OK, else "" */
    uint64_t duration_us; /* submit to completion */
};

typedef void hd_httpc_done_fn(void *ud, const struct hd_httpc_resp *resp);

struct hd_httpc;

/* new: a client (strings in cfg are copied). NULL with err when libcurl
 * refuses the settings. */
struct hd_httpc *hd_httpc_new(const struct hd_httpc_config *cfg,
                              struct hd_err *err);

/* Completes every outstanding request with HD_HTTPC_ECANCEL (callbacks run
 * on the calling thread), stops the loop thread if started, closes every
 * connection and frees. NULL is a no-op. */
void hd_httpc_free(struct hd_httpc *c);

/* Queues req; cb(ud, resp) runs exactly once later on the loop thread.
 * Returns 0, or -1 with err (too many headers, client stopping) and cb
 * never runs. Any thread. */
int hd_httpc_submit(struct hd_httpc *c, const struct hd_httpc_req *req,
                    hd_httpc_done_fn *cb, void *ud, struct hd_err *err);

/* Driven mode: waits up to timeout_ms (-1 = until something happens) for
 * network activity, a due timer or a wake-up, advances every transfer and
 * runs the callbacks of those that completed. Returns the number of
 * callbacks run (>= 0), or -1 with err on a fatal multi error. Loop
 * thread only. */
int hd_httpc_run(struct hd_httpc *c, int timeout_ms, struct hd_err *err);

/* Makes a waiting hd_httpc_run() return soon. Any thread. */
void hd_httpc_wakeup(struct hd_httpc *c);

/* Threaded mode: starts the client's own loop thread. Returns 0 or -1. */
int hd_httpc_start(struct hd_httpc *c, struct hd_err *err);

/* Requests submitted and not yet completed. Any thread. */
long hd_httpc_inflight(struct hd_httpc *c);

/* A complete answer owned by the caller (hd_httpc_call()). */
struct hd_httpc_reply {
    enum hd_httpc_fail fail;
    int status;
    int http_version;
    struct hd_buf body;    /* max the client's max_response */
    struct hd_buf headers; /* max HD_HTTPC_MAX_RESP_HEADERS */
    char error[256];
};

/* Frees the buffers and leaves a zeroed struct. */
void hd_httpc_reply_release(struct hd_httpc_reply *r);

/* Sends req and waits for its answer (see the threading contract). out is
 * initialised here. Returns 0 when a response arrived (any status), or -1
 * with err (HD_EUPSTREAM, or HD_ETIMEDOUT) and out->fail saying why. Release
 * out in both cases. */
int hd_httpc_call(struct hd_httpc *c, const struct hd_httpc_req *req,
                  struct hd_httpc_reply *out, struct hd_err *err);

/* Finds header name (case-insensitive) in raw response header lines and
 * copies its value, trimmed, into out (truncated to outlen - 1). Returns
 * out, or NULL when absent (out then holds ""). */
const char *hd_httpc_header(const char *headers, size_t len, const char *name,
                            char *out, size_t outlen);

#endif
