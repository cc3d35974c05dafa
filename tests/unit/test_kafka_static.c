/* test_kafka_static.c -- unit tests for common/kafka's statically
 * assigned consumers (hd_kconsumer_opts.pick), against librdkafka's mock
 * cluster: the partitions picked are read, committed and resumed at; with
 * no_commit they are read from the beginning (or, start_latest, from
 * the end) every time, no offset is left under the group id, and the
 * reader knows when it has read the history. */
#include <stdio.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "kafka/kafka.h"
#include "core/log.h"
#include "tests/unit/support/kafka_mock.h"
#include "core/banned.h"

static int
pick_odd(void *ud, const char *topic, int32_t partition, int32_t npartitions)
{
    int *seen = ud;

    (void)topic;
    *seen = npartitions;
    return partition % 2 == 1;
}

/* The partitioner's placement is what hd_kafka_partition_of() computes
 * (CRC-32 of the key; 0xcbf43926 for the standard check string), and a
 * statically assigned consumer reads the partitions it picks, commits
 * there, and resumes there. */
static void
test_static_assignment_reads_picked_partitions(void)
{
    const char *topics[] = {"t.static"};
    struct hd_kconsumer_opts o = {"g.static", topics, 1, 0,    0,
                                  NULL,       NULL,   0, NULL, 0};
    int per[4] = {0}, got[4] = {0}, npart = 0, i, n = 0;
    struct hd_kproducer *p;
    struct hd_kconsumer *c;
    struct hd_err err = {0};
    struct hd_kmsg m;
    struct tk t;
    char key[32];

    ASSERT_INT_EQ(hd_kafka_partition_of("123456789", 9, 1000),
                  3421780262u % 1000);
    ASSERT_INT_EQ(hd_kafka_partition_of("", 0, 4), 0);
    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.static", 4, 1), 0);
    p = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(p);
    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "user-%d", i);
        per[hd_kafka_partition_of(key, strlen(key), 4)]++;
        ASSERT_INT_EQ(hd_kproducer_send(p, "t.static", key, strlen(key), key,
                                        strlen(key), NULL, NULL, &err),
                      0);
    }
    ASSERT_INT_EQ(hd_kproducer_flush(p, 10000, &err), 0);
    hd_kproducer_free(p);
    ASSERT_TRUE(per[1] > 0 && per[3] > 0);

    o.pick = pick_odd;
    o.ud = &npart;
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    while (n < per[1] + per[3]) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        ASSERT_INT_EQ(m.partition, hd_kafka_partition_of(m.key, m.keylen, 4));
        got[m.partition]++;
        n++;
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(npart, 4);
    ASSERT_TRUE(hd_kconsumer_assigned(c));
    ASSERT_INT_EQ(got[0] + got[2], 0);
    ASSERT_INT_EQ(got[1], per[1]);
    ASSERT_INT_EQ(got[3], per[3]);
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.static", "t.static", 1), per[1]);
    ASSERT_INT_EQ(raw_committed(&t, "g.static", "t.static", 3), per[3]);
    hd_kconsumer_close(c);

    /* the next one resumes at the committed offsets: nothing is left */
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(poll_one(c, &m, 2000), 0);
    ASSERT_TRUE(hd_kconsumer_assigned(c));
    hd_kconsumer_close(c);
    tk_stop(&t);
}

/* Reads every record of t.all (4 partitions, all picked) into *n;
 * closes. */
