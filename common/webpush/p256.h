/* p256.h -- raw P-256 keys as Web Push writes them: a public key is the
 * 65-byte uncompressed point (0x04 || X || Y), a private key the 32-byte
 * scalar.
 *
 * Wraps the few OpenSSL 3 EVP_PKEY calls every Web Push module needs
 * (subscription keys, VAPID keys, ephemeral keys), so the rest of the code
 * never builds OSSL_PARAM arrays. Keys returned here are new (free them
 * with EVP_PKEY_free()). Thread-safe. */
#ifndef HD_P256_H
#define HD_P256_H

#include <stddef.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/err.h"

#define HD_P256_PUB_LEN 65  /* uncompressed point */
#define HD_P256_PRIV_LEN 32 /* scalar */

/* new: a fresh key pair. NULL with err when OpenSSL fails. */
EVP_PKEY *hd_p256_generate(struct hd_err *err);

/* new: a public key from a 65-byte point. The point must be uncompressed
 * and on the curve; with full != 0 also checked to be of the group's order
 * (costs a scalar multiplication: registration, not the send path). NULL
 * with err (HD_EINVAL) otherwise. */
EVP_PKEY *hd_p256_public(const unsigned char *pub, size_t len, int full,
                         struct hd_err *err);

/* new: a key pair from a 32-byte private scalar; the public point is
 * derived. NULL with err (HD_EINVAL) for a scalar out of range. */
EVP_PKEY *hd_p256_private(const unsigned char *priv, size_t len,
                          struct hd_err *err);

/* Writes the key's 65-byte public point. 0 or -1 with err. */
int hd_p256_get_public(const EVP_PKEY *k, unsigned char out[HD_P256_PUB_LEN],
                       struct hd_err *err);

/* Writes the key's 32-byte private scalar (left-padded). 0 or -1. */
int hd_p256_get_private(const EVP_PKEY *k, unsigned char out[HD_P256_PRIV_LEN],
                        struct hd_err *err);

/* Appends the key as PEM to out: the private key (PKCS#8), or with pub
 * the public key (SubjectPublicKeyInfo). 0 or -1 with err. */
int hd_p256_pem(const EVP_PKEY *k, int pub, struct hd_buf *out,
                struct hd_err *err);

/* Decodes base64url text that must be exactly want bytes into out.
 * 0, or -1 with err naming what (HD_EINVAL). */
int hd_p256_b64_exact(const char *text, size_t len, unsigned char *out,
                      size_t want, const char *what, struct hd_err *err);

#endif
