/* ece.c -- RFC 8291 / RFC 8188 aes128gcm with OpenSSL 3 EVP (EVP_PKEY for
 * key generation and ECDH, EVP_MAC HMAC-SHA-256 for the HKDF steps,
 * EVP_CIPHER AES-128-GCM).
 *
 * HKDF here is written out as its HMAC steps, because every expansion is a
 * single block (RFC 8291 section 3.4): PRK = HMAC(salt, IKM) and
 * OKM = HMAC(PRK, info || 0x01). Only one record is written or read: push
 * services take a 4096-byte body, which one record of rs 4096 holds. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "core/alloc.h"
#include "core/rand.h"
#include "webpush/ece.h"
#include "core/banned.h"

#define SHA256_LEN 32
#define ECDH_LEN 32
#define CEK_LEN 16
#define NONCE_LEN 12
#define DELIM_LAST 0x02
#define DELIM_MORE 0x01

static const char key_label[] = "WebPush: info";              /* + NUL */
static const char cek_info[] = "Content-Encoding: aes128gcm"; /* + NUL 01 */
static const char nonce_info[] = "Content-Encoding: nonce";   /* + NUL 01 */
static const unsigned char zeros[HD_ECE_BODY_MAX];
static char sha256_name[] = "SHA256";

struct hd_ece {
    EVP_MAC *mac;
    EVP_MAC_CTX *hmac;
    EVP_CIPHER *aes;
    EVP_CIPHER_CTX *cctx;
    EVP_PKEY_CTX *keygen;
};

struct hd_ece *
hd_ece_new(struct hd_err *err)
{
    struct hd_ece *e = hd_xcalloc(1, sizeof(*e));
    OSSL_PARAM p[2];

    p[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256_name, 0);
    p[1] = OSSL_PARAM_construct_end();
    e->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    e->hmac = e->mac ? EVP_MAC_CTX_new(e->mac) : NULL;
    e->aes = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    e->cctx = EVP_CIPHER_CTX_new();
    e->keygen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (e->hmac == NULL || EVP_MAC_CTX_set_params(e->hmac, p) != 1 ||
        e->aes == NULL || e->cctx == NULL || e->keygen == NULL ||
        EVP_PKEY_keygen_init(e->keygen) <= 0 ||
        EVP_PKEY_CTX_set_group_name(e->keygen, "P-256") <= 0) {
        hd_ece_free(e);
        hd_err_set(err, HD_EIO,
                   "OpenSSL lacks HMAC-SHA-256, AES-128-GCM or P-256");
        return NULL;
    }
    return e;
}

void
hd_ece_free(struct hd_ece *e)
{
    if (e == NULL)
        return;
    EVP_PKEY_CTX_free(e->keygen);
    EVP_CIPHER_CTX_free(e->cctx);
    EVP_CIPHER_free(e->aes);
    EVP_MAC_CTX_free(e->hmac);
    EVP_MAC_free(e->mac);
    free(e);
}

/* out = HMAC-SHA-256(key, a || b || c); any part may be empty. */
static int
hmac3(struct hd_ece *e, const unsigned char *key, size_t klen, const void *a,
      size_t alen, const void *b, size_t blen, const void *c, size_t clen,
      unsigned char out[SHA256_LEN])
{
    size_t n = 0;

    if (EVP_MAC_init(e->hmac, key, klen, NULL) != 1 ||
        (alen && EVP_MAC_update(e->hmac, a, alen) != 1) ||
        (blen && EVP_MAC_update(e->hmac, b, blen) != 1) ||
        (clen && EVP_MAC_update(e->hmac, c, clen) != 1) ||
        EVP_MAC_final(e->hmac, out, &n, SHA256_LEN) != 1 || n != SHA256_LEN)
        return -1;
    return 0;
}

static int
ecdh(EVP_PKEY *priv, EVP_PKEY *peer, unsigned char out[ECDH_LEN])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    size_t n = ECDH_LEN;
    int rc = -1;

    /* the peer's point was checked when its key was built */
    if (ctx != NULL && EVP_PKEY_derive_init(ctx) > 0 &&
        EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) > 0 &&
        EVP_PKEY_derive(ctx, out, &n) > 0 && n == ECDH_LEN)
        rc = 0;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* RFC 8291 section 3.4 then RFC 8188 section 2.2: the content-encryption
 * key and nonce of the record. */
