/* devices.c -- heraldctl devices list|show|remove: the device registry
 * through device_list and device_remove, as tables or JSON.
 *
 * list follows the API's cursor page by page until --limit rows are
 * shown (or all of them); nothing here keeps more than the rows it
 * prints. */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

static const char help[] =
    "Usage: heraldctl devices list [filters] [--limit N] [--topics] [--json]\n"
    "       heraldctl devices show ID [--json]\n"
    "       heraldctl devices remove ID... | --user USER... | "
    "--token PROVIDER:TOKEN...\n"
    "\n"
    "list filters (repeatable or comma-separated; several are ANDed):\n"
    "  --user USER  --provider fcm|apns|hms  --platform ios|android|web\n"
    "  --id ID  --token TOKEN\n"
    "list options:\n"
    "  --limit N    rows to show (default 100; 0: all, page after page)\n"
    "  --topics     with each device's topics\n"
    "  --json       {\"items\":[…],\"has_more\":…} as the API gives them\n"
    "\n"
    "show prints one device with its meta, tags and topics; exit 5 when\n"
    "there is no such device. remove deletes the devices matching the\n"
    "ids, users or provider tokens given.\n";

enum {
    O_USER = 1,
    O_PROVIDER,
    O_PLATFORM,
    O_ID,
    O_TOKEN,
    O_LIMIT,
    O_TOPICS,
    O_JSON
};

static const struct ctl_opt opts[] = {
    {"user", 1, O_USER},
    {"provider", 1, O_PROVIDER},
    {"platform", 1, O_PLATFORM},
    {"id", 1, O_ID},
    {"token", 1, O_TOKEN},
    {"limit", 1, O_LIMIT},
    {"topics", 0, O_TOPICS},
    {"json", 0, O_JSON},
    {NULL, 0, 0},
};

struct devq {
    json_t *filter; /* the filter fields of the request */
    long long limit;
    int topics, json;
    json_t *positional; /* ids for show/remove */
};

/* Appends a comma-separated list to filter[field]. */
static void
add_list(json_t *filter, const char *field, const char *v)
{
    json_t *a = json_object_get(filter, field);
    const char *p = v;

    if (a == NULL) {
        a = json_array();
        json_object_set_new(filter, field, a);
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n + (end ? 1 : 0);
    }
}

/* --token PROVIDER:TOKEN for remove: provider_tokens [{provider,tokens}] */
static int
add_provider_token(struct ctl *c, json_t *filter, const char *v)
{
    const char *colon = strchr(v, ':');
    json_t *pt = json_object_get(filter, CTL_F_PROVIDER_TOKENS), *e;
    size_t i;

    if (colon == NULL || colon == v || colon[1] == '\0')
        return ctl_usage(c, "devices remove", "--token %.64s: PROVIDER:TOKEN",
                         v);
    if (pt == NULL) {
        pt = json_array();
        json_object_set_new(filter, CTL_F_PROVIDER_TOKENS, pt);
    }
    json_array_foreach(pt, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "provider"));

        if (strlen(p) == (size_t)(colon - v) && memcmp(p, v, strlen(p)) == 0) {
            json_array_append_new(json_object_get(e, "tokens"),
                                  json_string(colon + 1));
            return CTL_OK;
        }
    }
    json_array_append_new(pt,
                          json_pack("{s:s%,s:[s]}", "provider", v,
                                    (size_t)(colon - v), "tokens", colon + 1));
    return CTL_OK;
}

