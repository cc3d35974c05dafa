/* test_clock.c -- unit tests for common/core/clock.c. */
#include "tests/unit/unit.h"
#include "core/clock.h"

static void
test_system_clock_moves_forward(void)
{
    uint64_t a = hd_clock_mono_ms(&hd_clock_system);
    int64_t w = hd_clock_wall_ms(&hd_clock_system);
    uint64_t b = hd_now_mono_ms();

    ASSERT_INT_LE(a, b);
    ASSERT_TRUE(w > 1700000000000LL); /* after 2023 */
}

static void
test_fake_clock(void)
{
    struct hd_fake_clock fc = {5, 10};
    struct hd_clock c = hd_fake_clock_bind(&fc);

    ASSERT_INT_EQ(hd_clock_mono_ms(&c), 5);
    fc.mono_ms = 99;
    fc.wall_ms = 77;
    ASSERT_INT_EQ(hd_clock_mono_ms(&c), 99);
    ASSERT_INT_EQ(hd_clock_wall_ms(&c), 77);
}

static void
test_rfc3339(void)
{
    char out[40];

    hd_time_rfc3339(1445412480123LL, out, sizeof(out));
    ASSERT_STR_EQ(out, "2015-10-21T07:28:00.123Z");
    hd_time_rfc3339(0, out, sizeof(out));
    ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
}

int
main(void)
{
    RUN_TEST(test_system_clock_moves_forward);
    RUN_TEST(test_fake_clock);
    RUN_TEST(test_rfc3339);
    return UNIT_DONE();
}
