/* startpos.c -- where a "latest" consumer begins: at the end each
 * partition had when the consumer was created.
 *
 * auto.offset.reset=latest resolves "the end" when the group assigns the
 * partition, seconds after the consumer was created (a new group's first
 * join waits group.initial.rebalance.delay.ms, 3 s by default), and every
 * record produced in between is skipped. A consumer that serves live
 * clients from the moment it starts (herald-hub) must see those records:
 * the ends are read once at creation and applied, on a partition's first
 * assignment, when its group has no committed offset for it. */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "core/alloc.h"
#include "core/log.h"
#include "kafka/startpos.h"
#include "core/banned.h"

struct start_ent {
    char *topic;
    int32_t partition;
    int64_t offset;
};

struct hd_kstartpos {
    struct start_ent *ents;
    size_t n;
};

static void
add_ent(struct hd_kstartpos *s, const char *topic, int32_t partition,
        int64_t offset)
{
    s->ents = hd_xrealloc(s->ents, (s->n + 1) * sizeof(*s->ents));
    s->ents[s->n].topic = hd_xstrdup(topic);
    s->ents[s->n].partition = partition;
    s->ents[s->n].offset = offset;
    s->n++;
}

/* The end of every partition of topic; 0, or -1 when Kafka did not say. */
static int
capture_topic(struct hd_kstartpos *s, rd_kafka_t *rk, const char *topic,
              int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e;
    int i, rc = -1;

    if (rkt == NULL)
        return -1;
    e = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = 0;
        for (i = 0; i < md->topics[0].partition_cnt && rc == 0; i++) {
            int32_t p = md->topics[0].partitions[i].id;
            int64_t lo, hi;

            if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                                 timeout_ms) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                rc = -1;
            else
                add_ent(s, topic, p, hi);
        }
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

struct hd_kstartpos *
hd_kstartpos_capture(rd_kafka_t *rk, const char *const *topics, size_t n,
                     int timeout_ms)
{
    struct hd_kstartpos *s = hd_xcalloc(1, sizeof(*s));
    size_t i;

    for (i = 0; i < n; i++) {
        if (capture_topic(s, rk, topics[i], timeout_ms) < 0) {
            hd_log(HD_LOG_WARN, 0,
                   "kafka: the end offsets of %s are unknown (Kafka did "
                   "not answer in %d ms): its partitions start at the end "
                   "they have when assigned",
                   topics[i], timeout_ms);
        }
    }
    return s;
}

/* The index of (topic, partition)'s entry, or -1. */
static long
find(const struct hd_kstartpos *s, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; s != NULL && i < s->n; i++)
        if (s->ents[i].partition == partition &&
            strcmp(s->ents[i].topic, topic) == 0)
            return (long)i;
    return -1;
}

/* Removes and returns the entry of (topic, partition), or -1. */
static int64_t
take(struct hd_kstartpos *s, const char *topic, int32_t partition)
{
    long i = find(s, topic, partition);
    int64_t off;

    if (i < 0)
        return -1;
    off = s->ents[i].offset;
    free(s->ents[i].topic);
    s->ents[i] = s->ents[--s->n];
    return off;
}

int64_t
hd_kstartpos_get(const struct hd_kstartpos *s, const char *topic,
                 int32_t partition)
{
    long i = find(s, topic, partition);

    return i < 0 ? -1 : s->ents[i].offset;
}

void
hd_kstartpos_apply(struct hd_kstartpos *s, rd_kafka_t *rk,
                   rd_kafka_topic_partition_list_t *parts, int timeout_ms)
{
    rd_kafka_topic_partition_list_t *committed;
    int i;

    if (s == NULL || s->n == 0)
        return;
    committed = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(rk, committed, timeout_ms) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* unknown: leave these partitions to the group's offsets */
        rd_kafka_topic_partition_list_destroy(committed);
        return;
    }
    for (i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t off = take(s, p->topic, p->partition);

        if (off >= 0 && committed->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            committed->elems[i].offset < 0)
            p->offset = off;
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

int64_t *
hd_kstartpos_ends(rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *parts,
                  int timeout_ms, struct hd_err *err)
{
    int64_t *ends = hd_xcalloc((size_t)parts->cnt, sizeof(*ends));
    rd_kafka_resp_err_t e;
    int64_t lo;
    int i;

    for (i = 0; i < parts->cnt; i++) {
        e = rd_kafka_query_watermark_offsets(rk, parts->elems[i].topic,
                                             parts->elems[i].partition, &lo,
                                             &ends[i], timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            free(ends);
            hd_err_set(err, HD_EUPSTREAM, "kafka end offset of %s/%d: %s",
                       parts->elems[i].topic, (int)parts->elems[i].partition,
                       rd_kafka_err2str(e));
            return NULL;
        }
        if (ends[i] <= lo)
            ends[i] = -1; /* empty: nothing to read up to */
    }
    return ends;
}

void
hd_kstartpos_free(struct hd_kstartpos *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++)
        free(s->ents[i].topic);
    free(s->ents);
    free(s);
}
