"""test_hub_loop.py -- herald-hub's event loop: epoll (libev) by default,
libwebsockets' poll() loop with HERALD_HUB_EPOLL=false. Both serve the
official SignalR client, route a POST /send, and exit 0 on SIGTERM after
sending Close; the default really runs on epoll (one epoll descriptor per
service thread, none with the poll() loop, besides each thread's set of
connections whose request head is not in yet and the admin listener's)."""
import os
import re

import pytest

from harness import wait_for
from test_hub_signalr import Clients, send, start_hub, token


def epoll_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[eventpoll]":
                n += 1
        except OSError:
            pass
    return n


@pytest.mark.parametrize("epoll", ["default", "true", "false"])
def test_loop_serves_and_stops(stack, epoll):
    env = {}
    if epoll != "default":
        env["HERALD_HUB_EPOLL"] = epoll
    hub = start_hub(stack, **env)
    # /healthz answers once the first thread listens; the log line comes
    # when every thread does
    wait_for(lambda: re.search(r"with (\d+) threads", hub.read_log()), what="every thread listening")
    nthreads = int(re.search(r"with (\d+) threads", hub.read_log()).group(1))
    assert nthreads >= 2
    # the hub's epoll descriptors: each service thread's set of connections
    # whose request head is not in yet, and its loop unless it runs poll();
    # plus the admin listener's (libmicrohttpd)
    assert epoll_fds(hub.proc.pid) == (1 if epoll == "false" else 2) * nthreads + 1
    cl = Clients(hub, [
        {"id": "mp", "token": token("loop-user"), "protocol": "messagepack"},
        {"id": "js", "token": token("loop-user"), "protocol": "json"},
    ])
    try:
        assert len(cl.of("connected")) == 2, cl.snapshot()
        st, _, _ = send(hub, {"type": 5, "payload": {"userId": "loop-user", "date": "2026-01-01T00:00:00Z"}})
        assert st == 200
        cl.wait(lambda evs: len(cl.messages("mp")) == 1 and len(cl.messages("js")) == 1)
        assert cl.messages("mp")[0]["arg"]["Payload"]["userId"] == "loop-user"
        assert hub.stop() == 0
        # Close reached both clients before the hub exited
        cl.wait(lambda evs: len(cl.of("closed")) == 2, what="both clients closed")
    finally:
        cl.close()
    assert hub.sanitizer_reports() == []
