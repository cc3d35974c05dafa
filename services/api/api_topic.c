/* api_topic.c -- topics: user_topic_update / user_topic_list (persistent
 * user -> topic bindings, applied at once to the user's devices and
 * copied onto devices registered later) and device_topic_update /
 * device_topic_list (a device's own topics). The draft's
 * push_user_channel_update / _list answer in the draft's shape.
 *
 * Each write is one SQL function call (db/migrations/0004). Lists are
 * keyset pages with an opaque cursor (base64url of the last key). Runs on
 * the HTTP server's worker threads. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/config.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

#define DT_KEY_MAX (HD_ID_MAX + 1 + HD_CHANNEL_MAX + 1)

static int
empty_string(json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 0;
}

/* A topic prefix ("" = none): 1 with *out, 0 absent, -1. */
static int
get_prefix(json_t *obj, const char *prefix, const char *key, const char **out,
           struct hd_err *err)
{
    if (empty_string(json_object_get(obj, key)))
        return 0;
    return api_get_str(obj, prefix, key, API_K_TOPIC, 0, out, err);
}

static void
set_next_cursor(json_t *result, const char *key)
{
    struct hd_buf cur;

    hd_buf_init(&cur, 4 * DT_KEY_MAX);
    if (api_cursor_encode(key, &cur, NULL) == 0)
        json_object_set_new(result, "next_cursor", json_string(cur.data));
    hd_buf_release(&cur);
}

static int
set_total(struct api_call *call, const char *stmt, int n, const char **vals,
          json_t *result, struct hd_err *err)
{
    PGresult *res = NULL;

    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, stmt, n, vals, &res,
                  err) < 0)
        return -1;
    json_object_set_new(result, "total_count",
                        json_integer(api_pg_get_ll(res, 0, 0)));
    PQclear(res);
    return 0;
}

/* ---- updates ----------------------------------------------------------- */

/* What tells the topic updates apart: user_topic_update (and the draft's
 * channel update) and device_topic_update share their parameters and
 * shape, one SQL function call each. */
struct topic_update {
    const char *const *known; /* the parameters accepted */
    const char *subject;      /* "user" or "device_id" */
    const char *list;         /* "topics", or the draft's "channels" */
    const char *stmt;         /* ut_update or dt_update */
    int device; /* takes an optional "user"; the device must exist */
};

static const char *const ut_known[] = {"user",     "op",  "topics",
                                       "channels", "app", NULL};
static const char *const dt_known[] = {"device_id", "op",  "topics",
                                       "user",      "app", NULL};
static const struct topic_update ut_update = {ut_known, "user", "topics",
                                              "ut_update", 0};
static const struct topic_update uc_update = {ut_known, "user", "channels",
                                              "ut_update", 0};
static const struct topic_update dt_update = {dt_known, "device_id", "topics",
                                              "dt_update", 1};

static void
topic_update(struct api_call *call, const struct topic_update *t)
{
    json_t *p = call->params;
    const char *app = NULL, *subject = NULL, *op = NULL, *user = NULL;
    const char *vals[5];
    struct hd_err err = {0};
    json_t *topics = NULL;
    PGresult *res = NULL;
    struct hd_buf lit;
    int n = 0;

    hd_buf_init(&lit, API_PG_ARRAY_MAX);
    if (api_params_known(&call->ctx->rules, p, "params", t->known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_str(p, "params", t->subject, API_K_ID, 1, &subject, &err) < 0 ||
        api_get_op(p, "params", &op, &err) < 0 ||
        api_get_list(p, "params", t->list, API_K_TOPIC, HD_LIST_MAX, 1, &topics,
                     &err) < 0 ||
        (t->device &&
         api_get_str(p, "params", "user", API_K_USER, 0, &user, &err) < 0))
        goto fail;
    vals[n++] = app;
    vals[n++] = subject;
    if (t->device)
        vals[n++] = user;
    vals[n++] = op;
    vals[n] = topics ? api_pgarr_json(&lit, topics, &err) : "{}";
    if (vals[n++] == NULL)
        goto fail;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, t->stmt, n, vals,
                  &res, &err) < 0)
        goto fail;
    if (t->device && api_pg_get_ll(res, 0, 0) != 1) {
        PQclear(res);
        hd_err_set(&err, HD_EINVAL,
                   user ? "params.device_id: no such device of this user"
                        : "params.device_id: no such device");
        goto fail;
    }
    PQclear(res);
    hd_buf_release(&lit);
    api_call_result(call, NULL);
    return;
