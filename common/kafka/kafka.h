/* kafka.h -- librdkafka producer and consumer wrappers.
 *
 * The producer acknowledges each record through a callback once the
 * brokers have it (acks=all, idempotent). The consumer never commits on its
 * own: the caller marks each message done when the work it stands for is
 * finished (sent, re-queued or dead-lettered), possibly out of order and
 * from any thread, and the consumer commits, per partition, the offset
 * below which everything is done. A crash therefore re-delivers; it never
 * loses (at-least-once).
 *
 * Every HERALD_KAFKA_* variable that is not declared in
 * hd_kafka_config_fields is passed to librdkafka as a property, named by
 * lower-casing the rest and turning '_' into '.':
 * HERALD_KAFKA_FETCH_WAIT_MAX_MS=1 sets fetch.wait.max.ms=1. A property
 * librdkafka rejects fails construction with the variable's name.
 *
 * librdkafka's own log lines and errors are forwarded to hd_log (the one
 * place common/ logs: they arrive on librdkafka's threads, with no caller
 * to report to).
 *
 * common/kafka/ owns every conversation with Kafka: this producer, the
 * consumer (consumer.c) and their shared configuration. What the records
 * mean is common/proto/'s job.
 */
#ifndef HD_KAFKA_H
#define HD_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

struct hd_kafka_config {
    char *brokers;       /* HERALD_KAFKA_BROKERS: bootstrap list */
    char *topic_prefix;  /* HERALD_KAFKA_TOPIC_PREFIX, default "herald." */
    int send_timeout_ms; /* HERALD_KAFKA_SEND_TIMEOUT_MS: message.timeout.ms */
};

/* HERALD_KAFKA_BROKERS (unset: no Kafka; the constructors then fail
 * naming it), HERALD_KAFKA_TOPIC_PREFIX,
 * HERALD_KAFKA_SEND_TIMEOUT_MS. Add as a section to hd_service. The
 * _required_ table is the same with HERALD_KAFKA_BROKERS required, for
 * the services that cannot run without Kafka. */
extern const struct hd_config_field hd_kafka_config_fields[];
extern const struct hd_config_field hd_kafka_required_config_fields[];

/* Writes prefix + name ("herald." + "events") into out. Returns 0, or -1
 * if it does not fit. */
int hd_kafka_topic(const struct hd_kafka_config *cfg, const char *name,
                   char *out, size_t outlen);

/* The partition a record with this key goes to among npartitions (> 0),
 * as librdkafka's "consistent_random" partitioner places it (the
 * producer's, set by hd_kproducer_new): the CRC-32 of the key modulo
 * npartitions. Anyone can compute where a key's records are, e.g. the
 * hub shard that owns a user. An empty key is spread at random by the
 * producer; this function answers 0 for it. */
int32_t hd_kafka_partition_of(const void *key, size_t keylen,
                              int32_t npartitions);

/* ---- producer ---------------------------------------------------------- */

struct hd_kproducer;

/* Delivery report: ok is 1 when the brokers acknowledged the record, 0
 * with errstr (borrowed, valid during the call) when it failed for good
 * (after librdkafka's own retries, within send_timeout_ms). Runs on the
 * producer's internal poll thread: keep it short and never call
 * hd_kproducer_free() from it. */
typedef void hd_kdelivery_fn(void *opaque, int ok, const char *errstr);

/* new: creates an idempotent producer (acks=all, keyed records placed by
 * hd_kafka_partition_of() whatever HERALD_KAFKA_PARTITIONER says) and its
 * poll thread.
 * NULL with err on bad configuration (naming the HERALD_KAFKA_* variable).
 * Does not wait for the brokers to be reachable. */
struct hd_kproducer *hd_kproducer_new(const struct hd_kafka_config *cfg,
                                      struct hd_err *err);

/* Queues one record; key and value are copied. topic is the full name.
 * key may be NULL (spread over partitions). cb may be NULL. Returns 0 and
 * cb runs exactly once later; or -1 with err and cb never runs (local queue
 * full for more than 1 s, record too large, unknown topic config).
 * Thread-safe. */
int hd_kproducer_send(struct hd_kproducer *p, const char *topic,
                      const void *key, size_t keylen, const void *value,
                      size_t len, hd_kdelivery_fn *cb, void *opaque,
                      struct hd_err *err);

/* Queues one record and waits for its delivery report, up to timeout_ms.
 * Returns 0 when acknowledged, -1 with err otherwise. Thread-safe; never
 * call from a delivery callback. */
int hd_kproducer_send_sync(struct hd_kproducer *p, const char *topic,
                           const void *key, size_t keylen, const void *value,
                           size_t len, int timeout_ms, struct hd_err *err);

/* Waits until every queued record has its delivery report, up to
 * timeout_ms. Returns 0, or -1 (HD_ETIMEDOUT) with the number still
 * outstanding in err. */
int hd_kproducer_flush(struct hd_kproducer *p, int timeout_ms,
                       struct hd_err *err);

/* Records queued but not yet reported. Thread-safe. */
long hd_kproducer_outstanding(struct hd_kproducer *p);

/* Asks the cluster for metadata, for /readyz. Returns 0 if a broker
 * answered within timeout_ms, -1 with err otherwise. Thread-safe. */
