/* jwks.c -- a JSON Web Key Set kept fresh by one background thread.
 *
 * The keys live in an immutable, reference-counted set: a lookup takes a
 * reference under the mutex and verifies without it, and a refresh swaps
 * in a new set, so a rotation never frees a key a verification is using.
 * The refresh thread owns its HTTP client (driven mode: it is the loop
 * thread); the first load runs on it too and hd_jwks_new() waits for it.
 * JWK to key goes through PEM (hd_jwt_key_pem), so jwt.c keeps the one
 * place that turns OpenSSL keys into verifiers. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "auth/jwks.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "http/client.h"
#include "core/thread.h"
#include "core/banned.h"

struct jwks_set {
    atomic_int ref;
    int n;
    struct hd_jwt_key *keys[HD_JWKS_MAX_KEYS];
    char *kids[HD_JWKS_MAX_KEYS];
};

struct hd_jwks {
    char *source;
    char *ca_file;
    int refresh_ms;
    int min_refresh_ms;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct jwks_set *set; /* under mu; never NULL after start */
    int want;             /* a lookup missed */
    int stop;
    int loaded; /* first load done: 1 ok, -1 failed */
    struct hd_err first_err;
    uint64_t last_ms; /* last fetch, monotonic */
    pthread_t thread;
};

/* ---- one JWK ---------------------------------------------------------- */

static int
b64_member(json_t *jwk, const char *name, struct hd_buf *out,
           struct hd_err *err)
{
    json_t *v = json_object_get(jwk, name);

    if (!json_is_string(v))
        return hd_err_set(err, HD_EINVAL, "JWK: %s missing", name);
    hd_buf_init(out, 1024);
    if (hd_base64url_decode(json_string_value(v), json_string_length(v), out,
                            err) < 0) {
        hd_buf_release(out);
        return hd_err_wrap(err, "JWK %s", name);
    }
    return 0;
}

static EVP_PKEY *
pkey_from(json_t *jwk, const char *kty, struct hd_err *err)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    struct hd_buf a = {0}, b = {0};
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char pub[65];
    EVP_PKEY *pkey = NULL;
    int rsa = strcmp(kty, "RSA") == 0;

    if (rsa) {
        if (b64_member(jwk, "n", &a, err) < 0 ||
            b64_member(jwk, "e", &b, err) < 0)
            goto out;
        n = BN_bin2bn((const unsigned char *)a.data, (int)a.len, NULL);
        e = BN_bin2bn((const unsigned char *)b.data, (int)b.len, NULL);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    } else {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));

        if (crv == NULL || strcmp(crv, "P-256") != 0) {
            hd_err_set(err, HD_EINVAL, "JWK: EC curve %s not supported",
                       crv ? crv : "(none)");
            goto out;
        }
        if (b64_member(jwk, "x", &a, err) < 0 ||
            b64_member(jwk, "y", &b, err) < 0)
            goto out;
        if (a.len != 32 || b.len != 32) {
            hd_err_set(err, HD_EINVAL, "JWK: P-256 x and y are 32 bytes");
            goto out;
        }
        pub[0] = 0x04; /* uncompressed point */
        memcpy(pub + 1, a.data, 32);
        memcpy(pub + 33, b.data, 32);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        "prime256v1", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                         sizeof(pub));
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    pctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL);
    if (params == NULL || pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        hd_err_set(err, HD_EINVAL, "JWK: not a valid %s public key", kty);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    hd_buf_release(&a);
    hd_buf_release(&b);
    return pkey;
}

struct hd_jwt_key *
hd_jwk_key(json_t *jwk, struct hd_err *err)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    struct hd_jwt_key *k = NULL;
    EVP_PKEY *pkey;
    BIO *bio;
    char *pem;
    long len;

    if (kty == NULL || (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)) {
        hd_err_set(err, HD_EINVAL, "JWK: kty %s not supported",
                   kty ? kty : "(none)");
        return NULL;
    }
    pkey = pkey_from(jwk, kty, err);
    if (pkey == NULL)
        return NULL;
    bio = BIO_new(BIO_s_mem());
    if (bio != NULL && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
        len = BIO_get_mem_data(bio, &pem);
        k = hd_jwt_key_pem(pem, (size_t)len, err); /* checks size, curve */
    } else {
        hd_err_set(err, HD_EINVAL, "JWK: cannot encode the key");
    }
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return k;
}

