/* test_kafka.c -- unit tests for common/kafka/kafka.c.
 *
 * Every test talks to librdkafka's in-process mock cluster over real
 * sockets, with fast group settings (a group's first join still costs
 * 3 s, a rebalance 2 s). Committed offsets are read
 * back with a plain librdkafka client, independently of the wrapper. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tests/unit/unit.h"
#include "core/clock.h"
#include "kafka/kafka.h"
#include "core/limits.h"
#include "core/log.h"
#include "tests/unit/support/kafka_mock.h"
#include "core/banned.h"

struct rebalances {
    int assigned;
    int revoked;
    int32_t owned[8]; /* partitions owned now */
    int nowned;
};

static void
record_rebalance(void *ud, int assigned, const char *topic, int32_t partition)
{
    struct rebalances *r = ud;
    int i;

    (void)topic;
    if (assigned) {
        r->assigned++;
        if (r->nowned < 8)
            r->owned[r->nowned++] = partition;
        return;
    }
    r->revoked++;
    for (i = 0; i < r->nowned; i++)
        if (r->owned[i] == partition)
            r->owned[i] = r->owned[--r->nowned];
}

struct reports {
    atomic_int calls;
    atomic_int ok;
    atomic_int on_caller;
    pthread_t caller;
    char errstr[128]; /* the last failure's */
};

