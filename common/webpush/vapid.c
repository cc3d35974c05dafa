/* vapid.c -- VAPID JWTs: signing through common/auth/jwt (ES256, raw R||S
 * signatures) with a small per-origin cache, and the verification a push
 * service does.
 *
 * The cache is a fixed table: a worker talks to a handful of push
 * services, so a linear scan is cheaper than hashing; when it is full the
 * entry closest to expiry is replaced. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/limits.h"
#include "webpush/vapid.h"
#include "core/banned.h"

#define LINE_MAX_LEN (HD_JWT_MAX_LEN + 256)

struct entry {
    char origin[HD_VAPID_ORIGIN_MAX];
    int64_t exp_s;
    char *line; /* "Authorization: vapid t=..., k=..." */
};

struct hd_vapid {
    struct hd_jwt_key *key;
    char *pub; /* base64url */
    char *subject;
    struct entry cache[HD_VAPID_ORIGINS_MAX];
    size_t n;
};

static int
subject_ok(const char *s)
{
    return s != NULL && ((strncmp(s, "mailto:", 7) == 0 && s[7] != '\0') ||
                         (strncmp(s, "https://", 8) == 0 && s[8] != '\0'));
}

/* key text -> EVP_PKEY: base64url scalar or PEM. */
static EVP_PKEY *
load_key(const char *text, struct hd_err *err)
{
    unsigned char raw[HD_P256_PRIV_LEN];
    struct hd_jwt_key *jk;
    EVP_PKEY *k;
    size_t n = strlen(text);

    while (n > 0 &&
           (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    if (strstr(text, "-----BEGIN") != NULL) {
        /* the JWT loader knows PKCS#8 and SEC 1 and refuses other curves */
        BIO *b;

        jk = hd_jwt_key_pem(text, n, err);
        if (jk == NULL)
            return NULL;
        hd_jwt_key_free(jk);
        b = BIO_new_mem_buf(text, (int)n);
        k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (k == NULL)
            hd_err_set(err, HD_EINVAL, "VAPID key: not a private key");
        return k;
    }
    if (hd_p256_b64_exact(text, n, raw, sizeof(raw), "VAPID private key", err) <
        0)
        return NULL;
    k = hd_p256_private(raw, sizeof(raw), err);
    OPENSSL_cleanse(raw, sizeof(raw));
    return k;
}

struct hd_vapid *
hd_vapid_new(const char *key, const char *pub, const char *subject,
             struct hd_err *err)
{
    unsigned char point[HD_P256_PUB_LEN];
    struct hd_vapid *v = NULL;
    struct hd_buf b;
    EVP_PKEY *k;

    if (!subject_ok(subject)) {
        hd_err_set(err, HD_EINVAL,
                   "VAPID subject: must be a mailto: or https: URI");
        return NULL;
    }
    if (key == NULL || strlen(key) > HD_VAPID_KEY_TEXT_MAX) {
        hd_err_set(err, HD_EINVAL, "VAPID private key: missing or too long");
        return NULL;
    }
    k = load_key(key, err);
    if (k == NULL)
        return NULL;
    hd_buf_init(&b, HD_JWT_MAX_PEM);
    if (hd_p256_get_public(k, point, err) < 0 || hd_p256_pem(k, 0, &b, err) < 0)
        goto out;
    v = hd_xcalloc(1, sizeof(*v));
    v->key = hd_jwt_key_pem(b.data, b.len, err);
    OPENSSL_cleanse(b.data, b.len);
    hd_buf_reset(&b);
    if (v->key == NULL ||
        hd_base64url_encode(point, sizeof(point), &b, err) < 0) {
        hd_vapid_free(v);
        v = NULL;
        goto out;
    }
    if (pub != NULL && pub[0] != '\0' && strcmp(pub, b.data) != 0) {
        hd_err_set(err, HD_EINVAL,
                   "VAPID public key: does not match the private key "
                   "(its public key is %s)",
                   b.data);
        hd_vapid_free(v);
        v = NULL;
        goto out;
    }
    v->pub = hd_buf_detach(&b, NULL);
    v->subject = hd_xstrdup(subject);
out:
    hd_buf_release(&b);
    EVP_PKEY_free(k);
    return v;
}

void
hd_vapid_free(struct hd_vapid *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->n; i++)
        free(v->cache[i].line);
    hd_jwt_key_free(v->key);
    free(v->pub);
    free(v->subject);
    free(v);
}

const char *
hd_vapid_public(const struct hd_vapid *v)
{
    return v->pub;
}

static int
sign(struct hd_vapid *v, const char *origin, int64_t exp_s, struct hd_buf *out,
     struct hd_err *err)
{
    json_t *claims = json_pack("{s:s, s:I, s:s}", "aud", origin, "exp",
                               (json_int_t)exp_s, "sub", v->subject);
    int rc;

    if (claims == NULL)
        return hd_err_set(err, HD_EINVAL, "VAPID claims: bad origin");
    rc = hd_buf_puts(out, "Authorization: vapid t=", err);
    if (rc == 0)
        rc = hd_jwt_sign(v->key, NULL, claims, out, err);
    if (rc == 0)
        rc = hd_buf_printf(out, err, ", k=%s", v->pub);
    json_decref(claims);
    return rc;
}

/* The entry for origin, or a slot to fill (an unused one, else the one
 * that expires first). */
static struct entry *
slot(struct hd_vapid *v, const char *origin)
{
    struct entry *best = NULL;
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (strcmp(v->cache[i].origin, origin) == 0)
            return &v->cache[i];
        if (best == NULL || v->cache[i].exp_s < best->exp_s)
            best = &v->cache[i];
    }
    if (v->n < HD_VAPID_ORIGINS_MAX)
        return &v->cache[v->n++];
    return best;
}

