/* oauth.c -- Google's and Huawei's token endpoints.
 *
 * Google's checks follow the order recorded against the real endpoint
 * (specs/providers.md 1.2): shape, signature/alg, account, iat/exp
 * presence, time window, scope, audience. The signature is verified with
 * time rules disabled (leeway INT_MAX) so the window is judged here, on
 * the virtual clock, with Google's own wording. Huawei tokens contain
 * '/', '+' and '=' and are sent with '/' escaped as '\/', as the real
 * service does, to catch clients that do not JSON-decode. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/base64.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "core/rand.h"
#include "tools/sim/creds.h"
#include "tools/sim/providers/oauth.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/faults/ruleset.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

#define JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define GOOGLE_AUD "https://oauth2.googleapis.com/token"
#define GOOGLE_AUD_OLD "https://www.googleapis.com/oauth2/v4/token"
#define SCOPE_PREFIX "https://www.googleapis.com/auth/"
#define FORM_VALUE_MAX HD_JWT_MAX_LEN

/* Google: name, HTTP status, error, error_description. */
static const struct gerr {
    const char *name;
    int status;
    const char *error;
    const char *desc;
} gerrs[] = {
    {"invalid_request", 400, "invalid_request", "Bad Request"},
    {"unsupported_grant_type", 400, "unsupported_grant_type",
     "Invalid grant_type"},
    {"invalid_signature", 400, "invalid_grant", "Invalid JWT Signature."},
    {"account_not_found", 400, "invalid_grant",
     "Invalid grant: account not found"},
    {"iat_missing", 400, "invalid_grant",
     "Invalid JWT: iat (issued at) is not set."},
    {"exp_missing", 400, "invalid_grant",
     "Invalid JWT: exp (expiration time) is not set."},
    {"time_window", 400, "invalid_grant",
     "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
     "reasonable timeframe. Check your iat and exp values in the JWT "
     "claim."},
    {"invalid_scope", 400, "invalid_scope",
     "Invalid OAuth scope or ID token audience provided."},
    {"bad_audience", 400, "invalid_grant",
     "Invalid JWT: Failed audience check."},
    {"invalid_client", 401, "invalid_client",
     "The OAuth client was not found."},
    {"disabled_client", 401, "disabled_client",
     "The OAuth client was disabled."},
    {"id_token_only", 200, NULL, NULL},
    {"internal", 500, "internal_failure", "Backend Error"},
    {"unavailable", 503, "temporarily_unavailable",
     "The service is currently unavailable."},
};

/* Huawei: name, HTTP status, error, sub_error, error_description. */
static const struct herr {
    const char *name;
    int status;
    int error;
    int sub;
    const char *desc;
} herrs[] = {
    {"parameter_invalid", 400, 1101, 20003, "parameter invalid"},
    {"client_id_invalid", 400, 1101, 20002, "invalid client_id"},
    {"secret_empty", 400, 1101, 20171, "client_secret is empty"},
    {"grant_type_invalid", 400, 1102, 20001, "unsupported grant_type"},
    {"503", 503, 0, 0, NULL},
    {"500", 500, 0, 0, NULL},
};

static const char *
google_error_at(int i)
{
    return i >= 0 && (size_t)i < sizeof(gerrs) / sizeof(gerrs[0])
               ? gerrs[i].name
               : NULL;
}

static const char *
hms_error_at(int i)
{
    return i >= 0 && (size_t)i < sizeof(herrs) / sizeof(herrs[0])
               ? herrs[i].name
               : NULL;
}

