/* test_metrics.c -- unit tests for common/core/metrics.c: exact exposition
 * text, overflow series, concurrent updates, process metrics and collectors. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/banned.h"

/* Renders m and cuts the process_* tail off, so the registered families
 * can be compared exactly. Returns a new string. */
static char *
render_families(struct hd_metrics *m)
{
    struct hd_buf b;
    char *p;
    char *text;

    hd_buf_init(&b, HD_METRICS_OUT_MAX);
    if (hd_metrics_render(m, &b, NULL) < 0) {
        hd_buf_release(&b);
        return NULL;
    }
    text = hd_buf_detach(&b, NULL);
    p = strstr(text, "# HELP process_");
    if (p)
        *p = '\0';
    return text;
}

static void
test_counter_exact_text_and_escaping(void)
{
    static const char *const labels[] = {"route", "status"};
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *c;
    struct hd_metric *plain;
    char *text;

    c = hd_metrics_counter(m, "herald_x_total", "Requests \\ by\nroute.", 2,
                           labels);
    plain = hd_metrics_counter(m, "herald_plain_total", "Plain.", 0, NULL);
    hd_counter_inc(hd_metric_with(c, "/a", "200"));
    hd_counter_add(hd_metric_with(c, "/a", "200"), 4);
    hd_counter_inc(hd_metric_with(c, "q\"uo\\te\nnl", "500"));
    hd_counter_add(hd_metric_with(plain), 7);
    ASSERT_INT_EQ(hd_counter_value(hd_metric_with(c, "/a", "200")), 5);
    /* registering the same shape again returns the same family */
    ASSERT_TRUE(
        hd_metrics_counter(m, "herald_x_total", "other help", 2, labels) == c);
    text = render_families(m);
    ASSERT_STR_EQ(text, "# HELP herald_x_total Requests \\\\ by\\nroute.\n"
                        "# TYPE herald_x_total counter\n"
                        "herald_x_total{route=\"/a\",status=\"200\"} 5\n"
                        "herald_x_total{route=\"q\\\"uo\\\\te\\nnl\","
                        "status=\"500\"} 1\n"
                        "# HELP herald_plain_total Plain.\n"
                        "# TYPE herald_plain_total counter\n"
                        "herald_plain_total 7\n");
    free(text);
    hd_metrics_free(m);
}

static void
test_gauge_values(void)
{
    static const char *const labels[] = {"queue"};
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *g =
        hd_metrics_gauge(m, "herald_depth", "Depth.", 1, labels);
    char *text;

    hd_gauge_set(hd_metric_with(g, "a"), 0.1);
    hd_gauge_add(hd_metric_with(g, "a"), 2);
    hd_gauge_set(hd_metric_with(g, "b"), -3);
    hd_gauge_set(hd_metric_with(g, "c"), 1.0 / 0.0);
    hd_gauge_set(hd_metric_with(g, "d"), 0.0 / 0.0);
    hd_gauge_set(hd_metric_with(g, "e"), 1e21);
    ASSERT_TRUE(hd_gauge_value(hd_metric_with(g, "b")) == -3.0);
    text = render_families(m);
    ASSERT_STR_EQ(text, "# HELP herald_depth Depth.\n"
                        "# TYPE herald_depth gauge\n"
                        "herald_depth{queue=\"a\"} 2.1\n"
                        "herald_depth{queue=\"b\"} -3\n"
                        "herald_depth{queue=\"c\"} +Inf\n"
                        "herald_depth{queue=\"d\"} NaN\n"
                        "herald_depth{queue=\"e\"} 1e+21\n");
    free(text);
    hd_metrics_free(m);
}

static void
test_histogram_cumulative_buckets(void)
{
    static const char *const labels[] = {"route"};
    static const double b[] = {0.1, 0.5, 1};
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *h;
    struct hd_metric_series *s;
    char *text;

    h = hd_metrics_histogram(m, "herald_lat_seconds", "Latency.", 1, labels, b,
                             3);
    s = hd_metric_with(h, "/x");
    hd_histogram_observe(s, 0.05);
    hd_histogram_observe(s, 0.1); /* le is inclusive */
    hd_histogram_observe(s, 0.75);
    hd_histogram_observe(s, 3);
    ASSERT_INT_EQ(hd_histogram_count(s), 4);
    text = render_families(m);
    ASSERT_STR_EQ(text,
                  "# HELP herald_lat_seconds Latency.\n"
                  "# TYPE herald_lat_seconds histogram\n"
                  "herald_lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                  "herald_lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
                  "herald_lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                  "herald_lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                  "herald_lat_seconds_sum{route=\"/x\"} 3.9\n"
                  "herald_lat_seconds_count{route=\"/x\"} 4\n");
    free(text);
    hd_metrics_free(m);
}

