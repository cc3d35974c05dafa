"""test_worker_fcm.py -- herald-worker-fcm against herald-sim, with delivery
batches produced straight to herald.deliver.fcm: requests as FCM expects
them, every error class, Retry-After honoured (measured at the simulator),
expiry, the access token reused, and nothing lost across kill -9 or
SIGTERM in the middle of a large batch."""
import json
import time

import pytest

from workerkit import Rig, crash_scenario, rig_fixture, tag, token, uid

rig = rig_fixture("fcm")


def test_success_request_shape_and_feedback(rig):
    u = uid()
    pre = "ok-" + tag()
    toks = [token("fcm", pre) for _ in range(3)]
    rig.send(u, toks, notification={"message": {"data": {"k": "v"},
                                                "android": {"priority": "high"}}})
    rig.wait_records(3, token_prefix=pre)
    rec = rig.records(token=toks[1])[0]
    assert rec["authority"] == "fcm.googleapis.com" and rec["proto"] == "h2"
    assert rec["path"] == "/v1/projects/%s/messages:send" % rig.sim.sa["project_id"]
    assert rec["headers"]["authorization"].startswith("Bearer ya29.")
    assert rec["json"] == {"message": {"token": toks[1], "data": {"k": "v"},
                                       "android": {"priority": "high"}}}
    out = rig.outcomes(u, 3)
    assert out == {t: ("sent", "") for t in toks}
    fb = rig.feedback(u, 3)[0]
    assert fb["provider"] == "fcm" and fb["http_status"] == 200 and fb["attempt"] == 0
    assert fb["device"] == "dev-" + fb["token"][-12:]
    assert rig.metric("herald_push_notifications_total", provider="fcm",
                      recipient_type="device", success="true") >= 3


def test_every_error_class(rig):
    u = uid()
    toks = {
        "dead": token("fcm", "dead-"),        # 404 UNREGISTERED
        "bad": token("fcm", "bad0-"),         # 400 not a valid token
        "mismatch": token("fcm", "fe02-"),    # 403 SENDER_ID_MISMATCH
        "apns_gone": token("fcm", "fe08-"),   # 400 + ApnsError Unregistered
        "too_large": token("fcm", "fe09-"),   # 400 message too large
        "retry": token("fcm", "0500-"),       # 500 INTERNAL, every time
        "config": token("fcm", "fe06-"),      # 401 THIRD_PARTY_AUTH_ERROR
        "ok": token("fcm", "ok-"),
    }
    rig.send(u, list(toks.values()))
    out = rig.outcomes(u, len(toks), timeout=40)
    assert out[toks["dead"]] == ("token_invalid", "UNREGISTERED")
    assert out[toks["bad"]] == ("token_invalid", "INVALID_ARGUMENT")
    assert out[toks["mismatch"]] == ("token_invalid", "SENDER_ID_MISMATCH")
    assert out[toks["apns_gone"]] == ("token_invalid", "INVALID_ARGUMENT")
    assert out[toks["too_large"]] == ("failed", "INVALID_ARGUMENT")
    assert out[toks["ok"]] == ("sent", "")
    # retried up to HERALD_WORKER_MAX_ATTEMPTS (3), then dead-lettered
    assert out[toks["retry"]] == ("failed", "INTERNAL")
    assert len(rig.records(token=toks["retry"])) == 3
    # a configuration error keeps the token: failed, never token_invalid
    assert out[toks["config"]] == ("failed", "THIRD_PARTY_AUTH_ERROR")
    dead = rig.dlq(u)
    assert any(toks["retry"] in json.dumps(d["original"]) for d in dead)
    assert "after 3 attempts" in dead[0]["reason"]
    assert rig.metric("herald_push_dead_letters_total", provider="fcm") >= 2


def test_unauthenticated_refreshes_the_token_once(rig):
    before = rig.sim.counts()["fcm"]["token"]["issued"]
    t = token("fcm", "reauth-")
    rig.sim.rule(provider="fcm", token_prefix=t, error="UNAUTHENTICATED", count=1)
    u = uid()
    rig.send(u, [t])
    assert rig.outcomes(u, 1)[t] == ("sent", "")
    recs = rig.records(token=t)
    assert [r["outcome"] for r in recs] == ["UNAUTHENTICATED", "success"]
    assert recs[0]["headers"]["authorization"] != recs[1]["headers"]["authorization"]
    assert rig.sim.counts()["fcm"]["token"]["issued"] == before + 1


