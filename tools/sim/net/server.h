/* server.h -- the net/ folder's entry: the TLS port, HTTP/2 (ALPN h2, or
 * prior knowledge) and HTTP/1.1 for every provider, on HERALD_SIM_THREADS
 * epoll threads. net/ owns sockets, TLS, HTTP framing and the timers of
 * delayed answers; what to answer is route.h's (sim_dispatch). Inside,
 * server.c runs the threads, conn.c a connection's life, and h1.c / h2.c
 * the two HTTP versions behind struct sim_proto (conn.h).
 *
 * Each thread owns an SO_REUSEPORT listener, its connections and a timer
 * heap for delayed responses, so latency injection never blocks a
 * thread. Requests go through sim_dispatch() (route.h). Call
 * sim_server_new/start/stop/free from main()'s thread; the I/O threads
 * only read the shared context. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include "core/err.h"
#include "tools/sim/sim.h"

struct sim_server;

/* new: loads the certificate from ctx->creds, binds the listeners on
 * cfg.bind:cfg.port (0 = a free port, the same for every thread). NULL
 * with err. */
struct sim_server *sim_server_new(struct sim_ctx *ctx, struct hd_err *err);

/* The TLS port actually bound. */
int sim_server_port(const struct sim_server *s);

/* Starts the I/O threads. 0, or -1 with err (threads already started are
 * stopped again). */
int sim_server_start(struct sim_server *s, struct hd_err *err);

/* Wakes every thread so it applies a GOAWAY requested through
 * ctx->goaway. Thread-safe. */
void sim_server_kick(struct sim_server *s);

/* Sends GOAWAY to every connection, stops and joins the threads. */
void sim_server_stop(struct sim_server *s);

/* Closes everything. NULL is a no-op. */
void sim_server_free(struct sim_server *s);

#endif
