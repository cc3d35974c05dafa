/* test_health.c -- unit tests for common/service/health.c: bodies and statuses,
 * the 500 ms cache, and the mounted routes over real HTTP. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/clock.h"
#include "service/admin.h"
#include "service/health.h"
#include "http/server.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/banned.h"

struct fake_dep {
    atomic_int calls;
    int fail;
    const char *why;
};

static int
check(void *ud, struct hd_err *err)
{
    struct fake_dep *d = ud;

    atomic_fetch_add(&d->calls, 1);
    if (d->fail)
        return hd_err_set(err, HD_EUPSTREAM, "%s", d->why);
    return 0;
}

static int
ready(struct hd_health *h, char *out, size_t n)
{
    struct hd_buf b;
    int status;

    hd_buf_init(&b, 4096);
    status = hd_health_ready(h, &b);
    snprintf(out, n, "%s", b.data ? b.data : "");
    hd_buf_release(&b);
    return status;
}

static void
test_ready_unready_draining(void)
{
    struct fake_dep pg = {0, 0, NULL};
    struct fake_dep kafka = {0, 0, NULL};
    struct hd_health *h = hd_health_new();
    char body[1024];

    hd_health_add_check(h, "postgres", check, &pg);
    hd_health_add_check(h, "kafka", check, &kafka);
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 200);
    ASSERT_STR_EQ(body, "{\"status\":\"ready\",\"checks\":{\"postgres\":\"ok\","
                        "\"kafka\":\"ok\"}}");
    hd_health_free(h);

    /* a failing check: 503, and its error text */
    h = hd_health_new();
    pg.fail = 1;
    pg.why = "connect: \"refused\"";
    hd_health_add_check(h, "postgres", check, &pg);
    hd_health_add_check(h, "kafka", check, &kafka);
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 503);
    ASSERT_STR_EQ(body, "{\"status\":\"unready\",\"checks\":{\"postgres\":"
                        "\"connect: \\\"refused\\\"\",\"kafka\":\"ok\"}}");

    /* draining: 503 without running a check */
    atomic_store(&pg.calls, 0);
    hd_health_set_draining(h);
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 503);
    ASSERT_STR_EQ(body, "{\"status\":\"draining\"}");
    ASSERT_INT_EQ(atomic_load(&pg.calls), 0);
    hd_health_free(h);

    /* no checks at all: ready */
    h = hd_health_new();
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 200);
    ASSERT_STR_EQ(body, "{\"status\":\"ready\",\"checks\":{}}");
    hd_health_free(h);
    hd_health_free(NULL);
}

static void
test_results_cached_for_500ms(void)
{
    struct fake_dep pg = {0, 0, NULL};
    struct hd_health *h = hd_health_new();
    char body[1024];
    uint64_t t0;
    uint64_t waited;
    int stale_wrong = 0;
    int status;

    hd_health_add_check(h, "postgres", check, &pg);
    t0 = hd_now_mono_ms();
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 200);
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 200);
    ASSERT_INT_EQ(atomic_load(&pg.calls), 1);
    /* a change shows only once the cached result expires */
    pg.fail = 1;
    pg.why = "down";
    do {
        status = ready(h, body, sizeof(body));
        if (atomic_load(&pg.calls) == 1 && status != 200)
            stale_wrong++;
    } while (atomic_load(&pg.calls) == 1 && hd_now_mono_ms() - t0 < 3000);
    waited = hd_now_mono_ms() - t0;
    ASSERT_INT_EQ(stale_wrong, 0);
    ASSERT_INT_EQ(atomic_load(&pg.calls), 2);
    ASSERT_TRUE(waited >= 500);
    ASSERT_TRUE(waited < 1500);
    ASSERT_INT_EQ(status, 503);
    ASSERT_STR_CONTAINS(body, "\"postgres\":\"down\"");
    ASSERT_INT_EQ(ready(h, body, sizeof(body)), 503);
    ASSERT_INT_EQ(atomic_load(&pg.calls), 2);
    hd_health_free(h);
}

/* ---- over HTTP ---- */

struct got {
    long status;
    char body[65536];
    size_t len;
    char type[128];
};

static size_t
on_data(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t k = size * n;
    size_t room = sizeof(g->body) - 1 - g->len;

    memcpy(g->body + g->len, p, k < room ? k : room);
    g->len += k < room ? k : room;
    g->body[g->len] = '\0';
    return k;
}

static void
get(int port, const char *path, struct got *g)
{
    CURL *c = curl_easy_init();
    char url[256];
    char *ct = NULL;

    memset(g, 0, sizeof(*g));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(g->type, sizeof(g->type), "%s", ct ? ct : "");
    }
    curl_easy_cleanup(c);
}

static struct hd_http_server *
serve(struct hd_health *h, struct hd_metrics *m)
{
    struct hd_http_config cfg;
    struct hd_err err = {0};
    struct hd_http_server *s;

    memset(&cfg, 0, sizeof(cfg));
    cfg.bind = (char *)(uintptr_t) "127.0.0.1";
    cfg.io_threads = 1;
    cfg.workers = 2;
    cfg.max_connections = 64;
    cfg.timeout_s = 10;
    s = hd_http_server_new(&cfg, 0, NULL, m, &err);
    if (s == NULL || hd_health_mount_admin(h, m, s, &err) < 0 ||
        hd_http_server_start(s, &err) < 0) {
        fprintf(stderr, "serve: %s\n", err.msg);
        hd_http_server_free(s, 0);
        return NULL;
    }
    return s;
}

