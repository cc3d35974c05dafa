/* hub_load.h -- what the modules of hub_load (the herald-hub load
 * client: main.c says what it does) share: the options, one connection,
 * the counters. */
#ifndef HUB_LOAD_H
#define HUB_LOAD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define RBUF (256 * 1024)
#define MAX_SRC 32
#define PEND_MAX (1024 * 1024) /* a partial frame we keep per connection */

enum lstate { L_CONNECTING, L_UPGRADING, L_HANDSHAKE, L_OPEN, L_DEAD };

struct lconn {
    int fd;
    uint8_t state;
    uint8_t ping_slot;
    uint8_t tries;       /* connection attempts that failed */
    uint8_t ever;        /* was open once (a later close is not retried) */
    unsigned char *pend; /* bytes of an incomplete frame, or NULL */
    uint32_t plen;
};

struct opts {
    const char *host;
    int port;
    const char *path;
    int conns;
    char *src[MAX_SRC];
    int nsrc;
    const char *secret;
    int users;
    const char *org;
    int json;
    int rate;
    int duration;
    long long expect;
    int ping;
    int stats_ms;
    int batch_ms; /* at least this long between two epoll sweeps */
    int raw;      /* plain WebSocket (no SignalR): every message counts */
    const char *send_path;
    /* sender */
    int send;
    int send_rate;
    const char *key;
    int type;
    int pad;
    const char *user;
    char **user_ids; /* --user-file, nuser_ids of them */
    int nuser_ids;
    const char *auth; /* --auth: "Bearer" (hub /send) or "apikey" (api) */
};

struct stats {
    long long open, failed, closed, deliveries, pings, bytes, retries;
    uint32_t *lat; /* microseconds */
    size_t nlat, caplat;
};

/* set by SIGINT/SIGTERM (main.c): stop, report, exit */
typedef volatile sig_atomic_t load_stop_flag;

/* ---- opts.c: the command line ---- */

/* Fills o from argv; prints the usage and exits 2 on a bad one. */
void load_parse_args(int argc, char **argv, struct opts *o);

/* ---- sender.c: --send ---- */

/* POSTs o->send notifications, one connection each. 0, or 1 when one was
 * not accepted. */
int load_run_sender(const struct opts *o, const load_stop_flag *stop);

/* ---- conns.c: the connections ---- */

/* Opens o->conns connections, holds them until o->duration or
 * o->expect deliveries, reporting every o->stats_ms. 0. */
int load_run_conns(const struct opts *o, const load_stop_flag *stop);

/* ---- ws.c: one connection's WebSocket and SignalR ---- */

/* Starts connection i towards o->host, registered in ep. 0 or -1. */
int load_open(struct lconn *c, const struct opts *o, int i, int ep);
/* The upgrade request with token tok, once connected. */
void load_upgrade(struct lconn *c, const struct opts *o, const char *tok,
                  int ep, int i);
/* Reads what c has (rbuf: RBUF bytes of scratch) and counts it in s. */
void load_on_readable(struct lconn *c, struct stats *s, const struct opts *o,
                      unsigned char *rbuf);
/* Sends one masked client frame (n < 126). */
void load_ws_send(struct lconn *c, int opcode, const void *p, size_t n);

/* ---- stats.c: clocks, latencies, the JSON lines ---- */

int64_t load_now_us(void);  /* wall clock, microseconds */
int64_t load_mono_ms(void); /* monotonic, milliseconds */
/* Counts one delivery of p (JSON or MessagePack) and its latency from
 * its BenchTs. */
void load_record(struct stats *s, const unsigned char *p, size_t n, int json);
/* Prints the counters since t0 as a JSON line; final adds latencies. */
void load_report(struct stats *s, int64_t t0, int final);

#endif
