/* test_ratelimit.c -- unit tests for common/core/ratelimit.c: refill,
 * burst, Retry-After rounding, keys apart, and a full table. */
#include <stdio.h>

#include "tests/unit/unit.h"
#include "core/ratelimit.h"
#include "core/banned.h"

#define INST "0f8fad5b-d9cb-469f-a165-70867728950e"
#define OTHER "7c9e6679-7425-40de-944b-e07fc1f90ae7"

static void
test_rate_limit(void)
{
    struct hd_fake_clock fc = {1000, 0};
    struct hd_clock c = hd_fake_clock_bind(&fc);
    struct hd_ratelimit l;
    int i;

    hd_ratelimit_init(&l, &c, 2, 3); /* 2/s, 3 deep */
    for (i = 0; i < 3; i++)
        ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 0);
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 1);  /* Retry-After: 1 */
    ASSERT_INT_EQ(hd_ratelimit_take(&l, OTHER), 0); /* per key */
    fc.mono_ms += 500;                              /* one token back */
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 0);
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 1);
    fc.mono_ms += 60000; /* refills up to the burst only */
    for (i = 0; i < 3; i++)
        ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 0);
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 1);
    hd_ratelimit_release(&l);
    ASSERT_NULL(l.slots);

    hd_ratelimit_init(&l, &c, 1, 1); /* slow rate: wait rounds up */
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 0);
    ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 1);
    hd_ratelimit_release(&l);
    hd_ratelimit_init(&l, &c, 0, 1); /* 0: no limit */
    for (i = 0; i < 100; i++)
        ASSERT_INT_EQ(hd_ratelimit_take(&l, INST), 0);
    hd_ratelimit_release(&l);
}

/* A quota of recipients a minute: a request to n devices takes n; one
 * larger than the whole quota takes the whole bucket. */
static void
test_take_n_per_minute(void)
{
    struct hd_fake_clock fc = {1000, 0};
    struct hd_clock c = hd_fake_clock_bind(&fc);
    struct hd_ratelimit l;

    hd_ratelimit_init_per_min(&l, &c, 60, 3); /* 1/s, 3 deep */
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 2), 0);
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 2), 1); /* 1 left */
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 0), 0); /* nobody */
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 1), 0);
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 1), 1);
    fc.mono_ms += 2000;
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 3), 1);   /* 2 back */
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, OTHER, 50), 0); /* full: passes */
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, OTHER, 1), 1);
    fc.mono_ms += 1000;
    ASSERT_INT_EQ(hd_ratelimit_take_n(&l, INST, 3), 0);
    hd_ratelimit_release(&l);
}

static void
test_limit_table_full(void)
{
    struct hd_fake_clock fc = {1, 0};
    struct hd_clock c = hd_fake_clock_bind(&fc);
    struct hd_ratelimit l;
    char id[40];
    int i;

    hd_ratelimit_init(&l, &c, 1, 1);
    /* many more keys than slots: never blocks a fresh one */
    for (i = 0; i < HD_RATELIMIT_SLOTS * 3; i++) {
        snprintf(id, sizeof(id), "inst-%d", i);
        fc.mono_ms++;
        ASSERT_INT_EQ(hd_ratelimit_take(&l, id), 0);
    }
    hd_ratelimit_release(&l);
}

int
main(void)
{
    RUN_TEST(test_rate_limit);
    RUN_TEST(test_take_n_per_minute);
    RUN_TEST(test_limit_table_full);
    return UNIT_DONE();
}
