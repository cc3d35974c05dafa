/* rate.h -- sliding-window rate limits keyed by a name (an FCM project,
 * an HMS app), used to emulate provider quotas.
 *
 * The window is made of one-second buckets, so it slides rather than
 * resetting on clock boundaries (FCM's minutes are not clock-aligned).
 * At most SIM_RATE_KEYS keys; further keys are not limited. Time comes
 * from the caller (the virtual clock). Thread-safe (one mutex). */
#ifndef SIM_RATE_H
#define SIM_RATE_H

#include <stdint.h>

#define SIM_RATE_KEYS 64
#define SIM_RATE_KEY_MAX 128
#define SIM_RATE_WINDOW_MAX 3600

struct sim_rate;

/* new: at most limit units per window_s seconds (1..SIM_RATE_WINDOW_MAX)
 * per key; limit 0 never limits. */
struct sim_rate *sim_rate_new(long limit, int window_s);
void sim_rate_free(struct sim_rate *r);

/* Takes n units for key at now_ms. Returns 1 when allowed, or 0 when the
 * window is full (nothing taken) with *retry_after_s set to the seconds
 * until enough units expire (at least 1). */
int sim_rate_take(struct sim_rate *r, const char *key, long n, int64_t now_ms,
                  int *retry_after_s);

/* Empties every window. */
void sim_rate_reset(struct sim_rate *r);

#endif
