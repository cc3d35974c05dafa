"""test_sim_fcm.py -- herald-sim's Google token endpoint and FCM HTTP v1
over TLS, on HTTP/1.1 and HTTP/2: assertions checked in Google's order,
access tokens that expire on the virtual clock, and the FcmError answers a
worker branches on."""
import json
import tempfile
import time

import pytest

from simkit import FCM, GOOGLE_OAUTH, Sim, google_token, sim  # noqa: F401  (fixture)

GRANT = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def token_call(sim, body):
    c = sim.h1(GOOGLE_OAUTH)
    st, hdrs, raw = c.call("POST", "/token", body, FORM)
    c.close()
    return st, json.loads(raw)


def send(sim, access_token, message, h2=False, project=None, validate_only=None):
    path = "/v1/projects/%s/messages:send" % (project or sim.sa["project_id"])
    doc = {"message": message}
    if validate_only is not None:
        doc["validate_only"] = validate_only
    headers = {"Authorization": "Bearer " + access_token, "Content-Type": "application/json"}
    if h2:
        c = sim.h2(FCM)
        r = c.request(path, list((k.lower(), v) for k, v in headers.items()), json.dumps(doc))
        c.close()
        return r.status, r.headers, r.json()
    c = sim.h1(FCM)
    st, hdrs, raw = c.call("POST", path, doc, headers)
    c.close()
    return st, hdrs, json.loads(raw)


def fcm_error_code(doc):
    for d in doc["error"].get("details", []):
        if d["@type"].endswith("FcmError"):
            return d["errorCode"]
    return None


def test_token_issued_and_reused(sim):
    st, doc = token_call(sim, "grant_type=%s&assertion=%s" % (GRANT, sim.google_assertion()))
    assert st == 200
    assert doc["access_token"].startswith("ya29.") and doc["expires_in"] == 3599
    assert doc["token_type"] == "Bearer"
    for i in range(5):
        st, _, body = send(sim, doc["access_token"], {"token": "device-%d" % i, "data": {"k": "v"}}, h2=i % 2 == 1)
        assert st == 200 and body["name"].startswith("projects/%s/messages/" % sim.sa["project_id"])
    counts = sim.counts()
    assert counts["fcm"]["token"]["issued"] == 1
    assert counts["fcm"]["accepted"] == 5


@pytest.mark.parametrize("body,error,fragment", [
    ("grant_type=%s&assertion=BAD", "invalid_request", "Bad Request"),
    ("grant_type=client_credentials&assertion=x", "unsupported_grant_type", "Invalid grant_type"),
])
def test_token_request_errors(sim, body, error, fragment):
    st, doc = token_call(sim, body % GRANT if "%s" in body else body)
    assert st == 400 and doc["error"] == error and fragment in doc["error_description"]


def test_token_bad_signature_and_claims(sim):
    good = sim.google_assertion()
    head, payload, sig = good.split(".")
    forged = head + "." + payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    st, doc = token_call(sim, "grant_type=%s&assertion=%s" % (GRANT, forged))
    assert (st, doc["error"], doc["error_description"]) == (400, "invalid_grant", "Invalid JWT Signature.")
    now = int(time.time())
    cases = [
        ({"exp": now + 7200}, "invalid_grant", "Token must be a short-lived token"),
        ({"iat": None}, "invalid_grant", "iat (issued at) is not set."),
        ({"aud": "https://example.com/token"}, "invalid_grant", "Failed audience check."),
        ({"scope": ""}, "invalid_scope", "Invalid OAuth scope"),
        ({"iss": "ghost@nowhere.iam.gserviceaccount.com"}, "invalid_grant", "account not found"),
    ]
    for override, error, fragment in cases:
        st, doc = token_call(sim, "grant_type=%s&assertion=%s" % (GRANT, sim.google_assertion(**override)))
        assert st == 400 and doc["error"] == error and fragment in doc["error_description"], override