fail:
    hd_buf_release(&lit);
    api_call_fail(call, &err);
}

void
api_user_topic_update(struct api_call *call)
{
    topic_update(call, &ut_update);
}

void
api_user_channel_update(struct api_call *call)
{
    topic_update(call, &uc_update);
}

void
api_device_topic_update(struct api_call *call)
{
    topic_update(call, &dt_update);
}

/* ---- user topics ------------------------------------------------------- */

struct ut_list {
    const char *app, *prefix;
    json_t *users, *topics;
    char after[24];
    int limit, total;
};

/* Today's shape: filter{users, topics, topic_prefix}, cursor. */
static int
ut_parse(const struct api_rules *rules, json_t *p, struct ut_list *l,
         struct hd_err *err)
{
    static const char *const known[] = {
        "filter", "cursor", "limit", "include_total_count", "app", NULL};
    static const char *const fknown[] = {"users", "topics", "topic_prefix",
                                         NULL};
    const char *fp = "params.filter";
    char cur[24];
    long long id = 0;
    json_t *f = NULL;

    if (api_params_known(rules, p, "params", known, err) < 0 ||
        hd_json_obj(p, "params", "filter", 0, &f, err) < 0 ||
        api_get_cursor(p, "params", cur, sizeof(cur), err) < 0 ||
        api_get_flag(p, "params", "include_total_count", &l->total, err) < 0)
        return -1;
    if (f && (api_params_known(rules, f, fp, fknown, err) < 0 ||
              api_get_list(f, fp, "users", API_K_ID, HD_LIST_MAX, 1, &l->users,
                           err) < 0 ||
              api_get_list(f, fp, "topics", API_K_TOPIC, HD_LIST_MAX, 1,
                           &l->topics, err) < 0 ||
              get_prefix(f, fp, "topic_prefix", &l->prefix, err) < 0))
        return -1;
    if (cur[0] && hd_parse_ll(cur, 0, 9223372036854775807LL, &id) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "params.cursor: not a cursor returned by this "
                          "method");
    snprintf(l->after, sizeof(l->after), "%lld", id);
    return 0;
}

/* The draft's shape: users, channels, channel_prefix flat; since. */
static int
ut_parse_draft(const struct api_rules *rules, json_t *p, struct ut_list *l,
               struct hd_err *err)
{
    static const char *const known[] = {
        "users", "channels", "channel_prefix", "since", "limit", "app", NULL};
    const char *since = NULL;
    long long id = 0;

    if (api_params_known(rules, p, "params", known, err) < 0 ||
        api_get_list(p, "params", "users", API_K_ID, HD_LIST_MAX, 1, &l->users,
                     err) < 0 ||
        api_get_list(p, "params", "channels", API_K_CHANNEL, HD_LIST_MAX, 1,
                     &l->topics, err) < 0 ||
        get_prefix(p, "params", "channel_prefix", &l->prefix, err) < 0 ||
        api_get_str(p, "params", "since", API_K_CURSOR, 0, &since, err) < 0)
        return -1;
    if (since && *since &&
        hd_parse_ll(since, 0, 9223372036854775807LL, &id) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "params.since: not a cursor returned by this method");
    snprintf(l->after, sizeof(l->after), "%lld", id);
    return 0;
}

static json_t *
ut_items(PGresult *res, const struct ut_list *l, int draft)
{
    int n = PQntuples(res), i;
    json_t *items = json_array();

    for (i = 0; i < n && i < l->limit; i++)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s}", "id",
                                               api_pg_get(res, i, 0), "user",
                                               api_pg_get(res, i, 1),
                                               draft ? "channel" : "topic",
                                               api_pg_get(res, i, 2)));
    return items;
}

