/* kafka_mock.c -- the mock cluster of the common/kafka unit tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "tests/unit/support/kafka_mock.h"
#include "core/banned.h"

/* librdkafka settings that make the mock fast, as services get them. */
static const char *const fast_env[][2] = {
    {"HERALD_KAFKA_FETCH_WAIT_MAX_MS", "5"},
    {"HERALD_KAFKA_FETCH_ERROR_BACKOFF_MS", "10"},
    {"HERALD_KAFKA_SESSION_TIMEOUT_MS", "3000"},
    {"HERALD_KAFKA_HEARTBEAT_INTERVAL_MS", "750"},
    {"HERALD_KAFKA_LINGER_MS", "1"},
    {"HERALD_KAFKA_RECONNECT_BACKOFF_MAX_MS", "200"},
    {"HERALD_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS", "1000"},
    {NULL, NULL},
};

int
tk_start(struct tk *t)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];

    memset(t, 0, sizeof(*t));
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    t->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (t->host == NULL)
        return -1;
    t->mc = rd_kafka_mock_cluster_new(t->host, 1);
    if (t->mc == NULL)
        return -1;
    setenv("HERALD_KAFKA_BROKERS", rd_kafka_mock_cluster_bootstraps(t->mc), 1);
    t->sec.fields = hd_kafka_config_fields;
    t->sec.base = &t->cfg;
    return hd_config_load(&t->sec, 1, NULL);
}

void
tk_stop(struct tk *t)
{
    hd_config_release(&t->sec, 1);
    if (t->mc != NULL)
        rd_kafka_mock_cluster_destroy(t->mc);
    if (t->host != NULL)
        rd_kafka_destroy(t->host);
    unsetenv("HERALD_KAFKA_BROKERS");
    memset(t, 0, sizeof(*t));
}

/* Produces n records "v<i>" to an explicit partition with plain
 * librdkafka, so tests can place records exactly. */
int
raw_produce(struct tk *t, const char *topic, int32_t partition, int n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_t *rkt;
    char errstr[256], val[32];
    rd_kafka_t *rk;
    int i, rc = 0;

    rd_kafka_conf_set(conf, "bootstrap.servers", t->cfg.brokers, errstr,
                      sizeof(errstr));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        return -1;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (i = 0; i < n; i++) {
        snprintf(val, sizeof(val), "v%d", i);
        if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, val,
                             strlen(val), NULL, 0, NULL) != 0)
            rc = -1;
    }
    if (rd_kafka_flush(rk, 10000) != 0)
        rc = -1;
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

/* The group's committed offset for (topic, partition), read by a client
 * that never joins the group; -1 when none. */
int64_t
raw_committed(struct tk *t, const char *group, const char *topic,
              int32_t partition)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l;
    char errstr[256];
    rd_kafka_t *rk;
    int64_t off = -2;

    rd_kafka_conf_set(conf, "bootstrap.servers", t->cfg.brokers, errstr,
                      sizeof(errstr));
    rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        return -2;
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    if (rd_kafka_committed(rk, l, 10000) == 0 && l->elems[0].err == 0)
        off = l->elems[0].offset < 0 ? -1 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

/* Polls until a record arrives (1), a fatal error (-1) or timeout (0). */
int
poll_one(struct hd_kconsumer *c, struct hd_kmsg *m, int timeout_ms)
{
    uint64_t end = hd_now_mono_ms() + (uint64_t)timeout_ms;
    int rc;

    do {
        rc = hd_kconsumer_poll(c, 20, m, NULL);
        if (rc != 0)
            return rc;
    } while (hd_now_mono_ms() < end);
    return 0;
}

void
tk_env(void)
{
    int i;

    for (i = 0; fast_env[i][0] != NULL; i++)
        setenv(fast_env[i][0], fast_env[i][1], 1);
}