static int
hexval(char c)
{
    if (isdigit((unsigned char)c))
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
sim_form_get(const char *body, size_t len, const char *name, struct hd_buf *out)
{
    size_t nlen = strlen(name);
    size_t i = 0;

    while (i < len) {
        size_t end = i;
        size_t eq;

        while (end < len && body[end] != '&')
            end++;
        eq = i;
        while (eq < end && body[eq] != '=')
            eq++;
        if (eq - i == nlen && memcmp(body + i, name, nlen) == 0) {
            size_t j;

            for (j = eq + 1; j < end; j++) {
                char c = body[j];

                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    int hi = j + 2 < end ? hexval(body[j + 1]) : -1;
                    int lo = j + 2 < end ? hexval(body[j + 2]) : -1;

                    if (hi < 0 || lo < 0)
                        return -1;
                    c = (char)(hi * 16 + lo);
                    j += 2;
                }
                if (hd_buf_putc(out, c, NULL) < 0)
                    return -1;
            }
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

static void
send_json(struct sim_resp *resp, int status, json_t *j, size_t flags,
          const char *ctype)
{
    char *text = json_dumps(j, JSON_COMPACT | flags);

    sim_resp_set(resp, status, ctype, text, text ? strlen(text) : 0);
    free(text);
    json_decref(j);
}

static void
google_fail(struct sim_resp *resp, const char *name, int retry_after)
{
    size_t i;

    for (i = 0; i < sizeof(gerrs) / sizeof(gerrs[0]); i++) {
        const struct gerr *g = &gerrs[i];

        if (strcmp(g->name, name) != 0)
            continue;
        if (g->error == NULL) /* 200 with an id_token and no access_token */
            send_json(
                resp, 200,
                json_pack("{s:s}", "id_token", "eyJhbGciOiJSUzI1NiJ9.e30.c2lt"),
                0, "application/json; charset=utf-8");
        else
            send_json(resp, g->status,
                      json_pack("{s:s, s:s}", "error", g->error,
                                "error_description", g->desc),
                      0, "application/json; charset=utf-8");
        break;
    }
    if (retry_after >= 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
    sim_resp_outcome(resp, name);
}

/* Applies a control-API rule for a token endpoint. Returns 1 when it
 * answered (or fails with a named error via *err_name). */
static int
token_rule(struct sim_ctx *ctx, const struct sim_endpoint *ep,
           const struct sim_req *req, struct sim_resp *resp,
           const char **err_name, int *retry_after)
{
    struct sim_outcome o;
    int done = 0;

    sim_outcome_init(&o);
    if (sim_rules_match(ctx->rules, ep, NULL, req, &o)) {
        done = sim_outcome_apply(&o, resp);
        if (!done && o.kind == SIM_OUT_ERROR) {
            *err_name = o.error;
            *retry_after = o.retry_after_s;
        }
    }
    sim_outcome_release(&o);
    return done;
}

/* The time and scope checks once the signature is good. NULL or the
 * error name. */
static const char *
google_claims(struct sim_ctx *ctx, json_t *cl, int *can_send)
{
    json_t *iat = json_object_get(cl, "iat");
    json_t *exp = json_object_get(cl, "exp");
    json_t *scope = json_object_get(cl, "scope");
    json_t *aud = json_object_get(cl, "aud");
    double now = (double)(sim_now_ms(ctx) / 1000);
    const char *s;
    const char *p;

    if (!json_is_number(iat))
        return "iat_missing";
    if (!json_is_number(exp))
        return "exp_missing";
    if (json_number_value(exp) - json_number_value(iat) > 3600 ||
        json_number_value(iat) > now || json_number_value(exp) <= now)
        return "time_window";
    if (!json_is_string(scope) || json_string_length(scope) == 0)
        return "invalid_scope";
    s = json_string_value(scope);
    for (p = s; *p;) {
        size_t len = strcspn(p, " ");

        if (len > 0 && strncmp(p, SCOPE_PREFIX, strlen(SCOPE_PREFIX)) != 0)
            return "id_token_only";
        p += len;
        while (*p == ' ')
            p++;
    }
    *can_send = strstr(s, SCOPE_PREFIX "firebase.messaging") != NULL ||
                strstr(s, SCOPE_PREFIX "cloud-platform") != NULL;
    if (!json_is_string(aud) ||
        (strcmp(json_string_value(aud), GOOGLE_AUD) != 0 &&
         strcmp(json_string_value(aud), GOOGLE_AUD_OLD) != 0))
        return "bad_audience";
    return NULL;
}

static void
google_handle(struct sim_ctx *ctx, struct sim_peer *peer,
              const struct sim_req *req, struct sim_resp *resp)
{
    struct hd_jwt_verify_opts o = {1, INT_MAX, 0, NULL, NULL};
    const struct sim_account *acct;
    struct sim_token_info info;
    const char *err = NULL;
    struct hd_buf grant;
    struct hd_buf assertion;
    json_t *hdr = NULL;
    json_t *cl = NULL;
    json_t *alg;
    json_t *iss;
    char token[96];
    int retry_after = -1;
    int can_send = 0;

    (void)peer;
    hd_buf_init(&grant, 256);
    hd_buf_init(&assertion, FORM_VALUE_MAX);
    sim_form_get(req->body.data, req->body.len, "grant_type", &grant);
    if (token_rule(ctx, &sim_google_token, req, resp, &err, &retry_after))
        goto out;
    if (err != NULL)
        goto fail;
    if (grant.len == 0 || strcmp(grant.data, JWT_BEARER) != 0) {
        send_json(resp, 400,
                  json_pack("{s:s, s:s+}", "error", "unsupported_grant_type",
                            "error_description", "Invalid grant_type: ",
                            grant.len ? grant.data : ""),
                  0, "application/json; charset=utf-8");
        sim_resp_outcome(resp, "unsupported_grant_type");
        goto out;
    }
    err = "invalid_request";
    if (sim_form_get(req->body.data, req->body.len, "assertion", &assertion) !=
            1 ||
        hd_jwt_peek(assertion.data, assertion.len, &hdr, &cl, NULL) < 0)
        goto fail;
    alg = json_object_get(hdr, "alg");
    iss = json_object_get(cl, "iss");
    err = "invalid_signature";
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256") != 0)
        goto fail;
    err = "account_not_found";
    acct = json_is_string(iss)
               ? sim_creds_account(ctx->creds, json_string_value(iss))
               : NULL;
    if (acct == NULL)
        goto fail;
    sim_copy(resp->identity, sizeof(resp->identity), acct->email);
    err = "invalid_signature";
    if (hd_jwt_verify(acct->key, assertion.data, assertion.len, &o, NULL, NULL,
                      NULL) < 0)
        goto fail;
    err = google_claims(ctx, cl, &can_send);
    if (err != NULL)
        goto fail;
    hd_random_hex(token + snprintf(token, sizeof(token), "ya29.c.sim"), 32);
    memset(&info, 0, sizeof(info));
    info.provider = SIM_FCM;
    info.issued_ms = sim_now_ms(ctx);
    info.expires_ms = info.issued_ms + (int64_t)ctx->cfg.fcm_token_ttl_s * 1000;
    sim_copy(info.subject, sizeof(info.subject), acct->email);
    sim_copy(info.scope, sizeof(info.scope), acct->project);
    info.can_send = can_send;
    sim_tokens_put(ctx->tokens, token, &info);
    send_json(resp, 200,
              json_pack("{s:s, s:i, s:s}", "access_token", token, "expires_in",
                        ctx->cfg.fcm_token_ttl_s, "token_type", "Bearer"),
              0, "application/json; charset=utf-8");
    sim_resp_outcome(resp, "issued");
    resp->oauth_issued = 1;
    goto out;
fail:
    google_fail(resp, err, retry_after);
out:
    json_decref(hdr);
    json_decref(cl);
    hd_buf_release(&grant);
    hd_buf_release(&assertion);
}

static void
hms_fail(struct sim_resp *resp, const char *name, int retry_after)
{
    size_t i;

    for (i = 0; i < sizeof(herrs) / sizeof(herrs[0]); i++) {
        const struct herr *h = &herrs[i];

        if (strcmp(h->name, name) != 0)
            continue;
        if (h->desc != NULL)
            send_json(resp, h->status,
                      json_pack("{s:i, s:i, s:s}", "error", h->error,
                                "sub_error", h->sub, "error_description",
                                h->desc),
                      0, "application/json;charset=UTF-8");
        else
            sim_resp_set(resp, h->status, "text/html",
                         "<html><body>Service Unavailable</body></html>", 45);
        break;
    }
    if (retry_after >= 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
    sim_resp_outcome(resp, name);
}

/* A token with '/', '+' and '=' in it, like Huawei's. */
static void
hms_token_text(char *out, size_t outlen)
{
    unsigned char raw[46];
    struct hd_buf b;

    hd_random_bytes(raw, sizeof(raw));
    hd_buf_init(&b, outlen - 1);
    hd_base64_encode(raw, sizeof(raw), &b, NULL);
    if (b.len > 8) {
        b.data[3] = '/';
        b.data[7] = '+';
    }
    snprintf(out, outlen, "%s", b.len ? b.data : "");
    hd_buf_release(&b);
}

static void
hms_token_handle(struct sim_ctx *ctx, struct sim_peer *peer,
                 const struct sim_req *req, struct sim_resp *resp)
{
    const struct sim_hms_app *app;
    struct sim_token_info info;
    struct hd_buf grant;
    struct hd_buf id;
    struct hd_buf secret;
    const char *err = NULL;
    char token[96];
    int retry_after = -1;
    size_t i;

    (void)peer;
    hd_buf_init(&grant, 256);
    hd_buf_init(&id, 256);
    hd_buf_init(&secret, 256);
    sim_form_get(req->body.data, req->body.len, "client_id", &id);
    if (id.len > 0)
        sim_copy(resp->identity, sizeof(resp->identity), id.data);
    if (token_rule(ctx, &sim_hms_token, req, resp, &err, &retry_after))
        goto out;
    if (err != NULL)
        goto fail;
    err = "grant_type_invalid";
    if (sim_form_get(req->body.data, req->body.len, "grant_type", &grant) !=
            1 ||
        grant.len == 0 || strcmp(grant.data, "client_credentials") != 0)
        goto fail;
    err = "client_id_invalid";
    if (id.len == 0)
        goto fail;
    for (i = 0; i < id.len; i++)
        if (!isdigit((unsigned char)id.data[i]))
            goto fail;
    err = "secret_empty";
    if (sim_form_get(req->body.data, req->body.len, "client_secret", &secret) !=
            1 ||
        secret.len == 0)
        goto fail;
    err = "parameter_invalid";
    app = sim_creds_hms(ctx->creds, id.data);
    if (app == NULL || strcmp(app->secret, secret.data) != 0)
        goto fail;
    err = "503";
    if (!sim_rate_take(ctx->hms_token_rate, app->id, 1, sim_now_ms(ctx),
                       &retry_after))
        goto fail;
    hms_token_text(token, sizeof(token));
    memset(&info, 0, sizeof(info));
    info.provider = SIM_HMS;
    info.issued_ms = sim_now_ms(ctx);
    info.expires_ms = info.issued_ms + (int64_t)ctx->cfg.hms_token_ttl_s * 1000;
    sim_copy(info.subject, sizeof(info.subject), app->id);
    sim_copy(info.scope, sizeof(info.scope), app->id);
    info.can_send = 1;
    sim_tokens_put(ctx->tokens, token, &info);
    send_json(resp, 200,
              json_pack("{s:s, s:i, s:s}", "access_token", token, "expires_in",
                        ctx->cfg.hms_token_ttl_s, "token_type", "Bearer"),
              JSON_ESCAPE_SLASH, "application/json;charset=UTF-8");
    sim_resp_header(resp, "cache-control", "no-store");
    sim_resp_outcome(resp, "issued");
    resp->oauth_issued = 1;
    goto out;
fail:
    hms_fail(resp, err, retry_after);
out:
    hd_buf_release(&grant);
    hd_buf_release(&id);
    hd_buf_release(&secret);
}

const struct sim_endpoint sim_google_token = {
    "fcm.token", SIM_FCM, SIM_EP_TOKEN, 0, google_handle, google_error_at,
};

const struct sim_endpoint sim_hms_token = {
    "hms.token", SIM_HMS, SIM_EP_TOKEN, 0, hms_token_handle, hms_error_at,
};
