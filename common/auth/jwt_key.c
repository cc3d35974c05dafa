/* jwt_key.c -- JWS keys and raw signatures: HS256 secrets, RS256 and
 * ES256 keys from PEM, and signing or checking bytes under one of them.
 *
 * Only the EVP, PEM and ECDSA_SIG interfaces are used, none deprecated in
 * OpenSSL 3. The key decides the algorithm (HS256 for a secret, RS256 or
 * ES256 from the PEM key's type); it knows nothing of the token's
 * segments or claims (jwt.c). Every OpenSSL failure path clears the
 * thread's error queue, so it cannot leak into a later TLS call on that
 * thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/json.h"
#include "auth/jwt.h"
#include "auth/jwt_private.h"
#include "core/limits.h"
#include "core/banned.h"

#define ES256_HALF 32    /* bytes in R and in S for P-256 */
#define ES256_DER_MAX 72 /* SEQUENCE of two 33-byte INTEGERs, with headers */
#define HS256_LEN 32
#define RSA_MIN_BITS 2048

struct hd_jwt_key {
    enum hd_jwt_alg alg;
    int can_sign;
    unsigned char *secret; /* HS256 only */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256 and ES256 only */
};

/* ---- keys ---------------------------------------------------------- */

struct hd_jwt_key *
hd_jwt_key_hmac(const void *secret, size_t len, struct hd_err *err)
{
    struct hd_jwt_key *k;

    if (secret == NULL || len == 0) {
        hd_err_set(err, HD_EINVAL, "HMAC secret is empty");
        return NULL;
    }
    k = hd_xcalloc(1, sizeof(*k));
    k->alg = HD_JWT_HS256;
    k->can_sign = 1;
    k->secret = hd_xmemdup(secret, len);
    k->secret_len = len;
    return k;
}

/* Refuses what we cannot sign or verify with: keeps RSA of at least 2048
 * bits (RS256) and EC on P-256 (ES256). RSA-PSS keys are refused because
 * they forbid the PKCS#1 v1.5 padding RS256 uses. */
static int
key_alg(EVP_PKEY *pkey, enum hd_jwt_alg *alg, struct hd_err *err)
{
    char group[64];
    size_t glen = 0;
    int nid;

    if (EVP_PKEY_is_a(pkey, "RSA")) {
        if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
            return hd_err_set(err, HD_EINVAL,
                              "RSA key of %d bits: at least %d required",
                              EVP_PKEY_get_bits(pkey), RSA_MIN_BITS);
        *alg = HD_JWT_RS256;
        return 0;
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
            return hd_err_set(err, HD_EINVAL, "EC key without a named curve");
        nid = OBJ_sn2nid(group);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(group);
        if (nid != NID_X9_62_prime256v1)
            return hd_err_set(err, HD_EINVAL,
                              "EC key on curve %s: only P-256 (ES256) is "
                              "supported",
                              group);
        *alg = HD_JWT_ES256;
        return 0;
    }
    return hd_err_set(err, HD_EINVAL, "unsupported key type %s",
                      EVP_PKEY_get0_type_name(pkey)
                          ? EVP_PKEY_get0_type_name(pkey)
                          : "(unknown)");
}

/* Never prompts on a terminal for a passphrase: encrypted keys fail. */
static int
no_passphrase(char *buf, int size, int rwflag, void *ud)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)ud;
    return -1;
}

enum pem_kind { PEM_NONE, PEM_PRIV, PEM_PUB, PEM_CERT, PEM_ENCRYPTED };

static enum pem_kind
pem_label_kind(const char *label, size_t n)
{
    static const struct {
        const char *label;
        enum pem_kind kind;
    } labels[] = {
        {"PRIVATE KEY", PEM_PRIV},     /* PKCS#8: APNs .p8, Google SA */
        {"RSA PRIVATE KEY", PEM_PRIV}, /* traditional PKCS#1 */
        {"EC PRIVATE KEY", PEM_PRIV},  /* traditional SEC 1 */
        {"ENCRYPTED PRIVATE KEY", PEM_ENCRYPTED},
        {"PUBLIC KEY", PEM_PUB}, /* SubjectPublicKeyInfo */
        {"CERTIFICATE", PEM_CERT},
    };
    size_t i;

    for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        if (strlen(labels[i].label) == n &&
            memcmp(labels[i].label, label, n) == 0)
            return labels[i].kind;
    }
    return PEM_NONE;
}

struct pem_block {
    const char *start;
    size_t len;
    enum pem_kind kind;
};

/* Finds the block to load: the first private key if there is one (it can
 * sign), else the first public key, else the first certificate (the leaf
 * of a chain). Other blocks ("EC PARAMETERS" before an EC key) are
 * skipped, so OpenSSL only ever sees the one block we chose. */
