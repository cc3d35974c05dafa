/* apns_auth.c -- APNs provider-token (ES256 JWT) rules.
 *
 * A connection remembers the last token it accepted; a request carrying
 * the same string skips the signature check (as a real frontend caches
 * it), so the hot path costs a strcmp. Rules: bearer scheme, ES256, known
 * kid, iss = the kid's team, a valid signature (raw R||S, or DER as
 * Apple's own openssl example produces), iat within the maximum age and
 * not in the future, one team and one key per connection, the key's
 * environment and topics, and no new token within the refresh floor. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "tools/sim/providers/apns_auth.h"
#include "tools/sim/providers/apns_topic.h"
#include "core/banned.h"

#define IAT_SKEW_S 60

struct team_slot {
    char team[16];
    char *jwt;        /* last accepted token (new) */
    int64_t since_ms; /* virtual time it was accepted */
};

struct sim_apns_teams {
    pthread_mutex_t mu;
    struct team_slot t[SIM_CREDS_MAX];
    int n;
};

struct sim_apns_teams *
sim_apns_teams_new(void)
{
    struct sim_apns_teams *t = hd_xcalloc(1, sizeof(*t));

    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void
sim_apns_teams_clear(struct sim_apns_teams *t)
{
    int i;

    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->n; i++)
        free(t->t[i].jwt);
    memset(t->t, 0, sizeof(t->t));
    t->n = 0;
    pthread_mutex_unlock(&t->mu);
}