static void
user_topic_list(struct api_call *call, int draft)
{
    json_t *p = call->params;
    struct ut_list l;
    struct hd_buf ulit, tlit;
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[6], *stmt;
    json_t *result;
    char rows[16];
    int n;

    memset(&l, 0, sizeof(l));
    hd_buf_init(&ulit, API_PG_ARRAY_MAX);
    hd_buf_init(&tlit, API_PG_ARRAY_MAX);
    if (api_get_app(p, "params", &l.app, &err) < 0 ||
        (draft ? ut_parse_draft(&call->ctx->rules, p, &l, &err)
               : ut_parse(&call->ctx->rules, p, &l, &err)) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &l.limit,
                      &err) < 0)
        goto fail;
    snprintf(rows, sizeof(rows), "%d", l.limit + 1);
    vals[0] = l.app;
    vals[1] = api_pgarr_json(&ulit, l.users, &err);
    vals[2] = api_pgarr_json(&tlit, l.topics, &err);
    if ((l.users && !vals[1]) || (l.topics && !vals[2]))
        goto fail;
    vals[3] = l.prefix;
    vals[4] = l.after;
    vals[5] = rows;
    stmt = l.users    ? "ut_list_users"
           : l.topics ? "ut_list_topics"
           : l.prefix ? "ut_list_prefix"
                      : "ut_list_all";
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, stmt, 6, vals, &res,
                  &err) < 0)
        goto fail;
    n = PQntuples(res);
    result = json_pack("{s:o,s:b}", "items", ut_items(res, &l, draft),
                       "has_more", n > l.limit);
    if (!draft && n > l.limit)
        set_next_cursor(result, api_pg_get(res, l.limit - 1, 0));
    PQclear(res);
    if (!draft && l.total &&
        set_total(call, "ut_count", 4, vals, result, &err) < 0) {
        json_decref(result);
        goto fail;
    }
    hd_buf_release(&ulit);
    hd_buf_release(&tlit);
    api_call_result(call, result);
    return;
fail:
    hd_buf_release(&ulit);
    hd_buf_release(&tlit);
    api_call_fail(call, &err);
}

void
api_user_topic_list(struct api_call *call)
{
    user_topic_list(call, 0);
}

void
api_user_channel_list(struct api_call *call)
{
    user_topic_list(call, 1);
}

/* ---- device topics ----------------------------------------------------- */

/* device_topic_list's filter lists, in dt_* parameter order ($2..$6). */
enum { DL_IDS = 0, DL_PROVIDERS, DL_PLATFORMS, DL_USERS, DL_TOPICS, DL_N };

struct dt_list {
    const char *app, *prefix;
    json_t *lists[DL_N];
    struct hd_buf lit[DL_N];
    char after[DT_KEY_MAX]; /* device id '\n' topic */
    int limit, total, device;
};

static int
dt_parse(const struct api_rules *rules, json_t *p, struct dt_list *l,
         struct hd_err *err)
{
    static const char *const known[] = {
        "filter", "cursor", "limit", "include_device", "include_total_count",
        "app",    NULL};
    static const char *const fknown[] = {"device_ids",
                                         "device_providers",
                                         "device_platforms",
                                         "device_users",
                                         "topics",
                                         "topic_prefix",
                                         NULL};
    static const enum api_kind kinds[DL_N] = {
        API_K_ID, API_K_PROVIDER, API_K_PLATFORM, API_K_USER, API_K_TOPIC};
    const char *fp = "params.filter";
    json_t *f = NULL;
    int i;

    if (api_params_known(rules, p, "params", known, err) < 0 ||
        api_get_app(p, "params", &l->app, err) < 0 ||
        hd_json_obj(p, "params", "filter", 0, &f, err) < 0 ||
        api_get_cursor(p, "params", l->after, sizeof(l->after), err) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &l->limit,
                      err) < 0 ||
        api_get_flag(p, "params", "include_device", &l->device, err) < 0 ||
        api_get_flag(p, "params", "include_total_count", &l->total, err) < 0)
        return -1;
    if (f == NULL)
        return 0;
    if (api_params_known(rules, f, fp, fknown, err) < 0 ||
        get_prefix(f, fp, "topic_prefix", &l->prefix, err) < 0)
        return -1;
    for (i = 0; i < DL_N; i++)
        if (api_get_list(f, fp, fknown[i], kinds[i], HD_LIST_MAX, 1,
                         &l->lists[i], err) < 0)
            return -1;
    return 0;
}