def test_retry_after_is_honoured(rig):
    t = token("fcm", "quota-")
    rig.sim.rule(provider="fcm", token_prefix=t, error="QUOTA_EXCEEDED", retry_after=2,
                 count=1)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 1)
    first, second = rig.records(token=t)
    assert first["status"] == 429 and first["response"]["headers"]["retry-after"] == "2"
    delay = second["time_ms"] - first["time_ms"]
    assert 2000 <= delay < 2000 + 400 + 1500, delay  # Retry-After floor, jitter cap


@pytest.mark.parametrize("action", ["rst_stream", "goaway", "close", "stall"])
def test_transport_failures_are_retried(rig, action):
    """A reset stream, a GOAWAY, a dropped connection and an answer that
    never comes (2 s timeout) are transport failures: retried, then sent."""
    t = token("fcm", "ok-" + tag())
    rule = {"error_code": "INTERNAL_ERROR"} if action == "rst_stream" else {}
    rig.sim.rule(provider="fcm", token_prefix=t, action=action, count=1, **rule)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 1)
    outcomes = [r["outcome"] for r in rig.records(token=t)]
    assert outcomes[0] == action and outcomes[-1] == "success", outcomes


def test_refused_stream_is_resent_without_an_attempt(rig):
    """REFUSED_STREAM means never processed: the client sends it again at
    once, without spending one of the delivery's attempts."""
    t = token("fcm", "ok-" + tag())
    rig.sim.rule(provider="fcm", token_prefix=t, action="rst_stream",
                 error_code="REFUSED_STREAM", count=1)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 0)
    assert [r["outcome"] for r in rig.records(token=t)] == ["rst_stream", "success"]


def test_expired_is_not_sent_and_reported(rig):
    u = uid()
    t = token("fcm", "late-")
    rig.send(u, [t], expire_at_ms=int(time.time() * 1000) - 1)
    assert rig.outcomes(u, 1)[t][0] == "expired"
    assert rig.records(token=t) == []
    # held until not_before, then sent
    u2 = uid()
    t2 = token("fcm", "held-")
    nb = int(time.time() * 1000) + 1500
    rig.send(u2, [t2], not_before_ms=nb, attempt=1)
    assert rig.outcomes(u2, 1)[t2] == ("sent", "")
    assert rig.records(token=t2)[0]["time_ms"] >= nb


def test_topic_and_condition(rig):
    u = uid()
    rig.send(u, topic="news-" + u)
    rig.send(u, condition="'a-%s' in topics && 'b' in topics" % u)
    fbs = rig.feedback(u, 2)
    assert sorted(f["outcome"] for f in fbs) == ["sent", "sent"]
    assert all(f["token"] is None and f["device"] is None for f in fbs)
    msgs = [(r["json"] or {}).get("message") for r in rig.records()]
    assert {"topic": "news-" + u, "data": {"type": "1", "payload": "{\"id\":\"x\"}"}} in msgs
    assert any(m and m.get("condition", "").startswith("'a-%s'" % u) for m in msgs)


def test_undecodable_record_is_dead_lettered(rig):
    marker = uid()
    rig.produce([], raw=[b"{\"v\":1,\"uid\":\"" + marker.encode() + b"\"}"])
    from api_support import read_topic
    recs = read_topic(rig.kafka.brokers, "herald.dlq",
                      lambda rs: any(marker in json.dumps(v) for _, v in rs))
    d = [v for _, v in recs if marker in json.dumps(v)][0]
    assert d["source_topic"] == "herald.deliver.fcm" and "undecodable" in d["reason"]


def test_access_token_reused_across_many_sends(stack):
    r = Rig(stack, "fcm")
    u = uid()
    toks = [token("fcm", "many-") for _ in range(300)]
    r.send(u, toks)
    r.wait_records(300, accepted=1, timeout=60)
    c = r.sim.counts()["fcm"]
    assert c["accepted"] == 300
    assert c["token"]["requests"] == 1 and c["token"]["issued"] == 1
    assert len({rec["headers"]["authorization"] for rec in r.records()}) == 1


def test_kill9_mid_batch_then_restart_delivers_everything(stack):
    crash_scenario(stack, "fcm", 4000, 500, 800, graceful=False)


def test_sigterm_mid_batch_loses_and_repeats_nothing(stack):
    r, u, toks, recs = crash_scenario(stack, "fcm", 3000, 500, 600, graceful=True)
    assert len(recs) == len(toks), "a token was sent twice"
    assert len(r.feedback(u, len(toks), timeout=60)) == len(toks)
