"""test_api_personal.py -- send_push_notification's per-device processing
of a filter send: localizations and templates rendered per device,
use_meta, a device whose notification does not render reported failed,
rate_limit (dropped and delayed; exact with two herald-api replicas),
time_limit in three timezones, and bad input refused with nothing queued.
"""
import datetime
import json
import time

from api_support import (api, batches_for, read_topic, start_api, tokens_of, uid,  # noqa: F401
                         wait_sql)


def send(api, recipient, notification, **kw):
    params = {"recipient": recipient, "notification": notification}
    params.update(kw)
    return api.ok("send_push_notification", params)["uid"]


def rendered(batches):
    """token -> the FCM message its batch carries."""
    return {t["token"]: b["notification"]["message"] for b in batches for t in b["tokens"]}


def test_localizations_and_templates_render_per_device(api):
    u = uid()
    devs = {}
    for name, locale, first in [("pt", "pt-BR", "Ana"), ("fr", "fr", "Jean"),
                                ("de", "de", "Hans"), ("none", None, None)]:
        kw = {"user": "l-" + u}
        if locale:
            kw["locale"] = locale
        if first:
            kw["meta"] = {"first_name": first}
        devs[name] = api.register("%s-%s" % (name, u), **kw)["id"]
    n = {"fcm": {"message": {
        "notification": {"title": "{{default [[Hello]] .l10n.greeting}} {{.device.meta.first_name}}",
                         "body": "{{ default [[How is it going]] .l10n.question }}?"},
        "data": {"device": "{{.device.id}}", "user": "{{.device.user}}", "plain": "x"}}}}
    l10n = {"pt": {"translations": {"greeting": "Olá", "question": "Como tá indo"}},
            "fr": {"translations": {"greeting": "Bonjour", "question": "Comment ça va"}}}
    send(api, {"filter": {"users": ["l-" + u]}}, n, uid=u, localizations=l10n, use_meta=True)
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 4)
    got = rendered(bs)
    assert len(tokens_of(bs)) == 4
    want = {"pt": ("Olá Ana", "Como tá indo?"), "fr": ("Bonjour Jean", "Comment ça va?"),
            "de": ("Hello Hans", "How is it going?"), "none": ("Hello ", "How is it going?")}
    for name, (title, body) in want.items():
        m = got["%s-%s" % (name, u)]
        assert m["notification"] == {"title": title, "body": body}, (name, m)
        assert m["data"] == {"device": devs[name], "user": "l-" + u, "plain": "x"}


def test_localizations_alone_share_batches_per_locale(api):
    u = uid()
    for i in range(30):
        api.register("sh%d-%s" % (i, u), user="s-" + u, locale=["pt-PT", "fr", "it"][i % 3])
    n = {"fcm": {"message": {"notification": {"title": "{{default [[Hi]] .l10n.hi}}"}}}}
    send(api, {"filter": {"users": ["s-" + u]}}, n, uid=u,
         localizations={"pt": {"translations": {"hi": "Oi"}}, "fr": {"translations": {"hi": "Salut"}}})
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 30)
    assert sorted(b["notification"]["message"]["notification"]["title"] for b in bs) == \
        ["Hi", "Oi", "Salut"], "one batch per rendering"
    assert len(tokens_of(bs)) == 30


def test_a_device_that_does_not_render_is_reported_failed(api):
    u = uid()
    ok = api.register("rok-" + u, user="r-" + u, meta={"a": "x"})["id"]
    big = api.register("rbig-" + u, user="r-" + u, meta={"a": "y" * 3000})["id"]
    n = {"fcm": {"message": {"data": {"v": "{{.device.meta.a}}{{.device.meta.a}}"}}}}
    send(api, {"filter": {"users": ["r-" + u]}}, n, uid=u, use_templating=True, use_meta=True)
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 1)
    assert tokens_of(bs) == ["rok-" + u]
    assert bs[0]["notification"]["message"]["data"]["v"] == "xx"
    wait_sql(api, "select status || ':' || code from push_status where uid = '%s' "
                  "and device_id = '%s'" % (u, big), "failed:template")
    assert api.sql("select count(*) from push_status where uid = '%s' and device_id = '%s'"
                   % (u, ok)) == "0"
    assert api.metric("herald_api_fanout_render_failures_total", provider="fcm") >= 1


