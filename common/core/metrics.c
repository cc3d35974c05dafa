/* metrics.c -- the Prometheus registry and its text exposition.
 *
 * Each family owns a fixed hash table of series whose chains are only ever
 * prepended to with a release store, so hd_metric_with() finds an existing
 * series with acquire loads and no lock; only creating a series takes the
 * family's lock. Series are never removed before the registry dies, which
 * is what makes the lock-free walk safe. Values are plain atomics: gauges
 * and histogram sums keep a double's bits in a uint64 updated by CAS.
 * Rendering holds the registry lock, then each family's lock in turn. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/procstat.h"
#include "core/banned.h"

#define HASH_SLOTS 256 /* per family; chains stay short up to the cap */

enum family_type { FAM_COUNTER, FAM_GAUGE, FAM_HISTOGRAM };

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct hd_metric_series {
    _Atomic(struct hd_metric_series *) next; /* hash chain */
    struct hd_metric_series *order;          /* creation order */
    const struct hd_metric *family;
    uint64_t hash;
    _Atomic uint64_t value;   /* counter, gauge bits, or histogram sum bits */
    _Atomic uint64_t *counts; /* histogram: nbuckets + 1, not cumulative */
    const char *labels[HD_METRIC_MAX_LABELS];
};

struct hd_metric {
    struct hd_metric *next; /* registration order */
    enum family_type type;
    char *name;
    char *help;
    size_t nlabels;
    const char *label_names[HD_METRIC_MAX_LABELS];
    double buckets[HD_METRIC_MAX_BUCKETS];
    size_t nbuckets;
    pthread_mutex_t mu; /* creating series; walking the order list */
    _Atomic(struct hd_metric_series *) slots[HASH_SLOTS];
    struct hd_metric_series *first;
    struct hd_metric_series *last;
    size_t nseries; /* not counting the overflow series */
    struct hd_metric_series *overflow;
};

struct collector {
    struct collector *next;
    void (*fn)(void *ud);
    void *ud;
};

struct hd_metrics {
    pthread_mutex_t mu; /* families list, collectors, rendering */
    struct hd_metric *first;
    struct hd_metric *last;
    struct collector *collectors;
};

const double hd_metrics_latency_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2.5,  5,     10,
};
const size_t hd_metrics_latency_nbuckets =
    sizeof(hd_metrics_latency_buckets) / sizeof(hd_metrics_latency_buckets[0]);

static void __attribute__((noreturn, format(printf, 1, 2)))
misuse(const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"metrics: %s\"}\n", msg);
    fflush(stderr);
    abort();
}

static uint64_t
dbits(double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    return u;
}

