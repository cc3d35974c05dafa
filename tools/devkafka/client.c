/* client.c -- herald-devkafka's produce and consume subcommands.
 *
 * Both are thin drivers of common/kafka/kafka.c, so tests exercise the same
 * producer and consumer the services use. consume hands each record out
 * as one JSON line and marks it done only when stdin acknowledges it:
 * killing it before the ack must bring the record back (at-least-once). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "service/service.h"
#include "core/shutdown.h"
#include "tools/devkafka/devkafka.h"
#include "core/banned.h"

#define DK_CONSUME_MAX_INFLIGHT 1000 /* printed, not yet acknowledged */
#define DK_CONSUME_POLL_MS 20

/* ---- produce ----------------------------------------------------------- */

static void
on_report(void *opaque, int ok, const char *errstr)
{
    atomic_int *failed = opaque;

    if (!ok) {
        atomic_fetch_add(failed, 1);
        hd_log(HD_LOG_ERROR, 0, "record not delivered: %s", errstr);
    }
}

int
dk_produce_main(const struct hd_kafka_config *kc, const char *topic, int npairs,
                char **pairs)
{
    struct hd_kproducer *p;
    struct hd_err err = {0};
    atomic_int failed = 0;
    int i, status = 0;

    for (i = 0; i < npairs; i++) {
        if (strchr(pairs[i], '=') == NULL) {
            hd_log(HD_LOG_FATAL, 0, "produce: \"%.64s\" is not KEY=VALUE",
                   pairs[i]);
            return HD_EXIT_CONFIG;
        }
    }
    p = hd_kproducer_new(kc, &err);
    if (p == NULL) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        return HD_EXIT_CONFIG;
    }
    for (i = 0; i < npairs; i++) {
        const char *eq = strchr(pairs[i], '=');
        size_t klen = (size_t)(eq - pairs[i]);

        /* "=VALUE" produces a record without a key */
        if (hd_kproducer_send(p, topic, klen ? pairs[i] : NULL, klen, eq + 1,
                              strlen(eq + 1), on_report, &failed, &err) < 0) {
            hd_log(HD_LOG_ERROR, 0, "%s", err.msg);
            status = 1;
        }
    }
    if (hd_kproducer_flush(p, kc->send_timeout_ms + 5000, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "produce: %s", err.msg);
        status = 1;
    }
    hd_kproducer_free(p);
    if (atomic_load(&failed) > 0)
        status = 1;
    else if (status == 0)
        hd_log(HD_LOG_INFO, 0, "produced %d record(s) to %s", npairs, topic);
    return status;
}

/* ---- consume ----------------------------------------------------------- */

struct pending {
    int32_t partition;
    int64_t offset;
};

struct consume {
    const char *topic;
    struct hd_kconsumer *c;
    struct pending *pend; /* printed, waiting for their ack */
    size_t npend;
};

static void
forget_partition(struct consume *st, int32_t partition)
{
    size_t i = 0;

    while (i < st->npend) {
        if (st->pend[i].partition == partition)
            st->pend[i] = st->pend[--st->npend];
        else
            i++;
    }
}

static void
on_rebalance(void *ud, int assigned, const char *topic, int32_t partition)
{
    struct consume *st = ud;

    hd_log(HD_LOG_INFO, 0, "%s %s[%d]", assigned ? "assigned" : "revoked",
           topic, (int)partition);
    if (!assigned)
        forget_partition(st, partition); /* its new owner re-delivers */
}

static int
print_record(const struct hd_kmsg *m)
{
    struct hd_buf b;
    struct hd_err err = {0};
    int rc;

    hd_buf_init(&b, 2 * HD_KAFKA_MAX_MESSAGE + 1024);
    rc = hd_buf_puts(&b, "{\"topic\":\"", &err) |
         hd_buf_json_escape(&b, m->topic, strlen(m->topic), &err) |
         hd_buf_printf(&b, &err, "\",\"partition\":%d,\"offset\":%lld,\"key\":",
                       (int)m->partition, (long long)m->offset);
    if (m->key == NULL)
        rc |= hd_buf_puts(&b, "null", &err);
    else
        rc |= hd_buf_putc(&b, '"', &err) |
              hd_buf_json_escape(&b, m->key, m->keylen, &err) |
              hd_buf_putc(&b, '"', &err);
    rc |= hd_buf_puts(&b, ",\"value\":\"", &err) |
          hd_buf_json_escape(&b, m->value, m->len, &err) |
          hd_buf_puts(&b, "\"}\n", &err);
    if (rc == 0) {
        fwrite(b.data, 1, b.len, stdout);
        fflush(stdout);
    } else {
        hd_log(HD_LOG_ERROR, 0, "record %d/%lld not printed: %s",
               (int)m->partition, (long long)m->offset, err.msg);
    }
    hd_buf_release(&b);
    return rc == 0 ? 0 : -1;
}