def test_bad_personal_fields_are_refused_and_nothing_queued(api):
    u = uid()
    f = {"filter": {"users": ["x"]}}
    fcm = {"fcm": {"message": {"notification": {"title": "t"}}}}

    def tmpl(title):
        return {"fcm": {"message": {"notification": {"title": title}}}}
    rl = "params.limit_strategy.rate_limit"
    cases = [
        ({"recipient": {"fcm_tokens": ["t"]}, "notification": fcm, "use_templating": True}, 107,
         "params.use_templating: only with a recipient.filter"),
        ({"recipient": {"fcm_tokens": ["t"]}, "notification": fcm,
          "limit_strategy": {"rate_limit": {"policies": [{"rate": 1, "interval_ms": 10}]}}}, 107,
         "params.limit_strategy"),
        ({"recipient": f, "notification": tmpl("{{.device.nope}}"), "use_templating": True}, 107,
         "params.notification.fcm.message.notification.title: template action 1: unknown field"),
        ({"recipient": f, "notification": tmpl("{{.device.meta.x}}"), "use_templating": True}, 107,
         "needs use_meta"),
        ({"recipient": f, "notification": tmpl("{{ .l10n.x }}"),
          "localizations": {"de": {"translations": {"x": "y"}}}}, 107, "needs a default"),
        ({"recipient": f, "notification": tmpl("{{printf \"%s\" 1}}"), "use_templating": True},
         107, "template action 1"),
        ({"recipient": f, "notification": tmpl("Hi {{.device.id"), "use_templating": True}, 107,
         "{{ without }}"),
        ({"recipient": f, "notification": tmpl("{{.device.id}}" * 65), "use_templating": True},
         107, "too many actions"),
        ({"recipient": f, "notification": fcm, "localizations": {"no such!": {"translations": {}}}},
         107, "params.localizations.no such!"),
        ({"recipient": f, "notification": fcm, "localizations": {"de": {"translations": {"a": 1}}}},
         107, "params.localizations.de.translations.a"),
        ({"recipient": f, "notification": fcm,
          "localizations": {"x%d" % i: {"translations": {}} for i in range(201)}}, 106,
         "params.localizations"),
        ({"recipient": f, "notification": fcm, "limit_strategy": {"rate_limit": {}}}, 107,
         rl + ".policies: required"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"rate_limit": {"policies": [{"rate": 0, "interval_ms": 10}]}}}, 107,
         rl + ".policies[0].rate"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"rate_limit": {"policies": [{"rate": 1001, "interval_ms": 10}]}}},
         107, rl + ".policies[0].rate"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"rate_limit": {"policies": [{"rate": 1, "interval_ms": 10}] * 9}}},
         106, rl + ".policies"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"rate_limit": {"key": "{{.device.meta.x}}",
                                            "policies": [{"rate": 1, "interval_ms": 10}]}}},
         107, rl + ".key"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"time_limit": {"send_after_time": "9:00",
                                            "send_before_time": "18:00:00"}}}, 107,
         "params.limit_strategy.time_limit.send_after_time"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"time_limit": {"send_after_time": "09:00:00",
                                            "send_before_time": "24:00:00"}}}, 107,
         "send_before_time"),
        ({"recipient": f, "notification": fcm,
          "limit_strategy": {"time_limit": {"send_after_time": "09:00:00",
                                            "send_before_time": "09:00:00"}}}, 107, "differ"),
    ]
    for params, code, word in cases:
        params["uid"] = u
        e = api.error("send_push_notification", params)
        assert e["code"] == code and word in e["message"], (params, e)
    recs = read_topic(api.kafka.brokers, "herald.requests", lambda rs: True, timeout=3)
    assert not [v for _, v in recs if isinstance(v, dict) and v.get("uid") == u]


