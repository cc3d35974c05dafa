"""test_sim_apns.py -- herald-sim's APNs over real TLS + HTTP/2: success and
apns-id, every reason of specs/providers.md 2.4, the provider-token rules,
HTTP/1.1 answered with GOAWAY, the stream limit before and after
authentication, and RST_STREAM / GOAWAY faults."""
import socket
import ssl
import struct
import tempfile
import time

from simkit import APNS, APNS_SANDBOX, TOKEN64, Response, Sim, sim  # noqa: F401  (fixture)

REASONS = [
    ("BadCollapseId", 400), ("BadDeviceToken", 400), ("BadExpirationDate", 400),
    ("BadMessageId", 400), ("BadPriority", 400), ("BadTopic", 400),
    ("DeviceTokenNotForTopic", 400), ("DuplicateHeaders", 400), ("IdleTimeout", 400),
    ("InvalidPushType", 400), ("MissingDeviceToken", 400), ("MissingTopic", 400),
    ("PayloadEmpty", 400), ("TopicDisallowed", 400), ("BadCertificate", 403),
    ("BadCertificateEnvironment", 403), ("ExpiredProviderToken", 403), ("Forbidden", 403),
    ("InvalidProviderToken", 403), ("MissingProviderToken", 403), ("UnrelatedKeyIdInToken", 403),
    ("BadEnvironmentKeyIdInToken", 403), ("BadPath", 404), ("MethodNotAllowed", 405),
    ("ExpiredToken", 410), ("Unregistered", 410), ("PayloadTooLarge", 413),
    ("TooManyProviderTokenUpdates", 429), ("TooManyRequests", 429),
    ("InternalServerError", 500), ("ServiceUnavailable", 503), ("Shutdown", 503),
]


