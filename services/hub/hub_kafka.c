/* hub_kafka.c -- the herald.events and herald.broadcast consumer thread:
 * every partition of both from their end, with no consumer group (the
 * default: every replica sees every event, and nothing is left behind in
 * Kafka); sharded, the partitions hub_shard.c picks, resuming at the
 * shard's commits; or, with HERALD_HUB_GROUP_ID, a group subscription.
 *
 * The records one poll finds waiting are handed over as one batch (one
 * lock and at most one wake-up per service thread), never held back for
 * more. Dispatch blocks while a service thread's inbox is full, and the
 * consumer pauses fetching past its in-flight limit, so a burst larger
 * than the hub can route waits in Kafka rather than in memory. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "services/hub/hub_dispatch.h"
#include "services/hub/hub_kafka.h"
#include "services/hub/hub_shard.h"
#include "core/banned.h"

struct hub_kafka {
    struct hub_ctx *hub;
    struct hd_kconsumer *c;
    pthread_t tid;
    atomic_int stop;
    /* shutdown handshake: the thread says it dispatches no more (halted),
     * then waits for released before it closes the consumer, which only
     * it may do; events the service threads still hold mark their offsets
     * done in between */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int halted;
    int released;
    char topic[2][256]; /* herald.events, herald.broadcast */
    char *group;
    int every; /* every partition, no group, no commits */
};

struct kdone {
    struct hub_kafka *k;
    int32_t partition;
    int topic; /* index into k->topic */
    int64_t offset;
};

static void
record_done(void *ud)
{
    struct kdone *d = ud;

    hd_kconsumer_done(d->k->c, d->k->topic[d->topic], d->partition, d->offset);
    free(d);
}

/* Builds the event of one record, or marks a record that carries none
 * done at once. Returns the event or NULL. */
static struct hub_event *
handle(struct hub_kafka *k, const struct hd_kmsg *msg)
{
    struct hub_ctx *hub = k->hub;
    struct hd_err err = {0};
    struct hub_event *e;
    struct kdone *d;
    long long type;

    e = hub_event_from_record(msg->value, msg->len, &type, &err);
    if (e == NULL && type >= 0) {
        /* as POST /send: a newer server's type is dropped, not malformed */
        if (hd_bw_unknown_note(&hub->m.bw_unknown, type))
            hd_log(HD_LOG_WARN, 0,
                   "herald.events: Type %lld is unknown to this build; such "
                   "events are dropped (logged once per type)",
                   type);
        hd_kconsumer_done(k->c, msg->topic, msg->partition, msg->offset);
        return NULL;
    }
    if (e == NULL) {
        hd_counter_inc(hub->m.events[HUB_SRC_KAFKA][HUB_EV_MALFORMED]);
        hd_log(HD_LOG_WARN, 0, "skipping malformed event at %s/%d/%lld: %s",
               msg->topic, (int)msg->partition, (long long)msg->offset,
               err.msg);
        hd_kconsumer_done(k->c, msg->topic, msg->partition, msg->offset);
        return NULL;
    }
    if (e->created_ms <= 0)
        e->created_ms = msg->timestamp_ms;
    d = hd_xmalloc(sizeof(*d));
    d->k = k;
    d->topic = strcmp(msg->topic, k->topic[0]) == 0 ? 0 : 1;
    d->partition = msg->partition;
    d->offset = msg->offset;
    e->done = record_done;
    e->done_ud = d;
    return e;
}

/* Waits up to 100 ms for a record, then takes every record already
 * fetched (up to HD_HUB_KAFKA_BATCH) without waiting again, so records
 * that arrived together reach the service threads with one wake-up and
 * none waits for a later one. Returns how many events are in batch, or
 * -1 after a consumer error with nothing taken. */
static int
poll_batch(struct hub_kafka *k, struct hub_event **batch)
{
    struct hd_err err = {0};
    struct hd_kmsg msg;
    int rc, n = 0, wait_ms = 100;

    while (n < HD_HUB_KAFKA_BATCH) {
        rc = hd_kconsumer_poll(k->c, wait_ms, &msg, &err);
        if (rc < 0) {
            hd_log(HD_LOG_ERROR, 0, "consuming %s: %s", k->topic[0], err.msg);
            return n > 0 ? n : -1;
        }
        if (rc == 0)
            break;
        batch[n] = handle(k, &msg);
        if (batch[n] != NULL)
            n++;
        hd_kmsg_release(&msg);
        wait_ms = 0;
    }
    return n;
}

/* Hands the batch to the service threads, waiting for room (a burst
 * waits in Kafka, not in memory), and counts it. */
static void
hand_off(struct hub_kafka *k, struct hub_event **batch, size_t n)
{
    struct hub_metrics *m = &k->hub->m;
    unsigned char failed[HD_HUB_KAFKA_BATCH];
    size_t dropped;

    if (n == 0)
        return;
    dropped = hub_dispatch_batch(k->hub, batch, n, 1, failed);
    if (dropped > 0)
        hd_counter_add(m->events[HUB_SRC_KAFKA][HUB_EV_DROPPED], dropped);
    if (n > dropped)
        hd_counter_add(m->events[HUB_SRC_KAFKA][HUB_EV_ROUTED], n - dropped);
}

