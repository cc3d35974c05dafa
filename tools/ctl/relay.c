/* relay.c -- heraldctl installations create|show|list|rotate:
 * herald-relay's installations (the self-hosted servers allowed to push
 * through it), through the relay's /installations endpoints.
 *
 * list follows the relay's continuation token page by page until --limit
 * rows are shown (or all of them); rotate prints the new key once. */
#include <stdlib.h>
#include <string.h>

#include "tools/ctl/ctl.h"
#include "core/banned.h"

#define PAGE_MAX 1000 /* the relay's ?limit= bound */

static const char help[] =
    "Usage: heraldctl installations create --email EMAIL [--json]\n"
    "       heraldctl installations show ID [--json]\n"
    "       heraldctl installations list [--limit N] [--json]\n"
    "       heraldctl installations rotate ID [--json]\n"
    "\n"
    "create  a new installation; prints its id and key (the key is shown\n"
    "        this once). Needs the relay's admin key (--admin-key or\n"
    "        HERALD_RELAY_ADMIN_KEY) unless the relay lets anyone create.\n"
    "show    whether an installation exists and is enabled; exit 5 if not.\n"
    "list    every installation: id, enabled, devices, key version, when\n"
    "        created and rotated, contact e-mail (--limit N rows, default\n"
    "        100, 0: all). Needs the admin key.\n"
    "rotate  gives the installation a new key and prints it (shown this\n"
    "        once); the old key and every access token issued under it are\n"
    "        refused from now on, so configure the server with the new key\n"
    "        and restart it. Needs the admin key; exit 5 if there is no\n"
    "        such installation.\n"
    "\n"
    "The relay's URL: --relay-url or HERALD_RELAY_URL; a self-signed\n"
    "certificate is trusted with --ca-file or HERALD_RELAY_CA_FILE. list\n"
    "and rotate go to the relay's admin listener: --relay-admin-url or\n"
    "HERALD_RELAY_ADMIN_URL (http://127.0.0.1:8092 by default).\n";

enum { O_EMAIL = 1, O_JSON, O_LIMIT };

static const struct ctl_opt opts[] = {
    {"email", 1, O_EMAIL},
    {"json", 0, O_JSON},
    {"limit", 1, O_LIMIT},
    {NULL, 0, 0},
};

struct instq {
    const char *email;
    long long limit;
    int json;
    int n;       /* positional arguments */
    char **rest; /* borrowed from argv */
};

static void
print_installation(const struct ctl *c, json_t *doc)
{
    static const char *const keys[] = {"id", "key", "enabled", "keyVersion",
                                       NULL};
    static const char *const names[] = {"id", "key", "enabled", "version",
                                        NULL};
    int i;

    for (i = 0; keys[i]; i++) {
        char buf[256];
        json_t *v = json_object_get(doc, keys[i]);

        if (v == NULL || json_is_null(v))
            continue;
        printf("%s%-8s%s %s\n", ctl_col(c, CTL_C_BOLD), names[i],
               ctl_col(c, CTL_C_NONE), ctl_cell(v, buf, sizeof(buf)));
    }
}

static void
add_row(struct ctl_table *t, json_t *d)
{
    static const char *const keys[] = {
        "id",        "enabled",      "devices", "keyVersion",
        "createdAt", "keyRotatedAt", "email"};
    char buf[7][320];
    const char *cells[7];
    size_t i;

    for (i = 0; i < 7; i++)
        cells[i] =
            ctl_cell(json_object_get(d, keys[i]), buf[i], sizeof(buf[i]));
    ctl_table_add(t, cells);
    if (!json_is_true(json_object_get(d, "enabled")))
        ctl_table_color(t, 1, CTL_C_RED);
}

