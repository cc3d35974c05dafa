/* worker.c -- hd_pushworker_main(): one push-worker process wired from
 * the runtime skeleton, the provider, libcurl (common/http/client) and Kafka.
 *
 * Three threads: the consumer thread polls herald.deliver.<name> and hands
 * records to the engine (decoding there, off the engine's path); the
 * engine thread drives the HTTP/2 client and the engine; main() waits for
 * SIGTERM. Shutdown order matters and is the point of this file: stop
 * polling, drain the engine (in-flight requests finish, their outcomes are
 * produced and acknowledged) within HERALD_SHUTDOWN_TIMEOUT_MS, cancel what
 * is left, flush the producer, mark the finished records done, and only
 * then let the consumer commit and leave its group. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/backoff.h"
#include "core/json.h"
#include "kafka/kafka.h"
#include "core/limits.h"
#include "core/log.h"
#include "push/credential.h"
#include "push/engine.h"
#include "push/worker.h"
#include "service/runtime.h"
#include "core/shutdown.h"
#include "core/banned.h"

#define TOPIC_MAX 256
#define POLL_MS 100
#define STEP_MS 100

const struct hd_config_field hd_pushworker_config_fields[] = {
    HD_CFG_INT("HERALD_WORKER_MAX_ATTEMPTS", struct hd_pushworker_config,
               max_attempts, 5, 1, 100,
               "tries per device before the dead-letter topic (and no "
               "sooner than HERALD_WORKER_RETRY_WINDOW_S)"),
    HD_CFG_INT("HERALD_WORKER_RETRY_WINDOW_S", struct hd_pushworker_config,
               retry_window_s, 600, 0, 86400,
               "a device still failing after HERALD_WORKER_MAX_ATTEMPTS "
               "tries is retried (at the capped backoff) until its push "
               "is this old, then dead-lettered: a provider outage "
               "shorter than this loses nothing (0: attempts alone)"),
    HD_CFG_INT("HERALD_WORKER_MAX_BATCHES", struct hd_pushworker_config,
               max_batches, 64, 1, 100000,
               "delivery batches held at once (Kafka fetching pauses "
               "above this)"),
    HD_CFG_INT("HERALD_WORKER_BACKOFF_BASE_MS", struct hd_pushworker_config,
               backoff_base_ms, 1000, 1, 3600000,
               "first retry delay ceiling (full jitter, doubling)"),
    HD_CFG_INT("HERALD_WORKER_BACKOFF_CAP_MS", struct hd_pushworker_config,
               backoff_cap_ms, 60000, 1, 86400000,
               "largest retry delay ceiling (Retry-After may exceed it)"),
    HD_CFG_INT("HERALD_WORKER_PAUSE_MS", struct hd_pushworker_config,
               pause_base_ms, 5000, 100, 3600000,
               "first pause of all sends after the provider refused the "
               "configuration (doubles while probes fail); a refused "
               "credential fetch (OAuth invalid_grant, a bad key) is "
               "retried after 5 minutes, and sends wait that long"),
    HD_CFG_INT("HERALD_WORKER_PAUSE_MAX_MS", struct hd_pushworker_config,
               pause_max_ms, 300000, 100, 86400000,
               "longest pause after configuration errors"),
    HD_CFG_INT("HERALD_WORKER_CONNECTIONS", struct hd_pushworker_config,
               connections, 0, 0, 64,
               "HTTP connections per provider host (0: the provider's "
               "default)"),
    HD_CFG_INT("HERALD_WORKER_STREAMS", struct hd_pushworker_config, streams, 0,
               0, 1000,
               "HTTP/2 streams in flight per connection (0: the provider's "
               "default; the server's SETTINGS cap it)"),
    HD_CFG_INT("HERALD_WORKER_TIMEOUT_MS", struct hd_pushworker_config,
               timeout_ms, 10000, 100, 600000,
               "whole-request timeout for provider and token requests"),
    HD_CFG_STR("HERALD_WORKER_CA_FILE", struct hd_pushworker_config, ca_file,
               NULL, 0,
               "CA bundle for the provider hosts (default: the system "
               "store); the simulator's CA in tests"),
    HD_CFG_STR("HERALD_WORKER_CONNECT_TO", struct hd_pushworker_config,
               connect_to, NULL, 0,
               "HOST:PORT:CONNECT-HOST:CONNECT-PORT,... sends the real "
               "hostnames elsewhere (\"::127.0.0.1:8443\" sends all there)"),
    HD_CFG_ENUM("HERALD_WORKER_HTTP_CLIENT", struct hd_pushworker_config,
                client, "auto", "auto|nghttp2|libcurl",
                "HTTP/2 client for provider requests: nghttp2 (Herald's own, "
                "least CPU per request, HTTP/2 only) or libcurl (also "
                "HTTP/1.1); auto picks the provider's default"),
    HD_CFG_END,
};

struct worker {
    const struct hd_push_provider *p;
    void *pcfg;
    void *pst;
    struct hd_pushworker_config cfg;
    struct hd_kafka_config kcfg;
    struct hd_httpc_config net;
    struct hd_httpc *http;
    struct hd_kproducer *producer;
    struct hd_kconsumer *consumer;
    struct hd_pushengine *engine;
    char topic_deliver[TOPIC_MAX];
    char topic_feedback[TOPIC_MAX];
    char topic_dlq[TOPIC_MAX];
    char group[64];
    int drain_ms;

    pthread_t consumer_thread, engine_thread;
    int consumer_started, engine_started;
    atomic_int stop_poll;   /* consumer: stop fetching */
    atomic_int stop_engine; /* engine: drain and return */
    pthread_mutex_t m;
    pthread_cond_t cv;
    int close_now; /* consumer: commit and leave (under m) */
};

