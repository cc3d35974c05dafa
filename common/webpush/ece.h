/* ece.h -- Web Push message encryption: RFC 8291 key derivation with the
 * RFC 8188 "aes128gcm" content coding, one record.
 *
 * A struct hd_ece holds the OpenSSL objects that are costly to fetch (the
 * HMAC, the cipher, a key-generation context), so one message costs one
 * key generation, one ECDH and one AES-GCM pass. It is not thread-safe:
 * one per thread. Encryption is what the worker sends; decryption is what
 * a browser does (herald-sim and the tests use it). */
#ifndef HD_ECE_H
#define HD_ECE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/err.h"
#include "webpush/p256.h"

#define HD_ECE_AUTH_LEN 16 /* the subscription's auth secret */
#define HD_ECE_SALT_LEN 16
#define HD_ECE_TAG_LEN 16
/* salt (16) || rs (4) || idlen (1) || keyid = the sender's point (65) */
#define HD_ECE_HEADER_LEN (HD_ECE_SALT_LEN + 4 + 1 + HD_P256_PUB_LEN)
#define HD_ECE_BODY_MAX 4096 /* what push services accept */
#define HD_ECE_RS HD_ECE_BODY_MAX
/* Largest plaintext: the body, less header, delimiter and tag (3993). */
#define HD_ECE_PLAIN_MAX                                                       \
    (HD_ECE_BODY_MAX - HD_ECE_HEADER_LEN - 1 - HD_ECE_TAG_LEN)

struct hd_ece;

/* new: NULL with err when OpenSSL lacks HMAC, SHA-256 or AES-128-GCM. */
struct hd_ece *hd_ece_new(struct hd_err *err);
void hd_ece_free(struct hd_ece *e); /* NULL is a no-op */

/* Encrypts len bytes of plain for the subscription (ua_public: its p256dh
 * point, already checked with hd_p256_public(); auth: its 16-byte secret)
 * with a fresh key pair and salt, adding pad zero bytes of padding, and
 * appends the whole body (header and record) to out. -1 with err when
 * len + pad passes HD_ECE_PLAIN_MAX (HD_ETOOBIG) or OpenSSL fails. */
int hd_ece_encrypt(struct hd_ece *e, EVP_PKEY *ua_public,
                   const unsigned char auth[HD_ECE_AUTH_LEN], const void *plain,
                   size_t len, size_t pad, struct hd_buf *out,
                   struct hd_err *err);

/* The same with the sender's key pair and salt given (tests: the RFC 8291
 * Appendix A vector). */
int hd_ece_encrypt_with(struct hd_ece *e, EVP_PKEY *ua_public,
                        const unsigned char auth[HD_ECE_AUTH_LEN],
                        EVP_PKEY *as_key,
                        const unsigned char salt[HD_ECE_SALT_LEN],
                        const void *plain, size_t len, size_t pad,
                        struct hd_buf *out, struct hd_err *err);

/* The browser's side: decrypts a body for the subscription whose key pair
 * is ua_key, removes the padding and appends the plaintext to out. -1 with
 * err (HD_EINVAL: truncated header, bad key id, more than one record,
 * authentication failure, bad padding). */
int hd_ece_decrypt(struct hd_ece *e, EVP_PKEY *ua_key,
                   const unsigned char auth[HD_ECE_AUTH_LEN], const void *body,
                   size_t len, struct hd_buf *out, struct hd_err *err);

#endif
