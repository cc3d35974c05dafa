"""test_api_fanout.py -- send_push_notification and the fan-out stage:
validation, one record on herald.requests per accepted send, expansion of
every recipient kind into herald.deliver.<provider> batches (10,000
devices on a channel -> exactly 10,000 tokens, none twice), idempotent
uids, expiry, dead letters, and kill -9 in the middle of a large fan-out.
"""
import json
import time

from api_support import (api, batches_for, produce, read_topic, start_api,  # noqa: F401
                         tokens_of, uid, wait_sql)
from harness import wait_for

FCM = {"fcm": {"message": {"notification": {"title": "t", "body": "b"}}}}
ALL = {"fcm": {"message": {"data": {"k": "v"}}},
       "apns": {"headers": {"apns-push-type": "alert"}, "payload": {"aps": {"alert": "hi"}}},
       "hms": {"message": {"data": "{\"k\":\"v\"}"}}}


def send(api, recipient, notification, **kw):
    params = {"recipient": recipient, "notification": notification}
    params.update(kw)
    return api.ok("send_push_notification", params)["uid"]


def bulk_devices(api, prefix, channel, n, providers=("fcm",)):
    """n devices on channel, created in SQL (the API path is tested elsewhere).
    Device i uses providers[i % len(providers)]; APNs tokens are hex."""
    api.sql("""
        insert into devices (id, app, provider, token, platform)
        select '{p}-' || lpad(i::text, 7, '0'), 'default', p.prov,
               case when p.prov = 'apns' then lpad(to_hex(i), 64, '0') else '{p}-tok-' || i end,
               case when p.prov = 'apns' then 'ios' else 'android' end
          from generate_series(1, {n}) i
          cross join lateral (select (array[{provs}])[1 + (i % {k})] as prov) p;
        insert into device_topics (device_id, topic, src, app)
        select '{p}-' || lpad(i::text, 7, '0'), '{ch}', 0, 'default' from generate_series(1, {n}) i;
        analyze devices; analyze device_topics;
    """.format(p=prefix, ch=channel, n=n, k=len(providers),
               provs=",".join("'%s'" % x for x in providers)))


def expected_tokens(api, prefix, provider):
    return set(api.sql("select token from devices where id like '%s-%%' and provider = '%s'"
                       % (prefix, provider)).split())


# ---- validation ------------------------------------------------------------

def test_send_refuses_bad_input_and_queues_nothing(api):
    u = uid()
    ok_n = {"uid": u, **FCM}
    cases = [
        ({"recipient": {}, "notification": FCM}, 107, "recipient"),
        ({"recipient": {"channels": ["a"], "device_ids": ["b"]}, "notification": FCM}, 107, "only one"),
        ({"recipient": {"channels": []}, "notification": FCM}, 107, "empty"),
        ({"recipient": {"channels": ["c"] * 1001}, "notification": FCM}, 106, "channels"),
        ({"recipient": {"fcm_tokens": ["bad token"]}, "notification": ok_n}, 107, "fcm_tokens[0]"),
        ({"recipient": {"apns_tokens": ["zz"]}, "notification": {"apns": {"payload": {}}}}, 107,
         "hexadecimal"),
        ({"recipient": {"hms_tokens": ["x" * 513]}, "notification": {"hms": {"message": {}}}}, 107,
         "hms_tokens[0]"),
        ({"recipient": {"fcm_topic": "bad topic!"}, "notification": FCM}, 107, "fcm_topic"),
        ({"recipient": {"fcm_tokens": ["t"]}, "notification": {"hms": {"message": {}}}}, 107,
         "notification.fcm"),
        ({"recipient": {"channels": ["c"]}, "notification": {"uid": u}}, 107, "one of fcm"),
        ({"recipient": {"channels": ["c"]}, "notification": {"fcm": {"message": {"token": "x"}}}},
         107, "message.token"),
        ({"recipient": {"channels": ["c"]}, "notification": {"fcm": {}}}, 107, "message"),
        ({"recipient": {"channels": ["c"]}, "notification": {"fcm": {"message": {"d": "x" * 5000}}}},
         106, "larger"),
        ({"recipient": {"channels": ["c"]}, "notification": {"apns": {"headers": {"x": "y"},
                                                                     "payload": {}}}}, 107, "apns-"),
        ({"recipient": {"channels": ["c"]}, "notification": {"apns": {"headers": {}}}}, 107, "payload"),
        ({"recipient": {"channels": ["c"]}, "notification": {"uid": "", **FCM}}, 107, "uid"),
        ({"recipient": {"channels": ["c"]}, "notification": {"expire_at": -1, **FCM}}, 107,
         "expire_at"),
        ({"recipient": {"topics": ["c"]}, "notification": FCM}, 107, "one recipient field"),
    ]
    for params, code, word in cases:
        for envelope in (False, True):
            e = api.error("send_push_notification", params, envelope=envelope)
            assert e["code"] == code and word in e["message"], (params, e)
    # nothing with this uid reached herald.requests
    recs = read_topic(api.kafka.brokers, "herald.requests", lambda rs: True, timeout=3)
    assert not [v for _, v in recs if isinstance(v, dict) and v.get("uid") == u]


