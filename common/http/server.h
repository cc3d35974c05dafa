/* server.h -- HTTP/1.1 server over libmicrohttpd: route table, body
 * limits, one JSON error shape, request ids, one access-log line per
 * request, and responses that may be sent later from any thread.
 *
 * common/http/ owns HTTP for every binary: this server (server.c: the
 * server, its threads and libmicrohttpd's callbacks; request.c: one
 * request and its response; route.c: matching) and the client
 * (client.h). Services bring only their route tables and handlers.
 *
 * Routes match a method and a path. A path is exact ("/api"), ends in "*"
 * for a prefix ("/api/" then "*"), or has {name} segments
 * ("/devices/identifier/{id}/token") read with hd_http_req_param(). An
 * unknown path gets 404, a known path with another method 405 with Allow,
 * a body over the route's limit 413 (a Content-Length over it before the
 * body is read; a chunked body is dropped, never buffered, past the limit
 * and refused when it ends), all in the one error shape:
 *
 *   {"error":"<code>","message":"<text>","request_id":"<id>"}
 *
 * A handler answers with exactly one hd_http_respond*() call, either before
 * it returns or later from any thread (after a Kafka acknowledgement, say):
 * the connection waits, suspended, until then. A route marked .blocking
 * runs its handler on the server's worker threads (HERALD_HTTP_WORKERS)
 * instead of the I/O threads, so it may wait on PostgreSQL.
 *
 * Connections are admitted by admit.c: a deadline for the request head
 * (HERALD_HTTP_HEAD_TIMEOUT_S), caps per client address and on half-open
 * connections that close the worst offender's oldest rather than refuse
 * a newcomer, and a lingering close after an early 413 so the client
 * reads it.
 *
 * Every request gets an id: the client's X-Request-Id when it is 1-64
 * characters of [A-Za-z0-9._-], otherwise a fresh one. It is echoed in the
 * X-Request-Id response header, set as the "req_id" log context while the
 * handler runs, and written in the access-log line (method, path without
 * the query string, status, bytes, duration, remote address). */
#ifndef HD_HTTP_SERVER_H
#define HD_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct hd_http_server;
struct hd_http_req;
struct hd_metrics;
struct hd_peer_trust;

typedef void hd_http_handler(struct hd_http_req *req, void *ud);

struct hd_http_route {
    const char *method; /* "GET", "POST", ...; NULL matches any */
    const char *path;   /* see above */
    hd_http_handler *handler;
    size_t max_body; /* 0 = HD_HTTP_MAX_BODY */
    int blocking;    /* 1: run on a worker thread */
};

struct hd_http_config {
    char *bind;          /* HERALD_HTTP_BIND, default 0.0.0.0 */
    int io_threads;      /* HERALD_HTTP_THREADS: MHD thread pool */
    int workers;         /* HERALD_HTTP_WORKERS: threads for blocking routes */
    int max_connections; /* HERALD_HTTP_MAX_CONNECTIONS */
    int timeout_s;       /* HERALD_HTTP_IDLE_TIMEOUT_S: idle connection */
    int head_timeout_s;  /* HERALD_HTTP_HEAD_TIMEOUT_S; 0: the default */
    int max_per_address; /* HERALD_HTTP_MAX_PER_ADDRESS; 0: no cap */
    int max_half_open;   /* HERALD_HTTP_MAX_HALF_OPEN; 0: no cap */
    int access_log;      /* HERALD_HTTP_ACCESS_LOG: 1 logs every request */
};

/* HERALD_HTTP_BIND, HERALD_HTTP_THREADS, HERALD_HTTP_WORKERS,
 * HERALD_HTTP_MAX_CONNECTIONS, HERALD_HTTP_IDLE_TIMEOUT_S,
 * HERALD_HTTP_HEAD_TIMEOUT_S, HERALD_HTTP_MAX_PER_ADDRESS,
 * HERALD_HTTP_MAX_HALF_OPEN, HERALD_HTTP_ACCESS_LOG. The port is the
 * service's own variable. */
