/* fcm_auth.c -- service-account JSON to a cached OAuth2 access token
 * (RFC 7523 JWT-bearer grant, specs/providers.md 1.2).
 *
 * The assertion is signed with the account's RSA key (RS256, "kid" =
 * private_key_id, iat back-dated 10 s for clock skew, exp = iat + 1 h) and
 * exchanged at the token URI (the file's token_uri, which is also the
 * assertion's audience, unless HERALD_WORKER_FCM_TOKEN_URL sends the
 * request elsewhere) on the credential cache's thread, with its
 * own small HTTP client; the access token is reused until 5 minutes before
 * it expires. Refusals by the token endpoint are configuration errors. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "http/client.h"
#include "core/json.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "services/worker-fcm/fcm.h"
#include "core/banned.h"

#define SCOPE "https://www.googleapis.com/auth/firebase.messaging"
#define GRANT "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
#define REFRESH_BEFORE_MS (5 * 60 * 1000)
#define REJECT_FLOOR_MS 0 /* one refetch per generation bounds it */
#define SA_MAX (64 * 1024)

struct fcm_auth {
    struct hd_jwt_key *key;
    char *kid;
    char *email;
    char *project;
    char *audience;  /* the file's token_uri: the assertion's "aud" */
    char *token_url; /* where the assertion is posted */
    const struct hd_clock *clock;
    struct hd_httpc *http; /* driven by the cache's thread */
    struct hd_pushauth *cache;
};

int
fcm_auth_assertion(struct fcm_auth *a, int64_t now_s, struct hd_buf *out,
                   struct hd_err *err)
{
    json_t *claims =
        json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", a->email, "scope", SCOPE,
                  "aud", a->audience, "iat", (json_int_t)(now_s - 10), "exp",
                  (json_int_t)(now_s - 10 + 3600));
    int rc;

    rc = hd_jwt_sign(a->key, a->kid, claims, out, err);
    json_decref(claims);
    return rc;
}

/* The cache's fetch: runs on its thread. */
static int
fetch(void *ud, struct hd_buf *value, int64_t *expires_ms, struct hd_err *err)
{
    struct fcm_auth *a = ud;
    int64_t now = hd_clock_wall_ms(a->clock);
    struct hd_buf form;
    int rc = -1;

    hd_buf_init(&form, HD_JWT_MAX_LEN + 128);
    if (hd_buf_printf(&form, err, "grant_type=%s&assertion=", GRANT) < 0 ||
        fcm_auth_assertion(a, now / 1000, &form, err) < 0) {
        if (err)
            err->code = HD_EINVAL; /* our key cannot sign */
        goto out;
    }
    rc = hd_pushauth_oauth(a->http, a->token_url, form.data, now, value,
                           expires_ms, err);
out:
    hd_buf_release(&form);
    return rc;
}

/* Reads the service-account file. Returns 0 or -1 with err. */
static int
load_account(struct fcm_auth *a, const struct fcm_config *cfg,
             struct hd_err *err)
{
    const char *type = NULL, *pem = NULL, *kid = NULL, *email = NULL;
    const char *project = NULL, *uri = NULL;
    struct hd_err jerr = {0};
    json_error_t je;
    json_t *j;
    int rc = -1;

    j = json_load_file(cfg->service_account, 0, &je);
    if (j == NULL)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE %s: %s",
                          cfg->service_account, je.text);
    if (hd_json_str(j, "", "type", 0, 64, &type, &jerr) < 0 ||
        hd_json_str(j, "", "private_key", 1, SA_MAX, &pem, &jerr) < 0 ||
        hd_json_str(j, "", "private_key_id", 0, 256, &kid, &jerr) < 0 ||
        hd_json_str(j, "", "client_email", 1, 512, &email, &jerr) < 0 ||
        hd_json_str(j, "", "project_id", 0, 256, &project, &jerr) < 0 ||
        hd_json_str(j, "", "token_uri", 0, 1024, &uri, &jerr) < 0) {
        hd_err_set(err, HD_EINVAL, "%s: %s", cfg->service_account, jerr.msg);
        goto out;
    }
    if (type && strcmp(type, "service_account") != 0) {
        hd_err_set(err, HD_EINVAL, "%s: type is \"%s\", not service_account",
                   cfg->service_account, type);
        goto out;
    }
    a->key = hd_jwt_key_pem(pem, strlen(pem), &jerr);
    if (a->key == NULL || hd_jwt_key_alg(a->key) != HD_JWT_RS256 ||
        !hd_jwt_key_can_sign(a->key)) {
        hd_err_set(err, HD_EINVAL,
                   "%s: private_key is not an RSA private "
                   "key (%s)",
                   cfg->service_account, jerr.msg[0] ? jerr.msg : "RS256");
        goto out;
    }
    if (cfg->project && *cfg->project)
        project = cfg->project;
    if (project == NULL || *project == '\0') {
        hd_err_set(err, HD_EINVAL,
                   "%s: no project_id (set "
                   "HERALD_WORKER_FCM_PROJECT_ID)",
                   cfg->service_account);
        goto out;
    }
    a->kid = kid && *kid ? hd_xstrdup(kid) : NULL;
    a->email = hd_xstrdup(email);
    a->project = hd_xstrdup(project);
    a->audience =
        hd_xstrdup(uri && *uri ? uri : "https://oauth2.googleapis.com/token");
    a->token_url = hd_xstrdup(cfg->token_url && *cfg->token_url ? cfg->token_url
                                                                : a->audience);
    rc = 0;
out:
    json_decref(j);
    return rc;
}

struct fcm_auth *
fcm_auth_new(const struct fcm_config *cfg, const struct hd_push_env *env,
             struct hd_err *err)
{
    struct fcm_auth *a = hd_xcalloc(1, sizeof(*a));

    a->clock = env->clock;
    if (load_account(a, cfg, err) < 0)
        goto fail;
    a->cache = hd_push_token_cache(env, fetch, a, REFRESH_BEFORE_MS,
                                   REJECT_FLOOR_MS, &a->http, err);
    if (a->cache == NULL)
        goto fail;
    return a;
fail:
    fcm_auth_free(a);
    return NULL;
}

void
fcm_auth_free(struct fcm_auth *a)
{
    if (a == NULL)
        return;
    hd_pushauth_free(a->cache); /* stops the thread that uses http */
    hd_httpc_free(a->http);
    hd_jwt_key_free(a->key);
    free(a->kid);
    free(a->email);
    free(a->project);
    free(a->audience);
    free(a->token_url);
    free(a);
}

const char *
fcm_auth_project(const struct fcm_auth *a)
{
    return a->project;
}

struct hd_pushauth *
fcm_auth_cache(struct fcm_auth *a)
{
    return a->cache;
}