static void *
consume(void *arg)
{
    struct hub_kafka *k = arg;
    struct hub_event *batch[HD_HUB_KAFKA_BATCH];
    int n;

    hd_log_ctx_set("thread", "kafka");
    pthread_setname_np(pthread_self(), "hub-kafka");
    while (!atomic_load(&k->stop)) {
        n = poll_batch(k, batch);
        if (n < 0)
            usleep(500 * 1000);
        else
            hand_off(k, batch, (size_t)n);
    }
    pthread_mutex_lock(&k->mu);
    k->halted = 1;
    pthread_cond_broadcast(&k->cond);
    while (!k->released)
        pthread_cond_wait(&k->cond, &k->mu);
    pthread_mutex_unlock(&k->mu);
    hd_kconsumer_close(k->c);
    k->c = NULL;
    hd_log_ctx_clear();
    return NULL;
}

static int
pick(void *ud, const char *topic, int32_t partition, int32_t npartitions)
{
    struct hub_kafka *k = ud;

    if (k->every)
        return 1;
    return hub_shard_pick(&k->hub->shard, strcmp(topic, k->topic[0]) == 0,
                          partition, npartitions);
}

/* HERALD_HUB_GROUP_ID; else a stable group per shard (it resumes at its
 * committed offsets), or a name that is never used in Kafka (every
 * partition is read with no membership and no commits). */
static char *
group_id(const struct hub_ctx *hub)
{
    if (hub->cfg.group_id && *hub->cfg.group_id)
        return hd_xstrdup(hub->cfg.group_id);
    if (hub->shard.count > 0)
        return hd_xasprintf("herald-hub-shard-%d", hub->shard.index);
    return hd_xstrdup("herald-hub");
}

struct hub_kafka *
hub_kafka_start(struct hub_ctx *hub, struct hd_err *err)
{
    struct hub_kafka *k = hd_xcalloc(1, sizeof(*k));
    struct hd_kconsumer_opts o;
    const char *topics[2];

    k->hub = hub;
    atomic_init(&k->stop, 0);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cond, NULL);
    if (hd_kafka_topic(&hub->kafka_cfg, "events", k->topic[0],
                       sizeof(k->topic[0])) < 0 ||
        hd_kafka_topic(&hub->kafka_cfg, "broadcast", k->topic[1],
                       sizeof(k->topic[1])) < 0) {
        hd_err_set(err, HD_EINVAL, "HERALD_KAFKA_TOPIC_PREFIX: too long");
        goto fail;
    }
    k->group = group_id(hub);
    topics[0] = k->topic[0];
    topics[1] = k->topic[1];
    memset(&o, 0, sizeof(o));
    o.group_id = k->group;
    o.topics = topics;
    o.ntopics = 2;
    o.start_latest = 1;
    /* clients connect as soon as the port opens, seconds before the new
     * group is assigned its partitions: what is produced meanwhile is
     * theirs too */
    o.latest_at_start = 1;
    k->every = hub->shard.count == 0 &&
               (hub->cfg.group_id == NULL || *hub->cfg.group_id == '\0');
    if (hub->shard.count > 0 || k->every) {
        o.pick = pick;
        o.ud = k;
        o.no_commit = k->every;
    }
    k->c = hd_kconsumer_new(&hub->kafka_cfg, &o, err);
    if (k->c == NULL)
        goto fail;
    if (pthread_create(&k->tid, NULL, consume, k) != 0) {
        hd_err_set(err, HD_EIO, "pthread_create failed");
        hd_kconsumer_close(k->c);
        goto fail;
    }
    if (hub->shard.count > 0)
        hd_log(HD_LOG_INFO, 0,
               "shard %d of %d: consuming its partitions of %s and all of "
               "%s (offsets of group %s)",
               hub->shard.index, hub->shard.count, k->topic[0], k->topic[1],
               k->group);
    else if (k->every)
        hd_log(HD_LOG_INFO, 0,
               "consuming every partition of %s and %s from their end (no "
               "consumer group, no commits)",
               k->topic[0], k->topic[1]);
    else
        hd_log(HD_LOG_INFO, 0, "consuming %s and %s as group %s", k->topic[0],
               k->topic[1], k->group);
    return k;
fail:
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->mu);
    free(k->group);
    free(k);
    return NULL;
}

void
hub_kafka_halt(struct hub_kafka *k)
{
    if (k == NULL)
        return;
    atomic_store(&k->stop, 1);
    pthread_mutex_lock(&k->mu);
    while (!k->halted)
        pthread_cond_wait(&k->cond, &k->mu);
    pthread_mutex_unlock(&k->mu);
}

void
hub_kafka_stop(struct hub_kafka *k)
{
    if (k == NULL)
        return;
    hub_kafka_halt(k);
    pthread_mutex_lock(&k->mu);
    k->released = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->tid, NULL);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->mu);
    free(k->group);
    free(k);
}

int
hub_kafka_check(void *ud, struct hd_err *err)
{
    struct hub_kafka *k = ud;

    /* (both topics must exist: the log says which one Kafka lacks) */
    if (k->hub->shard.count > 0 && !hd_kconsumer_assigned(k->c))
        return hd_err_set(err, HD_EUPSTREAM,
                          "shard %d: waiting for the partitions of %s and %s",
                          k->hub->shard.index, k->topic[0], k->topic[1]);
    if (k->every && !hd_kconsumer_assigned(k->c))
        return hd_err_set(err, HD_EUPSTREAM,
                          "waiting for the partitions of %s and %s",
                          k->topic[0], k->topic[1]);
    return hd_kconsumer_ping(k->c, 1500, err);
}
