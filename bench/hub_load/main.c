/* hub_load -- load client for herald-hub: opens N SignalR connections
 * with real HS256 tokens (from several source addresses), holds them with
 * the client's 15 s keep-alive, counts every notification received and
 * measures its latency from the "BenchTs" field (Unix microseconds) the
 * sender put in the payload. With --send it is the sender instead: it
 * POSTs notifications to /send over one keep-alive connection.
 *
 * Not a SignalR implementation: it speaks just enough of RFC 6455 and the
 * hub protocol to count messages, with one epoll loop and no per-message
 * allocation, so one process holds ~19,000 connections (the descriptor
 * limit), far more than a Node client. Prints JSON lines on stdout. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/hub_load/hub_load.h"
#include "core/banned.h"

static load_stop_flag stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    struct opts o;
    struct sigaction sa;
    int rc, i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: a blocked read returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    load_parse_args(argc, argv, &o);
    rc = o.send ? load_run_sender(&o, &stop_flag)
                : load_run_conns(&o, &stop_flag);
    for (i = 0; i < o.nsrc; i++)
        free(o.src[i]);
    return rc;
}
