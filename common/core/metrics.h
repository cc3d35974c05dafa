/* metrics.h -- Prometheus metrics, written by hand: counters, gauges and
 * histograms with labels, rendered in the text exposition format 0.0.4.
 *
 * A family (name, help, label names) is registered once at start-up. A
 * series is one combination of label values; hd_metric_with() finds or
 * creates it and returns a pointer that stays valid as long as the
 * registry, so hot paths look a series up once and then only do atomic
 * adds. Every update is lock-free and thread-safe; registration and
 * rendering take the registry lock. The number of series per family is
 * capped (HD_METRIC_MAX_SERIES): past it, updates go to one series whose
 * label values are all "_overflow", so a hostile label value cannot grow
 * memory. Rendering also emits the standard process_* metrics (CPU, RSS,
 * open fds, start time). */
#ifndef HD_METRICS_H
#define HD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct hd_metrics;
struct hd_metric;        /* a family */
struct hd_metric_series; /* one label combination */

/* new */
struct hd_metrics *hd_metrics_new(void);
/* NULL is a no-op. Every family and series pointer dies with it. */
void hd_metrics_free(struct hd_metrics *m);

/* Register a family. label_names (borrowed: static strings) has nlabels
 * (<= HD_METRIC_MAX_LABELS) entries. Names must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*; registering a name twice with the same shape
 * returns the existing family. The result is borrowed from m. Abort on
 * programming errors (bad name, too many labels, shape mismatch): they are
 * found by the first test run. */
struct hd_metric *hd_metrics_counter(struct hd_metrics *m, const char *name,
                                     const char *help, size_t nlabels,
                                     const char *const *label_names);
struct hd_metric *hd_metrics_gauge(struct hd_metrics *m, const char *name,
                                   const char *help, size_t nlabels,
                                   const char *const *label_names);
/* buckets: nbuckets (<= HD_METRIC_MAX_BUCKETS) increasing upper bounds;
 * +Inf is added. Copied. */
struct hd_metric *hd_metrics_histogram(struct hd_metrics *m, const char *name,
                                       const char *help, size_t nlabels,
                                       const char *const *label_names,
                                       const double *buckets, size_t nbuckets);

/* Latency buckets in seconds, 0.5 ms .. 10 s, for request durations. */
extern const double hd_metrics_latency_buckets[];
extern const size_t hd_metrics_latency_nbuckets;

/* The series for the given label values (exactly the family's nlabels
 * strings; copied, truncated to HD_METRIC_LABEL_VALUE_MAX). Borrowed from
 * the registry. Thread-safe. */
struct hd_metric_series *hd_metric_with(struct hd_metric *f, ...);
/* Same, with the values in an array. */
struct hd_metric_series *hd_metric_withv(struct hd_metric *f,
                                         const char *const *values);

/* Updates. Thread-safe, lock-free. */
void hd_counter_add(struct hd_metric_series *s, uint64_t n);
void hd_counter_inc(struct hd_metric_series *s);
void hd_gauge_set(struct hd_metric_series *s, double v);
void hd_gauge_add(struct hd_metric_series *s, double delta);
void hd_histogram_observe(struct hd_metric_series *s, double v);

/* Reads back (for tests and for services that report their own state). */
uint64_t hd_counter_value(const struct hd_metric_series *s);
double hd_gauge_value(const struct hd_metric_series *s);
uint64_t hd_histogram_count(const struct hd_metric_series *s);

/* Calls fn(ud) at the start of every render, on the rendering thread, to
 * refresh gauges computed from service state (queue depths, lag). */
void hd_metrics_on_collect(struct hd_metrics *m, void (*fn)(void *ud),
                           void *ud);

/* Appends the text exposition of every family to out. Returns 0 or -1
 * (HD_ETOOBIG). Thread-safe. */
int hd_metrics_render(struct hd_metrics *m, struct hd_buf *out,
                      struct hd_err *err);

#endif