int
hd_jwks_parse(const char *text, size_t len, struct hd_jwt_key **keys,
              char **kids, int max, struct hd_err *err)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    json_t *arr = json_object_get(doc, "keys");
    struct hd_err kerr;
    json_t *jwk;
    size_t i;
    int n = 0;

    if (!json_is_array(arr)) {
        json_decref(doc);
        return hd_err_set(err, HD_EINVAL, "not a JWKS: no \"keys\" array");
    }
    json_array_foreach(arr, i, jwk)
    {
        const char *use = json_string_value(json_object_get(jwk, "use"));
        const char *kid = json_string_value(json_object_get(jwk, "kid"));

        if (n >= max || !json_is_object(jwk) ||
            (use != NULL && strcmp(use, "sig") != 0))
            continue;
        keys[n] = hd_jwk_key(jwk, &kerr);
        if (keys[n] == NULL)
            continue; /* another kind of key: skipped */
        kids[n] = kid ? hd_xstrdup(kid) : NULL;
        n++;
    }
    json_decref(doc);
    return n;
}

/* ---- the set ---------------------------------------------------------- */

static void
set_put(struct jwks_set *set)
{
    int i;

    if (set == NULL || atomic_fetch_sub(&set->ref, 1) != 1)
        return;
    for (i = 0; i < set->n; i++) {
        hd_jwt_key_free(set->keys[i]);
        free(set->kids[i]);
    }
    free(set);
}

void
hd_jwks_put(void *ref)
{
    set_put(ref);
}

