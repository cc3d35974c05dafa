/* p256.c -- raw P-256 keys over OpenSSL 3 (EVP_PKEY_fromdata and the
 * EC_POINT arithmetic that derives a public point from a scalar).
 *
 * Nothing here logs: every function builds a key from bytes or bytes from
 * a key. The one state is a parameters-only P-256 key made once: a public
 * key is that template duplicated with its point set, a quarter of what a
 * full import costs (which builds the group again each time). */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "webpush/p256.h"
#include "core/banned.h"

static char group_name[] = "prime256v1";

EVP_PKEY *
hd_p256_generate(struct hd_err *err)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (k == NULL)
        hd_err_set(err, HD_EIO, "P-256 key generation failed");
    return k;
}

static EVP_PKEY *
from_params(OSSL_PARAM *p, int selection, struct hd_err *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &k, selection, p) <= 0) {
        EVP_PKEY_free(k);
        k = NULL;
        hd_err_set(err, HD_EINVAL, "not a P-256 key");
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static EVP_PKEY *group_template; /* P-256 parameters, no key */
static pthread_once_t template_once = PTHREAD_ONCE_INIT;

static void
template_init(void)
{
    OSSL_PARAM p[2];

    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                            group_name, 0);
    p[1] = OSSL_PARAM_construct_end();
    group_template = from_params(p, EVP_PKEY_KEY_PARAMETERS, NULL);
}

EVP_PKEY *
hd_p256_public(const unsigned char *pub, size_t len, int full,
               struct hd_err *err)
{
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *k;
    int ok;

    if (len != HD_P256_PUB_LEN || pub[0] != 0x04) {
        hd_err_set(err, HD_EINVAL,
                   "public key: not a 65-byte uncompressed P-256 point");
        return NULL;
    }
    pthread_once(&template_once, template_init);
    k = group_template ? EVP_PKEY_dup(group_template) : NULL;
    if (k == NULL || EVP_PKEY_set1_encoded_public_key(k, pub, len) != 1) {
        EVP_PKEY_free(k);
        hd_err_set(err, HD_EINVAL, "public key: not a point on P-256");
        return NULL;
    }
    if (!full) /* setting the point (EC_POINT_oct2point) checked the curve */
        return k;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(k);
        hd_err_set(err, HD_EINVAL, "public key: not a point on P-256");
        return NULL;
    }
    return k;
}

/* pub = priv * G, uncompressed. */
static int
derive_public(const BIGNUM *priv, unsigned char out[HD_P256_PUB_LEN])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
    BN_CTX *bn = BN_CTX_new();
    int ok = 0;

    if (pt != NULL && bn != NULL && !BN_is_zero(priv) &&
        BN_cmp(priv, EC_GROUP_get0_order(g)) < 0 &&
        EC_POINT_mul(g, pt, priv, NULL, NULL, bn) == 1 &&
        EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, out,
                           HD_P256_PUB_LEN, bn) == HD_P256_PUB_LEN)
        ok = 1;
    BN_CTX_free(bn);
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok ? 0 : -1;
}

EVP_PKEY *
hd_p256_private(const unsigned char *priv, size_t len, struct hd_err *err)
{
    unsigned char pub[HD_P256_PUB_LEN];
    OSSL_PARAM p[4];
    BIGNUM *bn;
    EVP_PKEY *k = NULL;

    if (len != HD_P256_PRIV_LEN) {
        hd_err_set(err, HD_EINVAL, "private key: not 32 bytes");
        return NULL;
    }
    bn = BN_bin2bn(priv, (int)len, NULL);
    if (bn == NULL || derive_public(bn, pub) < 0) {
        hd_err_set(err, HD_EINVAL, "private key: out of range for P-256");
        goto out;
    }
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                            group_name, 0);
    /* OSSL_PARAM integers are in native byte order */
    {
        unsigned char native[HD_P256_PRIV_LEN];

        if (BN_bn2nativepad(bn, native, sizeof(native)) < 0) {
            hd_err_set(err, HD_EINVAL, "private key: out of range");
            goto out;
        }
        p[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, native,
                                       sizeof(native));
        p[2] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                 sizeof(pub));
        p[3] = OSSL_PARAM_construct_end();
        k = from_params(p, EVP_PKEY_KEYPAIR, err);
        OPENSSL_cleanse(native, sizeof(native));
    }
out:
    BN_clear_free(bn);
    return k;
}

int
hd_p256_get_public(const EVP_PKEY *k, unsigned char out[HD_P256_PUB_LEN],
                   struct hd_err *err)
{
    size_t n = 0;

    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        out, HD_P256_PUB_LEN, &n) != 1 ||
        n != HD_P256_PUB_LEN || out[0] != 0x04)
        return hd_err_set(err, HD_EINVAL, "no uncompressed P-256 public key");
    return 0;
}

int
hd_p256_get_private(const EVP_PKEY *k, unsigned char out[HD_P256_PRIV_LEN],
                    struct hd_err *err)
{
    BIGNUM *bn = NULL;
    int rc = 0;

    if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
        BN_bn2binpad(bn, out, HD_P256_PRIV_LEN) != HD_P256_PRIV_LEN)
        rc = hd_err_set(err, HD_EINVAL, "no P-256 private key");
    BN_clear_free(bn);
    return rc;
}

int
hd_p256_pem(const EVP_PKEY *k, int pub, struct hd_buf *out, struct hd_err *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    int rc = -1;

    if (b == NULL || (pub ? PEM_write_bio_PUBKEY(b, k)
                          : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
                                                     NULL)) != 1) {
        hd_err_set(err, HD_EIO, "cannot write the key as PEM");
        goto out;
    }
    n = BIO_get_mem_data(b, &p);
    rc = hd_buf_append(out, p, (size_t)n, err);
out:
    BIO_free(b);
    return rc;
}

int
hd_p256_b64_exact(const char *text, size_t len, unsigned char *out, size_t want,
                  const char *what, struct hd_err *err)
{
    struct hd_buf b;
    int rc = 0;

    hd_buf_init(&b, want + 3);
    if (hd_base64url_decode(text, len, &b, NULL) < 0)
        rc = hd_err_set(err, HD_EINVAL, "%s: not base64url", what);
    else if (b.len != want)
        rc = hd_err_set(err, HD_EINVAL, "%s: %zu bytes, want %zu", what, b.len,
                        want);
    else
        memcpy(out, b.data, want);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    hd_buf_release(&b);
    return rc;
}
