/* jwks.h -- verification keys from a JSON Web Key Set (RFC 7517): an
 * identity server's published signing keys, e.g. a Bitwarden identity
 * server's /.well-known/openid-configuration/jwks.
 *
 * The set comes from an http(s) URL (fetched with the HTTP client) or a
 * file path, is read once at creation and then by a background thread:
 * every refresh_s, and soon after a token names a "kid" the set does not
 * hold (a key rotation), but at most once per min_refresh_s. Requests
 * never wait for a fetch: a lookup answers from the set in memory, and a
 * miss only asks the thread to refetch. A failed fetch keeps the previous
 * set. RSA (2048+ bits, RS256) and EC P-256 (ES256) keys with "use" sig
 * or no "use" are taken; others are skipped. Thread-safe. */
#ifndef HD_JWKS_H
#define HD_JWKS_H

#include <jansson.h>

#include "auth/jwt.h"
#include "core/err.h"

#include "core/limits.h"

struct hd_jwks_config {
    const char *source;  /* http(s) URL or file path */
    const char *ca_file; /* CA bundle for https, NULL: system store */
    int refresh_s;       /* periodic refetch */
    int min_refresh_s;   /* at most one kid-triggered refetch per this */
    int timeout_ms;      /* one fetch */
};

struct hd_jwks;

/* new: loads the set once (NULL with err when the first load fails or
 * holds no usable key: a misconfiguration is found at start-up) and
 * starts the refresh thread. Strings in cfg are copied. */
struct hd_jwks *hd_jwks_new(const struct hd_jwks_config *cfg,
                            struct hd_err *err);
/* Stops the thread and frees. NULL is a no-op. */
void hd_jwks_free(struct hd_jwks *s);

/* The key for kid (NULL kid: the only key, when the set has exactly one)
 * into *key, borrowed until hd_jwks_put(*ref). Returns 0, or -1 when
 * there is none (then a refetch is asked for, rate-limited). */
int hd_jwks_get(struct hd_jwks *s, const char *kid,
                const struct hd_jwt_key **key, void **ref);
void hd_jwks_put(void *ref);

/* Parses a JWKS document into keys[] (new, up to max) with their kids
 * (new strings, NULL when absent); returns the number parsed, or -1 with
 * err when the document is not a JWKS. Keys of other types are skipped. */
int hd_jwks_parse(const char *text, size_t len, struct hd_jwt_key **keys,
                  char **kids, int max, struct hd_err *err);

/* new: a verification key from one JWK object (kty RSA with n/e, or EC
 * P-256 with x/y). NULL with err otherwise. */
struct hd_jwt_key *hd_jwk_key(json_t *jwk, struct hd_err *err);

#endif
