/* api_presence.c -- herald-api's view of who is online on the hub: a
 * consumer thread reads every partition of herald.presence from the
 * start at every start (statically assigned, committing nothing: every
 * replica needs all of it, and no group is left behind) into an api_pset, and
 * sweeps out the hubs whose lease ended, writing tombstones for their
 * keys. The fan-out asks it which users of a skip_online request to
 * skip (api_presence_skip), and records their devices as skipped. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/bitwarden.h"
#include "services/api/api.h"
#include "services/api/api_batch.h"
#include "services/api/api_fanout.h"
#include "services/api/api_presence.h"
#include "services/api/api_store.h"
#include "core/banned.h"

#define POLL_MS 200
#define SWEEP_MS 1000
#define SKIP_PAGE 1000
#define SKIP_RETRY_MS 500

#define PC struct api_presence_config

const struct hd_config_field api_presence_config_fields[] = {
    HD_CFG_BOOL("HERALD_API_PRESENCE", PC, enabled, false,
                "read herald.presence (who is connected to the hub), so "
                "sends with skip_online skip online users' devices; on by "
                "itself when HERALD_PUSH_SKIP_ONLINE is set"),
    HD_CFG_BOOL("HERALD_PUSH_SKIP_ONLINE", PC, skip_events, false,
                "POST /events: skip the mobile and Web Push notification "
                "of a user event while the user is connected to the hub "
                "(the devices are recorded \"skipped\", code \"online\")"),
    HD_CFG_INT("HERALD_API_PRESENCE_MAX_USERS", PC, max_entries, 1000000, 1,
               100000000,
               "(hub, user) presence entries held in memory (beyond: "
               "those users read as offline, so they get their pushes)"),
    HD_CFG_END,
};

struct api_presence {
    struct api_ctx *ctx;
    pthread_mutex_t mu; /* set */
    struct api_pset *set;
    struct hd_kconsumer *c;
    pthread_t tid;
    atomic_int stop;
    char topic[API_TOPIC_MAX];
    struct hd_metric_series *entries; /* herald_api_presence_users */
    struct hd_metric_series *hubs;    /* herald_api_presence_hubs */
    struct hd_metric_series *dropped; /* ..._presence_dropped_total */
    struct hd_metric *skipped;        /* herald_push_skipped_online_total */
};

/* ---- the consumer -------------------------------------------------------- */

