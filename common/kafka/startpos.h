/* startpos.h -- where a consumer starts and how far a replay reads: the
 * partitions' end offsets (startpos.c), for consumer.c only. */
#ifndef HD_KAFKA_STARTPOS_H
#define HD_KAFKA_STARTPOS_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/err.h"

/* The end offset of every partition of the topics, read now (startpos.c);
 * a topic Kafka does not describe within timeout_ms is left out (logged).
 * Never NULL. */
struct hd_kstartpos;
struct hd_kstartpos *hd_kstartpos_capture(rd_kafka_t *rk,
                                          const char *const *topics, size_t n,
                                          int timeout_ms);

/* For each partition of parts seen by capture and not applied before:
 * when the group has no committed offset for it, sets its offset to the
 * captured end. Rebalance callback only. */
void hd_kstartpos_apply(struct hd_kstartpos *s, rd_kafka_t *rk,
                        rd_kafka_topic_partition_list_t *parts, int timeout_ms);

/* The end captured for (topic, partition), or -1 when none was (s may be
 * NULL). For a static assignment, which is made once (an attempt that
 * fails for want of metadata asks again). */
int64_t hd_kstartpos_get(const struct hd_kstartpos *s, const char *topic,
                         int32_t partition);

/* The end (high watermark) of each of parts now, into a new array (-1 for
 * an empty partition: nothing to read up to); NULL with err when Kafka did
 * not answer within timeout_ms. */
int64_t *hd_kstartpos_ends(rd_kafka_t *rk,
                           const rd_kafka_topic_partition_list_t *parts,
                           int timeout_ms, struct hd_err *err);

void hd_kstartpos_free(struct hd_kstartpos *s);

#endif
