/* admit.h -- connection admission for the HTTP server: who gets a
 * connection, and how long one may take to send its request head.
 *
 * server.c accepts sockets itself and hands them to libmicrohttpd; this
 * module sees each one from accept to close and keeps:
 *   - a deadline for the request head (HERALD_HTTP_HEAD_TIMEOUT_S after
 *     accept; HERALD_HTTP_IDLE_TIMEOUT_S after a keep-alive response),
 *     past which the socket is shut down whatever trickles in;
 *   - a cap on connections per TCP peer address (trusted proxies exempt);
 *   - a cap on connections still waiting for their head ("half-open"),
 *     enforced by closing the oldest half-open connection of the address
 *     holding the most of them, so a newcomer always gets in;
 *   - the overall connection cap, making room the same way before
 *     refusing;
 *   - lingering close after an early answer (hd_admit_linger).
 * Only server.c uses it. It never logs; it counts
 * herald_http_connections_rejected_total{reason} and the gauge
 * herald_http_connections{state}.
 *
 * Sockets are only ever shut down, never closed, here, and only between
 * libmicrohttpd's STARTED and CLOSED notifications, under the module's
 * lock: CLOSED comes before libmicrohttpd closes the descriptor, so a
 * number reused by another socket is never touched. */
#ifndef HD_HTTP_ADMIT_H
#define HD_HTTP_ADMIT_H

#include <sys/socket.h>

#include "core/err.h"

struct hd_admit;
struct hd_metrics;
struct hd_peer_trust;

struct hd_admit_config {
    int max_connections; /* admitted at once */
    int max_per_address; /* per TCP peer; 0: no cap */
    int max_half_open;   /* waiting for a head; 0: no cap */
    int head_timeout_s;  /* accept to complete head */
    int idle_timeout_s;  /* response to the next complete head */
    int plain;           /* 1: a refusal may be answered in clear text */
};

/* new: trust (borrowed, may be NULL) exempts proxies from the
 * per-address cap; metrics may be NULL. Starts the deadline thread.
 * NULL with err when the thread cannot start. */
struct hd_admit *hd_admit_new(const struct hd_admit_config *cfg,
                              const struct hd_peer_trust *trust,
                              struct hd_metrics *metrics, struct hd_err *err);

/* Stops the deadline thread and frees. Call after libmicrohttpd has
 * stopped (every CLOSED delivered). NULL is a no-op. */
void hd_admit_free(struct hd_admit *a);

/* The accepting thread, for a fresh socket: 1 admitted (hand it to
 * libmicrohttpd), 0 refused (the socket is closed). */
int hd_admit_accept(struct hd_admit *a, int fd, const struct sockaddr *sa,
                    socklen_t len);

/* The accepting thread: libmicrohttpd refused an admitted socket (and
 * closed it). */
void hd_admit_add_failed(struct hd_admit *a, int fd);

/* libmicrohttpd's connection notifications (its threads): started binds
 * the socket to *ctx, closed unbinds it. */
void hd_admit_started(struct hd_admit *a, int fd, void **ctx);
void hd_admit_closed(struct hd_admit *a, void **ctx);

/* A request head is complete (the first ahc() call of a request), and a
 * request is over with the connection kept alive. ctx is the connection's
 * socket context (may be NULL: not tracked). */
void hd_admit_head_done(struct hd_admit *a, void *ctx);
void hd_admit_idle(struct hd_admit *a, void *ctx);

/* The I/O thread, while queueing an answer before the request body was
 * read (an early 413): once libmicrohttpd closes the connection, what the
 * client still sends is read and discarded for up to HD_HTTP_LINGER_S
 * (HD_HTTP_LINGER_IDLE_S without data), so the close does not reset the
 * connection and destroy the answer unread. fd is the connection's socket
 * (duplicated here). At most HD_HTTP_LINGER_CONNS at once; past that the
 * close is plain. */
void hd_admit_linger(struct hd_admit *a, void *ctx, int fd);

#endif
