/* test_httpc.c -- unit tests for common/http/client.c against an in-process
 * HTTP/1.1 server (common/http/server): request shape, response headers,
 * many requests in flight at once, the body ceiling, timeouts, refused
 * connections, HTTP/2-only refusal, threaded mode and cancellation.
 * HTTP/2 multiplexing itself is exercised against herald-sim by the worker
 * integration tests. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/alloc.h"
#include "http/client.h"
#include "core/limits.h"

#define PARALLEL 40

struct srv {
    atomic_int seen;                    /* /gate requests arrived */
    struct hd_http_req *held[PARALLEL]; /* answered once all arrived */
    pthread_mutex_t m;
    struct hd_http_req *stalled; /* /stall: answered at the end */
};

static void
h_echo(struct hd_http_req *r, void *ud)
{
    json_t *j;
    size_t len = 0;
    const char *body = hd_http_req_body(r, &len);
    const char *x = hd_http_req_header(r, "X-Test");

    (void)ud;
    j = json_pack("{s:s, s:s, s:s%}", "method", hd_http_req_method(r), "x_test",
                  x ? x : "", "body", body ? body : "", len);
    hd_http_req_add_header(r, "Retry-After", "7");
    hd_http_req_add_header(r, "apns-id", "ABC-123");
    hd_http_respond_json(r, 201, j);
    json_decref(j);
}

static void
h_big(struct hd_http_req *r, void *ud)
{
    size_t n = HD_HTTPC_MAX_RESPONSE + 100;
    char *b = hd_xmalloc(n);

    (void)ud;
    memset(b, 'x', n);
    hd_http_respond(r, 200, "text/plain", b, n);
    free(b);
}

/* Holds every request until PARALLEL have arrived, then answers them all:
 * only a client with PARALLEL requests in flight at once gets answers. */
static void
h_gate(struct hd_http_req *r, void *ud)
{
    struct srv *s = ud;
    int i, n;

    pthread_mutex_lock(&s->m);
    n = atomic_fetch_add(&s->seen, 1);
    s->held[n] = r;
    if (n + 1 == PARALLEL) {
        for (i = 0; i < PARALLEL; i++) {
            hd_http_respond(s->held[i], 200, "text/plain", "ok", 2);
            s->held[i] = NULL;
        }
    }
    pthread_mutex_unlock(&s->m);
}

static void
h_stall(struct hd_http_req *r, void *ud)
{
    struct srv *s = ud;

    pthread_mutex_lock(&s->m);
    s->stalled = r;
    pthread_mutex_unlock(&s->m);
}

static const struct hd_http_route routes[] = {
    {"POST", "/echo", h_echo, 0, 0},  {"PUT", "/echo", h_echo, 0, 0},
    {"GET", "/big", h_big, 0, 0},     {"GET", "/gate", h_gate, 0, 0},
    {"GET", "/stall", h_stall, 0, 0},
};

struct done {
    int n;
    int fail[PARALLEL];
    int status[PARALLEL];
    char body[512];
    char retry_after[32];
    char apns_id[64];
};

static void
on_done(void *ud, const struct hd_httpc_resp *r)
{
    struct done *d = ud;

    if (d->n < PARALLEL) {
        d->fail[d->n] = r->fail;
        d->status[d->n] = r->status;
    }
    if (d->n == 0) {
        snprintf(d->body, sizeof(d->body), "%s", r->body);
        hd_httpc_header(r->headers, r->headers_len, "retry-after",
                        d->retry_after, sizeof(d->retry_after));
        hd_httpc_header(r->headers, r->headers_len, "APNS-ID", d->apns_id,
                        sizeof(d->apns_id));
    }
    d->n++;
}

static struct hd_http_server *
server(struct srv *s)
{
    struct hd_http_config cfg = test_config(0);

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->m, NULL);
    return start(&cfg, routes, sizeof(routes) / sizeof(routes[0]), s, NULL);
}

static void
server_stop(struct hd_http_server *hs, struct srv *s)
{
    pthread_mutex_lock(&s->m);
    if (s->stalled)
        hd_http_respond(s->stalled, 204, NULL, NULL, 0);
    s->stalled = NULL;
    pthread_mutex_unlock(&s->m);
    hd_http_server_free(hs, 1000);
    pthread_mutex_destroy(&s->m);
}

static struct hd_httpc *
client(enum hd_httpc_version v, int conns, int timeout_ms)
{
    struct hd_httpc_config cfg;
    struct hd_err err = {0};
    struct hd_httpc *c;

    memset(&cfg, 0, sizeof(cfg));
    cfg.version = v;
    cfg.max_connections = conns;
    cfg.timeout_ms = timeout_ms;
    c = hd_httpc_new(&cfg, &err);
    if (c == NULL)
        fprintf(stderr, "httpc: %s\n", err.msg);
    return c;
}