/* ---- helpers for providers ------------------------------------------------
 */

int
hd_push_json_inner(json_t *obj, const char *const *drop, struct hd_buf *out,
                   struct hd_err *err)
{
    json_t *copy;
    size_t i, start = out->len;
    int rc;

    if (!json_is_object(obj))
        return hd_err_set(err, HD_EINVAL, "message: must be an object");
    copy = json_copy(obj);
    for (i = 0; drop && drop[i]; i++)
        json_object_del(copy, drop[i]);
    rc = hd_json_dump(copy, out, err);
    json_decref(copy);
    if (rc < 0)
        return -1;
    /* "{...}" -> "..." */
    memmove(out->data + start, out->data + start + 1, out->len - start - 2);
    out->len -= 2;
    out->data[out->len] = '\0';
    return 0;
}

json_t *
hd_push_message(const struct hd_msg_delivery *d, struct hd_err *err)
{
    json_t *msg = json_object_get(d->notification, "message");

    if (!json_is_object(msg)) {
        hd_err_set(err, HD_EINVAL, "notification.message: must be an object");
        return NULL;
    }
    return msg;
}

int
hd_push_inner_init(struct hd_buf *out, json_t *msg, const char *const *drop,
                   size_t max, const char *provider, struct hd_err *err)
{
    hd_buf_init(out, max);
    if (hd_push_json_inner(msg, drop, out, err) < 0) {
        hd_buf_release(out);
        return hd_err_set(err, HD_EINVAL,
                          "message: larger than %zu bytes (%s's limit)", max,
                          provider);
    }
    return 0;
}

void
hd_push_result_set(struct hd_push_result *r, enum hd_push_action a,
                   const char *code)
{
    r->action = a;
    snprintf(r->code, sizeof(r->code), "%s", code ? code : "");
}

uint64_t
hd_push_retry_after(const struct hd_httpc_resp *resp,
                    const struct hd_clock *clock)
{
    uint64_t ms = 0;
    char v[64];

    if (hd_httpc_header(resp->headers, resp->headers_len, "retry-after", v,
                        sizeof(v)))
        hd_retry_after_parse(v, hd_clock_wall_ms(clock), &ms);
    return ms;
}

/* ---- adapters ------------------------------------------------------------ */

/* submit() and run() come from the engine thread, which ends before
 * teardown frees the client; wake() may come from the consumer thread
 * (a record offered while shutting down) and goes through w_wake(). */
static int
t_submit(void *ud, const struct hd_httpc_req *req, hd_httpc_done_fn *cb,
         void *cbud, struct hd_err *err)
{
    struct worker *w = ud;

    return hd_httpc_submit(w->http, req, cb, cbud, err);
}

static int
t_run(void *ud, int timeout_ms, struct hd_err *err)
{
    struct worker *w = ud;

    return hd_httpc_run(w->http, timeout_ms, err) < 0 ? -1 : 0;
}

/* The provider's credential thread and the consumer thread wake the
 * engine through here: they may still run while teardown frees the HTTP
 * client, so the pointer is read and cleared under w->m. */
