/* kafka.c -- configuration, logging and the producer of common/kafka/kafka.h.
 *
 * Both client types start from hd_kafka_base_conf(): the bootstrap list,
 * the HERALD_KAFKA_* pass-through and librdkafka's log and error lines
 * routed to hd_log. The producer runs in event mode: its own thread serves
 * delivery reports, so a callback never runs on a caller's thread, not
 * even inside flush(), and runs exactly once per accepted record. The
 * consumer is in kafka_consumer.c. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "kafka/kafka.h"
#include "kafka/private.h"
#include "core/log.h"
#include "core/thread.h"
#include "core/banned.h"

#define KAFKA_ENV_PREFIX "HERALD_KAFKA_"
#define SEND_QUEUE_WAIT_MS 1000 /* send() retries a full local queue */
#define FREE_FLUSH_MS 10000     /* free() waits this long for reports */

/* The rows after HERALD_KAFKA_BROKERS, shared by both tables. */
#define KAFKA_MORE_FIELDS                                                      \
    HD_CFG_STR("HERALD_KAFKA_TOPIC_PREFIX", struct hd_kafka_config,            \
               topic_prefix, "herald.", 0, "prefix of every topic name"),      \
        HD_CFG_INT(                                                            \
            "HERALD_KAFKA_SEND_TIMEOUT_MS", struct hd_kafka_config,            \
            send_timeout_ms, 30000, 1000, 600000,                              \
            "give up on a produced record after this long "                    \
            "(message.timeout.ms); other HERALD_KAFKA_* variables are "        \
            "passed to librdkafka (HERALD_KAFKA_LINGER_MS -> linger.ms)")

const struct hd_config_field hd_kafka_config_fields[] = {
    HD_CFG_STR("HERALD_KAFKA_BROKERS", struct hd_kafka_config, brokers, NULL, 0,
               "Kafka bootstrap list (host:port,...); unset: herald-api "
               "runs self-hosted (HERALD_SELFHOST_*), herald-hub takes "
               "events through POST /send only"),
    KAFKA_MORE_FIELDS,
    HD_CFG_END,
};

const struct hd_config_field hd_kafka_required_config_fields[] = {
    HD_CFG_STR("HERALD_KAFKA_BROKERS", struct hd_kafka_config, brokers, NULL,
               HD_CFG_REQUIRED, "Kafka bootstrap list (host:port,...)"),
    KAFKA_MORE_FIELDS,
    HD_CFG_END,
};

/* Properties Herald sets itself: overriding them would break
 * at-least-once delivery or bypass a declared variable. */
static const struct {
    const char *prop;
    const char *why;
} managed_props[] = {
    {"bootstrap.servers", "use HERALD_KAFKA_BROKERS"},
    {"metadata.broker.list", "use HERALD_KAFKA_BROKERS"},
    {"message.timeout.ms", "use HERALD_KAFKA_SEND_TIMEOUT_MS"},
    {"delivery.timeout.ms", "use HERALD_KAFKA_SEND_TIMEOUT_MS"},
    {"group.id", "set by each consumer"},
    {"auto.offset.reset", "set by each consumer"},
    {"enable.auto.commit", "offsets are committed when work is done"},
    {"enable.auto.offset.store", "offsets are committed when work is done"},
    {"enable.idempotence", "the producer is always idempotent"},
    {"acks", "the producer always waits for all replicas"},
    {"request.required.acks", "the producer always waits for all replicas"},
    {NULL, NULL},
};

int
hd_kafka_topic(const struct hd_kafka_config *cfg, const char *name, char *out,
               size_t outlen)
{
    const char *prefix = cfg->topic_prefix ? cfg->topic_prefix : "";
    int n = snprintf(out, outlen, "%s%s", prefix, name);

    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return 0;
}

/* ---- configuration and logging ----------------------------------------- */

static int
log_level_of(int syslog_level)
{
    if (syslog_level <= 3) /* emerg, alert, crit, err */
        return HD_LOG_ERROR;
    if (syslog_level == 4)
        return HD_LOG_WARN;
    if (syslog_level <= 6)
        return HD_LOG_INFO;
    return HD_LOG_DEBUG;
}

/* Runs on librdkafka's threads. A property meant for the other client
 * type (HERALD_KAFKA_LINGER_MS on a consumer) is expected, since producers
 * and consumers share one environment: that warning is debug only. So is
 * a broker connection failure ("FAIL"): the same failure also arrives as
 * an error, logged by on_error(). */
