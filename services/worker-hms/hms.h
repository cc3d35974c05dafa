/* hms.h -- herald-worker-hms: Huawei Push Kit (server API v1) behind the
 * push engine's provider contract (common/push/worker.h).
 *
 * hms.c sends up to 1000 tokens per messages:send request and reads the
 * answers, including partial success, where only the illegal tokens are
 * invalid and every other token of the request was delivered
 * (specs/providers.md 3.5); hms_auth.c holds the OAuth 2.0
 * client-credentials access token, cached and refreshed before expiry. */
#ifndef HMS_HMS_H
#define HMS_HMS_H

#include "push/credential.h"
#include "push/worker.h"

struct hms_config {
    char *app_id;    /* HERALD_WORKER_HMS_APP_ID */
    char *secret;    /* HERALD_WORKER_HMS_CLIENT_SECRET */
    char *url;       /* HERALD_WORKER_HMS_URL */
    char *token_url; /* HERALD_WORKER_HMS_TOKEN_URL */
};

extern const struct hd_push_provider hms_provider;

/* Reads one HMS answer for the n tokens of a request (tokens[i] borrowed)
 * into res[0 .. n-1]: HTTP status, body, Retry-After (ms, 0 if none).
 * Pure: exposed for unit tests. */
void hms_classify(int status, const char *body, size_t len,
                  uint64_t retry_after_ms, const char *const *tokens, size_t n,
                  struct hd_push_result *res);

/* ---- hms_auth.c ------------------------------------------------------- */

struct hms_auth;

/* new: the token cache for the app (threaded when env->threaded). NULL
 * with err when the app id or secret is missing. */
struct hms_auth *hms_auth_new(const struct hms_config *cfg,
                              const struct hd_push_env *env,
                              struct hd_err *err);
void hms_auth_free(struct hms_auth *a);

/* The credential cache (borrowed): get() yields the Authorization line. */
struct hd_pushauth *hms_auth_cache(struct hms_auth *a);

/* Appends s percent-encoded for an application/x-www-form-urlencoded
 * body. For unit tests too. */
int hms_form_escape(struct hd_buf *out, const char *s, struct hd_err *err);

#endif
