/* api_channel.c -- push_user_channel_update and push_user_channel_list:
 * persistent user -> channel bindings, kept in sync on every device of
 * the user by one SQL function call (db/migrations/0003).
 *
 * Runs on the HTTP server's worker threads. The list cursor is the last
 * binding id of the previous page, as a decimal string. */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

void
api_user_channel_update(struct api_call *call)
{
    static const char *const known[] = {"user", "op", "channels", "app", NULL};
    json_t *p = call->params;
    const char *user = NULL, *op = NULL, *app = NULL;
    const char *vals[4];
    struct hd_err err = {0};
    json_t *chans = NULL;
    PGresult *res = NULL;
    struct hd_buf lit;

    hd_buf_init(&lit, API_PG_ARRAY_MAX);
    if (api_params_known(p, "params", known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_str(p, "params", "user", API_K_ID, 1, &user, &err) < 0 ||
        api_get_str(p, "params", "op", API_K_ID, 1, &op, &err) < 0 ||
        api_get_list(p, "params", "channels", API_K_CHANNEL, HD_LIST_MAX, 1,
                     &chans, &err) < 0)
        goto fail;
    if (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0 &&
        strcmp(op, "set") != 0) {
        hd_err_set(&err, HD_EINVAL,
                   "params.op: must be one of add, remove, set");
        goto fail;
    }
    vals[0] = app;
    vals[1] = user;
    vals[2] = op;
    vals[3] = chans ? api_pgarr_json(&lit, chans, &err) : "{}";
    if (vals[3] == NULL)
        goto fail;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "uc_update", 4,
                  vals, &res, &err) < 0)
        goto fail;
    PQclear(res);
    hd_buf_release(&lit);
    api_call_result(call, NULL);
    return;
fail:
    hd_buf_release(&lit);
    api_call_fail(call, &err);
}

static int
empty_string(json_t *v)
{
    return json_is_string(v) && json_string_length(v) == 0;
}

void
api_user_channel_list(struct api_call *call)
{
    static const char *const known[] = {
        "users", "channels", "channel_prefix", "since", "limit", "app", NULL};
    json_t *p = call->params;
    const char *app = NULL, *prefix = NULL, *since = NULL, *stmt;
    json_t *users = NULL, *chans = NULL, *items;
    struct hd_buf ulit, clit;
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[6];
    char after[24], rows[16];
    long long cursor = 0;
    int limit = 0, i, n;

    hd_buf_init(&ulit, API_PG_ARRAY_MAX);
    hd_buf_init(&clit, API_PG_ARRAY_MAX);
    if (api_params_known(p, "params", known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_list(p, "params", "users", API_K_ID, HD_LIST_MAX, 1, &users,
                     &err) < 0 ||
        api_get_list(p, "params", "channels", API_K_CHANNEL, HD_LIST_MAX, 1,
                     &chans, &err) < 0 ||
        (!empty_string(json_object_get(p, "channel_prefix")) &&
         api_get_str(p, "params", "channel_prefix", API_K_CHANNEL, 0, &prefix,
                     &err) < 0) ||
        api_get_str(p, "params", "since", API_K_CURSOR, 0, &since, &err) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &limit,
                      &err) < 0)
        goto fail;
    if (since && *since &&
        hd_parse_ll(since, 0, 9223372036854775807LL, &cursor) < 0) {
        hd_err_set(&err, HD_EINVAL,
                   "params.since: not a cursor returned by this method");
        goto fail;
    }
    snprintf(after, sizeof(after), "%lld", cursor);
    snprintf(rows, sizeof(rows), "%d", limit + 1);
    vals[0] = app;
    vals[1] = api_pgarr_json(&ulit, users, &err);
    vals[2] = api_pgarr_json(&clit, chans, &err);
    if ((users && !vals[1]) || (chans && !vals[2]))
        goto fail;
    vals[3] = prefix;
    vals[4] = after;
    vals[5] = rows;
    stmt = users    ? "uc_list_users"
           : chans  ? "uc_list_channels"
           : prefix ? "uc_list_prefix"
                    : "uc_list_all";
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, stmt, 6, vals, &res,
                  &err) < 0)
        goto fail;
    n = PQntuples(res);
    items = json_array();
    for (i = 0; i < n && i < limit; i++)
        json_array_append_new(items, json_pack("{s:s,s:s,s:s}", "id",
                                               api_pg_get(res, i, 0), "user",
                                               api_pg_get(res, i, 1), "channel",
                                               api_pg_get(res, i, 2)));
    PQclear(res);
    hd_buf_release(&ulit);
    hd_buf_release(&clit);
    api_call_result(
        call, json_pack("{s:o,s:b}", "items", items, "has_more", n > limit));
    return;
fail:
    hd_buf_release(&ulit);
    hd_buf_release(&clit);
    api_call_fail(call, &err);
}
