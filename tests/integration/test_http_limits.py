"""test_http_limits.py -- the HTTP listener that herald-api and herald-relay
share, under one hostile client: 5,000 connections that never finish their
request head leave a second client's requests answered within 1 s; a
connection trickling header lines is closed at the head deadline and one
address past its cap is refused while another gets in (on api and relay); an over-limit body
reads its 413 (declared or chunked, on api and relay); X-Forwarded-For is believed only from a trusted proxy.

The hostile client spreads its connections over 127.0.1.0/24 source
addresses, the well-behaved one speaks from 127.0.0.2 (Linux routes all
of 127/8 to the loopback interface).
"""
import http.client
import resource
import socket
import ssl
import struct
import time

import pytest

from api_support import start_api
from harness import http as http_call, wait_for
from relaykit import Relay

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the port at connect()
GOOD = "127.0.0.2"


@pytest.fixture(scope="module", autouse=True)
def many_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 20000)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def raw_socket(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    # closed with a reset: no TIME_WAIT left holding local ports
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind((src, 0))
    return s


class Horde:
    """n connections that send first (may be empty) and then nothing."""

    def __init__(self, port, n, first=b"", addresses=50):
        self.socks = []
        for i in range(n):
            s = raw_socket("127.0.1.%d" % (1 + i % addresses))
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.socks.append(s)
        self.first = first
        self.sent = 0
        if first:
            deadline = time.monotonic() + 10
            pending = list(self.socks)
            while pending and time.monotonic() < deadline:
                left = []
                for s in pending:
                    try:
                        s.send(first)
                        self.sent += 1
                    except (BlockingIOError, OSError) as e:
                        if isinstance(e, BlockingIOError) or getattr(e, "errno", 0) == 107:
                            left.append(s)  # not connected yet
                pending = left
                time.sleep(0.01)

    def alive(self):
        """How many the server has not closed."""
        n = 0
        for s in self.socks:
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    continue
            except BlockingIOError:
                n += 1
                continue
            except OSError:
                continue
            n += 1
        return n

    def close(self):
        for s in self.socks:
            s.close()


def get(port, path="/healthz", src=GOOD, tls=None, headers=None, timeout=1.0):
    """One request on a fresh connection; (status, seconds)."""
    t0 = time.monotonic()
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=timeout,
                                        source_address=(src, 0))
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                       source_address=(src, 0))
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in (headers or []):
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - t0
    finally:
        c.close()


def probe_while_held(port, tls=None, seconds=6.0):
    """Requests from the well-behaved client, one every 0.2 s; each must be
    answered with 200 within 1 s. Returns the slowest, in seconds."""
    slowest = 0.0
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        try:
            st, took = get(port, tls=tls)
        except (OSError, http.client.HTTPException) as e:
            pytest.fail("request %d while the horde is held: %r" % (n, e))
        assert st == 200, (n, st)
        assert took < 1.0, (n, took)
        slowest = max(slowest, took)
        n += 1
        time.sleep(0.2)
    assert n >= 10
    return slowest


