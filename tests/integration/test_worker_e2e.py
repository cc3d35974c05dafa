"""test_worker_e2e.py -- end to end, from herald-api to the simulator:
send_push_notification and Bitwarden /events through the fan-out,
herald.deliver.<provider>, the three workers and herald-sim, and back
through herald.feedback to herald-api, which records outcomes and removes
devices whose tokens the providers declared dead (410 Unregistered,
UNREGISTERED, HMS illegal tokens)."""
import json
import tempfile
import time

import pytest

from api_support import start_api
from harness import Stack, http_json, wait_for
from simkit import Sim
from workerkit import Rig, tag, token

PLATFORM = {"fcm": "android", "apns": "ios", "hms": "android"}


class E2E:
    def __init__(self, stack, pg_cluster):
        self.kafka = stack.kafka()
        self.sim = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"))
        self.api = start_api(stack, pg_cluster, kafka=self.kafka,
                             HERALD_API_FANOUT_PAGE="1000")
        self.rigs = {p: Rig(stack, p, kafka=self.kafka, sim=self.sim)
                     for p in ("fcm", "apns", "hms")}

    def register(self, provider, tok, user, identifier=None):
        kw = {"user": user}
        if identifier:
            kw["identifier"] = identifier
        return self.api.register(tok, provider, PLATFORM[provider], **kw)["id"]

    def devices(self, ids):
        return {d["id"] for d in self.api.ok("device_list", {"ids": ids})["items"]}

    def records(self, provider, tok):
        return self.rigs[provider].records(token=tok)


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


NOTIFICATION = {
    "fcm": {"message": {"notification": {"title": "Hi", "body": "there"}}},
    "apns": {"headers": {"apns-push-type": "alert"},
             "payload": {"aps": {"alert": {"title": "Hi", "body": "there"}}}},
    "hms": {"message": {"android": {"notification": {"title": "Hi", "body": "there",
                                                     "click_action": {"type": 3}}}}},
}


def test_send_push_notification_reaches_every_provider(e2e):
    user = "alice-" + tag()
    toks = {p: token(p) for p in ("fcm", "apns", "hms")}
    for p, t in toks.items():
        e2e.register(p, t, user)
    uid_ = "order-" + tag()
    n = dict(NOTIFICATION, uid=uid_)
    e2e.api.ok("send_push_notification", {"recipient": {"users": [user]}, "notification": n})
    for p, t in toks.items():
        e2e.rigs[p].wait_records(1, token=t, accepted=1)
    assert e2e.records("fcm", toks["fcm"])[0]["json"]["message"] == {
        "token": toks["fcm"], "notification": {"title": "Hi", "body": "there"}}
    apns = e2e.records("apns", toks["apns"])[0]
    assert apns["json"] == {"aps": {"alert": {"title": "Hi", "body": "there"}}}
    assert apns["headers"]["apns-push-type"] == "alert"
    hms = e2e.records("hms", toks["hms"])[0]["json"]["message"]
    assert hms["token"] == [toks["hms"]] and hms["android"]["notification"]["title"] == "Hi"
    # the outcomes come back to herald-api
    wait_for(lambda: e2e.api.ok("push_status_list", {"uid": uid_})
             .get("counts", {}).get("sent") == 3, timeout=30, what="3 sent outcomes")


def test_dead_tokens_remove_devices(e2e):
    user = "bob-" + tag()
    dead = {"fcm": token("fcm", "dead-"), "apns": token("apns", "dead"),
            "hms": token("hms", "dead-")}
    live = {p: token(p) for p in dead}
    dead_ids = [e2e.register(p, t, user) for p, t in dead.items()]
    live_ids = [e2e.register(p, t, user) for p, t in live.items()]
    e2e.api.ok("send_push_notification",
               {"recipient": {"users": [user]}, "notification": NOTIFICATION})
    wait_for(lambda: not (e2e.devices(dead_ids) & set(dead_ids)), timeout=45,
             what="the dead tokens' devices removed by herald-api")
    assert e2e.devices(live_ids) == set(live_ids)
    # the simulator saw 410 Unregistered, 404 UNREGISTERED, an illegal HMS token
    assert e2e.records("apns", dead["apns"])[0]["outcome"] == "Unregistered"
    assert e2e.records("fcm", dead["fcm"])[0]["outcome"] == "UNREGISTERED"
    hms = e2e.records("hms", dead["hms"])[0]
    assert hms["outcome"] == "80100000" and sorted(hms["tokens"]) == sorted(
        [dead["hms"], live["hms"]])


