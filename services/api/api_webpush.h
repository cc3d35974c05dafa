/* api_webpush.h -- what herald-api checks of Web Push subscriptions
 * (provider "webpush" device tokens and webpush_tokens recipients).
 *
 * The origin allowlist is made once at start-up (HERALD_WEBPUSH_ORIGINS,
 * HERALD_WEBPUSH_EXTRA_ORIGINS, the worker's names and defaults) and kept
 * in the api context; after that it is only read, so every function here
 * is thread-safe. */
#ifndef API_WEBPUSH_H
#define API_WEBPUSH_H

#include <stddef.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"

struct api_webpush_config {
    char *origins;       /* HERALD_WEBPUSH_ORIGINS */
    char *extra_origins; /* HERALD_WEBPUSH_EXTRA_ORIGINS */
};

extern const struct hd_config_field api_webpush_config_fields[];

struct hd_webpush_guard;

/* Builds the allowlist (free with hd_webpush_guard_free), or NULL with err
 * naming the bad origin. */
struct hd_webpush_guard *api_webpush_new(const struct api_webpush_config *cfg,
                                         struct hd_err *err);

/* Checks a subscription (PushSubscription JSON text): keys as
 * common/webpush/sub.h says, the endpoint on the allowlist. With canon
 * not NULL appends its canonical token. guard NULL refuses it (not
 * configured). 0, or -1 with err (HD_EINVAL). */
int api_webpush_check(const struct hd_webpush_guard *guard, const char *s,
                      size_t len, struct hd_buf *canon, struct hd_err *err);

#endif
