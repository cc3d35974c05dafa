/* apns_auth.c -- the APNs provider credential (specs/providers.md 2.2).
 *
 * Token authentication: one ES256 JWT {"alg":"ES256","kid":KEY_ID} /
 * {"iss":TEAM_ID,"iat":now} for the whole process, minted on the cache's
 * thread and reused for HERALD_WORKER_APNS_JWT_REFRESH_S (50 minutes by
 * default; Apple wants 20 to 60). A rejected token is replaced only when it
 * is at least 20 minutes old, because minting more often makes APNs answer
 * TooManyProviderTokenUpdates. Certificate authentication needs nothing
 * here: the TLS client certificate is set on the HTTP client (apns.c). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "auth/jwt.h"
#include "services/worker-apns/apns.h"
#include "core/banned.h"

#define REFRESH_FLOOR_MS (20 * 60 * 1000)

struct apns_auth {
    struct hd_jwt_key *key; /* NULL: certificate authentication */
    char *key_id;
    char *team_id;
    int64_t reuse_ms;
    const struct hd_clock *clock;
    struct hd_pushauth *cache;
};

int
apns_auth_jwt(struct apns_auth *a, int64_t now_s, struct hd_buf *out,
              struct hd_err *err)
{
    json_t *claims =
        json_pack("{s:s,s:I}", "iss", a->team_id, "iat", (json_int_t)now_s);
    int rc = hd_jwt_sign(a->key, a->key_id, claims, out, err);

    json_decref(claims);
    return rc;
}

static int
fetch(void *ud, struct hd_buf *value, int64_t *expires_ms, struct hd_err *err)
{
    struct apns_auth *a = ud;
    int64_t now = hd_clock_wall_ms(a->clock);

    if (hd_buf_puts(value, "authorization: bearer ", err) < 0 ||
        apns_auth_jwt(a, now / 1000, value, err) < 0) {
        if (err)
            err->code = HD_EINVAL;
        return -1;
    }
    *expires_ms = now + a->reuse_ms;
    return 0;
}

struct apns_auth *
apns_auth_new(const struct apns_config *cfg, const struct hd_push_env *env,
              struct hd_err *err)
{
    struct apns_auth *a;
    struct hd_pushauth_opts o;
    int token = cfg->key_file && *cfg->key_file;
    int cert = cfg->cert_file && *cfg->cert_file;

    if (token == cert) {
        hd_err_set(err, HD_EINVAL, "%s", APNS_AUTH_RULE);
        return NULL;
    }
    a = hd_xcalloc(1, sizeof(*a));
    a->clock = env->clock;
    if (cert)
        return a;
    if (!cfg->key_id || !*cfg->key_id || !cfg->team_id || !*cfg->team_id) {
        hd_err_set(err, HD_EINVAL,
                   "HERALD_WORKER_APNS_KEY_ID and HERALD_WORKER_APNS_TEAM_ID "
                   "are %s",
                   APNS_TOKEN_RULE);
        goto fail;
    }
    a->key = hd_jwt_key_pem_file(cfg->key_file, err);
    if (a->key == NULL)
        goto fail;
    if (hd_jwt_key_alg(a->key) != HD_JWT_ES256 ||
        !hd_jwt_key_can_sign(a->key)) {
        hd_err_set(err, HD_EINVAL,
                   "HERALD_WORKER_APNS_KEY_FILE %s: not a P-256 private key",
                   cfg->key_file);
        goto fail;
    }
    a->key_id = hd_xstrdup(cfg->key_id);
    a->team_id = hd_xstrdup(cfg->team_id);
    a->reuse_ms = (int64_t)cfg->jwt_refresh_s * 1000;
    memset(&o, 0, sizeof(o));
    o.fetch = fetch;
    o.ud = a;
    o.refresh_before_ms = 0;
    o.min_interval_ms = REFRESH_FLOOR_MS;
    o.clock = env->clock;
    o.on_change = env->wake;
    o.change_ud = env->wake_ud;
    o.threaded = env->threaded;
    a->cache = hd_pushauth_new(&o, err);
    if (a->cache == NULL)
        goto fail;
    return a;
fail:
    apns_auth_free(a);
    return NULL;
}

void
apns_auth_free(struct apns_auth *a)
{
    if (a == NULL)
        return;
    hd_pushauth_free(a->cache);
    hd_jwt_key_free(a->key);
    free(a->key_id);
    free(a->team_id);
    free(a);
}

int
apns_auth_ready(struct apns_auth *a, struct hd_err *err)
{
    if (a->cache == NULL)
        return 1;
    return hd_pushauth_ready(a->cache, err);
}

int
apns_auth_line(struct apns_auth *a, struct hd_buf *line, unsigned *gen,
               struct hd_err *err)
{
    hd_buf_reset(line);
    *gen = 0;
    if (a->cache == NULL)
        return 0;
    if (hd_pushauth_get(a->cache, line, gen, err) <= 0)
        return hd_err_set(err, HD_EAUTH, "no provider token");
    return 0;
}

void
apns_auth_reject(struct apns_auth *a, unsigned gen)
{
    if (a->cache != NULL)
        hd_pushauth_reject(a->cache, gen);
}