/* A tombstone for a dead hub's key (under mu: the producer only queues). */
static void
tomb(void *ud, const char *key, size_t keylen)
{
    struct api_presence *p = ud;
    struct hd_err err = {0};

    if (p->ctx->producer != NULL &&
        hd_kproducer_send(p->ctx->producer, p->topic, key, keylen, NULL, 0,
                          NULL, NULL, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "presence tombstone: %s", err.msg);
}

static void
take(struct api_presence *p, const struct hd_kmsg *m)
{
    int64_t ts = m->timestamp_ms > 0 ? m->timestamp_ms : hd_now_wall_ms();
    struct hd_err err = {0};
    int rc;

    if (m->key == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    rc = api_pset_apply(p->set, m->key, m->keylen, m->value, m->len, ts, &err);
    pthread_mutex_unlock(&p->mu);
    if (rc == 1)
        hd_counter_inc(p->dropped);
    else if (rc < 0)
        hd_log(HD_LOG_WARN, 0, "%s/%d/%lld: skipped: %s", m->topic,
               (int)m->partition, (long long)m->offset, err.msg);
}

static void
sweep(struct api_presence *p)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = api_pset_expire(p->set, hd_now_wall_ms(), tomb, p);
    hd_gauge_set(p->entries, (double)api_pset_entries(p->set));
    hd_gauge_set(p->hubs, (double)api_pset_hubs(p->set));
    pthread_mutex_unlock(&p->mu);
    if (n > 0)
        hd_log(HD_LOG_INFO, 0, "presence: %zu hub(s) gone silent, forgotten",
               n);
}

/* Whether the reader has caught up with the topic: every partition read
 * up to the end it had at the start, or a sweep period of empty polls
 * once assigned (*idle counts them; a partition whose last records are
 * gone, say compacted away, never reports its end). Before that the
 * records are history, and a sweep would take a live hub whose latest
 * heartbeat is still unread (on the other partition than its users'
 * records, say) for gone, and tombstone its users. A fresh record does
 * not tell: one partition may be read to its end while another is not. */
static int
caught_up(struct api_presence *p, int rc, int *idle)
{
    if (rc == 1)
        *idle = 0;
    else if (rc == 0 && hd_kconsumer_assigned(p->c))
        ++*idle;
    return hd_kconsumer_caught_up(p->c) || *idle * POLL_MS >= SWEEP_MS;
}

static void *
consume(void *arg)
{
    struct api_presence *p = arg;
    uint64_t next_sweep = 0;
    struct hd_err err = {0};
    struct hd_kmsg m;
    int rc, live = 0, idle = 0;

    hd_log_ctx_set("thread", "presence");
    while (!atomic_load(&p->stop)) {
        rc = hd_kconsumer_poll(p->c, POLL_MS, &m, &err);
        if (rc < 0)
            hd_log(HD_LOG_ERROR, 0, "consuming %s: %s", p->topic, err.msg);
        live = live || caught_up(p, rc, &idle);
        if (rc == 1) {
            take(p, &m);
            hd_kconsumer_done(p->c, m.topic, m.partition, m.offset);
            hd_kmsg_release(&m);
        }
        if (live && hd_now_mono_ms() >= next_sweep) {
            sweep(p);
            next_sweep = hd_now_mono_ms() + SWEEP_MS;
        }
    }
    hd_log_ctx_clear();
    return NULL;
}

static int
pick_all(void *ud, const char *topic, int32_t partition, int32_t n)
{
    (void)ud;
    (void)topic;
    (void)partition;
    (void)n;
    return 1;
}

static void
metrics_init(struct api_presence *p, struct hd_metrics *reg)
{
    static const char *const prov[] = {"provider"};

    p->entries = hd_metric_with(
        hd_metrics_gauge(reg, "herald_api_presence_users",
                         "(hub, user) presence entries held", 0, NULL));
    p->hubs = hd_metric_with(hd_metrics_gauge(
        reg, "herald_api_presence_hubs", "hubs known to presence", 0, NULL));
    p->dropped = hd_metric_with(hd_metrics_counter(
        reg, "herald_api_presence_dropped_total",
        "presence records dropped at HERALD_API_PRESENCE_MAX_USERS", 0, NULL));
    p->skipped = hd_metrics_counter(
        reg, "herald_push_skipped_online_total",
        "devices not sent to because their user was online on the hub", 1,
        prov);
}

struct api_presence *
api_presence_start(struct api_ctx *ctx, const struct api_presence_config *cfg,
                   struct hd_err *err)
{
    struct api_presence *p = hd_xcalloc(1, sizeof(*p));
    struct hd_kconsumer_opts o;
    const char *topics[1];

    p->ctx = ctx;
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mu, NULL);
    p->set = api_pset_new((size_t)cfg->max_entries);
    metrics_init(p, ctx->registry);
    if (hd_kafka_topic(&ctx->kafka_cfg, "presence", p->topic,
                       sizeof(p->topic)) < 0) {
        hd_err_set(err, HD_EINVAL, "HERALD_KAFKA_TOPIC_PREFIX: too long");
        goto fail;
    }
    topics[0] = p->topic;
    memset(&o, 0, sizeof(o));
    o.group_id = "herald-api-presence"; /* names the client only */
    o.topics = topics;
    o.ntopics = 1;
    o.pick = pick_all;
    o.no_commit = 1;
    p->c = hd_kconsumer_new(&ctx->kafka_cfg, &o, err);
    if (p->c == NULL)
        goto fail;
    if (pthread_create(&p->tid, NULL, consume, p) != 0) {
        hd_err_set(err, HD_EIO, "cannot start the presence consumer");
        hd_kconsumer_close(p->c);
        goto fail;
    }
    hd_log(HD_LOG_INFO, 0, "presence: reading %s", p->topic);
    return p;
fail:
    api_pset_free(p->set);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

void
api_presence_stop(struct api_presence *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->tid, NULL);
    hd_kconsumer_close(p->c);
    api_pset_free(p->set);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int
api_presence_online(struct api_presence *p, const char *user)
{
    char id[HD_ID_MAX + 1];
    int on;

    if (p == NULL || user == NULL || strlen(user) > HD_ID_MAX)
        return 0;
    snprintf(id, sizeof(id), "%s", user);
    hd_bw_guid_normalize(id); /* as the hub has its token's user */
    pthread_mutex_lock(&p->mu);
    on = api_pset_online(p->set, id, hd_now_wall_ms());
    pthread_mutex_unlock(&p->mu);
    return on;
}

/* ---- the fan-out's skip ---------------------------------------------------
 */

/* One skipped device on herald.feedback, as a worker reports an outcome. */
static void
report_skipped(struct api_presence *p, const struct hd_msg_request *r,
               enum hd_provider prov, const char *device, const char *token)
{
    hd_counter_inc(hd_metric_with(p->skipped, hd_provider_name(prov)));
    api_report_device(p->ctx, r, prov, device, token, HD_OUTCOME_SKIPPED,
                      "online");
}

/* A page statement's parameters for the devices of users (a JSON array)
 * that r would reach: fo_page_users for recipient users (the request's
 * exclusions and client type), ff_page_users for a filter (its other
 * lists). */
struct skip_args {
    const char *stmt;
    const char *vals[11];
    int nvals;
    char ct[16], rows[16];
    struct hd_buf
        arr[5]; /* users, providers, exclude / ids, topics, platforms */
};

static void
skip_args_release(struct skip_args *a)
{
    int i;

    for (i = 0; i < 5; i++)
        hd_buf_release(&a->arr[i]);
}

/* The providers b wants (and a filter names) as an array literal. */
static const char *
providers(const struct hd_msg_request *r, const struct api_batcher *b,
          struct hd_buf *out, struct hd_err *err)
{
    json_t *only = r->kind == HD_RCPT_FILTER
                       ? json_object_get(r->values, "providers")
                       : NULL;
    json_t *v;
    size_t k;
    int i, named;

    hd_pg_array_begin(out);
    for (i = 0; i < HD_PROVIDER__COUNT; i++) {
        named = only == NULL;
        json_array_foreach(only, k, v)
        {
            if (strcmp(json_string_value(v), hd_provider_name(i)) == 0)
                named = 1;
        }
        if (named && api_batcher_wants(b, (enum hd_provider)i) &&
            hd_pg_array_add(out, hd_provider_name(i), err) < 0)
            return NULL;
    }
    return hd_pg_array_end(out, err) < 0 ? NULL : out->data;
}

/* A filter's list key as an array literal, NULL when absent. */
static int
filter_list(json_t *filter, const char *key, struct hd_buf *out,
            const char **val, struct hd_err *err)
{
    json_t *list = json_object_get(filter, key);

    *val = NULL;
    if (list == NULL)
        return 0;
    *val = api_pgarr_json(out, list, err);
    return *val == NULL ? -1 : 0;
}

static int
skip_args_init(struct skip_args *a, const struct hd_msg_request *r,
               const struct api_batcher *b, json_t *users, struct hd_err *err)
{
    int i;

    memset(a, 0, sizeof(*a));
    for (i = 0; i < 5; i++)
        hd_buf_init(&a->arr[i], API_PG_ARRAY_MAX);
    snprintf(a->rows, sizeof(a->rows), "%d", SKIP_PAGE);
    a->vals[0] = r->app;
    a->vals[3] = a->rows;
    a->vals[1] = api_pgarr_json(&a->arr[0], users, err);
    if (a->vals[1] == NULL)
        return -1;
    a->vals[4] = providers(r, b, &a->arr[1], err);
    if (a->vals[4] == NULL)
        return -1;
    if (r->kind == HD_RCPT_FILTER) {
        a->stmt = "ff_page_users";
        a->vals[6] = a->vals[1];
        a->vals[9] = "false";
        a->vals[10] = "false";
        a->nvals = 11;
        return filter_list(r->values, "ids", &a->arr[2], &a->vals[5], err) <
                           0 ||
                       filter_list(r->values, "topics", &a->arr[3], &a->vals[7],
                                   err) < 0 ||
                       filter_list(r->values, "platforms", &a->arr[4],
                                   &a->vals[8], err) < 0
                   ? -1
                   : 0;
    }
    a->stmt = "fo_page_users";
    a->nvals = 8;
    if (r->exclude_identifiers) {
        a->vals[5] = api_pgarr_json(&a->arr[2], r->exclude_identifiers, err);
        if (a->vals[5] == NULL)
            return -1;
    }
    snprintf(a->ct, sizeof(a->ct), "%d", r->client_type);
    a->vals[6] = a->ct;
    a->vals[7] = r->installation_id;
    return 0;
}

/* Sleeps ms in short steps; 1 when the fan-out is stopping. */
static int
nap(struct api_fanout *fo, int ms)
{
    struct timespec ts = {0, 50 * 1000000L};

    for (; ms > 0; ms -= 50) {
        if (atomic_load(&fo->stop))
            return 1;
        nanosleep(&ts, NULL);
    }
    return atomic_load(&fo->stop) != 0;
}

/* Reports every device of users (online) that r would reach, read with
 * the statement the fan-out reads them with. 0, or -1 when stopping. */
static int
report_devices(struct api_fanout *fo, const struct hd_msg_request *r,
               const struct api_batcher *b, json_t *users, struct hd_err *err)
{
    struct api_ctx *ctx = fo->ctx;
    char cursor[HD_ID_MAX + 1] = "";
    struct skip_args a;
    PGresult *res = NULL;
    int rc = -1, n, i;

    if (skip_args_init(&a, r, b, users, err) < 0) {
        hd_log(HD_LOG_WARN, 0, "send %s: skipped devices not recorded: %s",
               r->uid, err->msg);
        skip_args_release(&a);
        return 0;
    }
    a.vals[2] = cursor;
    for (;;) {
        if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, a.stmt, a.nvals, a.vals,
                      &res, err) < 0) {
            hd_log(HD_LOG_WARN, 0, "skipped devices (retried): %s", err->msg);
            if (nap(fo, SKIP_RETRY_MS))
                goto out;
            continue;
        }
        n = PQntuples(res);
        for (i = 0; i < n; i++) {
            const char *ok = api_pg_get(res, i, 3);
            enum hd_provider p;

            if (ok != NULL && ok[0] == 't' &&
                hd_provider_parse(api_pg_get(res, i, 1), &p) == 0)
                report_skipped(ctx->presence, r, p, api_pg_get(res, i, 0),
                               api_pg_get(res, i, 2));
        }
        if (n > 0)
            snprintf(cursor, sizeof(cursor), "%s", api_pg_get(res, n - 1, 0));
        PQclear(res);
        if (n < SKIP_PAGE)
            break;
    }
    rc = 0;
