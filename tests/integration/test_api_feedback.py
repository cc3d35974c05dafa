"""test_api_feedback.py -- the feedback consumer on herald.feedback: every
outcome lands in push_status, token_invalid removes the device behind the
circuit breaker of specs/providers.md 4.2, sent refreshes last_seen_at,
max_inactive_device_days removes stale devices, malformed records are
dead-lettered.
"""
import time
import uuid

import pytest

from api_support import produce, read_topic, serve_api, uid, wait_sql
from harness import wait_for


@pytest.fixture(scope="module")
def fb(pg_cluster):
    yield from serve_api(pg_cluster, HERALD_API_MAX_INACTIVE_DEVICE_DAYS="1",
                         HERALD_API_CLEANUP_INTERVAL_S="1")


def outcome(uid_, device, token, status, provider="fcm", app="default", code="", http=200):
    return {"v": 1, "uid": uid_, "app": app, "provider": provider, "device": device,
            "token": token, "outcome": status, "code": code, "http_status": http,
            "attempt": 0, "ts_ms": int(time.time() * 1000)}


def feed(api, records):
    produce(api.kafka.brokers, "herald.feedback", records, key=str(uuid.uuid4()))


def test_outcomes_are_stored_and_invalid_tokens_removed(fb):
    u = uid()
    keep = fb.register("keep-" + u)
    gone = fb.register("gone-" + u)
    feed(fb, [outcome(u, keep["id"], "keep-" + u, "sent"),
              outcome(u, gone["id"], "gone-" + u, "token_invalid", code="UNREGISTERED", http=404),
              outcome(u, None, "raw-" + u, "failed", code="INTERNAL", http=500),
              outcome(u, None, None, "sent", provider="hms")])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u, "4")
    wait_sql(fb, "select count(*) from devices where id = '%s'" % gone["id"], "0")
    assert fb.sql("select count(*) from devices where id = '%s'" % keep["id"]) == "1"
    res = fb.ok("push_status_list", {"uid": u})
    assert res["counts"] == {"sent": 2, "token_invalid": 1, "failed": 1}
    by = {i["target"]: i for i in res["items"]}
    assert by[gone["id"]]["status"] == "token_invalid" and by[gone["id"]]["code"] == "UNREGISTERED"
    raw = [i for i in res["items"] if i["target"].startswith("token:")]
    assert len(raw) == 1 and raw[0]["token"] == "raw-" + u and raw[0]["code"] == "INTERNAL"
    assert any(i["target"] == "topic:hms" for i in res["items"])
    # keyset pages over the targets; counts on the first page only
    p1 = fb.ok("push_status_list", {"uid": u, "limit": 3})
    assert len(p1["items"]) == 3 and p1["has_more"] is True and "counts" in p1
    p2 = fb.ok("push_status_list", {"uid": u, "limit": 3, "since": p1["items"][-1]["target"]})
    assert len(p2["items"]) == 1 and p2["has_more"] is False and "counts" not in p2
    assert {i["target"] for i in p1["items"] + p2["items"]} == set(by)
    # the app's own report outranks the worker's
    fb.ok("update_push_status", {"uid": u, "status": "interacted", "device_id": keep["id"]})
    feed(fb, [outcome(u, keep["id"], "keep-" + u, "sent")])
    time.sleep(1)
    assert fb.sql("select status from push_status where uid = '%s' and target = '%s'"
                  % (u, keep["id"])) == "interacted"
    assert fb.metric("herald_api_devices_removed_total", provider="fcm", reason="token_invalid") >= 1


def test_a_token_that_moved_on_is_not_removed(fb):
    u = uid()
    d = fb.register("old-" + u)
    fb.ok("device_register", {"id": d["id"], "provider": "fcm", "token": "new-" + u,
                              "platform": "android"})
    feed(fb, [outcome(u, d["id"], "old-" + u, "token_invalid")])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u, "1")
    assert fb.sql("select token from devices where id = '%s'" % d["id"]) == "new-" + u


def test_a_fake_token_burst_of_one_installation_leaves_others_cleanup(fb):
    """More than 1,024 apps active at once (past them, every app once shared
    one breaker state): installation A's burst of fake tokens opens A's
    breaker only; B's invalid token is still removed."""
    u = uid()
    feed(fb, [outcome(u, None, None, "failed", app="filler%d-%s" % (i, u[-8:]), code="INTERNAL",
                      http=500) for i in range(1100)])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u, "1100")
    a, b = "relay." + str(uuid.uuid4()), "relay." + str(uuid.uuid4())
    u2 = uid()
    open0 = fb.metric("herald_token_cleanup_circuits_open", provider="fcm")
    feed(fb, [outcome(u2, "%s_fake%d" % (a, i), "fake%d" % i, "token_invalid", app=a,
                      code="UNREGISTERED", http=404) for i in range(40)])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u2, "40")
    wait_for(lambda: fb.metric("herald_token_cleanup_circuits_open", provider="fcm") == open0 + 1,
             what="A's breaker open")
    assert [l for l in fb.svc.log_lines() if "token cleanup suspended for app %s " % a in l.get("msg", "")]
    keep_a = fb.register("a-real-" + u2, app=a)
    gone_b = fb.register("b-real-" + u2, app=b)
    u3 = uid()
    feed(fb, [outcome(u3, keep_a["id"], keep_a["token"], "token_invalid", app=a),
              outcome(u3, gone_b["id"], gone_b["token"], "token_invalid", app=b)])
    wait_sql(fb, "select count(*) from devices where id = '%s'" % gone_b["id"], "0")
    assert fb.sql("select count(*) from devices where id = '%s'" % keep_a["id"]) == "1"
    assert fb.metric("herald_token_cleanup_circuits_open", provider="fcm") == open0 + 1  # A's only
    assert not [l for l in fb.svc.log_lines() if "token cleanup suspended for app %s " % b in l.get("msg", "")]
    assert a not in fb.metrics() and b not in fb.metrics()