static void
w_wake(void *ud)
{
    struct worker *w = ud;

    pthread_mutex_lock(&w->m);
    if (w->http)
        hd_httpc_wakeup(w->http);
    pthread_mutex_unlock(&w->m);
}

static int
s_send(void *ud, enum hd_pushsink_topic t, const void *key, size_t keylen,
       const void *value, size_t len, hd_pushsink_ack_fn *ack, void *opaque,
       struct hd_err *err)
{
    struct worker *w = ud;
    const char *topic = t == HD_PUSHSINK_FEEDBACK  ? w->topic_feedback
                        : t == HD_PUSHSINK_DELIVER ? w->topic_deliver
                                                   : w->topic_dlq;

    return hd_kproducer_send(w->producer, topic, key, keylen, value, len, ack,
                             opaque, err);
}

static void
on_done(void *ud, int32_t partition, int64_t offset)
{
    struct worker *w = ud;

    hd_kconsumer_done(w->consumer, w->topic_deliver, partition, offset);
}

static void
on_rebalance(void *ud, int assigned, const char *topic, int32_t partition)
{
    (void)ud;
    hd_log(HD_LOG_INFO, 0, "partition %s[%d] %s", topic, (int)partition,
           assigned ? "assigned" : "revoked");
}

static int
kafka_check(void *ud, struct hd_err *err)
{
    struct worker *w = ud;

    return hd_kproducer_ping(w->producer, 1500, err);
}

/* ---- threads ------------------------------------------------------------- */

static void *
consumer_main(void *arg)
{
    struct worker *w = arg;
    struct hd_err err = {0};
    struct hd_kmsg msg;
    int rc;

    hd_log_ctx_set("provider", "%s", w->p->name);
    while (!atomic_load(&w->stop_poll)) {
        rc = hd_kconsumer_poll(w->consumer, POLL_MS, &msg, &err);
        if (rc == 1) {
            hd_pushengine_offer(w->engine, msg.partition, msg.offset, msg.value,
                                msg.value ? msg.len : 0, msg.timestamp_ms);
            hd_kmsg_release(&msg);
        } else if (rc < 0) {
            hd_log(HD_LOG_ERROR, 0, "kafka consumer: %s", err.msg);
            hd_shutdown_wait(1000);
        }
    }
    pthread_mutex_lock(&w->m);
    while (!w->close_now)
        pthread_cond_wait(&w->cv, &w->m);
    pthread_mutex_unlock(&w->m);
    hd_kconsumer_close(w->consumer);
    w->consumer = NULL;
    return NULL;
}

static void *
engine_main(void *arg)
{
    struct worker *w = arg;
    struct hd_err err = {0};
    uint64_t deadline = 0;

    hd_log_ctx_set("provider", "%s", w->p->name);
    for (;;) {
        if (atomic_load(&w->stop_engine) && deadline == 0) {
            deadline = hd_now_mono_ms() + (uint64_t)w->drain_ms;
            hd_pushengine_drain(w->engine);
        }
        if (hd_pushengine_step(w->engine, STEP_MS, &err) < 0) {
            hd_log(HD_LOG_FATAL, 0, "HTTP client: %s", err.msg);
            hd_shutdown_request();
            break;
        }
        if (deadline == 0)
            continue;
        if (hd_pushengine_drained(w->engine))
            break;
        if (hd_now_mono_ms() >= deadline) {
            struct hd_pushengine_stats st;

            hd_pushengine_stats(w->engine, &st);
            hd_log(HD_LOG_WARN, 0,
                   "drain timed out with %ld requests and %ld records in "
                   "flight: their batches are delivered again",
                   st.requests, st.records);
            break;
        }
    }
    return NULL;
}

/* ---- set-up and tear-down
 * ---------------------------------------------------- */

static void
net_config(struct worker *w)
{
    memset(&w->net, 0, sizeof(w->net));
    w->net.max_connections =
        w->cfg.connections > 0 ? w->cfg.connections : w->p->default_connections;
    w->net.max_streams =
        w->cfg.streams > 0 ? w->cfg.streams : w->p->default_streams;
    w->net.version = w->p->version;
    w->net.timeout_ms = w->cfg.timeout_ms;
    w->net.ca_file = w->cfg.ca_file;
    w->net.connect_to = w->cfg.connect_to;
    w->net.native_h2 = strcmp(w->cfg.client, "nghttp2") == 0 ||
                       (strcmp(w->cfg.client, "auto") == 0 && w->p->native_h2);
    if (w->p->net)
        w->p->net(w->pcfg, &w->net);
}

