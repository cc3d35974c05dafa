/* usertoken.h -- verification of user access tokens (Bitwarden-style JWTs)
 * for the hub and the api's device endpoints.
 *
 * Keys come from HERALD_JWT_SECRET (HS256), HERALD_JWT_PUBLIC_KEY_FILE
 * (RS256 or ES256 PEM: the identity server's signing key or certificate)
 * and/or HERALD_JWT_JWKS_URL (the identity server's published key set, by
 * "kid", kept fresh in the background: auth/jwks.h); a token is accepted
 * when it verifies with a key of its own algorithm and passes the expiry,
 * issuer, audience and scope checks configured (scope "api" by default,
 * as Bitwarden's Application policy). The
 * claims a Bitwarden client token carries are read into struct hd_user:
 * sub, device, devicetype and the org claims (orgowner, orgadmin, orguser,
 * orgcustom: each a string or an array). Thread-safe after creation. */
#ifndef HD_USERTOKEN_H
#define HD_USERTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/limits.h"

#define HD_USER_MAX_ORGS 256 /* organizations read from one token */

struct hd_usertoken_config {
    char *secret;           /* HERALD_JWT_SECRET (secret) */
    char *public_key_file;  /* HERALD_JWT_PUBLIC_KEY_FILE */
    char *issuer;           /* HERALD_JWT_ISSUER */
    char *audience;         /* HERALD_JWT_AUDIENCE */
    char *scope;            /* HERALD_JWT_SCOPE: required "scope" entry */
    int leeway_s;           /* HERALD_JWT_LEEWAY_S */
    char *jwks_url;         /* HERALD_JWT_JWKS_URL: URL or file */
    int jwks_refresh_s;     /* HERALD_JWT_JWKS_REFRESH_S */
    int jwks_min_refresh_s; /* HERALD_JWT_JWKS_MIN_REFRESH_S */
};

extern const struct hd_config_field hd_usertoken_config_fields[];

struct hd_user {
    char sub[HD_ID_MAX + 1];    /* user id */
    char device[HD_ID_MAX + 1]; /* device identifier, "" if absent */
    int device_type;            /* -1 if absent or unknown */
    int client_type;            /* from device_type; 0 = All */
    char **orgs;                /* organization ids, norgs of them (new) */
    size_t norgs;
    int64_t exp; /* expiry, Unix seconds (0 = none) */
};

struct hd_usertoken;

/* new: loads the keys. NULL with err naming the variable when neither key
 * is configured or the key file is unusable. */
struct hd_usertoken *hd_usertoken_new(const struct hd_usertoken_config *cfg,
                                      struct hd_err *err);
void hd_usertoken_free(struct hd_usertoken *v);

/* Verifies token (len bytes) and fills *user (release it with
 * hd_user_release). Returns 0, or -1 with err (HD_EAUTH and a reason safe
 * to log: "token expired", "bad signature", "missing sub", ...). */
int hd_usertoken_verify(const struct hd_usertoken *v, const char *token,
                        size_t len, struct hd_user *user, struct hd_err *err);

/* new: a verifier for service tokens (a client-credentials JWT, no user)
 * sharing v's public keys (the PEM key and the JWKS, never the HMAC
 * secret): required scope (e.g. "internal") and issuer (NULL: v's).
 * Free it with hd_usertoken_free() before v. NULL with err when v has no
 * public key. */
struct hd_usertoken *hd_usertoken_service(const struct hd_usertoken *v,
                                          const char *scope, const char *issuer,
                                          struct hd_err *err);

/* Verifies a service token: signature with a public key, expiry, issuer,
 * audience, scope. 0, or -1 with err (HD_EAUTH and a reason safe to log).
 */
int hd_usertoken_check(const struct hd_usertoken *v, const char *token,
                       size_t len, struct hd_err *err);

/* Frees the org list and resets the struct (device_type -1). */
void hd_user_release(struct hd_user *user);

#endif
