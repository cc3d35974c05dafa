/* api_breaker.h -- the token-cleanup circuit breaker of specs/providers.md
 * section 4.2, per (app, provider).
 *
 * A wrong environment or project makes every token look invalid, so a
 * token_invalid removes its device only while the recent window does not
 * show >= min_sends sends, >= ratio_pct% of them token_invalid and not one
 * success. Every (app, provider) pair has its own state: one app's burst
 * of invalid tokens (a relay installation is an app) opens its own breaker
 * and nobody else's. Memory stays bounded by dropping idle states (nothing
 * inside the window: they hold no information), never by sharing one.
 * Time is an argument, so tests need no clock. Not thread-safe: one owner
 * thread. */
#ifndef API_BREAKER_H
#define API_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define API_BREAKER_SLOTS 60
#define API_BREAKER_MAX_KEYS                                                   \
    65536 /* pairs with outcomes inside one window (~1.6 KB each); a           \
             pair seen while that many others are active is not tracked        \
             and its removals wait (open) until states free up */

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
 * once per flip. A pair that could not be tracked (the table full of
 * active pairs) answers 1 without a flip: nothing is removed on counts
 * that were not kept. */
int api_breaker_open(struct api_breaker *b, const char *app, enum hd_provider p,
                     int64_t now_ms, int *changed);

/* The states held (for tests and the memory bound). */
size_t api_breaker_size(const struct api_breaker *b);

#endif
