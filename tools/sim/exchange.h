/* exchange.h -- one request and its response, independent of HTTP/2 or
 * HTTP/1.1, plus what the providers remember about the connection.
 *
 * The transports (h2.c, h1.c) fill a struct sim_req, the provider modules
 * fill a struct sim_resp; neither side knows the other's wire format. All
 * buffers are bounded (SIM_REQ_*). Headers are stored with lowercase
 * names, pseudo-headers included (HTTP/1.1 requests get :method, :path,
 * :authority and :scheme too). Not thread-safe: one owner (the I/O thread
 * of the connection) at a time. */
#ifndef SIM_EXCHANGE_H
#define SIM_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "tools/sim/sim.h"

#define SIM_REQ_MAX_HEADERS 48
#define SIM_REQ_HEADER_BYTES 16384 /* APNs advertises 8000 */
#define SIM_RESP_MAX_HEADERS 12
#define SIM_RESP_HEADER_BYTES 2048
#define SIM_RESP_MAX_BODY (64 * 1024)
#define SIM_IDENTITY_MAX 160
#define SIM_OUTCOME_MAX 48

struct sim_hdr {
    uint32_t name; /* offset of the name in the header bytes */
    uint32_t nlen;
    uint32_t value; /* offset of the value */
    uint32_t vlen;
};

struct sim_req {
    struct hd_buf hbuf; /* "name\0value\0" ... */
    struct sim_hdr hdrs[SIM_REQ_MAX_HEADERS];
    int nhdrs;
    int hdr_overflow; /* a header was dropped: too many or too big */
    struct hd_buf body;
    int body_overflow; /* the body passed its limit and was cut */
    uint64_t conn_id;
    int32_t stream_id; /* HTTP/2 stream, or the request number on h1 */
    const char *proto; /* "h2" or "http/1.1": string literal */
};

enum sim_action {
    SIM_ACT_RESPOND = 0,
    SIM_ACT_STALL,  /* never answer */
    SIM_ACT_RST,    /* RST_STREAM h2_code (h1: close) */
    SIM_ACT_GOAWAY, /* GOAWAY h2_code with the body as debug data, close */
    SIM_ACT_CLOSE,  /* close the TCP connection at once */
};

struct sim_resp {
    int status;
    enum sim_action action;
    uint32_t h2_code;
    int delay_ms;       /* -1: the provider's default latency */
    struct hd_buf hbuf; /* response headers, "name\0value\0" */
    struct sim_hdr hdrs[SIM_RESP_MAX_HEADERS];
    int nhdrs;
    struct hd_buf body;
    /* for the recording */
    char outcome[SIM_OUTCOME_MAX];   /* "success" or the provider's code */
    char identity[SIM_IDENTITY_MAX]; /* team/kid, account, app id */
    struct hd_buf tokens;            /* device tokens, NUL-separated */
    int ntokens;
    int accepted;     /* 1: the provider took the message */
    int delivered;    /* messages (HMS: tokens) delivered */
    int oauth_issued; /* a token endpoint issued an access token */
};

/* What the providers keep per connection: negotiated protocol, the host
 * the client asked for in SNI, and the APNs authentication state. */
struct sim_peer {
    uint64_t id;
    char alpn[16];
    char sni[256];
    /* APNs provider-token state */
    char *jwt;            /* last accepted bearer token (new) */
    int64_t jwt_since_ms; /* virtual time it was accepted */
    int64_t jwt_iat;      /* its iat claim, seconds */
    char team[16];
    char kid[16];
    int authed; /* a request with a valid JWT was seen */
    /* APNs certificate authentication (TLS client certificate) */
    int cert;             /* the client presented one */
    int cert_ok;          /* it chains to the simulator's CA */
    char cert_topic[128]; /* its subject UID, "" if none */
    int wedged;           /* ExpiredProviderToken wedged the connection */
    /* what the transport should advertise as MAX_CONCURRENT_STREAMS;
     * providers change it, the transport sends SETTINGS when it moves */
    unsigned want_streams;
};

void sim_req_init(struct sim_req *r, size_t max_body);
void sim_req_reset(struct sim_req *r);
void sim_req_release(struct sim_req *r);

/* Adds a header (name lowercased). Over the limits the header is dropped
 * and hdr_overflow set. */
void sim_req_add_header(struct sim_req *r, const char *name, size_t nlen,
                        const char *value, size_t vlen);

/* Appends body bytes; past the limit sets body_overflow and drops them. */
void sim_req_add_body(struct sim_req *r, const void *p, size_t n);

/* The value of the first header called name (lowercase), or NULL.
 * Borrowed: valid until the request is reset. */
const char *sim_req_header(const struct sim_req *r, const char *name);

/* How many times header name occurs. */
int sim_req_header_count(const struct sim_req *r, const char *name);

/* The value of :authority (or host) without a port, lowercase, in out. */
void sim_req_host(const struct sim_req *r, char *out, size_t outlen);

void sim_resp_init(struct sim_resp *r);
void sim_resp_reset(struct sim_resp *r);
void sim_resp_release(struct sim_resp *r);

/* Adds a response header (copied); silently ignored past the limits. */
void sim_resp_header(struct sim_resp *r, const char *name, const char *value);

/* The value of a response header, or NULL. */
const char *sim_resp_get_header(const struct sim_resp *r, const char *name);

/* Sets status and body text (copied, cut at SIM_RESP_MAX_BODY) with a
 * content-type header when ctype is not NULL. */
void sim_resp_set(struct sim_resp *r, int status, const char *ctype,
                  const char *body, size_t len);

/* Sets the outcome label (cut to SIM_OUTCOME_MAX - 1). */
void sim_resp_outcome(struct sim_resp *r, const char *outcome);

/* Records a device token the request was for. */
void sim_resp_add_token(struct sim_resp *r, const char *token, size_t len);

/* Copies the C string src into dst (size n > 0), cut to n - 1 bytes and
 * always NUL-terminated. */
void sim_copy(char *dst, size_t n, const char *src);

void sim_peer_init(struct sim_peer *p, uint64_t id);
void sim_peer_release(struct sim_peer *p);

#endif