static int
topics(struct worker *w)
{
    char name[64];

    snprintf(name, sizeof(name), "deliver.%s", w->p->name);
    snprintf(w->group, sizeof(w->group), "herald-worker-%s", w->p->name);
    if (hd_kafka_topic(&w->kcfg, name, w->topic_deliver, TOPIC_MAX) < 0 ||
        hd_kafka_topic(&w->kcfg, "feedback", w->topic_feedback, TOPIC_MAX) <
            0 ||
        hd_kafka_topic(&w->kcfg, "dlq", w->topic_dlq, TOPIC_MAX) < 0)
        return -1;
    return 0;
}

/* Everything before the threads start. Returns 0, or the exit status
 * after logging why. */
static int
setup(struct worker *w, struct hd_runtime *rt)
{
    const char *topic_list[1];
    struct hd_kconsumer_opts co;
    struct hd_pushengine_deps deps;
    struct hd_push_env env;
    struct hd_err err = {0};

    if (topics(w) < 0) {
        hd_log(HD_LOG_FATAL, 0, "HERALD_KAFKA_TOPIC_PREFIX: too long");
        return HD_EXIT_CONFIG;
    }
    net_config(w);
    w->http = hd_httpc_new(&w->net, &err);
    if (w->http == NULL) {
        hd_log(HD_LOG_FATAL, 0, "HTTP client: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    /* Kafka first: without HERALD_KAFKA_BROKERS there is nothing to do,
     * and no credential thread should have started. */
    w->producer = hd_kproducer_new(&w->kcfg, &err);
    if (w->producer == NULL) {
        hd_log(HD_LOG_FATAL, 0, "kafka producer: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    memset(&env, 0, sizeof(env));
    env.clock = &hd_clock_system;
    env.metrics = rt->metrics;
    env.net = &w->net;
    env.wake = w_wake;
    env.wake_ud = w;
    env.threaded = 1;
    if (w->p->init(&w->pst, w->pcfg, &env, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s: %s", w->p->name, err.msg);
        return HD_EXIT_CONFIG;
    }
    memset(&deps, 0, sizeof(deps));
    deps.p = w->p;
    deps.pst = w->pst;
    deps.metrics = rt->metrics;
    deps.queue = w->topic_deliver;
    deps.transport.submit = t_submit;
    deps.transport.run = t_run;
    deps.transport.wake = w_wake;
    deps.transport.ud = w;
    deps.sink.send = s_send;
    deps.sink.ud = w;
    deps.done = on_done;
    deps.done_ud = w;
    w->engine = hd_pushengine_new(&w->cfg, &deps, &err);
    if (w->engine == NULL) {
        hd_log(HD_LOG_FATAL, 0, "engine: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    topic_list[0] = w->topic_deliver;
    memset(&co, 0, sizeof(co));
    co.group_id = w->group;
    co.topics = topic_list;
    co.ntopics = 1;
    co.max_inflight = w->cfg.max_batches;
    co.on_rebalance = on_rebalance;
    w->consumer = hd_kconsumer_new(&w->kcfg, &co, &err);
    if (w->consumer == NULL) {
        hd_log(HD_LOG_FATAL, 0, "kafka consumer: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    hd_health_add_check(rt->health, "kafka", kafka_check, w);
    return 0;
}

static int
start_threads(struct worker *w)
{
    int rc;

    rc = pthread_create(&w->engine_thread, NULL, engine_main, w);
    if (rc != 0) {
        hd_log(HD_LOG_FATAL, rc, "engine thread");
        return -1;
    }
    w->engine_started = 1;
    rc = pthread_create(&w->consumer_thread, NULL, consumer_main, w);
    if (rc != 0) {
        hd_log(HD_LOG_FATAL, rc, "consumer thread");
        return -1;
    }
    w->consumer_started = 1;
    return 0;
}

/* The shutdown sequence (see the file comment). */
static void
teardown(struct worker *w)
{
    struct hd_httpc *http;

    atomic_store(&w->stop_poll, 1);
    atomic_store(&w->stop_engine, 1);
    if (w->engine_started) {
        hd_pushengine_wake(w->engine);
        pthread_join(w->engine_thread, NULL);
    }
    pthread_mutex_lock(&w->m);
    http = w->http;
    w->http = NULL; /* w_wake() no longer touches it */
    pthread_mutex_unlock(&w->m);
    hd_httpc_free(http);            /* cancels what the drain left */
    hd_kproducer_free(w->producer); /* every acknowledgement has run */
    w->producer = NULL;
    if (w->engine)
        hd_pushengine_collect(w->engine); /* done() for settled batches */
    if (w->consumer_started) {
        pthread_mutex_lock(&w->m);
        w->close_now = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->m);
        pthread_join(w->consumer_thread, NULL);
    } else {
        hd_kconsumer_close(w->consumer);
    }
    w->consumer = NULL;
    hd_pushengine_free(w->engine);
    w->engine = NULL;
    if (w->p->free)
        w->p->free(w->pst);
    w->pst = NULL;
}

int
hd_pushworker_main(int argc, char **argv, const struct hd_push_provider *p)
{
    struct hd_config_section secs[3];
    struct hd_runtime_desc d;
    struct hd_runtime rt;
    static char admin_var[64];
    struct worker *w = hd_xcalloc(1, sizeof(*w));
    int rc, status = 1;

    w->p = p;
    w->pcfg = hd_xcalloc(1, p->cfg_size ? p->cfg_size : 1);
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->cv, NULL);
    secs[0].fields = p->fields;
    secs[0].base = w->pcfg;
    secs[1].fields = hd_pushworker_config_fields;
    secs[1].base = &w->cfg;
    secs[2].fields = hd_kafka_required_config_fields;
    secs[2].base = &w->kcfg;
    memset(&d, 0, sizeof(d));
    d.name = p->binary;
    d.summary = p->summary;
    d.port_var = p->port_var;
    d.default_port = p->default_port;
    /* HERALD_WORKER_FCM_PORT 9101 -> HERALD_WORKER_FCM_ADMIN_PORT 9111 */
    snprintf(admin_var, sizeof(admin_var), "%.*s_ADMIN_PORT",
             (int)(strlen(p->port_var) - 5), p->port_var);
    d.admin_port_var = admin_var;
    d.default_admin_port = p->default_port + 10;
    d.secs = secs;
    d.n = 3;
    rc = hd_runtime_init(&rt, &d, argc, argv);
    if (rc != 0) {
        status = rc > 0 ? 0 : HD_EXIT_CONFIG;
        goto out_free;
    }
    w->drain_ms = rt.drain_ms;
    status = setup(w, &rt);
    if (status != 0)
        goto out;
    status = 1;
    if (hd_runtime_serve(&rt, NULL, 0, NULL, NULL) < 0)
        goto out;
    if (start_threads(w) < 0)
        goto out;
    hd_log(HD_LOG_INFO, 0,
           "consuming %s as %s; up to %d x %d requests in flight (%s)",
           w->topic_deliver, w->group, w->net.max_connections,
           w->net.max_streams, w->net.native_h2 ? "nghttp2" : "libcurl");
    hd_runtime_wait(&rt);
    hd_runtime_drain(&rt);
    status = 0;
out:
    teardown(w);
    hd_runtime_release(&rt);
out_free:
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->m);
    free(w->pcfg);
    free(w);
    return status;
}

struct hd_pushauth *
hd_push_token_cache(const struct hd_push_env *env,
                    int (*fetch)(void *ud, struct hd_buf *value,
                                 int64_t *expires_ms, struct hd_err *err),
                    void *ud, int64_t refresh_before_ms,
                    int64_t min_interval_ms, struct hd_httpc **http,
                    struct hd_err *err)
{
    struct hd_httpc_config net = *env->net;
    struct hd_pushauth_opts o;

    net.max_connections = 1;
    net.max_streams = 1;
    net.version = HD_HTTPC_HTTP2;
    net.native_h2 = 0; /* token endpoints may speak HTTP/1.1 only */
    *http = hd_httpc_new(&net, err);
    if (*http == NULL)
        return NULL;
    memset(&o, 0, sizeof(o));
    o.fetch = fetch;
    o.ud = ud;
    o.refresh_before_ms = refresh_before_ms;
    o.min_interval_ms = min_interval_ms;
    o.clock = env->clock;
    o.on_change = env->wake;
    o.change_ud = env->wake_ud;
    o.threaded = env->threaded;
    return hd_pushauth_new(&o, err);
}
