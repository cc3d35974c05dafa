"""test_console.py -- herald-api's console on its admin listener, driven in
the system Chromium (tests/js/console_test.js, puppeteer-core) against a
real stack: PostgreSQL, herald-devkafka, herald-sim, the FCM worker, the
hub and herald-api. It logs in (a wrong key is refused first), finds a
device by user, sends a test push that herald-sim receives, watches the
deliveries chart move, reads the push's status, and checks that a session
expires; the HTTP-level abuse cases (no session, no CSRF token, another
origin, login flooding, the console off the public port) are checked
directly. The flow's screenshots go to build/test/console/, or with
HERALD_CONSOLE_SHOTS=docs to docs/img/console-*.png (the ones
docs/operations.md shows)."""
import json
import os
import subprocess
import tempfile

import pytest

from api_support import API_KEY, start_api
from harness import ROOT, Stack, http, wait_for
from simkit import Sim
from workerkit import Rig, tag, token

SCRIPT = os.path.join(ROOT, "tests", "js", "console_test.js")
SHOTS = (os.path.join(ROOT, "docs", "img") if os.environ.get("HERALD_CONSOLE_SHOTS") == "docs"
         else os.path.join(ROOT, "build", "test", "console"))
SECRET = "console-test-jwt-secret-0123456789abcdef"


def run_browser(mode, timeout=240, **env):
    e = dict(os.environ)
    e.update({k: str(v) for k, v in env.items()})
    r = subprocess.run(["node", SCRIPT, mode], env=e, capture_output=True, text=True,
                       timeout=timeout, cwd=os.path.join(ROOT, "tests", "js"))
    steps = {}
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            steps[doc["step"]] = doc
    assert r.returncode == 0 and "done" in steps, (r.stdout[-4000:], r.stderr[-4000:])
    return steps


