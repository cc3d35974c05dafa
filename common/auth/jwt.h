/* jwt.h -- JSON Web Tokens: sign and verify HS256, RS256 and ES256 with
 * OpenSSL.
 *
 * A key knows its algorithm (an HMAC secret is HS256, an RSA key RS256, a
 * P-256 key ES256); verification refuses a token whose "alg" differs from
 * the key's, and "none" always, so no algorithm-confusion attack works.
 * ES256 signatures are raw R||S (64 bytes), as JOSE and APNs require, not
 * DER. Keys are immutable after creation and may be shared between
 * threads; every function here is thread-safe.
 *
 * common/auth/ owns token verification: this JWT layer and the user access
 * tokens built on it (usertoken.h) for the hub and the device endpoints.
 */
#ifndef HD_JWT_H
#define HD_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* The "aud" of the relay's installation access tokens: the relay requires
 * it, user-token verification refuses it, so neither kind of token is
 * accepted in place of the other even where both share a secret. */
#define HD_JWT_AUD_RELAY "herald-relay"

enum hd_jwt_alg {
    HD_JWT_HS256,
    HD_JWT_RS256,
    HD_JWT_ES256,
};

struct hd_jwt_key;

/* new: an HS256 key from secret bytes (copied; at least 1 byte). */
struct hd_jwt_key *hd_jwt_key_hmac(const void *secret, size_t len,
                                   struct hd_err *err);

/* new: an RS256 or ES256 key from PEM text: a private key (PKCS#8,
 * traditional RSA/EC, as in a service-account JSON or an APNs .p8) can sign
 * and verify; a public key or certificate can only verify. NULL with err
 * for anything else (other curves, DSA, garbage). */
struct hd_jwt_key *hd_jwt_key_pem(const char *pem, size_t len,
                                  struct hd_err *err);

/* new: same as hd_jwt_key_pem() reading a file (at most 64 KiB). */
struct hd_jwt_key *hd_jwt_key_pem_file(const char *path, struct hd_err *err);

void hd_jwt_key_free(struct hd_jwt_key *k);

enum hd_jwt_alg hd_jwt_key_alg(const struct hd_jwt_key *k);

/* 1 if the key holds private material (can sign). */
int hd_jwt_key_can_sign(const struct hd_jwt_key *k);

/* "HS256", "RS256", "ES256". */
const char *hd_jwt_alg_name(enum hd_jwt_alg alg);

/* Appends a compact JWS to out: header {"alg":...,"typ":"JWT"} plus "kid"
 * when kid is not NULL; claims serialised compactly (not stolen). Returns
 * 0, or -1 with err (key cannot sign, out too small). */
int hd_jwt_sign(const struct hd_jwt_key *k, const char *kid, json_t *claims,
                struct hd_buf *out, struct hd_err *err);

struct hd_jwt_verify_opts {
    int64_t now_s;        /* current Unix time; 0 = read the clock */
    int leeway_s;         /* allowed skew for exp/nbf/iat */
    int require_exp;      /* 1: a token without "exp" is refused */
    const char *issuer;   /* required "iss" value, or NULL for any */
    const char *audience; /* required in "aud" (string or array), or NULL */
};

/* Verifies token (len bytes, at most HD_JWT_MAX_LEN): structure, alg equal
 * to the key's, signature, then exp/nbf (with leeway) and iss/aud when
 * asked. On success returns 0 and, when not NULL, *header and *claims
 * (new: json_decref them). On failure returns -1 with err (HD_EAUTH; the
 * message says why: "expired", "bad signature", "issuer mismatch", ...)
 * and writes neither output. */
int hd_jwt_verify(const struct hd_jwt_key *k, const char *token, size_t len,
                  const struct hd_jwt_verify_opts *o, json_t **header,
                  json_t **claims, struct hd_err *err);

/* Decodes header and claims WITHOUT verifying, to pick a key by "kid" or
 * "iss" before calling hd_jwt_verify(). Same outputs and ownership. */
int hd_jwt_peek(const char *token, size_t len, json_t **header, json_t **claims,
                struct hd_err *err);

#endif