def test_accepted_send_is_one_record_keyed_by_uid(api):
    u = uid()
    assert send(api, {"device_ids": ["d1", "d2"]}, {"uid": u, "expire_at": 4102444800, **ALL}) == u
    recs = read_topic(api.kafka.brokers, "herald.requests",
                      lambda rs: any(k == u for k, _ in rs))
    [(k, v)] = [(k, v) for k, v in recs if k == u]
    assert v["v"] == 1 and v["app"] == "default" and v["recipient"] == {"device_ids": ["d1", "d2"]}
    assert v["expire_at_ms"] == 4102444800000 and v["notification"] == ALL
    generated = send(api, {"device_ids": ["d1"]}, FCM)
    assert len(generated) == 36, "a uid is generated when absent"
    # POST /api {"method","params"} runs on a worker thread: same answer
    u2 = uid()
    res = api.ok("send_push_notification",
                 {"recipient": {"fcm_topic": "news"}, "notification": {"uid": u2, **FCM}},
                 envelope=True)
    assert res == {"uid": u2}
    recs = read_topic(api.kafka.brokers, "herald.requests",
                      lambda rs: any(k == u2 for k, _ in rs))
    assert [v["recipient"] for k, v in recs if k == u2] == [{"fcm_topic": "news"}]


# ---- expansion ---------------------------------------------------------------

def test_ten_thousand_devices_on_a_channel_each_exactly_once(api):
    ch = "big-" + uid()
    bulk_devices(api, "ten", ch, 10000, providers=("fcm", "fcm", "apns", "hms"))
    u_ = uid()
    u = send(api, {"channels": [ch]}, {"uid": u_, **ALL})
    assert u == u_
    want = {p: expected_tokens(api, "ten", p) for p in ("fcm", "apns", "hms")}
    assert sum(len(w) for w in want.values()) == 10000
    for prov, size in (("fcm", 500), ("apns", 500), ("hms", 1000)):
        bs = batches_for(api.kafka.brokers, prov, u,
                         lambda bs, p=prov: len(tokens_of(bs)) >= len(want[p]), timeout=60)
        toks = tokens_of(bs)
        assert len(toks) == len(want[prov]) and set(toks) == want[prov], prov
        assert all(len(b["tokens"]) <= size for b in bs)
        assert all(b["recipient_type"] == "device" and b["provider"] == prov for b in bs)
        assert all(b["notification"] == ALL[prov] for b in bs)
        assert all(t["device"].startswith("ten-") for b in bs for t in b["tokens"])
    wait_sql(api, "select state || ':' || tokens from push_requests where uid = '%s'" % u,
             "done:10000")
    res = api.ok("push_status_list", {"uid": u})
    assert res["request"]["state"] == "done" and res["request"]["tokens"] == 10000


def test_provider_without_a_notification_gets_nothing(api):
    ch = "fcm-only-" + uid()
    bulk_devices(api, "fo" + ch[-6:], ch, 30, providers=("fcm", "hms"))
    u = send(api, {"channels": [ch]}, {"uid": uid(), **FCM})
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 15)
    assert len(tokens_of(bs)) == 15
    wait_sql(api, "select state from push_requests where uid = '%s'" % u, "done")
    assert batches_for(api.kafka.brokers, "hms", u, lambda bs: True, timeout=2) == []


def test_device_ids_users_and_overlapping_channels_reach_each_device_once(api):
    p = uid()
    a = api.register("a-" + p, user="ua-" + p, channels=["x-" + p, "y-" + p])
    b = api.register("b-" + p, user="ub-" + p, channels=["y-" + p])
    c = api.register("c-" + p, user="ua-" + p, provider="hms")
    u1 = send(api, {"channels": ["x-" + p, "y-" + p]}, {"uid": uid(), **FCM})
    assert sorted(tokens_of(batches_for(api.kafka.brokers, "fcm", u1,
                                        lambda bs: len(tokens_of(bs)) >= 2))) == ["a-" + p, "b-" + p]
    u2 = send(api, {"device_ids": [a["id"], c["id"], "missing"]}, {"uid": uid(), **ALL})
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", u2, lambda bs: bs)) == ["a-" + p]
    assert tokens_of(batches_for(api.kafka.brokers, "hms", u2, lambda bs: bs)) == ["c-" + p]
    u3 = send(api, {"users": ["ua-" + p]}, {"uid": uid(), **ALL})
    assert tokens_of(batches_for(api.kafka.brokers, "hms", u3, lambda bs: bs)) == ["c-" + p]
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", u3, lambda bs: bs)) == ["a-" + p]
    assert b["id"]


