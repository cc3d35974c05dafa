/* relay_identity.c -- who is calling: installations, their access tokens
 * and the check every /push request starts with.
 *
 * POST /connect/token is OAuth2 client credentials the way Bitwarden's
 * identity server answers them (client_id "installation.<id>", the
 * installation key as secret, scope api.push, an HS256 Bearer JWT valid
 * 86,400 s, {"error":"invalid_client"} style failures). Keys are stored as
 * SHA-256 hashes and compared in constant time; neither keys nor tokens
 * are ever logged. A token names the key version it was issued under;
 * every request checks it against the installation's row (one primary-key
 * read), so rotating the key or disabling the installation revokes every
 * token issued before. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/secret.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/relay/relay.h"
#include "core/banned.h"

#define ISSUER "herald-relay"
#define CLIENT_PREFIX "installation."
#define SCOPE_MAX 128

static const char *const known_scopes[] = {"api.push", "api.licensing",
                                           "api.installation", NULL};

void
relay_key_hash(const char *key, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    EVP_Digest(key, strlen(key), md, &n, EVP_sha256(), NULL);
    for (i = 0; i < n && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

int
relay_token_issue(const struct hd_jwt_key *k, const char *inst,
                  const char *scope, long key_version, int64_t now_s,
                  struct hd_buf *out, struct hd_err *err)
{
    char client_id[sizeof(CLIENT_PREFIX) + RELAY_GUID_LEN], jti[37];
    char buf[SCOPE_MAX + 1], *save = NULL, *s;
    json_t *claims, *scopes = json_array();
    int rc;

    snprintf(buf, sizeof(buf), "%s", scope);
    for (s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save))
        json_array_append_new(scopes, json_string(s));
    snprintf(client_id, sizeof(client_id), "%s%s", CLIENT_PREFIX, inst);
    hd_uuid4(jti);
    claims = json_pack(
        "{s:s,s:s,s:I,s:I,s:I,s:s,s:s,s:s,s:o,s:s,s:I}", "iss", ISSUER, "aud",
        HD_JWT_AUD_RELAY, "nbf", (json_int_t)now_s, "iat", (json_int_t)now_s,
        "exp", (json_int_t)(now_s + RELAY_TOKEN_TTL_S), "client_id", client_id,
        "client_sub", inst, "sub", inst, "scope", scopes, "jti", jti,
        RELAY_KEY_VERSION_CLAIM, (json_int_t)key_version);
    rc = hd_jwt_sign(k, NULL, claims, out, err);
    json_decref(claims);
    return rc;
}

/* ---- POST /connect/token ---------------------------------------------- */

static void
oauth_error(struct hd_http_req *req, struct relay_ctx *ctx, const char *code)
{
    json_t *b = json_pack("{s:s}", "error", code);

    hd_counter_inc(hd_metric_with(ctx->m.tokens, code));
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    hd_http_respond_json(req, 400, b);
    json_decref(b);
}

