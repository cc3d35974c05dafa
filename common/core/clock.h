/* clock.h -- injectable time.
 *
 * Code that schedules (backoff, token refresh, expiry, Retry-After) takes a
 * const struct hd_clock * so tests drive it with a fake clock instead of
 * sleeping. hd_clock_system is the real one. All functions are
 * thread-safe if the clock's callbacks are. */
#ifndef HD_CLOCK_H
#define HD_CLOCK_H

#include <stdint.h>

struct hd_clock {
    /* Monotonic milliseconds, for intervals and deadlines. */
    uint64_t (*mono_ms)(void *ud);
    /* Wall-clock milliseconds since the Unix epoch, for expiry and dates. */
    int64_t (*wall_ms)(void *ud);
    void *ud;
};

extern const struct hd_clock hd_clock_system;

static inline uint64_t
hd_clock_mono_ms(const struct hd_clock *c)
{
    return c->mono_ms(c->ud);
}

static inline int64_t
hd_clock_wall_ms(const struct hd_clock *c)
{
    return c->wall_ms(c->ud);
}

/* Shortcuts for the system clock. */
uint64_t hd_now_mono_ms(void);
uint64_t hd_now_mono_us(void);
int64_t hd_now_wall_ms(void);

/* A settable clock for tests: both readings come from the struct. */
struct hd_fake_clock {
    uint64_t mono_ms;
    int64_t wall_ms;
};

/* Returns a clock reading fc (borrowed: fc must outlive the clock). */
struct hd_clock hd_fake_clock_bind(struct hd_fake_clock *fc);

/* Formats wall-clock ms as RFC 3339 UTC with milliseconds
 * ("2026-11-23T10:00:00.123Z") into out (at least 32 bytes). */
void hd_time_rfc3339(int64_t wall_ms, char *out, unsigned long outlen);

#endif
