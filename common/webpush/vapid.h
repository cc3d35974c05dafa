/* vapid.h -- VAPID (RFC 8292): the application server's identity on every
 * Web Push request, "Authorization: vapid t=<ES256 JWT>, k=<public key>".
 *
 * The sender side keeps one signed JWT per push-service origin ("aud")
 * and re-signs it only when less than HD_VAPID_REFRESH_S of its life is
 * left, so a send costs a table lookup, not a signature. Keys are in the
 * web-push libraries' format: the private key 32 raw bytes, the public key
 * the 65-byte point, both base64url. A struct hd_vapid is used by one
 * thread; hd_vapid_verify() (the push service's side) is thread-safe. */
#ifndef HD_VAPID_H
#define HD_VAPID_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "webpush/p256.h"

#define HD_VAPID_TTL_S (12 * 3600)     /* exp = now + 12 h */
#define HD_VAPID_MAX_TTL_S (24 * 3600) /* RFC 8292: exp at most 24 h ahead */
#define HD_VAPID_REFRESH_S 3600        /* re-sign with less than 1 h left */
#define HD_VAPID_ORIGINS_MAX 256       /* cached JWTs (one per origin) */
#define HD_VAPID_ORIGIN_MAX 256        /* "https://host:port" */
#define HD_VAPID_KEY_TEXT_MAX 8192     /* a key given as text or in a file */

struct hd_vapid;

/* new: the sender from its private key and subject. key is the base64url
 * 32-byte scalar, or a PEM P-256 private key; pub, when not NULL or "",
 * must be the matching base64url public key (a mismatch is the classic
 * deployment error: browsers subscribed with another key). subject is
 * "mailto:..." or "https://...". NULL with err (HD_EINVAL) otherwise. */
struct hd_vapid *hd_vapid_new(const char *key, const char *pub,
                              const char *subject, struct hd_err *err);
void hd_vapid_free(struct hd_vapid *v); /* NULL is a no-op */

/* The public key, base64url (borrowed): the browsers'
 * applicationServerKey. */
const char *hd_vapid_public(const struct hd_vapid *v);

/* Appends the whole header line "Authorization: vapid t=..., k=..." for a
 * push service at origin ("https://host[:port]") at time now_s. */
int hd_vapid_header(struct hd_vapid *v, const char *origin, int64_t now_s,
                    struct hd_buf *out, struct hd_err *err);

/* A new key pair: appends the base64url private key to priv and the
 * public key to pub. 0 or -1 with err. */
int hd_vapid_keygen(struct hd_buf *priv, struct hd_buf *pub,
                    struct hd_err *err);

/* The push service's side: checks an Authorization value ("vapid t=...,
 * k=...") for a request to origin at now_s: the JWT's ES256 signature by
 * k, "aud" equal to origin, "exp" in the future and at most 24 h ahead,
 * "sub" a mailto: or https: URI. On success writes the 65-byte key k into
 * key (when not NULL) and returns 0; -1 with err (HD_EAUTH) saying why. */
int hd_vapid_verify(const char *value, const char *origin, int64_t now_s,
                    unsigned char key[HD_P256_PUB_LEN], struct hd_err *err);

#endif