static void
ack(struct consume *st, const char *line)
{
    char copy[DK_LINE_MAX];
    char *w[3];
    long long off;
    int n, part;
    size_t i;

    snprintf(copy, sizeof(copy), "%s", line);
    n = dk_split(copy, w, 3);
    if (n == 0)
        return;
    if (n == 2 && strcmp(w[0], "ack") == 0 && strcmp(w[1], "all") == 0) {
        for (i = 0; i < st->npend; i++)
            hd_kconsumer_done(st->c, st->topic, st->pend[i].partition,
                              st->pend[i].offset);
        st->npend = 0;
        return;
    }
    if (n != 3 || strcmp(w[0], "ack") != 0 ||
        hd_parse_int(w[1], 0, INT32_MAX, &part) < 0 ||
        hd_parse_ll(w[2], 0, INT64_MAX, &off) < 0) {
        hd_log(HD_LOG_WARN, 0,
               "ignored input \"%.64s\" (ack PARTITION "
               "OFFSET | ack all)",
               line);
        return;
    }
    for (i = 0; i < st->npend; i++) {
        if (st->pend[i].partition == part && st->pend[i].offset == off) {
            st->pend[i] = st->pend[--st->npend];
            break;
        }
    }
    hd_kconsumer_done(st->c, st->topic, part, off);
}

/* Applies every ack line already read or readable without waiting. */
static void
read_acks(struct consume *st, struct dk_lines *in)
{
    char line[DK_LINE_MAX];
    int rc;

    for (;;) {
        while ((rc = dk_lines_next(in, line)) != 0) {
            if (rc < 0)
                hd_log(HD_LOG_WARN, 0, "ignored an overlong input line");
            else
                ack(st, line);
        }
        if (!dk_lines_wait(in, 0))
            return;
        dk_lines_fill(in);
    }
}

int
dk_consume_main(const struct hd_kafka_config *kc, const char *topic,
                const char *group)
{
    const char *topics[1] = {topic};
    struct consume st = {0};
    struct hd_kconsumer_opts o = {0};
    struct dk_lines in;
    struct hd_err err = {0};
    struct hd_kmsg m;
    int status = 0, rc;

    o.group_id = group;
    o.topics = topics;
    o.ntopics = 1;
    o.max_inflight = DK_CONSUME_MAX_INFLIGHT;
    o.on_rebalance = on_rebalance;
    o.ud = &st;
    st.topic = topic;
    /* pausing above max_inflight keeps this bounded (+1 per poll) */
    st.pend = hd_xcalloc(2 * DK_CONSUME_MAX_INFLIGHT, sizeof(*st.pend));
    st.c = hd_kconsumer_new(kc, &o, &err);
    if (st.c == NULL) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        free(st.pend);
        return HD_EXIT_CONFIG;
    }
    dk_lines_init(&in, STDIN_FILENO);
    hd_log(HD_LOG_INFO, 0, "consuming %s in group %s", topic, group);
    while (!hd_shutdown_requested()) {
        rc = hd_kconsumer_poll(st.c, DK_CONSUME_POLL_MS, &m, &err);
        if (rc < 0) {
            hd_log(HD_LOG_ERROR, 0, "%s", err.msg);
            status = 1;
            break;
        }
        if (rc == 1) {
            if (st.npend == 2 * DK_CONSUME_MAX_INFLIGHT) {
                hd_log(HD_LOG_ERROR, 0, "too many unacknowledged records");
                hd_kmsg_release(&m);
                status = 1;
                break;
            }
            if (print_record(&m) == 0) {
                st.pend[st.npend].partition = m.partition;
                st.pend[st.npend].offset = m.offset;
                st.npend++;
            } else {
                /* unprintable: nobody can ack it, so it is done */
                hd_kconsumer_done(st.c, m.topic, m.partition, m.offset);
            }
            hd_kmsg_release(&m);
        }
        read_acks(&st, &in);
    }
    /* Acks written before the signal are applied before the last commit. */
    read_acks(&st, &in);
    hd_log(HD_LOG_INFO, 0, "stopping: %zu record(s) unacknowledged", st.npend);
    hd_kconsumer_close(st.c);
    free(st.pend);
    return status;
}
