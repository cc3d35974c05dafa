"""test_sim_control.py -- herald-sim's control API and tooling: rules, wait,
records and counts, reset, runtime latency, and `herald-sim gen` output
that openssl verifies for every hostname a worker uses."""
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from harness import BIN
from simkit import APNS, FCM, GOOGLE_OAUTH, TOKEN64, gen_credentials, google_token, sim  # noqa: F401  (fixture)


def test_rules_override_and_expire(sim):
    rid = sim.rule(provider="fcm", token_prefix="rule-", status=503, retry_after=7,
                   body="<html>busy</html>", content_type="text/html", count=2)
    at = google_token(sim)
    c = sim.h1(FCM)
    path = "/v1/projects/%s/messages:send" % sim.sa["project_id"]
    hdrs = {"Authorization": "Bearer " + at}
    for _ in range(2):
        st, h, body = c.call("POST", path, {"message": {"token": "rule-1"}}, hdrs)
        assert (st, h["retry-after"], body) == (503, "7", b"<html>busy</html>")
    st, _, _ = c.call("POST", path, {"message": {"token": "rule-1"}}, hdrs)
    assert st == 200  # used up
    c.close()
    st, doc = sim.get("/control/rules")
    assert doc["rules"][0]["id"] == rid and doc["rules"][0]["fired"] == 2
    st, doc = sim.post("/control/rules", {"provider": "apns", "error": "NoSuchReason"})
    assert st == 400 and "NoSuchReason" in doc["message"]


def test_rule_errors_and_actions_over_h2(sim):
    sim.rule(provider="apns", token_prefix="abab", error="Shutdown")
    sim.rule(provider="apns", token_prefix="cdcd", action="rst_stream", error_code="REFUSED_STREAM")
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    r = c.push(token="abab" + TOKEN64[4:], jwt_token=jwt)
    assert (r.status, r.json()["reason"]) == (503, "Shutdown")
    r = c.push(token="cdcd" + TOKEN64[4:], jwt_token=jwt)
    assert r.reset == 7
    assert c.push(jwt_token=jwt).status == 200
    c.close()


def test_wait_long_polls_until_requests_arrive(sim):
    result = {}

    def waiter():
        result["doc"] = sim.wait("provider=apns&token=%s&count=3" % TOKEN64, timeout_ms=10000)

    t = threading.Thread(target=waiter)
    t.start()
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    for _ in range(3):
        assert c.push(jwt_token=jwt).status == 200
    t.join(15)
    c.close()
    assert result["doc"] == {"satisfied": True, "matched": 3, "wanted": 3}
    st, doc = sim.get("/control/wait?provider=hms&count=1&timeout_ms=200")
    assert st == 408 and doc["satisfied"] is False


def test_records_counts_and_reset(sim):
    c = sim.h2(APNS)
    jwt = sim.apns_jwt()
    assert c.push(jwt_token=jwt).status == 200
    assert c.push(token="dead" + TOKEN64[4:], jwt_token=jwt).status == 410
    c.close()
    recs = sim.records("?provider=apns&outcome=Unregistered")
    assert len(recs) == 1 and recs[0]["status"] == 410 and recs[0]["response"]["body"].startswith('{"reason"')
    assert recs[0]["headers"]["apns-topic"] == "com.herald.sim"
    counts = sim.counts()
    assert counts["apns"]["requests"] == 2 and counts["apns"]["accepted"] == 1
    assert counts["apns"]["outcomes"] == {"success": 1, "Unregistered": 1}
    st, _ = sim.post("/control/reset")
    assert st == 204
    assert sim.counts()["apns"]["requests"] == 0 and sim.records("") == []


def test_runtime_latency_is_measured(sim):
    st, doc = sim.post("/control/latency", {"provider": "fcm", "ms": 400})
    assert st == 200 and doc["fcm"]["ms"] == 400 and doc["apns"]["ms"] == 0
    at = google_token(sim)
    c = sim.h2(FCM)
    path = "/v1/projects/%s/messages:send" % sim.sa["project_id"]
    t0 = time.monotonic()
    r = c.request(path, [("authorization", "Bearer " + at)], '{"message":{"token":"a"}}')
    took = time.monotonic() - t0
    c.close()
    assert r.status == 200 and 0.39 <= took < 3
    rec = sim.records("?provider=fcm&endpoint=send&limit=1")[0]
    assert rec["delay_ms"] == 400


def test_gen_output_verifies_for_every_host():
    d = tempfile.mkdtemp(prefix="herald-sim-gen-")
    env = gen_credentials(d)
    ca = env["HERALD_SIM_CA_FILE"]
    cert = os.path.join(d, "server.pem")
    for host in ("localhost", "fcm.googleapis.com", "oauth2.googleapis.com", "api.push.apple.com",
                 "api.sandbox.push.apple.com", "oauth-login.cloud.huawei.com", "push-api.cloud.huawei.com"):
        out = subprocess.run(["openssl", "verify", "-CAfile", ca, "-verify_hostname", host, cert],
                             capture_output=True, text=True)
        assert out.returncode == 0 and "OK" in out.stdout, (host, out.stderr)
    out = subprocess.run(["openssl", "verify", "-CAfile", ca, "-verify_ip", "127.0.0.1", cert],
                         capture_output=True, text=True)
    assert out.returncode == 0
    out = subprocess.run(["openssl", "verify", "-CAfile", ca, "-verify_hostname", "example.com", cert],
                         capture_output=True, text=True)
    assert out.returncode != 0
    # idempotent: a second run keeps the keys
    with open(env["HERALD_SIM_APNS_KEY_FILE"]) as f:
        before = f.read()
    assert gen_credentials(d) == env
    with open(env["HERALD_SIM_APNS_KEY_FILE"]) as f:
        assert f.read() == before
    out = subprocess.run([os.path.join(BIN, "herald-sim"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "HERALD_SIM_CREDENTIALS_DIR" in out.stdout and "gen DIR" in out.stdout


def _token_call(sim, ctx, session=None):
    """One HTTP/1.1 token request on a fresh TLS connection; returns the
    connection's (session, session_reused) after the answer (TLS 1.3 sends
    its ticket after the handshake, so the answer is read first)."""
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=GOOGLE_OAUTH, session=session)
    body = ("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
            + sim.google_assertion())
    s.sendall(("POST /token HTTP/1.1\r\nHost: %s\r\nContent-Type: "
               "application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
               "Connection: close\r\n\r\n%s" % (GOOGLE_OAUTH, len(body), body)).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    out = (s.session, s.session_reused)
    s.close()
    return out


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_session_resumption(sim, version):
    """A client that resumes its TLS session (a keep-alive agent's session
    cache) is served like a real provider serves it, not refused with an
    internal_error alert."""
    ctx = sim.tls_context(alpn=("http/1.1",))
    ctx.minimum_version = version
    ctx.maximum_version = version
    session, reused = _token_call(sim, ctx)
    assert session is not None and not reused
    for _ in range(2):
        session, reused = _token_call(sim, ctx, session)
        assert reused