static double
bitsd(uint64_t u)
{
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

struct hd_metrics *
hd_metrics_new(void)
{
    struct hd_metrics *m = hd_xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void
hd_metrics_free(struct hd_metrics *m)
{
    struct hd_metric *f;
    struct collector *c;

    if (m == NULL)
        return;
    while ((f = m->first) != NULL) {
        struct hd_metric_series *s = f->first;

        m->first = f->next;
        while (s) {
            struct hd_metric_series *n = s->order;

            free(s);
            s = n;
        }
        pthread_mutex_destroy(&f->mu);
        free(f->name);
        free(f->help);
        free(f);
    }
    while ((c = m->collectors) != NULL) {
        m->collectors = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int
valid_name(const char *s, int colon)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (colon && c == ':');

        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

static int
same_shape(const struct hd_metric *f, enum family_type type, size_t nlabels,
           const char *const *label_names, const double *buckets,
           size_t nbuckets)
{
    size_t i;

    if (f->type != type || f->nlabels != nlabels || f->nbuckets != nbuckets)
        return 0;
    for (i = 0; i < nlabels; i++)
        if (strcmp(f->label_names[i], label_names[i]) != 0)
            return 0;
    for (i = 0; i < nbuckets; i++)
        if (f->buckets[i] != buckets[i])
            return 0;
    return 1;
}

static struct hd_metric *
family_add(struct hd_metrics *m, enum family_type type, const char *name,
           const char *help, size_t nlabels, const char *const *label_names,
           const double *buckets, size_t nbuckets)
{
    struct hd_metric *f;
    size_t i;

    if (!valid_name(name, 1))
        misuse("bad metric name \"%s\"", name ? name : "(null)");
    if (nlabels > HD_METRIC_MAX_LABELS)
        misuse("%s: %zu labels (max %d)", name, nlabels, HD_METRIC_MAX_LABELS);
    for (i = 0; i < nlabels; i++) {
        if (!valid_name(label_names[i], 0) ||
            strncmp(label_names[i], "__", 2) == 0 ||
            (type == FAM_HISTOGRAM && strcmp(label_names[i], "le") == 0))
            misuse("%s: bad label name \"%s\"", name,
                   label_names[i] ? label_names[i] : "(null)");
    }
    if (nbuckets > HD_METRIC_MAX_BUCKETS)
        misuse("%s: %zu buckets (max %d)", name, nbuckets,
               HD_METRIC_MAX_BUCKETS);
    for (i = 1; i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            misuse("%s: buckets must increase", name);

    pthread_mutex_lock(&m->mu);
    for (f = m->first; f; f = f->next) {
        if (strcmp(f->name, name) != 0)
            continue;
        if (!same_shape(f, type, nlabels, label_names, buckets, nbuckets))
            misuse("%s registered twice with different shapes", name);
        pthread_mutex_unlock(&m->mu);
        return f;
    }
    f = hd_xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = hd_xstrdup(name);
    f->help = hd_xstrdup(help ? help : "");
    f->nlabels = nlabels;
    for (i = 0; i < nlabels; i++)
        f->label_names[i] = label_names[i];
    f->nbuckets = nbuckets;
    for (i = 0; i < nbuckets; i++)
        f->buckets[i] = buckets[i];
    pthread_mutex_init(&f->mu, NULL);
    for (i = 0; i < HASH_SLOTS; i++)
        atomic_init(&f->slots[i], NULL);
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->mu);
    /* A family without labels has exactly one series: show it from the
     * start, as 0, rather than only after its first update. */
    if (nlabels == 0)
        (void)hd_metric_withv(f, NULL);
    return f;
}

struct hd_metric *
hd_metrics_counter(struct hd_metrics *m, const char *name, const char *help,
                   size_t nlabels, const char *const *label_names)
{
    return family_add(m, FAM_COUNTER, name, help, nlabels, label_names, NULL,
                      0);
}

struct hd_metric *
hd_metrics_gauge(struct hd_metrics *m, const char *name, const char *help,
                 size_t nlabels, const char *const *label_names)
{
    return family_add(m, FAM_GAUGE, name, help, nlabels, label_names, NULL, 0);
}

struct hd_metric *
hd_metrics_histogram(struct hd_metrics *m, const char *name, const char *help,
                     size_t nlabels, const char *const *label_names,
                     const double *buckets, size_t nbuckets)
{
    return family_add(m, FAM_HISTOGRAM, name, help, nlabels, label_names,
                      buckets, nbuckets);
}

/* The stored length of a label value: at most HD_METRIC_LABEL_VALUE_MAX
 * bytes, cut back to a UTF-8 character boundary so the exposition stays
 * valid UTF-8. */
static size_t
label_len(const char *v)
{
    size_t n = strnlen(v, HD_METRIC_LABEL_VALUE_MAX + 1);

    if (n <= HD_METRIC_LABEL_VALUE_MAX)
        return n;
    n = HD_METRIC_LABEL_VALUE_MAX;
    while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static struct hd_metric_series *
series_new(struct hd_metric *f, const char *const *values, const size_t *lens,
           uint64_t h)
{
    struct hd_metric_series *s;
    size_t ncounts = f->type == FAM_HISTOGRAM ? f->nbuckets + 1 : 0;
    size_t size = sizeof(*s) + ncounts * sizeof(_Atomic uint64_t);
    char *p;
    size_t i;

    for (i = 0; i < f->nlabels; i++)
        size += lens[i] + 1;
    s = hd_xcalloc(1, size);
    atomic_init(&s->next, NULL);
    atomic_init(&s->value, f->type == FAM_COUNTER ? 0 : dbits(0.0));
    s->family = f;
    s->hash = h;
    s->counts = ncounts ? (_Atomic uint64_t *)(void *)(s + 1) : NULL;
    for (i = 0; i < ncounts; i++)
        atomic_init(&s->counts[i], 0);
    p = (char *)(s + 1) + ncounts * sizeof(_Atomic uint64_t);
    for (i = 0; i < f->nlabels; i++) {
        memcpy(p, values[i], lens[i]);
        p[lens[i]] = '\0';
        s->labels[i] = p;
        p += lens[i] + 1;
    }
    return s;
}

static void
order_append(struct hd_metric *f, struct hd_metric_series *s)
{
    if (f->last)
        f->last->order = s;
    else
        f->first = s;
    f->last = s;
}

static struct hd_metric_series *
find(struct hd_metric *f, size_t slot, const char *const *values,
     const size_t *lens, uint64_t h)
{
    struct hd_metric_series *s;
    size_t i;

    s = atomic_load_explicit(&f->slots[slot], memory_order_acquire);
    for (; s; s = atomic_load_explicit(&s->next, memory_order_acquire)) {
        if (s->hash != h)
            continue;
        for (i = 0; i < f->nlabels; i++)
            if (memcmp(s->labels[i], values[i], lens[i]) != 0 ||
                s->labels[i][lens[i]] != '\0')
                break;
        if (i == f->nlabels)
            return s;
    }
    return NULL;
}

static struct hd_metric_series *
overflow_series(struct hd_metric *f)
{
    const char *vals[HD_METRIC_MAX_LABELS];
    size_t lens[HD_METRIC_MAX_LABELS];
    size_t i;

    if (f->overflow == NULL) {
        for (i = 0; i < f->nlabels; i++) {
            vals[i] = "_overflow";
            lens[i] = strlen(vals[i]);
        }
        f->overflow = series_new(f, vals, lens, 0);
        order_append(f, f->overflow);
    }
    return f->overflow;
}

struct hd_metric_series *
hd_metric_withv(struct hd_metric *f, const char *const *values)
{
    const char *vals[HD_METRIC_MAX_LABELS];
    size_t lens[HD_METRIC_MAX_LABELS];
    struct hd_metric_series *s;
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    size_t slot;
    size_t i;
    size_t j;

    for (i = 0; i < f->nlabels; i++) {
        vals[i] = values[i] ? values[i] : "";
        lens[i] = label_len(vals[i]);
        for (j = 0; j < lens[i]; j++) {
            h ^= (unsigned char)vals[i][j];
            h *= 1099511628211ull;
        }
        h ^= 0xff; /* separator: ("ab","") differs from ("a","b") */
        h *= 1099511628211ull;
    }
    slot = (size_t)(h ^ (h >> 32)) % HASH_SLOTS;
    s = find(f, slot, vals, lens, h);
    if (s)
        return s;

    pthread_mutex_lock(&f->mu);
    s = find(f, slot, vals, lens, h);
    if (s == NULL) {
        if (f->nseries >= HD_METRIC_MAX_SERIES) {
            s = overflow_series(f);
        } else {
            s = series_new(f, vals, lens, h);
            atomic_store_explicit(
                &s->next,
                atomic_load_explicit(&f->slots[slot], memory_order_relaxed),
                memory_order_relaxed);
            atomic_store_explicit(&f->slots[slot], s, memory_order_release);
            order_append(f, s);
            f->nseries++;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return s;
}

struct hd_metric_series *
hd_metric_with(struct hd_metric *f, ...)
{
    const char *vals[HD_METRIC_MAX_LABELS];
    va_list ap;
    size_t i;

    va_start(ap, f);
    for (i = 0; i < f->nlabels; i++)
        vals[i] = va_arg(ap, const char *);
    va_end(ap);
    return hd_metric_withv(f, vals);
}

void
hd_counter_add(struct hd_metric_series *s, uint64_t n)
{
    atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void
hd_counter_inc(struct hd_metric_series *s)
{
    atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
}

void
hd_gauge_set(struct hd_metric_series *s, double v)
{
    atomic_store_explicit(&s->value, dbits(v), memory_order_relaxed);
}

static void
add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        a, &old, dbits(bitsd(old) + delta), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

void
hd_gauge_add(struct hd_metric_series *s, double delta)
{
    add_double(&s->value, delta);
}

void
hd_histogram_observe(struct hd_metric_series *s, double v)
{
    const struct hd_metric *f = s->family;
    size_t i;

    for (i = 0; i < f->nbuckets; i++)
        if (v <= f->buckets[i])
            break;
    atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
    add_double(&s->value, v);
}

uint64_t
hd_counter_value(const struct hd_metric_series *s)
{
    return atomic_load_explicit(&s->value, memory_order_relaxed);
}

double
hd_gauge_value(const struct hd_metric_series *s)
{
    return bitsd(atomic_load_explicit(&s->value, memory_order_relaxed));
}

uint64_t
hd_histogram_count(const struct hd_metric_series *s)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i <= s->family->nbuckets; i++)
        n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    return n;
}

void
hd_metrics_on_collect(struct hd_metrics *m, void (*fn)(void *ud), void *ud)
{
    struct collector *c = hd_xcalloc(1, sizeof(*c));
    struct collector **pp;

    c->fn = fn;
    c->ud = ud;
    pthread_mutex_lock(&m->mu);
    for (pp = &m->collectors; *pp; pp = &(*pp)->next)
        ;
    *pp = c;
    pthread_mutex_unlock(&m->mu);
}

/* ---- rendering ---- */

/* Appends to b until the first failure; later appends are no-ops, and the
 * caller rolls the buffer back, so a truncated body is never returned. */
struct out {
    struct hd_buf *b;
    struct hd_err *err;
    int failed;
};

static void __attribute__((format(printf, 2, 3)))
outf(struct out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->failed)
        return;
    va_start(ap, fmt);
    if (hd_buf_vprintf(o->b, o->err, fmt, ap) < 0)
        o->failed = 1;
    va_end(ap);
}

static void
outs(struct out *o, const char *s)
{
    if (!o->failed && hd_buf_puts(o->b, s, o->err) < 0)
        o->failed = 1;
}

/* Escapes \ and newline (HELP), plus " in label values. */
static void
out_escaped(struct out *o, const char *s, int quote)
{
    const char *run = s;

    for (; *s; s++) {
        const char *rep = NULL;

        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (quote && *s == '"')
            rep = "\\\"";
        if (rep == NULL)
            continue;
        if (!o->failed &&
            hd_buf_append(o->b, run, (size_t)(s - run), o->err) < 0)
            o->failed = 1;
        outs(o, rep);
        run = s + 1;
    }
    outs(o, run);
}

/* The shortest of %.15g..%.17g that reads back as the same double, so 0.1
 * renders as "0.1"; +Inf, -Inf and NaN as Prometheus spells them. */
static void
fmt_double(double v, char *out, size_t n)
{
    int prec;

    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (prec = 15; prec < 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
    snprintf(out, n, "%.17g", v);
}

/* {a="x",b="y"} plus an optional extra le="..." pair; nothing when there
 * are no labels at all. */
static void
out_labels(struct out *o, const struct hd_metric *f,
           const struct hd_metric_series *s, const char *le)
{
    size_t i;

    if (f->nlabels == 0 && le == NULL)
        return;
    outs(o, "{");
    for (i = 0; i < f->nlabels; i++) {
        outf(o, "%s%s=\"", i ? "," : "", f->label_names[i]);
        out_escaped(o, s->labels[i], 1);
        outs(o, "\"");
    }
    if (le)
        outf(o, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    outs(o, "}");
}

static void
render_series(struct out *o, const struct hd_metric *f,
              const struct hd_metric_series *s)
{
    char num[64];
    char le[64];
    uint64_t cum = 0;
    size_t i;

    if (f->type == FAM_COUNTER) {
        outs(o, f->name);
        out_labels(o, f, s, NULL);
        outf(o, " %" PRIu64 "\n", hd_counter_value(s));
        return;
    }
    if (f->type == FAM_GAUGE) {
        fmt_double(hd_gauge_value(s), num, sizeof(num));
        outs(o, f->name);
        out_labels(o, f, s, NULL);
        outf(o, " %s\n", num);
        return;
    }
    for (i = 0; i <= f->nbuckets; i++) {
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        if (i < f->nbuckets)
            fmt_double(f->buckets[i], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        outf(o, "%s_bucket", f->name);
        out_labels(o, f, s, le);
        outf(o, " %" PRIu64 "\n", cum);
    }
    /* _count is the +Inf bucket, so the two always agree even while
     * observations race with the render. */
    fmt_double(hd_gauge_value(s), num, sizeof(num));
    outf(o, "%s_sum", f->name);
    out_labels(o, f, s, NULL);
    outf(o, " %s\n", num);
    outf(o, "%s_count", f->name);
    out_labels(o, f, s, NULL);
    outf(o, " %" PRIu64 "\n", cum);
}

static void
render_family(struct out *o, struct hd_metric *f)
{
    struct hd_metric_series *s;

    outf(o, "# HELP %s ", f->name);
    out_escaped(o, f->help, 0);
    outf(o, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    pthread_mutex_lock(&f->mu);
    for (s = f->first; s && !o->failed; s = s->order)
        render_series(o, f, s);
    pthread_mutex_unlock(&f->mu);
}

static void
process_metric(struct out *o, const char *name, const char *type,
               const char *help, double v)
{
    char num[64];

    fmt_double(v, num, sizeof(num));
    outf(o, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name,
         num);
}

static void
render_process(struct out *o)
{
    static const struct {
        const char *name, *type, *help;
        size_t at;
    } figs[] = {
        {"process_cpu_seconds_total", "counter",
         "Total user and system CPU time spent in seconds.",
         offsetof(struct hd_procstat, cpu_seconds)},
        {"process_resident_memory_bytes", "gauge",
         "Resident memory size in bytes.",
         offsetof(struct hd_procstat, resident_bytes)},
        {"process_virtual_memory_bytes", "gauge",
         "Virtual memory size in bytes.",
         offsetof(struct hd_procstat, virtual_bytes)},
        {"process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.",
         offsetof(struct hd_procstat, start_time)},
        {"process_open_fds", "gauge", "Number of open file descriptors.",
         offsetof(struct hd_procstat, open_fds)},
        {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
         offsetof(struct hd_procstat, max_fds)},
    };
    struct hd_procstat ps;
    size_t i;

    hd_procstat_read(&ps);
    for (i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
        double v;

        memcpy(&v, (const char *)&ps + figs[i].at, sizeof(v));
        if (!isnan(v))
            process_metric(o, figs[i].name, figs[i].type, figs[i].help, v);
    }
}

int
hd_metrics_render(struct hd_metrics *m, struct hd_buf *out, struct hd_err *err)
{
    struct out o = {out, err, 0};
    size_t start = out->len;
    struct collector *c;
    struct hd_metric *f;

    /* Collectors run under the registry lock, so two scrapes never run
     * them at once; they may update series but must not register. */
    pthread_mutex_lock(&m->mu);
    for (c = m->collectors; c; c = c->next)
        c->fn(c->ud);
    for (f = m->first; f && !o.failed; f = f->next)
        render_family(&o, f);
    pthread_mutex_unlock(&m->mu);
    render_process(&o);
    if (o.failed) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}
