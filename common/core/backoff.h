/* backoff.h -- exponential backoff with full jitter, and Retry-After.
 *
 * Pure functions: time and randomness come in as arguments, so every path
 * is unit-tested without sleeping. Full jitter (a uniform delay in
 * [0, min(cap, base * 2^attempt)]) spreads retries of many clients apart;
 * a provider's Retry-After is a floor on the delay, and nothing is ever
 * scheduled past the message's expiry. */
#ifndef HD_BACKOFF_H
#define HD_BACKOFF_H

#include <stdint.h>

#include "core/rand.h"

struct hd_backoff {
    uint64_t base_ms; /* first ceiling (attempt 0) */
    uint64_t cap_ms;  /* largest ceiling */
};

/* The full-jitter delay for attempt (0 = first retry). */
uint64_t hd_backoff_delay(const struct hd_backoff *b, unsigned attempt,
                          const struct hd_rand *rnd);

/* Parses a Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT", also RFC 850 and asctime forms).
 * A date in the past gives 0. Returns 0 with *delay_ms set, or -1 when the
 * value is neither. */
int hd_retry_after_parse(const char *value, int64_t now_wall_ms,
                         uint64_t *delay_ms);

/* Decides when attempt should run: max(jittered backoff, retry_after_ms)
 * after now_wall_ms. Returns 0 with *at_wall_ms set, or -1 when that would
 * be at or past expire_at_ms (0 = never expires): give up, report expired. */
int hd_backoff_next(const struct hd_backoff *b, unsigned attempt,
                    uint64_t retry_after_ms, int64_t now_wall_ms,
                    int64_t expire_at_ms, const struct hd_rand *rnd,
                    int64_t *at_wall_ms);

#endif