int
hd_vapid_header(struct hd_vapid *v, const char *origin, int64_t now_s,
                struct hd_buf *out, struct hd_err *err)
{
    struct entry *e;
    struct hd_buf line;

    if (strlen(origin) >= HD_VAPID_ORIGIN_MAX)
        return hd_err_set(err, HD_EINVAL, "origin: too long");
    e = slot(v, origin);
    if (e->line == NULL || strcmp(e->origin, origin) != 0 ||
        e->exp_s - now_s < HD_VAPID_REFRESH_S) {
        hd_buf_init(&line, LINE_MAX_LEN);
        if (sign(v, origin, now_s + HD_VAPID_TTL_S, &line, err) < 0) {
            hd_buf_release(&line);
            return -1;
        }
        free(e->line);
        e->line = hd_buf_detach(&line, NULL);
        e->exp_s = now_s + HD_VAPID_TTL_S;
        snprintf(e->origin, sizeof(e->origin), "%s", origin);
    }
    return hd_buf_puts(out, e->line, err);
}

int
hd_vapid_keygen(struct hd_buf *priv, struct hd_buf *pub, struct hd_err *err)
{
    unsigned char s[HD_P256_PRIV_LEN], p[HD_P256_PUB_LEN];
    EVP_PKEY *k = hd_p256_generate(err);
    int rc = -1;

    if (k == NULL)
        return -1;
    if (hd_p256_get_private(k, s, err) == 0 &&
        hd_p256_get_public(k, p, err) == 0 &&
        hd_base64url_encode(s, sizeof(s), priv, err) == 0 &&
        hd_base64url_encode(p, sizeof(p), pub, err) == 0)
        rc = 0;
    OPENSSL_cleanse(s, sizeof(s));
    EVP_PKEY_free(k);
    return rc;
}

/* "vapid t=<jwt>, k=<key>" (parameters in any order, spaces optional). */
static int
parse_auth(const char *value, const char **t, size_t *tlen, const char **k,
           size_t *klen)
{
    const char *p = value;

    if (strncasecmp(p, "vapid", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
        return -1;
    p += 5;
    *t = *k = NULL;
    while (*p != '\0') {
        const char *name, *val;
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        name = p;
        while (*p != '=' && *p != '\0' && *p != ',')
            p++;
        if (*p != '=')
            return -1;
        val = ++p;
        n = strcspn(val, ", \t");
        p = val + n;
        if (p - name - (ptrdiff_t)n == 2 && name[0] == 't') {
            *t = val;
            *tlen = n;
        } else if (p - name - (ptrdiff_t)n == 2 && name[0] == 'k') {
            *k = val;
            *klen = n;
        }
    }
    return *t != NULL && *k != NULL ? 0 : -1;
}

int
hd_vapid_verify(const char *value, const char *origin, int64_t now_s,
                unsigned char key[HD_P256_PUB_LEN], struct hd_err *err)
{
    unsigned char point[HD_P256_PUB_LEN];
    struct hd_jwt_verify_opts o;
    struct hd_jwt_key *jk = NULL;
    EVP_PKEY *pk = NULL;
    json_t *claims = NULL;
    struct hd_buf pem;
    const char *t, *k, *sub;
    size_t tlen = 0, klen = 0;
    json_int_t exp;
    int rc = -1;

    hd_buf_init(&pem, HD_JWT_MAX_PEM);
    if (value == NULL || parse_auth(value, &t, &tlen, &k, &klen) < 0) {
        hd_err_set(err, HD_EAUTH, "not a \"vapid t=..., k=...\" header");
        goto out;
    }
    if (hd_p256_b64_exact(k, klen, point, sizeof(point), "k", err) == 0)
        pk = hd_p256_public(point, sizeof(point), 0, err);
    if (pk != NULL && hd_p256_pem(pk, 1, &pem, err) == 0)
        jk = hd_jwt_key_pem(pem.data, pem.len, err);
    if (jk == NULL) {
        if (err != NULL)
            err->code = HD_EAUTH;
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.now_s = now_s;
    o.require_exp = 1;
    o.audience = origin;
    if (hd_jwt_verify(jk, t, tlen, &o, NULL, &claims, err) < 0)
        goto out;
    exp = json_integer_value(json_object_get(claims, "exp"));
    sub = json_string_value(json_object_get(claims, "sub"));
    if (exp > now_s + HD_VAPID_MAX_TTL_S) {
        hd_err_set(err, HD_EAUTH, "exp more than 24 hours ahead");
        goto out;
    }
    if (!subject_ok(sub)) {
        hd_err_set(err, HD_EAUTH, "sub: not a mailto: or https: URI");
        goto out;
    }
    if (key != NULL)
        memcpy(key, point, sizeof(point));
    rc = 0;
out:
    json_decref(claims);
    hd_jwt_key_free(jk);
    EVP_PKEY_free(pk);
    hd_buf_release(&pem);
    return rc;
}
