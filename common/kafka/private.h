/* kafka_private.h -- what kafka.c shares with kafka_consumer.c.
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

#endif
