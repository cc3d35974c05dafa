/* main.c -- herald-devkafka: a Kafka cluster for development and tests.
 *
 * Without a command it hosts librdkafka's mock cluster (host.c); with
 * "produce" or "consume" it is a client of any cluster (client.c). The
 * mode is known before the configuration is loaded, so hosting never
 * requires HERALD_KAFKA_BROKERS and the clients never read the
 * HERALD_DEVKAFKA_* variables; --help lists both. Wiring only. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "kafka/kafka.h"
#include "core/log.h"
#include "service/service.h"
#include "tools/devkafka/devkafka.h"
#include "core/banned.h"

#define DK_DEFAULT_TOPICS                                                      \
    "herald.events:4,herald.broadcast:2,herald.requests:8,"                    \
    "herald.deliver.fcm:8,herald.deliver.apns:8,herald.deliver.hms:8,"         \
    "herald.feedback:8,herald.dlq:2,herald.presence:2"

static const struct hd_config_field dk_fields[] = {
    HD_CFG_INT("HERALD_DEVKAFKA_BROKERS", struct dk_config, brokers, 1, 1, 5,
               "number of mock brokers"),
    HD_CFG_STR("HERALD_DEVKAFKA_TOPICS", struct dk_config, topics,
               DK_DEFAULT_TOPICS, 0,
               "topics created at start, name[:partitions],... (other "
               "topics are created with 4 partitions when first used)"),
    HD_CFG_STR("HERALD_DEVKAFKA_BOOTSTRAP_FILE", struct dk_config,
               bootstrap_file, NULL, 0,
               "once ready, write the bootstrap list to this file "
               "(atomically; removed on exit)"),
    HD_CFG_END,
};

static const char usage[] =
    "  (none)          host the mock cluster: print \"BOOTSTRAP <list>\",\n"
    "                  then answer control commands on stdin, one a line:\n"
    "                    topic NAME PARTITIONS    down ID    up ID\n"
    "                    rtt ID MS    err APIKEY COUNT CODE    clear APIKEY\n"
    "                    coord group|transaction KEY ID    quit\n"
    "                  (ID -1: every broker)\n"
    "  produce TOPIC [KEY=VALUE ...]\n"
    "                  produce to HERALD_KAFKA_BROKERS (\"=VALUE\": no key)\n"
    "                  and wait for the acknowledgements; exit 0 or 1\n"
    "  consume TOPIC GROUP\n"
    "                  print each record as a JSON line; it is done once\n"
    "                  stdin says \"ack PARTITION OFFSET\" or \"ack all\"\n";

enum mode { MODE_HOST, MODE_PRODUCE, MODE_CONSUME, MODE_HELP };

/* Looks at the arguments the way hd_service_init() will: options up to
 * the first positional argument (or "--"). */
static enum mode
pick_mode(int argc, char **argv)
{
    const char *cmd = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            cmd = i + 1 < argc ? argv[i + 1] : NULL;
            break;
        }
        if (argv[i][0] != '-') {
            cmd = argv[i];
            break;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return MODE_HELP;
    }
    if (cmd != NULL && strcmp(cmd, "produce") == 0)
        return MODE_PRODUCE;
    if (cmd != NULL && strcmp(cmd, "consume") == 0)
        return MODE_CONSUME;
    return MODE_HOST;
}

int
main(int argc, char **argv)
{
    struct dk_config dk = {0};
    struct hd_kafka_config kc = {0};
    struct hd_config_section secs[2] = {{dk_fields, &dk},
                                        {hd_kafka_config_fields, &kc}};
    struct hd_service svc = {0};
    enum mode mode = pick_mode(argc, argv);
    char **args;
    int nargs, rc;

    svc.name = "herald-devkafka";
    svc.summary = "Kafka mock cluster and test clients (development only)";
    svc.usage = usage;
    svc.secs =
        mode == MODE_PRODUCE || mode == MODE_CONSUME ? &secs[1] : &secs[0];
    svc.n = mode == MODE_HELP ? 2 : 1;
    rc = hd_service_init(&svc, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    args = argv + svc.argi;
    nargs = argc - svc.argi;

    switch (mode) {
    case MODE_PRODUCE:
        if (nargs < 2) {
            hd_log(HD_LOG_FATAL, 0, "usage: produce TOPIC [KEY=VALUE ...]");
            rc = HD_EXIT_CONFIG;
            break;
        }
        rc = dk_produce_main(&kc, args[1], nargs - 2, args + 2);
        break;
    case MODE_CONSUME:
        if (nargs != 3) {
            hd_log(HD_LOG_FATAL, 0, "usage: consume TOPIC GROUP");
            rc = HD_EXIT_CONFIG;
            break;
        }
        rc = dk_consume_main(&kc, args[1], args[2]);
        break;
    case MODE_HOST:
    case MODE_HELP:
        if (nargs > 0) {
            hd_log(HD_LOG_FATAL, 0, "unknown command %.64s (try --help)",
                   args[0]);
            rc = HD_EXIT_CONFIG;
            break;
        }
        rc = dk_host_main(&dk);
        break;
    }
    hd_service_release(&svc);
    return rc;
}