extern const struct hd_config_field hd_http_config_fields[];

struct hd_http_tls {
    const char *cert_pem; /* PEM text (borrowed until start returns) */
    const char *key_pem;
};

/* new: a server on port (0 = any free port) that is not yet listening.
 * metrics may be NULL; when given, herald_http_requests_total{route,
 * method,status} and herald_http_request_duration_seconds{route} are
 * recorded. tls may be NULL for plain HTTP. */
struct hd_http_server *hd_http_server_new(const struct hd_http_config *cfg,
                                          int port,
                                          const struct hd_http_tls *tls,
                                          struct hd_metrics *metrics,
                                          struct hd_err *err);

/* Adds routes (the table is borrowed: static const) sharing ud. Call
 * before hd_http_server_start(). Returns 0 or -1 (too many routes). */
int hd_http_server_add_routes(struct hd_http_server *s,
                              const struct hd_http_route *routes, size_t n,
                              void *ud, struct hd_err *err);

/* Believes the forwarding header of the proxies in t (http/peer.h) for
 * hd_http_req_remote(). t is borrowed for the server's lifetime. Call
 * before hd_http_server_start(); without it the TCP peer is the client. */
void hd_http_server_trust(struct hd_http_server *s,
                          const struct hd_peer_trust *t);

/* Starts listening and serving. Returns 0 or -1 with err (port in use,
 * bad TLS material). */
int hd_http_server_start(struct hd_http_server *s, struct hd_err *err);

/* The port actually bound (useful after port 0). */
int hd_http_server_port(const struct hd_http_server *s);

/* Stops accepting new connections; requests in progress continue. */
void hd_http_server_quiesce(struct hd_http_server *s);

/* Waits up to timeout_ms for in-progress requests to be answered, then
 * stops the server and frees it. Requests still unanswered then get 503
 * {"error":"shutting_down"}; a handler that answers one of them later
 * must call only hd_http_respond*() on it (the answer is dropped and the
 * request freed). Blocking handlers already running are waited for.
 * NULL is a no-op. */
void hd_http_server_free(struct hd_http_server *s, int timeout_ms);

/* ---- request accessors: borrowed, valid until the response is sent ---- */

const char *hd_http_req_method(const struct hd_http_req *r);
const char *hd_http_req_path(const struct hd_http_req *r);
/* A query-string argument, or NULL. */
const char *hd_http_req_query(const struct hd_http_req *r, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *hd_http_req_header(const struct hd_http_req *r, const char *name);
/* A {name} path segment of the matched route, or NULL. */
const char *hd_http_req_param(const struct hd_http_req *r, const char *name);
/* The body (NUL-terminated for convenience; *len excludes the NUL). */
const char *hd_http_req_body(const struct hd_http_req *r, size_t *len);
const char *hd_http_req_id(const struct hd_http_req *r);
/* The client's address, "127.0.0.1" / "::1" style (IPv4-mapped IPv6 as
 * IPv4): the TCP peer, or, when the peer is a trusted proxy (see
 * hd_http_server_trust), the client its forwarding header names. */
const char *hd_http_req_remote(const struct hd_http_req *r);

/* ---- responses: exactly one per request, from any thread ---- */

/* Adds a response header (copied). Call before responding. */
void hd_http_req_add_header(struct hd_http_req *r, const char *name,
                            const char *value);

/* Sends status with body (copied; may be NULL with len 0) and
 * content_type (NULL for none). After this call r must not be touched. */
void hd_http_respond(struct hd_http_req *r, int status,
                     const char *content_type, const void *body, size_t len);

/* Sends body serialised compactly as application/json (not stolen). */
void hd_http_respond_json(struct hd_http_req *r, int status, json_t *body);

/* Sends the one error shape with code ("bad_request", "unauthorized", ...)
 * and a formatted message. */
void hd_http_respond_error(struct hd_http_req *r, int status, const char *code,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