static int
derive(struct hd_ece *e, const unsigned char secret[ECDH_LEN],
       const unsigned char auth[HD_ECE_AUTH_LEN],
       const unsigned char ua_pub[HD_P256_PUB_LEN],
       const unsigned char as_pub[HD_P256_PUB_LEN],
       const unsigned char salt[HD_ECE_SALT_LEN], unsigned char cek[CEK_LEN],
       unsigned char nonce[NONCE_LEN])
{
    unsigned char prk_key[SHA256_LEN], ikm[SHA256_LEN], prk[SHA256_LEN];
    unsigned char info[sizeof(key_label) + 2 * HD_P256_PUB_LEN + 1], t[32];
    size_t n = 0;
    int rc = -1;

    memcpy(info, key_label, sizeof(key_label)); /* with its NUL */
    n = sizeof(key_label);
    memcpy(info + n, ua_pub, HD_P256_PUB_LEN);
    n += HD_P256_PUB_LEN;
    memcpy(info + n, as_pub, HD_P256_PUB_LEN);
    n += HD_P256_PUB_LEN;
    info[n++] = 0x01;
    if (hmac3(e, auth, HD_ECE_AUTH_LEN, secret, ECDH_LEN, NULL, 0, NULL, 0,
              prk_key) < 0 ||
        hmac3(e, prk_key, SHA256_LEN, info, n, NULL, 0, NULL, 0, ikm) < 0 ||
        hmac3(e, salt, HD_ECE_SALT_LEN, ikm, SHA256_LEN, NULL, 0, NULL, 0,
              prk) < 0 ||
        hmac3(e, prk, SHA256_LEN, cek_info, sizeof(cek_info), "\x01", 1, NULL,
              0, t) < 0)
        goto out;
    memcpy(cek, t, CEK_LEN);
    if (hmac3(e, prk, SHA256_LEN, nonce_info, sizeof(nonce_info), "\x01", 1,
              NULL, 0, t) < 0)
        goto out;
    memcpy(nonce, t, NONCE_LEN);
    rc = 0;
out:
    OPENSSL_cleanse(prk_key, sizeof(prk_key));
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(t, sizeof(t));
    return rc;
}

/* The record: AES-128-GCM(plain || 0x02 || pad zeros) || tag, into rec. */
static int
seal(struct hd_ece *e, const unsigned char cek[CEK_LEN],
     const unsigned char nonce[NONCE_LEN], const void *plain, size_t len,
     size_t pad, unsigned char *rec)
{
    static const unsigned char last = DELIM_LAST;
    int n = 0, total = 0;

    if (EVP_EncryptInit_ex2(e->cctx, e->aes, cek, nonce, NULL) != 1)
        return -1;
    if (len > 0) {
        if (EVP_EncryptUpdate(e->cctx, rec, &n, plain, (int)len) != 1)
            return -1;
        total += n;
    }
    if (EVP_EncryptUpdate(e->cctx, rec + total, &n, &last, 1) != 1)
        return -1;
    total += n;
    if (pad > 0) {
        if (EVP_EncryptUpdate(e->cctx, rec + total, &n, zeros, (int)pad) != 1)
            return -1;
        total += n;
    }
    if (EVP_EncryptFinal_ex(e->cctx, rec + total, &n) != 1)
        return -1;
    total += n;
    if (EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_GCM_GET_TAG, HD_ECE_TAG_LEN,
                            rec + total) != 1)
        return -1;
    return total + HD_ECE_TAG_LEN;
}

int
hd_ece_encrypt_with(struct hd_ece *e, EVP_PKEY *ua_public,
                    const unsigned char auth[HD_ECE_AUTH_LEN], EVP_PKEY *as_key,
                    const unsigned char salt[HD_ECE_SALT_LEN],
                    const void *plain, size_t len, size_t pad,
                    struct hd_buf *out, struct hd_err *err)
{
    unsigned char body[HD_ECE_BODY_MAX];
    unsigned char ua_pub[HD_P256_PUB_LEN], as_pub[HD_P256_PUB_LEN];
    unsigned char secret[ECDH_LEN], cek[CEK_LEN], nonce[NONCE_LEN];
    int n, rc = -1;

    if (len > HD_ECE_PLAIN_MAX || pad > HD_ECE_PLAIN_MAX - len)
        return hd_err_set(err, HD_ETOOBIG,
                          "payload: %zu bytes, at most %d fit one record",
                          len + pad, HD_ECE_PLAIN_MAX);
    if (hd_p256_get_public(ua_public, ua_pub, err) < 0 ||
        hd_p256_get_public(as_key, as_pub, err) < 0)
        return -1;
    if (ecdh(as_key, ua_public, secret) < 0 ||
        derive(e, secret, auth, ua_pub, as_pub, salt, cek, nonce) < 0) {
        hd_err_set(err, HD_EIO, "key derivation failed");
        goto out;
    }
    memcpy(body, salt, HD_ECE_SALT_LEN);
    body[16] = (HD_ECE_RS >> 24) & 0xff;
    body[17] = (HD_ECE_RS >> 16) & 0xff;
    body[18] = (HD_ECE_RS >> 8) & 0xff;
    body[19] = HD_ECE_RS & 0xff;
    body[20] = HD_P256_PUB_LEN;
    memcpy(body + 21, as_pub, HD_P256_PUB_LEN);
    n = seal(e, cek, nonce, plain, len, pad, body + HD_ECE_HEADER_LEN);
    if (n < 0) {
        hd_err_set(err, HD_EIO, "AES-128-GCM failed");
        goto out;
    }
    rc = hd_buf_append(out, body, HD_ECE_HEADER_LEN + (size_t)n, err);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(cek, sizeof(cek));
    return rc;
}

