/* relay_installations.c -- /installations: the self-hosted servers
 * allowed to push through this relay.
 *
 * POST /installations and GET /installations/{id} are upstream's (the
 * Bitwarden setup reads the latter, anonymously). GET /installations
 * lists them and POST /installations/{id}/rotate gives one a new key;
 * those two are served on the admin listener only and take the operator's
 * HERALD_RELAY_ADMIN_KEY only (an open relay's anyone-may-create does not
 * extend to them) and are rate limited per client address like /connect/token.
 * A rotation bumps the key's version, which every access token carries: tokens
 * of the old key are refused from then on (relay_identity.c). Keys are shown
 * once and never logged. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/secret.h"
#include "core/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/relay/relay.h"
#include "core/banned.h"

/* 20 characters of [A-Za-z0-9], without modulo bias. */
static void
new_key(char out[RELAY_KEY_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 0;

    while (n < RELAY_KEY_LEN) {
        unsigned char b;

        hd_random_bytes(&b, 1);
        if (b < 248) /* 4 * 62 */
            out[n++] = alphabet[b % 62];
    }
    out[n] = '\0';
}

/* "Authorization: Bearer <HERALD_RELAY_ADMIN_KEY>" (never when the key
 * is unset). */
static int
admin_key_ok(struct relay_ctx *ctx, struct hd_http_req *req)
{
    const char *h = hd_http_req_header(req, "Authorization");

    if (ctx->cfg.admin_key == NULL || *ctx->cfg.admin_key == '\0' ||
        h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    return hd_secret_equal(ctx->cfg.admin_key, h, strlen(h));
}

static int
create_ok(struct relay_ctx *ctx, struct hd_http_req *req)
{
    return ctx->cfg.open_installations || admin_key_ok(ctx, req);
}

/* The admin-only endpoints' gate: 1 to go on, or 0 after answering 429
 * or 401. */
static int
admin_only(struct relay_ctx *ctx, struct hd_http_req *req)
{
    if (relay_address_limited(ctx, req))
        return 0;
    if (admin_key_ok(ctx, req))
        return 1;
    relay_deny(req, 401, "Unauthorized.");
    return 0;
}

static void
installation_reply(struct hd_http_req *req, const char *id, const char *key,
                   int enabled)
{
    json_t *b = json_pack("{s:s,s:o,s:b,s:s}", "id", id, "key",
                          key ? json_string(key) : json_null(), "enabled",
                          enabled, "object", "installation");

    hd_http_respond_json(req, 200, b);
    json_decref(b);
}

void
relay_handle_installation_new(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char id[37], key[RELAY_KEY_LEN + 1], hash[65];
    struct hd_err err = {0};
    const char *body, *email = NULL, *vals[3];
    struct relay_fail f;
    size_t len = 0;
    json_t *doc, *e;

    if (!create_ok(ctx, req)) {
        relay_deny(req, 401, "Unauthorized.");
        return;
    }
    body = hd_http_req_body(req, &len);
    doc = hd_json_parse(body ? body : "", len, &err);
    e = json_is_object(doc) ? hd_json_get_ci(doc, "email") : NULL;
    if (json_is_string(e))
        email = json_string_value(e);
    if (doc == NULL || !json_is_object(doc)) {
        relay_fail_set(&f, 400, NULL, "Body is empty.");
        goto fail;
    }
    if (email == NULL || strchr(email, '@') == NULL ||
        strlen(email) > RELAY_EMAIL_MAX) {
        relay_fail_set(&f, 400, "Email",
                       "The Email field is not a valid e-mail address.");
        goto fail;
    }
    hd_uuid4(id);
    new_key(key);
    relay_key_hash(key, hash);
    vals[0] = id;
    vals[1] = hash;
    vals[2] = email;
    if (relay_query(ctx, "inst_add", 3, vals, NULL, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "installation: %s", err.msg);
        hd_http_respond_error(req, 503, "unavailable", "try again later");
        json_decref(doc);
        return;
    }
    hd_log(HD_LOG_INFO, 0, "installation %s created", id);
    installation_reply(req, id, key, 1);
    OPENSSL_cleanse(key, sizeof(key));
    json_decref(doc);
    return;
fail:
    relay_respond_fail(req, &f);
    json_decref(doc);
}

/* The {id} parameter in lower case into out; 0, or -1 after answering 404
 * when it is no GUID. */
static int
id_param(struct hd_http_req *req, char out[RELAY_GUID_LEN + 1])
{
    const char *id = hd_http_req_param(req, "id");
    size_t i;

    if (!relay_is_guid(id)) {
        relay_deny(req, 404, "Resource not found.");
        return -1;
    }
    for (i = 0; i <= RELAY_GUID_LEN; i++)
        out[i] = (char)(id[i] >= 'A' && id[i] <= 'F' ? id[i] + 32 : id[i]);
    return 0;
}

void
relay_handle_not_here(struct hd_http_req *req, void *ud)
{
    (void)ud;
    hd_http_respond_error(req, 404, "not_found", "no such endpoint");
}

void
relay_handle_installation_get(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char lower[RELAY_GUID_LEN + 1];
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[1];
    struct relay_fail f;

    if (id_param(req, lower) < 0)
        return;
    vals[0] = lower;
    if (relay_query(ctx, "inst_get", 1, vals, &res, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "installation: %s", err.msg);
        hd_http_respond_error(req, 503, "unavailable", "try again later");
        return;
    }
    if (PQntuples(res) != 1) {
        relay_fail_set(&f, 404, NULL, "Resource not found.");
        relay_respond_fail(req, &f);
    } else {
        installation_reply(req, PQgetvalue(res, 0, 0), NULL,
                           strcmp(PQgetvalue(res, 0, 2), "t") == 0);
    }
    PQclear(res);
}

/* ---- GET /installations (admin) ---------------------------------------- */

static json_t *
list_item(PGresult *res, int i)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(PQgetvalue(res, i, 0)));
    json_object_set_new(o, "email",
                        PQgetisnull(res, i, 1)
                            ? json_null()
                            : json_string(PQgetvalue(res, i, 1)));
    json_object_set_new(o, "enabled",
                        json_boolean(strcmp(PQgetvalue(res, i, 2), "t") == 0));
    json_object_set_new(o, "keyVersion",
                        json_integer(strtoll(PQgetvalue(res, i, 3), NULL, 10)));
    json_object_set_new(o, "createdAt", json_string(PQgetvalue(res, i, 4)));
    json_object_set_new(o, "keyRotatedAt",
                        PQgetisnull(res, i, 5)
                            ? json_null()
                            : json_string(PQgetvalue(res, i, 5)));
    json_object_set_new(o, "devices",
                        json_integer(strtoll(PQgetvalue(res, i, 6), NULL, 10)));
    return o;
}

