/* topics.c -- heraldctl topics list|add|remove|set: users' topic
 * subscriptions. Every device of a subscribed user receives the topic's
 * pushes (heraldctl send --topic); a device's own topics are set at
 * registration (the "topics" of device_register, see import).
 * user_topic_* today; the 2023 draft's push_user_channel_* (names.h). */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

static const char help[] =
    "Usage: heraldctl topics list [--user USER...] [--topic TOPIC...]\n"
    "                             [--prefix PREFIX] [--limit N] [--json]\n"
    "       heraldctl topics add|remove|set --user USER [TOPIC...]\n"
    "\n"
    "list   users' subscriptions (USER, TOPIC), filtered by user, exact\n"
    "       topic or topic prefix; --limit rows (default 100, 0: all)\n"
    "add    subscribes the user (and all their devices) to the topics\n"
    "remove unsubscribes them\n"
    "set    makes the user's topics exactly these (none: unsubscribes all)\n";

enum { O_USER = 1, O_TOPIC, O_PREFIX, O_LIMIT, O_JSON };

static const struct ctl_opt opts[] = {
    {"user", 1, O_USER},   {"topic", 1, O_TOPIC}, {"prefix", 1, O_PREFIX},
    {"limit", 1, O_LIMIT}, {"json", 0, O_JSON},   {NULL, 0, 0},
};

struct topq {
    json_t *users, *topics, *args;
    const char *prefix;
    long long limit;
    int json;
};

static int
list(struct ctl *c, struct topq *q)
{
    static const char *const heads[] = {"USER", "TOPIC"};
    struct ctl_table t;
    json_t *all = json_array();
    char cursor[CTL_CURSOR_MAX] = "";
    long long shown = 0;
    int more = 1, rc = CTL_OK;

    ctl_table_init(&t, 2, heads);
    while (more && (q->limit == 0 || shown < q->limit)) {
        long long page = HD_PAGE_MAX;
        json_t *p = json_object(), *f = json_object(), *res = NULL, *items;
        json_t *it, *last = NULL;
        size_t i;

        if (q->limit > 0 && q->limit - shown < page)
            page = q->limit - shown;
        if (json_array_size(q->users) > 0)
            json_object_set(f, CTL_F_USERS, q->users);
        if (json_array_size(q->topics) > 0)
            json_object_set(f, CTL_F_TOPICS, q->topics);
        if (q->prefix)
            json_object_set_new(f, CTL_F_TOPIC_PREFIX, json_string(q->prefix));
        ctl_put_filter(p, CTL_F_FILTER, f);
        json_decref(f);
        json_object_set_new(p, CTL_F_LIMIT, json_integer(page));
        json_object_set_new(p, CTL_F_CURSOR, json_string(cursor));
        rc = ctl_call(c, CTL_M_TOPIC_LIST, p, &res);
        if (rc != CTL_OK || res == NULL)
            break;
        items = json_object_get(res, CTL_F_ITEMS);
        json_array_foreach(items, i, it)
        {
            const char *row[2];

            row[0] = json_string_value(json_object_get(it, CTL_F_USER));
            row[1] = json_string_value(json_object_get(it, CTL_F_TOPIC));
            if (q->json)
                json_array_append_new(all, json_pack("{s:s?,s:s?}", "user",
                                                     row[0], "topic", row[1]));
            else
                ctl_table_add(&t, row);
            last = it;
            shown++;
        }
        more = ctl_next_page(res, last, "id", cursor, sizeof(cursor));
        json_decref(res);
    }
    if (rc == CTL_OK && !c->dry_run)
        ctl_list_print(c, q->json, all, &t, shown, more, "subscription");
    ctl_table_release(&t);
    json_decref(all);
    return rc;
}

static int
update(struct ctl *c, const char *op, struct topq *q)
{
    json_t *p, *res = NULL;
    int rc;

    if (json_array_size(q->users) != 1)
        return ctl_usage(c, "topics", "%s: one --user", op);
    if (json_array_size(q->args) == 0 && strcmp(op, "set") != 0)
        return ctl_usage(c, "topics", "%s: which topics?", op);
    p = json_pack("{s:O,s:s,s:O}", CTL_F_USER, json_array_get(q->users, 0),
                  CTL_F_OP, op, CTL_F_TOPICS, q->args);
    rc = ctl_call(c, CTL_M_TOPIC_UPDATE, p, &res);
    if (rc == CTL_OK && res != NULL)
        fprintf(stderr, "%s: %s %zu topic%s\n",
                json_string_value(json_array_get(q->users, 0)),
                strcmp(op, "add") == 0      ? "added"
                : strcmp(op, "remove") == 0 ? "removed"
                                            : "set to",
                json_array_size(q->args),
                json_array_size(q->args) == 1 ? "" : "s");
    json_decref(res);
    return rc;
}

static int
parse(struct ctl *c, const char *name, struct topq *q, int argc, char **argv)
{
    struct ctl_opts o;
    char **rest;
    int id, i, n, rc = CTL_OK;

    ctl_opts_init(&o, c, name, argc, argv, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        if (id == CTL_OPT_HELP) {
            ctl_opts_release(&o);
            ctl_help(help);
            return -1;
        }
        if (id == CTL_OPT_BAD)
            rc = CTL_EUSAGE;
        else if (id == O_USER)
            json_array_append_new(q->users, json_string(o.arg));
        else if (id == O_TOPIC)
            json_array_append_new(q->topics, json_string(o.arg));
        else if (id == O_PREFIX)
            q->prefix = o.arg;
        else if (id == O_LIMIT)
            rc =
                ctl_opt_int(c, name, "--limit", o.arg, 0, 100000000, &q->limit);
        else if (id == O_JSON)
            q->json = 1;
    }
    n = ctl_opts_rest(&o, &rest);
    for (i = 0; i < n; i++)
        json_array_append_new(q->args, json_string(rest[i]));
    ctl_opts_release(&o);
    return rc;
}

int
ctl_cmd_topics(struct ctl *c, int argc, char **argv)
{
    static const char *const subs[] = {"list", "add", "remove", "set", NULL};
    const char *sub = argc > 1 ? argv[1] : NULL;
    struct topq q;
    char name[32];
    int rc, i;

    if (sub == NULL || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        ctl_help(help);
        return sub == NULL ? CTL_EUSAGE : CTL_OK;
    }
    for (i = 0; subs[i] && strcmp(subs[i], sub) != 0; i++)
        ;
    if (subs[i] == NULL)
        return ctl_usage(c, "topics", "unknown subcommand \"%.64s\"", sub);
    memset(&q, 0, sizeof(q));
    q.users = json_array();
    q.topics = json_array();
    q.args = json_array();
    q.limit = 100;
    snprintf(name, sizeof(name), "topics %s", sub);
    rc = parse(c, name, &q, argc - 1, argv + 1);
    if (rc == CTL_OK) {
        if (i == 0)
            rc = json_array_size(q.args) > 0
                     ? ctl_usage(c, name, "unexpected argument \"%.64s\"",
                                 json_string_value(json_array_get(q.args, 0)))
                     : list(c, &q);
        else
            rc = update(c, sub, &q);
    }
    json_decref(q.users);
    json_decref(q.topics);
    json_decref(q.args);
    return rc < 0 ? CTL_OK : rc;
}
