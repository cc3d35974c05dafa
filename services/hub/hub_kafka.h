/* hub_kafka.h -- the herald.events and herald.broadcast consumer: one
 * thread per process that decodes each record, builds its event and
 * hands it to every service thread.
 *
 * Not sharded, it reads every partition from the end it had at start,
 * with no group membership and no commits (every replica must see every
 * event, and restarts leave nothing in Kafka); with HERALD_HUB_GROUP_ID,
 * a group subscription that resumes at its commits. Sharded
 * (hub_shard.h), it reads the partitions the shard owns, with no group
 * membership, committing under herald-hub-shard-<k>. A record is marked
 * done once every thread has queued it to its connections; a malformed
 * record is logged once and marked done. */
#ifndef HUB_KAFKA_H
#define HUB_KAFKA_H

#include "core/err.h"

struct hub_ctx;
struct hub_kafka;

/* new: subscribes and starts the thread. NULL with err. */
struct hub_kafka *hub_kafka_start(struct hub_ctx *hub, struct hd_err *err);

/* Stops consuming: returns once the thread dispatches no more events. The
 * consumer stays open, so events still held by the service threads can
 * mark their offsets done. Call it before hub_threads_stop(). NULL is a
 * no-op. */
void hub_kafka_halt(struct hub_kafka *k);

/* Halts (if not yet), commits what is done, leaves the group, joins the
 * thread and frees. Call it after hub_threads_stop(). NULL is a no-op. */
void hub_kafka_stop(struct hub_kafka *k);

/* /readyz check: the brokers answer (and, sharded, the shard's
 * partitions are assigned). Thread-safe. */
int hub_kafka_check(void *ud, struct hd_err *err);

#endif
