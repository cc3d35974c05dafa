/* usertoken.c -- user JWT verification and Bitwarden claim extraction.
 *
 * The token's own "alg" picks the key (never the other way round), and the
 * jwt module refuses any mismatch, so configuring both an HMAC secret and a
 * public key cannot open an algorithm-confusion hole. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/usertoken.h"
#include "core/banned.h"

#define UT struct hd_usertoken_config

/* A conditional requirement, worded once for --help and the error. */
#define JWT_KEY_RULE                                                           \
    "HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY_FILE or HERALD_JWT_JWKS_URL is " \
    "required"

const struct hd_config_field hd_usertoken_config_fields[] = {
    HD_CFG_STR("HERALD_JWT_SECRET", UT, secret, NULL, HD_CFG_SECRET,
               "HS256 secret user tokens are signed with (at least 32 "
               "bytes); " JWT_KEY_RULE),
    HD_CFG_STR("HERALD_JWT_PUBLIC_KEY_FILE", UT, public_key_file, NULL, 0,
               "PEM public key or certificate for RS256/ES256 user "
               "tokens; " JWT_KEY_RULE),
    HD_CFG_STR("HERALD_JWT_ISSUER", UT, issuer, NULL, 0,
               "required \"iss\" of user tokens (unset: any)"),
    HD_CFG_STR("HERALD_JWT_AUDIENCE", UT, audience, NULL, 0,
               "required \"aud\" of user tokens (unset: any)"),
    HD_CFG_STR("HERALD_JWT_SCOPE", UT, scope, "api", 0,
               "required \"scope\" entry of user tokens, as Bitwarden's "
               "Application policy (empty: any)"),
    HD_CFG_INT("HERALD_JWT_LEEWAY_S", UT, leeway_s, 60, 0, 3600,
               "clock skew allowed on exp/nbf, seconds"),
    HD_CFG_STR("HERALD_JWT_JWKS_URL", UT, jwks_url, NULL, 0,
               "JWKS of the identity server that signs RS256/ES256 tokens, "
               "e.g. http://identity:5000/.well-known/openid-configuration/"
               "jwks, or a file path; " JWT_KEY_RULE),
    HD_CFG_INT("HERALD_JWT_JWKS_REFRESH_S", UT, jwks_refresh_s, 3600, 10, 86400,
               "how often the JWKS is fetched again"),
    HD_CFG_INT("HERALD_JWT_JWKS_MIN_REFRESH_S", UT, jwks_min_refresh_s, 30, 1,
               3600,
               "at most one refetch per this many seconds when a token "
               "names an unknown key id"),
    HD_CFG_END,
};

struct hd_usertoken {
    struct hd_jwt_key *hmac;
    struct hd_jwt_key *pub;
    struct hd_jwks *jwks;
    int borrowed; /* pub and jwks belong to another verifier */
    char *issuer;
    char *audience;
    char *scope;
    int leeway_s;
};

struct hd_usertoken *
hd_usertoken_new(const struct hd_usertoken_config *cfg, struct hd_err *err)
{
    struct hd_usertoken *v = hd_xcalloc(1, sizeof(*v));

    if (cfg->secret && *cfg->secret) {
        if (strlen(cfg->secret) < HD_JWT_HMAC_MIN) {
            hd_err_set(err, HD_EINVAL,
                       "HERALD_JWT_SECRET: at least %d bytes required (e.g. "
                       "openssl rand -hex 32)",
                       HD_JWT_HMAC_MIN);
            goto fail;
        }
        v->hmac = hd_jwt_key_hmac(cfg->secret, strlen(cfg->secret), err);
        if (v->hmac == NULL)
            goto fail;
    }
    if (cfg->public_key_file && *cfg->public_key_file) {
        v->pub = hd_jwt_key_pem_file(cfg->public_key_file, err);
        if (v->pub == NULL) {
            hd_err_wrap(err, "HERALD_JWT_PUBLIC_KEY_FILE");
            goto fail;
        }
        if (hd_jwt_key_alg(v->pub) == HD_JWT_HS256) {
            hd_err_set(err, HD_EINVAL,
                       "HERALD_JWT_PUBLIC_KEY_FILE: not an RSA or EC key");
            goto fail;
        }
    }
    if (cfg->jwks_url && *cfg->jwks_url) {
        struct hd_jwks_config jc = {0};

        jc.source = cfg->jwks_url;
        jc.refresh_s = cfg->jwks_refresh_s;
        jc.min_refresh_s = cfg->jwks_min_refresh_s;
        v->jwks = hd_jwks_new(&jc, err);
        if (v->jwks == NULL) {
            hd_err_wrap(err, "HERALD_JWT_JWKS_URL");
            goto fail;
        }
    }
    if (v->hmac == NULL && v->pub == NULL && v->jwks == NULL) {
        hd_err_set(err, HD_EINVAL, "%s", JWT_KEY_RULE);
        goto fail;
    }
    v->issuer = cfg->issuer && *cfg->issuer ? hd_xstrdup(cfg->issuer) : NULL;
    v->audience =
        cfg->audience && *cfg->audience ? hd_xstrdup(cfg->audience) : NULL;
    v->scope = cfg->scope && *cfg->scope ? hd_xstrdup(cfg->scope) : NULL;
    v->leeway_s = cfg->leeway_s;
    return v;
fail:
    hd_usertoken_free(v);
    return NULL;
}

