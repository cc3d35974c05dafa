/* api_devlist.c -- device_list, and the Device object every registry
 * method answers with.
 *
 * device_list reads one keyset page (ids in byte order, from the cursor)
 * with one statement per leading filter, so the page is an index range
 * whatever page it is; a token prefix alone pages in (provider, token)
 * order instead, the prefix's range of the token index. The cursor is opaque to
 * clients (the last id, base64url); the draft's "since" (the raw id) still
 * works. Runs on the HTTP server's worker threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* Columns of dev_register and dev_list_*. */
enum {
    C_ID = 0,
    C_PROVIDER,
    C_TOKEN,
    C_PLATFORM,
    C_USER,
    C_IDENTIFIER,
    C_CLIENT_TYPE,
    C_DEVICE_TYPE,
    C_INSTALLATION,
    C_TIMEZONE,
    C_LOCALE,
    C_CREATED,
    C_UPDATED,
    C_META,
    C_TAGS,
    C_TOPICS,
};

/* A webpush device's token is its PushSubscription: shown as the
 * endpoint, with the keys when asked. */
static void
webpush_token(json_t *d, const char *token, unsigned show)
{
    json_t *sub = json_loads(token, 0, NULL);
    json_t *ep = json_object_get(sub, "endpoint");

    if (json_is_string(ep))
        json_object_set(d, "token", ep);
    if ((show & API_DEV_WEBPUSH_KEYS) &&
        json_is_object(json_object_get(sub, "keys")))
        json_object_set(d, "webpush_keys", json_object_get(sub, "keys"));
    json_decref(sub);
}

static void
herald_extensions(json_t *d, const PGresult *res, int row)
{
    const char *s = api_pg_get(res, row, C_IDENTIFIER);

    if (s)
        json_object_set_new(d, "identifier", json_string(s));
    if (api_pg_get_ll(res, row, C_CLIENT_TYPE) != 0)
        json_object_set_new(
            d, "client_type",
            json_integer(api_pg_get_ll(res, row, C_CLIENT_TYPE)));
    if (api_pg_get(res, row, C_DEVICE_TYPE))
        json_object_set_new(
            d, "device_type",
            json_integer(api_pg_get_ll(res, row, C_DEVICE_TYPE)));
    s = api_pg_get(res, row, C_INSTALLATION);
    if (s)
        json_object_set_new(d, "installation_id", json_string(s));
}

json_t *
api_device_json(const PGresult *res, int row, unsigned show)
{
    const char *user = api_pg_get(res, row, C_USER);
    const char *provider = api_pg_get(res, row, C_PROVIDER);
    const char *token = api_pg_get(res, row, C_TOKEN);
    json_t *d;

    d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id",
                  api_pg_get(res, row, C_ID), "provider", provider, "token",
                  token, "platform", api_pg_get(res, row, C_PLATFORM), "user",
                  user ? user : "", "timezone",
                  api_pg_get(res, row, C_TIMEZONE), "locale",
                  api_pg_get(res, row, C_LOCALE), "created_at",
                  (json_int_t)api_pg_get_ll(res, row, C_CREATED), "updated_at",
                  (json_int_t)api_pg_get_ll(res, row, C_UPDATED));
    if (strcmp(provider, "webpush") == 0)
        webpush_token(d, token, show);
    else if (strcmp(provider, "adm") == 0) /* stored, never delivered */
        json_object_set_new(d, "unsupported", json_true());
    herald_extensions(d, res, row);
    if (show & API_DEV_META) {
        json_t *m = api_pg_get_json(res, row, C_META);

        json_object_set_new(d, "meta", m ? m : json_object());
    }
    if (show & API_DEV_TAGS) {
        json_t *t = api_pg_get_json(res, row, C_TAGS);

        json_object_set_new(d, "tags", t ? t : json_object());
    }
    if (show & (API_DEV_TOPICS | API_DEV_CHANNELS)) {
        json_t *c = api_pg_get_json(res, row, C_TOPICS);

        if (c == NULL)
            c = json_array();
        if (show & API_DEV_TOPICS)
            json_object_set(d, "topics", c);
        if (show & API_DEV_CHANNELS)
            json_object_set(d, "channels", c);
        json_decref(c);
    }
    return d;
}

/* ---- device_list ------------------------------------------------------- */

/* The filter lists, in the statements' order. */
enum { L_IDS = 0, L_PROVIDERS, L_TOKENS, L_PLATFORMS, L_USERS, L_TOPICS, NL };