int
hd_jwks_get(struct hd_jwks *s, const char *kid, const struct hd_jwt_key **key,
            void **ref)
{
    struct jwks_set *set;
    int i, found = -1;

    pthread_mutex_lock(&s->mu);
    set = s->set;
    for (i = 0; set != NULL && i < set->n && found < 0; i++)
        if (kid == NULL
                ? set->n == 1
                : set->kids[i] != NULL && strcmp(set->kids[i], kid) == 0)
            found = i;
    if (found >= 0) {
        atomic_fetch_add(&set->ref, 1);
    } else {
        s->want = 1; /* a rotation, perhaps: the thread refetches */
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (found < 0)
        return -1;
    *key = set->keys[found];
    *ref = set;
    return 0;
}

/* ---- fetching (refresh thread) ---------------------------------------- */

static int
read_source_file(const char *path, struct hd_buf *out, struct hd_err *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;

    if (f == NULL)
        return hd_err_set(err, HD_EIO, "%s: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (hd_buf_append(out, chunk, n, err) < 0) {
            fclose(f);
            return hd_err_wrap(err, "%s", path);
        }
    fclose(f);
    return 0;
}

static int
fetch(struct hd_jwks *s, struct hd_httpc *c, struct hd_buf *out,
      struct hd_err *err)
{
    struct hd_httpc_req req = {0};
    struct hd_httpc_reply rep;
    int rc;

    if (strncmp(s->source, "http://", 7) != 0 &&
        strncmp(s->source, "https://", 8) != 0)
        return read_source_file(s->source, out, err);
    req.method = "GET";
    req.url = s->source;
    req.headers[0] = "Accept: application/json";
    req.nheaders = 1;
    req.timeout_ms = s->timeout_ms;
    rc = hd_httpc_call(c, &req, &rep, err);
    if (rc == 0 && rep.status != 200)
        rc =
            hd_err_set(err, HD_EUPSTREAM, "%s: HTTP %d", s->source, rep.status);
    if (rc == 0)
        rc = hd_buf_append(out, rep.body.data, rep.body.len, err);
    hd_httpc_reply_release(&rep);
    return rc;
}

/* Fetches and swaps in a new set. 0, or -1 with err (the old set stays). */
static int
reload(struct hd_jwks *s, struct hd_httpc *c, struct hd_err *err)
{
    struct jwks_set *set, *old;
    struct hd_buf body;
    int n;

    hd_buf_init(&body, HD_JWKS_MAX_BODY);
    if (fetch(s, c, &body, err) < 0) {
        hd_buf_release(&body);
        return -1;
    }
    set = hd_xcalloc(1, sizeof(*set));
    atomic_init(&set->ref, 1);
    n = hd_jwks_parse(body.data ? body.data : "", body.len, set->keys,
                      set->kids, HD_JWKS_MAX_KEYS, err);
    hd_buf_release(&body);
    if (n <= 0) {
        free(set);
        return n < 0 ? -1
                     : hd_err_set(err, HD_EINVAL,
                                  "%s: no RS256/ES256 signing key", s->source);
    }
    set->n = n;
    pthread_mutex_lock(&s->mu);
    old = s->set;
    s->set = set;
    pthread_mutex_unlock(&s->mu);
    set_put(old);
    return 0;
}

static void
deadline_in(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* How long to sleep before the next fetch; 0: fetch now. Under mu. */
static uint64_t
until_next(const struct hd_jwks *s, uint64_t now)
{
    uint64_t due = s->last_ms + (uint64_t)s->refresh_ms;
    uint64_t soon = s->last_ms + (uint64_t)s->min_refresh_ms;

    if (s->want && soon < due)
        due = soon;
    return now >= due ? 0 : due - now;
}

static void *
refresher(void *arg)
{
    struct hd_jwks *s = arg;
    struct hd_httpc_config hc = {0};
    struct hd_httpc *c;
    struct hd_err err = {0};
    struct timespec ts;
    uint64_t wait;
    int rc;

    hc.version = HD_HTTPC_HTTP1;
    hc.ca_file = s->ca_file;
    hc.timeout_ms = s->timeout_ms;
    c = hd_httpc_new(&hc, &err);
    rc = c != NULL ? reload(s, c, &err) : -1;
    pthread_mutex_lock(&s->mu);
    s->last_ms = hd_now_mono_ms();
    s->loaded = rc == 0 ? 1 : -1;
    s->first_err = err;
    pthread_cond_broadcast(&s->cv);
    while (rc == 0 && !s->stop) {
        wait = until_next(s, hd_now_mono_ms());
        if (wait > 0) {
            deadline_in(&ts, wait);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        s->want = 0;
        s->last_ms = hd_now_mono_ms();
        pthread_mutex_unlock(&s->mu);
        reload(s, c, &err); /* a failure keeps the keys we have */
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    hd_httpc_free(c);
    return NULL;
}

/* ---- lifecycle -------------------------------------------------------- */

struct hd_jwks *
hd_jwks_new(const struct hd_jwks_config *cfg, struct hd_err *err)
{
    struct hd_jwks *s;

    if (cfg->source == NULL || *cfg->source == '\0') {
        hd_err_set(err, HD_EINVAL, "JWKS: no URL or file");
        return NULL;
    }
    s = hd_xcalloc(1, sizeof(*s));
    s->source = hd_xstrdup(cfg->source);
    s->ca_file =
        cfg->ca_file && *cfg->ca_file ? hd_xstrdup(cfg->ca_file) : NULL;
    s->refresh_ms = (cfg->refresh_s > 0 ? cfg->refresh_s : 3600) * 1000;
    s->min_refresh_ms =
        (cfg->min_refresh_s > 0 ? cfg->min_refresh_s : 30) * 1000;
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000;
    pthread_mutex_init(&s->mu, NULL);
    hd_thread_cond_init(&s->cv);
    if (pthread_create(&s->thread, NULL, refresher, s) != 0) {
        hd_err_set(err, HD_EIO, "JWKS: cannot start its thread");
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s->source);
        free(s->ca_file);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    while (s->loaded == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->loaded < 0) {
        if (err)
            *err = s->first_err;
        hd_err_wrap(err, "JWKS %s", cfg->source);
        hd_jwks_free(s);
        return NULL;
    }
    return s;
}

void
hd_jwks_free(struct hd_jwks *s)
{
    if (s == NULL)
        return;
    hd_thread_stop(s->thread, &s->mu, &s->cv, &s->stop);
    set_put(s->set);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->source);
    free(s->ca_file);
    free(s);
}