static void
count_report(void *opaque, int ok, const char *errstr)
{
    struct reports *r = opaque;

    if (!ok)
        snprintf(r->errstr, sizeof(r->errstr), "%s", errstr);
    atomic_fetch_add(&r->calls, 1);
    if (ok)
        atomic_fetch_add(&r->ok, 1);
    if (pthread_equal(pthread_self(), r->caller))
        atomic_fetch_add(&r->on_caller, 1);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_config_and_topic_names(void)
{
    struct hd_kafka_config cfg;
    struct hd_config_section sec = {hd_kafka_config_fields, &cfg};
    struct hd_err err = {0};
    char name[16];

    /* unset is allowed (no Kafka), but a producer or consumer then
     * refuses to start, naming the variable */
    unsetenv("HERALD_KAFKA_BROKERS");
    ASSERT_INT_EQ(hd_config_load(&sec, 1, &err), 0);
    ASSERT_NULL(cfg.brokers);
    ASSERT_NULL(hd_kproducer_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_BROKERS");
    hd_config_release(&sec, 1);

    setenv("HERALD_KAFKA_BROKERS", "127.0.0.1:1", 1);
    setenv("HERALD_KAFKA_SEND_TIMEOUT_MS", "999", 1);
    ASSERT_INT_EQ(hd_config_load(&sec, 1, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_SEND_TIMEOUT_MS");
    unsetenv("HERALD_KAFKA_SEND_TIMEOUT_MS");

    ASSERT_INT_EQ(hd_config_load(&sec, 1, &err), 0);
    ASSERT_STR_EQ(cfg.topic_prefix, "herald.");
    ASSERT_INT_EQ(cfg.send_timeout_ms, 30000);
    ASSERT_INT_EQ(hd_kafka_topic(&cfg, "events", name, sizeof(name)), 0);
    ASSERT_STR_EQ(name, "herald.events");
    ASSERT_INT_EQ(hd_kafka_topic(&cfg, "deliver.apns", name, sizeof(name)), -1);
    hd_config_release(&sec, 1);
    unsetenv("HERALD_KAFKA_BROKERS");
    ASSERT_NULL(cfg.brokers);
}

static void
test_bad_property_names_the_variable(void)
{
    char nowhere[] = "127.0.0.1:1", prefix[] = "herald.";
    struct hd_kafka_config cfg = {nowhere, prefix, 30000};
    const char *topics[] = {"t.bad"};
    struct hd_kconsumer_opts o = {"g.bad", topics, 1, 0,    0,
                                  NULL,    NULL,   0, NULL, 0};
    struct hd_kproducer *p;
    struct hd_kconsumer *c;
    struct hd_err err = {0};

    setenv("HERALD_KAFKA_NO_SUCH_PROPERTY", "1", 1);
    ASSERT_NULL(hd_kproducer_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_NO_SUCH_PROPERTY");
    ASSERT_NULL(hd_kconsumer_new(&cfg, &o, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_NO_SUCH_PROPERTY");
    unsetenv("HERALD_KAFKA_NO_SUCH_PROPERTY");

    setenv("HERALD_KAFKA_LINGER_MS", "soon", 1);
    ASSERT_NULL(hd_kproducer_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_LINGER_MS");
    setenv("HERALD_KAFKA_LINGER_MS", "1", 1);

    /* Properties Herald owns cannot be overridden. */
    setenv("HERALD_KAFKA_ENABLE_AUTO_COMMIT", "true", 1);
    ASSERT_NULL(hd_kconsumer_new(&cfg, &o, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_ENABLE_AUTO_COMMIT");
    unsetenv("HERALD_KAFKA_ENABLE_AUTO_COMMIT");

    cfg.brokers = NULL;
    ASSERT_NULL(hd_kproducer_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_KAFKA_BROKERS");
    cfg.brokers = nowhere;

    /* Consumer-only properties (fetch.wait.max.ms) on a producer and
     * producer-only ones (linger.ms) on a consumer are fine. */
    p = hd_kproducer_new(&cfg, &err);
    ASSERT_NOT_NULL(p);
    hd_kproducer_free(p);
    c = hd_kconsumer_new(&cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 0);
    hd_kconsumer_close(c);
}

static void
test_produce_reports_each_record_once(void)
{
    struct reports r = {0};
    struct hd_kproducer *p;
    struct hd_err err = {0};
    struct tk t;
    char val[32];
    int i;

    ASSERT_INT_EQ(tk_start(&t), 0);
    p = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(p);
    r.caller = pthread_self();
    for (i = 0; i < 200; i++) {
        snprintf(val, sizeof(val), "m%d", i);
        ASSERT_INT_EQ(
            hd_kproducer_send(p, "t.produce", "k", 1, val, strlen(val),
                              i < 100 ? count_report : NULL, &r, &err),
            0);
    }
    ASSERT_INT_EQ(hd_kproducer_flush(p, 10000, &err), 0);
    ASSERT_INT_EQ(hd_kproducer_outstanding(p), 0);
    ASSERT_INT_EQ(atomic_load(&r.calls), 100);
    ASSERT_INT_EQ(atomic_load(&r.ok), 100);
    /* reports run on the producer's thread, even while flush() waits */
    ASSERT_INT_EQ(atomic_load(&r.on_caller), 0);

    ASSERT_INT_EQ(
        hd_kproducer_send_sync(p, "t.produce", NULL, 0, "sync", 4, 5000, &err),
        0);
    ASSERT_INT_EQ(hd_kproducer_ping(p, 5000, &err), 0);
    hd_kproducer_free(p);
    ASSERT_INT_EQ(atomic_load(&r.calls), 100);
    tk_stop(&t);
}

static void
test_out_of_order_done_commits_the_prefix(void)
{
    static const int64_t first_done[] = {0, 1, 2, 4, 5, 7, 4};
    const char *topics[] = {"t.order"};
    struct hd_kconsumer_opts o = {"g.order", topics, 1, 0,    0,
                                  NULL,      NULL,   0, NULL, 0};
    struct hd_kproducer *p;
    struct hd_kconsumer *c;
    struct hd_err err = {0};
    struct hd_kmsg m;
    struct tk t;
    char val[16];
    int i;

    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.order", 1, 1), 0);
    p = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(p);
    for (i = 0; i < 10; i++) {
        snprintf(val, sizeof(val), "m%d", i);
        ASSERT_INT_EQ(hd_kproducer_send(p, "t.order", "key", 3, val,
                                        strlen(val), NULL, NULL, &err),
                      0);
    }
    ASSERT_INT_EQ(hd_kproducer_flush(p, 10000, &err), 0);
    hd_kproducer_free(p);

    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    for (i = 0; i < 10; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        ASSERT_INT_EQ(m.offset, i);
        snprintf(val, sizeof(val), "m%d", i);
        ASSERT_INT_EQ(m.len, strlen(val));
        ASSERT_MEM_EQ(m.value, val, m.len);
        ASSERT_INT_EQ(m.keylen, 3);
        ASSERT_MEM_EQ(m.key, "key", 3);
        ASSERT_TRUE(m.timestamp_ms > 0);
        hd_kmsg_release(&m);
        ASSERT_NULL(m.priv);
    }
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 10);
    ASSERT_INT_EQ(hd_kconsumer_ping(c, 5000, &err), 0);

    for (i = 0; i < (int)(sizeof(first_done) / sizeof(first_done[0])); i++)
        hd_kconsumer_done(c, "t.order", 0, first_done[i]);
    hd_kconsumer_done(c, "t.order", 0, 99); /* never polled: ignored */
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 4);
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.order", "t.order", 0), 3);

    hd_kconsumer_done(c, "t.order", 0, 3);
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.order", "t.order", 0), 6);
    hd_kconsumer_close(c);
    ASSERT_INT_EQ(raw_committed(&t, "g.order", "t.order", 0), 6);

    /* The next member resumes exactly there; 7 was done but comes again,
     * since 6 was not (at-least-once). */
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    for (i = 6; i < 10; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        ASSERT_INT_EQ(m.offset, i);
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 0);
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.order", "t.order", 0), 10);
    hd_kconsumer_close(c);
    tk_stop(&t);
}

/* The limit's worth of records in flight, finished last to first: the
 * worst order for the commit point, which must stay cheap. */
static void
test_many_in_flight_finished_in_reverse(void)
{
    const int n = HD_KAFKA_MAX_INFLIGHT;
    const char *topics[] = {"t.many"};
    struct hd_kconsumer_opts o = {"g.many", topics, 1, 0,    n,
                                  NULL,     NULL,   0, NULL, 0};
    struct hd_kproducer *p;
    struct hd_kconsumer *c;
    struct hd_err err = {0};
    struct hd_kmsg m;
    uint64_t start;
    struct tk t;
    int i;

    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.many", 1, 1), 0);
    p = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(p);
    for (i = 0; i < n; i++)
        ASSERT_INT_EQ(
            hd_kproducer_send(p, "t.many", NULL, 0, "x", 1, NULL, NULL, &err),
            0);
    ASSERT_INT_EQ(hd_kproducer_flush(p, 30000, &err), 0);
    hd_kproducer_free(p);

    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    for (i = 0; i < n; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        ASSERT_INT_EQ(m.offset, i);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), n);

    start = hd_now_mono_ms();
    for (i = n - 1; i > 0; i--)
        hd_kconsumer_done(c, "t.many", 0, i);
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 1);
    /* offset 0 holds the commit point back: nothing to commit yet */
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    hd_kconsumer_done(c, "t.many", 0, 0);
    ASSERT_INT_LE(hd_now_mono_ms() - start, 2000);
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.many", "t.many", 0), -1);
    ASSERT_INT_EQ(hd_kconsumer_commit(c, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.many", "t.many", 0), n);
    hd_kconsumer_close(c);
    tk_stop(&t);
}

static void
test_done_for_a_revoked_partition_is_ignored(void)
{
    const char *topics[] = {"t.rev"};
    struct rebalances ra = {0}, rb = {0};
    struct hd_kconsumer_opts oa = {"g.rev",          topics, 1, 0,    0,
                                   record_rebalance, &ra,    0, NULL, 0};
    struct hd_kconsumer_opts ob = {"g.rev",          topics, 1, 0,    0,
                                   record_rebalance, &rb,    0, NULL, 0};
    struct hd_kconsumer *a, *b;
    struct hd_err err = {0};
    struct hd_kmsg m;
    uint64_t end;
    int32_t mine, theirs;
    int seen = 0;
    long before;
    struct tk t;

    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.rev", 2, 1), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.rev", 0, 1), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.rev", 1, 1), 0);

    a = hd_kconsumer_new(&t.cfg, &oa, &err);
    ASSERT_NOT_NULL(a);
    while (seen < 2) {
        ASSERT_INT_EQ(poll_one(a, &m, 15000), 1);
        seen++;
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(ra.nowned, 2);
    ASSERT_INT_EQ(hd_kconsumer_inflight(a), 2);

    /* A second member: A gives both partitions back and gets one again. */
    b = hd_kconsumer_new(&t.cfg, &ob, &err);
    ASSERT_NOT_NULL(b);
    end = hd_now_mono_ms() + 20000;
    while ((rb.nowned != 1 || ra.nowned != 1) && hd_now_mono_ms() < end) {
        if (hd_kconsumer_poll(a, 10, &m, &err) == 1)
            hd_kmsg_release(&m);
        if (hd_kconsumer_poll(b, 10, &m, &err) == 1)
            hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(ra.nowned, 1);
    ASSERT_INT_EQ(rb.nowned, 1);
    /* eager: both went back (the mock sometimes adds a second round) */
    ASSERT_TRUE(ra.revoked >= 2);
    mine = ra.owned[0];
    theirs = rb.owned[0];
    ASSERT_INT_NE(mine, theirs);

    /* A's offset 0 on B's partition is no longer A's business. */
    before = hd_kconsumer_inflight(a);
    ASSERT_INT_LE(before, 1);
    hd_kconsumer_done(a, "t.rev", theirs, 0);
    ASSERT_INT_EQ(hd_kconsumer_inflight(a), before);

    /* A's own partition comes again (nothing was committed). */
    if (before == 0) {
        ASSERT_INT_EQ(poll_one(a, &m, 10000), 1);
        ASSERT_INT_EQ(m.partition, mine);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_inflight(a), 1);
    hd_kconsumer_done(a, "t.rev", mine, 0);
    ASSERT_INT_EQ(hd_kconsumer_inflight(a), 0);
    ASSERT_INT_EQ(hd_kconsumer_commit(a, 1, &err), 0);
    ASSERT_INT_EQ(raw_committed(&t, "g.rev", "t.rev", mine), 1);
    ASSERT_INT_EQ(raw_committed(&t, "g.rev", "t.rev", theirs), -1);

    hd_kconsumer_close(b);
    hd_kconsumer_close(a);
    ASSERT_INT_EQ(raw_committed(&t, "g.rev", "t.rev", theirs), -1);
    tk_stop(&t);
}

static void
test_pause_above_max_inflight(void)
{
    const char *topics[] = {"t.pause"};
    struct hd_kconsumer_opts o = {"g.pause", topics, 1, 0,    5,
                                  NULL,      NULL,   0, NULL, 0};
    struct hd_kconsumer *c;
    struct hd_err err = {0};
    struct hd_kmsg m;
    struct tk t;
    int64_t i;

    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.pause", 1, 1), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.pause", 0, 20), 0);
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);

    /* 6 in flight is above 5: fetching stops. */
    for (i = 0; i < 6; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 15000), 1);
        ASSERT_INT_EQ(m.offset, i);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(poll_one(c, &m, 300), 0);
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 6);

    /* 3 in flight is not yet half of 5. */
    for (i = 0; i < 3; i++)
        hd_kconsumer_done(c, "t.pause", 0, i);
    ASSERT_INT_EQ(poll_one(c, &m, 300), 0);

    /* 2 is: fetching resumes exactly where it stopped, until 6 again. */
    hd_kconsumer_done(c, "t.pause", 0, 3);
    for (i = 6; i < 10; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 5000), 1);
        ASSERT_INT_EQ(m.offset, i);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(poll_one(c, &m, 300), 0);
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 6);

    for (i = 4; i < 10; i++)
        hd_kconsumer_done(c, "t.pause", 0, i);
    for (i = 10; i < 20; i++) {
        ASSERT_INT_EQ(poll_one(c, &m, 5000), 1);
        ASSERT_INT_EQ(m.offset, i);
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    ASSERT_INT_EQ(hd_kconsumer_inflight(c), 0);
    hd_kconsumer_close(c);
    ASSERT_INT_EQ(raw_committed(&t, "g.pause", "t.pause", 0), 20);
    tk_stop(&t);
}

/* Also: send_sync() gives up at its timeout, and a record that fails for
 * good reaches its callback with the reason. */
static void
test_ping_follows_the_brokers(void)
{
    struct reports r = {0};
    struct hd_kproducer *p, *q;
    struct hd_err err = {0};
    uint64_t start, end, took = 0;
    int rc = 0;
    struct tk t;

    ASSERT_INT_EQ(tk_start(&t), 0);
    p = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(p);
    ASSERT_INT_EQ(hd_kproducer_ping(p, 5000, &err), 0);

    ASSERT_INT_EQ(rd_kafka_mock_broker_set_down(t.mc, -1), 0);
    end = hd_now_mono_ms() + 5000;
    while (hd_now_mono_ms() < end) {
        start = hd_now_mono_ms();
        rc = hd_kproducer_ping(p, 300, &err);
        took = hd_now_mono_ms() - start;
        if (rc < 0)
            break;
    }
    ASSERT_INT_EQ(rc, -1);
    ASSERT_INT_LE(took, 1000);
    ASSERT_INT_EQ(
        hd_kproducer_send_sync(p, "t.ping", NULL, 0, "x", 1, 300, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETIMEDOUT);
    ASSERT_INT_EQ(hd_kproducer_outstanding(p), 1);

    /* A producer with the shortest send timeout reports the failure. */
    t.cfg.send_timeout_ms = 1000;
    q = hd_kproducer_new(&t.cfg, &err);
    ASSERT_NOT_NULL(q);
    ASSERT_INT_EQ(hd_kproducer_send(q, "t.ping", "k", 1, "lost", 4,
                                    count_report, &r, &err),
                  0);
    end = hd_now_mono_ms() + 10000;
    while (atomic_load(&r.calls) == 0 && hd_now_mono_ms() < end)
        hd_kproducer_flush(q, 100, NULL);
    ASSERT_INT_EQ(atomic_load(&r.calls), 1);
    ASSERT_INT_EQ(atomic_load(&r.ok), 0);
    ASSERT_STR_CONTAINS(r.errstr, "timed out");
    ASSERT_INT_EQ(hd_kproducer_outstanding(q), 0);
    hd_kproducer_free(q);
    ASSERT_INT_EQ(atomic_load(&r.calls), 1);

    ASSERT_INT_EQ(rd_kafka_mock_broker_set_up(t.mc, -1), 0);
    end = hd_now_mono_ms() + 10000;
    do {
        rc = hd_kproducer_ping(p, 500, &err);
    } while (rc < 0 && hd_now_mono_ms() < end);
    ASSERT_INT_EQ(rc, 0);
    /* the record that timed out for its waiter is delivered after all */
    ASSERT_INT_EQ(hd_kproducer_flush(p, 10000, &err), 0);
    hd_kproducer_free(p);
    tk_stop(&t);
}

/* A "latest" consumer starts at the end the partition had when it was
 * created (latest_at_start): records produced while its new group forms
 * (3 s on the mock) are delivered, not skipped; older ones are not. The
 * same without latest_at_start skips them. A consumer with the default
 * options (every one but the hub's: workers, fan-out, feedback) starts a
 * partition its group has no offset for at the beginning: nothing
 * produced before its first commit is lost. */
static void
run_latest(int latest, int at_start, const char *group, int64_t *first, int *n)
{
    const char *topics[] = {"t.late"};
    struct hd_kconsumer_opts o = {group, topics, 1,        latest, 0,
                                  NULL,  NULL,   at_start, NULL,   0};
    struct hd_kconsumer *c;
    struct hd_err err = {0};
    struct hd_kmsg m;
    struct tk t;

    ASSERT_INT_EQ(tk_start(&t), 0);
    ASSERT_INT_EQ(rd_kafka_mock_topic_create(t.mc, "t.late", 1, 1), 0);
    ASSERT_INT_EQ(raw_produce(&t, "t.late", 0, 2), 0); /* before: not ours */
    c = hd_kconsumer_new(&t.cfg, &o, &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(raw_produce(&t, "t.late", 0, 3), 0); /* while joining */
    *first = -1;
    *n = 0;
    while (poll_one(c, &m, *n == 0 ? 10000 : 1000) == 1) {
        if (*first < 0)
            *first = m.offset;
        (*n)++;
        hd_kconsumer_done(c, m.topic, m.partition, m.offset);
        hd_kmsg_release(&m);
    }
    hd_kconsumer_close(c);
    tk_stop(&t);
}

static void
test_latest_at_start_keeps_what_came_while_joining(void)
{
    int64_t first;
    int n;

    run_latest(1, 1, "g.late", &first, &n);
    ASSERT_INT_EQ(n, 3);
    ASSERT_INT_EQ(first, 2);
    run_latest(1, 0, "g.late0", &first, &n);
    ASSERT_INT_EQ(n, 0);
}

static void
test_new_group_starts_at_the_beginning(void)
{
    int64_t first;
    int n;

    run_latest(0, 0, "g.early", &first, &n);
    ASSERT_INT_EQ(n, 5);
    ASSERT_INT_EQ(first, 0);
}

int
main(void)
{
    hd_log_init("test_kafka", HD_LOG_WARN);
    tk_env();

    RUN_TEST(test_config_and_topic_names);
    RUN_TEST(test_bad_property_names_the_variable);
    RUN_TEST(test_produce_reports_each_record_once);
    RUN_TEST(test_out_of_order_done_commits_the_prefix);
    RUN_TEST(test_many_in_flight_finished_in_reverse);
    RUN_TEST(test_done_for_a_revoked_partition_is_ignored);
    RUN_TEST(test_pause_above_max_inflight);
    RUN_TEST(test_ping_follows_the_brokers);
    RUN_TEST(test_latest_at_start_keeps_what_came_while_joining);
    RUN_TEST(test_new_group_starts_at_the_beginning);

    /* every handle is gone before LeakSanitizer looks */
    if (rd_kafka_wait_destroyed(5000) != 0)
        printf("librdkafka handles still alive\n");
    return UNIT_DONE();
}
