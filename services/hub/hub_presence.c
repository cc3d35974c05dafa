/* hub_presence.c -- the presence publisher: a queue of user transitions
 * filled under hub_limits' lock (in the order they happened) and a thread
 * that writes them, plus the heartbeat, to herald.presence.
 *
 * The queue is bounded (QUEUE_MAX); a transition that finds it full is
 * dropped and counted (herald_hub_presence_dropped_total). A dropped
 * transition, or a record Kafka did not take, would leave a user reading
 * online after they left (a push skipped for nothing), so either makes
 * the hub publish under a new id from then on: the old id's heartbeat is
 * tombstoned (or, if that fails too, runs out after one lease) and every
 * user published under it reads offline. Users connected before the
 * restart read offline until they reconnect: presence fails towards
 * sending, never towards skipping. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/rand.h"
#include "kafka/kafka.h"
#include "services/hub/hub.h"
#include "services/hub/hub_presence.h"
#include "core/banned.h"

#define QUEUE_MAX 100000
#define HUB_ID_MAX 96
#define FLUSH_MS 5000

#define PC struct hub_presence_config

const struct hd_config_field hub_presence_config_fields[] = {
    HD_CFG_BOOL("HERALD_HUB_PRESENCE", PC, enabled, false,
                "publish which users are connected on herald.presence "
                "(needs HERALD_KAFKA_BROKERS), for herald-api's "
                "skip_online"),
    HD_CFG_INT("HERALD_HUB_PRESENCE_LEASE_MS", PC, lease_ms, 30000, 300,
               3600000,
               "presence lease: the hub renews it every third of this; a "
               "hub silent this long (crashed) has its users counted "
               "offline"),
    HD_CFG_END,
};

struct pitem {
    struct pitem *next;
    int online;
    size_t len;
    char user[];
};

struct hub_presence {
    struct hub_ctx *hub;
    struct hd_kproducer *prod;
    char topic[256];
    char id[HUB_ID_MAX];
    int lease_ms;
    pthread_t tid;
    pthread_mutex_t mu; /* the queue, stop */
    pthread_cond_t cond;
    struct pitem *head, *tail;
    size_t nqueued;
    int stop;
    atomic_int lost; /* a transition or record lost: restart under a new id */
    long users;      /* published online under id (the thread's count) */
    struct hd_metric_series *m_users;
    struct hd_metric_series *m_records;
    struct hd_metric_series *m_failed;
    struct hd_metric_series *m_dropped;
    struct hd_metric_series *m_restarts;
};

static void make_id(char *out, size_t outlen);

/* ---- the queue (hub_limits' hook) --------------------------------------- */

static void
on_user(void *ud, const char *user, size_t len, int online)
{
    struct hub_presence *p = ud;
    struct pitem *it;

    if (len > HD_ID_MAX)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->nqueued >= QUEUE_MAX) {
        pthread_mutex_unlock(&p->mu);
        hd_counter_inc(p->m_dropped);
        atomic_store(&p->lost, 1);
        return;
    }
    it = hd_xmalloc(sizeof(*it) + len + 1);
    it->next = NULL;
    it->online = online;
    it->len = len;
    memcpy(it->user, user, len);
    it->user[len] = '\0';
    if (p->tail)
        p->tail->next = it;
    else
        p->head = it;
    p->tail = it;
    p->nqueued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

/* ---- records --------------------------------------------------------------
 */

static void
delivered(void *opaque, int ok, const char *errstr)
{
    struct hub_presence *p = opaque;

    if (!ok) {
        hd_counter_inc(p->m_failed);
        atomic_store(&p->lost, 1);
        hd_log(HD_LOG_WARN, 0, "presence record not written: %s", errstr);
    }
}

static void
produce(struct hub_presence *p, const char *key, size_t keylen,
        const char *value)
{
    struct hd_err err = {0};

    hd_counter_inc(p->m_records);
    if (hd_kproducer_send(p->prod, p->topic, key, keylen, value,
                          value ? strlen(value) : 0, delivered, p, &err) < 0) {
        hd_counter_inc(p->m_failed);
        atomic_store(&p->lost, 1);
        hd_log(HD_LOG_WARN, 0, "presence record not queued: %s", err.msg);
    }
}

static void
publish_user(struct hub_presence *p, const struct pitem *it)
{
    char key[2 + HUB_ID_MAX + 1 + HD_ID_MAX + 1], value[64];
    int n = snprintf(key, sizeof(key), "u/%s/%s", p->id, it->user);

    if (n <= 0 || (size_t)n >= sizeof(key))
        return;
    snprintf(value, sizeof(value), "{\"lease_ms\":%d}", p->lease_ms);
    produce(p, key, (size_t)n, it->online ? value : NULL);
    if (it->online)
        p->users++;
    else if (p->users > 0) /* not published under this id: harmless */
        p->users--;
    hd_gauge_set(p->m_users, (double)p->users);
}

static void
heartbeat(struct hub_presence *p, int alive)
{
    char key[2 + HUB_ID_MAX + 1], value[96];
    int n = snprintf(key, sizeof(key), "h/%s", p->id);

    snprintf(value, sizeof(value), "{\"lease_ms\":%d,\"users\":%ld}",
             p->lease_ms, p->users);
    produce(p, key, (size_t)n, alive ? value : NULL);
}

