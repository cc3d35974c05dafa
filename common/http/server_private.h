/* server_private.h -- what server.c and request.c share: the server
 * and request structs and the request's internal entry points.
 *
 * Nothing outside those two files includes it. The main invariant is the
 * request state machine: the fields under hd_http_req.mu decide who hands
 * the one response to libmicrohttpd, and who frees the request (the last
 * of MHD's completion and the handler's answer). */
#ifndef HD_HTTP_PRIVATE_H
#define HD_HTTP_PRIVATE_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"
#include "http/route.h"
#include "http/server.h"
#include "core/metrics.h"

#define HD_HTTP_ID_MAX 64 /* a client's X-Request-Id */

enum hd_http_req_state {
    HD_RS_RECEIVING, /* headers and body still arriving */
    HD_RS_ACTIVE,    /* dispatched; the I/O thread has not settled yet */
    HD_RS_SUSPENDED, /* connection suspended, waiting for the response */
    HD_RS_RESPONDED, /* resp ready for the I/O thread to queue */
    HD_RS_QUEUED,    /* handed to MHD */
};

struct hd_http_req {
    struct hd_http_server *s;
    struct MHD_Connection *conn;
    struct hd_http_req *prev; /* s->live, under s->mu */
    struct hd_http_req *next;
    int route;          /* index in s->router, -1: no path matched */
    const char *method; /* MHD's, valid for the request */
    const char *path;
    uint64_t start_us;
    unsigned err_status; /* 404/405/413/414 decided by the server */
    int early;           /* answered before the body: close, lingering */
    size_t max_body;
    size_t discarded;
    uint64_t drain_since_ms; /* monotonic: when discarding began, 0 */
    struct hd_buf body;
    struct hd_buf hdrs; /* "name\0value\0"... added by the handler */
    char *pbuf;         /* {param} values, NUL-separated */
    const char *pvals[HD_HTTP_ROUTE_MAX_PARAMS];
    char id[HD_HTTP_ID_MAX + 1];
    char remote[INET6_ADDRSTRLEN];
    pthread_mutex_t mu; /* the fields below */
    enum hd_http_req_state state;
    int handler_done; /* the handler's one response arrived */
    int forced;       /* the server answered for it at shutdown */
    int conn_gone;    /* MHD is done with the request */
    struct MHD_Response *resp;
    unsigned status;
    size_t resp_len;
};

struct hd_http_server {
    struct hd_http_config cfg;
    const struct hd_peer_trust *trust; /* borrowed; NULL: peers only */
    struct hd_metrics *metrics;        /* borrowed, may be NULL */
    struct hd_admit *admit;            /* admission: admit.h */
    char *bind;
    int port;
    char *cert;
    char *key;
    int lfd; /* ours: see accept_main() */
    pthread_t acceptor;
    struct MHD_Daemon *d;
    struct hd_http_router router;
    struct hd_metric_series *dur[HD_HTTP_MAX_ROUTES];
    struct hd_metric *m_reqs;
    struct hd_metric *m_dur;
    struct hd_metric_series *unmatched_dur;
    atomic_int quiesced;
    pthread_mutex_t mu; /* live list, mhd_err */
    pthread_cond_t idle;
    struct hd_http_req *live;
    size_t nlive;
    char mhd_err[HD_ERR_MSG_LEN];
    /* worker pool for .blocking routes: a fixed ring, never grown */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct hd_http_req **queue;
    size_t qcap;
    size_t qhead;
    size_t qlen;
    int qstop;
    pthread_t *workers;
    int nworkers;
};

/* new: a request in HD_RS_RECEIVING with its id and peer address. */
struct hd_http_req *hd_http_req_new_(struct hd_http_server *s,
                                     struct MHD_Connection *conn,
                                     const char *url, const char *method);
void hd_http_req_free_(struct hd_http_req *r);

/* Copies the {param} values of m out of the request path. */
void hd_http_req_set_params_(struct hd_http_req *r,
                             const struct hd_http_route_match *m);

/* Counts a finished request in the metrics and writes its access line
 * (MHD's completion callback). */
void hd_http_req_account_(struct hd_http_req *r,
                          enum MHD_RequestTerminationCode toe);

/* Aborts on a programming error (two answers to one request). */
void hd_http_misuse_(const char *what) __attribute__((noreturn));

#endif
