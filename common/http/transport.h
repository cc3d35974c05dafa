/* transport.h -- the seam between hd_httpc (client.c: submissions from any
 * thread, the epoll loop, the transfer pool, completion callbacks) and a
 * transport that carries requests over the network: libcurl (curl.c) or
 * Herald's own HTTP/2 (h2.c). Not an API outside common/http/.
 *
 * curl's connection-filter shape: the client calls a transport only
 * through its const struct httpc_transport, and a transport never calls
 * into the client; it reports every finished transfer through the
 * complete() of the struct httpc_host it was created with. Everything
 * here runs on the client's loop thread.
 *
 * Invariant: a struct httpc_xfer is owned by exactly one place at a time:
 * the client's pending list (locked), one transport (from start() until
 * it calls host->complete()), or the client's pool. */
#ifndef HD_HTTP_TRANSPORT_H
#define HD_HTTP_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/client.h"

#define HTTPC_ERROR_LEN 256 /* libcurl's CURL_ERROR_SIZE */
#define HTTPC_TAG_SHIFT 62  /* epoll data: transport slot + 1 up here */
#define HTTPC_TAG_MASK (UINT64_C(3) << HTTPC_TAG_SHIFT)

/* The transports' slots: in the client's table and in httpc_xfer.priv. */
enum httpc_slot {
    HTTPC_SLOT_CURL = 0, /* always there: takes any URL */
    HTTPC_SLOT_H2,       /* with native_h2: takes https URLs first */
    HTTPC_TRANSPORTS,
};

/* One request on its way. The client fills req and the fields below it;
 * the transport fills the answer before reporting it. */
struct httpc_xfer {
    struct hd_httpc_req req;     /* borrowed pointers, copied struct */
    struct hd_buf body;          /* the answer's body, max cfg.max_response */
    struct hd_buf hdrs;          /* raw response header lines */
    int toobig;                  /* the body passed its ceiling */
    int status;                  /* HTTP status, when the answer is complete */
    int version;                 /* 1, 2 or 3 */
    char error[HTTPC_ERROR_LEN]; /* why it failed, "" when nothing says */
    /* Each transport's own state for this transfer, kept across reuses of
     * the pooled transfer and freed by that transport's xfer_free(). */
    void *priv[HTTPC_TRANSPORTS]; /* by enum httpc_slot */

    /* the client's: */
    hd_httpc_done_fn *cb;
    void *ud;
    uint64_t start_us;
    struct httpc_xfer *q; /* pending list, pool */
};

/* Reports a transfer as finished: the answer is in x (fail HD_HTTPC_OK)
 * or it failed for why (NULL: x->error, or the failure's name). The
 * transport has let go of x; its callback runs now, and it may submit
 * further requests. */
typedef void httpc_complete_fn(void *owner, struct httpc_xfer *x,
                               enum hd_httpc_fail fail, const char *why);

/* What a transport gets from the client at creation. */
struct httpc_host {
    int epfd;     /* register sockets here ... */
    uint64_t tag; /* ... with this OR-ed into the epoll data
                     (its slot + 1, shifted) */
    httpc_complete_fn *complete;
    void *owner;
    /* the client's settings with their defaults filled in */
    const struct hd_httpc_config *cfg;
};

struct httpc_transport {
    const char *name;
    /* new: the transport state. NULL with err on bad settings. */
    void *(*create)(const struct httpc_host *host, struct hd_err *err);
    /* Completes every transfer it holds with HD_HTTPC_ECANCEL. */
    void (*cancel)(void *t);
    /* Frees the state (after cancel()); NULL is a no-op. */
    void (*destroy)(void *t);
    /* Frees a transfer's priv slot of this transport (NULL: no-op). */
    void (*xfer_free)(void *priv);
    /* 1 when this transport carries x. */
    int (*wants)(void *t, const struct httpc_xfer *x);
    /* Takes x; completes it later, or at once when it cannot start. */
    void (*start)(void *t, struct httpc_xfer *x);
    /* Before the wait: completes what finished meanwhile and sends what
     * is queued. */
    void (*before)(void *t);
    /* Milliseconds until before()/after() have a deadline to honour, -1
     * for none. */
    int (*timeout)(void *t);
    /* Epoll readiness of something it registered; data without the tag.
     * 0, or -1 with err on a fatal error. */
    int (*event)(void *t, uint64_t data, uint32_t events, struct hd_err *err);
    /* After the events: due timers, completions, writes. 0 or -1 + err. */
    int (*after)(void *t, struct hd_err *err);
};

/* libcurl's multi_socket API: any URL, HTTP/1.1 or HTTP/2 (curl.c). */
extern const struct httpc_transport httpc_curl_transport;

/* nghttp2 over OpenSSL: https URLs only, HTTP/2 only (h2.c). */
extern const struct httpc_transport httpc_h2_transport;

#endif