/* After a loss: the old id's users are dropped at once (its heartbeat's
 * tombstone) or after one lease; transitions from now on go out under a
 * new id. */
static void
restart(struct hub_presence *p)
{
    char old[HUB_ID_MAX];

    heartbeat(p, 0);
    memcpy(old, p->id, sizeof(old));
    make_id(p->id, sizeof(p->id));
    p->users = 0;
    hd_gauge_set(p->m_users, 0);
    hd_counter_inc(p->m_restarts);
    hd_log(HD_LOG_WARN, 0,
           "presence: a record was lost; hub %s publishes as %s from now on "
           "(users connected before read offline until they reconnect)",
           old, p->id);
}

/* ---- the thread ------------------------------------------------------------
 */

static void
deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *
run(void *arg)
{
    struct hub_presence *p = arg;
    int beat_ms = p->lease_ms / 3;
    uint64_t next_beat = 0;
    struct pitem *batch, *it;
    struct timespec ts;
    int stop;

    hd_log_ctx_set("thread", "presence");
    for (;;) {
        if (atomic_exchange(&p->lost, 0))
            restart(p);
        if (hd_now_mono_ms() >= next_beat) {
            heartbeat(p, 1);
            next_beat = hd_now_mono_ms() + (uint64_t)beat_ms;
        }
        pthread_mutex_lock(&p->mu);
        if (p->head == NULL && !p->stop) {
            deadline_in(&ts, (int)(next_beat - hd_now_mono_ms()));
            pthread_cond_timedwait(&p->cond, &p->mu, &ts);
        }
        batch = p->head;
        p->head = p->tail = NULL;
        p->nqueued = 0;
        stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        for (; batch; batch = it) {
            it = batch->next;
            publish_user(p, batch);
            free(batch);
        }
        if (stop)
            break;
    }
    heartbeat(p, 0); /* stopping: readers drop this hub at once */
    hd_log_ctx_clear();
    return NULL;
}

/* host-pid-random, with only [A-Za-z0-9._-] (a key part). */
static void
make_id(char *out, size_t outlen)
{
    char host[64] = "hub", rnd[9];
    char *c;

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    hd_random_hex(rnd, 4);
    snprintf(out, outlen, "%.60s-%d-%s", host, (int)getpid(), rnd);
    for (c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
            *c = '_';
}

static void
metrics_init(struct hub_presence *p, struct hd_metrics *reg)
{
    p->m_users = hd_metric_with(hd_metrics_gauge(
        reg, "herald_hub_presence_users",
        "users with a connection to this process, as published", 0, NULL));
    p->m_records = hd_metric_with(hd_metrics_counter(
        reg, "herald_hub_presence_records_total",
        "presence records written (user transitions and heartbeats)", 0, NULL));
    p->m_failed = hd_metric_with(
        hd_metrics_counter(reg, "herald_hub_presence_failed_total",
                           "presence records Kafka did not take", 0, NULL));
    p->m_dropped = hd_metric_with(hd_metrics_counter(
        reg, "herald_hub_presence_dropped_total",
        "user transitions dropped with the presence queue full", 0, NULL));
    p->m_restarts = hd_metric_with(hd_metrics_counter(
        reg, "herald_hub_presence_restarts_total",
        "times a lost presence record made the hub publish under a new id", 0,
        NULL));
}

int
hub_presence_start(struct hub_ctx *hub, const struct hub_presence_config *cfg,
                   struct hub_presence **out, struct hd_err *err)
{
    struct hub_presence *p;
    pthread_condattr_t ca;

    *out = NULL;
    if (!cfg->enabled)
        return 0;
    if (!(hub->kafka_cfg.brokers && *hub->kafka_cfg.brokers))
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_HUB_PRESENCE: presence needs Kafka "
                          "(HERALD_KAFKA_BROKERS)");
    p = hd_xcalloc(1, sizeof(*p));
    p->hub = hub;
    p->lease_ms = cfg->lease_ms;
    if (hd_kafka_topic(&hub->kafka_cfg, "presence", p->topic,
                       sizeof(p->topic)) < 0) {
        free(p);
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_KAFKA_TOPIC_PREFIX: too long");
    }
    p->prod = hd_kproducer_new(&hub->kafka_cfg, err);
    if (p->prod == NULL) {
        free(p);
        return -1;
    }
    make_id(p->id, sizeof(p->id));
    metrics_init(p, hub->metrics);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->tid, NULL, run, p) != 0) {
        hd_kproducer_free(p->prod);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return hd_err_set(err, HD_EIO, "cannot start the presence thread");
    }
    pthread_mutex_lock(&hub->limits.mu);
    hub->limits.on_user_ud = p;
    hub->limits.on_user = on_user;
    pthread_mutex_unlock(&hub->limits.mu);
    hd_log(HD_LOG_INFO, 0, "presence: publishing on %s as hub %s (lease %d ms)",
           p->topic, p->id, p->lease_ms);
    *out = p;
    return 0;
}

void
hub_presence_stop(struct hub_presence *p)
{
    struct hd_err err = {0};

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->hub->limits.mu);
    p->hub->limits.on_user = NULL;
    pthread_mutex_unlock(&p->hub->limits.mu);
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->tid, NULL);
    if (hd_kproducer_flush(p->prod, FLUSH_MS, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "presence: %s", err.msg);
    hd_kproducer_free(p->prod);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