static int
list(struct ctl *c, const struct instq *q)
{
    static const char *const heads[] = {"ID",      "ENABLED", "DEVICES", "KEY",
                                        "CREATED", "ROTATED", "EMAIL"};
    json_t *all = json_array(), *res = NULL;
    char after[64] = "", path[160];
    struct ctl_table t;
    long long shown = 0;
    int more = 1, rc = CTL_OK;

    ctl_table_init(&t, 7, heads);
    while (more && (q->limit == 0 || shown < q->limit)) {
        long long page = PAGE_MAX;
        json_t *data, *d, *next;
        size_t i;

        if (q->limit > 0 && q->limit - shown < page)
            page = q->limit - shown;
        snprintf(path, sizeof(path), "/installations?limit=%lld%s%s", page,
                 after[0] ? "&after=" : "", after);
        rc = ctl_relay_call(c, 1, "GET", path, NULL, &res);
        if (rc != CTL_OK || res == NULL)
            break;
        data = json_object_get(res, "data");
        json_array_foreach(data, i, d)
        {
            if (q->json)
                json_array_append(all, d);
            else
                add_row(&t, d);
            shown++;
        }
        next = json_object_get(res, "continuationToken");
        more = json_is_string(next) && json_array_size(data) > 0 &&
               strlen(json_string_value(next)) < sizeof(after);
        if (more)
            snprintf(after, sizeof(after), "%s", json_string_value(next));
        json_decref(res);
        res = NULL;
    }
    if (rc == CTL_OK && !c->dry_run)
        ctl_list_print(c, q->json, all, &t, shown, more, "installation");
    ctl_table_release(&t);
    json_decref(all);
    return rc;
}

/* One installation id as the only argument (no path characters). */
static int
one_id(struct ctl *c, const char *name, const struct instq *q)
{
    if (q->n != 1 || strchr(q->rest[0], '/') || strchr(q->rest[0], '?') ||
        strchr(q->rest[0], '&') || strlen(q->rest[0]) > 64)
        return ctl_usage(c, name, "one installation id");
    return CTL_OK;
}

static int
run(struct ctl *c, const char *sub, const char *name, const struct instq *q)
{
    json_t *res = NULL;
    char path[128];
    int rc;

    if (strcmp(sub, "list") == 0) {
        if (q->n > 0 || q->email)
            return ctl_usage(c, name, "[--limit N] [--json], nothing else");
        return list(c, q);
    }
    if (strcmp(sub, "create") == 0) {
        if (q->email == NULL || q->n > 0)
            return ctl_usage(c, name, "--email EMAIL, and nothing else");
        rc = ctl_relay_call(c, 0, "POST", "/installations",
                            json_pack("{s:s}", "email", q->email), &res);
    } else {
        rc = one_id(c, name, q);
        if (rc != CTL_OK)
            return rc;
        if (strcmp(sub, "show") == 0)
            snprintf(path, sizeof(path), "/installations/%s", q->rest[0]);
        else
            snprintf(path, sizeof(path), "/installations/%s/rotate",
                     q->rest[0]);
        rc = ctl_relay_call(c, strcmp(sub, "show") != 0,
                            strcmp(sub, "show") == 0 ? "GET" : "POST", path,
                            NULL, &res);
    }
    if (rc == CTL_OK && res != NULL) {
        if (q->json)
            ctl_print_json(res);
        else
            print_installation(c, res);
    }
    json_decref(res);
    return rc;
}

int
ctl_cmd_installations(struct ctl *c, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    struct instq q;
    struct ctl_opts o;
    char name[32];
    int id, rc = CTL_OK;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        ctl_help(help);
        return sub == NULL ? CTL_EUSAGE : CTL_OK;
    }
    if (strcmp(sub, "create") != 0 && strcmp(sub, "show") != 0 &&
        strcmp(sub, "list") != 0 && strcmp(sub, "rotate") != 0)
        return ctl_usage(c, "installations", "unknown subcommand \"%.64s\"",
                         sub);
    memset(&q, 0, sizeof(q));
    q.limit = 100;
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
            q.email = o.arg;
        else if (id == O_JSON)
            q.json = 1;
        else if (id == O_LIMIT)
            rc = ctl_opt_int(c, name, "--limit", o.arg, 0, 100000000, &q.limit);
    }
    q.n = ctl_opts_rest(&o, &q.rest);
    if (rc == CTL_OK)
        rc = run(c, sub, name, &q);
    ctl_opts_release(&o);
    return rc;
}
