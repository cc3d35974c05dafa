/* consumer.c -- the consumer of common/kafka/kafka.h and its offsets.
 *
 * Per owned partition, the offsets poll() handed out sit in a ring
 * (ring.c) whose first entry is the offset to commit. Main invariant: an
 * offset is committed only when it and every offset polled before it on
 * that partition are done. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "kafka/kafka.h"
#include "kafka/private.h"
#include "kafka/ring.h"
#include "kafka/startpos.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/banned.h"

#define STARTPOS_TIMEOUT_MS 5000 /* latest_at_start's questions to Kafka */
_Static_assert(HD_KRING_MAX >= 2 * HD_KAFKA_MAX_INFLIGHT, "ring below limit");

/* ---- offset tracking --------------------------------------------------- */

/* One owned partition: the offsets polled and not yet committable. */
struct kpart {
    char *topic;
    int32_t partition;
    struct hd_kring ring;
    int64_t sent;      /* last offset sent in an async commit, -1: none */
    int64_t committed; /* last offset confirmed (or resumed at), -1 */
    int64_t end;       /* no_commit: the end it had when assigned, until
                          read up to it; then (or unknown) -1 */
};

struct hd_kconsumer {
    rd_kafka_t *rk;
    pthread_mutex_t mu; /* guards parts, nparts and inflight */
    struct kpart **parts;
    size_t nparts;
    size_t partcap;
    long inflight;
    /* owning thread only */
    long max_inflight;
    int paused;
    int closing;
    uint64_t last_commit_ms;
    hd_krebalance_fn *on_rebalance;
    void *ud;
    struct hd_kstartpos *startpos; /* latest_at_start, or NULL */
    /* static assignment (pick != NULL) */
    int (*pick)(void *ud, const char *topic, int32_t partition,
                int32_t npartitions);
    char **topics;
    size_t ntopics;
    atomic_int assigned;
    uint64_t next_try_ms;
    int no_commit;    /* no commits (with pick) */
    int start_latest; /* no_commit: from the end, not the beginning */
};

/* Caller holds c->mu. A consumer owns a few dozen partitions at most:
 * a scan is cheaper than any index. */
static struct kpart *
part_find(struct hd_kconsumer *c, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < c->nparts; i++) {
        struct kpart *k = c->parts[i];

        if (k->partition == partition && strcmp(k->topic, topic) == 0)
            return k;
    }
    return NULL;
}

static void
part_free(struct kpart *k)
{
    free(k->topic);
    hd_kring_release(&k->ring);
    free(k);
}

/* Caller holds c->mu. */
static void
part_add(struct hd_kconsumer *c, const char *topic, int32_t partition)
{
    struct kpart *k;

    if (part_find(c, topic, partition) != NULL)
        return;
    if (c->nparts == c->partcap) {
        c->partcap = c->partcap ? c->partcap * 2 : 16;
        c->parts = hd_xrealloc(c->parts, c->partcap * sizeof(*c->parts));
    }
    k = hd_xcalloc(1, sizeof(*k));
    k->topic = hd_xstrdup(topic);
    k->partition = partition;
    hd_kring_init(&k->ring);
    k->sent = -1;
    k->committed = -1;
    k->end = -1;
    c->parts[c->nparts++] = k;
}

/* Caller holds c->mu. Forgets the partition and what was in flight on it:
 * its next owner re-processes that. */
static void
part_drop(struct hd_kconsumer *c, size_t idx)
{
    struct kpart *k = c->parts[idx];

    c->inflight -= (long)hd_kring_undone(&k->ring);
    part_free(k);
    c->parts[idx] = c->parts[--c->nparts];
}

void
hd_kconsumer_done(struct hd_kconsumer *c, const char *topic, int32_t partition,
                  int64_t offset)
{
    struct kpart *k;

    pthread_mutex_lock(&c->mu);
    k = part_find(c, topic, partition);
    if (k != NULL && hd_kring_done(&k->ring, offset))
        c->inflight--;
    pthread_mutex_unlock(&c->mu);
}