int hd_kproducer_ping(struct hd_kproducer *p, int timeout_ms,
                      struct hd_err *err);

/* Flushes for up to 10 s (logging what is lost, if anything), stops the
 * poll thread and frees. NULL is a no-op. */
void hd_kproducer_free(struct hd_kproducer *p);

/* ---- consumer ---------------------------------------------------------- */

struct hd_kconsumer;

/* One consumed record. Fields are borrowed from the consumer and stay valid
 * until hd_kmsg_release(); the offset bookkeeping does not depend on the
 * message being kept. */
struct hd_kmsg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the record has no key */
    size_t keylen;
    const void *value;
    size_t len;
    int64_t timestamp_ms; /* producer timestamp, -1 if unknown */
    void *priv;           /* the rd_kafka_message_t */
};

/* Called on the polling thread from inside hd_kconsumer_poll() when
 * partitions are assigned (assigned = 1) or revoked (assigned = 0). For a
 * revoke, the consumer has already committed what was done. */
typedef void hd_krebalance_fn(void *ud, int assigned, const char *topic,
                              int32_t partition);

struct hd_kconsumer_opts {
    const char *group_id;      /* required */
    const char *const *topics; /* full names, ntopics of them */
    size_t ntopics;
    int start_latest;               /* 1: auto.offset.reset=latest */
    long max_inflight;              /* pause fetching above this many polled
                                       but not done messages (0 = 10000) */
    hd_krebalance_fn *on_rebalance; /* may be NULL */
    void *ud;
    int latest_at_start; /* with start_latest: a partition the
                            group has no offset for starts at the
                            end it had when the consumer was
                            created, not when it was assigned
                            (records produced while the group
                            formed are not skipped); creating
                            waits up to 5 s for Kafka */
    /* Static assignment (may be NULL: a group subscription). When set,
     * the consumer joins no group: once the topics' metadata arrives it
     * asks pick for each partition (with the topic's partition count) and
     * reads those it answers 1 for, resuming at the offsets committed
     * under group_id (else start_latest decides), and commits there as
     * usual. on_rebalance reports them as assigned. Partitions added to
     * a topic later are not seen until the consumer is made again. */
    int (*pick)(void *ud, const char *topic, int32_t partition,
                int32_t npartitions);
    /* With pick: commit nothing, so group_id leaves nothing behind in
     * Kafka (no membership, no offsets: one fixed group id serves every
     * process), and read the picked partitions every time from their
     * beginning (a reader that rebuilds its state from the whole topic)
     * or, with start_latest, from their end (the end they had when the
     * consumer was created with latest_at_start, else when assigned: a
     * reader of live events only). */
    int no_commit;
};

/* new: creates a group consumer subscribed to the topics, or, with
 * o->pick, a consumer of the partitions it picks. Auto-commit and auto
 * offset store are off. NULL with err on bad configuration. */
struct hd_kconsumer *hd_kconsumer_new(const struct hd_kafka_config *cfg,
                                      const struct hd_kconsumer_opts *o,
                                      struct hd_err *err);

/* Waits up to timeout_ms for one record. Returns 1 with *msg filled (the
 * offset is now in flight), 0 when nothing arrived (partition EOF, a
 * rebalance, paused for back-pressure), or -1 with err on a fatal
 * consumer error. Also commits done offsets every
 * HD_KAFKA_COMMIT_INTERVAL_MS. Owning thread only. */
int hd_kconsumer_poll(struct hd_kconsumer *c, int timeout_ms,
                      struct hd_kmsg *msg, struct hd_err *err);

/* Frees the record's memory. Does not mark it done. */
void hd_kmsg_release(struct hd_kmsg *msg);

/* Marks (topic, partition, offset) done. Thread-safe: call it from
 * delivery callbacks or worker threads. Offsets of partitions this
 * consumer no longer owns are ignored (their new owner re-processes). */
void hd_kconsumer_done(struct hd_kconsumer *c, const char *topic,
                       int32_t partition, int64_t offset);

/* Commits, per partition, the lowest offset not yet done (everything
 * before it is done). sync = 1 waits for the broker. Returns 0 or -1.
 * Owning thread only. */
int hd_kconsumer_commit(struct hd_kconsumer *c, int sync, struct hd_err *err);

/* Static assignment only: 1 once the picked partitions are assigned, 0
 * while the metadata is awaited (or nothing was picked). Thread-safe. */
int hd_kconsumer_assigned(struct hd_kconsumer *c);

/* no_commit only: 1 once every picked partition has been read up to the
 * end it had when assigned (its history is replayed; what follows is
 * new), 0 before, and always 0 without no_commit. An empty partition
 * counts as read. Thread-safe. */
int hd_kconsumer_caught_up(struct hd_kconsumer *c);

/* Messages polled and not yet done. Thread-safe. */
long hd_kconsumer_inflight(struct hd_kconsumer *c);

/* Same as hd_kproducer_ping(), for the consumer's connection. */
int hd_kconsumer_ping(struct hd_kconsumer *c, int timeout_ms,
                      struct hd_err *err);

/* Commits what is done (sync), leaves the group and frees. Work still in
 * flight is not committed, so it is re-delivered to the next owner.
 * NULL is a no-op. Owning thread only. */
void hd_kconsumer_close(struct hd_kconsumer *c);

#endif
