/* api_device.c -- device_register, device_update and device_remove.
 *
 * Each method validates every param first and then makes exactly one
 * database call (the multi-step writes are SQL functions), so a request
 * that fails validation or fails in the database changes nothing. Runs on
 * the HTTP server's worker threads; device_register, which waits for no
 * one (the group commit answers it), also on its I/O threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* Serialises a validated map (or NULL) for a jsonb parameter. */
static char *
dump_or_null(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT) : NULL;
}

/* ---- device_register --------------------------------------------------- */

/* A Web Push device's token is its subscription in canonical form, so
 * the same subscription sent with other spacing or member order is the
 * same device. Replaces params.token (*tok then points at the new one). */
static int
canonical_subscription(const struct api_rules *rules, json_t *p, json_t **tok,
                       struct hd_err *err)
{
    struct hd_buf b;
    int rc;

    hd_buf_init(&b, HD_TOKEN_MAX_WEBPUSH);
    rc = api_webpush_check(rules->webpush, json_string_value(*tok),
                           json_string_length(*tok), &b, err);
    if (rc == 0) {
        json_object_set_new(p, "token", json_stringn(b.data, b.len));
        *tok = json_object_get(p, "token");
    }
    hd_buf_release(&b);
    return rc < 0 ? hd_err_wrap(err, "params.token") : 0;
}

int
api_register_parse(const struct api_rules *rules, json_t *p,
                   struct api_register *r, struct hd_err *err)
{
    static const char *const known[] = {
        "id",         "provider",    "token",       "platform",
        "user",       "timezone",    "locale",      "topics",
        "meta",       "tags",        "channels",    "app",
        "identifier", "device_type", "client_type", NULL};
    json_t *chans = NULL;
    const char *provider = NULL;
    long long dt = -1, ct = -1;
    json_t *tok;

