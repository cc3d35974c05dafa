"""test_hub_limits.py -- herald-hub's listener against one client that
floods it: 5,000 half-open connections (one request line, then a header
now and then, each one reopened as soon as the hub closes it) while the
official SignalR client still connects within 1 s, on both event loops;
the request head's deadline; the per-address cap and the room it keeps
for a client behind the same address; the client's address read from
the forwarding header only when the peer is a trusted proxy."""
import resource
import selectors
import socket
import threading
import time

import pytest

from harness import wait_for
from test_hub_signalr import Clients, RawWS, metric, start_hub, token

HS = {"protocol": "messagepack", "version": 1}


class Flood:
    """Holds n connections from the given source addresses, each sending
    one request line then a header every trickle_s, and reopens each one
    the server closes, as fast as it can. Bounded: n sockets, one thread,
    stopped by stop()."""

    def __init__(self, port, n, sources, trickle_s=38.0):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 1000:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 4000), hard))
        self.port, self.n, self.sources, self.trickle_s = port, n, sources, trickle_s
        self.sel = selectors.DefaultSelector()
        self.opened = self.closed = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self, i):
        s = socket.socket()
        s.setblocking(False)
        s.bind((self.sources[i % len(self.sources)], 0))
        s.connect_ex(("127.0.0.1", self.port))
        self.sel.register(s, selectors.EVENT_WRITE, i)
        self.opened += 1
        return s

    def _run(self):
        socks = [self._open(i) for i in range(self.n)]
        trickle_at = time.monotonic() + self.trickle_s
        while not self.done.is_set():
            for key, ev in self.sel.select(0.2):
                s, i = key.fileobj, key.data
                try:
                    if ev & selectors.EVENT_WRITE:
                        s.send(b"GET /notifications/hub HTTP/1.1\r\n")
                        self.sel.modify(s, selectors.EVENT_READ, i)
                        continue
                    if s.recv(4096):
                        continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self.sel.unregister(s)  # closed by the hub: again
                s.close()
                self.closed += 1
                socks[i] = self._open(i)
            if time.monotonic() >= trickle_at:
                trickle_at += self.trickle_s
                for s in socks:
                    try:
                        s.send(b"X-Trickle: 1\r\n")
                    except OSError:
                        pass
        for s in socks:
            self.sel.unregister(s)
            s.close()

    def stop(self):
        self.done.set()
        self.thread.join(30)


@pytest.mark.parametrize("epoll", ["true", "false"])
def test_flood_of_half_open_connections(stack, epoll):
    hub = start_hub(stack, HERALD_HUB_EPOLL=epoll)
    flood = Flood(hub.port, 5000, ["127.0.0.%d" % i for i in range(2, 12)])
    cl = None
    try:
        wait_for(lambda: flood.opened >= 5000, timeout=60, what="5,000 connections opened")
        time.sleep(2)
        # the official client, again and again, while the flood goes on
        cl = Clients(hub, [{"id": "calm", "token": token("calm"), "repeat": 6, "pauseMs": 200}])
        cl.wait(lambda evs: len(cl.of("connected")) == 6 or cl.of("error"), timeout=60,
                what="six connections")
        assert cl.of("error") == [], cl.snapshot()
        times = [e["ms"] for e in cl.of("connected")]
        print("epoll=%s: connected in %s ms; flood opened %d, closed %d" % (epoll, times, flood.opened,
                                                                           flood.closed))
        assert max(times) < 1000, times
        # the cap held, by closing the flood's oldest
        assert 4000 <= metric(hub, "herald_hub_half_open") <= 4096
        assert metric(hub, "herald_hub_connections_rejected_total", reason="max_half_open_evicted") > 0
        assert flood.closed > 0
    finally:
        flood.stop()
        if cl:
            cl.close()
    wait_for(lambda: metric(hub, "herald_hub_half_open") == 0, what="the flood's connections gone")
    assert hub.stop() == 0
    assert hub.sanitizer_reports() == []


