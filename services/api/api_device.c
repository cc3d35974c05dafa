/* api_device.c -- device_register, device_update, device_remove and
 * device_list.
 *
 * Each method validates every param first and then makes exactly one
 * database call (the multi-step writes are SQL functions), so a request
 * that fails validation or fails in the database changes nothing. Runs on
 * the HTTP server's worker threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/rand.h"
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
    C_META,
    C_TAGS,
    C_CHANNELS,
};

/* One row as a Device object (its columns from col0 on); meta, tags and
 * channels only when asked. */
static json_t *
device_json(const PGresult *res, int row, int col0, int meta, int tags,
            int channels)
{
    const char *user = api_pg_get(res, row, col0 + C_USER);
    const char *s;
    json_t *d;

    d = json_pack(
        "{s:s,s:s,s:s,s:s,s:s}", "id", api_pg_get(res, row, col0 + C_ID),
        "provider", api_pg_get(res, row, col0 + C_PROVIDER), "token",
        api_pg_get(res, row, col0 + C_TOKEN), "platform",
        api_pg_get(res, row, col0 + C_PLATFORM), "user", user ? user : "");
    s = api_pg_get(res, row, col0 + C_IDENTIFIER);
    if (s)
        json_object_set_new(d, "identifier", json_string(s));
    if (api_pg_get_ll(res, row, col0 + C_CLIENT_TYPE) != 0)
        json_object_set_new(
            d, "client_type",
            json_integer(api_pg_get_ll(res, row, col0 + C_CLIENT_TYPE)));
    if (api_pg_get(res, row, col0 + C_DEVICE_TYPE))
        json_object_set_new(
            d, "device_type",
            json_integer(api_pg_get_ll(res, row, col0 + C_DEVICE_TYPE)));
    s = api_pg_get(res, row, col0 + C_INSTALLATION);
    if (s)
        json_object_set_new(d, "installation_id", json_string(s));
    if (meta) {
        json_t *m = api_pg_get_json(res, row, col0 + C_META);

        json_object_set_new(d, "meta", m ? m : json_object());
    }
    if (tags) {
        json_t *t = api_pg_get_json(res, row, col0 + C_TAGS);

        json_object_set_new(d, "tags", t ? t : json_object());
    }
    if (channels) {
        json_t *c = api_pg_get_json(res, row, col0 + C_CHANNELS);

        json_object_set_new(d, "channels", c ? c : json_array());
    }
    return d;
}

/* Serialises a validated map (or NULL) for a jsonb parameter. */
static char *
dump_or_null(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT) : NULL;
}

/* ---- device_register --------------------------------------------------- */

int
api_register_parse(json_t *p, struct api_register *r, struct hd_err *err)
{
    static const char *const known[] = {
        "id",          "provider",    "token",    "platform", "user",
        "meta",        "tags",        "channels", "app",      "identifier",
        "device_type", "client_type", NULL};
    const char *provider = NULL;
    long long dt = -1, ct = -1;
    json_t *tok;

    memset(r, 0, sizeof(*r));
    r->device_type = -1;
    r->client_type = -1;
    if (api_params_known(p, "params", known, err) < 0 ||
        api_get_app(p, "params", &r->app, err) < 0 ||
        api_get_str(p, "params", "id", API_K_ID, 0, &r->id, err) < 0 ||
        api_get_str(p, "params", "provider", API_K_PROVIDER, 1, &provider,
                    err) < 0 ||
        api_get_str(p, "params", "platform", API_K_PLATFORM, 1, &r->platform,
                    err) < 0 ||
        api_get_str(p, "params", "user", API_K_USER, 0, &r->user, err) < 0 ||
        api_get_map(p, "params", "meta", &r->meta, err) < 0 ||
        api_get_map(p, "params", "tags", &r->tags, err) < 0 ||
        api_get_list(p, "params", "channels", API_K_CHANNEL, HD_LIST_MAX, 1,
                     &r->channels, err) < 0 ||
        api_get_str(p, "params", "identifier", API_K_ID, 0, &r->identifier,
                    err) < 0 ||
        hd_json_int(p, "params", "device_type", 0, 0, 255, &dt, err) < 0 ||
        hd_json_int(p, "params", "client_type", 0, 0, 5, &ct, err) < 0)
        return -1;
    hd_provider_parse(provider, &r->provider);
    tok = json_object_get(p, "token");
    if (tok == NULL || json_is_null(tok))
        return hd_err_set(err, HD_EINVAL, "params.token: required");
    if (!json_is_string(tok))
        return hd_err_set(err, HD_EINVAL, "params.token: must be a string");
    if (api_check_str(API_K_TOKEN, json_string_value(tok),
                      json_string_length(tok), "params.token", err) < 0 ||
        api_check_token(r->provider, json_string_value(tok),
                        json_string_length(tok), "params.token", err) < 0)
        return -1;
    r->token = json_string_value(tok);
    if (r->user == NULL)
        r->user = "";
    r->device_type = (int)dt;
    r->client_type = (int)ct;
    if (r->client_type < 0 && r->device_type >= 0)
        r->client_type = hd_bw_client_type_of_device(r->device_type);
    return 0;
}

