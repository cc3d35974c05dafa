"""test_api_webpush.py -- Web Push end to end, from herald-api to the
simulator: provider "webpush" devices (the browser's PushSubscription as
the token, checked at registration with nothing written when it is bad),
send_push_notification to users and to webpush_tokens, the fan-out,
herald-worker-webpush and herald-sim decrypting the exact payload, 410
removing the device, Retry-After honoured, expiry never passed, and the
payload limit refused at the API (106); Bitwarden's PUT
/devices/identifier/{id}/web-push-auth storing a browser's subscription
that Bitwarden events then reach in Bitwarden's Web Push shape."""
import json
import tempfile
import time
import urllib.parse

import jwt
import pytest

from api_support import API_KEY, start_api, wait_sql
from harness import Stack, http, http_json, wait_for
from simkit import Sim
from workerkit import VAPID_PUBLIC, Rig, tag


JWT_SECRET = "test-jwt-secret-0123456789abcdef"


class E2E:
    def __init__(self, stack, pg_cluster):
        self.kafka = stack.kafka()
        self.sim = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"))
        self.api = start_api(stack, pg_cluster, kafka=self.kafka, HERALD_JWT_SECRET=JWT_SECRET)
        self.rig = Rig(stack, "webpush", kafka=self.kafka, sim=self.sim)

    def subscription(self, id_):
        st, doc = self.sim.get("/control/webpush/subscription?" +
                               urllib.parse.urlencode({"id": id_, "key": VAPID_PUBLIC}))
        assert st == 200, doc
        return doc

    def register(self, sub, user):
        tok = json.dumps({"endpoint": sub["endpoint"], "expirationTime": None,
                          "keys": sub["keys"]}, separators=(",", ":"))
        return self.api.register(tok, "webpush", "web", user=user)

    def devices(self, ids):
        return {d["id"] for d in self.api.ok("device_list", {"ids": ids})["items"]}


@pytest.fixture(scope="module")
def e2e(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        e = E2E(s, pg_cluster)
    except Exception:
        s.close()
        raise
    yield e
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def test_send_reaches_the_browser_decrypted(e2e):
    user = "web-" + tag()
    sub = e2e.subscription("ok" + tag())
    dev = e2e.register(sub, user)
    # the endpoint is the device's token, the keys are kept beside it
    assert dev["token"] == sub["endpoint"]
    item = e2e.api.ok("device_list", {"ids": [dev["id"]], "include_webpush_keys": True})
    assert item["items"][0]["webpush_keys"] == sub["keys"]
    # the same subscription written differently is the same device
    again = e2e.api.register(json.dumps({"keys": sub["keys"], "endpoint": sub["endpoint"]}),
                             "webpush", "web", user=user)
    assert again["id"] == dev["id"]
    payload = {"title": "Hi", "body": "there", "n": 1}
    uid_ = "wp-" + tag()
    e2e.api.ok("send_push_notification", {
        "recipient": {"users": [user]},
        "notification": {"uid": uid_, "webpush": {"headers": {"Urgency": "high"},
                                                  "payload": payload}}})
    id_ = sub["endpoint"].rsplit("/", 1)[1].split("~")[0]
    e2e.rig.wait_records(1, token=id_, accepted=1)
    rec = e2e.rig.records(token=id_)[0]
    assert json.loads(rec["response"]["body"]) == payload
    assert rec["headers"]["urgency"] == "high"
    wait_for(lambda: e2e.api.ok("push_status_list", {"uid": uid_})
             .get("counts", {}).get("sent") == 1, timeout=30, what="1 sent outcome")


def test_raw_webpush_tokens(e2e):
    sub = e2e.subscription("ok" + tag())
    tok = json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]})
    e2e.api.ok("send_push_notification", {
        "recipient": {"webpush_tokens": [tok.replace(" ", "")]},
        "notification": {"webpush": {"payload": "plain text"}}})
    id_ = sub["endpoint"].rsplit("/", 1)[1].split("~")[0]
    e2e.rig.wait_records(1, token=id_, accepted=1)
    assert e2e.rig.records(token=id_)[0]["response"]["body"] == "plain text"


def test_gone_removes_the_device(e2e):
    user = "gone-" + tag()
    dead = e2e.register(e2e.subscription("dead" + tag()), user)["id"]
    live = e2e.register(e2e.subscription("ok" + tag()), user)["id"]
    e2e.api.ok("send_push_notification", {"recipient": {"users": [user]},
                                          "notification": {"webpush": {"payload": "x"}}})
    wait_for(lambda: dead not in e2e.devices([dead]), timeout=45,
             what="the 410 subscription's device removed")
    assert e2e.devices([live]) == {live}