struct dev_list {
    const char *app;
    json_t *lists[NL];
    const char *prefix;                   /* filter.token_prefix, or NULL */
    char upper[API_TOKEN_PREFIX_MAX + 1]; /* the first string after it */
    struct hd_buf lit[NL];
    char after[HD_ID_MAX + 1];
    int limit;
    int total;
    unsigned show;
};

/* filter.token_prefix (a Herald extension): a token's first bytes, and
 * the end of their range in byte order (the last byte plus one: printable
 * ASCII, so still a valid string). */
static int
token_prefix(json_t *f, struct dev_list *l, struct hd_err *err)
{
    size_t n;

    if (api_get_str(f, "params.filter", "token_prefix", API_K_TOKEN, 0,
                    &l->prefix, err) < 0)
        return -1;
    if (l->prefix == NULL)
        return 0;
    n = strlen(l->prefix);
    if (n > API_TOKEN_PREFIX_MAX)
        return hd_err_set(err, HD_EINVAL,
                          "params.filter.token_prefix: at most %d bytes",
                          API_TOKEN_PREFIX_MAX);
    memcpy(l->upper, l->prefix, n + 1);
    l->upper[n - 1]++;
    return 0;
}

/* The lists: inside "filter" (today's API) or flat (the draft). */
static int
parse_lists(const struct api_rules *rules, json_t *p, struct dev_list *l,
            struct hd_err *err)
{
    static const char *const fknown[] = {"ids",          "providers", "tokens",
                                         "platforms",    "users",     "topics",
                                         "token_prefix", NULL};
    static const enum api_kind kinds[NL] = {API_K_ID,    API_K_PROVIDER,
                                            API_K_TOKEN, API_K_PLATFORM,
                                            API_K_USER,  API_K_TOPIC};
    json_t *f = NULL;
    const char *prefix = "params";
    int i;

    if (hd_json_obj(p, "params", "filter", 0, &f, err) < 0)
        return -1;
    if (f != NULL) {
        prefix = "params.filter";
        if (api_params_known(rules, f, prefix, fknown, err) < 0 ||
            token_prefix(f, l, err) < 0)
            return -1;
    } else {
        f = p;
    }
    for (i = 0; i < NL; i++)
        if (api_get_list(f, prefix, fknown[i], kinds[i], HD_LIST_MAX, 1,
                         &l->lists[i], err) < 0)
            return -1;
    return 0;
}

static int
parse_flags(json_t *p, struct dev_list *l, struct hd_err *err)
{
    static const struct {
        const char *key;
        unsigned bit;
    } flags[] = {{"include_meta", API_DEV_META},
                 {"include_tags", API_DEV_TAGS},
                 {"include_topics", API_DEV_TOPICS},
                 {"include_channels", API_DEV_CHANNELS},
                 {"include_webpush_keys", API_DEV_WEBPUSH_KEYS}};
    size_t i;
    int on;

    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (api_get_flag(p, "params", flags[i].key, &on, err) < 0)
            return -1;
        if (on)
            l->show |= flags[i].bit;
    }
    return api_get_flag(p, "params", "include_total_count", &l->total, err);
}

static int
parse_list(const struct api_rules *rules, json_t *p, struct dev_list *l,
           struct hd_err *err)
{
    static const char *const known[] = {"filter",
                                        "cursor",
                                        "limit",
                                        "include_meta",
                                        "include_topics",
                                        "include_total_count",
                                        "include_tags",
                                        "include_channels",
                                        "include_webpush_keys",
                                        "ids",
                                        "providers",
                                        "tokens",
                                        "platforms",
                                        "users",
                                        "topics",
                                        "since",
                                        "app",
                                        NULL};
    const char *since = NULL;

    if (api_params_known(rules, p, "params", known, err) < 0 ||
        api_get_app(p, "params", &l->app, err) < 0 ||
        parse_lists(rules, p, l, err) < 0 || parse_flags(p, l, err) < 0 ||
        api_get_cursor(p, "params", l->after, sizeof(l->after), err) < 0 ||
        api_get_str(p, "params", "since", API_K_CURSOR, 0, &since, err) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &l->limit,
                      err) < 0)
        return -1;
    if (since && l->after[0] == '\0')
        snprintf(l->after, sizeof(l->after), "%s", since);
    return 0;
}

/* 1 when a token prefix leads: no ids, tokens or users to read first. */
static int
prefix_leads(const struct dev_list *l)
{
    return l->prefix != NULL && l->lists[L_IDS] == NULL &&
           l->lists[L_TOKENS] == NULL && l->lists[L_USERS] == NULL;
}

