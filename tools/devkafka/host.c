/* host.c -- herald-devkafka's default mode: librdkafka's mock cluster.
 *
 * Prints "BOOTSTRAP <list>" once the brokers listen, then answers each
 * control command on stdin with exactly one "OK <command> -> <result>" or
 * "ERR <command> -> <reason>" line. At end of stdin it keeps serving until
 * SIGTERM/SIGINT. Not for production: plaintext, in memory, 127.0.0.1. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "service/service.h"
#include "core/shutdown.h"
#include "tools/devkafka/devkafka.h"
#include "core/banned.h"

#define DK_TOPIC_NAME_MAX 249 /* Kafka's own limit */
#define DK_MAX_PARTITIONS 1000
#define DK_MAX_ERRS 64 /* errors pushed by one "err" command */
#define DK_MAX_WORDS 5

struct host {
    rd_kafka_t *rk; /* only hosts the cluster's thread */
    rd_kafka_mock_cluster_t *mc;
    int replicas;
};

static int
topic_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > DK_TOPIC_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
            s[i] != '-')
            return 0;
    return 1;
}

/* Checks "name:partitions,..." (partitions defaulting to 1). When mc is
 * not NULL, also creates each topic there. Returns 0 or -1 with err. */
static int
topics_apply(const char *list, rd_kafka_mock_cluster_t *mc, int replicas,
             struct hd_err *err)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        const char *colon = memchr(p, ':', len);
        size_t nlen = colon ? (size_t)(colon - p) : len;
        char name[DK_TOPIC_NAME_MAX + 1];
        char parts_s[16];
        int parts = 1;

        if (len == 0) { /* tolerate "a:1,,b:2" and a trailing comma */
            p++;
            continue;
        }
        if (!topic_name_ok(p, nlen))
            return hd_err_set(err, HD_EINVAL,
                              "bad topic name \"%.*s\" (letters, digits, "
                              "'.', '_', '-')",
                              (int)(nlen < 64 ? nlen : 64), p);
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        if (colon != NULL) {
            size_t plen = len - nlen - 1;

            if (plen == 0 || plen >= sizeof(parts_s))
                return hd_err_set(err, HD_EINVAL,
                                  "topic %s: bad partition count", name);
            memcpy(parts_s, colon + 1, plen);
            parts_s[plen] = '\0';
            if (hd_parse_int(parts_s, 1, DK_MAX_PARTITIONS, &parts) < 0)
                return hd_err_set(err, HD_EINVAL,
                                  "topic %s: partitions must be 1..%d", name,
                                  DK_MAX_PARTITIONS);
        }
        if (mc != NULL) {
            rd_kafka_resp_err_t e =
                rd_kafka_mock_topic_create(mc, name, parts, replicas);

            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                return hd_err_set(err, HD_EUPSTREAM, "create topic %s: %s",
                                  name, rd_kafka_err2str(e));
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* ---- control commands -------------------------------------------------- */

/* Each handler returns 0 with res set, or -1 with res the reason. */
typedef int cmd_fn(struct host *h, char **w, int n, char *res, size_t reslen);

static int
result(rd_kafka_resp_err_t e, char *res, size_t reslen)
{
    snprintf(res, reslen, "%s", rd_kafka_err2str(e));
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

static int
usage(char *res, size_t reslen, const char *text)
{
    snprintf(res, reslen, "usage: %s", text);
    return -1;
}

static int
cmd_topic(struct host *h, char **w, int n, char *res, size_t reslen)
{
    int parts;

    if (n != 3 || !topic_name_ok(w[1], strlen(w[1])) ||
        hd_parse_int(w[2], 1, DK_MAX_PARTITIONS, &parts) < 0)
        return usage(res, reslen, "topic NAME PARTITIONS (1..1000)");
    return result(rd_kafka_mock_topic_create(h->mc, w[1], parts, h->replicas),
                  res, reslen);
}

static int
cmd_down_up(struct host *h, char **w, int n, char *res, size_t reslen)
{
    int id;

    if (n != 2 || hd_parse_int(w[1], -1, 1000, &id) < 0)
        return usage(res, reslen, "down|up BROKER_ID (-1: all)");
    if (strcmp(w[0], "down") == 0)
        return result(rd_kafka_mock_broker_set_down(h->mc, id), res, reslen);
    return result(rd_kafka_mock_broker_set_up(h->mc, id), res, reslen);
}

static int
cmd_rtt(struct host *h, char **w, int n, char *res, size_t reslen)
{
    int id, ms;

    if (n != 3 || hd_parse_int(w[1], -1, 1000, &id) < 0 ||
        hd_parse_int(w[2], 0, 600000, &ms) < 0)
        return usage(res, reslen, "rtt BROKER_ID MS");
    return result(rd_kafka_mock_broker_set_rtt(h->mc, id, ms), res, reslen);
}

static int
cmd_err(struct host *h, char **w, int n, char *res, size_t reslen)
{
    rd_kafka_resp_err_t errs[DK_MAX_ERRS];
    int apikey, cnt, code, i;

    if (n != 4 || hd_parse_int(w[1], 0, 1000, &apikey) < 0 ||
        hd_parse_int(w[2], 1, DK_MAX_ERRS, &cnt) < 0 ||
        hd_parse_int(w[3], -200, 1000, &code) < 0)
        return usage(res, reslen, "err APIKEY COUNT(1..64) CODE");
    for (i = 0; i < cnt; i++)
        errs[i] = (rd_kafka_resp_err_t)code;
    rd_kafka_mock_push_request_errors_array(h->mc, (int16_t)apikey, (size_t)cnt,
                                            errs);
    return result(RD_KAFKA_RESP_ERR_NO_ERROR, res, reslen);
}

static int
cmd_clear(struct host *h, char **w, int n, char *res, size_t reslen)
{
    int apikey;

    if (n != 2 || hd_parse_int(w[1], 0, 1000, &apikey) < 0)
        return usage(res, reslen, "clear APIKEY");
    rd_kafka_mock_clear_request_errors(h->mc, (int16_t)apikey);
    return result(RD_KAFKA_RESP_ERR_NO_ERROR, res, reslen);
}

static int
cmd_coord(struct host *h, char **w, int n, char *res, size_t reslen)
{
    int id;

    if (n != 4 ||
        (strcmp(w[1], "group") != 0 && strcmp(w[1], "transaction") != 0) ||
        hd_parse_int(w[3], -1, 1000, &id) < 0)
        return usage(res, reslen, "coord group|transaction KEY BROKER_ID");
    return result(rd_kafka_mock_coordinator_set(h->mc, w[1], w[2], id), res,
                  reslen);
}

static const struct {
    const char *name;
    cmd_fn *fn;
} commands[] = {
    {"topic", cmd_topic}, {"down", cmd_down_up}, {"up", cmd_down_up},
    {"rtt", cmd_rtt},     {"err", cmd_err},      {"clear", cmd_clear},
    {"coord", cmd_coord}, {NULL, NULL},
};

/* Answers one line. Returns 1 when it was "quit". */
static int
handle_line(struct host *h, const char *line)
{
    char copy[DK_LINE_MAX];
    char res[256];
    char *w[DK_MAX_WORDS];
    int n, i, rc = -1;

    snprintf(copy, sizeof(copy), "%s", line);
    n = dk_split(copy, w, DK_MAX_WORDS);
    if (n == 0)
        return 0; /* blank line: nothing to answer */
    snprintf(res, sizeof(res),
             "unknown command (topic, down, up, rtt, err, "
             "clear, coord, quit)");
    if (n == 1 && strcmp(w[0], "quit") == 0) {
        printf("OK %s -> bye\n", line);
        fflush(stdout);
        return 1;
    }
    for (i = 0; n > 0 && commands[i].name; i++) {
        if (strcmp(w[0], commands[i].name) == 0) {
            rc = commands[i].fn(h, w, n, res, sizeof(res));
            break;
        }
    }
    if (n < 0)
        snprintf(res, sizeof(res), "too many words");
    printf("%s %s -> %s\n", rc == 0 ? "OK" : "ERR", line, res);
    fflush(stdout);
    hd_log(rc == 0 ? HD_LOG_INFO : HD_LOG_WARN, 0, "control: %s -> %s", line,
           res);
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

static int
write_atomically(const char *path, const char *text, struct hd_err *err)
{
    char *tmp = hd_xasprintf("%s.tmp.%ld", path, (long)getpid());
    size_t len = strlen(text), off = 0;
    int fd, rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        hd_err_set(err, HD_EIO, "open %s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            hd_err_set(err, HD_EIO, "write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        fd = -1;
        hd_err_set(err, HD_EIO, "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        hd_err_set(err, HD_EIO, "rename to %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* The hosting handle never connects anywhere; its chatter is debug. */
static void
host_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    hd_log(level <= 3 ? HD_LOG_WARN : HD_LOG_DEBUG, 0, "librdkafka %s %s: %s",
           rd_kafka_name(rk), fac, buf);
}

static void
serve(struct host *h)
{
    struct dk_lines in;
    char line[DK_LINE_MAX];
    int rc;

    dk_lines_init(&in, STDIN_FILENO);
    while (!hd_shutdown_requested()) {
        if (!dk_lines_wait(&in, -1))
            continue;
        if (dk_lines_fill(&in) < 0)
            hd_log(HD_LOG_WARN, errno, "reading control commands");
        while ((rc = dk_lines_next(&in, line)) != 0) {
            if (rc < 0) {
                printf("ERR (line too long) -> at most %d bytes\n",
                       DK_LINE_MAX - 1);
                fflush(stdout);
                continue;
            }
            if (handle_line(h, line))
                return;
        }
        if (in.eof)
            hd_log(HD_LOG_INFO, 0,
                   "control input closed; serving until "
                   "SIGTERM");
        while (in.eof && !hd_shutdown_requested())
            hd_shutdown_wait(-1);
    }
}

int
dk_host_main(const struct dk_config *cfg)
{
    rd_kafka_conf_t *conf;
    struct hd_err err = {0};
    struct host h = {0};
    const char *bootstrap;
    char errstr[256];
    int wrote = 0, status = 1;

    /* A bad topic list is a configuration error: check before starting. */
    if (topics_apply(cfg->topics, NULL, 0, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "HERALD_DEVKAFKA_TOPICS: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, host_log);
    h.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (h.rk == NULL) {
        rd_kafka_conf_destroy(conf);
        hd_log(HD_LOG_FATAL, 0, "librdkafka: %s", errstr);
        return 1;
    }
    h.replicas = cfg->brokers < 3 ? cfg->brokers : 3;
    h.mc = rd_kafka_mock_cluster_new(h.rk, cfg->brokers);
    if (h.mc == NULL) {
        hd_log(HD_LOG_FATAL, 0, "cannot start the mock cluster");
        goto out;
    }
    if (topics_apply(cfg->topics, h.mc, h.replicas, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        goto out;
    }
    bootstrap = rd_kafka_mock_cluster_bootstraps(h.mc);
    if (cfg->bootstrap_file != NULL) {
        char *text = hd_xasprintf("%s\n", bootstrap);

        wrote = write_atomically(cfg->bootstrap_file, text, &err) == 0;
        free(text);
        if (!wrote) {
            hd_log(HD_LOG_FATAL, 0, "HERALD_DEVKAFKA_BOOTSTRAP_FILE: %s",
                   err.msg);
            goto out;
        }
    }
    printf("BOOTSTRAP %s\n", bootstrap);
    fflush(stdout);
    hd_log(HD_LOG_INFO, 0, "mock cluster with %d broker(s) ready at %s",
           cfg->brokers, bootstrap);

    serve(&h);
    status = 0;
    hd_log(HD_LOG_INFO, 0, "stopping the mock cluster");
out:
    if (wrote && unlink(cfg->bootstrap_file) < 0)
        hd_log(HD_LOG_WARN, errno, "removing %s", cfg->bootstrap_file);
    if (h.mc != NULL)
        rd_kafka_mock_cluster_destroy(h.mc);
    rd_kafka_destroy(h.rk);
    return status;
}