# ---- rate_limit -------------------------------------------------------------

def rate(n, ms, drop=True, key=None):
    rl = {"policies": [{"rate": n, "interval_ms": ms}], "drop_if_rate_limited": drop}
    if key:
        rl["key"] = key
    return {"rate_limit": rl}


FCM = {"fcm": {"message": {"notification": {"title": "t"}}}}


def read_all(api, uids, least):
    """The delivery batches of uids once at least `least` tokens are there
    (read to the end of what the topic holds then)."""
    def mine(rs):
        return [v for _, v in rs if isinstance(v, dict) and v.get("uid") in uids]
    recs = read_topic(api.kafka.brokers, "herald.deliver.fcm",
                      lambda rs: len(tokens_of(mine(rs))) >= least, timeout=15)
    return mine(recs)


def test_rate_limit_drops_beyond_the_policy_with_two_replicas(stack, pg_cluster, api):
    b = start_api(stack, pg_cluster, dsn=api.dsn, kafka=api.kafka)
    u = uid()
    dev = api.register("rl-" + u)["id"]
    uids = []
    for i in range(10):
        who = api if i % 2 == 0 else b
        uids.append(send(who, {"filter": {"ids": [dev]}}, FCM, uid="%s-%d" % (u, i),
                         limit_strategy=rate(3, 60000)))
    for x in uids:
        wait_sql(api, "select count(*) from push_requests where uid = '%s'" % x, "1")
    got = read_all(api, set(uids), 3)
    assert len(tokens_of(got)) == 3, got
    assert api.metric("herald_api_fanout_limited_total", strategy="rate_limit",
                      result="dropped") + b.metric("herald_api_fanout_limited_total",
                                                   strategy="rate_limit", result="dropped") == 7
    # the key may name the user: two devices of one user share one budget
    d1 = api.register("rk1-" + u, user="rk-" + u)["id"]
    d2 = api.register("rk2-" + u, user="rk-" + u)["id"]
    u2 = uid()
    send(api, {"filter": {"ids": [d1, d2]}}, FCM, uid=u2,
         limit_strategy=rate(1, 60000, key="user:{{device.user}}"))
    wait_sql(api, "select count(*) from push_requests where uid = '%s'" % u2, "1")
    assert len(tokens_of(read_all(api, {u2}, 1))) == 1


def test_rate_limited_push_is_delayed_until_allowed(api):
    u = uid()
    dev = api.register("rd-" + u)["id"]
    first = send(api, {"filter": {"ids": [dev]}}, FCM, uid=u + "-a",
                 limit_strategy=rate(1, 3000, drop=False))
    batches_for(api.kafka.brokers, "fcm", first, lambda bs: len(bs) >= 1, timeout=10)
    t0 = time.time()
    second = send(api, {"filter": {"ids": [dev]}}, FCM, uid=u + "-b",
                  limit_strategy=rate(1, 3000, drop=False))
    wait_sql(api, "select count(*) from scheduled_pushes where uid like '%s#%%' "
                  "and state = 'pending'" % second, "1")
    [bt] = batches_for(api.kafka.brokers, "fcm", second, lambda bs: len(bs) >= 1, timeout=15)
    assert time.time() - t0 >= 1.5, "the held part went out early"
    assert tokens_of([bt]) == ["rd-" + u]


# ---- time_limit -------------------------------------------------------------