static void
read_all(struct tk *t, const struct hd_kconsumer_opts *o, int *n)
{
    struct hd_err err = {0};
    struct hd_kconsumer *c;
    struct hd_kmsg m;

    *n = 0;
    c = hd_kconsumer_new(&t->cfg, o, &err);
    ASSERT_NOT_NULL(c);
    while (poll_one(c, &m, *n == 0 ? 15000 : 1500) == 1) {
        (*n)++;
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    hd_kconsumer_close(c);
}

static int
pick_every(void *ud, const char *topic, int32_t partition, int32_t npartitions)
{
    (void)ud;
    (void)topic;
    (void)partition;
    (void)npartitions;
    return 1;
}

/* A no_commit reader under one fixed group id: each start reads the whole
 * topic again (what came in between too), and the group never has an
 * offset, so restarts leave nothing behind in Kafka. */
static void
test_no_commit_reads_everything_each_start(void)
{
    const char *topics[] = {"t.all"};
    struct hd_kconsumer_opts o = {0};
    struct tk t;
    int i, n;

    o.group_id = "g.all";
    o.topics = topics;
    o.ntopics = 1;
    o.pick = pick_every;
    o.no_commit = 1;
    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.all", 4, 1), 0);
    for (i = 0; i < 4; i++)
        ASSERT_INT_EQ(raw_produce(&t, "t.all", i, 3), 0);
    read_all(&t, &o, &n);
    ASSERT_INT_EQ(n, 12);
    ASSERT_INT_EQ(raw_produce(&t, "t.all", 2, 2), 0);
    read_all(&t, &o, &n);
    ASSERT_INT_EQ(n, 14);
    for (i = 0; i < 4; i++)
        ASSERT_INT_EQ(raw_committed(&t, "g.all", "t.all", i), -1);
    /* the same reader committing (no no_commit) leaves offsets */
    o.no_commit = 0;
    read_all(&t, &o, &n);
    ASSERT_INT_EQ(n, 14);
    ASSERT_INT_EQ(raw_committed(&t, "g.all", "t.all", 2), 5);
    tk_stop(&t);
}

/* A no_commit reader of live records (start_latest, latest_at_start: the
 * hub's default): each start reads only what is produced after it was
 * created (also what came before its partitions were assigned), and the
 * group never has an offset. */
static void
test_no_commit_latest_reads_from_the_end(void)
{
    const char *topics[] = {"t.live"};
    struct hd_kconsumer_opts o = {0};
    struct hd_err err = {0};
    struct hd_kconsumer *c;
    struct hd_kmsg m;
    struct tk t;
    int i, n, round;

    o.group_id = "g.live";
    o.topics = topics;
    o.ntopics = 1;
    o.pick = pick_every;
    o.no_commit = 1;
    o.start_latest = 1;
    o.latest_at_start = 1;
    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.live", 3, 1), 0);
    for (i = 0; i < 3; i++)
        ASSERT_INT_EQ(raw_produce(&t, "t.live", i, 3), 0);
    for (round = 0; round < 2; round++) {
        c = hd_kconsumer_new(&t.cfg, &o, &err);
        ASSERT_NOT_NULL(c);
        /* before the first poll, which assigns */
        ASSERT_INT_EQ(raw_produce(&t, "t.live", 1, 2), 0);
        n = 0;
        while (poll_one(c, &m, n == 0 ? 15000 : 1500) == 1) {
            ASSERT_INT_EQ(m.partition, 1);
            ASSERT_INT_EQ(m.offset, 3 + 2 * round + n);
            n++;
            hd_kconsumer_done(c, m.topic, m.partition, m.offset);
            hd_kmsg_release(&m);
        }
        ASSERT_INT_EQ(n, 2);
        ASSERT_TRUE(hd_kconsumer_assigned(c));
        ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
        hd_kconsumer_close(c);
    }
    for (i = 0; i < 3; i++)
        ASSERT_INT_EQ(raw_committed(&t, "g.live", "t.live", i), -1);
    tk_stop(&t);
}

/* A no_commit reader has caught up once every partition is read up to
 * the end it had when assigned (an empty one at once), not when one
 * partition is: a fresh record on one says nothing of the others. */
static void
test_no_commit_caught_up_at_the_ends(void)
{
    const char *topics[] = {"t.up"};
    struct hd_kconsumer_opts o = {0};
    struct hd_err err = {0};
    struct hd_kconsumer *c;
    struct hd_kmsg m;
    struct tk t;
    int n = 0, per[3] = {0};

    o.group_id = "g.up";
    o.topics = topics;
    o.ntopics = 1;
    o.pick = pick_every;
    o.no_commit = 1;
    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.up", 3, 1), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.up", 0, 40), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.up", 2, 3), 0);
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_kconsumer_caught_up(c), 0);
    while (n < 43) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        per[m.partition]++;
        n++;
        /* (partition 1 is empty: only the other two count) */
        ASSERT_INT_EQ(hd_kconsumer_caught_up(c), per[0] == 40 && per[2] == 3);
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    ASSERT_TRUE(hd_kconsumer_caught_up(c));
    /* what comes after is new: it stays caught up */
    ASSERT_INT_EQ(raw_produce(&t, "t.up", 1, 2), 0);
    ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
    ASSERT_INT_EQ(m.partition, 1);
    hd_kmsg_release(&m);
    ASSERT_TRUE(hd_kconsumer_caught_up(c));
    hd_kconsumer_close(c);

    /* a committing reader never says it */
    o.no_commit = 0;
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    for (n = 0; n < 45; n++) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_caught_up(c), 0);
    hd_kconsumer_close(c);
    tk_stop(&t);
}

int
main(void)
{
    hd_log_init("test_kafka_static", HD_LOG_WARN);
    tk_env();
    RUN_TEST(test_static_assignment_reads_picked_partitions);
    RUN_TEST(test_no_commit_reads_everything_each_start);
    RUN_TEST(test_no_commit_caught_up_at_the_ends);
    RUN_TEST(test_no_commit_latest_reads_from_the_end);
    /* every handle is gone before LeakSanitizer looks */
    if (rd_kafka_wait_destroyed(5000) != 0)
        printf("librdkafka handles still alive\n");
    return UNIT_DONE();
}