int
api_register_exec(struct api_ctx *ctx, const struct api_register *r,
                  int keep_absent, json_t **device, struct hd_err *err)
{
    char new_id[37], dt[16], ct[16];
    char *meta = dump_or_null(r->meta);
    char *tags = dump_or_null(r->tags);
    const char *vals[API_REGISTER_PARAMS];
    char *key;
    PGresult *res = NULL;
    struct hd_buf ch;
    int rc = -1;

    hd_buf_init(&ch, API_PG_ARRAY_MAX);
    hd_uuid4(new_id);
    snprintf(dt, sizeof(dt), "%d", r->device_type);
    snprintf(ct, sizeof(ct), "%d", r->client_type);
    vals[0] = r->app;
    vals[1] = r->id;
    vals[2] = new_id;
    vals[3] = hd_provider_name(r->provider);
    vals[4] = r->token;
    vals[5] = r->platform;
    vals[6] = r->user;
    /* Centrifugo's register is a full replace: an absent map or channel
     * list means empty. The Bitwarden endpoints keep what is there. */
    vals[7] = meta ? meta : keep_absent ? NULL : "{}";
    vals[8] = tags ? tags : keep_absent ? NULL : "{}";
    vals[9] = api_pgarr_json(&ch, r->channels, err);
    if (r->channels && vals[9] == NULL)
        goto out;
    if (vals[9] == NULL && !keep_absent)
        vals[9] = "{}";
    vals[10] = r->identifier;
    vals[11] = r->client_type >= 0 ? ct : NULL;
    vals[12] = r->device_type >= 0 ? dt : NULL;
    vals[13] = NULL;
    /* groups take the users' locks in one order: by app, then user */
    key = hd_xasprintf("%s%c%s%c%s", r->app, '\001', r->user, '\001', r->token);
    rc = hd_pg_group_exec(ctx->reg, ctx->cfg.pg_wait_ms, vals, key, &res, err);
    free(key);
    if (rc < 0) {
        err->code = HD_EUPSTREAM; /* never a client's fault: not a 107 */
        goto out;
    }
    rc = -1;
    if (PQntuples(res) != 1) {
        hd_err_set(err, HD_EUPSTREAM, "dev_register returned %d rows",
                   PQntuples(res));
        goto out;
    }
    *device = device_json(res, 0, 0, 0, 0, 0);
    rc = 0;
out:
    PQclear(res);
    hd_buf_release(&ch);
    free(meta);
    free(tags);
    return rc;
}

