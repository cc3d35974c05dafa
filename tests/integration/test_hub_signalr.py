"""test_hub_signalr.py -- herald-hub with the official @microsoft/signalr
client (configured as Bitwarden clients configure it) and with a raw
WebSocket client for the byte-level cases: notifications per user,
organization and anonymous hub, both protocols, the 45 s idle rule, slow
consumers, limits, POST /send, metrics and Close on SIGTERM."""
import base64
import json
import os
import queue
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import jwt
import pytest

from harness import ROOT, http, wait_for

SECRET = "hub-test-secret-0123456789abcdef"
KEY = "hub-internal-key"
NODE_CLIENT = os.path.join(ROOT, "tests", "js", "hub_client.js")
CLOSE_MP = b"\x04\x93\x07\xc0\xc3"


def token(sub, secret=SECRET, exp_in=3600, **claims):
    c = {"sub": sub, "exp": int(time.time()) + exp_in, "device": "dev-" + sub,
         "devicetype": "ChromeBrowser", "scope": ["api"], "amr": ["Application"]}
    c.update(claims)
    return jwt.encode(c, secret, algorithm="HS256")


def start_hub(stack, **env):
    base = {"HERALD_JWT_SECRET": SECRET, "HERALD_INTERNAL_KEY": KEY, "HERALD_HUB_THREADS": "2",
            "HERALD_HUB_BIND": "127.0.0.1"}
    base.update(env)
    return stack.start("herald-hub", stack.env(**base), port_var="HERALD_HUB_PORT")


def send(hub, body, key=KEY):
    hdrs = {"Authorization": "Bearer " + key} if key else {}
    return http("POST", hub.url + "/send", body=body, headers=hdrs)


