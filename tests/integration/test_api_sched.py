"""test_api_sched.py -- send_at and cancel_push: a push held in
PostgreSQL goes out when due (not before), a cancelled one never does,
pushes pending across kill -9 of herald-api go out after the restart
exactly once per uid, cancel_push stops a fan-out still reading pages,
and bad input is refused with nothing held.
"""
import time

from api_support import api, batches_for, start_api, tokens_of, uid, wait_sql  # noqa: F401
from test_api_fanout import FCM, bulk_devices


def send_at(api, recipient, at, **kw):
    params = {"recipient": recipient, "notification": FCM, "send_at": at}
    params.update(kw)
    return api.ok("send_push_notification", params)["uid"]


def at_most(api, u, n, wait):
    """No more than n batches of uid u on herald.deliver.fcm, reading for
    wait seconds."""
    try:
        got = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(bs) > n, timeout=wait)
    except AssertionError as e:
        assert "timed out" in str(e), e
        return
    raise AssertionError("%d batches of %s went out, at most %d expected" % (len(got), u, n))


def test_send_at_goes_out_when_due_and_not_before(api):
    u = uid()
    at = int(time.time()) + 3
    assert send_at(api, {"fcm_tokens": ["due-" + u]}, at, uid=u) == u
    assert api.sql("select state from scheduled_pushes where uid = '%s'" % u) == "pending"
    [b] = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 1, timeout=15)
    arrived = time.time()
    assert arrived >= at - 0.3, "released %.1f s early" % (at - arrived)
    assert arrived <= at + 3, "released %.1f s late" % (arrived - at)
    assert tokens_of([b]) == ["due-" + u]
    wait_sql(api, "select state from scheduled_pushes where uid = '%s'" % u, "released")
    # a send_at already past is sent at once, without being held
    u2 = uid()
    assert send_at(api, {"fcm_tokens": ["past-" + u]}, int(time.time()) - 60, uid=u2) == u2
    batches_for(api.kafka.brokers, "fcm", u2, lambda bs: len(bs) >= 1, timeout=10)
    assert api.sql("select count(*) from scheduled_pushes where uid = '%s'" % u2) == "0"


def test_cancelled_push_never_goes_out(api):
    u = uid()
    send_at(api, {"fcm_tokens": ["cancel-" + u]}, int(time.time()) + 2, uid=u)
    assert api.ok("cancel_push", {"uid": u}) == {}
    at_most(api, u, 0, 5)
    assert api.sql("select state from scheduled_pushes where uid = '%s'" % u) == "cancelled"
    # the same uid sent again later stays cancelled
    send_at(api, {"fcm_tokens": ["cancel-" + u]}, int(time.time()) + 1, uid=u)
    assert api.sql("select state from scheduled_pushes where uid = '%s'" % u) == "cancelled"


def test_bad_send_at_and_cancel_write_nothing(api):
    u = uid()
    for params, word in [({"send_at": "tomorrow"}, "send_at"), ({"send_at": -5}, "send_at"),
                         ({"send_at": 1.5}, "send_at")]:
        p = {"recipient": {"fcm_tokens": ["t"]}, "notification": FCM, "uid": u}
        p.update(params)
        e = api.error("send_push_notification", p)
        assert e["code"] == 107 and word in e["message"], (params, e)
    for params, word in [({}, "uid"), ({"uid": ""}, "uid"), ({"uid": 5}, "uid")]:
        e = api.error("cancel_push", params)
        assert e["code"] == 107 and word in e["message"], (params, e)
    assert api.sql("select count(*) from scheduled_pushes where uid = '%s'" % u) == "0"


def test_pending_pushes_survive_kill9_and_go_out_once(stack, pg_cluster):
    a = start_api(stack, pg_cluster)
    at = int(time.time()) + 4
    uids = [send_at(a, {"fcm_tokens": ["k9-%d" % i]}, at) for i in range(5)]
    a.svc.kill9()
    time.sleep(max(0, at - time.time()) + 1)
    b = start_api(stack, pg_cluster, dsn=a.dsn, kafka=a.kafka)
    for u in uids:
        bs = batches_for(b.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 1, timeout=30)
        wait_sql(b, "select state from push_requests where uid = '%s'" % u, "done")
        assert len(bs) == 1
    wait_sql(b, "select count(*) from scheduled_pushes where state = 'released'", "5")
    for u in uids:  # nothing more comes: one delivery per uid
        at_most(b, u, 1, 2)


def test_cancel_stops_a_running_fanout(stack, pg_cluster):
    a = start_api(stack, pg_cluster, HERALD_API_FANOUT_PAGE="100",
                  HERALD_API_FANOUT_MAX_BATCHES="1")
    topic = "cx-" + uid()
    bulk_devices(a, "cx", topic, 20000)
    a.kafka.cmd("rtt 1 100")  # each batch now takes 100 ms to be acknowledged
    u = a.ok("send_push_notification", {"recipient": {"filter": {"topics": [topic]}},
                                        "notification": FCM})["uid"]
    batches_for(a.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 2, timeout=60)
    assert a.ok("cancel_push", {"uid": u}) == {}
    a.kafka.cmd("rtt 1 0")
    wait_sql(a, "select state from push_requests where uid = '%s'" % u, "expired", timeout=60)
    n = int(a.sql("select tokens from push_requests where uid = '%s'" % u))
    assert 0 < n < 20000, n
    seen = batches_for(a.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= n, timeout=30)
    assert len(tokens_of(seen)) == n, "no deliveries after the cancel took effect"
