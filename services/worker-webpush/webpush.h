/* webpush.h -- herald-worker-webpush: Web Push (RFC 8030) behind the push
 * engine's provider contract (common/push/worker.h).
 *
 * webpush.c reads the notification once per batch and builds one
 * encrypted POST per subscription; webpush_answer.c reads the push
 * service's answers. Every endpoint passes the SSRF guard before a
 * request is built, and every address the HTTP client connects to passes
 * it again (common/webpush/guard.h). */
#ifndef WEBPUSH_WEBPUSH_H
#define WEBPUSH_WEBPUSH_H

#include "push/worker.h"

struct webpush_config {
    char *vapid_key;      /* HERALD_WEBPUSH_VAPID_PRIVATE_KEY */
    char *vapid_key_file; /* HERALD_WEBPUSH_VAPID_PRIVATE_KEY_FILE */
    char *vapid_pub;      /* HERALD_WEBPUSH_VAPID_PUBLIC_KEY */
    char *vapid_subject;  /* HERALD_WEBPUSH_VAPID_SUBJECT */
    char *origins;        /* HERALD_WEBPUSH_ORIGINS */
    char *extra_origins;  /* HERALD_WEBPUSH_EXTRA_ORIGINS */
    char *test_sim;       /* HERALD_WEBPUSH_TEST_SIMULATOR */
};

extern const struct hd_push_provider webpush_provider;

/* Reads one push-service answer (status, Retry-After already parsed into
 * retry_after_ms, 0 if none) into *res. Pure: exposed for unit tests. */
void webpush_classify(int status, uint64_t retry_after_ms,
                      struct hd_push_result *res);

/* `herald-worker-webpush vapid-keygen`: prints a new key pair as
 * HERALD_WEBPUSH_VAPID_* lines. Returns the exit status. */
int webpush_keygen_main(void);

#endif
