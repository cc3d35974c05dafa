/* service.h -- what every Herald binary does before its own work starts.
 *
 * hd_service_init() handles --help and --version, loads the configuration
 * sections (adding the logging variables every service shares), starts the
 * JSON logger, logs the effective configuration with secrets redacted, and
 * installs the shutdown signal handlers. A bad value stops the process
 * with a message naming the variable. Call from main() only. */
#ifndef HD_SERVICE_H
#define HD_SERVICE_H

#include <stddef.h>

#include "core/config.h"

#define HD_VERSION "0.1.0"
#define HD_EXIT_CONFIG 2 /* exit status for bad configuration or usage */

struct hd_service {
    const char *name;    /* "herald-api": borrowed string literal */
    const char *summary; /* one line for --help: borrowed */
    const char *usage;   /* extra usage lines (subcommands), or NULL */
    const struct hd_config_section *secs; /* borrowed, n entries */
    size_t n;
    char *log_level; /* HERALD_LOG_LEVEL, filled by init */
    int argi;        /* index of the first positional argument */
};

/* Returns 0 to run, 1 when --help or --version was printed (exit 0), or
 * -1 after printing the error (exit HD_EXIT_CONFIG). */
int hd_service_init(struct hd_service *svc, int argc, char **argv);

/* Releases the configuration strings of every section. */
void hd_service_release(struct hd_service *svc);

#endif