def metric(svc, name, **labels):
    """The sum of the series of name whose labels include labels."""
    _, _, body = http("GET", svc.admin_url + "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        m = re.match(r'^(\w+)(?:\{([^}]*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        if all(('%s="%s"' % kv) in (m.group(2) or "") for kv in labels.items()):
            total += float(m.group(3))
    return total


class Clients:
    """One Node process running several @microsoft/signalr connections."""

    def __init__(self, hub, specs):
        for s in specs:
            s.setdefault("url", hub.url + s.pop("path", "/notifications/hub"))
        self.proc = subprocess.Popen(["node", NODE_CLIENT, json.dumps({"clients": specs})],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.wait(lambda evs: any(e["ev"] == "ready" for e in evs), 30, "clients started")

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait(self, pred, timeout=10, what="client events"):
        return wait_for(lambda: pred(self.snapshot()), timeout=timeout, what=what)

    def of(self, kind, cid=None):
        return [e for e in self.snapshot() if e["ev"] == kind and (cid is None or e["id"] == cid)]

    def messages(self, cid):
        return self.of("message", cid)

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.command("stop")
                self.proc.wait(10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
        self.proc.wait()


class RawWS:
    """A minimal WebSocket client: upgrade, masked frames, frame reader."""

    def __init__(self, port, path, headers=None, handshake=None, source=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0) if source else None)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
               "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            req.append("%s: %s" % (k, v))
        self.buf = b""
        try:
            self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
            while b"\r\n\r\n" not in self.buf:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed unanswered: status 0
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head else 0
        if handshake is not None and self.status == 101:
            self.send_text(json.dumps(handshake) + "\x1e")

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + body)

    def send_text(self, s):
        self.send_frame(0x1, s.encode())

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame")
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                raise TimeoutError("no frame")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv_frame(self, timeout=10):
        """Returns (opcode, payload)."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        op = self.buf[0] & 0x0F
        n = self.buf[1] & 0x7F
        off = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return op, payload

    def frames_until_close(self, timeout=10):
        out = []
        try:
            while True:
                op, p = self.recv_frame(timeout)
                out.append((op, p))
                if op == 0x8:
                    break
        except (EOFError, ConnectionError):
            out.append((None, b""))
        return out

    def close(self):
        self.sock.close()


def user_clients(hub):
    t1 = token("user1", orgowner=["org1"])
    t2 = token("user2", orguser="org1", devicetype="MacOsDesktop")
    return Clients(hub, [
        {"id": "u1mp", "token": t1, "protocol": "messagepack"},
        {"id": "u1js", "token": t1, "protocol": "json", "tokenInQuery": True},
        {"id": "u2mp", "token": t2, "protocol": "messagepack", "path": "/hub"},
        {"id": "anmp", "token": None, "protocol": "messagepack",
         "path": "/notifications/anonymous-hub?Token=ar-1"},
        {"id": "anjs", "token": None, "protocol": "json", "path": "/anonymous-hub?Token=ar-1"},
    ])


def test_user_org_and_anonymous_notifications(stack):
    hub = start_hub(stack)
    cl = user_clients(hub)
    try:
        assert len(cl.of("connected")) == 5, cl.snapshot()
        # user notification, camelCase body (self-hosted server), with ContextId
        st, _, _ = send(hub, {"type": 0, "payload": {"id": "c-1", "userId": "user1", "organizationId": None,
                                                     "collectionIds": None, "revisionDate": "2026-01-02T03:04:05Z"},
                              "contextId": "dev-user1"})
        assert st == 200
        cl.wait(lambda evs: len([e for e in evs if e["ev"] == "message" and e["id"].startswith("u1")]) == 2)
        for cid in ("u1mp", "u1js"):
            m = cl.messages(cid)[0]
            assert m["target"] == "ReceiveMessage"
            assert m["arg"] == {"Type": 0, "Payload": {"id": "c-1", "userId": "user1", "organizationId": None,
                                                       "collectionIds": None,
                                                       "revisionDate": "2026-01-02T03:04:05Z"},
                                "ContextId": "dev-user1"}
        # organization notification, PascalCase body
        st, _, _ = send(hub, {"Type": 18, "Payload": {"OrganizationId": "org1", "Enabled": True}})
        assert st == 200
        cl.wait(lambda evs: len(cl.messages("u2mp")) == 1 and len(cl.messages("u1mp")) == 2)
        assert cl.messages("u2mp")[0]["arg"] == {"Type": 18, "Payload": {"OrganizationId": "org1", "Enabled": True},
                                                 "ContextId": None}
        # auth-request response: anonymous hub, its own target name
        st, _, _ = send(hub, {"type": 16, "payload": {"id": "ar-1", "userId": "user1"}})
        assert st == 200
        cl.wait(lambda evs: len(cl.messages("anmp")) == 1 and len(cl.messages("anjs")) == 1)
        for cid in ("anmp", "anjs"):
            m = cl.messages(cid)[0]
            assert m["target"] == "AuthRequestResponseRecieved"
            assert m["arg"]["Type"] == 16 and m["arg"]["Payload"] == {"id": "ar-1", "userId": "user1"}
        # client-type group: type 20 for user2's Desktop clients only
        send(hub, {"Type": 20, "Payload": {"Id": "n1", "UserId": "user2", "ClientType": 1}})  # Web: none
        send(hub, {"Type": 20, "Payload": {"Id": "n2", "UserId": "user2", "ClientType": 3}})  # Desktop
        cl.wait(lambda evs: len(cl.messages("u2mp")) == 2)
        assert cl.messages("u2mp")[1]["arg"]["Payload"]["Id"] == "n2"
        # Herald's routing extension (self-hosted herald-api): an explicit
        # target wins over the Payload's UserId
        st, _, _ = send(hub, {"type": 5, "payload": {"userId": "user1"}, "target": "user", "target_id": "user2"})
        assert st == 200
        cl.wait(lambda evs: len(cl.messages("u2mp")) == 3)
        assert cl.messages("u2mp")[2]["arg"]["Payload"] == {"userId": "user1"}
        time.sleep(0.3)
        # nobody got what was not theirs
        assert len(cl.messages("u1mp")) == 2 and len(cl.messages("u1js")) == 2
        assert len(cl.messages("anmp")) == 1 and len(cl.messages("u2mp")) == 3
        assert metric(hub, "herald_hub_connections", hub="main", protocol="messagepack") == 2
        assert metric(hub, "herald_hub_connections", hub="anonymous", protocol="json") == 1
        wait_for(lambda: metric(hub, "herald_hub_deliveries_total") == 9, what="9 deliveries counted")
        assert metric(hub, "herald_hub_events_total", source="send", result="routed") == 6
    finally:
        cl.close()


def test_idle_slow_consumer_and_sigterm(stack):
    hub = start_hub(stack, HERALD_HUB_QUEUE_MAX="16")
    t = token("idle-user")
    cl = Clients(hub, [{"id": "mp", "token": t}, {"id": "js", "token": t, "protocol": "json"},
                       {"id": "fast", "token": token("busy")}])
    t0 = time.monotonic()
    raw = RawWS(hub.port, "/notifications/hub", {"Authorization": "Bearer " + token("idle-raw")},
                handshake={"protocol": "messagepack", "version": 1})
    slow = RawWS(hub.port, "/notifications/hub?access_token=" + token("busy"),
                 handshake={"protocol": "messagepack", "version": 1})
    try:
        assert raw.status == 101 and slow.status == 101
        op, p = raw.recv_frame()
        assert p == b"{}\x1e"
        # the slow consumer stops reading; 400 notices of ~40 KB each fill its socket
        big = "x" * 40000
        t_send = time.monotonic()
        for i in range(400):
            st, _, _ = send(hub, {"type": 5, "payload": {"userId": "busy", "n": i, "pad": big}})
            assert st == 200
        cl.wait(lambda evs: len(cl.messages("fast")) == 400, timeout=30, what="fast client got all 400")
        fast_s = time.monotonic() - t_send
        assert fast_s < 20, fast_s
        assert [m["arg"]["Payload"]["n"] for m in cl.messages("fast")] == list(range(400))
        wait_for(lambda: metric(hub, "herald_hub_slow_consumer_closes_total") == 1, what="slow consumer closed")
        assert metric(hub, "herald_hub_disconnects_total", reason="slow_consumer") == 1
        slow.sock.settimeout(5)
        with pytest.raises((EOFError, ConnectionError, TimeoutError, OSError)):
            while True:
                slow.recv_frame(timeout=5)
        # idle for more than 45 s: everyone stays up, pinged every 15 s
        pings = 0
        while time.monotonic() - t0 < 47:
            op, p = raw.recv_frame(timeout=20)
            assert p == b"\x02\x91\x06", p
            pings += 1
            raw.send_frame(0x2, b"\x02\x91\x06")  # the client's own keep-alive
        assert pings >= 3
        assert cl.of("closed") == [] and cl.of("error") == []
        # SIGTERM: every client gets a Close message, then the socket closes
        t_term = time.monotonic()
        hub.signal(signal.SIGTERM)
        frames = raw.frames_until_close()
        assert (0x2, CLOSE_MP) in frames, frames
        cl.wait(lambda evs: len(cl.of("closed")) == 3, what="clients closed")
        assert all(e["error"] is None for e in cl.of("closed"))
        assert time.monotonic() - t_term < 5
        assert hub.proc.wait(20) == 0
    finally:
        raw.close()
        slow.close()
        cl.close()


def test_bad_tokens_get_401(stack):
    hub = start_hub(stack)
    cases = {
        "expired": token("u", exp_in=-600),
        "bad signature": token("u", secret="other-secret"),
        "garbage": "not.a.jwt",
    }
    for why, tok in cases.items():
        ws = RawWS(hub.port, "/notifications/hub?access_token=" + tok)
        assert ws.status == 401, why
        ws.close()
        ws = RawWS(hub.port, "/notifications/hub", {"Authorization": "Bearer " + tok})
        assert ws.status == 401, why
        ws.close()
    ws = RawWS(hub.port, "/notifications/hub")
    assert ws.status == 401
    ws.close()
    cl = Clients(hub, [{"id": "x", "token": cases["expired"]}])
    try:
        assert len(cl.of("error", "x")) == 1
    finally:
        cl.close()
    assert metric(hub, "herald_hub_rejected_total", reason="unauthorized") == 8
    ws = RawWS(hub.port, "/elsewhere", {"Authorization": "Bearer " + token("u")})
    assert ws.status == 404
    ws.close()


def test_limits(stack):
    hub = start_hub(stack, HERALD_HUB_MAX_PER_USER="2", HERALD_HUB_ANON_PER_IP="3",
                    HERALD_HUB_HANDSHAKE_TIMEOUT_S="1", HERALD_HUB_MAX_CONNECTIONS="12")
    hs = {"protocol": "messagepack", "version": 1}
    keep = []
    try:
        t = token("limited")
        keep += [RawWS(hub.port, "/notifications/hub?access_token=" + t, handshake=hs) for _ in range(2)]
        assert [w.status for w in keep] == [101, 101]
        third = RawWS(hub.port, "/notifications/hub?access_token=" + t)
        assert third.status == 429
        third.close()
        anon = [RawWS(hub.port, "/notifications/anonymous-hub?Token=a%d" % i, handshake=hs) for i in range(3)]
        keep += anon
        assert [w.status for w in anon] == [101] * 3
        fourth = RawWS(hub.port, "/notifications/anonymous-hub?Token=a9")
        assert fourth.status == 429
        fourth.close()
        # an inbound message over 4 KB closes with 1009
        big = RawWS(hub.port, "/hub", {"Authorization": "Bearer " + token("big")}, handshake=hs)
        assert big.recv_frame()[1] == b"{}\x1e"
        big.send_frame(0x2, b"\x00" * 5000)
        frames = big.frames_until_close()
        assert frames[-1][0] == 0x8 and struct.unpack("!H", frames[-1][1][:2])[0] == 1009, frames
        big.close()
        # no handshake within the timeout: 1008
        mute = RawWS(hub.port, "/hub", {"Authorization": "Bearer " + token("mute")})
        t0 = time.monotonic()
        frames = mute.frames_until_close(timeout=5)
        assert frames[-1][0] == 0x8 and struct.unpack("!H", frames[-1][1][:2])[0] == 1008, frames
        assert time.monotonic() - t0 < 3
        mute.close()
        # a protocol the hub does not speak: error reply, then close
        bad = RawWS(hub.port, "/hub", {"Authorization": "Bearer " + token("bad")},
                    handshake={"protocol": "xml", "version": 1})
        frames = bad.frames_until_close()
        assert frames[0] == (0x1, b'{"error":"Requested protocol \'xml\' is not available."}\x1e'), frames
        assert frames[-1][0] in (0x8, None)
        bad.close()
        # the process-wide connection cap: 503
        keep += [RawWS(hub.port, "/hub?access_token=" + token("fill%d" % i), handshake=hs) for i in range(7)]
        assert all(w.status == 101 for w in keep)
        over = RawWS(hub.port, "/hub?access_token=" + token("over"))
        assert over.status == 503
        over.close()
        assert metric(hub, "herald_hub_rejected_total", reason="max_per_user") == 1
        assert metric(hub, "herald_hub_rejected_total", reason="anon_per_ip") == 1
        assert metric(hub, "herald_hub_rejected_total", reason="max_connections") == 1
        assert metric(hub, "herald_hub_rejected_total", reason="bad_protocol") == 1
        assert metric(hub, "herald_hub_disconnects_total", reason="message_too_big") == 1
        assert metric(hub, "herald_hub_disconnects_total", reason="handshake_timeout") == 1
    finally:
        for w in keep:
            w.close()


def test_send_auth_bodies_and_http(stack):
    hub = start_hub(stack)
    assert send(hub, {"type": 5, "payload": {"userId": "u"}}, key=None)[0] == 401
    assert send(hub, {"type": 5, "payload": {"userId": "u"}}, key="wrong")[0] == 401
    assert send(hub, "{not json")[0] == 400
    assert send(hub, {"type": 5, "payload": {}})[0] == 400          # no user to route to
    assert send(hub, {"type": 999, "payload": {"userId": "u"}})[0] == 400
    assert send(hub, {"type": 5, "payload": {"userId": "u"}, "target": "planet", "target_id": "x"})[0] == 400
    assert send(hub, {"type": 5, "payload": {"userId": "u"}, "target": "user"})[0] == 400       # no target_id
    assert send(hub, {"type": 5, "payload": {"userId": "u"}, "target": "user", "target_id": "u",
                      "client_type": 9})[0] == 400
    assert send(hub, b"")[0] == 200                                  # upstream ignores empty bodies
    assert send(hub, {"Type": 5, "Payload": {"UserId": "u"}})[0] == 200
    assert send(hub, {"type": 5, "payload": json.dumps({"userId": "u"})})[0] == 200  # payload as a string
    st, _, body = http("GET", hub.url + "/healthz")
    assert st == 200
    st, _, body = http("GET", hub.url + "/readyz")
    assert st == 200 and json.loads(body) == {"status": "ready"}
    st, _, body = http("POST", hub.url + "/notifications/hub/negotiate", body=b"")
    assert st == 200 and json.loads(body)["availableTransports"][0]["transport"] == "WebSockets"
    # negotiate reads no body: more than 1 KiB is refused, not buffered
    st, _, _ = http("POST", hub.url + "/notifications/hub/negotiate", body=b"x" * 4000)
    assert st == 413
    st, _, _ = http("GET", hub.url + "/notifications/hub")
    assert st == 400
    st, _, _ = http("GET", hub.url + "/nothing-here")
    assert st == 404
    st, _, _ = http("GET", hub.url + "/metrics")
    assert st == 404  # on the admin listener only
    st, _, body = http("GET", hub.admin_url + "/metrics")
    text = body.decode()
    for name in ("herald_hub_connections", "herald_hub_deliveries_total", "herald_hub_dropped_total",
                 "herald_hub_slow_consumer_closes_total", "herald_hub_event_lag_seconds_bucket",
                 "herald_hub_rejected_total", "herald_hub_events_total"):
        assert name in text, name
    assert metric(hub, "herald_hub_events_total", source="send", result="malformed") == 6
