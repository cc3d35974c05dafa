/* ratelimit.h -- a token bucket per key (an installation id, a client
 * address), in a fixed table that never grows.
 *
 * A fixed open-addressed table (HD_RATELIMIT_SLOTS); when the probe window
 * is full the least recently refilled slot is reused, starting full, which
 * can only be generous. Keys longer than HD_RATELIMIT_KEY_MAX are cut.
 * Thread-safe (one mutex); time from an injectable clock. */
#ifndef HD_RATELIMIT_H
#define HD_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/limits.h"

struct hd_ratelimit_slot {
    char id[HD_RATELIMIT_KEY_MAX + 1];
    double tokens;
    uint64_t at_ms; /* last refill */
};

struct hd_ratelimit {
    pthread_mutex_t mu;
    const struct hd_clock *clock; /* borrowed */
    double rate;
    double burst;
    struct hd_ratelimit_slot *slots; /* HD_RATELIMIT_SLOTS */
};

/* rate (per second) 0 disables the limit; burst is the bucket depth. */
void hd_ratelimit_init(struct hd_ratelimit *l, const struct hd_clock *clock,
                       int rate, int burst);
/* The same with a rate per minute (a quota of recipients a minute). */
void hd_ratelimit_init_per_min(struct hd_ratelimit *l,
                               const struct hd_clock *clock, int per_min,
                               int burst);
/* Leaves a zeroed struct. */
void hd_ratelimit_release(struct hd_ratelimit *l);
/* Takes one token for key. Returns 0 when allowed, else the seconds to
 * wait before retrying (>= 1). */
int hd_ratelimit_take(struct hd_ratelimit *l, const char *key);
/* Takes n tokens at once (n above the burst costs the whole burst, so a
 * large request waits for a full bucket instead of never passing; 0 takes
 * nothing). Same answer as hd_ratelimit_take. */
int hd_ratelimit_take_n(struct hd_ratelimit *l, const char *key, long n);

#endif
