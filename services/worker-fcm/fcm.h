/* fcm.h -- herald-worker-fcm: Firebase Cloud Messaging HTTP v1 behind the
 * push engine's provider contract (common/push/worker.h).
 *
 * fcm.c builds one messages:send request per token (or per topic or
 * condition) and reads the answers (specs/providers.md 1.5); fcm_auth.c
 * turns the service-account JSON into a cached OAuth2 access token. The
 * worker never sends without a valid token and never fetches one per
 * request. */
#ifndef FCM_FCM_H
#define FCM_FCM_H

#include "push/credential.h"
#include "push/worker.h"

struct fcm_config {
    char *service_account; /* HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE */
    char *url;             /* HERALD_WORKER_FCM_URL */
    char *token_url;       /* HERALD_WORKER_FCM_TOKEN_URL, "" = token_uri */
    char *project;         /* HERALD_WORKER_FCM_PROJECT_ID, "" = the file's */
};

extern const struct hd_push_provider fcm_provider;

/* Reads one FCM answer (status, JSON body, Retry-After already parsed into
 * retry_after_ms, 0 if none) into *res. Pure: exposed for unit tests. */
void fcm_classify(int status, const char *body, size_t len,
                  uint64_t retry_after_ms, struct hd_push_result *res);

/* ---- fcm_auth.c ------------------------------------------------------- */

struct fcm_auth;

/* new: loads the service-account file and starts the token cache
 * (threaded when env->threaded). NULL with err (naming the file and the
 * bad field) on a file that is not a usable service account. */
struct fcm_auth *fcm_auth_new(const struct fcm_config *cfg,
                              const struct hd_push_env *env,
                              struct hd_err *err);
void fcm_auth_free(struct fcm_auth *a);

/* The project the messages go to (borrowed). */
const char *fcm_auth_project(const struct fcm_auth *a);

/* The credential cache (borrowed): get() yields the Authorization line. */
struct hd_pushauth *fcm_auth_cache(struct fcm_auth *a);

/* Signs the RS256 assertion of the JWT-bearer grant for now_s into out.
 * Exposed for unit tests. */
int fcm_auth_assertion(struct fcm_auth *a, int64_t now_s, struct hd_buf *out,
                       struct hd_err *err);

#endif