/* Options and positional ids; -1 after --help. */
static int
parse(struct ctl *c, const char *name, int remove, struct devq *q, int argc,
      char **argv)
{
    struct ctl_opts o;
    char **rest;
    int id, i, n, rc = CTL_OK;

    ctl_opts_init(&o, c, name, argc, argv, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        switch (id) {
        case CTL_OPT_HELP:
            ctl_opts_release(&o);
            ctl_help(help);
            return -1;
        case CTL_OPT_BAD:
            rc = CTL_EUSAGE;
            break;
        case O_USER:
            add_list(q->filter, CTL_F_USERS, o.arg);
            break;
        case O_PROVIDER:
            add_list(q->filter, CTL_F_PROVIDERS, o.arg);
            break;
        case O_PLATFORM:
            add_list(q->filter, CTL_F_PLATFORMS, o.arg);
            break;
        case O_ID:
            add_list(q->filter, CTL_F_IDS, o.arg);
            break;
        case O_TOKEN:
            if (remove)
                rc = add_provider_token(c, q->filter, o.arg);
            else
                add_list(q->filter, CTL_F_TOKENS, o.arg);
            break;
        case O_LIMIT:
            rc =
                ctl_opt_int(c, name, "--limit", o.arg, 0, 100000000, &q->limit);
            break;
        case O_TOPICS:
            q->topics = 1;
            break;
        case O_JSON:
            q->json = 1;
            break;
        default:
            break;
        }
    }
    n = ctl_opts_rest(&o, &rest);
    for (i = 0; rc == CTL_OK && i < n; i++)
        json_array_append_new(q->positional, json_string(rest[i]));
    ctl_opts_release(&o);
    return rc;
}

static void
add_row(struct ctl_table *t, json_t *d, int topics)
{
    char buf[7][512];
    const char *cells[7];
    size_t n = 0;

    cells[n] = ctl_cell(json_object_get(d, "id"), buf[n], sizeof(buf[n]));
    n++;
    cells[n] = ctl_cell(json_object_get(d, "provider"), buf[n], sizeof(buf[n]));
    n++;
    cells[n] = ctl_cell(json_object_get(d, "platform"), buf[n], sizeof(buf[n]));
    n++;
    cells[n] = ctl_cell(json_object_get(d, "user"), buf[n], sizeof(buf[n]));
    n++;
    if (topics) {
        cells[n] = ctl_cell(json_object_get(d, CTL_F_DEVICE_TOPICS), buf[n],
                            sizeof(buf[n]));
        n++;
    }
    cells[n] = ctl_cell(json_object_get(d, "token"), buf[n], sizeof(buf[n]));
    ctl_table_add(t, cells);
}

static int
list(struct ctl *c, struct devq *q)
{
    static const char *const heads[] = {"ID", "PROVIDER", "PLATFORM", "USER",
                                        "TOKEN"};
    static const char *const heads_t[] = {"ID",   "PROVIDER", "PLATFORM",
                                          "USER", "TOPICS",   "TOKEN"};
    struct ctl_table t;
    json_t *all = json_array(), *res = NULL;
    char cursor[CTL_CURSOR_MAX] = "";
    long long shown = 0;
    int more = 1, rc = CTL_OK;

    ctl_table_init(&t, q->topics ? 6 : 5, q->topics ? heads_t : heads);
    while (more && (q->limit == 0 || shown < q->limit)) {
        long long page = HD_PAGE_MAX;
        json_t *p = json_object(), *items, *d, *last = NULL;
        size_t i;

        if (q->limit > 0 && q->limit - shown < page)
            page = q->limit - shown;
        ctl_put_filter(p, CTL_F_FILTER, q->filter);
        json_object_set_new(p, CTL_F_LIMIT, json_integer(page));
        json_object_set_new(p, CTL_F_CURSOR, json_string(cursor));
        if (q->topics)
            json_object_set_new(p, CTL_F_INCLUDE_TOPICS, json_true());
        if (q->json) {
            json_object_set_new(p, CTL_F_INCLUDE_META, json_true());
            json_object_set_new(p, CTL_F_INCLUDE_TAGS, json_true());
        }
        rc = ctl_call(c, CTL_M_DEVICE_LIST, p, &res);
        if (rc != CTL_OK || res == NULL)
            break;
        items = json_object_get(res, CTL_F_ITEMS);
        json_array_foreach(items, i, d)
        {
            if (q->json)
                json_array_append(all, d);
            else
                add_row(&t, d, q->topics);
            last = d;
            shown++;
        }
        more = ctl_next_page(res, last, "id", cursor, sizeof(cursor));
        json_decref(res);
        res = NULL;
    }
    if (rc == CTL_OK && !c->dry_run)
        ctl_list_print(c, q->json, all, &t, shown, more, "device");
    ctl_table_release(&t);
    json_decref(all);
    return rc;
}