def test_retry_after_and_expiry_through_the_stack(e2e):
    user = "retry-" + tag()
    t = tag()
    e2e.sim.rule(provider="webpush", token_prefix="ok" + t, error="TooManyRequests",
                 retry_after=1, count=1)
    sub = e2e.subscription("ok" + t)
    e2e.register(sub, user)
    uid_ = "wr-" + tag()
    e2e.api.ok("send_push_notification", {
        "recipient": {"users": [user]},
        "notification": {"uid": uid_, "webpush": {"payload": "again"}}})
    e2e.rig.wait_records(2, token="ok" + t, timeout=30)
    recs = sorted(e2e.rig.records(token="ok" + t), key=lambda r: r["time_ms"])
    assert recs[0]["status"] == 429 and recs[1]["status"] == 201
    assert recs[1]["time_ms"] - recs[0]["time_ms"] >= 1000
    # a request whose expiry comes before the Retry-After is not retried
    user2 = "exp-" + tag()
    id2 = "04290030" + tag()
    e2e.register(e2e.subscription(id2), user2)
    uid2 = "we-" + tag()
    e2e.api.ok("send_push_notification", {
        "recipient": {"users": [user2]},
        "notification": {"uid": uid2, "expire_at": int(time.time()) + 3,
                         "webpush": {"payload": "soon"}}})
    wait_for(lambda: e2e.api.ok("push_status_list", {"uid": uid2})
             .get("counts", {}).get("expired") == 1, timeout=30, what="expired")
    assert len(e2e.rig.records(token=id2)) == 1


BAD_KEYS = {
    "short p256dh": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx", "auth": "x" * 22},
    "not base64url": {"p256dh": "B*" * 43 + "B", "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
    "off the curve": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4"
                                "bjyPjs7Vd8pZGH6SRpkNtoIAiw8", "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
    "auth 15 bytes": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4"
                                "bjyPjs7Vd8pZGH6SRpkNtoIAiw4", "auth": "BTBZMqHH6r4Tts7J_aSI"},
}
BAD_ENDPOINTS = ["https://127.0.0.1/x", "http://fcm.googleapis.com/fcm/send/x",
                 "https://169.254.169.254/latest", "https://evil.example/push/1"]


@pytest.mark.parametrize("case", sorted(BAD_KEYS) + BAD_ENDPOINTS)
def test_bad_subscriptions_are_refused_and_nothing_written(e2e, case):
    good = e2e.subscription("ok" + tag())
    keys = BAD_KEYS.get(case, good["keys"])
    endpoint = case if case in BAD_ENDPOINTS else good["endpoint"]
    user = "bad-" + tag()
    tok = json.dumps({"endpoint": endpoint, "keys": keys}, separators=(",", ":"))
    err = e2e.api.error("device_register", {"provider": "webpush", "token": tok,
                                            "platform": "web", "user": user})
    assert err["code"] == 107, err
    assert e2e.api.ok("device_list", {"users": [user]})["items"] == []


def test_payload_over_the_encrypted_limit_is_refused(e2e):
    sub = e2e.subscription("ok" + tag())
    tok = json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]}, separators=(",", ":"))
    err = e2e.api.error("send_push_notification", {
        "recipient": {"webpush_tokens": [tok]},
        "notification": {"webpush": {"payload": "x" * 3994}}})
    assert err["code"] == 106, err
    e2e.api.ok("send_push_notification", {
        "recipient": {"webpush_tokens": [tok]},
        "notification": {"webpush": {"payload": "x" * 3993}}})
    id_ = sub["endpoint"].rsplit("/", 1)[1].split("~")[0]
    e2e.rig.wait_records(1, token=id_, accepted=1)
    rec = e2e.rig.records(token=id_)[0]
    assert rec["body_bytes"] == 4096 and rec["response"]["body"] == "x" * 3993


# ---- Bitwarden's web-push-auth ---------------------------------------------------

def bw_user(sub, device, devicetype=9):
    return jwt.encode({"sub": sub, "device": device, "devicetype": devicetype,
                       "exp": int(time.time()) + 600, "scope": ["api"]},
                      JWT_SECRET, algorithm="HS256")