static void
test_latency_buckets(void)
{
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *h;
    char *text;

    ASSERT_INT_EQ(hd_metrics_latency_nbuckets, 14);
    ASSERT_TRUE(hd_metrics_latency_buckets[0] == 0.0005);
    ASSERT_TRUE(hd_metrics_latency_buckets[13] == 10);
    h = hd_metrics_histogram(m, "d_seconds", "D.", 0, NULL,
                             hd_metrics_latency_buckets,
                             hd_metrics_latency_nbuckets);
    hd_histogram_observe(hd_metric_with(h), 0.002);
    text = render_families(m);
    ASSERT_STR_CONTAINS(text, "d_seconds_bucket{le=\"0.0005\"} 0\n"
                              "d_seconds_bucket{le=\"0.001\"} 0\n"
                              "d_seconds_bucket{le=\"0.0025\"} 1\n");
    ASSERT_STR_CONTAINS(text, "d_seconds_bucket{le=\"10\"} 1\n"
                              "d_seconds_bucket{le=\"+Inf\"} 1\n"
                              "d_seconds_sum 0.002\n"
                              "d_seconds_count 1\n");
    free(text);
    hd_metrics_free(m);
}

static void
test_overflow_series(void)
{
    static const char *const labels[] = {"k", "v"};
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *c = hd_metrics_counter(m, "of_total", "O.", 2, labels);
    struct hd_metric_series *first;
    struct hd_metric_series *over;
    char name[32];
    char long_value[HD_METRIC_LABEL_VALUE_MAX + 40];
    char *text;
    int ok;
    int i;

    first = hd_metric_with(c, "n0", "x");
    for (i = 0; i < HD_METRIC_MAX_SERIES; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        hd_counter_inc(hd_metric_with(c, name, "x"));
    }
    over = hd_metric_with(c, "n0", "y");
    ASSERT_TRUE(over != first);
    hd_counter_inc(over);
    ASSERT_INT_EQ(hd_counter_value(over), 1);
    ASSERT_TRUE(hd_metric_with(c, "another", "z") == over);
    hd_counter_inc(hd_metric_with(c, "another", "z"));
    /* existing series are still found, and keep counting */
    ASSERT_TRUE(hd_metric_with(c, "n0", "x") == first);
    ASSERT_INT_EQ(hd_counter_value(first), 1);
    text = render_families(m);
    /* (not ASSERT_STR_*: they would print 4096 lines on failure) */
    ok = strstr(text, "of_total{k=\"n4095\",v=\"x\"} 1\n"
                      "of_total{k=\"_overflow\",v=\"_overflow\"} 2\n") &&
         !strstr(text, "n4096");
    free(text);
    ASSERT_TRUE(ok);
    hd_metrics_free(m);

    /* values are truncated to HD_METRIC_LABEL_VALUE_MAX bytes */
    m = hd_metrics_new();
    c = hd_metrics_counter(m, "t_total", "T.", 2, labels);
    memset(long_value, 'a', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    first = hd_metric_with(c, long_value, "");
    long_value[HD_METRIC_LABEL_VALUE_MAX] = '\0';
    ASSERT_TRUE(hd_metric_with(c, long_value, "") == first);
    long_value[HD_METRIC_LABEL_VALUE_MAX - 1] = '\0';
    ASSERT_TRUE(hd_metric_with(c, long_value, "") != first);
    hd_metrics_free(m);
}

struct worker_arg {
    struct hd_metric *c;
    struct hd_metric *g;
    struct hd_metric *h;
    int id;
};

#define THREADS 8
#define ITERS 20000

static void *
hammer(void *p)
{
    struct worker_arg *a = p;
    char label[16];
    int i;

    for (i = 0; i < ITERS; i++) {
        snprintf(label, sizeof(label), "s%d", i % 16);
        hd_counter_inc(hd_metric_with(a->c, label));
        hd_gauge_add(hd_metric_with(a->g), 0.5);
        hd_histogram_observe(hd_metric_with(a->h), (double)(i % 3));
    }
    return NULL;
}

static void
test_concurrent_updates_sum(void)
{
    static const char *const labels[] = {"s"};
    static const double b[] = {0.5, 1.5};
    struct hd_metrics *m = hd_metrics_new();
    struct worker_arg args[THREADS];
    pthread_t th[THREADS];
    uint64_t total = 0;
    char label[16];
    int i;

    args[0].c = hd_metrics_counter(m, "cc_total", "C.", 1, labels);
    args[0].g = hd_metrics_gauge(m, "gg", "G.", 0, NULL);
    args[0].h = hd_metrics_histogram(m, "hh", "H.", 0, NULL, b, 2);
    for (i = 0; i < THREADS; i++) {
        args[i] = args[0];
        args[i].id = i;
        ASSERT_INT_EQ(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < 16; i++) {
        snprintf(label, sizeof(label), "s%d", i);
        total += hd_counter_value(hd_metric_with(args[0].c, label));
    }
    ASSERT_INT_EQ(total, THREADS * ITERS);
    ASSERT_TRUE(hd_gauge_value(hd_metric_with(args[0].g)) ==
                THREADS * ITERS * 0.5);
    ASSERT_INT_EQ(hd_histogram_count(hd_metric_with(args[0].h)),
                  THREADS * ITERS);
    hd_metrics_free(m);
}

static void
test_process_metrics_present(void)
{
    struct hd_metrics *m = hd_metrics_new();
    struct hd_buf b;

    hd_buf_init(&b, HD_METRICS_OUT_MAX);
    ASSERT_INT_EQ(hd_metrics_render(m, &b, NULL), 0);
    ASSERT_STR_CONTAINS(b.data, "# TYPE process_cpu_seconds_total counter\n"
                                "process_cpu_seconds_total ");
    ASSERT_STR_CONTAINS(b.data, "\nprocess_resident_memory_bytes ");
    ASSERT_STR_CONTAINS(b.data, "\nprocess_virtual_memory_bytes ");
    ASSERT_STR_CONTAINS(b.data, "\nprocess_open_fds ");
    ASSERT_STR_CONTAINS(b.data, "\nprocess_max_fds ");
    ASSERT_STR_CONTAINS(b.data, "\nprocess_start_time_seconds 1");
    ASSERT_STR_LACKS(b.data, "process_resident_memory_bytes 0\n");
    hd_buf_release(&b);
    hd_metrics_free(m);
}

static void
refresh(void *ud)
{
    struct hd_metric *g = ud;
    struct hd_metric_series *s = hd_metric_with(g);

    hd_gauge_add(s, 1);
}

static void
test_collect_callback_and_too_big(void)
{
    struct hd_metrics *m = hd_metrics_new();
    struct hd_metric *g = hd_metrics_gauge(m, "lag", "Lag.", 0, NULL);
    struct hd_err err = {0};
    struct hd_buf b;
    char *text;

    hd_metrics_on_collect(m, refresh, g);
    text = render_families(m);
    ASSERT_STR_CONTAINS(text, "\nlag 1\n");
    free(text);
    text = render_families(m);
    ASSERT_STR_CONTAINS(text, "\nlag 2\n");
    free(text);
    /* a body over the buffer's ceiling fails whole, leaving it unchanged */
    hd_buf_init(&b, 64);
    ASSERT_INT_EQ(hd_buf_puts(&b, "keep", NULL), 0);
    ASSERT_INT_EQ(hd_metrics_render(m, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_EQ(b.data, "keep");
    hd_buf_release(&b);
    hd_metrics_free(m);
}

int
main(void)
{
    RUN_TEST(test_counter_exact_text_and_escaping);
    RUN_TEST(test_gauge_values);
    RUN_TEST(test_histogram_cumulative_buckets);
    RUN_TEST(test_latency_buckets);
    RUN_TEST(test_overflow_series);
    RUN_TEST(test_concurrent_updates_sum);
    RUN_TEST(test_process_metrics_present);
    RUN_TEST(test_collect_callback_and_too_big);
    hd_metrics_free(NULL);
    return UNIT_DONE();
}