def test_success_echoes_apns_id(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    r = c.push(jwt_token=jwt, extra=[("apns-id", "eabeae54-14a8-11e5-b60b-1697f925ec7b")])
    assert r.status == 200 and r.body == b""
    assert r.headers["apns-id"] == "eabeae54-14a8-11e5-b60b-1697f925ec7b"
    r = c.push(jwt_token=jwt)
    assert r.status == 200
    assert len(r.headers["apns-id"]) == 36
    assert "apns-unique-id" not in r.headers
    c.close()
    s = sim.h2(APNS_SANDBOX)
    r = s.push(jwt_token=jwt)
    assert r.status == 200 and "apns-unique-id" in r.headers
    s.close()
    doc = sim.wait("provider=apns&accepted=1&count=3")
    assert doc["matched"] == 3
    rec = sim.records("?provider=apns&limit=1")[-1]
    assert rec["token"] == TOKEN64 and rec["json"] == {"aps": {"alert": "hi"}}
    assert rec["identity"] == "%s/%s" % (sim.creds["HERALD_SIM_APNS_TEAM_ID"], sim.creds["HERALD_SIM_APNS_KEY_ID"])
    assert rec["proto"] == "h2" and rec["alpn"] == "h2"


def test_every_reason_by_token_prefix(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    for index, (reason, status) in enumerate(REASONS):
        r = c.push(token="ae%02d" % index + TOKEN64[4:], jwt_token=jwt)
        assert (r.status, r.headers["content-type"]) == (status, "application/json"), reason
        doc = r.json()
        assert doc["reason"] == reason
        if status == 410:
            assert abs(doc["timestamp"] - time.time() * 1000) < 60000
    c.close()
    assert sim.counts()["apns"]["requests"] == len(REASONS)


VALIDATION = [
    ([("apns-id", "not-a-uuid")], None, None, 400, "BadMessageId"),
    ([("apns-topic", "com.herald.sim")], None, None, 400, "DuplicateHeaders"),
    ([("apns-collapse-id", "x" * 65)], None, None, 400, "BadCollapseId"),
    ([("apns-priority", "3")], None, None, 400, "BadPriority"),
    ([("apns-push-type", "carrier-pigeon")], None, None, 400, "InvalidPushType"),
    ([("apns-push-type", "voip")], None, None, 400, "BadTopic"),
    ([("apns-expiration", "tomorrow")], None, None, 400, "BadExpirationDate"),
    ([], "/3/device/", None, 400, "MissingDeviceToken"),
    ([], "/2/device/" + TOKEN64, None, 404, "BadPath"),
    ([], "/3/device/not-hex", None, 400, "BadDeviceToken"),
    ([], None, b"", 400, "PayloadEmpty"),
    ([], None, b'{"aps":{"alert":"' + b"x" * 4100 + b'"}}', 413, "PayloadTooLarge"),
]


def test_request_validation(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    for headers, path, body, status, reason in VALIDATION:
        hdrs = [("apns-topic", "com.herald.sim"), ("authorization", "bearer " + jwt)] + headers
        r = c.request(path or "/3/device/" + TOKEN64, hdrs, b'{"aps":{}}' if body is None else body)
        assert (r.status, r.json()["reason"]) == (status, reason)
    c.close()


def test_method_and_topic(sim):
    c = sim.h2(APNS)
    r = c.request("/3/device/" + TOKEN64, [("apns-topic", "t")], method="GET")
    assert (r.status, r.json()["reason"]) == (405, "MethodNotAllowed")
    r = c.push(jwt_token=sim.apns_jwt(), topic=None)
    assert (r.status, r.json()["reason"]) == (400, "MissingTopic")
    c.close()


def test_jwt_failures(sim):
    jwt = sim.apns_jwt()
    cases = [
        (None, "MissingProviderToken"),
        (jwt[:-4] + ("AAAA" if not jwt.endswith("AAAA") else "BBBB"), "InvalidProviderToken"),
        (sim.apns_jwt(kid="UNKNOWN123"), "InvalidProviderToken"),
        (sim.apns_jwt(iss="OTHERTEAM0"), "InvalidProviderToken"),
        (sim.apns_jwt(iat=int(time.time()) + 3600), "InvalidProviderToken"),
        (sim.apns_jwt(iat=int(time.time()) - 3700), "ExpiredProviderToken"),
    ]
    for token, reason in cases:
        c = sim.h2(APNS)
        r = c.push(jwt_token=token)
        assert (r.status, r.json()["reason"]) == (403, reason), token
        c.close()


def test_der_signature_accepted(sim):
    c = sim.h2(APNS)
    assert c.push(jwt_token=sim.apns_jwt(der=True)).status == 200
    c.close()


def test_expired_via_virtual_clock(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    assert c.push(jwt_token=jwt).status == 200
    sim.advance_clock(3601 * 1000)
    r = c.push(jwt_token=jwt)
    assert (r.status, r.json()["reason"]) == (403, "ExpiredProviderToken")
    c.close()


def test_too_many_provider_token_updates(sim):
    c = sim.h2(APNS)
    first = sim.apns_jwt()
    second = sim.apns_jwt(iat=int(time.time()) - 5)
    assert c.push(jwt_token=first).status == 200
    r = c.push(jwt_token=second)
    assert (r.status, r.json()["reason"]) == (429, "TooManyProviderTokenUpdates")
    assert c.push(jwt_token=first).status == 200  # the old one still works
    other = sim.h2(APNS)  # a new connection may start with the new token
    assert other.push(jwt_token=second).status == 200
    other.close()
    sim.advance_clock(20 * 60 * 1000 + 1000)
    assert c.push(jwt_token=second).status == 200
    c.close()


def test_http1_gets_goaway(sim):
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
    s = sim.tls_context(("http/1.1",)).wrap_socket(raw, server_hostname=APNS)
    s.sendall(b"POST /3/device/" + TOKEN64.encode() + b" HTTP/1.1\r\nHost: api.push.apple.com\r\n"
              b"Content-Length: 2\r\n\r\n{}")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    # SETTINGS, then GOAWAY (type 7) on stream 0
    assert data[3] == 4
    off = 9 + struct.unpack(">I", b"\0" + data[0:3])[0]
    length = struct.unpack(">I", b"\0" + data[off:off + 3])[0]
    assert data[off + 3] == 7
    debug = data[off + 17:off + 9 + length]
    assert debug == b"Unexpected HTTP/1.x request: POST /3/device/" + TOKEN64.encode()


def test_stream_limit_raised_after_auth(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    c.settle(0.3)
    assert c.max_streams[:1] == [1]
    assert c.push(jwt_token=jwt).status == 200
    c.settle(0.3)
    assert c.max_streams[-1] == 1000
    # with 1000 allowed, 50 concurrent streams all succeed
    sids = [c.start("/3/device/" + TOKEN64, [("apns-topic", "com.herald.sim"), ("authorization", "bearer " + jwt)],
                    b'{"aps":{}}') for _ in range(50)]
    assert all(c.wait(s).status == 200 for s in sids)
    c.close()


def test_excess_streams_refused(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    # Before the SETTINGS frame is read the client believes in unlimited
    # streams: five HEADERS, then their bodies, in one write. Only the
    # first fits in the one stream APNs allows before authentication.
    hdrs = [(":method", "POST"), (":scheme", "https"), (":authority", APNS),
            (":path", "/3/device/" + TOKEN64), ("apns-topic", "com.herald.sim"),
            ("authorization", "bearer " + jwt)]
    sids = []
    for _ in range(5):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, hdrs)
        c.streams[sid] = Response()
        sids.append(sid)
    for sid in sids:
        c.conn.send_data(sid, b'{"aps":{}}', end_stream=True)
    c.flush()
    results = [c.wait(s) for s in sids]
    assert results[0].status == 200
    assert all(r.reset == 7 for r in results[1:])  # REFUSED_STREAM
    c.close()


def test_rst_stream_and_goaway_faults(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    r = c.push(token="a80708" + TOKEN64[6:], jwt_token=jwt)
    assert r.reset == 8  # CANCEL
    assert c.push(jwt_token=jwt).status == 200
    sid = c.start("/3/device/60a000" + TOKEN64[6:], [("apns-topic", "com.herald.sim"),
                                                       ("authorization", "bearer " + jwt)], b"{}")
    c.wait(sid)
    c.settle(0.5)
    assert c.goaway is not None and c.goaway.error_code == 0
    c.close()


def test_control_goaway_reaches_open_connections(sim):
    c = sim.h2(APNS)
    assert c.push(jwt_token=sim.apns_jwt()).status == 200
    st, _ = sim.post("/control/goaway", {"provider": "apns", "debug": '{"reason":"Shutdown"}'})
    assert st == 202
    deadline = time.monotonic() + 5
    while c.goaway is None and time.monotonic() < deadline:
        try:
            c.pump(1)
        except (socket.timeout, ssl.SSLError):
            pass
    assert c.goaway is not None
    assert c.goaway.additional_data == b'{"reason":"Shutdown"}'
    c.close()


def test_latency_prefix_is_measured(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    assert c.push(jwt_token=jwt).status == 200
    t0 = time.monotonic()
    assert c.push(token="de1a0300" + TOKEN64[8:], jwt_token=jwt).status == 200
    took = time.monotonic() - t0
    assert 0.29 <= took < 2.0
    # a delayed stream does not hold up the others on the connection
    slow = c.start("/3/device/de1a0800" + TOKEN64[8:], [("apns-topic", "com.herald.sim"),
                                                         ("authorization", "bearer " + jwt)], b"{}")
    t0 = time.monotonic()
    assert c.push(jwt_token=jwt).status == 200
    assert time.monotonic() - t0 < 0.5
    assert c.wait(slow).status == 200
    assert time.monotonic() - t0 >= 0.75
    c.close()


def test_goaway_on_excess_streams_knob(stack):
    s = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"), HERALD_SIM_APNS_GOAWAY_ON_EXCESS=1)
    c = s.h2(APNS)
    jwt = s.apns_jwt()
    hdrs = [(":method", "POST"), (":scheme", "https"), (":authority", APNS),
            (":path", "/3/device/" + TOKEN64), ("apns-topic", "com.herald.sim"),
            ("authorization", "bearer " + jwt)]
    for _ in range(3):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, hdrs)
        c.streams[sid] = Response()
    c.flush()
    c.settle(1.0)
    assert c.goaway is not None and c.goaway.error_code == 1  # PROTOCOL_ERROR
    assert c.goaway.additional_data == b"Maximum active streams violated for this endpoint."
    c.close()