void
sim_apns_teams_free(struct sim_apns_teams *t)
{
    if (t == NULL)
        return;
    sim_apns_teams_clear(t);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Team-scoped refresh floor: 1 when jwt may become the team's token
 * (and it does), 0 when it replaces another one too soon. */
static int
team_update(struct sim_apns_teams *t, const char *team, const char *jwt,
            int64_t now_ms, int64_t floor_ms)
{
    struct team_slot *s = NULL;
    int ok = 1;
    int i;

    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->n; i++)
        if (strcmp(t->t[i].team, team) == 0)
            s = &t->t[i];
    if (s == NULL && t->n < SIM_CREDS_MAX) {
        s = &t->t[t->n++];
        memcpy(s->team, team, strlen(team) + 1);
    }
    if (s != NULL && (s->jwt == NULL || strcmp(s->jwt, jwt) != 0)) {
        if (s->jwt != NULL && now_ms - s->since_ms < floor_ms) {
            ok = 0;
        } else {
            free(s->jwt);
            s->jwt = hd_xstrdup(jwt);
            s->since_ms = now_ms;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

/* Verifies tok with key, accepting a DER signature by rewriting it as
 * R||S. Returns 0 or -1. */
static int
verify_sig(const struct hd_jwt_key *key, const char *tok, size_t len)
{
    struct hd_jwt_verify_opts o = {1, INT_MAX, 0, NULL, NULL};
    const char *dot = memrchr(tok, '.', len);
    const unsigned char *p;
    struct hd_buf sig;
    struct hd_buf re;
    unsigned char raw[64];
    ECDSA_SIG *es = NULL;
    const BIGNUM *r;
    const BIGNUM *s;
    int rc = -1;

    /* leeway INT_MAX: iat/exp are judged below, against the virtual clock */
    if (hd_jwt_verify(key, tok, len, &o, NULL, NULL, NULL) == 0)
        return 0;
    if (dot == NULL)
        return -1;
    hd_buf_init(&sig, 256);
    hd_buf_init(&re, HD_JWT_MAX_LEN);
    if (hd_base64url_decode(dot + 1, len - (size_t)(dot + 1 - tok), &sig,
                            NULL) < 0 ||
        sig.len == 64)
        goto out;
    p = (const unsigned char *)sig.data;
    es = d2i_ECDSA_SIG(NULL, &p, (long)sig.len);
    if (es == NULL)
        goto out;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
        goto out;
    if (hd_buf_append(&re, tok, (size_t)(dot + 1 - tok), NULL) < 0 ||
        hd_base64url_encode(raw, sizeof(raw), &re, NULL) < 0)
        goto out;
    rc = hd_jwt_verify(key, re.data, re.len, &o, NULL, NULL, NULL);
out:
    ECDSA_SIG_free(es);
    hd_buf_release(&sig);
    hd_buf_release(&re);
    return rc;
}

/* Parses and verifies a token this connection has not accepted yet.
 * Fills *key, team, kid and *iat. Returns NULL or the reason. */
static const char *
read_token(const struct sim_ctx *ctx, const char *tok, size_t len,
           const struct sim_apns_key **key, char kid[16], int64_t *iat)
{
    json_t *hdr = NULL;
    json_t *cl = NULL;
    const char *reason = "InvalidProviderToken";
    json_t *alg;
    json_t *k;
    json_t *iss;
    json_t *i;

    if (len > HD_JWT_MAX_LEN || hd_jwt_peek(tok, len, &hdr, &cl, NULL) < 0)
        return reason;
    alg = json_object_get(hdr, "alg");
    k = json_object_get(hdr, "kid");
    iss = json_object_get(cl, "iss");
    i = json_object_get(cl, "iat");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0 ||
        !json_is_string(k) || !json_is_string(iss) || !json_is_number(i))
        goto out;
    *key = sim_creds_apns(ctx->creds, json_string_value(k));
    if (*key == NULL || strcmp((*key)->team, json_string_value(iss)) != 0)
        goto out;
    if (verify_sig((*key)->key, tok, len) < 0)
        goto out;
    memcpy(kid, (*key)->kid, 16);
    *iat = (int64_t)json_number_value(i);
    reason = NULL;
out:
    json_decref(hdr);
    json_decref(cl);
    return reason;
}

static int
topic_allowed(const struct sim_apns_key *key, const char *topic)
{
    char base[128];
    int i;

    if (key->ntopics == 0)
        return 1;
    sim_apns_base_topic(topic, base, sizeof(base));
    for (i = 0; i < key->ntopics; i++)
        if (strcmp(key->topics[i], base) == 0)
            return 1;
    return 0;
}

/* Certificate authentication: the TLS client certificate decides, any
 * authorization header is ignored (as APNs does on a certificate
 * connection). The certificate must chain to the simulator's CA and
 * name a topic; the request's topic (without its push-type suffix) must
 * be that one. */
static const char *
cert_auth(struct sim_peer *peer, const char *topic, char *identity,
          size_t idlen)
{
    char base[256];

    if (!peer->cert_ok || peer->cert_topic[0] == '\0')
        return "BadCertificate";
    snprintf(identity, idlen, "cert/%s", peer->cert_topic);
    sim_apns_base_topic(topic, base, sizeof(base));
    if (strcmp(base, peer->cert_topic) != 0)
        return "TopicDisallowed";
    peer->authed = 1;
    return NULL;
}

const char *
sim_apns_auth(struct sim_ctx *ctx, struct sim_peer *peer,
              const struct sim_req *req, const char *topic,
              enum sim_apns_env env, char *identity, size_t idlen)
{
    const char *h = sim_req_header(req, "authorization");
    const struct sim_apns_key *key = NULL;
    int64_t now = sim_now_ms(ctx);
    int64_t floor_ms = (int64_t)ctx->cfg.apns_refresh_min_s * 1000;
    char kid[16];
    int64_t iat = 0;
    const char *reason;
    size_t len;
    int cached;

    if (peer->cert)
        return cert_auth(peer, topic, identity, idlen);
    if (h == NULL)
        return "MissingProviderToken";
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "bearer", 6) != 0)
        return "MissingProviderToken";
    h += 6;
    while (*h == ' ')
        h++;
    len = strlen(h);
    if (len == 0)
        return "MissingProviderToken";
    if (peer->wedged)
        return "ExpiredProviderToken";
    cached = peer->jwt != NULL && strcmp(peer->jwt, h) == 0;
    if (cached) {
        key = sim_creds_apns(ctx->creds, peer->kid);
        memcpy(kid, peer->kid, sizeof(kid));
        iat = peer->jwt_iat;
    } else {
        reason = read_token(ctx, h, len, &key, kid, &iat);
        if (reason != NULL)
            return reason;
    }
    if (key == NULL)
        return "InvalidProviderToken";
    snprintf(identity, idlen, "%s/%s", key->team, key->kid);
    if (iat > now / 1000 + IAT_SKEW_S)
        return "InvalidProviderToken";
    if (iat < now / 1000 - ctx->cfg.apns_max_age_s) {
        if (ctx->cfg.apns_wedge)
            peer->wedged = 1;
        return "ExpiredProviderToken";
    }
    if (peer->team[0] && strcmp(peer->team, key->team) != 0)
        return "InvalidProviderToken";
    if (peer->kid[0] && strcmp(peer->kid, kid) != 0)
        return "UnrelatedKeyIdInToken";
    if (key->env != SIM_ENV_ANY && key->env != env)
        return "BadEnvironmentKeyIdInToken";
    if (!topic_allowed(key, topic))
        return "InvalidProviderToken";
    if (!cached) {
        if (strcmp(ctx->cfg.apns_update_scope, "team") == 0) {
            if (!team_update(ctx->teams, key->team, h, now, floor_ms))
                return "TooManyProviderTokenUpdates";
        } else if (peer->jwt != NULL && now - peer->jwt_since_ms < floor_ms) {
            return "TooManyProviderTokenUpdates";
        }
        free(peer->jwt);
        peer->jwt = hd_xstrdup(h);
        peer->jwt_since_ms = now;
        peer->jwt_iat = iat;
        memcpy(peer->team, key->team, sizeof(peer->team));
        memcpy(peer->kid, kid, sizeof(peer->kid));
    }
    peer->authed = 1;
    return NULL;
}
