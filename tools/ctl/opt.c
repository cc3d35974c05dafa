/* opt.c -- command-line options: each command's own table plus the
 * global ones (--url, --key, --app, ...), which every command accepts
 * anywhere on its line, parsed with getopt_long.
 *
 * A global option sets the run's context directly; an own option is
 * handed back to the command by id. Errors are reported here, once. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/config.h"
#include "service/service.h"
#include "tools/ctl/ctl.h"
#include "core/banned.h"

enum {
    G_URL = 1000,
    G_KEY,
    G_RELAY_URL,
    G_RELAY_ADMIN_URL,
    G_ADMIN_KEY,
    G_CA_FILE,
    G_APP,
    G_TIMEOUT,
    G_NO_COLOR,
    G_ENV_FILE,
    G_VERSION,
};

static const struct option globals[] = {
    {"url", required_argument, NULL, G_URL},
    {"key", required_argument, NULL, G_KEY},
    {"relay-url", required_argument, NULL, G_RELAY_URL},
    {"relay-admin-url", required_argument, NULL, G_RELAY_ADMIN_URL},
    {"admin-key", required_argument, NULL, G_ADMIN_KEY},
    {"ca-file", required_argument, NULL, G_CA_FILE},
    {"app", required_argument, NULL, G_APP},
    {"timeout", required_argument, NULL, G_TIMEOUT},
    {"no-color", no_argument, NULL, G_NO_COLOR},
    {"env-file", required_argument, NULL, G_ENV_FILE},
    {"help", no_argument, NULL, CTL_OPT_HELP},
    {"version", no_argument, NULL, G_VERSION},
};
#define NGLOBALS (sizeof(globals) / sizeof(globals[0]))

const char ctl_global_help[] =
    "Global options (any command, anywhere on the line):\n"
    "  --url URL          the API (default $HERALD_API_URL)\n"
    "  --key KEY          the API key (default $HERALD_API_KEY)\n"
    "  --app APP          the registry namespace (default $HERALD_APP, "
    "else default)\n"
    "  --relay-url URL    herald-relay (default $HERALD_RELAY_URL)\n"
    "  --relay-admin-url URL  herald-relay's admin listener (default\n"
    "                     $HERALD_RELAY_ADMIN_URL)\n"
    "  --admin-key KEY    the relay's admin key ($HERALD_RELAY_ADMIN_KEY)\n"
    "  --ca-file FILE     CA to trust for https (default "
    "$HERALD_RELAY_CA_FILE)\n"
    "  --env-file FILE    settings not in the environment are read from\n"
    "                     FILE (default var/stack.env, written by make run)\n"
    "  --timeout SECONDS  per request (default 30)\n"
    "  --no-color         no colour (also NO_COLOR=1, or output not a "
    "terminal)\n"
    "  -h, --help         this help (--version: the version)\n";

void
ctl_opts_init(struct ctl_opts *o, struct ctl *c, const char *name, int argc,
              char **argv, const struct ctl_opt *own)
{
    struct option *lo;
    size_t n = 0, i;

    while (own != NULL && own[n].name != NULL)
        n++;
    lo = hd_xcalloc(n + NGLOBALS + 1, sizeof(*lo));
    for (i = 0; i < n; i++) {
        lo[i].name = own[i].name;
        lo[i].has_arg = own[i].has_arg ? required_argument : no_argument;
        lo[i].val = own[i].id;
    }
    memcpy(lo + n, globals, sizeof(globals));
    memset(o, 0, sizeof(*o));
    o->c = c;
    o->name = name;
    o->argc = argc;
    o->argv = argv;
    o->own = own;
    o->longopts = lo;
    optind = 0; /* glibc: a full re-initialisation */
    opterr = 0;
}

static int
global(struct ctl_opts *o, int id)
{
    struct ctl *c = o->c;
    long long v;

    switch (id) {
    case G_URL:
        c->url = optarg;
        return 1;
    case G_KEY:
        c->key = optarg;
        return 1;
    case G_RELAY_URL:
        c->relay_url = optarg;
        return 1;
    case G_RELAY_ADMIN_URL:
        c->relay_admin_url = optarg;
        return 1;
    case G_ADMIN_KEY:
        c->admin_key = optarg;
        return 1;
    case G_CA_FILE:
        c->ca_file = optarg;
        return 1;
    case G_APP:
        c->app = optarg;
        return 1;
    case G_ENV_FILE:
        c->env_file = optarg;
        return 1;
    case G_VERSION:
        printf("heraldctl %s\n", HD_VERSION);
        exit(CTL_OK);
    case G_NO_COLOR:
        c->color = c->ecolor = 0;
        return 1;
    case G_TIMEOUT:
        if (ctl_opt_int(c, o->name, "--timeout", optarg, 1, 3600, &v))
            return -1;
        c->timeout_ms = (int)v * 1000;
        return 1;
    default:
        return 0;
    }
}

int
ctl_opts_next(struct ctl_opts *o)
{
    for (;;) {
        int id = getopt_long(o->argc, o->argv, o->stop ? "+h" : "h",
                             o->longopts, NULL);
        int g;

        o->arg = optarg;
        if (id == -1)
            return CTL_OPT_END;
        if (id == '?') {
            const char *bad = o->argv[optind - 1];

            if (optopt == 0)
                ctl_usage(o->c, o->name, "option %s is unknown", bad);
            else if (strncmp(bad, "--", 2) == 0)
                ctl_usage(o->c, o->name, "option %s needs a value", bad);
            else
                ctl_usage(o->c, o->name, "option %s is unknown", bad);
            return CTL_OPT_BAD;
        }
        if (id == ':') {
            ctl_usage(o->c, o->name, "option %s needs a value",
                      o->argv[optind - 1]);
            return CTL_OPT_BAD;
        }
        if (id == CTL_OPT_HELP)
            return CTL_OPT_HELP;
        g = global(o, id);
        if (g < 0)
            return CTL_OPT_BAD;
        if (g == 0)
            return id;
    }
}

int
ctl_opts_rest(const struct ctl_opts *o, char ***rest)
{
    *rest = o->argv + optind;
    return o->argc - optind;
}

void
ctl_opts_release(struct ctl_opts *o)
{
    free(o->longopts);
    memset(o, 0, sizeof(*o));
}

int
ctl_help(const char *text)
{
    fputs(text, stdout);
    fputc('\n', stdout);
    fputs(ctl_global_help, stdout);
    return CTL_OK;
}

int
ctl_usage(struct ctl *c, const char *cmd, const char *fmt, ...)
{
    char msg[CTL_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(cmd, "heraldctl") == 0)
        ctl_error(c, "%s (try heraldctl --help)", msg);
    else
        ctl_error(c, "%s: %s (try heraldctl %s --help)", cmd, msg, cmd);
    return CTL_EUSAGE;
}

int
ctl_opt_int(struct ctl *c, const char *cmd, const char *name, const char *s,
            long long min, long long max, long long *out)
{
    if (hd_parse_ll(s, min, max, out) < 0)
        return ctl_usage(c, cmd,
                         "%s: a whole number from %lld to %lld, not "
                         "\"%.64s\"",
                         name, min, max, s);
    return CTL_OK;
}