def test_api_half_open_horde_leaves_room(stack, pg_cluster):
    """5,000 connections that each sent one header line and stop: a normal
    GET /healthz from another address is still answered within 1 s, and
    the half-open cap closed the oldest of the horde's (counted)."""
    api = start_api(stack, pg_cluster)
    horde = Horde(api.svc.port, 5000, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        assert horde.sent > 4000, horde.sent
        slowest = probe_while_held(api.svc.port)
        print("slowest answer while held: %.3f s" % slowest)
        held = horde.alive()
        assert held <= 1024 + 64, held  # HERALD_HTTP_MAX_HALF_OPEN's default
    finally:
        horde.close()
    assert api.metric("herald_http_connections_rejected_total",
                      reason="half_open_evicted") >= 3000


def test_relay_half_open_horde_leaves_room(stack, pg_dsn):
    """The same on herald-relay's HTTPS port: 5,000 connections that never
    start their TLS handshake."""
    relay = Relay(stack, pg_dsn, stack.kafka())
    horde = Horde(relay.port, 5000)
    try:
        wait_for(lambda: True, timeout=1)
        time.sleep(1.0)  # let them all reach the server
        probe_while_held(relay.port, tls=relay.ctx)
    finally:
        horde.close()


def connect(port, src, tls=None):
    """A raw connection from src, through TLS when tls is a context."""
    s = raw_socket(src)
    s.connect(("127.0.0.1", port))
    if tls:
        s = tls.wrap_socket(s, server_hostname="127.0.0.1")
    return s


def trickle_closed_after(port, tls=None):
    """Sends a request head one header line every 0.5 s (never idle, never
    complete); returns the seconds until the server closed it, or None if
    it was still open after 8 s."""
    s = connect(port, "127.0.0.3", tls)
    s.settimeout(0.5)
    t0 = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    closed_after = None
    i = 0
    while time.monotonic() - t0 < 8:
        try:
            s.sendall(b"X-Trickle-%d: y\r\n" % i)
            i += 1
            if s.recv(1) == b"":
                closed_after = time.monotonic() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            closed_after = time.monotonic() - t0
            break
    s.close()
    return closed_after


def admin_metric(svc, name, **labels):
    """One series from a service's admin listener, 0 if absent."""
    st, _, body = http_call("GET", svc.admin_url + "/metrics")
    assert st == 200
    want = name + ("{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
                   if labels else "")
    for line in body.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0


def test_head_deadline_closes_a_trickle(stack, pg_cluster):
    """A client that sends a header line every 0.5 s never goes idle, but
    its head is not complete after HERALD_HTTP_HEAD_TIMEOUT_S: closed."""
    api = start_api(stack, pg_cluster, HERALD_HTTP_HEAD_TIMEOUT_S="2")
    closed_after = trickle_closed_after(api.svc.port)
    assert closed_after is not None, "still open after 8 s of trickling"
    assert 1.5 <= closed_after <= 4.0, closed_after
    assert api.metric("herald_http_connections_rejected_total", reason="head_timeout") >= 1
    # a complete head in time is served
    assert get(api.svc.port)[0] == 200


def test_relay_head_deadline_closes_a_trickle(stack, pg_dsn):
    """The same on herald-relay's HTTPS port, the trickle inside TLS."""
    relay = Relay(stack, pg_dsn, stack.kafka(), HERALD_HTTP_HEAD_TIMEOUT_S="2")
    closed_after = trickle_closed_after(relay.port, tls=relay.ctx)
    assert closed_after is not None, "still open after 8 s of trickling"
    assert 1.5 <= closed_after <= 4.0, closed_after
    assert admin_metric(relay.svc, "herald_http_connections_rejected_total",
                        reason="head_timeout") >= 1
    assert get(relay.port, tls=relay.ctx)[0] == 200


def per_address_cap(port, tls=None):
    """Four requests in progress from 127.0.0.4 (head complete, body still
    coming: busy, not half-open); a fifth from it is refused, another
    address is served, and 127.0.0.4 gets its room back when they end."""
    busy = []
    for _ in range(4):
        s = connect(port, "127.0.0.4", tls)
        s.sendall(b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        busy.append(s)
    time.sleep(0.3)
    try:
        st, _ = get(port, src="127.0.0.4", tls=tls, timeout=3)
    except (OSError, http.client.HTTPException):
        st = None  # closed without an answer counts as refused too
    assert st in (503, None), st
    assert get(port, src=GOOD, tls=tls)[0] == 200
    for s in busy:
        s.close()
    wait_for(lambda: get(port, src="127.0.0.4", tls=tls)[0] == 200, timeout=5,
             what="room again for 127.0.0.4")


def test_per_address_cap(stack, pg_cluster):
    """HERALD_HTTP_MAX_PER_ADDRESS=4 on herald-api."""
    api = start_api(stack, pg_cluster, HERALD_HTTP_MAX_PER_ADDRESS="4")
    per_address_cap(api.svc.port)
    assert api.metric("herald_http_connections_rejected_total", reason="per_address") >= 1


def test_relay_per_address_cap(stack, pg_dsn):
    """HERALD_HTTP_MAX_PER_ADDRESS=4 on herald-relay's HTTPS port."""
    relay = Relay(stack, pg_dsn, stack.kafka(), HERALD_HTTP_MAX_PER_ADDRESS="4")
    per_address_cap(relay.port, tls=relay.ctx)
    assert admin_metric(relay.svc, "herald_http_connections_rejected_total",
                        reason="per_address") >= 1


def test_forwarded_for_only_from_a_trusted_proxy(stack, pg_cluster):
    """The access log's remote is the X-Forwarded-For client only when the
    peer is in HERALD_TRUSTED_PROXIES; every line of the header counts, so
    a client's own line does not hide the proxy's."""
    api = start_api(stack, pg_cluster, HERALD_HTTP_ACCESS_LOG="true",
                    HERALD_TRUSTED_PROXIES="127.0.0.5, 10.0.0.0/8")
    cases = [("127.0.0.6", [("X-Forwarded-For", "1.2.3.4")], "127.0.0.6", "r-untrusted"),
             ("127.0.0.5", [("X-Forwarded-For", "1.2.3.4")], "1.2.3.4", "r-trusted"),
             ("127.0.0.5", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "5.6.7.8")],
              "5.6.7.8", "r-two-lines"),
             ("127.0.0.5", [("X-Forwarded-For", "9.9.9.9, 10.1.1.1")], "9.9.9.9", "r-hops"),
             ("127.0.0.5", [("X-Forwarded-For", "junk")], "127.0.0.5", "r-junk"),
             ("127.0.0.5", [("Forwarded", "for=7.7.7.7")], "127.0.0.5", "r-other-header")]
    for src, hdrs, _, rid in cases:
        assert get(api.svc.port, src=src, headers=hdrs + [("X-Request-Id", rid)])[0] == 200

    def logged():
        return {ln.get("req_id"): ln.get("remote") for ln in api.svc.log_lines()
                if ln.get("msg") == "http request"}
    wait_for(lambda: all(c[3] in logged() for c in cases), timeout=5, what="access lines")
    got = logged()
    for _, _, want, rid in cases:
        assert got[rid] == want, (rid, got[rid], want)


