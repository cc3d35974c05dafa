/* startpos.h -- a "latest" consumer's start positions (startpos.c), for
 * consumer.c only. */
#ifndef HD_KAFKA_STARTPOS_H
#define HD_KAFKA_STARTPOS_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

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

void hd_kstartpos_free(struct hd_kstartpos *s);

#endif