def web_push_auth(e2e, ident, body, user_jwt, method="PUT"):
    hdrs = {"Authorization": "Bearer " + user_jwt} if user_jwt else {}
    return http(method, "%s/devices/identifier/%s/web-push-auth" % (e2e.api.url, ident),
                body, headers=hdrs)[0]


def test_web_push_auth_stores_the_browser_and_events_reach_it(e2e):
    """The web vault's subscription, PUT as Bitwarden's
    WebPushAuthRequestModel, becomes the user's webpush device (identifier,
    client type Web); a Bitwarden event then reaches the browser through
    herald-worker-webpush in Bitwarden's Web Push shape
    {"data":{"type":n,"payload":"<json>"}}, decrypted by herald-sim; an
    event whose ContextId is that browser does not."""
    user, vault = "bw-" + tag(), "vault-" + tag()
    sub = e2e.subscription("ok" + tag())
    body = {"endpoint": sub["endpoint"], "p256dh": sub["keys"]["p256dh"],
            "auth": sub["keys"]["auth"]}
    assert web_push_auth(e2e, vault, body, bw_user(user, vault)) == 200
    [d] = e2e.api.ok("device_list", {"users": [user], "include_webpush_keys": True})["items"]
    assert (d["provider"], d["platform"], d["token"], d["identifier"], d["client_type"],
            d["device_type"]) == ("webpush", "web", sub["endpoint"], vault, 1, 9)
    assert d["webpush_keys"] == sub["keys"]
    # the same browser again (POST, PascalCase as ASP.NET binds it): same device
    pascal = {"Endpoint": body["endpoint"], "P256dh": body["p256dh"], "Auth": body["auth"]}
    assert web_push_auth(e2e, vault, pascal, bw_user(user, vault), method="POST") == 200
    assert [i["id"] for i in e2e.api.ok("device_list", {"users": [user]})["items"]] == [d["id"]]

    payload = {"UserId": user, "Date": "2026-12-06T10:00:00Z"}
    st, doc = http_json("POST", e2e.api.url + "/events",
                        {"Type": 5, "Payload": payload, "target": {"user": user}},
                        headers={"Authorization": "apikey " + API_KEY})
    assert st == 202 and doc["uid"], doc
    id_ = sub["endpoint"].rsplit("/", 1)[1].split("~")[0]
    e2e.rig.wait_records(1, token=id_, accepted=1)
    got = json.loads(e2e.rig.records(token=id_)[0]["response"]["body"])
    assert set(got) == {"data"} and got["data"]["type"] == 5
    assert json.loads(got["data"]["payload"]) == payload
    # the browser acted: it is not pushed about its own change
    st, doc = http_json("POST", e2e.api.url + "/events",
                        {"Type": 7, "Payload": {"Id": "f", "UserId": user}, "ContextId": vault,
                         "target": {"user": user}},
                        headers={"Authorization": "apikey " + API_KEY})
    assert st == 202
    wait_sql(e2e.api, "select tokens from push_requests where uid = '%s'" % doc["uid"], "0")
    assert len(e2e.rig.records(token=id_)) == 1


def test_web_push_auth_refuses_bad_requests_and_writes_nothing(e2e):
    user, ident = "bwbad-" + tag(), "ext-" + tag()
    good = e2e.subscription("ok" + tag())
    body = {"endpoint": good["endpoint"], "p256dh": good["keys"]["p256dh"],
            "auth": good["keys"]["auth"]}
    tok = bw_user(user, ident, devicetype=2)
    assert web_push_auth(e2e, ident, body, None) == 401
    assert web_push_auth(e2e, ident, body, "nope") == 401
    for missing in ("endpoint", "p256dh", "auth"):
        assert web_push_auth(e2e, ident, {k: v for k, v in body.items() if k != missing},
                             tok) == 400, missing
    assert web_push_auth(e2e, ident, b"not json", tok) == 400
    for case, keys in BAD_KEYS.items():
        assert web_push_auth(e2e, ident, dict(body, **keys), tok) == 400, case
    for endpoint in BAD_ENDPOINTS:  # SSRF: never stored, never connected to
        assert web_push_auth(e2e, ident, dict(body, endpoint=endpoint), tok) == 400, endpoint
    assert e2e.api.ok("device_list", {"users": [user]})["items"] == []
    # another user's browser subscription cannot be taken over
    assert web_push_auth(e2e, ident, body, tok) == 200
    thief = "thief-" + tag()
    assert web_push_auth(e2e, "t-" + ident, body, bw_user(thief, "t-" + ident)) == 409
    assert e2e.api.ok("device_list", {"users": [thief]})["items"] == []