def test_circuit_breaker_keeps_devices_when_everything_looks_invalid(fb):
    app = "brk" + uid()[-8:]
    u = uid()
    # prime the window: 20 sends for (app, apns), all token-invalid
    open0 = fb.metric("herald_token_cleanup_circuits_open", provider="apns")
    kept0 = fb.metric("herald_token_cleanup_skipped_total", provider="apns")
    feed(fb, [outcome(u, "ghost-%d" % i, "%064x" % i, "token_invalid", provider="apns", app=app,
                      code="BadDeviceToken", http=400) for i in range(20)])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u, "20")
    wait_for(lambda: fb.metric("herald_token_cleanup_circuits_open", provider="apns") == open0 + 1,
             what="breaker open")
    real = [fb.register("%063x1" % i, provider="apns", platform="ios", app=app) for i in range(5)]
    u2 = uid()
    feed(fb, [outcome(u2, d["id"], d["token"], "token_invalid", provider="apns", app=app)
              for d in real])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u2, "5")
    assert fb.sql("select count(*) from devices where app = '%s'" % app) == "5", "nothing removed"
    assert fb.metric("herald_token_cleanup_skipped_total", provider="apns") >= kept0 + 5
    # an app id (a relay installation's, user input) is never a label value
    assert app not in fb.metrics()
    logs = [l for l in fb.svc.log_lines() if "token cleanup suspended" in l.get("msg", "")
            and app in l["msg"]]
    assert len(logs) == 1, "one log line when it trips"
    # other providers of the app are not affected
    other = fb.register("fcm-" + u, app=app)
    feed(fb, [outcome(u2, other["id"], other["token"], "token_invalid", app=app)])
    wait_sql(fb, "select count(*) from devices where id = '%s'" % other["id"], "0")
    # one success for (app, apns) closes it: removal resumes
    ok_uid = uid()
    feed(fb, [outcome(ok_uid, "x", "%064x" % 99, "sent", provider="apns", app=app)])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % ok_uid, "1")
    feed(fb, [outcome(uid(), real[1]["id"], real[1]["token"], "token_invalid", provider="apns",
                      app=app)])
    wait_sql(fb, "select count(*) from devices where id = '%s'" % real[1]["id"], "0")
    assert fb.metric("herald_token_cleanup_circuits_open", provider="apns") == open0


def test_sent_refreshes_last_seen_and_inactive_devices_are_removed(fb):
    u = uid()
    stale = fb.register("stale-" + u)
    alive = fb.register("alive-" + u)
    fresh = fb.register("fresh-" + u)
    fb.sql("update devices set last_seen_at = now() - interval '2 hours' where id = '%s'"
           % alive["id"])
    feed(fb, [outcome(u, alive["id"], "alive-" + u, "sent")])
    wait_sql(fb, "select last_seen_at > now() - interval '1 minute' from devices where id = '%s'"
             % alive["id"], "t")
    fb.sql("update devices set last_seen_at = now() - interval '3 days' where id = '%s'"
           % stale["id"])
    wait_sql(fb, "select count(*) from devices where id = '%s'" % stale["id"], "0", timeout=30)
    assert fb.sql("select count(*) from devices where id in ('%s', '%s')"
                  % (alive["id"], fresh["id"])) == "2"
    assert fb.metric("herald_api_devices_removed_total", provider="fcm", reason="inactive") >= 1


def test_malformed_feedback_is_dead_lettered(fb):
    u = uid()
    feed(fb, [b"{oops", {"v": 1, "uid": u, "provider": "fcm", "outcome": "exploded"}])
    dl = read_topic(fb.kafka.brokers, "herald.dlq",
                    lambda rs: sum(1 for _, v in rs if isinstance(v, dict)
                                   and v.get("source_topic") == "herald.feedback") >= 2)
    assert any("outcome" in v.get("reason", "") for _, v in dl if isinstance(v, dict))
    d = fb.register("after-" + u)
    feed(fb, [outcome(u, d["id"], "after-" + u, "sent")])
    wait_sql(fb, "select count(*) from push_status where uid = '%s'" % u, "1")