static int
show(struct ctl *c, struct devq *q)
{
    static const char *const keys[] = {
        "id",         "provider",          "platform",    "user",
        "token",      CTL_F_DEVICE_TOPICS, "meta",        "tags",
        "identifier", "client_type",       "device_type", "installation_id",
        NULL};
    json_t *p, *res = NULL, *d;
    int rc, i;

    if (json_array_size(q->positional) != 1)
        return ctl_usage(c, "devices show", "one device id");
    p = json_pack("{s:b,s:b,s:b}", CTL_F_INCLUDE_META, 1, CTL_F_INCLUDE_TAGS, 1,
                  CTL_F_INCLUDE_TOPICS, 1);
    json_object_set(q->filter, CTL_F_IDS, q->positional);
    ctl_put_filter(p, CTL_F_FILTER, q->filter);
    rc = ctl_call(c, CTL_M_DEVICE_LIST, p, &res);
    if (rc != CTL_OK || res == NULL)
        return rc;
    d = json_array_get(json_object_get(res, CTL_F_ITEMS), 0);
    if (d == NULL) {
        ctl_error(c, "no device %s",
                  json_string_value(json_array_get(q->positional, 0)));
        json_decref(res);
        return CTL_ENOTFOUND;
    }
    if (q->json) {
        ctl_print_json(d);
    } else {
        for (i = 0; keys[i]; i++) {
            char buf[HD_META_MAX + 64];
            json_t *v = json_object_get(d, keys[i]);

            if (v == NULL)
                continue;
            printf("%s%-16s%s %s\n", ctl_col(c, CTL_C_BOLD),
                   strcmp(keys[i], CTL_F_DEVICE_TOPICS) == 0 ? "topics"
                                                             : keys[i],
                   ctl_col(c, CTL_C_NONE), ctl_cell(v, buf, sizeof(buf)));
        }
    }
    json_decref(res);
    return CTL_OK;
}

static int
remove_devices(struct ctl *c, struct devq *q)
{
    json_t *res = NULL;
    int rc;

    if (json_array_size(q->positional) > 0) {
        json_t *ids = json_object_get(q->filter, CTL_F_IDS);

        if (ids == NULL)
            json_object_set(q->filter, CTL_F_IDS, q->positional);
        else
            json_array_extend(ids, q->positional);
    }
    if (json_object_size(q->filter) == 0)
        return ctl_usage(c, "devices remove",
                         "which devices? ids, --user or --token");
    rc = ctl_call(c, CTL_M_DEVICE_REMOVE, json_incref(q->filter), &res);
    if (rc == CTL_OK && res != NULL)
        fprintf(stderr, "removed\n");
    json_decref(res);
    return rc;
}

int
ctl_cmd_devices(struct ctl *c, int argc, char **argv)
{
    struct devq q;
    const char *sub = argc > 1 ? argv[1] : NULL;
    char name[32];
    int rc;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        ctl_help(help);
        return sub == NULL ? CTL_EUSAGE : CTL_OK;
    }
    if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
        strcmp(sub, "remove") != 0)
        return ctl_usage(c, "devices", "unknown subcommand \"%.64s\"", sub);
    memset(&q, 0, sizeof(q));
    q.filter = json_object();
    q.positional = json_array();
    q.limit = 100;
    snprintf(name, sizeof(name), "devices %s", sub);
    rc = parse(c, name, strcmp(sub, "remove") == 0, &q, argc - 1, argv + 1);
    if (rc == CTL_OK) {
        if (strcmp(sub, "list") == 0)
            rc = json_array_size(q.positional) > 0
                     ? ctl_usage(
                           c, name, "unexpected argument \"%.64s\"",
                           json_string_value(json_array_get(q.positional, 0)))
                     : list(c, &q);
        else if (strcmp(sub, "show") == 0)
            rc = show(c, &q);
        else
            rc = remove_devices(c, &q);
    }
    json_decref(q.filter);
    json_decref(q.positional);
    return rc < 0 ? CTL_OK : rc;
}