/* 1 when the filter names topics and nothing else: pages and the count
 * then read the topic index (dev_list_topics, dev_count_topics). */
static int
topics_only(const struct dev_list *l)
{
    int i;

    for (i = 0; i < NL; i++)
        if ((l->lists[i] != NULL) != (i == L_TOPICS))
            return 0;
    return l->prefix == NULL;
}

static int
count_total(struct api_call *call, struct dev_list *l, const char **vals,
            json_t *result, struct hd_err *err)
{
    const char *cv[9];
    PGresult *res = NULL;
    int i;

    cv[0] = l->app;
    for (i = 1; i <= 5; i++)
        cv[i] = vals[i];
    cv[6] = vals[11];
    cv[7] = vals[12];
    cv[8] = vals[13];
    if (topics_only(l))
        cv[1] = vals[11];
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms,
                  topics_only(l)    ? "dev_count_topics"
                  : prefix_leads(l) ? "dev_count_prefix"
                                    : "dev_count",
                  topics_only(l) ? 2 : 9, cv, &res, err) < 0)
        return -1;
    json_object_set_new(result, "total_count",
                        json_integer(api_pg_get_ll(res, 0, 0)));
    PQclear(res);
    return 0;
}

/* items, has_more and next_cursor of one page (n rows, one more than the
 * page when another page follows). */
static json_t *
page_result(PGresult *res, const struct dev_list *l, struct hd_err *err)
{
    int n = PQntuples(res), i;
    json_t *items = json_array();
    json_t *out;
    struct hd_buf cur;

    for (i = 0; i < n && i < l->limit; i++)
        json_array_append_new(items, api_device_json(res, i, l->show));
    out = json_pack("{s:o,s:b}", "items", items, "has_more", n > l->limit);
    if (n > l->limit) {
        hd_buf_init(&cur, 4 * HD_ID_MAX);
        if (api_cursor_encode(api_pg_get(res, l->limit - 1, C_ID), &cur, err) ==
            0)
            json_object_set_new(out, "next_cursor", json_string(cur.data));
        hd_buf_release(&cur);
    }
    return out;
}

void
api_device_list(struct api_call *call)
{
    struct dev_list l;
    const char *vals[14], *stmt;
    char rows[16];
    struct hd_err err = {0};
    PGresult *res = NULL;
    json_t *result;
    int i;

    memset(&l, 0, sizeof(l));
    for (i = 0; i < NL; i++)
        hd_buf_init(&l.lit[i], API_PG_ARRAY_MAX);
    if (parse_list(&call->ctx->rules, call->params, &l, &err) < 0)
        goto fail;
    vals[0] = l.app;
    for (i = 0; i < NL; i++) {
        const char *v = api_pgarr_json(&l.lit[i], l.lists[i], &err);

        if (l.lists[i] && v == NULL)
            goto fail;
        vals[i == L_TOPICS ? 11 : 1 + i] = v;
    }
    snprintf(rows, sizeof(rows), "%d", l.limit + 1); /* one more: a next? */
    vals[6] = l.after;
    vals[7] = rows;
    vals[8] = (l.show & API_DEV_META) ? "true" : "false";
    vals[9] = (l.show & API_DEV_TAGS) ? "true" : "false";
    vals[10] =
        (l.show & (API_DEV_TOPICS | API_DEV_CHANNELS)) ? "true" : "false";
    vals[12] = l.prefix;
    vals[13] = l.prefix ? l.upper : NULL;
    stmt = l.lists[L_IDS]      ? "dev_list_ids"
           : l.lists[L_TOKENS] ? "dev_list_tokens"
           : l.lists[L_USERS]  ? "dev_list_users"
           : prefix_leads(&l)  ? "dev_list_prefix"
           : topics_only(&l)   ? "dev_list_topics"
                               : "dev_list_all";
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, stmt, 14, vals,
                  &res, &err) < 0)
        goto fail;
    result = page_result(res, &l, &err);
    PQclear(res);
    if (l.total && count_total(call, &l, vals, result, &err) < 0) {
        json_decref(result);
        goto fail;
    }
    for (i = 0; i < NL; i++)
        hd_buf_release(&l.lit[i]);
    api_call_result(call, result);
    return;
fail:
    for (i = 0; i < NL; i++)
        hd_buf_release(&l.lit[i]);
    api_call_fail(call, &err);
}
