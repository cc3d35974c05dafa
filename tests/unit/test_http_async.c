/* test_http_async.c -- unit tests for common/http/server.c's answers
 * from other threads: both orders of the respond/return race, blocking
 * routes on workers (with their log context and access lines), worker
 * queue overload, and many clients at once with the metrics they leave. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/clock.h"
#include "http/server.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/banned.h"

/* ---- asynchronous answers ---- */

enum amode {
    A_RACE,   /* answer at once, racing the handler's return */
    A_BEFORE, /* answer while the handler still runs */
    A_AFTER,  /* answer once the handler has returned */
};

struct async {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct hd_http_req *q[1024];
    size_t head;
    size_t n;
    int stop;
    enum amode mode;
    unsigned long pushed;
    unsigned long answered;
    unsigned long returned;
    pthread_t th;
};

static void *
responder(void *p)
{
    struct async *a = p;
    struct hd_http_req *r;
    unsigned long seq;
    char body[64];

    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stop && a->n == 0)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->n == 0)
            break;
        r = a->q[a->head];
        a->head = (a->head + 1) % 1024;
        a->n--;
        seq = a->answered + 1;
        if (a->mode == A_AFTER)
            while (a->returned < seq)
                pthread_cond_wait(&a->cv, &a->mu);
        pthread_mutex_unlock(&a->mu);
        if (a->mode == A_AFTER)
            usleep(500); /* let the I/O thread suspend the connection */
        snprintf(body, sizeof(body), "async %s", hd_http_req_path(r));
        hd_http_respond(r, 200, "text/plain", body, strlen(body));
        pthread_mutex_lock(&a->mu);
        a->answered++;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static void
async_start(struct async *a, enum amode mode)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->mode = mode;
    pthread_create(&a->th, NULL, responder, a);
}

static void
async_stop(struct async *a)
{
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
}