def test_raw_tokens_topics_and_conditions(api):
    toks = ["raw-%d-%s" % (i, uid()[-6:]) for i in range(1000)]
    u = send(api, {"fcm_tokens": toks}, {"uid": uid(), **FCM})
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 1000)
    assert sorted(tokens_of(bs)) == sorted(toks) and len(bs) == 2
    assert all(t["device"] is None for b in bs for t in b["tokens"])
    hexes = ["%064x" % i for i in range(3)]
    u = send(api, {"apns_tokens": hexes}, {"uid": uid(), **ALL})
    assert sorted(tokens_of(batches_for(api.kafka.brokers, "apns", u, lambda bs: bs))) == hexes
    assert batches_for(api.kafka.brokers, "fcm", u, lambda bs: True, timeout=1) == []
    u = send(api, {"hms_tokens": ["h1", "h2"]}, {"uid": uid(), **ALL})
    assert sorted(tokens_of(batches_for(api.kafka.brokers, "hms", u, lambda bs: bs))) == ["h1", "h2"]
    u = send(api, {"fcm_topic": "news"}, {"uid": uid(), **FCM})
    [b] = batches_for(api.kafka.brokers, "fcm", u, lambda bs: bs)
    assert b["recipient_type"] == "topic" and b["topic"] == "news" and "tokens" not in b
    cond = "'a' in topics && ('b' in topics || 'c' in topics)"
    u = send(api, {"hms_condition": cond}, {"uid": uid(), **ALL})
    [b] = batches_for(api.kafka.brokers, "hms", u, lambda bs: bs)
    assert b["recipient_type"] == "condition" and b["condition"] == cond


def test_a_repeated_uid_is_delivered_once(api):
    p = uid()
    api.register("rep-" + p, channels=["rep-" + p])
    u = uid()
    for _ in range(3):  # back to back: the repeats arrive while the first runs
        send(api, {"channels": ["rep-" + p]}, {"uid": u, **FCM})
    wait_sql(api, "select state from push_requests where uid = '%s'" % u, "done")
    send(api, {"channels": ["rep-" + p]}, {"uid": u, **FCM})  # after it is done
    wait_for(lambda: api.metric("herald_api_fanout_requests_total", result="duplicate") >= 3,
             what="three duplicates")
    time.sleep(1)
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: bs)
    assert tokens_of(bs) == ["rep-" + p], "one delivery for four sends of one uid"


def test_expired_request_is_dropped_and_recorded(api):
    p = uid()
    api.register("exp-" + p, channels=["exp-" + p])
    u = send(api, {"channels": ["exp-" + p]}, {"uid": uid(), "expire_at": int(time.time()) - 5,
                                               **FCM})
    wait_sql(api, "select state from push_requests where uid = '%s'" % u, "expired")
    assert batches_for(api.kafka.brokers, "fcm", u, lambda bs: True, timeout=1) == []
    assert api.ok("push_status_list", {"uid": u})["request"]["state"] == "expired"


def test_malformed_request_is_dead_lettered_and_the_stage_goes_on(api):
    bad = uid()
    produce(api.kafka.brokers, "herald.requests", [b"not json at all", {"v": 2, "uid": bad}],
            key=bad)
    dl = read_topic(api.kafka.brokers, "herald.dlq",
                    lambda rs: sum(1 for _, v in rs if isinstance(v, dict)
                                   and v.get("source_topic") == "herald.requests") >= 2)
    assert any(v.get("original") == "not json at all" for _, v in dl if isinstance(v, dict))
    p = uid()
    api.register("after-" + p, channels=["after-" + p])
    u = send(api, {"channels": ["after-" + p]}, {"uid": uid(), **FCM})
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", u, lambda bs: bs)) == ["after-" + p]


def test_fanout_metrics(api):
    assert api.metric("herald_api_fanout_tokens_total", provider="fcm") >= 5000
    assert api.metric("herald_api_fanout_requests_total", result="done") >= 5
    assert api.metric("herald_push_consuming_inflight_jobs", provider="all", queue="requests") == 0
    st = api.metrics()
    assert "herald_push_job_duration_seconds_count" in st
    assert "herald_push_queue_consuming_lag_seconds" in st


# ---- crash in the middle of a large fan-out ---------------------------------

def test_kill9_mid_fanout_then_every_device_gets_a_batch(stack, pg_cluster):
    a = start_api(stack, pg_cluster, HERALD_API_FANOUT_PAGE="100",
                  HERALD_API_FANOUT_MAX_BATCHES="1")
    ch = "crash-" + uid()
    bulk_devices(a, "k9", ch, 20000)
    want = expected_tokens(a, "k9", "fcm")
    a.kafka.cmd("rtt 1 100")  # each batch now takes 100 ms to be acknowledged
    u = send(a, {"channels": [ch]}, {"uid": uid(), **FCM})
    seen = batches_for(a.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 4, timeout=60)
    a.svc.kill9()
    assert len(tokens_of(seen)) < 20000, "killed in the middle, not after"
    assert a.sql("select count(*) from push_requests where uid = '%s'" % u) == "0"
    a.kafka.cmd("rtt 1 0")
    b = start_api(stack, pg_cluster, dsn=a.dsn, kafka=a.kafka)
    wait_sql(b, "select state from push_requests where uid = '%s'" % u, "done", timeout=120)
    toks = tokens_of(batches_for(b.kafka.brokers, "fcm", u,
                                 lambda bs: set(tokens_of(bs)) >= want, timeout=60))
    assert set(toks) == want, "every device is in some batch"
    assert len(toks) >= 20000