def closed_within(sock, timeout, feed=None, every=0.5):
    """Seconds until the peer closes sock (sending feed every `every` s),
    or None if it is still open after timeout."""
    t0 = time.monotonic()
    sock.settimeout(every)
    while time.monotonic() - t0 < timeout:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            if feed:
                try:
                    sock.sendall(feed)
                except OSError:
                    return time.monotonic() - t0
        except OSError:
            return time.monotonic() - t0
    return None


def test_request_deadline(stack):
    hub = start_hub(stack, HERALD_HUB_HEAD_TIMEOUT_S="2")
    # a head trickled one header at a time
    trickle = socket.create_connection(("127.0.0.1", hub.port))
    trickle.sendall(b"GET /notifications/hub HTTP/1.1\r\n")
    # a POST whose body trickles in
    body = socket.create_connection(("127.0.0.1", hub.port))
    body.sendall(b"POST /notifications/hub/negotiate HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 100\r\n\r\n")
    # a client that sends nothing at all
    mute = socket.create_connection(("127.0.0.1", hub.port))
    try:
        t = closed_within(trickle, 6, feed=b"X-Trickle: 1\r\n")
        assert t is not None and 1.5 <= t <= 3.5, t
        t = closed_within(body, 6, feed=b"x")
        assert t is not None and t <= 3.5, t
        t = closed_within(mute, 6)
        assert t is not None and t <= 3.5, t
        assert metric(hub, "herald_hub_connections_rejected_total", reason="head_timeout") == 3
        # one that sends its request at once is not concerned
        ok = RawWS(hub.port, "/notifications/hub?access_token=" + token("prompt"), handshake=HS)
        assert ok.status == 101
        assert ok.recv_frame()[1] == b"{}\x1e"
        time.sleep(2.5)
        ok.send_frame(0x2, b"\x02\x91\x06")
        assert metric(hub, "herald_hub_connections", hub="main") == 1
        ok.close()
    finally:
        for s in (trickle, body, mute):
            s.close()


def test_per_address_cap(stack):
    # one thread: the room kept for a new connection is made among the
    # half-open ones of the thread that accepted it
    hub = start_hub(stack, HERALD_HUB_MAX_PER_ADDRESS="3", HERALD_HUB_THREADS="1")
    keep = []
    try:
        keep += [RawWS(hub.port, "/notifications/hub?access_token=" + token("cap%d" % i), handshake=HS,
                       source="127.0.0.3") for i in range(3)]
        assert [w.status for w in keep] == [101] * 3
        # a fourth from the same address, none of its three half-open:
        # refused at accept, unanswered
        over = RawWS(hub.port, "/notifications/hub?access_token=" + token("cap9"), source="127.0.0.3")
        assert over.status == 0
        over.close()
        assert metric(hub, "herald_hub_connections_rejected_total", reason="max_per_address") == 1
        # another address is not concerned
        other = RawWS(hub.port, "/notifications/hub?access_token=" + token("cap9"), handshake=HS,
                      source="127.0.0.4")
        assert other.status == 101
        keep.append(other)
        # one closes; a connection that sends nothing takes the slot; a
        # client that sends its request gets in and the silent one goes
        keep.pop(0).close()
        wait_for(lambda: metric(hub, "herald_hub_connections", hub="main") == 3, what="one closed")
        silent = socket.create_connection(("127.0.0.1", hub.port), source_address=("127.0.0.3", 0))
        wait_for(lambda: metric(hub, "herald_hub_half_open") == 1, what="the silent one accepted")
        late = RawWS(hub.port, "/notifications/hub?access_token=" + token("cap8"), handshake=HS,
                     source="127.0.0.3")
        keep.append(late)
        assert late.status == 101
        assert closed_within(silent, 3) is not None
        silent.close()
        assert metric(hub, "herald_hub_connections_rejected_total", reason="max_per_address_evicted") == 1
        # the established connections hold their slots until they close
        for w in keep:
            w.close()
        wait_for(lambda: metric(hub, "herald_hub_connections", hub="main") == 0, what="all closed")
        again = [RawWS(hub.port, "/notifications/hub?access_token=" + token("re%d" % i), handshake=HS,
                       source="127.0.0.3") for i in range(3)]
        keep = again
        assert [w.status for w in again] == [101] * 3
    finally:
        for w in keep:
            w.close()