static int
pem_pick(const char *pem, size_t len, struct pem_block *out, struct hd_err *err)
{
    static const char begin[] = "-----BEGIN ";
    static const char dashes[] = "-----";
    struct pem_block best = {NULL, 0, PEM_NONE};
    const char *p = pem;
    const char *end = pem + len;

    for (;;) {
        const char *b = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1);
        const char *label;
        const char *lend;
        const char *e;
        char endline[64];
        size_t llen;
        enum pem_kind kind;
        int n;

        if (b == NULL)
            break;
        label = b + sizeof(begin) - 1;
        lend = memmem(label, (size_t)(end - label), dashes, sizeof(dashes) - 1);
        if (lend == NULL)
            break;
        llen = (size_t)(lend - label);
        if (llen > 32) { /* longer than any label we know */
            p = lend;
            continue;
        }
        n = snprintf(endline, sizeof(endline), "-----END %.*s-----", (int)llen,
                     label);
        e = memmem(lend, (size_t)(end - lend), endline, (size_t)n);
        if (e == NULL)
            break;
        kind = pem_label_kind(label, llen);
        if (kind == PEM_ENCRYPTED)
            return hd_err_set(err, HD_EINVAL,
                              "encrypted private keys are not supported");
        if (kind != PEM_NONE && (best.kind == PEM_NONE || kind < best.kind)) {
            best.start = b;
            best.len = (size_t)(e + n - b);
            best.kind = kind;
        }
        p = e + n;
    }
    if (best.kind == PEM_NONE)
        return hd_err_set(err, HD_EINVAL,
                          "no PEM private key, public key or certificate");
    *out = best;
    return 0;
}

struct hd_jwt_key *
hd_jwt_key_pem(const char *pem, size_t len, struct hd_err *err)
{
    struct hd_jwt_key *k = NULL;
    struct pem_block blk = {NULL, 0, PEM_NONE};
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    BIO *bio = NULL;
    enum hd_jwt_alg alg = HD_JWT_HS256;

    if (pem == NULL || len > HD_JWT_MAX_PEM) {
        hd_err_set(err, HD_EINVAL, "PEM text missing or over %d bytes",
                   HD_JWT_MAX_PEM);
        return NULL;
    }
    if (pem_pick(pem, len, &blk, err) < 0)
        return NULL;
    bio = BIO_new_mem_buf(blk.start, (int)blk.len);
    if (bio == NULL) {
        hd_err_set(err, HD_EINVAL, "BIO_new_mem_buf failed");
        goto out;
    }
    if (blk.kind == PEM_PRIV) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    } else if (blk.kind == PEM_PUB) {
        pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    } else {
        cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (cert)
            pkey = X509_get_pubkey(cert);
    }
    if (pkey == NULL) {
        hd_err_set(err, HD_EINVAL, "cannot parse PEM %s",
                   blk.kind == PEM_PRIV  ? "private key"
                   : blk.kind == PEM_PUB ? "public key"
                                         : "certificate");
        goto out;
    }
    if (key_alg(pkey, &alg, err) < 0)
        goto out;
    k = hd_xcalloc(1, sizeof(*k));
    k->alg = alg;
    k->can_sign = blk.kind == PEM_PRIV;
    k->pkey = pkey;
    pkey = NULL;

out:
    if (k == NULL)
        ERR_clear_error();
    EVP_PKEY_free(pkey);
    X509_free(cert);
    BIO_free(bio);
    return k;
}

/* Reads into one fixed buffer rather than a growing one, so no copy of
 * the private key is left behind by a realloc; the buffer is wiped. */
struct hd_jwt_key *
hd_jwt_key_pem_file(const char *path, struct hd_err *err)
{
    struct hd_jwt_key *k = NULL;
    char *text = NULL;
    size_t len = 0;
    size_t n;
    FILE *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        hd_err_set(err, HD_EIO, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    text = hd_xmalloc(HD_JWT_MAX_PEM + 1);
    while ((n = fread(text + len, 1, HD_JWT_MAX_PEM + 1 - len, f)) > 0) {
        len += n;
        if (len > HD_JWT_MAX_PEM) {
            hd_err_set(err, HD_ETOOBIG, "%s: larger than %d bytes", path,
                       HD_JWT_MAX_PEM);
            goto out;
        }
    }
    if (ferror(f)) {
        hd_err_set(err, HD_EIO, "read %s: %s", path, strerror(errno));
        goto out;
    }
    k = hd_jwt_key_pem(text, len, err);
    if (k == NULL)
        hd_err_wrap(err, "%s", path);

out:
    OPENSSL_cleanse(text, len);
    free(text);
    fclose(f);
    return k;
}

void
hd_jwt_key_free(struct hd_jwt_key *k)
{
    if (k == NULL)
        return;
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    free(k);
}

enum hd_jwt_alg
hd_jwt_key_alg(const struct hd_jwt_key *k)
{
    return k->alg;
}

int
hd_jwt_key_can_sign(const struct hd_jwt_key *k)
{
    return k->can_sign;
}

const char *
hd_jwt_alg_name(enum hd_jwt_alg alg)
{
    switch (alg) {
    case HD_JWT_HS256:
        return "HS256";
    case HD_JWT_RS256:
        return "RS256";
    case HD_JWT_ES256:
        return "ES256";
    }
    return "unknown";
}

/* ---- signatures ---------------------------------------------------- */

static int
hmac(const struct hd_jwt_key *k, const char *data, size_t len,
     unsigned char mac[HS256_LEN])
{
    size_t n = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret, k->secret_len,
                  (const unsigned char *)data, len, mac, HS256_LEN,
                  &n) == NULL ||
        n != HS256_LEN) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* DER ECDSA-Sig-Value -> the JOSE form: R and S, each left-padded to 32
 * bytes (RFC 7518 section 3.4). */