/* ?limit= (1..RELAY_LIST_MAX, default 100) and ?after= (an installation
 * id, "" for the first page). 0, or -1 after answering 400. */
static int
list_params(struct hd_http_req *req, long long *limit, const char **after)
{
    const char *l = hd_http_req_query(req, "limit");
    struct relay_fail f;

    *after = hd_http_req_query(req, "after");
    if (*after == NULL)
        *after = "";
    *limit = 100;
    if (l != NULL && hd_parse_ll(l, 1, RELAY_LIST_MAX, limit) < 0) {
        relay_fail_set(&f, 400, "limit",
                       "The limit field must be an integer from 1 to %d.",
                       RELAY_LIST_MAX);
        relay_respond_fail(req, &f);
        return -1;
    }
    if (**after != '\0' && !relay_is_guid(*after)) {
        relay_fail_set(&f, 400, "after",
                       "The after field is not a valid GUID.");
        relay_respond_fail(req, &f);
        return -1;
    }
    return 0;
}

void
relay_handle_installation_list(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    struct hd_err err = {0};
    const char *vals[2], *after;
    PGresult *res = NULL;
    long long limit;
    char lim[24];
    json_t *data, *b;
    int i, n;

    if (!admin_only(ctx, req) || list_params(req, &limit, &after) < 0)
        return;
    snprintf(lim, sizeof(lim), "%lld", limit);
    vals[0] = after;
    vals[1] = lim;
    if (relay_query(ctx, "inst_list", 2, vals, &res, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "installations: %s", err.msg);
        hd_http_respond_error(req, 503, "unavailable", "try again later");
        return;
    }
    n = PQntuples(res);
    data = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(data, list_item(res, i));
    b = json_pack("{s:o,s:o,s:s}", "data", data, "continuationToken",
                  n == limit ? json_string(PQgetvalue(res, n - 1, 0))
                             : json_null(),
                  "object", "list");
    PQclear(res);
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    hd_http_respond_json(req, 200, b);
    json_decref(b);
}

/* ---- POST /installations/{id}/rotate (admin) --------------------------- */

void
relay_handle_installation_rotate(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char id[RELAY_GUID_LEN + 1], key[RELAY_KEY_LEN + 1], hash[65];
    struct hd_err err = {0};
    PGresult *res = NULL;
    const char *vals[2];
    json_t *b;

    if (!admin_only(ctx, req) || id_param(req, id) < 0)
        return;
    new_key(key);
    relay_key_hash(key, hash);
    vals[0] = id;
    vals[1] = hash;
    if (relay_query(ctx, "inst_rotate", 2, vals, &res, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "rotate: %s", err.msg);
        hd_http_respond_error(req, 503, "unavailable", "try again later");
    } else if (PQntuples(res) != 1) {
        relay_deny(req, 404, "Resource not found.");
    } else {
        hd_log(HD_LOG_INFO, 0,
               "installation %s: key rotated (version %s); tokens of the "
               "old key are refused",
               id, PQgetvalue(res, 0, 1));
        b = json_pack("{s:s,s:s,s:b,s:I,s:s}", "id", id, "key", key, "enabled",
                      strcmp(PQgetvalue(res, 0, 0), "t") == 0, "keyVersion",
                      (json_int_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10),
                      "object", "installation");
        hd_http_req_add_header(req, "Cache-Control", "no-store");
        hd_http_respond_json(req, 200, b);
        json_decref(b);
    }
    PQclear(res);
    OPENSSL_cleanse(key, sizeof(key));
}
