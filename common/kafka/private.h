/* kafka_private.h -- what kafka.c, consumer.c and startpos.c share.
 *
 * Not part of the contract: only the two halves of common/kafka/kafka.h include
 * it. Everything here is thread-safe; nothing logs except
 * hd_kafka_log_error(), which exists for librdkafka's own errors. */
#ifndef HD_KAFKA_PRIVATE_H
#define HD_KAFKA_PRIVATE_H

#include <librdkafka/rdkafka.h>

#include "core/err.h"
#include "kafka/kafka.h"

/* new: the configuration both client types share: librdkafka's log and
 * error lines routed to hd_log, the HERALD_KAFKA_* pass-through, then the
 * bootstrap list. NULL with err naming the variable. */
rd_kafka_conf_t *hd_kafka_base_conf(const struct hd_kafka_config *cfg,
                                    struct hd_err *err);

/* Sets one property; on failure err names var. Returns 0 or -1. */
int hd_kafka_set_prop(rd_kafka_conf_t *conf, const char *prop,
                      const char *value, const char *var, struct hd_err *err);

/* A metadata request answered within timeout_ms. Returns 0 or -1. */
int hd_kafka_ping(rd_kafka_t *rk, int timeout_ms, struct hd_err *err);

/* Logs an error librdkafka reported outside of any call (warn, or error
 * when fatal). */
void hd_kafka_log_error(const rd_kafka_t *rk, int fatal, const char *what);

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
                        rd_kafka_topic_partition_list_t *parts,
                        int timeout_ms);

void hd_kstartpos_free(struct hd_kstartpos *s);

#endif