/* Runs the loop until want callbacks ran or 10 s passed. */
static void
run_until(struct hd_httpc *c, struct done *d, int want)
{
    uint64_t end = hd_now_mono_ms() + 10000;

    while (d->n < want && hd_now_mono_ms() < end)
        hd_httpc_run(c, 100, NULL);
}

static void
test_post_headers_and_body(void)
{
    struct srv s;
    struct hd_http_server *hs = server(&s);
    struct hd_httpc *c = client(HD_HTTPC_HTTP2, 2, 5000);
    struct hd_httpc_req q;
    struct done d;
    char url[128];

    ASSERT_NOT_NULL(hs);
    ASSERT_NOT_NULL(c);
    memset(&d, 0, sizeof(d));
    memset(&q, 0, sizeof(q));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port_of_server);
    q.url = url;
    q.headers[0] = "X-Test: hello";
    q.headers[1] = "Content-Type: application/json";
    q.nheaders = 2;
    q.body = "{\"a\":1}";
    q.len = 7;
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    ASSERT_INT_EQ(hd_httpc_inflight(c), 1);
    run_until(c, &d, 1);
    ASSERT_INT_EQ(d.n, 1);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_OK);
    ASSERT_INT_EQ(d.status[0], 201);
    ASSERT_STR_CONTAINS(d.body, "\"method\":\"POST\"");
    ASSERT_STR_CONTAINS(d.body, "\"x_test\":\"hello\"");
    ASSERT_STR_CONTAINS(d.body, "\"body\":\"{\\\"a\\\":1}\"");
    ASSERT_STR_EQ(d.retry_after, "7");
    ASSERT_STR_EQ(d.apns_id, "ABC-123");
    ASSERT_INT_EQ(hd_httpc_inflight(c), 0);

    /* a custom method goes out as such */
    memset(&d, 0, sizeof(d));
    q.method = "PUT";
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    run_until(c, &d, 1);
    ASSERT_STR_CONTAINS(d.body, "\"method\":\"PUT\"");
    hd_httpc_free(c);
    server_stop(hs, &s);
}

static void
test_many_in_flight(void)
{
    struct srv s;
    struct hd_http_server *hs = server(&s);
    struct hd_httpc *c = client(HD_HTTPC_HTTP1, PARALLEL, 8000);
    struct hd_httpc_req q;
    struct done d;
    char url[128];
    int i;

    ASSERT_NOT_NULL(hs);
    ASSERT_NOT_NULL(c);
    memset(&d, 0, sizeof(d));
    memset(&q, 0, sizeof(q));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/gate", port_of_server);
    q.url = url;
    for (i = 0; i < PARALLEL; i++)
        ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    run_until(c, &d, PARALLEL);
    ASSERT_INT_EQ(d.n, PARALLEL);
    for (i = 0; i < PARALLEL; i++) {
        ASSERT_INT_EQ(d.fail[i], HD_HTTPC_OK);
        ASSERT_INT_EQ(d.status[i], 200);
    }
    hd_httpc_free(c);
    server_stop(hs, &s);
}

static void
test_failures_are_distinct(void)
{
    struct srv s;
    struct hd_http_server *hs = server(&s);
    struct hd_httpc *c = client(HD_HTTPC_HTTP2, 2, 300);
    struct hd_httpc *h2 = client(HD_HTTPC_HTTP2_ONLY, 2, 3000);
    struct hd_httpc_req q;
    struct done d;
    char url[128];
    int closed_port;

    ASSERT_NOT_NULL(hs);
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(h2);
    memset(&q, 0, sizeof(q));
    q.url = url;

    /* body over the ceiling */
    memset(&d, 0, sizeof(d));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port_of_server);
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    run_until(c, &d, 1);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_ETOOBIG);
    ASSERT_INT_EQ(d.status[0], 0);

    /* no answer within the timeout */
    memset(&d, 0, sizeof(d));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stall", port_of_server);
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    run_until(c, &d, 1);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_ETIMEOUT);

    /* HTTP/1.1 where HTTP/2 is required */
    memset(&d, 0, sizeof(d));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port_of_server);
    q.body = "x";
    q.len = 1;
    ASSERT_INT_EQ(hd_httpc_submit(h2, &q, on_done, &d, NULL), 0);
    run_until(h2, &d, 1);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_EPROTO);
    q.body = NULL;
    q.len = 0;

    /* nothing listens: connect refused */
    closed_port = port_of_server;
    server_stop(hs, &s);
    memset(&d, 0, sizeof(d));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", closed_port);
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    run_until(c, &d, 1);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_ECONNECT);
    ASSERT_STR_EQ(hd_httpc_fail_name(HD_HTTPC_ECONNECT), "connect");

    /* too many headers is refused up front, without a callback */
    memset(&d, 0, sizeof(d));
    q.nheaders = HD_HTTPC_MAX_HEADERS + 1;
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), -1);
    ASSERT_INT_EQ(d.n, 0);
    hd_httpc_free(c);
    hd_httpc_free(h2);
}