def test_send_outcomes(sim):
    at = google_token(sim)
    st, hdrs, doc = send(sim, at, {"token": "dead-token"})
    assert (st, doc["error"]["status"], fcm_error_code(doc)) == (404, "NOT_FOUND", "UNREGISTERED")
    st, _, doc = send(sim, at, {"token": "bad0-token"}, h2=True)
    assert (st, fcm_error_code(doc)) == (400, "INVALID_ARGUMENT")
    assert doc["error"]["message"] == "The registration token is not a valid FCM registration token"
    st, _, doc = send(sim, at, {"token": "fe02-other-project"})
    assert (st, doc["error"]["status"], fcm_error_code(doc)) == (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
    st, hdrs, doc = send(sim, at, {"token": "04290060-quota"}, h2=True)
    assert (st, doc["error"]["status"], fcm_error_code(doc)) == (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")
    assert hdrs["retry-after"] == "60"
    st, hdrs, doc = send(sim, at, {"token": "05030005-busy"})
    assert (st, fcm_error_code(doc), hdrs["retry-after"]) == (503, "UNAVAILABLE", "5")
    st, _, doc = send(sim, at, {"token": "0500-broken"})
    assert (st, fcm_error_code(doc)) == (500, "INTERNAL")
    st, _, doc = send(sim, at, {"token": "fe08-ios"})
    assert st == 400 and {"@type": "type.googleapis.com/google.firebase.fcm.v1.ApnsError",
                          "statusCode": 410, "reason": "Unregistered"} in doc["error"]["details"]
    st, _, doc = send(sim, at, {"token": "ok"}, validate_only=True)
    assert st == 200 and doc["name"].endswith("/messages/fake_message_id")
    assert sim.counts()["fcm"]["outcomes"]["validate_only"] == 1


def test_invalid_argument_without_fcm_error(sim):
    at = google_token(sim)
    st, _, doc = send(sim, at, {"token": "x", "data": {"n": 1}})
    assert st == 400 and fcm_error_code(doc) is None
    assert doc["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    st, _, doc = send(sim, at, {"token": "x", "priority": "high"})
    assert st == 400 and "Unknown name \"priority\" at 'message'" in doc["error"]["message"]
    st, _, doc = send(sim, at, {"token": "x", "data": {"k": "v" * 5000}})
    assert (st, fcm_error_code(doc)) == (400, "INVALID_ARGUMENT")
    assert doc["error"]["message"].startswith("Message is too large")


def test_expired_and_missing_access_token(sim):
    at = google_token(sim)
    assert send(sim, at, {"token": "a"})[0] == 200
    sim.advance_clock(3600 * 1000)
    st, hdrs, doc = send(sim, at, {"token": "a"}, h2=True)
    assert (st, doc["error"]["status"], fcm_error_code(doc)) == (401, "UNAUTHENTICATED", None)
    assert doc["error"]["message"].startswith("Request had invalid authentication credentials.")
    assert hdrs["www-authenticate"] == 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    c = sim.h1(FCM)
    st, _, raw = c.call("POST", "/v1/projects/%s/messages:send" % sim.sa["project_id"], {"message": {}})
    c.close()
    assert st == 401 and "missing required authentication credential" in json.loads(raw)["error"]["message"]
    # a fresh token works again (its assertion is dated on the virtual clock)
    at2 = google_token(sim, sim.google_assertion(iat=int(time.time()) + 3600, exp=int(time.time()) + 7000))
    assert send(sim, at2, {"token": "a"})[0] == 200


def test_wrong_project(sim):
    at = google_token(sim)
    st, _, doc = send(sim, at, {"token": "a"}, project="not-mine")
    assert st == 404 and fcm_error_code(doc) is None


def test_project_quota(stack):
    s = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"), HERALD_SIM_FCM_QUOTA_PER_MIN=3)
    at = google_token(s)
    assert [send(s, at, {"token": "q%d" % i})[0] for i in range(3)] == [200, 200, 200]
    st, hdrs, doc = send(s, at, {"token": "q4"})
    assert (st, fcm_error_code(doc)) == (429, "QUOTA_EXCEEDED")
    assert 1 <= int(hdrs["retry-after"]) <= 60
    s.post("/control/reset")
    assert send(s, at, {"token": "q5"})[0] == 200