static int
es256_der_to_raw(const unsigned char *der, size_t len,
                 unsigned char raw[2 * ES256_HALF])
{
    const unsigned char *p = der;
    const BIGNUM *r;
    const BIGNUM *s;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int rc = -1;

    if (sig == NULL)
        return -1;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, ES256_HALF) == ES256_HALF &&
        BN_bn2binpad(s, raw + ES256_HALF, ES256_HALF) == ES256_HALF)
        rc = 0;
    ECDSA_SIG_free(sig);
    return rc;
}

/* R || S -> DER, for EVP_DigestVerify. */
static int
es256_raw_to_der(const unsigned char *raw, unsigned char der[ES256_DER_MAX],
                 size_t *derlen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, ES256_HALF, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_HALF, ES256_HALF, NULL);
    unsigned char *p = der;
    int n;
    int rc = -1;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
        goto out;
    r = NULL; /* owned by sig now */
    s = NULL;
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || n > ES256_DER_MAX)
        goto out;
    if (i2d_ECDSA_SIG(sig, &p) != n)
        goto out;
    *derlen = (size_t)n;
    rc = 0;

out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rc;
}

int
hd_jwt_key_sign_append(const struct hd_jwt_key *k, const char *data, size_t len,
                       struct hd_buf *out, struct hd_err *err)
{
    const unsigned char *in = (const unsigned char *)data;
    unsigned char mac[HS256_LEN];
    unsigned char raw[2 * ES256_HALF];
    unsigned char *der = NULL;
    EVP_MD_CTX *ctx = NULL;
    size_t derlen = 0;
    int rc = -1;

    if (k->alg == HD_JWT_HS256) {
        if (hmac(k, data, len, mac) < 0)
            return hd_err_set(err, HD_EINVAL, "HMAC-SHA256 failed");
        rc = hd_base64url_encode(mac, sizeof(mac), out, err);
        OPENSSL_cleanse(mac, sizeof(mac));
        return rc;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, NULL, &derlen, in, len) != 1) {
        hd_err_set(err, HD_EINVAL, "%s signing setup failed",
                   hd_jwt_alg_name(k->alg));
        goto out;
    }
    der = hd_xmalloc(derlen);
    if (EVP_DigestSign(ctx, der, &derlen, in, len) != 1) {
        hd_err_set(err, HD_EINVAL, "%s signing failed",
                   hd_jwt_alg_name(k->alg));
        goto out;
    }
    if (k->alg == HD_JWT_ES256) {
        if (es256_der_to_raw(der, derlen, raw) < 0) {
            hd_err_set(err, HD_EINVAL, "ES256 signature not a P-256 pair");
            goto out;
        }
        rc = hd_base64url_encode(raw, sizeof(raw), out, err);
    } else {
        rc = hd_base64url_encode(der, derlen, out, err);
    }

out:
    if (rc < 0)
        ERR_clear_error();
    free(der);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int
hd_jwt_key_sig_ok(const struct hd_jwt_key *k, const char *data, size_t len,
                  const unsigned char *sig, size_t siglen)
{
    const unsigned char *in = (const unsigned char *)data;
    unsigned char mac[HS256_LEN];
    unsigned char der[ES256_DER_MAX];
    EVP_MD_CTX *ctx = NULL;
    int ok = 0;

    if (k->alg == HD_JWT_HS256) {
        if (siglen != HS256_LEN || hmac(k, data, len, mac) < 0)
            return 0;
        ok = CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }
    if (k->alg == HD_JWT_ES256) {
        /* JOSE ES256 is exactly R || S; DER or any other length is not. */
        if (siglen != 2 * ES256_HALF || es256_raw_to_der(sig, der, &siglen) < 0)
            goto out;
        sig = der;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        goto out;
    ok = EVP_DigestVerify(ctx, sig, siglen, in, len) == 1;

out:
    if (!ok)
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return ok;
}
