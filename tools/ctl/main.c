/* main.c -- heraldctl: the operator's command line for Herald. Reads the
 * settings, looks at the terminal, and hands the rest of the line to one
 * command. Wiring only: each command lives in its own file.
 *
 * Settings come from the options, else the environment, else the env
 * file `make run` writes (var/stack.env), read only when a command needs
 * a setting the first two did not give. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "service/service.h"
#include "tools/ctl/ctl.h"
#include "core/banned.h"

static const char usage[] =
    "heraldctl " HD_VERSION " -- the operator's command line for Herald\n"
    "\n"
    "Sends pushes, inspects and removes devices, follows a push's\n"
    "outcomes, imports devices in bulk and manages relay installations,\n"
    "through herald-api's server API and herald-relay's admin endpoints.\n"
    "\n"
    "Usage: heraldctl [options] COMMAND [ARGS...]   (COMMAND --help for "
    "more)\n"
    "\n"
    "Commands:\n"
    "  send           send a push to users, topics, devices or raw tokens\n"
    "  devices        list, show or remove registered devices\n"
    "  topics         list users' topics, add, remove or set them\n"
    "  status UID     per-device outcomes of one push\n"
    "  import FILE    register devices in bulk from JSON Lines or CSV\n"
    "  installations  create, show or list relay installations; rotate keys\n"
    "\n"
    "Exit codes:\n"
    "  0  done\n"
    "  1  the API refused the request (its message is shown)\n"
    "  2  bad command line, bad input, or a missing setting\n"
    "  3  no answer: connection refused, TLS, timeout, HTTP 5xx\n"
    "  4  the key was refused (HTTP 401/403)\n"
    "  5  not found (device, uid, installation)\n"
    "  6  import finished but skipped some lines\n"
    "  130  interrupted (Ctrl-C); an import keeps its progress\n";

static const struct {
    const char *name;
    int (*run)(struct ctl *c, int argc, char **argv);
} commands[] = {
    {"send", ctl_cmd_send},     {"devices", ctl_cmd_devices},
    {"topics", ctl_cmd_topics}, {"status", ctl_cmd_status},
    {"import", ctl_cmd_import}, {"installations", ctl_cmd_installations},
};

static void
print_help(void)
{
    ctl_help(usage);
    printf("\nConfiguration is read from the environment (then from "
           "--env-file):\n");
    ctl_config_help(stdout);
}

/* The global options before the command, then the command. */
static int
dispatch(struct ctl *c, int argc, char **argv)
{
    struct ctl_opts o;
    char **rest;
    int id, n;
    size_t i;

    ctl_opts_init(&o, c, "heraldctl", argc, argv, NULL);
    o.stop = 1; /* at the command word: its own options follow it */
    while ((id = ctl_opts_next(&o)) != CTL_OPT_END) {
        if (id == CTL_OPT_HELP) {
            ctl_opts_release(&o);
            print_help();
            return CTL_OK;
        }
        ctl_opts_release(&o);
        return CTL_EUSAGE;
    }
    n = ctl_opts_rest(&o, &rest);
    ctl_opts_release(&o);
    if (n == 0) {
        print_help();
        return CTL_EUSAGE;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(rest[0], commands[i].name) == 0)
            return commands[i].run(c, n, rest);
    return ctl_usage(c, "heraldctl", "unknown command \"%.64s\"", rest[0]);
}

int
main(int argc, char **argv)
{
    struct hd_err err = {0};
    struct ctl c;
    int rc;

    memset(&c, 0, sizeof(c));
    hd_log_init("heraldctl", HD_LOG_WARN);
    if (ctl_config_load(&c, &err) < 0) {
        fprintf(stderr, "heraldctl: error: %s\n", err.msg);
        return CTL_EUSAGE;
    }
    ctl_out_init(&c);
    c.timeout_ms = 30000;
    hd_buf_init(&c.auth, HD_HTTP_MAX_HEADER);
    rc = dispatch(&c, argc, argv);
    fflush(stdout);
    hd_httpc_free(c.http);
    hd_buf_release(&c.auth);
    ctl_config_release(&c);
    return rc;
}
