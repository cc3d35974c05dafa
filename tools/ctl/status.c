/* status.c -- heraldctl status UID: one push's delivery report through
 * push_status_list, as a summary and a table of per-device outcomes (or
 * one JSON document with every page's items for scripts).
 *
 * The API gives the counts with the first page only; the items are
 * followed page by page with the cursor (the last target). */
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

static const char help[] =
    "Usage: heraldctl status UID [--limit N] [--json]\n"
    "\n"
    "What became of one push: the request's state (pending, done,\n"
    "expired), the number of targets per outcome, and one row per device\n"
    "or token: its provider, outcome (sent, delivered, interacted,\n"
    "token_invalid, ...), the provider's code and when it was recorded.\n"
    "\n"
    "  --limit N   rows to show (default 1000; 0: all)\n"
    "  --json      {\"uid\",\"request\",\"counts\",\"items\":[…]} with every "
    "row\n"
    "\n"
    "A uid the API has never seen looks like a push not yet fanned out:\n"
    "pending, with no outcome (a note says so on stderr).\n";

enum { O_LIMIT = 1, O_JSON };

static const struct ctl_opt opts[] = {
    {"limit", 1, O_LIMIT},
    {"json", 0, O_JSON},
    {NULL, 0, 0},
};

static void
add_row(struct ctl_table *t, json_t *it)
{
    static const char *const keys[] = {"target", "provider", "status", "code",
                                       NULL};
    char buf[6][512];
    const char *cells[6];
    int i;

    for (i = 0; keys[i]; i++)
        cells[i] =
            ctl_cell(json_object_get(it, keys[i]), buf[i], sizeof(buf[i]));
    cells[4] = ctl_time_ms(
        (long long)json_integer_value(json_object_get(it, "updated_at")),
        buf[4], sizeof(buf[4]));
    cells[5] =
        ctl_cell(json_object_get(it, "device_id"), buf[5], sizeof(buf[5]));
    ctl_table_add(t, cells);
    ctl_table_color(t, 2, ctl_status_color(cells[2]));
}

static void
print_summary(const struct ctl *c, const char *uid, json_t *first)
{
    json_t *req = json_object_get(first, "request");
    json_t *counts = json_object_get(first, "counts");
    const char *state = json_string_value(json_object_get(req, "state"));
    json_t *tokens = json_object_get(req, "tokens");
    char when[64];
    const char *k;
    json_t *v;

    printf("%suid%s      %s\n", ctl_col(c, CTL_C_BOLD), ctl_col(c, CTL_C_NONE),
           uid);
    printf("%sstate%s    %s%s%s", ctl_col(c, CTL_C_BOLD),
           ctl_col(c, CTL_C_NONE), ctl_col(c, ctl_status_color(state)),
           state ? state : "-", ctl_col(c, CTL_C_NONE));
    if (tokens != NULL)
        printf(" (%lld tokens, %s)", (long long)json_integer_value(tokens),
               ctl_time_ms((long long)json_integer_value(
                               json_object_get(req, "done_at")),
                           when, sizeof(when)));
    printf("\n%soutcomes%s ", ctl_col(c, CTL_C_BOLD), ctl_col(c, CTL_C_NONE));
    if (json_object_size(counts) == 0)
        printf("none yet");
    json_object_foreach(counts, k, v)
    {
        printf("%s%s%s %lld  ", ctl_col(c, ctl_status_color(k)), k,
               ctl_col(c, CTL_C_NONE), (long long)json_integer_value(v));
    }
    printf("\n\n");
}

/* Follows the pages; *first is the first page's result (new). */
static int
fetch(struct ctl *c, const char *uid, long long limit, json_t *items,
      json_t **first, int *more)
{
    char cursor[HD_CHANNEL_MAX + HD_ID_MAX] = "";
    long long got = 0;
    int rc = CTL_OK;

    *more = 1;
    while (*more && (limit == 0 || got < limit)) {
        long long page = HD_PAGE_MAX;
        json_t *p, *res = NULL, *it, *last = NULL;
        size_t i;

        if (limit > 0 && limit - got < page)
            page = limit - got;
        p = json_pack("{s:s,s:I,s:s}", CTL_F_UID, uid, CTL_F_LIMIT,
                      (json_int_t)page, CTL_F_STATUS_CURSOR, cursor);
        rc = ctl_call(c, CTL_M_STATUS, p, &res);
        if (rc != CTL_OK || res == NULL)
            return rc;
        json_array_foreach(json_object_get(res, CTL_F_ITEMS), i, it)
        {
            json_array_append(items, it);
            last = it;
            got++;
        }
        *more =
            json_is_true(json_object_get(res, CTL_F_HAS_MORE)) && last != NULL;
        if (last != NULL)
            snprintf(cursor, sizeof(cursor), "%s",
                     json_string_value(json_object_get(last, "target")));
        if (*first == NULL)
            *first = res;
        else
            json_decref(res);
    }
    return rc;
}

int
ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
    static const char *const heads[] = {"TARGET", "PROVIDER", "STATUS",
                                        "CODE",   "UPDATED",  "DEVICE"};
    struct ctl_opts o;
    long long limit = 1000;
    int id, json = 0, more = 0, rc = CTL_OK, n;
    json_t *items = json_array(), *first = NULL;
    char **rest;

    ctl_opts_init(&o, c, "status", argc, argv, opts);
    while (rc == CTL_OK && (id = ctl_opts_next(&o)) != CTL_OPT_END) {
        if (id == CTL_OPT_HELP) {
            ctl_opts_release(&o);
            json_decref(items);
            return ctl_help(help);
        }
        if (id == CTL_OPT_BAD)
            rc = CTL_EUSAGE;
        else if (id == O_LIMIT)
            rc = ctl_opt_int(c, "status", "--limit", o.arg, 0, 100000000,
                             &limit);
        else if (id == O_JSON)
            json = 1;
    }
    n = ctl_opts_rest(&o, &rest);
    if (rc == CTL_OK && n != 1)
        rc = ctl_usage(c, "status", "one uid");
    if (rc == CTL_OK)
        rc = fetch(c, rest[0], limit, items, &first, &more);
    if (rc == CTL_OK && first != NULL) {
        json_t *req = json_object_get(first, "request");
        const char *state = json_string_value(json_object_get(req, "state"));

        if (json_array_size(items) == 0 && state != NULL &&
            strcmp(state, "pending") == 0 &&
            json_object_size(json_object_get(first, "counts")) == 0) {
            /* pending and not one outcome: the API may never have seen it */
            if (!json)
                fprintf(stderr,
                        "heraldctl: nothing known of %s yet "
                        "(pending, or never sent)\n",
                        rest[0]);
        }
        if (json) {
            json_object_set(first, CTL_F_ITEMS, items);
            json_object_set_new(first, CTL_F_HAS_MORE, json_boolean(more));
            ctl_print_json(first);
        } else {
            struct ctl_table t;
            size_t i;
            json_t *it;

            print_summary(c, rest[0], first);
            ctl_table_init(&t, 6, heads);
            json_array_foreach(items, i, it) add_row(&t, it);
            ctl_table_print(c, &t);
            ctl_table_release(&t);
            if (more)
                fprintf(stderr, "(more rows: raise --limit, 0 for all)\n");
        }
    }
    ctl_opts_release(&o);
    json_decref(items);
    json_decref(first);
    return rc;
}
