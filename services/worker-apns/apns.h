/* apns.h -- herald-worker-apns: Apple's HTTP/2 provider API behind the push
 * engine's provider contract (common/push/worker.h).
 *
 * apns.c builds one POST /3/device/<token> per token, headers from the
 * delivery's notification.headers plus the configured apns-topic, and
 * reads the answers (specs/providers.md 2.5); apns_auth.c holds the
 * provider credential: one ES256 JWT per team reused for 20-60 minutes, or
 * a TLS client certificate. HTTP/2 only: APNs refuses HTTP/1.1. */
#ifndef APNS_APNS_H
#define APNS_APNS_H

#include "push/credential.h"
#include "push/worker.h"

/* Conditional requirements, worded once for --help and the errors. */
#define APNS_AUTH_RULE                                                         \
    "exactly one of HERALD_WORKER_APNS_KEY_FILE (token authentication) and "   \
    "HERALD_WORKER_APNS_CERT_FILE (certificate authentication) is required"
#define APNS_TOKEN_RULE "required with HERALD_WORKER_APNS_KEY_FILE"

struct apns_config {
    char *environment;   /* HERALD_WORKER_APNS_ENVIRONMENT */
    char *url;           /* HERALD_WORKER_APNS_URL, "" = by environment */
    char *topic;         /* HERALD_WORKER_APNS_TOPIC: default apns-topic */
    char *key_file;      /* HERALD_WORKER_APNS_KEY_FILE (.p8) */
    char *key_id;        /* HERALD_WORKER_APNS_KEY_ID */
    char *team_id;       /* HERALD_WORKER_APNS_TEAM_ID */
    int jwt_refresh_s;   /* HERALD_WORKER_APNS_JWT_REFRESH_S */
    char *cert_file;     /* HERALD_WORKER_APNS_CERT_FILE (.pem or .p12) */
    char *cert_type;     /* HERALD_WORKER_APNS_CERT_TYPE PEM|P12 */
    char *cert_key_file; /* HERALD_WORKER_APNS_CERT_KEY_FILE */
    char *cert_password; /* HERALD_WORKER_APNS_CERT_PASSWORD */
};

extern const struct hd_push_provider apns_provider;

/* Reads one APNs answer (status, JSON body {"reason":...}, Retry-After in
 * ms or 0, the batch's attempt) into *res. Pure: exposed for unit tests. */
void apns_classify(int status, const char *body, size_t len,
                   uint64_t retry_after_ms, int attempt,
                   struct hd_push_result *res);

/* ---- apns_auth.c ------------------------------------------------------ */

struct apns_auth;

/* new: token authentication when key_file is set (the key is loaded and
 * checked now; the JWT cache runs on its own thread when env->threaded),
 * certificate authentication when cert_file is set (no header at all).
 * NULL with err when neither or both are configured, or the key is not a
 * P-256 private key. */
struct apns_auth *apns_auth_new(const struct apns_config *cfg,
                                const struct hd_push_env *env,
                                struct hd_err *err);
void apns_auth_free(struct apns_auth *a);

/* 1 ready, 0 not yet, -1 configuration error (pushworker.h auth()). */
int apns_auth_ready(struct apns_auth *a, struct hd_err *err);

/* Fills line with the "authorization: bearer <JWT>" header line and *gen,
 * or leaves line empty with certificate authentication. Returns 0, or -1
 * with HD_EAUTH when no token is available right now. */
int apns_auth_line(struct apns_auth *a, struct hd_buf *line, unsigned *gen,
                   struct hd_err *err);

/* The JWT of generation gen got ExpiredProviderToken: mint a new one,
 * unless the current one is younger than 20 minutes. */
void apns_auth_reject(struct apns_auth *a, unsigned gen);

/* Signs a provider JWT for iat = now_s into out. For unit tests. */
int apns_auth_jwt(struct apns_auth *a, int64_t now_s, struct hd_buf *out,
                  struct hd_err *err);

#endif