void
hd_usertoken_free(struct hd_usertoken *v)
{
    if (v == NULL)
        return;
    hd_jwt_key_free(v->hmac);
    if (!v->borrowed) {
        hd_jwt_key_free(v->pub);
        hd_jwks_free(v->jwks);
    }
    free(v->issuer);
    free(v->audience);
    free(v->scope);
    free(v);
}

/* Copies a string claim into a fixed field; 0 if absent, -1 if too long. */
static int
copy_claim(json_t *claims, const char *key, char *out, size_t outlen)
{
    json_t *c = json_object_get(claims, key);
    size_t n;

    out[0] = '\0';
    if (!json_is_string(c))
        return 0;
    n = json_string_length(c);
    if (n >= outlen)
        return -1;
    memcpy(out, json_string_value(c), n + 1);
    return 1;
}

static int
has_scope(json_t *claims, const char *want)
{
    json_t *s = json_object_get(claims, "scope");
    json_t *e;
    size_t i;

    if (json_is_string(s)) {
        /* OAuth style: space-separated */
        const char *p = json_string_value(s);
        size_t n = strlen(want);

        while (*p) {
            const char *sp = strchr(p, ' ');
            size_t len = sp ? (size_t)(sp - p) : strlen(p);

            if (len == n && strncmp(p, want, n) == 0)
                return 1;
            if (sp == NULL)
                break;
            p = sp + 1;
        }
        return 0;
    }
    json_array_foreach(s, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
            return 1;
    }
    return 0;
}

/* 1 if "aud" is want or an array holding it. */
static int
has_audience(json_t *claims, const char *want)
{
    json_t *a = json_object_get(claims, "aud");
    json_t *e;
    size_t i;

    if (json_is_string(a))
        return strcmp(json_string_value(a), want) == 0;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
            return 1;
    }
    return 0;
}

static void
add_org(struct hd_user *u, const char *id)
{
    size_t i;

    if (u->norgs >= HD_USER_MAX_ORGS || strlen(id) == 0 ||
        strlen(id) > HD_ID_MAX)
        return;
    for (i = 0; i < u->norgs; i++)
        if (strcasecmp(u->orgs[i], id) == 0)
            return;
    u->orgs = hd_xrealloc(u->orgs, (u->norgs + 1) * sizeof(*u->orgs));
    u->orgs[u->norgs] = hd_xstrdup(id);
    hd_bw_guid_normalize(u->orgs[u->norgs++]);
}

static void
read_orgs(json_t *claims, struct hd_user *u)
{
    static const char *const keys[] = {"orgowner", "orgadmin", "orguser",
                                       "orgcustom"};
    size_t k, i;
    json_t *c, *e;

    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        c = json_object_get(claims, keys[k]);
        if (json_is_string(c))
            add_org(u, json_string_value(c));
        json_array_foreach(c, i, e)
        {
            if (json_is_string(e))
                add_org(u, json_string_value(e));
        }
    }
}

struct hd_usertoken *
hd_usertoken_service(const struct hd_usertoken *v, const char *scope,
                     const char *issuer, struct hd_err *err)
{
    struct hd_usertoken *s;

    if (v->pub == NULL && v->jwks == NULL) {
        hd_err_set(err, HD_EINVAL,
                   "service tokens need HERALD_JWT_JWKS_URL or "
                   "HERALD_JWT_PUBLIC_KEY_FILE");
        return NULL;
    }
    s = hd_xcalloc(1, sizeof(*s));
    s->pub = v->pub;
    s->jwks = v->jwks;
    s->borrowed = 1;
    s->issuer = issuer && *issuer ? hd_xstrdup(issuer)
                : v->issuer       ? hd_xstrdup(v->issuer)
                                  : NULL;
    s->audience = v->audience ? hd_xstrdup(v->audience) : NULL;
    s->scope = scope && *scope ? hd_xstrdup(scope) : NULL;
    s->leeway_s = v->leeway_s;
    return s;
}