static void
test_mounted_routes_over_http(void)
{
    struct fake_dep pg = {0, 0, NULL};
    struct hd_health *h = hd_health_new();
    struct hd_metrics *m = hd_metrics_new();
    struct hd_http_server *s;
    struct got g;
    int port;

    hd_health_add_check(h, "postgres", check, &pg);
    s = serve(h, m);
    ASSERT_NOT_NULL(s);
    port = hd_http_server_port(s);
    get(port, "/healthz", &g);
    ASSERT_INT_EQ(g.status, 200);
    ASSERT_STR_EQ(g.body, "{\"status\":\"ok\"}");
    ASSERT_STR_EQ(g.type, "application/json");
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 200);
    ASSERT_STR_EQ(g.body, "{\"status\":\"ready\",\"checks\":{\"postgres\":"
                          "\"ok\"}}");
    get(port, "/metrics", &g);
    ASSERT_INT_EQ(g.status, 200);
    ASSERT_STR_EQ(g.type, "text/plain; version=0.0.4; charset=utf-8");
    ASSERT_STR_CONTAINS(g.body, "\nprocess_cpu_seconds_total ");
    /* the server's own metrics count the probes above */
    ASSERT_STR_CONTAINS(g.body, "herald_http_requests_total{route="
                                "\"/healthz\",method=\"GET\",status=\"200\"} "
                                "1\n");
    hd_health_set_draining(h);
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 503);
    ASSERT_STR_EQ(g.body, "{\"status\":\"draining\"}");
    get(port, "/healthz", &g);
    ASSERT_INT_EQ(g.status, 200);
    hd_http_server_free(s, 1000);
    hd_health_free(h);

    /* unready over HTTP, and no /metrics without a registry */
    h = hd_health_new();
    pg.fail = 1;
    pg.why = "connect: refused";
    hd_health_add_check(h, "postgres", check, &pg);
    s = serve(h, NULL);
    ASSERT_NOT_NULL(s);
    port = hd_http_server_port(s);
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 503);
    ASSERT_STR_EQ(g.body, "{\"status\":\"unready\",\"checks\":{\"postgres\":"
                          "\"connect: refused\"}}");
    get(port, "/metrics", &g);
    ASSERT_INT_EQ(g.status, 404);
    hd_http_server_free(s, 1000);
    hd_health_free(h);
    hd_metrics_free(m);
}

/* The public pair: ok or not ok, never a check's message, no /metrics;
 * the admin listener: the details, /metrics, on 127.0.0.1. */
static void
test_public_says_only_ok_or_not(void)
{
    struct fake_dep pg = {0, 1, "connect to 10.1.2.3:5432: password failed"};
    struct hd_health *h = hd_health_new();
    struct hd_metrics *m = hd_metrics_new();
    struct hd_admin_config acfg = {(char *)(uintptr_t) "127.0.0.1", 0};
    struct hd_http_config cfg;
    struct hd_err err = {0};
    struct hd_http_server *s, *admin = NULL;
    struct got g;
    int port;

    hd_health_add_check(h, "postgres", check, &pg);
    memset(&cfg, 0, sizeof(cfg));
    cfg.bind = (char *)(uintptr_t) "127.0.0.1";
    cfg.io_threads = 1;
    cfg.workers = 2;
    cfg.max_connections = 64;
    cfg.timeout_s = 10;
    s = hd_http_server_new(&cfg, 0, NULL, m, &err);
    ASSERT_NOT_NULL(s);
    ASSERT_INT_EQ(hd_health_mount(h, s, &err), 0);
    ASSERT_INT_EQ(hd_http_server_start(s, &err), 0);
    port = hd_http_server_port(s);
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 503);
    ASSERT_STR_EQ(g.body, "{\"status\":\"unready\"}");
    get(port, "/metrics", &g);
    ASSERT_INT_EQ(g.status, 404);
    get(port, "/healthz", &g);
    ASSERT_INT_EQ(g.status, 200);
    pg.fail = 0;
    usleep(600 * 1000); /* past the cache */
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 200);
    ASSERT_STR_EQ(g.body, "{\"status\":\"ready\"}");

    pg.fail = 1;
    usleep(600 * 1000);
    ASSERT_INT_EQ(hd_admin_start(&acfg, h, m, NULL, 0, NULL, &admin, &err), 0);
    ASSERT_NOT_NULL(admin);
    port = hd_http_server_port(admin);
    get(port, "/readyz", &g);
    ASSERT_INT_EQ(g.status, 503);
    ASSERT_STR_CONTAINS(g.body, "password failed");
    get(port, "/metrics", &g);
    ASSERT_INT_EQ(g.status, 200);
    ASSERT_STR_CONTAINS(g.body, "herald_http_requests_total{route=");
    hd_http_server_free(admin, 1000);

    /* -1: off */
    acfg.port = HD_ADMIN_OFF;
    ASSERT_INT_EQ(hd_admin_start(&acfg, h, m, NULL, 0, NULL, &admin, &err), 0);
    ASSERT_TRUE(admin == NULL);
    hd_http_server_free(s, 1000);
    hd_health_free(h);
    hd_metrics_free(m);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    hd_log_init("test", HD_LOG_WARN);
    RUN_TEST(test_ready_unready_draining);
    RUN_TEST(test_results_cached_for_500ms);
    RUN_TEST(test_mounted_routes_over_http);
    RUN_TEST(test_public_says_only_ok_or_not);
    curl_global_cleanup();
    return UNIT_DONE();
}