static void
test_threaded_call_and_driven_call(void)
{
    struct srv s;
    struct hd_http_server *hs = server(&s);
    struct hd_httpc *t = client(HD_HTTPC_HTTP2, 2, 5000);
    struct hd_httpc *d = client(HD_HTTPC_HTTP2, 2, 5000);
    struct hd_httpc_reply rep;
    struct hd_httpc_req q;
    struct hd_err err = {0};
    char url[128], v[16];

    ASSERT_NOT_NULL(hs);
    ASSERT_NOT_NULL(t);
    ASSERT_NOT_NULL(d);
    memset(&q, 0, sizeof(q));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port_of_server);
    q.url = url;
    q.body = "t";
    q.len = 1;

    ASSERT_INT_EQ(hd_httpc_start(t, &err), 0);
    ASSERT_INT_EQ(hd_httpc_call(t, &q, &rep, &err), 0);
    ASSERT_INT_EQ(rep.status, 201);
    ASSERT_STR_CONTAINS(rep.body.data, "\"body\":\"t\"");
    ASSERT_STR_EQ(hd_httpc_header(rep.headers.data, rep.headers.len,
                                  "Retry-After", v, sizeof(v)),
                  "7");
    hd_httpc_reply_release(&rep);
    ASSERT_NULL(rep.body.data);

    ASSERT_INT_EQ(hd_httpc_call(d, &q, &rep, &err), 0);
    ASSERT_INT_EQ(rep.status, 201);
    hd_httpc_reply_release(&rep);

    /* a transport failure is -1 with the kind in the reply */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port_of_server);
    q.body = NULL;
    q.len = 0;
    ASSERT_INT_EQ(hd_httpc_call(t, &q, &rep, &err), -1);
    ASSERT_INT_EQ(rep.fail, HD_HTTPC_ETOOBIG);
    ASSERT_INT_EQ(err.code, HD_EUPSTREAM);
    hd_httpc_reply_release(&rep);
    hd_httpc_free(t);
    hd_httpc_free(d);
    server_stop(hs, &s);
}

static void
test_free_cancels_in_flight(void)
{
    struct srv s;
    struct hd_http_server *hs = server(&s);
    struct hd_httpc *c = client(HD_HTTPC_HTTP2, 2, 5000);
    struct hd_httpc_req q;
    struct done d;
    char url[128];

    ASSERT_NOT_NULL(hs);
    ASSERT_NOT_NULL(c);
    memset(&d, 0, sizeof(d));
    memset(&q, 0, sizeof(q));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/stall", port_of_server);
    q.url = url;
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0);
    hd_httpc_run(c, 50, NULL); /* in the multi */
    ASSERT_INT_EQ(hd_httpc_submit(c, &q, on_done, &d, NULL), 0); /* pending */
    hd_httpc_free(c);
    ASSERT_INT_EQ(d.n, 2);
    ASSERT_INT_EQ(d.fail[0], HD_HTTPC_ECANCEL);
    ASSERT_INT_EQ(d.fail[1], HD_HTTPC_ECANCEL);
    server_stop(hs, &s);
}

static void
test_header_lookup(void)
{
    const char *h = "HTTP/2 429\r\nretry-after: 120\r\nX-Empty:\r\n"
                    "apns-id:  A-B \r\n";
    char v[8];

    ASSERT_STR_EQ(hd_httpc_header(h, strlen(h), "Retry-After", v, sizeof(v)),
                  "120");
    ASSERT_STR_EQ(hd_httpc_header(h, strlen(h), "apns-id", v, sizeof(v)),
                  "A-B");
    ASSERT_STR_EQ(hd_httpc_header(h, strlen(h), "x-empty", v, sizeof(v)), "");
    ASSERT_NULL(hd_httpc_header(h, strlen(h), "retry", v, sizeof(v)));
    ASSERT_STR_EQ(v, "");
    /* truncated to the room given */
    ASSERT_STR_EQ(hd_httpc_header(h, strlen(h), "retry-after", v, 3), "12");
}

int
main(void)
{
    RUN_TEST(test_post_headers_and_body);
    RUN_TEST(test_many_in_flight);
    RUN_TEST(test_failures_are_distinct);
    RUN_TEST(test_threaded_call_and_driven_call);
    RUN_TEST(test_free_cancels_in_flight);
    RUN_TEST(test_header_lookup);
    return UNIT_DONE();
}
