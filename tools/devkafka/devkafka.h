/* devkafka.h -- what herald-devkafka's files share.
 *
 * herald-devkafka is a development and test tool, never deployed: it hosts
 * librdkafka's mock cluster (the real Kafka wire protocol, in memory) and
 * offers produce/consume subcommands built on common/kafka/kafka.c. Everything
 * here runs on the main thread. */
#ifndef DK_DEVKAFKA_H
#define DK_DEVKAFKA_H

#include <stddef.h>

#include "core/err.h"
#include "kafka/kafka.h"

#define DK_LINE_MAX 1024 /* one control or ack line on stdin */

struct dk_config {
    int brokers;          /* HERALD_DEVKAFKA_BROKERS */
    char *topics;         /* HERALD_DEVKAFKA_TOPICS: name:partitions,... */
    char *bootstrap_file; /* HERALD_DEVKAFKA_BOOTSTRAP_FILE, or NULL */
};

/* Lines from a file descriptor, each at most DK_LINE_MAX - 1 bytes. */
struct dk_lines {
    int fd;
    int eof;      /* the fd reached end of file */
    int skipping; /* discarding the rest of an overlong line */
    size_t len;
    char buf[DK_LINE_MAX];
};

void dk_lines_init(struct dk_lines *l, int fd);

/* Reads once from the fd (call when it polls readable). Returns 0, or -1
 * on a read error (then eof is set too). */
int dk_lines_fill(struct dk_lines *l);

/* Copies the next complete line, without its end of line, into out
 * (DK_LINE_MAX bytes). Returns 1, 0 when there is none yet, or -1 for a
 * line that was too long (dropped). At eof, a last unterminated line
 * counts as complete. */
int dk_lines_next(struct dk_lines *l, char *out);

/* Waits up to timeout_ms (-1: forever) until the fd is readable or
 * shutdown is requested. Returns 1 if the fd is readable (even during
 * shutdown, so pending input can still be taken), 0 otherwise. */
int dk_lines_wait(struct dk_lines *l, int timeout_ms);

/* Splits line in place at blanks into at most maxw words. Returns the
 * number of words, or -1 if there are more. */
int dk_split(char *line, char **words, int maxw);

/* The mock cluster host. Returns the process exit status. */
int dk_host_main(const struct dk_config *cfg);

/* herald-devkafka produce TOPIC [KEY=VALUE ...]: exit status. */
int dk_produce_main(const struct hd_kafka_config *kc, const char *topic,
                    int npairs, char **pairs);

/* herald-devkafka consume TOPIC GROUP: exit status. */
int dk_consume_main(const struct hd_kafka_config *kc, const char *topic,
                    const char *group);

#endif