def hms(seconds):
    seconds %= 86400
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def test_time_limit_in_three_timezones(api):
    u = uid()
    # UTC's window opens in 3 s and lasts 2 h: at UTC+1 it is open now, at
    # UTC-5 it opens in about 5 hours; a device without timezone is dropped
    now = datetime.datetime.now(datetime.timezone.utc)
    start = now.hour * 3600 + now.minute * 60 + now.second + 4
    tl = {"time_limit": {"send_after_time": hms(start), "send_before_time": hms(start + 7200)}}
    ids = {}
    for name, tz in [("utc", "Etc/GMT"), ("plus1", "Etc/GMT-1"), ("minus5", "Etc/GMT+5"),
                     ("notz", None)]:
        kw = {"user": "tz-" + u}
        if tz:
            kw["timezone"] = tz
        ids[name] = api.register("%s-%s" % (name, u), **kw)["id"]
    t0 = time.time()
    send(api, {"filter": {"users": ["tz-" + u]}}, FCM, uid=u, limit_strategy=tl)
    [now_b] = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 1, timeout=10)
    assert tokens_of([now_b]) == ["plus1-" + u]
    held = api.sql("select uid || ' ' || extract(epoch from due_at)::bigint from "
                   "scheduled_pushes where uid like '%s#%%' order by due_at" % u).splitlines()
    assert len(held) == 2, held
    due_utc, due_m5 = [int(h.split()[1]) for h in held]
    assert abs(due_utc - (t0 + 4)) < 3 and abs(due_m5 - (due_utc + 5 * 3600)) < 3
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 2, timeout=15)
    assert sorted(tokens_of(bs)) == sorted(["plus1-" + u, "utc-" + u])
    assert time.time() - t0 >= 2.5
    # no_tz_send_now sends to the device without timezone at once
    u2 = uid()
    tl["time_limit"]["no_tz_send_now"] = True
    send(api, {"filter": {"ids": [ids["notz"]]}}, FCM, uid=u2, limit_strategy=tl)
    [b2] = batches_for(api.kafka.brokers, "fcm", u2, lambda bs: len(bs) >= 1, timeout=10)
    assert tokens_of([b2]) == ["notz-" + u]
    # cancel_push also stops the held parts
    assert api.ok("cancel_push", {"uid": u}) == {}


# ---- device_list by topic alone (read from the topic index) ------------------

def test_device_list_by_topic_alone_pages_and_counts(api):
    u = uid()
    ids = sorted(api.register("tp%d-%s" % (i, u), topics=["t-" + u])["id"] for i in range(7))
    # a device holding the topic both as its own and through its user is listed once
    api.ok("user_topic_update", {"user": "tu-" + u, "op": "add", "topics": ["t-" + u]})
    both = api.register("tpu-" + u, user="tu-" + u, topics=["t-" + u])["id"]
    api.register("other-" + u, topics=["o-" + u])
    want = sorted(ids + [both])
    got, cursor, pages = [], "", 0
    while True:
        r = api.ok("device_list", {"filter": {"topics": ["t-" + u, "nothing-" + u]}, "limit": 3,
                                   "cursor": cursor, "include_total_count": True})
        assert r["total_count"] == 8
        got += [d["id"] for d in r["items"]]
        pages += 1
        cursor = r.get("next_cursor")
        if not cursor:
            break
    assert got == want and pages == 3


def test_filter_topic_send_reaches_devices_holding_the_topic_twice(api):
    """A device holding a topic both as its own and through its user has two
    rows in device_topics: a fan-out page must still be a full page of
    devices, or the fan-out takes it for the last one and stops."""
    from test_api_fanout import bulk_devices
    u = uid()
    p = "tw" + u[-8:]
    bulk_devices(api, p, "tw-" + u, 1500)
    api.sql("insert into device_topics (device_id, topic, src, app) select id, 'tw-%s', 1, "
            "'default' from devices where id like '%s-%%' order by id limit 50" % (u, p))
    send(api, {"filter": {"topics": ["tw-" + u]}}, FCM, uid=u)
    wait_sql(api, "select tokens from push_requests where uid = '%s'" % u, "1500")
