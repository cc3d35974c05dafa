/* api_auth.h -- the server-API keys and the Authorization headers.
 *
 * A presented key is compared with every configured key in constant time:
 * both are zero-padded to API_KEY_MAX bytes and compared in full with
 * CRYPTO_memcmp, lengths compared branch-free, no early exit, so neither
 * a key nor its length leaks through timing. It does not verify user JWTs
 * (common/auth/usertoken.h). Read-only after init: any thread may check. */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stddef.h>

#include "core/err.h"

#define API_MAX_KEYS 16
#define API_KEY_MAX 256 /* one key's length */

struct api_keys {
    unsigned char key[API_MAX_KEYS][API_KEY_MAX]; /* zero-padded */
    size_t len[API_MAX_KEYS];
    size_t n;
};

/* Parses a comma-separated list (spaces around keys ignored). Returns 0,
 * or -1 with err naming HERALD_API_KEY (no key, an empty or too long key,
 * too many keys). */
int api_keys_init(struct api_keys *k, const char *list, struct hd_err *err);

/* Wipes the keys. */
void api_keys_release(struct api_keys *k);

/* 1 when the request carries a configured key, as "Authorization: apikey
 * <key>" or "X-API-Key: <key>" (either may be NULL); 0 otherwise. */
int api_keys_check(const struct api_keys *k, const char *authorization,
                   const char *x_api_key);

/* The token of "Authorization: Bearer <token>" (case-insensitive scheme),
 * borrowed from header, with *len set; NULL when absent or malformed. */
const char *api_bearer(const char *header, size_t *len);

#endif