long
hd_kconsumer_inflight(struct hd_kconsumer *c)
{
    long n;

    pthread_mutex_lock(&c->mu);
    n = c->inflight;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* ---- commits and rebalances ------------------------------------------- */

/* Offsets to commit, per tracked partition (all of them when want is
 * NULL, else those in want). sync: every known offset the broker has not
 * confirmed; async: only those not sent yet (marked sent). Drops the
 * partitions in want when drop is set, in the same critical section, so
 * no done() can slip between what is committed and what is forgotten. */
static rd_kafka_topic_partition_list_t *
collect_offsets(struct hd_kconsumer *c,
                const rd_kafka_topic_partition_list_t *want, int sync, int drop)
{
    rd_kafka_topic_partition_list_t *out =
        rd_kafka_topic_partition_list_new(c->nparts ? (int)c->nparts : 1);
    size_t i;

    pthread_mutex_lock(&c->mu);
    for (i = 0; i < c->nparts;) {
        struct kpart *k = c->parts[i];
        int64_t off = hd_kring_commit_offset(&k->ring);
        int wanted = want == NULL || rd_kafka_topic_partition_list_find(
                                         want, k->topic, k->partition) != NULL;

        if (wanted && off >= 0 && off != k->committed &&
            (sync || off != k->sent)) {
            rd_kafka_topic_partition_list_add(out, k->topic, k->partition)
                ->offset = off;
            k->sent = off;
        }
        if (wanted && drop)
            part_drop(c, i);
        else
            i++;
    }
    pthread_mutex_unlock(&c->mu);
    return out;
}

/* Records the broker's answer for offsets: confirmed ones are not sent
 * again; failed ones are re-sent by the next commit. */
static void
commit_result(struct hd_kconsumer *c, rd_kafka_resp_err_t e,
              const rd_kafka_topic_partition_list_t *offsets)
{
    int i;

    pthread_mutex_lock(&c->mu);
    for (i = 0; offsets != NULL && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        struct kpart *k = part_find(c, tp->topic, tp->partition);

        if (k == NULL || tp->offset < 0)
            continue;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && tp->err == 0) {
            if (tp->offset > k->committed)
                k->committed = tp->offset;
        } else if (k->sent == tp->offset) {
            k->sent = -1;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static rd_kafka_resp_err_t
first_error(rd_kafka_resp_err_t e,
            const rd_kafka_topic_partition_list_t *offsets)
{
    int i;

    for (i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < offsets->cnt; i++)
        e = offsets->elems[i].err;
    return e;
}

static int
commit_list(struct hd_kconsumer *c, rd_kafka_topic_partition_list_t *offsets,
            int sync, struct hd_err *err)
{
    rd_kafka_resp_err_t e;

    if (offsets->cnt == 0 || c->no_commit)
        return 0;
    e = rd_kafka_commit(c->rk, offsets, !sync);
    if (sync)
        e = first_error(e, offsets);
    if (sync || e != RD_KAFKA_RESP_ERR_NO_ERROR)
        commit_result(c, e, offsets);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return hd_err_set(err, HD_EUPSTREAM, "kafka offset commit: %s",
                          rd_kafka_err2str(e));
    return 0;
}

int
hd_kconsumer_commit(struct hd_kconsumer *c, int sync, struct hd_err *err)
{
    rd_kafka_topic_partition_list_t *offsets;
    int rc;

    offsets = collect_offsets(c, NULL, sync, 0);
    rc = commit_list(c, offsets, sync, err);
    rd_kafka_topic_partition_list_destroy(offsets);
    c->last_commit_ms = hd_now_mono_ms();
    return rc;
}

/* Served inside rd_kafka_consumer_poll() (and close), for async and sync
 * commits alike. */
static void
on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
          rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct hd_kconsumer *c = opaque;

    (void)rk;
    if (e == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return;
    commit_result(c, e, offsets);
    if (offsets != NULL)
        e = first_error(e, offsets);
    /* Info only: the next commit retries, and sync commits (revoke,
     * close) log their own failure with context. */
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        hd_log(HD_LOG_INFO, 0, "kafka offset commit failed (retried): %s",
               rd_kafka_err2str(e));
}

static void
set_paused(struct hd_kconsumer *c, int on)
{
    rd_kafka_topic_partition_list_t *a = NULL;

    if (rd_kafka_assignment(c->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (on)
            rd_kafka_pause_partitions(c->rk, a);
        else
            rd_kafka_resume_partitions(c->rk, a);
        rd_kafka_topic_partition_list_destroy(a);
    }
    c->paused = on;
}

/* Back-pressure: stop fetching above max_inflight, start again at half.
 * Pausing discards what was fetched ahead, so nothing more arrives. */
static void
update_pause(struct hd_kconsumer *c)
{
    long n = hd_kconsumer_inflight(c);

    if (!c->paused && n > c->max_inflight)
        set_paused(c, 1);
    else if (c->paused && n <= c->max_inflight / 2)
        set_paused(c, 0);
}

static void
notify(struct hd_kconsumer *c, int assigned,
       const rd_kafka_topic_partition_list_t *parts)
{
    int i;

    if (c->on_rebalance == NULL || c->closing)
        return;
    for (i = 0; i < parts->cnt; i++)
        c->on_rebalance(c->ud, assigned, parts->elems[i].topic,
                        parts->elems[i].partition);
}

static void
log_rebalance_error(const char *what, rd_kafka_error_t *error)
{
    if (error == NULL)
        return;
    hd_log(HD_LOG_ERROR, 0, "kafka %s: %s", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
}

static void
assign(struct hd_kconsumer *c, rd_kafka_topic_partition_list_t *parts, int coop)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int i;

    if (!c->no_commit) /* no_commit: set where picked */
        hd_kstartpos_apply(c->startpos, c->rk, parts, STARTPOS_TIMEOUT_MS);
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < parts->cnt; i++)
        part_add(c, parts->elems[i].topic, parts->elems[i].partition);
    pthread_mutex_unlock(&c->mu);
    if (coop)
        log_rebalance_error("incremental assign",
                            rd_kafka_incremental_assign(c->rk, parts));
    else
        e = rd_kafka_assign(c->rk, parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        hd_log(HD_LOG_ERROR, 0, "kafka assign: %s", rd_kafka_err2str(e));
    /* librdkafka keeps a partition's pause across unassign and assign:
     * state it explicitly. */
    if (c->paused)
        rd_kafka_pause_partitions(c->rk, parts);
    else
        rd_kafka_resume_partitions(c->rk, parts);
    notify(c, 1, parts);
}

static void
revoke(struct hd_kconsumer *c, rd_kafka_topic_partition_list_t *parts, int coop)
{
    rd_kafka_topic_partition_list_t *offsets;
    struct hd_err err = {0};

    offsets = collect_offsets(c, parts, 1, 1);
    /* After a lost assignment (session timeout) the group has moved on
     * and a commit would be refused; the new owner re-processes. */
    if (!rd_kafka_assignment_lost(c->rk) &&
        commit_list(c, offsets, 1, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "kafka revoke: %s", err.msg);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (coop)
        log_rebalance_error("incremental unassign",
                            rd_kafka_incremental_unassign(c->rk, parts));
    else
        rd_kafka_assign(c->rk, NULL);
    notify(c, 0, parts);
}

static void
on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
             rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct hd_kconsumer *c = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign(c, parts, coop);
    } else if (e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        revoke(c, parts, coop);
    } else {
        /* Not a normal hand-over: forget everything, commit nothing (the
         * group may have moved on), and start from a clean assignment. */
        hd_log(HD_LOG_ERROR, 0, "kafka rebalance failed: %s",
               rd_kafka_err2str(e));
        pthread_mutex_lock(&c->mu);
        while (c->nparts > 0)
            part_drop(c, c->nparts - 1);
        pthread_mutex_unlock(&c->mu);
        rd_kafka_assign(rk, NULL);
    }
    update_pause(c);
}

/* ---- static assignment ------------------------------------------------ */

#define STATIC_META_TIMEOUT_MS 1000
#define STATIC_RETRY_MS 2000

/* Adds to parts the partitions of topic that c->pick wants. Returns 0, or
 * -1 with err when the topic's metadata is not available yet. */
static int
pick_topic(struct hd_kconsumer *c, const char *topic,
           rd_kafka_topic_partition_list_t *parts, struct hd_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt;
    rd_kafka_resp_err_t e;
    int64_t off;
    int32_t i, n;

    rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    if (rkt == NULL)
        return hd_err_set(err, HD_EINVAL, "kafka topic %s: %s", topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    e = rd_kafka_metadata(c->rk, 0, rkt, &md, STATIC_META_TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
        e = md->topics[0].err;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md->topics[0].partition_cnt <= 0) {
        rd_kafka_metadata_destroy(md);
        return hd_err_set(err, HD_EUPSTREAM, "kafka metadata of %s: %s", topic,
                          e != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(e)
                                                          : "no partitions");
    }
    n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    for (i = 0; i < n; i++) {
        if (!c->pick(c->ud, topic, i, n))
            continue;
        off = RD_KAFKA_OFFSET_INVALID; /* the committed */
        if (c->no_commit && !c->start_latest)
            off = RD_KAFKA_OFFSET_BEGINNING;
        else if (c->no_commit) /* the end it had at creation, else now */
            off = hd_kstartpos_get(c->startpos, topic, i);
        if (off == -1)
            off = RD_KAFKA_OFFSET_END;
        rd_kafka_topic_partition_list_add(parts, topic, i)->offset = off;
    }
    return 0;
}

/* Owning thread: records the ends the replay reads up to (ends may be
 * NULL: none). */
static void
set_ends(struct hd_kconsumer *c, const rd_kafka_topic_partition_list_t *parts,
         const int64_t *ends)
{
    struct kpart *k;
    int i;

    if (ends == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < parts->cnt; i++) {
        k = part_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (k != NULL)
            k->end = ends[i];
    }
    pthread_mutex_unlock(&c->mu);
}

/* Owning thread: assigns the picked partitions once every topic's
 * metadata is known; until then, retries every STATIC_RETRY_MS. */
static void
static_assign(struct hd_kconsumer *c)
{
    rd_kafka_topic_partition_list_t *parts;
    struct hd_err err = {0};
    uint64_t now = hd_now_mono_ms();
    int64_t *ends = NULL;
    size_t i;

    if (now < c->next_try_ms)
        return;
    c->next_try_ms = now + STATIC_RETRY_MS;
    parts = rd_kafka_topic_partition_list_new(16);
    for (i = 0; i < c->ntopics; i++) {
        if (pick_topic(c, c->topics[i], parts, &err) < 0) {
            hd_log(HD_LOG_WARN, 0, "kafka static assignment waits: %s",
                   err.msg);
            rd_kafka_topic_partition_list_destroy(parts);
            return;
        }
    }
    if (parts->cnt > 0 && c->no_commit && !c->start_latest) {
        ends = hd_kstartpos_ends(c->rk, parts, STATIC_META_TIMEOUT_MS, &err);
        if (ends == NULL) {
            hd_log(HD_LOG_WARN, 0, "kafka static assignment waits: %s",
                   err.msg);
            rd_kafka_topic_partition_list_destroy(parts);
            return;
        }
    }
    if (parts->cnt == 0) {
        hd_log(HD_LOG_ERROR, 0,
               "kafka static assignment: no partition picked; nothing "
               "will be consumed");
        atomic_store(&c->assigned, -1);
    } else {
        assign(c, parts, 0);
        set_ends(c, parts, ends);
        atomic_store(&c->assigned, 1);
    }
    free(ends);
    rd_kafka_topic_partition_list_destroy(parts);
}

int
hd_kconsumer_assigned(struct hd_kconsumer *c)
{
    return atomic_load(&c->assigned) == 1;
}

int
hd_kconsumer_caught_up(struct hd_kconsumer *c)
{
    size_t i;
    int up;

    if (!c->no_commit || !hd_kconsumer_assigned(c))
        return 0;
    pthread_mutex_lock(&c->mu);
    for (i = 0, up = 1; i < c->nparts && up; i++)
        up = c->parts[i]->end < 0;
    pthread_mutex_unlock(&c->mu);
    return up;
}

/* Subscribes to the topics, or keeps their names for static_assign().
 * Returns 0 or -1 with err. */
static int
start(struct hd_kconsumer *c, const struct hd_kconsumer_opts *o,
      struct hd_err *err)
{
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t e;
    size_t i;

    if (o->pick != NULL) {
        c->topics = hd_xcalloc(o->ntopics, sizeof(*c->topics));
        for (i = 0; i < o->ntopics; i++)
            c->topics[i] = hd_xstrdup(o->topics[i]);
        c->ntopics = o->ntopics;
        return 0;
    }
    topics = rd_kafka_topic_partition_list_new((int)o->ntopics);
    for (i = 0; i < o->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, o->topics[i],
                                          RD_KAFKA_PARTITION_UA);
    e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return hd_err_set(err, HD_EINVAL, "kafka subscribe: %s",
                          rd_kafka_err2str(e));
    return 0;
}

static void
free_topics(struct hd_kconsumer *c)
{
    size_t i;

    for (i = 0; i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
}

/* ---- consumer ---------------------------------------------------------- */

struct hd_kconsumer *
hd_kconsumer_new(const struct hd_kafka_config *cfg,
                 const struct hd_kconsumer_opts *o, struct hd_err *err)
{
    struct hd_kconsumer *c = NULL;
    rd_kafka_conf_t *conf;
    char errstr[256];

    if (o->group_id == NULL || o->group_id[0] == '\0' || o->ntopics == 0 ||
        o->topics == NULL) {
        hd_err_set(err, HD_EINVAL,
                   "kafka consumer: a group id and at least "
                   "one topic are required");
        return NULL;
    }
    conf = hd_kafka_base_conf(cfg, err);
    if (conf == NULL)
        return NULL;
    if (hd_kafka_set_prop(conf, "group.id", o->group_id, "group.id", err) < 0 ||
        hd_kafka_set_prop(conf, "enable.auto.commit", "false",
                          "enable.auto.commit", err) < 0 ||
        hd_kafka_set_prop(conf, "enable.auto.offset.store", "false",
                          "enable.auto.offset.store", err) < 0 ||
        hd_kafka_set_prop(conf, "auto.offset.reset",
                          o->start_latest ? "latest" : "earliest",
                          "auto.offset.reset", err) < 0)
        goto fail;

    c = hd_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->max_inflight = o->max_inflight > 0 ? o->max_inflight : 10000;
    if (c->max_inflight > HD_KAFKA_MAX_INFLIGHT)
        c->max_inflight = HD_KAFKA_MAX_INFLIGHT;
    c->on_rebalance = o->on_rebalance;
    c->pick = o->pick;
    c->no_commit = o->pick != NULL && o->no_commit;
    c->start_latest = o->start_latest;
    c->ud = o->ud;
    atomic_init(&c->assigned, 0);
    c->last_commit_ms = hd_now_mono_ms();
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);

    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (c->rk == NULL) {
        hd_err_set(err, HD_EINVAL, "kafka consumer: %s", errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk now */
    rd_kafka_poll_set_consumer(c->rk);
    if (o->start_latest && o->latest_at_start)
        c->startpos = hd_kstartpos_capture(c->rk, o->topics, o->ntopics,
                                           STARTPOS_TIMEOUT_MS);

    if (start(c, o, err) < 0) {
        rd_kafka_destroy(c->rk);
        hd_kstartpos_free(c->startpos);
        free_topics(c);
        goto fail;
    }
    return c;

fail:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (c != NULL) {
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
    return NULL;
}

/* Starts tracking m. Returns 1 (hand it out), 0 (not ours any more: drop
 * it) or -1 (ring full). */
static int
track(struct hd_kconsumer *c, const rd_kafka_message_t *m)
{
    struct kpart *k;
    int rc = 0;

    pthread_mutex_lock(&c->mu);
    k = part_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    if (k != NULL) {
        /* the first offset after an assignment is where the group
         * resumed: nothing to commit until some progress is made */
        if (k->ring.next < 0)
            k->committed = m->offset;
        if (k->end >= 0 && m->offset + 1 >= k->end)
            k->end = -1; /* read up to where it ended when assigned */
        rc = hd_kring_push(&k->ring, m->offset);
        if (rc == 1)
            c->inflight++;
        else if (rc == 0)
            rc = 1; /* a re-delivery: hand it out, done() ignores it */
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int
hd_kconsumer_poll(struct hd_kconsumer *c, int timeout_ms, struct hd_kmsg *msg,
                  struct hd_err *err)
{
    rd_kafka_message_t *m;
    rd_kafka_timestamp_type_t tstype;
    char errstr[256];
    int rc;

    memset(msg, 0, sizeof(*msg));
    if (c->pick != NULL && atomic_load(&c->assigned) == 0)
        static_assign(c);
    if (hd_now_mono_ms() - c->last_commit_ms >= HD_KAFKA_COMMIT_INTERVAL_MS)
        hd_kconsumer_commit(c, 0, NULL); /* failures are retried next time */
    update_pause(c);

    m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    if (m == NULL)
        return 0;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resp_err_t fe =
            rd_kafka_fatal_error(c->rk, errstr, sizeof(errstr));

        if (fe != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_message_destroy(m);
            return hd_err_set(err, HD_EUPSTREAM, "kafka consumer: %s", errstr);
        }
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* A consumer error carries its text as the payload. */
            if (m->payload != NULL && m->len > 0)
                snprintf(errstr, sizeof(errstr), "%.*s",
                         (int)(m->len < 255 ? m->len : 255),
                         (const char *)m->payload);
            else
                snprintf(errstr, sizeof(errstr), "%s",
                         rd_kafka_err2str(m->err));
            hd_kafka_log_error(c->rk, 0, errstr);
        }
        rd_kafka_message_destroy(m);
        return 0;
    }
    rc = track(c, m);
    if (rc <= 0) {
        rd_kafka_message_destroy(m);
        if (rc < 0)
            return hd_err_set(err, HD_ETOOBIG,
                              "kafka consumer: more than %zu offsets in "
                              "flight on one partition",
                              HD_KRING_MAX);
        return 0;
    }
    update_pause(c);

    msg->topic = rd_kafka_topic_name(m->rkt);
    msg->partition = m->partition;
    msg->offset = m->offset;
    msg->key = m->key;
    msg->keylen = m->key_len;
    msg->value = m->payload;
    msg->len = m->len;
    msg->timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        msg->timestamp_ms = -1;
    msg->priv = m;
    return 1;
}

void
hd_kmsg_release(struct hd_kmsg *msg)
{
    if (msg->priv != NULL)
        rd_kafka_message_destroy(msg->priv);
    memset(msg, 0, sizeof(*msg));
}

int
hd_kconsumer_ping(struct hd_kconsumer *c, int timeout_ms, struct hd_err *err)
{
    return hd_kafka_ping(c->rk, timeout_ms, err);
}

void
hd_kconsumer_close(struct hd_kconsumer *c)
{
    struct hd_err err = {0};
    size_t i;

    if (c == NULL)
        return;
    c->closing = 1;
    if (hd_kconsumer_commit(c, 1, &err) < 0)
        hd_log(HD_LOG_WARN, 0, "kafka consumer closing: %s", err.msg);
    /* Leaves the group; the revoke it triggers commits anything done
     * since, then forgets the partitions. */
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    for (i = 0; i < c->nparts; i++)
        part_free(c->parts[i]);
    free(c->parts);
    hd_kstartpos_free(c->startpos);
    free_topics(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