def test_over_limit_body_reads_413(stack, pg_cluster):
    """A 20 MB POST /api sent whole, as most clients do before they read:
    the send completes and the client reads the 413 error, not a reset."""
    api = start_api(stack, pg_cluster)
    s = raw_socket(GOOD)
    s.connect(("127.0.0.1", api.svc.port))
    s.settimeout(20)
    body = b"x" * (20 * 1024 * 1024)
    head = (b"POST /api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    try:
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b"Connection: close" in data, data[:400]
    assert b'"error":"too_large"' in data, data[:400]


def read_response(s):
    """One HTTP/1.1 response with a Content-Length from s: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def chunked_over_limit(port, path, tls=None):
    """POST path with a 20 MB chunked body (no Content-Length), sent whole
    before reading, as most clients do; then GET /healthz on the same
    connection when the answer keeps it open. Returns (head, body,
    status of the GET or None)."""
    s = raw_socket(GOOD)
    s.connect(("127.0.0.1", port))
    if tls:
        s = tls.wrap_socket(s, server_hostname="127.0.0.1")
    s.settimeout(30)
    piece = b"x" * 65536
    try:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" % path.encode())
        for _ in range(20 * 1024 * 1024 // len(piece)):
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        s.sendall(b"0\r\n\r\n")
        head, body = read_response(s)
        again = None
        if b"connection: close" not in head.lower():
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            again = int(read_response(s)[0].split(b" ", 2)[1])
    finally:
        s.close()
    return head, body, again


def test_chunked_over_limit_body_reads_413(stack, pg_cluster):
    """A 20 MB chunked POST /api (no declared length, so it cannot be
    refused before reading): the body is drained, the client reads the
    413 error, the connection goes on serving, and a new one is
    served too."""
    api = start_api(stack, pg_cluster)
    head, body, again = chunked_over_limit(api.svc.port, "/api")
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b'"error":"too_large"' in body, body[:400]
    assert again in (None, 200), again
    assert get(api.svc.port)[0] == 200


def test_relay_chunked_over_limit_body_reads_413(stack, pg_dsn):
    """The same on herald-relay (HTTPS), POST /push/register."""
    relay = Relay(stack, pg_dsn, stack.kafka())
    head, body, again = chunked_over_limit(relay.port, "/push/register", tls=relay.ctx)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b'"error":"too_large"' in body, body[:400]
    assert again in (None, 200), again
    assert get(relay.port, tls=relay.ctx)[0] == 200