@pytest.fixture(scope="module")
def rig(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        kafka = s.kafka()
        sim = Sim(s, tempfile.mkdtemp(prefix="herald-sim-"))
        fcm = Rig(s, "fcm", kafka=kafka, sim=sim)
        hub = s.start("herald-hub", s.env(HERALD_KAFKA_BROKERS=kafka.brokers, HERALD_JWT_SECRET=SECRET),
                      port_var="HERALD_HUB_PORT", wait="readyz")
        urls = "fcm=%s,hub=%s" % (fcm.worker.admin_url, hub.admin_url)
        api = start_api(s, pg_cluster, kafka=kafka, HERALD_CONSOLE_METRICS_URLS=urls,
                        HERALD_JWT_SECRET=SECRET)
    except Exception:
        s.close()
        raise
    yield s, pg_cluster, kafka, fcm, api
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def test_console_in_chromium_finds_sends_and_charts(rig):
    _, _, _, fcm, api = rig
    user = "console-" + tag()
    tok = token("fcm")
    dev = api.register(tok, "fcm", "android", user=user)
    # another device whose token shares all but the prefix's last characters
    api.register(tok[:12] + "x" + tok[13:], "fcm", "android", user=user + "-other")
    # a push sent by the API, not from the console: its outcome is on the device page too
    api_uid = "console-api-" + tag()
    api.ok("send_push_notification", {"uid": api_uid, "recipient": {"filter": {"users": [user]}},
                                      "notification": {"fcm": {"message": {"notification": {"title": "From the API", "body": "x"}}}}})
    wait_for(lambda: api.sql("SELECT status FROM push_status WHERE uid = '%s'" % api_uid) == "sent",
             60, what="the API push's outcome")
    os.makedirs(SHOTS, exist_ok=True)
    steps = run_browser("flow", CONSOLE_URL=api.svc.admin_url, API_KEY=API_KEY, USER=user,
                        DEVICE_ID=dev["id"], TOKEN_PREFIX=tok[:16], API_UID=api_uid, SHOTS=SHOTS)
    assert steps["wrong_key_refused"]["cookies"] == 0
    li = steps["logged_in"]
    assert li["httpOnly"] and li["secure"] and li["sameSite"] == "Strict" and li["path"] == "/console", li
    assert steps["device_found"]["rows"] == 1
    # the token prefix went to the server, which answered this device alone
    assert steps["device_by_prefix"]["rows"] == 1, steps["device_by_prefix"]
    assert {"token_prefix": tok[:16]} in steps["device_by_prefix"]["filters"], steps["device_by_prefix"]
    assert {"request", "fcm", "apns", "hms", "webpush"} <= set(steps["preview"]["parts"])
    uid = steps["sent"]["uid"]
    # it arrived at the simulator, for this device's token (after the API's push)
    fcm.wait_records(2, token=tok, accepted=1)
    recs = fcm.records(token=tok)
    assert [r["json"]["message"]["notification"] for r in recs] == [
        {"title": "From the API", "body": "x"}, {"title": "Console test", "body": "Hello"}]
    # one delivery in a 2 s tick: a rate above zero for fcm at some point
    assert steps["chart_moved"]["peak"] > 0 and "fcm" in json.loads(steps["chart_moved"]["latest"])
    assert "sent" in steps["status"]["statuses"]
    assert uid in steps["device_outcomes"]["text"] and "sent" in steps["device_outcomes"]["text"]
    assert api_uid in steps["device_outcomes"]["text"]
    assert steps["csrf_required"]["status"] == 403
    assert steps["logged_out"]["session"] == 401
    for name in ("login", "devices", "send", "charts", "status", "device"):
        assert os.path.getsize(os.path.join(SHOTS, "console-%s.png" % name)) > 5000, name


def test_session_expires(rig):
    s, pg_cluster, kafka, _, _ = rig
    api = start_api(s, pg_cluster, kafka=kafka, HERALD_CONSOLE_SESSION_S="2")
    steps = run_browser("expiry", CONSOLE_URL=api.svc.admin_url, API_KEY=API_KEY, EXPIRE_MS=3000)
    assert "session has ended" in steps["expired"]["message"]


def login(url, key, origin=None):
    hdrs = {"Content-Type": "application/json"}
    if origin:
        hdrs["Origin"] = origin
    return http("POST", url + "/console/login", body={"key": key}, headers=hdrs)


def test_console_refuses_what_a_browser_would_not_send(rig):
    _, _, _, _, api = rig
    url = api.svc.admin_url
    # not on the public port at all
    assert http("GET", api.url + "/console/")[0] == 404
    assert http("POST", api.url + "/console/login", body={"key": API_KEY})[0] == 404
    # the page itself, with a CSP that allows no inline script or other origin
    st, hdrs, body = http("GET", url + "/console/")
    assert st == 200 and b"console.js" in body
    assert "default-src 'self'" in {k.lower(): v for k, v in hdrs.items()}["content-security-policy"]
    # a login from another origin is refused
    assert login(url, API_KEY, origin="http://evil.example")[0] == 403
    st, hdrs, body = login(url, API_KEY, origin=url)
    assert st == 200
    cookie = {k.lower(): v for k, v in hdrs.items()}["set-cookie"]
    for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/console"):
        assert attr in cookie, cookie
    sid = cookie.split(";")[0]
    csrf = json.loads(body)["csrf"]
    call = url + "/console/api/device_list"
    ok = {"Cookie": sid, "X-Herald-CSRF": csrf, "Content-Type": "application/json"}
    assert http("POST", call, body={}, headers=ok)[0] == 200
    assert http("POST", call, body={}, headers={"Content-Type": "application/json"})[0] == 401
    assert http("POST", call, body={}, headers=dict(ok, **{"X-Herald-CSRF": "0" * 64}))[0] == 403
    assert http("POST", call, body={}, headers={"Cookie": sid, "Content-Type": "application/json"})[0] == 403
    assert http("POST", call, body={}, headers=dict(ok, Origin="http://evil.example"))[0] == 403
    assert http("POST", call, body={}, headers=dict(ok, Cookie="herald_console=" + "0" * 64))[0] == 401
    assert http("GET", url + "/console/metrics/api", headers={"Cookie": sid})[0] == 200
    assert http("GET", url + "/console/metrics/api")[0] == 401
    assert http("GET", url + "/console/metrics/nowhere", headers={"Cookie": sid})[0] == 404
    assert http("GET", url + "/console/static/../../etc/passwd")[0] == 404
    # guessing keys: after a burst every attempt waits, even the right key
    codes = [login(url, "guess-%d" % i)[0] for i in range(8)]
    assert codes[0] == 401 and codes[-1] == 429, codes
    st, hdrs, _ = login(url, API_KEY)
    assert st == 429 and int({k.lower(): v for k, v in hdrs.items()}["retry-after"]) >= 1