def test_bitwarden_events_carry_mobile_payloads(e2e):
    user = "carol-" + tag()
    toks = {p: token(p) for p in ("fcm", "apns", "hms")}
    for p, t in toks.items():
        e2e.register(p, t, user, identifier="phone-" + p)
    actor = token("fcm")
    e2e.register("fcm", actor, user, identifier="actor-phone")
    payload = {"Id": "cipher-1", "UserId": user, "RevisionDate": "2026-11-23T10:00:00Z"}
    st, doc = http_json("POST", e2e.api.url + "/events",
                        {"Type": 1, "Payload": payload, "ContextId": "actor-phone",
                         "target": {"user": user}, "device_identifier": "actor-phone"},
                        headers=e2e.api.headers())
    assert st == 202, doc
    for p, t in toks.items():
        e2e.rigs[p].wait_records(1, token=t, accepted=1)
    fcm = e2e.records("fcm", toks["fcm"])[0]["json"]["message"]
    assert fcm["token"] == toks["fcm"] and fcm["data"]["type"] == "1"
    assert json.loads(fcm["data"]["payload"]) == payload
    apns = e2e.records("apns", toks["apns"])[0]
    assert apns["headers"]["apns-push-type"] == "background"
    assert apns["headers"]["apns-priority"] == "5"
    assert apns["json"]["aps"] == {"content-available": 1}
    assert apns["json"]["data"]["type"] == 1
    assert json.loads(apns["json"]["data"]["payload"]) == payload
    hms = json.loads(e2e.records("hms", toks["hms"])[0]["json"]["message"]["data"])
    assert hms["type"] == "1" and json.loads(hms["payload"]) == payload
    # the device that caused the event does not get its own push
    assert e2e.records("fcm", actor) == []


@pytest.mark.parametrize("provider", ["fcm", "apns", "hms"])
def test_expired_request_is_not_sent(e2e, provider):
    user = "dave-" + tag()
    t = token(provider)
    e2e.register(provider, t, user)
    uid_ = "late-" + tag()
    e2e.api.ok("send_push_notification",
               {"recipient": {"users": [user]},
                "notification": dict(NOTIFICATION, uid=uid_, expire_at=int(time.time()) - 1)})
    wait_for(lambda: e2e.api.ok("push_status_list", {"uid": uid_})["request"]["state"]
             == "expired", timeout=30, what="the request reported expired")
    assert e2e.records(provider, t) == []


# what each provider answers when it wants the sender to come back later
# (FCM: 429 QUOTA_EXCEEDED; APNs: 503 ServiceUnavailable; HMS: 503 flow
# control), each with Retry-After: 1
RETRY_LATER = {"fcm": ("QUOTA_EXCEEDED", 429), "apns": ("ServiceUnavailable", 503),
               "hms": ("503", 503)}


@pytest.mark.parametrize("provider", ["fcm", "apns", "hms"])
def test_retry_after_through_the_whole_stack(e2e, provider):
    user = "erin-" + tag()
    t = token(provider, "ok-" + tag() if provider != "apns" else "00" + tag())
    e2e.register(provider, t, user)
    error, status = RETRY_LATER[provider]
    e2e.sim.rule(provider=provider, token_prefix=t, error=error, retry_after=1, count=1)
    uid_ = "retry-" + tag()
    e2e.api.ok("send_push_notification", {"recipient": {"users": [user]},
                                          "notification": dict(NOTIFICATION, uid=uid_)})
    wait_for(lambda: e2e.api.ok("push_status_list", {"uid": uid_})
             .get("counts", {}).get("sent") == 1, timeout=30, what="sent after the retry")
    first, second = e2e.records(provider, t)
    assert first["status"] == status and second["status"] == 200
    assert second["time_ms"] - first["time_ms"] >= 1000