/* Every requested scope is one we know; empty means api.push. */
static int
scope_ok(char *scope)
{
    char buf[SCOPE_MAX + 1], *save = NULL, *s;
    size_t i;

    if (scope[0] == '\0')
        snprintf(scope, SCOPE_MAX + 1, "%s", "api.push");
    snprintf(buf, sizeof(buf), "%s", scope);
    for (s = strtok_r(buf, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
        for (i = 0; known_scopes[i]; i++)
            if (strcmp(s, known_scopes[i]) == 0)
                break;
        if (known_scopes[i] == NULL)
            return 0;
    }
    return 1;
}

/* 1 when inst exists, is enabled and key matches its hash (*version: the
 * key's version); 0 when not; -1 with err when the database failed. */
static int
client_ok(struct relay_ctx *ctx, const char *inst, const char *key,
          long *version, struct hd_err *err)
{
    const char *vals[1] = {inst};
    PGresult *res = NULL;
    char want[65];
    int ok = 0;

    if (relay_query(ctx, "inst_get", 1, vals, &res, err) < 0)
        return -1;
    relay_key_hash(key, want);
    if (PQntuples(res) == 1 && strlen(PQgetvalue(res, 0, 1)) == 64) {
        ok = CRYPTO_memcmp(want, PQgetvalue(res, 0, 1), 64) == 0 &&
             strcmp(PQgetvalue(res, 0, 2), "t") == 0;
        *version = strtol(PQgetvalue(res, 0, 3), NULL, 10);
    }
    PQclear(res);
    return ok;
}

/* Each token (or admin) request costs a database query and a hash: a
 * client address past HERALD_RELAY_TOKEN_RATE gets 429 with Retry-After,
 * unanswered. */
int
relay_address_limited(struct relay_ctx *ctx, struct hd_http_req *req)
{
    const char *addr = hd_http_req_remote(req);
    int wait = hd_ratelimit_take(&ctx->token_limit, addr ? addr : "");
    char s[16];

    if (wait <= 0)
        return 0;
    snprintf(s, sizeof(s), "%d", wait);
    hd_http_req_add_header(req, "Retry-After", s);
    hd_counter_inc(hd_metric_with(ctx->m.tokens, "limited"));
    hd_http_respond_error(req, 429, "too_many_requests", "slow down");
    return 1;
}

void
relay_handle_token(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char grant[64], client[128], secret[128], scope[SCOPE_MAX + 1];
    const char *body, *inst;
    struct hd_err err = {0};
    struct hd_buf tok;
    size_t len = 0;
    long version = 1;
    json_t *out;
    int rc;

    if (relay_address_limited(ctx, req))
        return;
    body = hd_http_req_body(req, &len);
    if (body == NULL)
        body = "";
    if (relay_form_get(body, len, "grant_type", grant, sizeof(grant)) != 1 ||
        relay_form_get(body, len, "client_id", client, sizeof(client)) != 1) {
        oauth_error(req, ctx, "invalid_request");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_error(req, ctx, "unsupported_grant_type");
        return;
    }
    inst = client + strlen(CLIENT_PREFIX);
    if (strncmp(client, CLIENT_PREFIX, strlen(CLIENT_PREFIX)) != 0 ||
        !relay_is_guid(inst) ||
        relay_form_get(body, len, "client_secret", secret, sizeof(secret)) !=
            1) {
        oauth_error(req, ctx, "invalid_client");
        return;
    }
    rc = relay_form_get(body, len, "scope", scope, sizeof(scope));
    if (rc < 0) {
        oauth_error(req, ctx, "invalid_scope");
        return;
    }
    if (rc == 0)
        scope[0] = '\0';
    for (char *p = client; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    rc = client_ok(ctx, inst, secret, &version, &err);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc < 0) {
        hd_log(HD_LOG_ERROR, 0, "token: %s", err.msg);
        hd_http_respond_error(req, 503, "unavailable", "try again later");
        return;
    }
    if (rc == 0) {
        oauth_error(req, ctx, "invalid_client");
        return;
    }
    if (!scope_ok(scope)) {
        oauth_error(req, ctx, "invalid_scope");
        return;
    }
    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    if (relay_token_issue(ctx->token_key, inst, scope, version,
                          hd_now_wall_ms() / 1000, &tok, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "token: %s", err.msg);
        hd_buf_release(&tok);
        hd_http_respond_error(req, 500, "internal", "internal server error");
        return;
    }
    out = json_pack("{s:s,s:i,s:s,s:s}", "access_token", tok.data, "expires_in",
                    RELAY_TOKEN_TTL_S, "token_type", "Bearer", "scope", scope);
    hd_counter_inc(hd_metric_with(ctx->m.tokens, "issued"));
    hd_http_req_add_header(req, "Cache-Control", "no-store");
    hd_http_respond_json(req, 200, out);
    json_decref(out);
    hd_buf_release(&tok);
}

/* ---- Authorization: Bearer on /push ----------------------------------- */

static int
has_push_scope(json_t *scope)
{
    json_t *s;
    size_t i;

    if (json_is_string(scope))
        return strcmp(json_string_value(scope), "api.push") == 0;
    json_array_foreach(scope, i, s)
    {
        if (json_is_string(s) && strcmp(json_string_value(s), "api.push") == 0)
            return 1;
    }
    return 0;
}

/* The installation of a verified token still exists, is enabled and has
 * not rotated its key since (a token without the claim is of version 1,
 * the first key). 1, or 0 after answering 401, or -1 after answering 503. */
static int
key_current(struct relay_ctx *ctx, struct hd_http_req *req, const char *inst,
            json_t *claim)
{
    json_int_t version = json_is_integer(claim) ? json_integer_value(claim) : 1;
    const char *vals[1] = {inst};
    struct hd_err err = {0};
    PGresult *res = NULL;
    int ok;

    if (relay_query(ctx, "inst_auth", 1, vals, &res, &err) < 0) {
        hd_log(HD_LOG_ERROR, 0, "authenticate: %s", err.msg);
        hd_http_req_add_header(req, "Retry-After", "5");
        relay_deny(req, 503, "The relay is unavailable; retry later.");
        return -1;
    }
    ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
         strtoll(PQgetvalue(res, 0, 1), NULL, 10) == (long long)version;
    PQclear(res);
    if (!ok)
        relay_deny(req, 401, "Unauthorized.");
    return ok;
}

int
relay_authenticate(struct relay_ctx *ctx, struct hd_http_req *req,
                   struct relay_auth *a)
{
    const char *h = hd_http_req_header(req, "Authorization");
    struct hd_jwt_verify_opts o;
    struct hd_err err = {0};
    json_t *claims = NULL, *cid, *sub;
    int ok = 0;

    memset(a, 0, sizeof(*a));
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        relay_deny(req, 401, "Unauthorized.");
        return 0;
    }
    h += 7;
    while (*h == ' ')
        h++;
    memset(&o, 0, sizeof(o));
    o.leeway_s = HD_JWT_LEEWAY_S;
    o.require_exp = 1;
    o.issuer = ISSUER;
    o.audience = HD_JWT_AUD_RELAY;
    if (strlen(h) > HD_JWT_MAX_LEN ||
        hd_jwt_verify(ctx->token_key, h, strlen(h), &o, NULL, &claims, &err) <
            0) {
        relay_deny(req, 401, "Unauthorized.");
        return 0;
    }
    cid = json_object_get(claims, "client_id");
    sub = json_object_get(claims, "client_sub");
    if (!has_push_scope(json_object_get(claims, "scope"))) {
        relay_deny(req, 403, "Forbidden.");
    } else if (!json_is_string(cid) || !json_is_string(sub) ||
               strncmp(json_string_value(cid), CLIENT_PREFIX,
                       strlen(CLIENT_PREFIX)) != 0 ||
               !relay_is_guid(json_string_value(sub))) {
        relay_deny(req, 400, "Not correctly configured for push relays.");
    } else {
        snprintf(a->inst, sizeof(a->inst), "%s", json_string_value(sub));
        a->push_scope = 1;
        ok = key_current(ctx, req, a->inst,
                         json_object_get(claims, RELAY_KEY_VERSION_CLAIM));
    }
    json_decref(claims);
    return ok;
}
