"""test_sim_hms.py -- herald-sim's HMS OAuth client-credentials endpoint and
Push Kit send over TLS: 80000000, partial 80100000 whose msg is a JSON
string, 80300007 and 80200003 with HTTP 200, flow control with 503."""
import json

from simkit import HMS, HMS_OAUTH, hms_token, sim  # noqa: F401  (fixture)


def send(sim, access_token, message, h2=False):
    path = "/v1/%s/messages:send" % sim.creds["HERALD_SIM_HMS_APP_ID"]
    headers = {"Authorization": "Bearer " + access_token, "Content-Type": "application/json"}
    if h2:
        c = sim.h2(HMS)
        r = c.request(path, list((k.lower(), v) for k, v in headers.items()),
                      json.dumps({"validate_only": False, "message": message}))
        c.close()
        return r.status, r.headers, r.body
    c = sim.h1(HMS)
    st, hdrs, raw = c.call("POST", path, {"validate_only": False, "message": message}, headers)
    c.close()
    return st, hdrs, raw


def test_token_endpoint(sim):
    c = sim.h1(HMS_OAUTH)
    st, hdrs, raw = c.call("POST", "/oauth2/v3/token",
                           "grant_type=client_credentials&client_id=%s&client_secret=%s"
                           % (sim.creds["HERALD_SIM_HMS_APP_ID"], sim.creds["HERALD_SIM_HMS_CLIENT_SECRET"]),
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200 and hdrs["cache-control"] == "no-store"
    assert b"\\/" in raw  # '/' escaped; the decoded token has '/', '+'
    doc = json.loads(raw)
    assert doc["expires_in"] == 3600 and "/" in doc["access_token"] and "+" in doc["access_token"]
    st, _, raw = c.call("POST", "/oauth2/v3/token",
                        "grant_type=client_credentials&client_id=%s&client_secret=nope"
                        % sim.creds["HERALD_SIM_HMS_APP_ID"],
                        {"Content-Type": "application/x-www-form-urlencoded"})
    c.close()
    assert st == 400 and json.loads(raw) == {"error": 1101, "sub_error": 20003,
                                             "error_description": "parameter invalid"}


def test_send_outcomes(sim):
    at = hms_token(sim)
    st, _, raw = send(sim, at, {"data": "{\"k\":\"v\"}", "token": ["t1", "t2"]})
    doc = json.loads(raw)
    assert (st, doc["code"], doc["msg"]) == (200, "80000000", "Success") and doc["requestId"]
    st, _, raw = send(sim, at, {"data": "x", "token": ["t1", "dead-t2", "bad0-t3"]}, h2=True)
    doc = json.loads(raw)
    assert (st, doc["code"]) == (200, "80100000")
    assert isinstance(doc["msg"], str)
    assert json.loads(doc["msg"]) == {"success": 1, "failure": 2, "illegal_tokens": ["dead-t2", "bad0-t3"]}
    st, _, raw = send(sim, at, {"data": "x", "token": ["dead-1", "dead-2"]})
    doc = json.loads(raw)
    assert (st, doc["code"], doc["msg"]) == (200, "80300007", "All the tokens are invalid")
    st, hdrs, raw = send(sim, at, {"data": "x", "token": ["05030030"]})
    assert st == 503 and hdrs["retry-after"] == "30"
    counts = sim.counts()["hms"]
    assert counts["delivered"] == 3  # 2 + 1 tokens
    assert counts["outcomes"]["80100000"] == 1 and counts["outcomes"]["80300007"] == 1


def test_expired_token_is_80200003_with_http_200(sim):
    at = hms_token(sim)
    assert json.loads(send(sim, at, {"data": "x", "token": ["a"]})[2])["code"] == "80000000"
    sim.advance_clock(3600 * 1000)
    st, _, raw = send(sim, at, {"data": "x", "token": ["a"]})
    doc = json.loads(raw)
    assert (st, doc["code"], doc["msg"]) == (200, "80200003", "Access token expired")
    st, _, raw = send(sim, "not-a-token", {"data": "x", "token": ["a"]})
    assert json.loads(raw)["code"] == "80200001"


def test_validation_codes(sim):
    at = hms_token(sim)
    assert json.loads(send(sim, at, {"token": []})[2])["code"] == "80300010"
    assert json.loads(send(sim, at, {"token": ["a"], "data": {"k": "v"}})[2])["code"] == "80100003"
    assert json.loads(send(sim, at, {"token": ["a"], "android": {"collapse_key": 500}})[2])["code"] == "80100013"
    assert json.loads(send(sim, at, {"token": ["a"], "data": "x" * 5000})[2])["code"] == "80300008"
    assert json.loads(send(sim, at, {"token": ["t%d" % i for i in range(1001)]})[2])["code"] == "80300010"