void
api_device_register(struct api_call *call)
{
    struct hd_err err = {0};
    struct api_register r;
    json_t *device = NULL;

    if (api_register_parse(call->params, &r, &err) < 0 ||
        api_register_exec(call->ctx, &r, 0, &device, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    /* "device" per the push API; "id" too, as newer clients read it */
    api_call_result(call,
                    json_pack("{s:O,s:o}", "id", json_object_get(device, "id"),
                              "device", device));
}

/* ---- the device filter of update and remove ----------------------------- */

struct dev_filter {
    const char *app;
    json_t *ids;
    json_t *users;
    struct hd_buf ids_lit;
    struct hd_buf users_lit;
    struct hd_buf prov_lit; /* parallel arrays of the (provider, token) */
    struct hd_buf tok_lit;  /* pairs; empty when not given */
};

static void
filter_release(struct dev_filter *f)
{
    hd_buf_release(&f->ids_lit);
    hd_buf_release(&f->users_lit);
    hd_buf_release(&f->prov_lit);
    hd_buf_release(&f->tok_lit);
}

/* provider_tokens: [{"provider":"fcm","tokens":[...]}, ...], or one such
 * object. Fills the parallel (provider, token) literals. */
static int
parse_provider_tokens(json_t *p, struct dev_filter *f, struct hd_err *err)
{
    static const char *const known[] = {"provider", "tokens", NULL};
    json_t *v = json_object_get(p, "provider_tokens");
    json_t *one = NULL;
    size_t i, j, total = 0;
    json_t *e, *t;
    char path[64];

    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_object(v)) {
        one = json_array();
        json_array_append(one, v);
        v = one;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        json_decref(one);
        return hd_err_set(err, HD_EINVAL,
                          "params.provider_tokens: must be a non-empty array "
                          "of {provider, tokens}");
    }
    api_pgarr_begin(&f->prov_lit);
    api_pgarr_begin(&f->tok_lit);
    json_array_foreach(v, i, e)
    {
        enum hd_provider prov;
        const char *name = NULL;
        json_t *toks = NULL;

        snprintf(path, sizeof(path), "params.provider_tokens[%zu]", i);
        if (!json_is_object(e)) {
            hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
            goto fail;
        }
        if (api_params_known(e, path, known, err) < 0 ||
            api_get_str(e, path, "provider", API_K_PROVIDER, 1, &name, err) <
                0 ||
            api_get_list(e, path, "tokens", API_K_TOKEN, HD_LIST_MAX, 0, &toks,
                         err) < 0)
            goto fail;
        if (toks == NULL) {
            hd_err_set(err, HD_EINVAL, "%s.tokens: required", path);
            goto fail;
        }
        hd_provider_parse(name, &prov);
        total += json_array_size(toks);
        if (total > HD_LIST_MAX) {
            hd_err_set(err, HD_ETOOBIG,
                       "params.provider_tokens: more than %d tokens",
                       HD_LIST_MAX);
            goto fail;
        }
        json_array_foreach(toks, j, t)
        {
            if (api_pgarr_add(&f->prov_lit, name, err) < 0 ||
                api_pgarr_add(&f->tok_lit, json_string_value(t), err) < 0)
                goto fail;
        }
    }
    json_decref(one);
    if (api_pgarr_end(&f->prov_lit, err) < 0 ||
        api_pgarr_end(&f->tok_lit, err) < 0)
        return -1;
    return 0;
fail:
    json_decref(one);
    return -1;
}

static void
filter_init(struct dev_filter *f)
{
    memset(f, 0, sizeof(*f));
    hd_buf_init(&f->ids_lit, API_PG_ARRAY_MAX);
    hd_buf_init(&f->users_lit, API_PG_ARRAY_MAX);
    hd_buf_init(&f->prov_lit, API_PG_ARRAY_MAX);
    hd_buf_init(&f->tok_lit, API_PG_ARRAY_MAX);
}

static int
parse_filter(json_t *p, struct dev_filter *f, struct hd_err *err)
{
    if (api_get_app(p, "params", &f->app, err) < 0 ||
        api_get_list(p, "params", "ids", API_K_ID, HD_LIST_MAX, 0, &f->ids,
                     err) < 0 ||
        api_get_list(p, "params", "users", API_K_USER, HD_LIST_MAX, 0,
                     &f->users, err) < 0 ||
        parse_provider_tokens(p, f, err) < 0)
        return -1;
    if (f->ids == NULL && f->users == NULL && f->prov_lit.len == 0)
        return hd_err_set(err, HD_EINVAL,
                          "params: one of ids, users, provider_tokens is "
                          "required");
    if ((f->ids && api_pgarr_json(&f->ids_lit, f->ids, err) == NULL) ||
        (f->users && api_pgarr_json(&f->users_lit, f->users, err) == NULL))
        return -1;
    return 0;
}

/* vals[0..4]: app, ids, users, providers, tokens. */
static void
filter_vals(const struct dev_filter *f, const char **vals)
{
    vals[0] = f->app;
    vals[1] = f->ids ? f->ids_lit.data : NULL;
    vals[2] = f->users ? f->users_lit.data : NULL;
    vals[3] = f->prov_lit.len ? f->prov_lit.data : NULL;
    vals[4] = f->tok_lit.len ? f->tok_lit.data : NULL;
}

/* ---- device_update ----------------------------------------------------- */

/* An optional {"<key>": value} wrapper object (user_update and friends). */
static int
get_update(json_t *p, const char *name, const char *key, json_t **out,
           struct hd_err *err)
{
    const char *known[] = {key, NULL};
    char path[64];

    *out = NULL;
    if (hd_json_obj(p, "params", name, 0, out, err) < 0)
        return -1;
    if (*out == NULL)
        return 0;
    snprintf(path, sizeof(path), "params.%s", name);
    if (api_params_known(*out, path, known, err) < 0)
        return -1;
    if (json_object_get(*out, key) == NULL)
        return hd_err_set(err, HD_EINVAL, "%s.%s: required", path, key);
    return 0;
}

void
api_device_update(struct api_call *call)
{
    static const char *const known[] = {
        "ids",         "users",       "provider_tokens", "user_update",
        "meta_update", "tags_update", "channels_update", "app",
        NULL};
    json_t *p = call->params;
    json_t *uu, *mu, *tu, *cu, *meta = NULL, *tags = NULL, *chans = NULL;
    const char *user = NULL;
    char *meta_s = NULL, *tags_s = NULL;
    struct hd_err err = {0};
    struct dev_filter f;
    struct hd_buf ch;
    const char *vals[10];
    PGresult *res = NULL;

    hd_buf_init(&ch, API_PG_ARRAY_MAX);
    filter_init(&f);
    if (api_params_known(p, "params", known, &err) < 0 ||
        parse_filter(p, &f, &err) < 0 ||
        get_update(p, "user_update", "user", &uu, &err) < 0 ||
        get_update(p, "meta_update", "meta", &mu, &err) < 0 ||
        get_update(p, "tags_update", "tags", &tu, &err) < 0 ||
        get_update(p, "channels_update", "channels", &cu, &err) < 0 ||
        (uu && api_get_str(uu, "params.user_update", "user", API_K_USER, 1,
                           &user, &err) < 0) ||
        (mu &&
         api_get_map(mu, "params.meta_update", "meta", &meta, &err) < 0) ||
        (tu &&
         api_get_map(tu, "params.tags_update", "tags", &tags, &err) < 0) ||
        (cu && api_get_list(cu, "params.channels_update", "channels",
                            API_K_CHANNEL, HD_LIST_MAX, 1, &chans, &err) < 0))
        goto fail;
    /* an update given as null sets the empty map */
    meta_s = mu ? (meta ? dump_or_null(meta) : hd_xstrdup("{}")) : NULL;
    tags_s = tu ? (tags ? dump_or_null(tags) : hd_xstrdup("{}")) : NULL;
    filter_vals(&f, vals);
    vals[5] = uu ? "true" : "false";
    vals[6] = user ? user : "";
    vals[7] = meta_s;
    vals[8] = tags_s;
    vals[9] = cu ? api_pgarr_json(&ch, chans ? chans : NULL, &err) : NULL;
    if (cu && chans == NULL)
        vals[9] = "{}";
    if (cu && vals[9] == NULL)
        goto fail;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "dev_update", 10,
                  vals, &res, &err) < 0)
        goto fail;
    PQclear(res);
    free(meta_s);
    free(tags_s);
    filter_release(&f);
    hd_buf_release(&ch);
    api_call_result(call, NULL);
    return;