int
hd_ece_encrypt(struct hd_ece *e, EVP_PKEY *ua_public,
               const unsigned char auth[HD_ECE_AUTH_LEN], const void *plain,
               size_t len, size_t pad, struct hd_buf *out, struct hd_err *err)
{
    unsigned char salt[HD_ECE_SALT_LEN];
    EVP_PKEY *as_key = NULL;
    int rc;

    if (EVP_PKEY_generate(e->keygen, &as_key) <= 0)
        return hd_err_set(err, HD_EIO, "P-256 key generation failed");
    hd_random_bytes(salt, sizeof(salt));
    rc = hd_ece_encrypt_with(e, ua_public, auth, as_key, salt, plain, len, pad,
                             out, err);
    EVP_PKEY_free(as_key);
    return rc;
}

/* Decrypts rec (ciphertext || tag) into plain; returns the padded
 * plaintext length or -1 when the tag does not match. */
static int
open_record(struct hd_ece *e, const unsigned char cek[CEK_LEN],
            const unsigned char nonce[NONCE_LEN], const unsigned char *rec,
            size_t len, unsigned char *plain)
{
    size_t clen = len - HD_ECE_TAG_LEN;
    int n = 0, total = 0;

    if (EVP_DecryptInit_ex2(e->cctx, e->aes, cek, nonce, NULL) != 1 ||
        EVP_DecryptUpdate(e->cctx, plain, &n, rec, (int)clen) != 1)
        return -1;
    total = n;
    if (EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_GCM_SET_TAG, HD_ECE_TAG_LEN,
                            (void *)(uintptr_t)(rec + clen)) != 1 ||
        EVP_DecryptFinal_ex(e->cctx, plain + total, &n) != 1)
        return -1;
    return total + n;
}

int
hd_ece_decrypt(struct hd_ece *e, EVP_PKEY *ua_key,
               const unsigned char auth[HD_ECE_AUTH_LEN], const void *bodyp,
               size_t len, struct hd_buf *out, struct hd_err *err)
{
    const unsigned char *body = bodyp, *rec;
    unsigned char ua_pub[HD_P256_PUB_LEN], plain[HD_ECE_BODY_MAX];
    unsigned char secret[ECDH_LEN], cek[CEK_LEN], nonce[NONCE_LEN];
    EVP_PKEY *as_key = NULL;
    uint32_t rs;
    size_t rlen;
    int n, rc = -1;

    if (len < HD_ECE_HEADER_LEN)
        return hd_err_set(err, HD_EINVAL, "body: shorter than its header");
    rs = (uint32_t)body[16] << 24 | (uint32_t)body[17] << 16 |
         (uint32_t)body[18] << 8 | body[19];
    if (body[20] != HD_P256_PUB_LEN)
        return hd_err_set(err, HD_EINVAL, "body: key id is not a P-256 point");
    rec = body + HD_ECE_HEADER_LEN;
    rlen = len - HD_ECE_HEADER_LEN;
    if (rs < 18)
        return hd_err_set(err, HD_EINVAL, "body: record size %u", rs);
    if (rlen > rs || rlen > sizeof(plain))
        return hd_err_set(err, HD_EINVAL, "body: more than one record");
    if (rlen < HD_ECE_TAG_LEN + 1)
        return hd_err_set(err, HD_EINVAL, "body: record too short");
    as_key = hd_p256_public(body + 21, HD_P256_PUB_LEN, 0, err);
    if (as_key == NULL)
        return -1;
    if (hd_p256_get_public(ua_key, ua_pub, err) < 0)
        goto out;
    if (ecdh(ua_key, as_key, secret) < 0 ||
        derive(e, secret, auth, ua_pub, body + 21, body, cek, nonce) < 0) {
        hd_err_set(err, HD_EIO, "key derivation failed");
        goto out;
    }
    n = open_record(e, cek, nonce, rec, rlen, plain);
    if (n < 0) {
        hd_err_set(err, HD_EINVAL, "body: decryption failed (bad keys or tag)");
        goto out;
    }
    while (n > 0 && plain[n - 1] == 0)
        n--;
    if (n == 0 || plain[n - 1] != DELIM_LAST) {
        hd_err_set(err, HD_EINVAL, "body: %s",
                   n > 0 && plain[n - 1] == DELIM_MORE ? "not the last record"
                                                       : "no record delimiter");
        goto out;
    }
    rc = hd_buf_append(out, plain, (size_t)n - 1, err);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(cek, sizeof(cek));
    EVP_PKEY_free(as_key);
    return rc;
}
