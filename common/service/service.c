/* service.c -- argument handling, configuration and logging bootstrap
 * shared by every binary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "service/service.h"
#include "core/shutdown.h"
#include "core/banned.h"

static const struct hd_config_field log_fields[] = {
    HD_CFG_ENUM("HERALD_LOG_LEVEL", struct hd_service, log_level, "info",
                "debug|info|warn|error", "minimum level of log lines"),
    HD_CFG_END,
};

/* The service's sections plus the shared logging one, in one array. */
static struct hd_config_section *
all_sections(struct hd_service *svc, size_t *n)
{
    struct hd_config_section *all = hd_xcalloc(svc->n + 1, sizeof(*all));

    memcpy(all, svc->secs, svc->n * sizeof(*all));
    all[svc->n].fields = log_fields;
    all[svc->n].base = svc;
    *n = svc->n + 1;
    return all;
}

static void
print_help(struct hd_service *svc, const struct hd_config_section *all,
           size_t n)
{
    printf("%s %s -- %s\n\n", svc->name, HD_VERSION, svc->summary);
    printf("Usage: %s [--help] [--version]%s\n", svc->name,
           svc->usage ? " [command]" : "");
    if (svc->usage)
        printf("\nCommands:\n%s", svc->usage);
    printf("\nConfiguration is read from the environment:\n\n");
    hd_config_help(stdout, all, n);
    printf("\nLog lines are JSON objects on stderr. SIGTERM or SIGINT stops "
           "the process gracefully.\n");
}

int
hd_service_init(struct hd_service *svc, int argc, char **argv)
{
    struct hd_config_section *all;
    enum hd_log_level level = HD_LOG_INFO;
    struct hd_err err = {0};
    struct hd_buf dump;
    size_t n;
    int i;

    svc->argi = argc;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            svc->argi = i + 1;
            break;
        }
        if (argv[i][0] != '-') {
            svc->argi = i;
            break;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            all = all_sections(svc, &n);
            print_help(svc, all, n);
            free(all);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", svc->name, HD_VERSION);
            return 1;
        }
        hd_log_init(svc->name, HD_LOG_INFO);
        hd_log(HD_LOG_FATAL, 0, "unknown option %.64s (try --help)", argv[i]);
        return -1;
    }

    all = all_sections(svc, &n);
    hd_log_init(svc->name, HD_LOG_INFO);
    if (hd_config_load(all, n, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "bad configuration: %s", err.msg);
        free(all);
        return -1;
    }
    if (svc->log_level)
        hd_log_level_parse(svc->log_level, &level);
    hd_log_init(svc->name, level);

    hd_buf_init(&dump, 64 * 1024);
    if (hd_config_dump(all, n, &dump, &err) == 0)
        hd_log(HD_LOG_INFO, 0, "starting %s %s with configuration %s",
               svc->name, HD_VERSION, dump.data);
    hd_buf_release(&dump);
    free(all);

    if (hd_shutdown_install() < 0) {
        hd_log(HD_LOG_FATAL, errno, "cannot install signal handlers");
        hd_service_release(svc);
        return -1;
    }
    return 0;
}

void
hd_service_release(struct hd_service *svc)
{
    struct hd_config_section logsec = {log_fields, svc};

    hd_config_release(svc->secs, svc->n);
    hd_config_release(&logsec, 1);
}