fail:
    free(meta_s);
    free(tags_s);
    filter_release(&f);
    hd_buf_release(&ch);
    api_call_fail(call, &err);
}

/* ---- device_remove ----------------------------------------------------- */

void
api_device_remove(struct api_call *call)
{
    static const char *const known[] = {"ids", "users", "provider_tokens",
                                        "app", NULL};
    struct hd_err err = {0};
    struct dev_filter f;
    const char *vals[5];
    PGresult *res = NULL;

    filter_init(&f);
    if (api_params_known(call->params, "params", known, &err) < 0 ||
        parse_filter(call->params, &f, &err) < 0)
        goto fail;
    filter_vals(&f, vals);
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "dev_remove", 5,
                  vals, &res, &err) < 0)
        goto fail;
    PQclear(res);
    filter_release(&f);
    api_call_result(call, NULL);
    return;
fail:
    filter_release(&f);
    api_call_fail(call, &err);
}

/* ---- device_list ------------------------------------------------------- */

void
api_device_list(struct api_call *call)
{
    static const char *const known[] = {"ids",          "providers",
                                        "tokens",       "platforms",
                                        "users",        "since",
                                        "limit",        "include_meta",
                                        "include_tags", "include_channels",
                                        "app",          NULL};
    json_t *p = call->params;
    json_t *lists[5] = {NULL, NULL, NULL, NULL, NULL};
    struct hd_buf lit[5];
    int meta = 0, tags = 0, chans = 0, limit = 0, i, n;
    const char *since = NULL, *app = NULL, *stmt;
    const char *vals[11];
    char rows[16];
    struct hd_err err = {0};
    PGresult *res = NULL;
    json_t *items;

    for (i = 0; i < 5; i++)
        hd_buf_init(&lit[i], API_PG_ARRAY_MAX);
    if (api_params_known(p, "params", known, &err) < 0 ||
        api_get_app(p, "params", &app, &err) < 0 ||
        api_get_list(p, "params", "ids", API_K_ID, HD_LIST_MAX, 1, &lists[0],
                     &err) < 0 ||
        api_get_list(p, "params", "providers", API_K_PROVIDER, HD_LIST_MAX, 1,
                     &lists[1], &err) < 0 ||
        api_get_list(p, "params", "tokens", API_K_TOKEN, HD_LIST_MAX, 1,
                     &lists[2], &err) < 0 ||
        api_get_list(p, "params", "platforms", API_K_PLATFORM, HD_LIST_MAX, 1,
                     &lists[3], &err) < 0 ||
        api_get_list(p, "params", "users", API_K_USER, HD_LIST_MAX, 1,
                     &lists[4], &err) < 0 ||
        api_get_str(p, "params", "since", API_K_CURSOR, 0, &since, &err) < 0 ||
        api_get_limit(p, "params", API_LIMIT_DEFAULT, HD_PAGE_MAX, &limit,
                      &err) < 0 ||
        api_get_flag(p, "params", "include_meta", &meta, &err) < 0 ||
        api_get_flag(p, "params", "include_tags", &tags, &err) < 0 ||
        api_get_flag(p, "params", "include_channels", &chans, &err) < 0)
        goto fail;
    vals[0] = app;
    for (i = 0; i < 5; i++) {
        vals[1 + i] = api_pgarr_json(&lit[i], lists[i], &err);
        if (lists[i] && vals[1 + i] == NULL)
            goto fail;
    }
    snprintf(rows, sizeof(rows), "%d", limit + 1); /* one more: has_more */
    vals[6] = since ? since : "";
    vals[7] = rows;
    vals[8] = meta ? "true" : "false";
    vals[9] = tags ? "true" : "false";
    vals[10] = chans ? "true" : "false";
    stmt = lists[0]   ? "dev_list_ids"
           : lists[2] ? "dev_list_tokens"
           : lists[4] ? "dev_list_users"
                      : "dev_list_all";
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, stmt, 11, vals,
                  &res, &err) < 0)
        goto fail;
    n = PQntuples(res);
    items = json_array();
    for (i = 0; i < n && i < limit; i++)
        json_array_append_new(items, device_json(res, i, 0, meta, tags, chans));
    PQclear(res);
    for (i = 0; i < 5; i++)
        hd_buf_release(&lit[i]);
    api_call_result(
        call, json_pack("{s:o,s:b}", "items", items, "has_more", n > limit));
    return;
fail:
    for (i = 0; i < 5; i++)
        hd_buf_release(&lit[i]);
    api_call_fail(call, &err);
}
