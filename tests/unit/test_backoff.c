/* test_backoff.c -- unit tests for common/core/backoff.c with a fake clock and
 * a scripted random source: no sleeping. */
#include "tests/unit/unit.h"
#include "core/backoff.h"
#include "core/clock.h"

/* A random source that returns a fixed value: max jitter when ~0. */
static uint64_t
fixed_next(void *ud)
{
    return *(uint64_t *)ud;
}

static void
test_delay_grows_and_caps(void)
{
    struct hd_backoff b = {100, 5000};
    uint64_t zero = 0;
    struct hd_rand r0 = {fixed_next, &zero};
    uint64_t ceil = 100;
    unsigned a;
    int i;

    /* Each attempt stays within min(cap, base * 2^attempt) and reaches
     * close to it: the ceiling doubles until the cap. */
    for (a = 0; a < 10; a++) {
        uint64_t max = 0;

        for (i = 0; i < 3000; i++) {
            uint64_t d = hd_backoff_delay(&b, a, &hd_rand_system);

            ASSERT_INT_LE(d, ceil);
            if (d > max)
                max = d;
        }
        ASSERT_TRUE(max * 10 >= ceil * 9);
        ceil = ceil * 2 > 5000 ? 5000 : ceil * 2;
    }
    ASSERT_INT_EQ(hd_backoff_delay(&b, 0, &r0), 0);
    /* attempt 40 must not overflow past the cap */
    for (i = 0; i < 100; i++)
        ASSERT_INT_LE(hd_backoff_delay(&b, 40, &hd_rand_system), 5000);
}

static void
test_full_jitter_spreads(void)
{
    struct hd_backoff b = {1000, 60000};
    uint64_t min = UINT64_MAX, max = 0;
    int i;

    for (i = 0; i < 2000; i++) {
        uint64_t d = hd_backoff_delay(&b, 3, &hd_rand_system);

        if (d < min)
            min = d;
        if (d > max)
            max = d;
    }
    ASSERT_INT_LE(max, 8000);
    ASSERT_INT_LE(min, 1000); /* uniform in [0, 8000] */
    ASSERT_TRUE(max >= 7000);
}

static void
test_retry_after_seconds_and_dates(void)
{
    /* 2015-10-21T07:28:00Z */
    int64_t at = 1445412480LL * 1000;
    uint64_t d = 0;

    ASSERT_INT_EQ(hd_retry_after_parse("120", 0, &d), 0);
    ASSERT_INT_EQ(d, 120000);
    ASSERT_INT_EQ(hd_retry_after_parse(" 0", 0, &d), 0);
    ASSERT_INT_EQ(d, 0);
    ASSERT_INT_EQ(
        hd_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", at - 5000, &d),
        0);
    ASSERT_INT_EQ(d, 5000);
    ASSERT_INT_EQ(hd_retry_after_parse("Wednesday, 21-Oct-15 07:28:00 GMT",
                                       at - 1000, &d),
                  0);
    ASSERT_INT_EQ(d, 1000);
    ASSERT_INT_EQ(
        hd_retry_after_parse("Wed Oct 21 07:28:00 2015", at - 2000, &d), 0);
    ASSERT_INT_EQ(d, 2000);
    /* in the past: retry now */
    ASSERT_INT_EQ(
        hd_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", at + 9000, &d),
        0);
    ASSERT_INT_EQ(d, 0);
    ASSERT_INT_EQ(hd_retry_after_parse("soon", 0, &d), -1);
    ASSERT_INT_EQ(hd_retry_after_parse("-5", 0, &d), -1);
    ASSERT_INT_EQ(hd_retry_after_parse("Wed, 21 Oct 2015 07:28:00 PST", 0, &d),
                  -1);
    ASSERT_INT_EQ(hd_retry_after_parse(NULL, 0, &d), -1);
}

static void
test_next_honours_retry_after_and_expiry(void)
{
    struct hd_fake_clock fc = {1000, 1700000000000LL};
    struct hd_clock clk = hd_fake_clock_bind(&fc);
    struct hd_backoff b = {100, 1000};
    uint64_t zero = 0;
    struct hd_rand r0 = {fixed_next, &zero};
    int64_t at = 0;
    int64_t now = hd_clock_wall_ms(&clk);

    /* Retry-After 2 s dominates a small jittered backoff. */
    ASSERT_INT_EQ(hd_backoff_next(&b, 0, 2000, now, 0, &r0, &at), 0);
    ASSERT_INT_EQ(at, now + 2000);
    /* no expiry given: any delay is fine */
    ASSERT_INT_EQ(hd_backoff_next(&b, 5, 0, now, 0, &r0, &at), 0);
    ASSERT_INT_EQ(at, now);
    /* would land past expire_at: give up */
    ASSERT_INT_EQ(hd_backoff_next(&b, 0, 2000, now, now + 1500, &r0, &at), -1);
    /* advancing the fake clock moves the schedule with it */
    fc.wall_ms += 60000;
    ASSERT_INT_EQ(
        hd_backoff_next(&b, 0, 500, hd_clock_wall_ms(&clk), 0, &r0, &at), 0);
    ASSERT_INT_EQ(at, 1700000060500LL);
    ASSERT_INT_EQ(hd_clock_mono_ms(&clk), 1000);
}

int
main(void)
{
    RUN_TEST(test_delay_grows_and_caps);
    RUN_TEST(test_full_jitter_spreads);
    RUN_TEST(test_retry_after_seconds_and_dates);
    RUN_TEST(test_next_honours_retry_after_and_expiry);
    return UNIT_DONE();
}