out:
    skip_args_release(&a);
    return rc;
}

/* The request's user list: recipient users, or a filter's users. */
static json_t *
users_of(const struct hd_msg_request *r)
{
    if (r->kind == HD_RCPT_USERS)
        return json_is_array(r->values) ? r->values : NULL;
    if (r->kind == HD_RCPT_FILTER)
        return json_object_get(r->values, "users");
    return NULL;
}

int
api_presence_skip(struct api_fanout *fo, struct hd_msg_request *r,
                  const struct api_batcher *b, struct hd_err *err)
{
    struct api_presence *p = fo->ctx->presence;
    json_t *users = users_of(r), *online, *offline, *u;
    size_t i;
    int rc = 0;

    if (p == NULL || !json_is_array(users) || json_array_size(users) == 0)
        return 0;
    online = json_array();
    offline = json_array();
    json_array_foreach(users, i, u)
    {
        json_array_append(
            api_presence_online(p, json_string_value(u)) ? online : offline, u);
    }
    if (json_array_size(online) > 0) {
        rc = report_devices(fo, r, b, online, err);
        if (rc == 0 && json_array_size(offline) == 0)
            rc = 1; /* (an empty filter list would mean "any user") */
        else if (rc == 0 && r->kind == HD_RCPT_USERS) {
            json_decref(r->values);
            r->values = json_incref(offline);
        } else if (rc == 0) {
            json_object_set(r->values, "users", offline);
        }
    }
    json_decref(online);
    json_decref(offline);
    return rc;
}
