/* kafka_mock.h -- librdkafka's in-process mock cluster for the unit tests
 * of common/kafka, with the fast group settings services get, and plain
 * librdkafka clients that place records and read committed offsets
 * independently of the wrapper. */
#ifndef TEST_KAFKA_MOCK_H
#define TEST_KAFKA_MOCK_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/config.h"
#include "kafka/kafka.h"

/* A mock cluster and the configuration pointing at it. */
struct tk {
    rd_kafka_t *host; /* only hosts the cluster's thread */
    rd_kafka_mock_cluster_t *mc;
    struct hd_kafka_config cfg;
    struct hd_config_section sec;
};

/* Sets the HERALD_KAFKA_* settings that make the mock fast. */
void tk_env(void);
int tk_start(struct tk *t);
void tk_stop(struct tk *t);

/* Produces n records "v<i>" to an explicit partition with plain
 * librdkafka, so tests can place records exactly. */
int raw_produce(struct tk *t, const char *topic, int32_t partition, int n);

/* The group's committed offset for (topic, partition), read by a client
 * that never joins the group; -1 when none. */
int64_t raw_committed(struct tk *t, const char *group, const char *topic,
                      int32_t partition);

/* Polls until a record arrives (1), a fatal error (-1) or timeout (0). */
int poll_one(struct hd_kconsumer *c, struct hd_kmsg *m, int timeout_ms);

#endif