def anon(hub, token_id, source, fwd=None, header="X-Forwarded-For"):
    hdrs = {header: fwd} if fwd else {}
    return RawWS(hub.port, "/notifications/anonymous-hub?Token=" + token_id, hdrs, handshake=HS,
                 source=source)


def test_forwarded_address_only_from_a_trusted_proxy(stack):
    hub = start_hub(stack, HERALD_TRUSTED_PROXIES="127.0.0.2", HERALD_HUB_ANON_PER_IP="2",
                    HERALD_HUB_MAX_PER_ADDRESS="3")
    keep = []

    def status(w):
        keep.append(w)
        return w.status

    try:
        # through the proxy, each client has its own anonymous budget
        assert [status(anon(hub, "t%d" % i, "127.0.0.2", "203.0.113.1")) for i in range(3)] == [101, 101, 429]
        assert status(anon(hub, "t3", "127.0.0.2", "203.0.113.2")) == 101
        # the proxy appends its view to what the client sent: the client
        # cannot pick its address by sending the header itself
        assert status(anon(hub, "t4", "127.0.0.2", "203.0.113.2, 203.0.113.1")) == 429
        # from anyone else the header means nothing: the peer is the client
        assert [status(anon(hub, "u%d" % i, "127.0.0.3", "198.51.100.%d" % i)) for i in range(3)] == \
            [101, 101, 429]
        assert metric(hub, "herald_hub_rejected_total", reason="anon_per_ip") == 3
        # the per-address cap counts the forwarded address, not the proxy
        # (which holds more than 3 connections by now)
        users = [status(RawWS(hub.port, "/notifications/hub?access_token=" + token("fw%d" % i),
                              {"X-Forwarded-For": "192.0.2.9"}, handshake=HS, source="127.0.0.2"))
                 for i in range(4)]
        assert users == [101, 101, 101, 429]
        assert metric(hub, "herald_hub_connections_rejected_total", reason="max_per_address") == 1
        # closing gives the slot back
        keep[-2].close()
        wait_for(lambda: metric(hub, "herald_hub_connections", hub="main") == 2, what="one closed")
        assert status(RawWS(hub.port, "/notifications/hub?access_token=" + token("fw9"),
                            {"X-Forwarded-For": "192.0.2.9"}, handshake=HS, source="127.0.0.2")) == 101
    finally:
        for w in keep:
            w.close()
    assert hub.stop() == 0
    assert hub.sanitizer_reports() == []


def test_forwarded_header_rfc7239(stack):
    hub = start_hub(stack, HERALD_TRUSTED_PROXIES="127.0.0.2", HERALD_FORWARDED_HEADER="forwarded",
                    HERALD_HUB_ANON_PER_IP="1")
    keep = []
    try:
        for fwd, want in (('for=203.0.113.7;proto=https', 101), ('for="203.0.113.7"', 429),
                          ('for="[2001:db8::7]:4711"', 101)):
            keep.append(anon(hub, "f", "127.0.0.2", fwd, header="Forwarded"))
            assert keep[-1].status == want, fwd
        # X-Forwarded-For is not the configured header: ignored
        keep.append(anon(hub, "f", "127.0.0.2", "203.0.113.8"))
        assert keep[-1].status == 101  # the proxy's own address, first time
        keep.append(anon(hub, "f", "127.0.0.2", "203.0.113.9"))
        assert keep[-1].status == 429
    finally:
        for w in keep:
            w.close()
