/* clock.c -- the system clock and a fake one for tests. */
#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "core/banned.h"

static uint64_t
sys_mono_ms(void *ud)
{
    (void)ud;
    return hd_now_mono_ms();
}

static int64_t
sys_wall_ms(void *ud)
{
    (void)ud;
    return hd_now_wall_ms();
}

const struct hd_clock hd_clock_system = {sys_mono_ms, sys_wall_ms, NULL};

uint64_t
hd_now_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
hd_now_mono_ms(void)
{
    return hd_now_mono_us() / 1000u;
}

int64_t
hd_now_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
fake_mono_ms(void *ud)
{
    return ((struct hd_fake_clock *)ud)->mono_ms;
}

static int64_t
fake_wall_ms(void *ud)
{
    return ((struct hd_fake_clock *)ud)->wall_ms;
}

struct hd_clock
hd_fake_clock_bind(struct hd_fake_clock *fc)
{
    struct hd_clock c = {fake_mono_ms, fake_wall_ms, fc};

    return c;
}

void
hd_time_rfc3339(int64_t wall_ms, char *out, unsigned long outlen)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}
