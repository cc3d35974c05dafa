/* api_status.c -- update_push_status (delivered / interacted reported by
 * the application, for the push's analytics_uid, which is its uid) and
 * push_status_list (Herald's read side: one uid's request state, counts by
 * outcome, and per-target rows in pages; or one device's latest outcomes
 * of any push).
 *
 * Outcomes only move up in rank (provider outcome < delivered <
 * interacted; see herald_status_rank), so reports racing the workers'
 * feedback never lose the more informative one. Worker threads only. */
#include <stdio.h>
#include <string.h>

#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

void
api_update_push_status(struct api_call *call)
{
    static const char *const known[] = {
        "analytics_uid", "uid", "status", "device_id", "msg_id", "app", NULL};
    json_t *p = call->params;
    const char *app = NULL, *uid = NULL, *status = NULL, *dev = NULL;
    const char *msg_id = NULL;
    struct hd_err err = {0};
    const char *vals[5];
    PGresult *res = NULL;

    if (api_params_known(&call->ctx->rules, p, "params", known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_str(p, "params", "analytics_uid", API_K_ID, 0, &uid, &err) <
            0 ||
        (uid == NULL && /* the draft's name */
         api_get_str(p, "params", "uid", API_K_ID, 0, &uid, &err) < 0) ||
        api_get_str(p, "params", "status", API_K_ID, 1, &status, &err) < 0 ||
        api_get_str(p, "params", "device_id", API_K_ID, 1, &dev, &err) < 0 ||
        api_get_str(p, "params", "msg_id", API_K_CHANNEL, 0, &msg_id, &err) < 0)
        goto fail;
    if (uid == NULL) {
        hd_err_set(&err, HD_EINVAL, "params.analytics_uid: required");
        goto fail;
    }
    if (strcmp(status, "delivered") != 0 && strcmp(status, "interacted") != 0) {
        hd_err_set(&err, HD_EINVAL,
                   "params.status: must be delivered or interacted");
        goto fail;
    }
    vals[0] = app;
    vals[1] = uid;
    vals[2] = dev;
    vals[3] = status;
    vals[4] = msg_id;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "ps_put", 5, vals,
                  &res, &err) < 0)
        goto fail;
    PQclear(res);
    api_call_result(call, NULL);
    return;
fail:
    api_call_fail(call, &err);
}

static void
set_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, json_string(v));
}

/* One outcome row of ps_list or ps_device. */
static json_t *
outcome(const PGresult *res, int i)
{
    json_t *it = json_pack("{s:s,s:s,s:I}", "target", api_pg_get(res, i, 0),
                           "status", api_pg_get(res, i, 4), "updated_at",
                           (json_int_t)api_pg_get_ll(res, i, 7));

    set_str(it, "device_id", api_pg_get(res, i, 1));
    set_str(it, "provider", api_pg_get(res, i, 2));
    set_str(it, "token", api_pg_get(res, i, 3));
    set_str(it, "code", api_pg_get(res, i, 5));
    set_str(it, "msg_id", api_pg_get(res, i, 6));
    return it;
}

/* push_status_list by device_id: its latest outcomes, newest first. */
static void
device_outcomes(struct api_call *call, const char *app, const char *dev,
                int limit)
{
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[3];
    char rows[16];
    json_t *items;
    int i, n;

    snprintf(rows, sizeof(rows), "%d", limit + 1);
    vals[0] = app;
    vals[1] = dev;
    vals[2] = rows;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "ps_device", 3,
                  vals, &res, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    n = PQntuples(res);
    items = json_array();
    for (i = 0; i < n && i < limit; i++) {
        json_t *it = outcome(res, i);

        json_object_set_new(it, "uid", json_string(api_pg_get(res, i, 8)));
        json_array_append_new(items, it);
    }
    PQclear(res);
    api_call_result(call, json_pack("{s:s,s:o,s:b}", "device_id", dev, "items",
                                    items, "has_more", n > limit));
}

void
api_push_status_list(struct api_call *call)
{
    static const char *const known[] = {"uid",   "device_id", "since",
                                        "limit", "app",       NULL};
    struct api_ctx *ctx = call->ctx;
    json_t *p = call->params;
    const char *app = NULL, *uid = NULL, *since = NULL, *dev = NULL;
    json_t *out = NULL, *items, *counts, *req;
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[4];
    char rows[16];
    int limit = 0, i, n;

    if (api_params_known(&call->ctx->rules, p, "params", known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_str(p, "params", "uid", API_K_ID, 0, &uid, &err) < 0 ||
        api_get_str(p, "params", "device_id", API_K_ID, 0, &dev, &err) < 0 ||
        api_get_str(p, "params", "since", API_K_CURSOR, 0, &since, &err) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &limit,
                      &err) < 0)
        goto fail;
    if ((uid == NULL) == (dev == NULL)) {
        hd_err_set(&err, HD_EINVAL,
                   "params: exactly one of uid and device_id is required");
        goto fail;
    }
    if (dev != NULL) {
        if (since != NULL) {
            hd_err_set(&err, HD_EINVAL,
                       "params.since: only with uid (device_id gives the "
                       "latest outcomes)");
            goto fail;
        }
        device_outcomes(call, app, dev, limit);
        return;
    }
    vals[0] = app;
    vals[1] = uid;
    vals[2] = since ? since : "";
    snprintf(rows, sizeof(rows), "%d", limit + 1);
    vals[3] = rows;
    out = json_pack("{s:s}", "uid", uid);

    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms, "ps_request", 2, vals, &res,
                  &err) < 0)
        goto fail;
    if (PQntuples(res) == 1)
        req = json_pack("{s:s,s:I,s:I}", "state", api_pg_get(res, 0, 0),
                        "tokens", (json_int_t)api_pg_get_ll(res, 0, 1),
                        "done_at", (json_int_t)api_pg_get_ll(res, 0, 2));
    else
        req = json_pack("{s:s}", "state", "pending");
    json_object_set_new(out, "request", req);
    PQclear(res);
    res = NULL;

    /* counts cover every row: computed on the first page only */
    if (since == NULL || *since == '\0') {
        if (api_query(ctx->pg, ctx->cfg.pg_wait_ms, "ps_counts", 2, vals, &res,
                      &err) < 0)
            goto fail;
        counts = json_object();
        for (i = 0; i < PQntuples(res); i++)
            json_object_set_new(counts, api_pg_get(res, i, 0),
                                json_integer(api_pg_get_ll(res, i, 1)));
        json_object_set_new(out, "counts", counts);
        PQclear(res);
        res = NULL;
    }

    if (api_query(ctx->pg, ctx->cfg.pg_wait_ms, "ps_list", 4, vals, &res,
                  &err) < 0)
        goto fail;
    n = PQntuples(res);
    items = json_array();
    for (i = 0; i < n && i < limit; i++)
        json_array_append_new(items, outcome(res, i));
    json_object_set_new(out, "items", items);
    json_object_set_new(out, "has_more", json_boolean(n > limit));
    PQclear(res);
    api_call_result(call, out);
    return;
fail:
    PQclear(res);
    json_decref(out);
    api_call_fail(call, &err);
}