/* Signature (the key the token's alg and kid name), exp, iss, aud and
 * scope; *claims (new) on success. */
static int
check(const struct hd_usertoken *v, const char *token, size_t len,
      json_t **claims, struct hd_err *err)
{
    struct hd_jwt_verify_opts o = {0};
    const struct hd_jwt_key *key = NULL;
    json_t *header = NULL;
    const char *alg, *kid;
    char algbuf[17], kidbuf[129];
    void *ref = NULL;
    int rc;

    if (hd_jwt_peek(token, len, &header, NULL, err) < 0)
        return -1;
    alg = json_string_value(json_object_get(header, "alg"));
    kid = json_string_value(json_object_get(header, "kid"));
    snprintf(algbuf, sizeof(algbuf), "%s", alg ? alg : "(none)");
    snprintf(kidbuf, sizeof(kidbuf), "%s", kid ? kid : "");
    json_decref(header);
    if (strcmp(algbuf, "HS256") == 0)
        key = v->hmac;
    else if (v->jwks != NULL &&
             hd_jwks_get(v->jwks, kidbuf[0] ? kidbuf : NULL, &key, &ref) == 0)
        ; /* key from the set, held by ref */
    else
        key = v->pub;
    if (key == NULL)
        return hd_err_set(err, HD_EAUTH, "no key for alg %s%s%s", algbuf,
                          kidbuf[0] ? " kid " : "", kidbuf);
    o.leeway_s = v->leeway_s;
    o.require_exp = 1;
    o.issuer = v->issuer;
    o.audience = v->audience;
    rc = hd_jwt_verify(key, token, len, &o, NULL, claims, err);
    hd_jwks_put(ref);
    if (rc < 0)
        return -1;
    if (v->scope && !has_scope(*claims, v->scope)) {
        json_decref(*claims);
        *claims = NULL;
        return hd_err_set(err, HD_EAUTH, "scope %s missing", v->scope);
    }
    return 0;
}

int
hd_usertoken_check(const struct hd_usertoken *v, const char *token, size_t len,
                   struct hd_err *err)
{
    json_t *claims = NULL;

    if (check(v, token, len, &claims, err) < 0)
        return -1;
    json_decref(claims);
    return 0;
}

int
hd_usertoken_verify(const struct hd_usertoken *v, const char *token, size_t len,
                    struct hd_user *user, struct hd_err *err)
{
    json_t *claims = NULL;
    json_t *dt, *exp;
    char dtbuf[32];
    int rc = -1;

    memset(user, 0, sizeof(*user));
    user->device_type = -1;
    if (check(v, token, len, &claims, err) < 0)
        return -1;
    if (has_audience(claims, HD_JWT_AUD_RELAY)) {
        hd_err_set(err, HD_EAUTH, "a relay token is not a user token");
        goto out;
    }
    if (copy_claim(claims, "sub", user->sub, sizeof(user->sub)) != 1) {
        hd_err_set(err, HD_EAUTH, "missing or oversized sub");
        goto out;
    }
    hd_bw_guid_normalize(user->sub); /* payload ids are compared to it */
    if (copy_claim(claims, "device", user->device, sizeof(user->device)) < 0) {
        hd_err_set(err, HD_EAUTH, "oversized device claim");
        goto out;
    }
    dt = json_object_get(claims, "devicetype");
    if (json_is_string(dt))
        user->device_type = hd_bw_device_type_parse(json_string_value(dt));
    else if (json_is_integer(dt)) {
        snprintf(dtbuf, sizeof(dtbuf), "%lld",
                 (long long)json_integer_value(dt));
        user->device_type = hd_bw_device_type_parse(dtbuf);
    }
    user->client_type = user->device_type >= 0
                            ? hd_bw_client_type_of_device(user->device_type)
                            : 0;
    exp = json_object_get(claims, "exp");
    user->exp = json_is_number(exp) ? (int64_t)json_number_value(exp) : 0;
    read_orgs(claims, user);
    rc = 0;
out:
    json_decref(claims);
    if (rc < 0)
        hd_user_release(user);
    return rc;
}

void
hd_user_release(struct hd_user *user)
{
    size_t i;

    for (i = 0; i < user->norgs; i++)
        free(user->orgs[i]);
    free(user->orgs);
    memset(user, 0, sizeof(*user));
    user->device_type = -1;
}
