/* relay.c -- heraldctl installations create|show: herald-relay's
 * installations (the self-hosted servers allowed to push through it).
 *
 * The relay has two admin endpoints, POST /installations (with the
 * admin key) and GET /installations/{id}; listing installations and
 * rotating a key have none, so there are no such commands. */
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"
#include "core/banned.h"

static const char help[] =
    "Usage: heraldctl installations create --email EMAIL [--json]\n"
    "       heraldctl installations show ID [--json]\n"
    "\n"
    "create  a new installation; prints its id and key (the key is shown\n"
    "        this once). Needs the relay's admin key (--admin-key or\n"
    "        HERALD_RELAY_ADMIN_KEY) unless the relay lets anyone create.\n"
    "show    whether an installation exists and is enabled; exit 5 if not.\n"
    "\n"
    "The relay's URL: --relay-url or HERALD_RELAY_URL; a self-signed\n"
    "certificate is trusted with --ca-file or HERALD_RELAY_CA_FILE.\n";

enum { O_EMAIL = 1, O_JSON };

static const struct ctl_opt opts[] = {
    {"email", 1, O_EMAIL},
    {"json", 0, O_JSON},
    {NULL, 0, 0},
};

static void
print_installation(const struct ctl *c, json_t *doc)
{
    static const char *const keys[] = {"id", "key", "enabled", NULL};
    int i;

    for (i = 0; keys[i]; i++) {
        char buf[256];
        json_t *v = json_object_get(doc, keys[i]);

        if (v == NULL || json_is_null(v))
            continue;
        printf("%s%-8s%s %s\n", ctl_col(c, CTL_C_BOLD), keys[i],
               ctl_col(c, CTL_C_NONE), ctl_cell(v, buf, sizeof(buf)));
    }
}

int
ctl_cmd_installations(struct ctl *c, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    const char *email = NULL;
    struct ctl_opts o;
    json_t *res = NULL;
    char **rest;
    char name[32], path[128];
    int id, n, json = 0, rc = CTL_OK;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        ctl_help(help);
        return sub == NULL ? CTL_EUSAGE : CTL_OK;
    }
    if (strcmp(sub, "create") != 0 && strcmp(sub, "show") != 0)
        return ctl_usage(c, "installations", "unknown subcommand \"%.64s\"%s",
                         sub,
                         strcmp(sub, "list") == 0 || strcmp(sub, "rotate") == 0
                             ? " (herald-relay has no endpoint for it)"
                             : "");
    snprintf(name, sizeof(name), "installations %s", sub);
    ctl_opts_init(&o, c, name, argc - 1, argv + 1, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        if (id == CTL_OPT_HELP) {
            ctl_opts_release(&o);
            return ctl_help(help);
        }
        if (id == CTL_OPT_BAD)
            rc = CTL_EUSAGE;
        else if (id == O_EMAIL)
            email = o.arg;
        else if (id == O_JSON)
            json = 1;
    }
    n = ctl_opts_rest(&o, &rest);
    if (rc != CTL_OK) {
        /* reported */
    } else if (strcmp(sub, "create") == 0) {
        if (email == NULL || n > 0)
            rc = ctl_usage(c, name, "--email EMAIL, and nothing else");
        else
            rc = ctl_relay_call(c, "POST", "/installations",
                                json_pack("{s:s}", "email", email), &res);
    } else if (n != 1 || strchr(rest[0], '/') || strchr(rest[0], '?')) {
        rc = ctl_usage(c, name, "one installation id");
    } else {
        snprintf(path, sizeof(path), "/installations/%.64s", rest[0]);
        rc = ctl_relay_call(c, "GET", path, NULL, &res);
    }
    ctl_opts_release(&o);
    if (rc == CTL_OK && res != NULL) {
        if (json)
            ctl_print_json(res);
        else
            print_installation(c, res);
    }
    json_decref(res);
    return rc;
}
