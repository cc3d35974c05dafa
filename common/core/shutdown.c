/* shutdown.c -- signal handling for graceful shutdown.
 *
 * The handler only stores the flag and writes to an eventfd, both
 * async-signal-safe. A second SIGTERM/SIGINT while shutting down is left to
 * the first one's deadline; SIGKILL remains the operator's hard stop. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/shutdown.h"
#include "core/banned.h"

static volatile sig_atomic_t shutdown_flag;
static volatile sig_atomic_t shutdown_sig;
static int shutdown_efd = -1;

static void
on_signal(int sig)
{
    if (shutdown_sig == 0)
        shutdown_sig = sig;
    hd_shutdown_request();
}

void
hd_shutdown_request(void)
{
    int saved = errno;
    uint64_t one = 1;

    shutdown_flag = 1;
    if (shutdown_efd >= 0)
        (void)!write(shutdown_efd, &one, sizeof(one));
    errno = saved;
}

int
hd_shutdown_install(void)
{
    struct sigaction sa;

    if (shutdown_efd < 0) {
        shutdown_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (shutdown_efd < 0)
            return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -1;
    return 0;
}

int
hd_shutdown_requested(void)
{
    return shutdown_flag != 0;
}

int
hd_shutdown_fd(void)
{
    return shutdown_efd;
}

int
hd_shutdown_signal(void)
{
    return shutdown_sig;
}

int
hd_shutdown_wait(int timeout_ms)
{
    struct pollfd p;

    if (shutdown_flag)
        return 1;
    p.fd = shutdown_efd;
    p.events = POLLIN;
    p.revents = 0;
    /* The eventfd counter is never read, so it stays readable for every
     * waiter once written. */
    while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
        if (shutdown_flag)
            return 1;
    }
    return shutdown_flag != 0;
}