    memset(r, 0, sizeof(*r));
    r->device_type = -1;
    r->client_type = -1;
    if (api_params_known(rules, p, "params", known, err) < 0 ||
        api_get_app(p, "params", &r->app, err) < 0 ||
        api_get_str(p, "params", "id", API_K_ID, 0, &r->id, err) < 0 ||
        api_get_str(p, "params", "provider", API_K_PROVIDER, 1, &provider,
                    err) < 0 ||
        api_get_str(p, "params", "platform", API_K_PLATFORM, 1, &r->platform,
                    err) < 0 ||
        api_get_str(p, "params", "user", API_K_USER, 0, &r->user, err) < 0 ||
        api_get_map(p, "params", "meta", &r->meta, err) < 0 ||
        api_get_map(p, "params", "tags", &r->tags, err) < 0 ||
        api_get_str(p, "params", "timezone", API_K_TIMEZONE, 0, &r->timezone,
                    err) < 0 ||
        api_get_str(p, "params", "locale", API_K_LOCALE, 0, &r->locale, err) <
            0 ||
        api_get_list(p, "params", "topics", API_K_TOPIC, HD_LIST_MAX, 1,
                     &r->topics, err) < 0 ||
        api_get_list(p, "params", "channels", API_K_CHANNEL, HD_LIST_MAX, 1,
                     &chans, err) < 0 ||
        api_get_str(p, "params", "identifier", API_K_ID, 0, &r->identifier,
                    err) < 0 ||
        hd_json_int(p, "params", "device_type", 0, 0, 255, &dt, err) < 0 ||
        hd_json_int(p, "params", "client_type", 0, 0, 5, &ct, err) < 0)
        return -1;
    if (r->topics && chans)
        return hd_err_set(err, HD_EINVAL,
                          "params.channels: set topics or channels, not both");
    if (r->topics == NULL)
        r->topics = chans;
    hd_provider_parse(provider, &r->provider);
    tok = json_object_get(p, "token");
    if (tok == NULL || json_is_null(tok))
        return hd_err_set(err, HD_EINVAL, "params.token: required");
    if (!json_is_string(tok))
        return hd_err_set(err, HD_EINVAL, "params.token: must be a string");
    if ((r->provider != HD_PROVIDER_WEBPUSH &&
         api_check_str(API_K_TOKEN, json_string_value(tok),
                       json_string_length(tok), "params.token", err) < 0) ||
        api_check_token(rules, r->provider, json_string_value(tok),
                        json_string_length(tok), "params.token", err) < 0)
        return -1;
    if (r->provider == HD_PROVIDER_WEBPUSH &&
        canonical_subscription(rules, p, &tok, err) < 0)
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
api_register_row(struct api_register_row *w, const struct api_register *r,
                 int keep_absent, struct hd_err *err)
{
    const char **vals = w->vals;

    memset(w, 0, sizeof(*w));
    hd_buf_init(&w->topics, API_PG_ARRAY_MAX);
    hd_uuid4(w->new_id);
    snprintf(w->dt, sizeof(w->dt), "%d", r->device_type);
    snprintf(w->ct, sizeof(w->ct), "%d", r->client_type);
    w->meta = dump_or_null(r->meta);
    w->tags = dump_or_null(r->tags);
    vals[0] = r->app;
    vals[1] = r->id;
    vals[2] = w->new_id;
    vals[3] = hd_provider_name(r->provider);
    vals[4] = r->token;
    vals[5] = r->platform;
    vals[6] = r->user;
    /* Centrifugo's register is a full replace: an absent map, topic list,
     * timezone or locale means empty. The Bitwarden endpoints keep what is
     * there. */
    vals[7] = w->meta ? w->meta : keep_absent ? NULL : "{}";
    vals[8] = w->tags ? w->tags : keep_absent ? NULL : "{}";
    vals[9] = api_pgarr_json(&w->topics, r->topics, err);
    if (r->topics && vals[9] == NULL)
        return -1;
    if (vals[9] == NULL && !keep_absent)
        vals[9] = "{}";
    vals[10] = r->identifier;
    vals[11] = r->client_type >= 0 ? w->ct : NULL;
    vals[12] = r->device_type >= 0 ? w->dt : NULL;
    vals[13] = NULL;
    vals[14] = r->timezone ? r->timezone : keep_absent ? NULL : "";
    vals[15] = r->locale ? r->locale : keep_absent ? NULL : "";
    return 0;
}

void
api_register_row_release(struct api_register_row *w)
{
    hd_buf_release(&w->topics);
    free(w->meta);
    free(w->tags);
}

/* groups take the users' locks in one order: by app, then user */
static char *
register_key(const struct api_register *r)
{
    return hd_xasprintf("%s%c%s%c%s", r->app, '\001', r->user, '\001',
                        r->token);
}

/* dev_register's outcome as the Device (new), or -1 with err. */
static int
register_device(int rc, const PGresult *res, const struct hd_err *e,
                json_t **device, struct hd_err *err)
{
    if (rc < 0) {
        *err = *e;
        err->code = HD_EUPSTREAM; /* never a client's fault: not a 107 */
        return -1;
    }
    if (PQntuples(res) != 1)
        return hd_err_set(err, HD_EUPSTREAM, "dev_register returned %d rows",
                          PQntuples(res));
    *device = api_device_json(res, 0, 0);
    return 0;
}

int
api_register_apart(const char *const *const *rows, int n)
{
    int i, j;

    for (i = 0; i < n; i++) {
        if (rows[i][1] != NULL) /* an id */
            return 0;
        for (j = 0; j < i; j++)
            if (strcmp(rows[i][4], rows[j][4]) == 0 && /* token */
                strcmp(rows[i][3], rows[j][3]) == 0 && /* provider */
                strcmp(rows[i][0], rows[j][0]) == 0)   /* app */
                return 0;
    }
    return 1;
}

int
api_register_exec(struct api_ctx *ctx, const struct api_register *r,
                  int keep_absent, json_t **device, struct hd_err *err)
{
    struct api_register_row w;
    struct hd_err e = {0};
    PGresult *res = NULL;
    char *key;
    int rc = -1;

    if (api_register_row(&w, r, keep_absent, err) < 0)
        goto out;
    key = register_key(r);
    rc = hd_pg_group_exec(ctx->reg, ctx->cfg.pg_wait_ms, w.vals, key, &res, &e);
    free(key);
    rc = register_device(rc, res, &e, device, err);
out:
    PQclear(res);
    api_register_row_release(&w);
    return rc;
}

/* device_register's call while the group commit runs it: the row's
 * values point into call->params and the row's buffers. */
struct register_job {
    struct api_call *call;
    struct api_register_row w;
    char *key;
};

/* The end of a registration, on the group's thread: answers the call
 * (which frees it) and frees the job. */
static void
register_done(void *arg, int rc, PGresult *res, const struct hd_err *e)
{
    struct register_job *j = arg;
    struct api_call *call = j->call;
    struct hd_err err = {0};
    json_t *device = NULL;

    hd_log_ctx_set("req_id", "%s", hd_http_req_id(call->req));
    if (register_device(rc, res, e, &device, &err) < 0)
        api_call_fail(call, &err);
    else
        api_register_reply(call, device);
    hd_log_ctx_clear();
    PQclear(res);
    api_register_row_release(&j->w);
    free(j->key);
    free(j);
}

/* Answered from the group commit's thread once the row is committed, so
 * the thread that called this is free at once (it may be an I/O thread:
 * nothing here waits). */
void
api_device_register(struct api_call *call)
{
    struct hd_err err = {0};
    struct register_job *j;
    struct api_register r;

    if (api_register_parse(&call->ctx->rules, call->params, &r, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    j = hd_xcalloc(1, sizeof(*j));
    j->call = call;
    if (api_register_row(&j->w, &r, 0, &err) < 0) {
        api_register_row_release(&j->w);
        free(j);
        api_call_fail(call, &err);
        return;
    }
    j->key = register_key(&r);
    hd_pg_group_submit(call->ctx->reg, call->ctx->cfg.pg_wait_ms, j->w.vals,
                       j->key, register_done, j);
}

void
api_register_reply(struct api_call *call, json_t *device)
{
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
parse_provider_tokens(const struct api_rules *rules, json_t *p,
                      struct dev_filter *f, struct hd_err *err)
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
    hd_pg_array_begin(&f->prov_lit);
    hd_pg_array_begin(&f->tok_lit);
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
        if (api_params_known(rules, e, path, known, err) < 0 ||
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
            if (hd_pg_array_add(&f->prov_lit, name, err) < 0 ||
                hd_pg_array_add(&f->tok_lit, json_string_value(t), err) < 0)
                goto fail;
        }
    }
    json_decref(one);
    if (hd_pg_array_end(&f->prov_lit, err) < 0 ||
        hd_pg_array_end(&f->tok_lit, err) < 0)
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
parse_filter(const struct api_rules *rules, json_t *p, struct dev_filter *f,
             struct hd_err *err)
{
    if (api_get_app(p, "params", &f->app, err) < 0 ||
        api_get_list(p, "params", "ids", API_K_ID, HD_LIST_MAX, 0, &f->ids,
                     err) < 0 ||
        api_get_list(p, "params", "users", API_K_USER, HD_LIST_MAX, 0,
                     &f->users, err) < 0 ||
        parse_provider_tokens(rules, p, f, err) < 0)
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
get_update(const struct api_rules *rules, json_t *p, const char *name,
           const char *key, json_t **out, struct hd_err *err)
{
    const char *known[] = {key, NULL};
    char path[64];

    *out = NULL;
    if (hd_json_obj(p, "params", name, 0, out, err) < 0)
        return -1;
    if (*out == NULL)
        return 0;
    snprintf(path, sizeof(path), "params.%s", name);
    if (api_params_known(rules, *out, path, known, err) < 0)
        return -1;
    if (json_object_get(*out, key) == NULL)
        return hd_err_set(err, HD_EINVAL, "%s.%s: required", path, key);
    return 0;
}

/* The updates of device_update, validated. */
struct dev_updates {
    json_t *uu, *tzu, *lcu, *mu, *tgu, *tpu, *cu;
    const char *user, *timezone, *locale, *topics_op;
    json_t *meta, *tags, *topics;
};

static int
parse_updates(const struct api_rules *rules, json_t *p, struct dev_updates *u,
              struct hd_err *err)
{
    static const char *const tknown[] = {"op", "topics", NULL};
    const char *tp = "params.topics_update";

    memset(u, 0, sizeof(*u));
    if (get_update(rules, p, "user_update", "user", &u->uu, err) < 0 ||
        get_update(rules, p, "timezone_update", "timezone", &u->tzu, err) < 0 ||
        get_update(rules, p, "locale_update", "locale", &u->lcu, err) < 0 ||
        get_update(rules, p, "meta_update", "meta", &u->mu, err) < 0 ||
        get_update(rules, p, "tags_update", "tags", &u->tgu, err) < 0 ||
        get_update(rules, p, "channels_update", "channels", &u->cu, err) < 0 ||
        hd_json_obj(p, "params", "topics_update", 0, &u->tpu, err) < 0 ||
        (u->uu && api_get_str(u->uu, "params.user_update", "user", API_K_USER,
                              1, &u->user, err) < 0) ||
        (u->tzu && api_get_str(u->tzu, "params.timezone_update", "timezone",
                               API_K_TIMEZONE, 1, &u->timezone, err) < 0) ||
        (u->lcu && api_get_str(u->lcu, "params.locale_update", "locale",
                               API_K_LOCALE, 1, &u->locale, err) < 0) ||
        (u->mu &&
         api_get_map(u->mu, "params.meta_update", "meta", &u->meta, err) < 0) ||
        (u->tgu &&
         api_get_map(u->tgu, "params.tags_update", "tags", &u->tags, err) < 0))
        return -1;
    if (u->tpu && u->cu)
        return hd_err_set(err, HD_EINVAL,
                          "params.channels_update: set topics_update or "
                          "channels_update, not both");
    if (u->tpu) {
        if (api_params_known(rules, u->tpu, tp, tknown, err) < 0 ||
            api_get_op(u->tpu, tp, &u->topics_op, err) < 0 ||
            api_get_list(u->tpu, tp, "topics", API_K_TOPIC, HD_LIST_MAX, 1,
                         &u->topics, err) < 0)
            return -1;
    } else if (u->cu) {
        u->topics_op = "set";
        if (api_get_list(u->cu, "params.channels_update", "channels",
                         API_K_CHANNEL, HD_LIST_MAX, 1, &u->topics, err) < 0)
            return -1;
    }
    return 0;
}

void
api_device_update(struct api_call *call)
{
    static const char *const known[] = {"ids",
                                        "users",
                                        "provider_tokens",
                                        "user_update",
                                        "meta_update",
                                        "timezone_update",
                                        "locale_update",
                                        "topics_update",
                                        "tags_update",
                                        "channels_update",
                                        "app",
                                        NULL};
    json_t *p = call->params;
    char *meta_s = NULL, *tags_s = NULL;
    struct hd_err err = {0};
    struct dev_updates u;
    struct dev_filter f;
    struct hd_buf ch;
    const char *vals[13];
    PGresult *res = NULL;

    hd_buf_init(&ch, API_PG_ARRAY_MAX);
    filter_init(&f);
    if (api_params_known(&call->ctx->rules, p, "params", known, &err) < 0 ||
        parse_filter(&call->ctx->rules, p, &f, &err) < 0 ||
        parse_updates(&call->ctx->rules, p, &u, &err) < 0)
        goto fail;
    /* an update given as null sets the empty map */
    meta_s = u.mu ? (u.meta ? dump_or_null(u.meta) : hd_xstrdup("{}")) : NULL;
    tags_s = u.tgu ? (u.tags ? dump_or_null(u.tags) : hd_xstrdup("{}")) : NULL;
    filter_vals(&f, vals);
    vals[5] = u.uu ? "true" : "false";
    vals[6] = u.user ? u.user : "";
    vals[7] = meta_s;
    vals[8] = tags_s;
    vals[9] = u.topics_op;
    vals[10] = u.topics ? api_pgarr_json(&ch, u.topics, &err) : "{}";
    if (vals[10] == NULL)
        goto fail;
    vals[11] = u.timezone;
    vals[12] = u.locale;
    if (api_query(call->ctx->pg, call->ctx->cfg.pg_wait_ms, "dev_update", 13,
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
    if (api_params_known(&call->ctx->rules, call->params, "params", known,
                         &err) < 0 ||
        parse_filter(&call->ctx->rules, call->params, &f, &err) < 0)
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