static json_t *
dt_item(PGresult *res, int i, int device)
{
    char key[DT_KEY_MAX];
    struct hd_buf id;
    json_t *item;

    snprintf(key, sizeof(key), "%s\n%s", api_pg_get(res, i, 0),
             api_pg_get(res, i, 1));
    hd_buf_init(&id, 4 * DT_KEY_MAX);
    api_cursor_encode(key, &id, NULL);
    item = json_pack("{s:s,s:s,s:s}", "id", id.data ? id.data : "", "device_id",
                     api_pg_get(res, i, 0), "topic", api_pg_get(res, i, 1));
    hd_buf_release(&id);
    if (device)
        json_object_set_new(
            item, "device",
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id",
                      api_pg_get(res, i, 0), "provider", api_pg_get(res, i, 2),
                      "token", api_pg_get(res, i, 3), "platform",
                      api_pg_get(res, i, 4), "user", api_pg_get(res, i, 5),
                      "timezone", api_pg_get(res, i, 6), "locale",
                      api_pg_get(res, i, 7), "created_at",
                      (json_int_t)api_pg_get_ll(res, i, 8), "updated_at",
                      (json_int_t)api_pg_get_ll(res, i, 9)));
    return item;
}

static json_t *
dt_page(PGresult *res, const struct dt_list *l)
{
    int n = PQntuples(res), i;
    json_t *items = json_array(), *out;
    char key[DT_KEY_MAX];

    for (i = 0; i < n && i < l->limit; i++)
        json_array_append_new(items, dt_item(res, i, l->device));
    out = json_pack("{s:o}", "items", items);
    if (n > l->limit) {
        snprintf(key, sizeof(key), "%s\n%s", api_pg_get(res, l->limit - 1, 0),
                 api_pg_get(res, l->limit - 1, 1));
        set_next_cursor(out, key);
    }
    return out;
}

void
api_device_topic_list(struct api_call *call)
{
    struct dt_list l;
    struct hd_err err = {0};
    const char *vals[10];
    PGresult *res = NULL;
    json_t *result;
    char rows[16], *nl;
    int i;

    memset(&l, 0, sizeof(l));
    for (i = 0; i < DL_N; i++)
        hd_buf_init(&l.lit[i], API_PG_ARRAY_MAX);
    if (dt_parse(&call->ctx->rules, call->params, &l, &err) < 0)
        goto fail;
    nl = strchr(l.after, '\n');
    if (l.after[0] && nl == NULL) {
        hd_err_set(&err, HD_EINVAL,
                   "params.cursor: not a cursor returned by this method");
        goto fail;
    }
    if (nl)
        *nl = '\0';
    vals[0] = l.app;
    for (i = 0; i < DL_N; i++) {
        vals[1 + i] = api_pgarr_json(&l.lit[i], l.lists[i], &err);
        if (l.lists[i] && vals[1 + i] == NULL)
            goto fail;
    }
    snprintf(rows, sizeof(rows), "%d", l.limit + 1);
    vals[6] = l.prefix;
    vals[7] = l.after;
    vals[8] = nl ? nl + 1 : "";
    vals[9] = rows;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms,
                  l.lists[DL_IDS] ? "dt_list_devices" : "dt_list_all", 10, vals,
                  &res, &err) < 0)
        goto fail;
    result = dt_page(res, &l);
    PQclear(res);
    if (l.total && set_total(call, "dt_count", 7, vals, result, &err) < 0) {
        json_decref(result);
        goto fail;
    }
    for (i = 0; i < DL_N; i++)
        hd_buf_release(&l.lit[i]);
    api_call_result(call, result);
    return;
fail:
    for (i = 0; i < DL_N; i++)
        hd_buf_release(&l.lit[i]);
    api_call_fail(call, &err);
}