static void
h_async(struct hd_http_req *r, void *ud)
{
    struct async *a = ud;
    unsigned long mine;

    pthread_mutex_lock(&a->mu);
    a->q[(a->head + a->n) % 1024] = r;
    a->n++;
    mine = ++a->pushed;
    pthread_cond_broadcast(&a->cv);
    if (a->mode == A_BEFORE)
        while (a->answered < mine)
            pthread_cond_wait(&a->cv, &a->mu);
    a->returned++;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void
h_inline(struct hd_http_req *r, void *ud)
{
    (void)ud;
    hd_http_respond(r, 200, "text/plain", "inline", 6);
}

struct client_arg {
    int port;
    int n;
    int ok;
    const char *path;
};

/* n requests over one keep-alive connection, alternating the path given
 * and /inline; counts the right answers. */
static void *
client(void *p)
{
    struct client_arg *ca = p;
    CURL *c = curl_easy_init();
    struct resp *rs = calloc(1, sizeof(*rs));
    char url[128];
    char want[128];
    int i;

    for (i = 0; i < ca->n; i++) {
        const char *path = i % 2 ? "/inline" : ca->path;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", ca->port, path);
        req_on(c, "GET", url, NULL, NULL, 0, rs);
        snprintf(want, sizeof(want), "%s%s", i % 2 ? "" : "async ",
                 i % 2 ? "inline" : path);
        if (rs->status == 200 && strcmp(rs->body, want) == 0)
            ca->ok++;
    }
    free(rs);
    curl_easy_cleanup(c);
    return NULL;
}

static void
run_async_mode(enum amode mode, int threads, int per_thread)
{
    struct async a;
    const struct hd_http_route routes[] = {
        {"GET", "/async", h_async, 0, 0},
        {"GET", "/inline", h_inline, 0, 0},
    };
    struct hd_http_config cfg = test_config(0);
    struct hd_http_server *s;
    struct client_arg ca[8];
    pthread_t th[8];
    int i;

    async_start(&a, mode);
    s = start(&cfg, routes, 2, &a, NULL);
    ASSERT_NOT_NULL(s);
    for (i = 0; i < threads; i++) {
        ca[i] = (struct client_arg){port_of_server, per_thread, 0, "/async"};
        pthread_create(&th[i], NULL, client, &ca[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        ASSERT_INT_EQ(ca[i].ok, per_thread);
    }
    hd_http_server_free(s, 1000);
    async_stop(&a);
    ASSERT_INT_EQ(a.answered, (unsigned long)threads * per_thread / 2);
}

static void
test_async_answer_before_return(void)
{
    run_async_mode(A_BEFORE, 4, 200);
}

static void
test_async_answer_after_return(void)
{
    run_async_mode(A_AFTER, 2, 100);
}

static void
test_async_answer_racing_return(void)
{
    run_async_mode(A_RACE, 4, 1000);
}

/* ---- blocking routes, log context, access log ---- */

struct seen {
    pthread_mutex_t mu;
    pthread_t inline_th[64];
    int ninline;
    pthread_t blocking_th[64];
    int nblocking;
};

static void
h_note_inline(struct hd_http_req *r, void *ud)
{
    struct seen *sn = ud;

    pthread_mutex_lock(&sn->mu);
    if (sn->ninline < 64)
        sn->inline_th[sn->ninline++] = pthread_self();
    pthread_mutex_unlock(&sn->mu);
    hd_log(HD_LOG_INFO, 0, "in inline handler");
    hd_http_respond(r, 200, "text/plain", "i", 1);
}

static void
h_note_blocking(struct hd_http_req *r, void *ud)
{
    struct seen *sn = ud;

    pthread_mutex_lock(&sn->mu);
    if (sn->nblocking < 64)
        sn->blocking_th[sn->nblocking++] = pthread_self();
    pthread_mutex_unlock(&sn->mu);
    hd_log(HD_LOG_INFO, 0, "in blocking handler");
    hd_http_respond(r, 200, "text/plain", "b", 1);
}

/* stderr to a file while the server logs */
struct capture {
    char path[64];
    int fd;
    int saved;
};

static void
capture_start(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/test_http_log.XXXXXX");
    c->fd = mkstemp(c->path);
    c->saved = dup(2);
    dup2(c->fd, 2);
}

/* Reads what was logged, waiting up to 2 s until it holds want lines
 * containing "http request" (the access line is written once the answer
 * is out, so it may trail the client by a moment). */
static void
capture_end(struct capture *c, char *out, size_t n, int want)
{
    uint64_t t0 = hd_now_mono_ms();
    ssize_t r = 0;

    for (;;) {
        const char *p = out;
        int got = 0;

        r = pread(c->fd, out, n - 1, 0);
        out[r > 0 ? r : 0] = '\0';
        while ((p = strstr(p, "\"msg\":\"http request\"")) != NULL) {
            got++;
            p++;
        }
        if (got >= want || hd_now_mono_ms() - t0 > 2000)
            break;
        usleep(1000);
    }
    dup2(c->saved, 2);
    close(c->saved);
    close(c->fd);
    unlink(c->path);
}

static void
test_blocking_routes_run_on_workers_with_log_context(void)
{
    struct seen sn;
    const struct hd_http_route routes[] = {
        {"GET", "/inline", h_note_inline, 0, 0},
        {"GET", "/blocking", h_note_blocking, 0, 1},
    };
    struct hd_http_config cfg = test_config(3);
    struct hd_http_server *s;
    struct capture cap;
    static char logged[65536];
    struct resp rs;
    char want[256];
    int i;
    int j;

    memset(&sn, 0, sizeof(sn));
    pthread_mutex_init(&sn.mu, NULL);
    cfg.access_log = 1;
    hd_log_init("test", HD_LOG_INFO);
    s = start(&cfg, routes, 2, &sn, NULL);
    ASSERT_NOT_NULL(s);
    capture_start(&cap);
    for (i = 0; i < 10; i++) {
        req("GET", "/inline", NULL, NULL, &rs);
        ASSERT_INT_EQ(rs.status, 200);
        req("GET", "/blocking?token=hunter2", "X-Request-Id: blk-1", NULL, &rs);
        ASSERT_INT_EQ(rs.status, 200);
        ASSERT_STR_EQ(rs.body, "b");
    }
    capture_end(&cap, logged, sizeof(logged), 20);
    hd_http_server_free(s, 1000);
    hd_log_init("test", HD_LOG_WARN); /* not while the server logs */
    ASSERT_INT_EQ(sn.ninline, 10);
    ASSERT_INT_EQ(sn.nblocking, 10);
    for (i = 0; i < sn.nblocking; i++)
        for (j = 0; j < sn.ninline; j++)
            ASSERT_TRUE(!pthread_equal(sn.blocking_th[i], sn.inline_th[j]));
    /* handler lines carry the request id, on both kinds of thread */
    ASSERT_STR_CONTAINS(logged, "\"msg\":\"in blocking handler\","
                                "\"req_id\":\"blk-1\"}");
    ASSERT_STR_CONTAINS(logged, "\"msg\":\"in inline handler\",\"req_id\":\"");
    /* one access line per request: no query string, all the fields */
    snprintf(want, sizeof(want),
             "\"msg\":\"http request\",\"method\":\"GET\",\"path\":"
             "\"/blocking\",\"status\":\"200\",\"bytes\":\"1\","
             "\"duration_ms\":\"");
    ASSERT_STR_CONTAINS(logged, want);
    ASSERT_STR_CONTAINS(logged, "\"remote\":\"127.0.0.1\",\"req_id\":"
                                "\"blk-1\"}");
    ASSERT_STR_LACKS(logged, "hunter2");
    ASSERT_STR_LACKS(logged, "token");
    pthread_mutex_destroy(&sn.mu);
}

/* A blocking handler that waits for the test to open the gate. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int entered;
};

static void
h_gated(struct hd_http_req *r, void *ud)
{
    struct gate *g = ud;

    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    hd_http_respond(r, 200, "text/plain", "done", 4);
}

#define MAX_CALLS 24

static void
test_worker_queue_overload_gets_503(void)
{
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    const struct hd_http_route routes[] = {
        {"GET", "/gated", h_gated, 0, 1},
    };
    struct hd_http_config cfg = test_config(1);
    struct hd_http_server *s = start(&cfg, routes, 1, &g, NULL);
    static struct one_call calls[MAX_CALLS];
    pthread_t th[MAX_CALLS];
    int n = 0;
    int refused = -1;
    int ok = 0;
    char v[64];
    int i;

    ASSERT_NOT_NULL(s);
    /* 1 worker + HD_HTTP_QUEUE_PER_WORKER waiting: the next is refused.
     * Calls that have not finished after 100 ms are taken as waiting. */
    while (n < MAX_CALLS && refused < 0) {
        memset(&calls[n], 0, sizeof(calls[n]));
        calls[n].port = port_of_server;
        calls[n].path = "/gated";
        pthread_create(&th[n], NULL, one_call_main, &calls[n]);
        if (wait_done(&calls[n], 100))
            refused = n;
        n++;
    }
    ASSERT_TRUE(refused >= HD_HTTP_QUEUE_PER_WORKER);
    ASSERT_INT_EQ(calls[refused].rs.status, 503);
    ASSERT_STR_CONTAINS(calls[refused].rs.body, "\"error\":\"overloaded\"");
    ASSERT_STR_EQ(hdr(&calls[refused].rs, "Retry-After", v, sizeof(v)), "1");
    pthread_mutex_lock(&g.mu);
    ASSERT_INT_EQ(g.entered, 1);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (i != refused && calls[i].rs.status == 200)
            ok++;
    }
    ASSERT_INT_EQ(ok, n - 1);
    hd_http_server_free(s, 1000);
}

/* ---- many clients at once, with metrics ---- */

static void
test_concurrent_clients_and_metrics(void)
{
    struct async a;
    const struct hd_http_route routes[] = {
        {"GET", "/async", h_async, 0, 0},
        {"GET", "/inline", h_inline, 0, 0},
    };
    struct hd_http_config cfg = test_config(0);
    struct hd_metrics *m = hd_metrics_new();
    struct hd_http_server *s;
    struct client_arg ca[8];
    pthread_t th[8];
    struct hd_buf b;
    struct resp rs;
    int i;

    async_start(&a, A_RACE);
    s = start(&cfg, routes, 2, &a, m);
    ASSERT_NOT_NULL(s);
    for (i = 0; i < 8; i++) {
        ca[i] = (struct client_arg){port_of_server, 500, 0, "/async"};
        pthread_create(&th[i], NULL, client, &ca[i]);
    }
    for (i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    req("GET", "/missing", NULL, NULL, &rs);
    req("POST", "/inline", NULL, "x", &rs);
    hd_http_server_free(s, 1000); /* every request accounted after this */
    async_stop(&a);
    for (i = 0; i < 8; i++)
        ASSERT_INT_EQ(ca[i].ok, 500);
    hd_buf_init(&b, HD_METRICS_OUT_MAX);
    ASSERT_INT_EQ(hd_metrics_render(m, &b, NULL), 0);
    ASSERT_STR_CONTAINS(b.data, "herald_http_requests_total{route=\"/async\","
                                "method=\"GET\",status=\"200\"} 2000\n");
    ASSERT_STR_CONTAINS(b.data, "herald_http_requests_total{route=\"/inline\","
                                "method=\"GET\",status=\"200\"} 2000\n");
    ASSERT_STR_CONTAINS(b.data, "herald_http_requests_total{route="
                                "\"unmatched\",method=\"GET\",status=\"404\"} "
                                "1\n");
    ASSERT_STR_CONTAINS(b.data, "herald_http_requests_total{route=\"/inline\","
                                "method=\"POST\",status=\"405\"} 1\n");
    ASSERT_STR_CONTAINS(b.data, "herald_http_request_duration_seconds_count{"
                                "route=\"/async\"} 2000\n");
    ASSERT_STR_CONTAINS(b.data, "herald_http_request_duration_seconds_bucket{"
                                "route=\"/inline\",le=\"+Inf\"} 2001\n");
    hd_buf_release(&b);
    hd_metrics_free(m);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    hd_log_init("test", HD_LOG_WARN);
    RUN_TEST(test_async_answer_before_return);
    RUN_TEST(test_async_answer_after_return);
    RUN_TEST(test_async_answer_racing_return);
    RUN_TEST(test_blocking_routes_run_on_workers_with_log_context);
    RUN_TEST(test_worker_queue_overload_gets_503);
    RUN_TEST(test_concurrent_clients_and_metrics);
    curl_global_cleanup();
    return UNIT_DONE();
}
