/* test_shutdown.c -- unit tests for common/core/shutdown.c: a real SIGTERM. */
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/clock.h"
#include "core/shutdown.h"

static void
test_wait_times_out_without_signal(void)
{
    uint64_t t0;

    ASSERT_INT_EQ(hd_shutdown_install(), 0);
    ASSERT_INT_EQ(hd_shutdown_requested(), 0);
    t0 = hd_now_mono_ms();
    ASSERT_INT_EQ(hd_shutdown_wait(50), 0);
    ASSERT_TRUE(hd_now_mono_ms() - t0 >= 45);
}

static void
test_sigpipe_is_ignored(void)
{
    int p[2];

    ASSERT_INT_EQ(pipe(p), 0);
    close(p[0]);
    ASSERT_INT_EQ(write(p[1], "x", 1), -1); /* EPIPE, not death */
    close(p[1]);
}

static void
test_sigterm_sets_flag_and_fd(void)
{
    struct pollfd pfd;

    kill(getpid(), SIGTERM);
    ASSERT_INT_EQ(hd_shutdown_wait(1000), 1);
    ASSERT_INT_EQ(hd_shutdown_requested(), 1);
    ASSERT_INT_EQ(hd_shutdown_signal(), SIGTERM);
    pfd.fd = hd_shutdown_fd();
    pfd.events = POLLIN;
    ASSERT_INT_EQ(poll(&pfd, 1, 0), 1);
    /* still readable for a second waiter */
    ASSERT_INT_EQ(poll(&pfd, 1, 0), 1);
}

int
main(void)
{
    RUN_TEST(test_wait_times_out_without_signal);
    RUN_TEST(test_sigpipe_is_ignored);
    RUN_TEST(test_sigterm_sets_flag_and_fd);
    return UNIT_DONE();
}
