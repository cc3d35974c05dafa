/* api_breaker.h -- the token-cleanup circuit breaker of specs/providers.md
 * section 4.2, per (app, provider).
 *
 * A wrong environment or project makes every token look invalid, so a
 * token_invalid removes its device only while the recent window does not
 * show >= min_sends sends, >= ratio_pct% of them token_invalid and not one
 * success. Fixed memory (slots x keys); time is an argument, so tests
 * need no clock. Not thread-safe: one owner thread. */
#ifndef API_BREAKER_H
#define API_BREAKER_H

#include <stdint.h>

#include "proto/msg.h"

#define API_BREAKER_SLOTS 60
#define API_BREAKER_KEYS                                                       \
    1024 /* (app, provider) pairs tracked at once; a pair idle for a           \
            window gives its entry up; past that, pairs share one              \
            "_overflow" entry */

struct api_breaker_cfg {
    int window_s;
    long min_sends;
    int ratio_pct;
};

struct api_breaker;

/* new */
struct api_breaker *api_breaker_new(const struct api_breaker_cfg *cfg);
/* NULL is a no-op. */
void api_breaker_free(struct api_breaker *b);

/* Counts one outcome (expired outcomes are not sends and are ignored). */
void api_breaker_record(struct api_breaker *b, const char *app,
                        enum hd_provider p, enum hd_outcome o, int64_t now_ms);

/* 1 when removal for (app, p) is suspended at now_ms, else 0. *changed
 * (may be NULL) is set to 1 when the answer differs from the previous
 * call's for the same pair, so the caller logs and updates its gauge
 * once per flip. */
int api_breaker_open(struct api_breaker *b, const char *app, enum hd_provider p,
                     int64_t now_ms, int *changed);

#endif