static void
on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    int lvl = log_level_of(level);

    if ((strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by")) ||
        strcmp(fac, "FAIL") == 0)
        lvl = HD_LOG_DEBUG;
    hd_log(lvl, 0, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

void
hd_kafka_log_error(const rd_kafka_t *rk, int fatal, const char *what)
{
    hd_log(fatal ? HD_LOG_ERROR : HD_LOG_WARN, 0, "librdkafka %s %s: %s",
           rd_kafka_name(rk), fatal ? "fatal error" : "error", what);
}

/* Errors outside of any request (all brokers down, a fatal idempotence
 * error): nobody to report them to but the log. */
static void
on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)opaque;
    hd_kafka_log_error(rk, e == RD_KAFKA_RESP_ERR__FATAL, reason);
}

int
hd_kafka_set_prop(rd_kafka_conf_t *conf, const char *prop, const char *value,
                  const char *var, struct hd_err *err)
{
    char errstr[200];

    if (rd_kafka_conf_set(conf, prop, value, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        return hd_err_set(err, HD_EINVAL, "%s: %s", var, errstr);
    return 0;
}

struct passthrough {
    rd_kafka_conf_t *conf;
    struct hd_err *err;
};

/* HERALD_KAFKA_FETCH_WAIT_MAX_MS=1 -> fetch.wait.max.ms=1 */
static int
apply_passthrough(const char *name, const char *value, void *ud)
{
    struct passthrough *pt = ud;
    const char *rest = name + strlen(KAFKA_ENV_PREFIX);
    char prop[256];
    size_t i;

    for (i = 0; rest[i] != '\0' && i < sizeof(prop) - 1; i++)
        prop[i] = rest[i] == '_' ? '.' : (char)tolower((unsigned char)rest[i]);
    prop[i] = '\0';
    if (i == 0)
        return hd_err_set(pt->err, HD_EINVAL,
                          "%s: does not name a librdkafka property", name);
    for (i = 0; managed_props[i].prop; i++)
        if (strcmp(prop, managed_props[i].prop) == 0)
            return hd_err_set(pt->err, HD_EINVAL, "%s: %s cannot be set (%s)",
                              name, prop, managed_props[i].why);
    return hd_kafka_set_prop(pt->conf, prop, value, name, pt->err);
}

rd_kafka_conf_t *
hd_kafka_base_conf(const struct hd_kafka_config *cfg, struct hd_err *err)
{
    struct hd_config_section sec = {hd_kafka_config_fields, NULL};
    rd_kafka_conf_t *conf;
    struct passthrough pt;

    if (cfg->brokers == NULL || cfg->brokers[0] == '\0') {
        hd_err_set(
            err, HD_EINVAL,
            "HERALD_KAFKA_BROKERS: not set, and this service needs Kafka");
        return NULL;
    }
    conf = rd_kafka_conf_new();
    pt.conf = conf;
    pt.err = err;
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    if (hd_config_each_extra(KAFKA_ENV_PREFIX, &sec, 1, apply_passthrough,
                             &pt) < 0 ||
        hd_kafka_set_prop(conf, "bootstrap.servers", cfg->brokers,
                          "HERALD_KAFKA_BROKERS", err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int
hd_kafka_ping(rd_kafka_t *rk, int timeout_ms, struct hd_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;

    /* Locally known topics only: a cheap request any broker answers. */
    e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return hd_err_set(err,
                          e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                                  e == RD_KAFKA_RESP_ERR__TRANSPORT
                              ? HD_ETIMEDOUT
                              : HD_EUPSTREAM,
                          "kafka metadata: %s", rd_kafka_err2str(e));
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* CRC-32 (IEEE 802.3, reflected, as zlib and librdkafka's rd_crc32),
 * bit by bit: keys are short and this runs once per connection. */
static uint32_t
crc32_ieee(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    size_t i;
    int b;

    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

int32_t
hd_kafka_partition_of(const void *key, size_t keylen, int32_t npartitions)
{
    if (npartitions <= 0 || key == NULL || keylen == 0)
        return 0;
    return (int32_t)(crc32_ieee(key, keylen) % (uint32_t)npartitions);
}

/* ---- producer ---------------------------------------------------------- */

struct hd_kproducer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q; /* main queue: delivery reports and errors */
    pthread_t thread;
    atomic_int stop;
    atomic_long outstanding; /* accepted by send(), report not yet run */
};

/* msg_opaque of a record whose sender wants its report. */
struct dr_ctx {
    hd_kdelivery_fn *cb;
    void *opaque;
};

static void
serve_event(struct hd_kproducer *p, rd_kafka_event_t *ev)
{
    const rd_kafka_message_t *m;

    switch (rd_kafka_event_type(ev)) {
    case RD_KAFKA_EVENT_DR:
        while ((m = rd_kafka_event_message_next(ev)) != NULL) {
            struct dr_ctx *d = m->_private;

            /* Not rd_kafka_message_errstr(): for a report, that is the
             * record's payload, which is not a C string. */
            if (d != NULL) {
                d->cb(d->opaque, m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                      m->err ? rd_kafka_err2str(m->err) : "");
                free(d);
            }
            atomic_fetch_sub(&p->outstanding, 1);
        }
        break;
    case RD_KAFKA_EVENT_ERROR:
        hd_kafka_log_error(p->rk, rd_kafka_event_error_is_fatal(ev),
                           rd_kafka_event_error_string(ev));
        break;
    default:
        break;
    }
    rd_kafka_event_destroy(ev);
}

static void *
producer_thread(void *arg)
{
    struct hd_kproducer *p = arg;

    while (!atomic_load(&p->stop)) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(p->q, 500);

        if (ev != NULL)
            serve_event(p, ev);
    }
    return NULL;
}

struct hd_kproducer *
hd_kproducer_new(const struct hd_kafka_config *cfg, struct hd_err *err)
{
    struct hd_kproducer *p = NULL;
    rd_kafka_conf_t *conf;
    char timeout[16];
    char errstr[256];

    conf = hd_kafka_base_conf(cfg, err);
    if (conf == NULL)
        return NULL;
    snprintf(timeout, sizeof(timeout), "%d", cfg->send_timeout_ms);
    if (hd_kafka_set_prop(conf, "enable.idempotence", "true",
                          "enable.idempotence", err) < 0 ||
        hd_kafka_set_prop(conf, "acks", "all", "acks", err) < 0 ||
        hd_kafka_set_prop(conf, "partitioner", "consistent_random",
                          "partitioner", err) < 0 ||
        hd_kafka_set_prop(conf, "message.timeout.ms", timeout,
                          "HERALD_KAFKA_SEND_TIMEOUT_MS", err) < 0)
        goto fail;
    rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);

    p = hd_xcalloc(1, sizeof(*p));
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        hd_err_set(err, HD_EINVAL, "kafka producer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    p->q = rd_kafka_queue_get_main(p->rk);
    if (pthread_create(&p->thread, NULL, producer_thread, p) != 0) {
        hd_err_set(err, HD_EIO, "kafka producer: cannot start poll thread");
        rd_kafka_queue_destroy(p->q);
        rd_kafka_destroy(p->rk);
        goto fail;
    }
    return p;

fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    free(p);
    return NULL;
}

static enum hd_errcode
produce_errcode(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return HD_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return HD_ETOOBIG;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return HD_EINVAL;
    default:
        return HD_EUPSTREAM;
    }
}

/* librdkafka takes key and value as void * but, with MSG_F_COPY, only
 * reads them: the union drops const without a qualifier cast. */
static void *
readonly_ptr(const void *p)
{
    union {
        const void *ro;
        void *rw;
    } u = {.ro = p};

    return u.rw;
}

/* One produce attempt. The argument array rather than the RD_KAFKA_V_*
 * macros, which are GNU statement expressions. */
static rd_kafka_resp_err_t
produce(struct hd_kproducer *p, const char *topic, const void *key,
        size_t keylen, const void *value, size_t len, struct dr_ctx *d)
{
    rd_kafka_vu_t vu[5];
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t e;

    memset(vu, 0, sizeof(vu));
    vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[0].u.cstr = topic;
    vu[1].vtype = RD_KAFKA_VTYPE_KEY;
    vu[1].u.mem.ptr = readonly_ptr(key);
    vu[1].u.mem.size = keylen;
    vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[2].u.mem.ptr = readonly_ptr(value);
    vu[2].u.mem.size = len;
    vu[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[3].u.i = RD_KAFKA_MSG_F_COPY;
    vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[4].u.ptr = d;
    error = rd_kafka_produceva(p->rk, vu, sizeof(vu) / sizeof(vu[0]));
    if (error == NULL)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    e = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
    return e;
}

int
hd_kproducer_send(struct hd_kproducer *p, const char *topic, const void *key,
                  size_t keylen, const void *value, size_t len,
                  hd_kdelivery_fn *cb, void *opaque, struct hd_err *err)
{
    uint64_t deadline = hd_now_mono_ms() + SEND_QUEUE_WAIT_MS;
    struct dr_ctx *d = NULL;
    rd_kafka_resp_err_t e;

    if (cb != NULL) {
        d = hd_xmalloc(sizeof(*d));
        d->cb = cb;
        d->opaque = opaque;
    }
    /* Counted first: the report may run before produce() returns. */
    atomic_fetch_add(&p->outstanding, 1);
    for (;;) {
        e = produce(p, topic, key, keylen, value, len, d);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || hd_now_mono_ms() >= deadline)
            break;
        sleep_ms(5); /* the poll thread drains the queue meanwhile */
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_sub(&p->outstanding, 1);
        free(d);
        return hd_err_set(err, produce_errcode(e), "produce to %s: %s", topic,
                          rd_kafka_err2str(e));
    }
    return 0;
}

/* Shared by send_sync() and the delivery report: whichever lets go last
 * frees it, so a timed-out waiter never leaves the report dangling. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    int ok;
    char errstr[160];
};

static void
sync_wait_unref(struct sync_wait *w)
{
    int last;

    pthread_mutex_lock(&w->mu);
    last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

static void
sync_delivered(void *opaque, int ok, const char *errstr)
{
    struct sync_wait *w = opaque;

    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->ok = ok;
    snprintf(w->errstr, sizeof(w->errstr), "%s", errstr);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sync_wait_unref(w);
}

int
hd_kproducer_send_sync(struct hd_kproducer *p, const char *topic,
                       const void *key, size_t keylen, const void *value,
                       size_t len, int timeout_ms, struct hd_err *err)
{
    struct sync_wait *w = hd_xcalloc(1, sizeof(*w));
    struct timespec until;
    int done, ok, rc = 0;
    char errstr[sizeof(w->errstr)];

    pthread_mutex_init(&w->mu, NULL);
    hd_thread_cond_init(&w->cv);
    w->refs = 2;
    if (hd_kproducer_send(p, topic, key, keylen, value, len, sync_delivered, w,
                          err) < 0) {
        w->refs = 1;
        sync_wait_unref(w);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
        ;
    done = w->done;
    ok = w->ok;
    memcpy(errstr, w->errstr, sizeof(errstr));
    pthread_mutex_unlock(&w->mu);
    sync_wait_unref(w);

    if (!done)
        rc = hd_err_set(err, HD_ETIMEDOUT,
                        "produce to %s: no acknowledgement within %d ms", topic,
                        timeout_ms);
    else if (!ok)
        rc = hd_err_set(err, HD_EUPSTREAM, "produce to %s: %s", topic, errstr);
    return rc;
}

int
hd_kproducer_flush(struct hd_kproducer *p, int timeout_ms, struct hd_err *err)
{
    uint64_t deadline = hd_now_mono_ms() + (uint64_t)timeout_ms;
    long n;

    /* In event mode rd_kafka_flush() only waits (it serves nothing on this
     * thread) and sends lingering records at once. Our own counter decides:
     * it also covers a send() racing with this flush. */
    while ((n = atomic_load(&p->outstanding)) > 0) {
        uint64_t now = hd_now_mono_ms();
        int left;

        if (now >= deadline)
            return hd_err_set(err, HD_ETIMEDOUT,
                              "%ld records still unacknowledged after %d ms", n,
                              timeout_ms);
        left = (int)(deadline - now);
        if (rd_kafka_flush(p->rk, left < 100 ? left : 100) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
            sleep_ms(1); /* reports being served right now */
    }
    return 0;
}

long
hd_kproducer_outstanding(struct hd_kproducer *p)
{
    return atomic_load(&p->outstanding);
}

int
hd_kproducer_ping(struct hd_kproducer *p, int timeout_ms, struct hd_err *err)
{
    return hd_kafka_ping(p->rk, timeout_ms, err);
}

void
hd_kproducer_free(struct hd_kproducer *p)
{
    struct hd_err err = {0};
    rd_kafka_event_t *ev;
    long lost;

    if (p == NULL)
        return;
    if (hd_kproducer_flush(p, FREE_FLUSH_MS, &err) < 0) {
        /* Fail what is left, so every callback still runs exactly once. */
        lost = hd_kproducer_outstanding(p);
        hd_log(HD_LOG_ERROR, 0,
               "kafka producer closing: %ld records not acknowledged "
               "within %d ms are failed and may be lost",
               lost, FREE_FLUSH_MS);
        rd_kafka_purge(p->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        hd_kproducer_flush(p, 2000, NULL);
    }
    atomic_store(&p->stop, 1);
    rd_kafka_queue_yield(p->q);
    pthread_join(p->thread, NULL);
    while ((ev = rd_kafka_queue_poll(p->q, 0)) != NULL)
        serve_event(p, ev);
    lost = hd_kproducer_outstanding(p);
    if (lost > 0)
        hd_log(HD_LOG_ERROR, 0,
               "kafka producer closing: %ld records dropped without a "
               "delivery report",
               lost);
    rd_kafka_queue_destroy(p->q);
    rd_kafka_destroy(p->rk);
    free(p);
}
