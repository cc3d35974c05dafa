"""test_api_push.py -- conformance with today's Centrifugo PRO push API:
each method called with the exact JSON the server-API SDKs (pycent
cent 5.x, gocent, phpcent) send -- unset fields absent, X-API-Key or
Authorization: apikey -- and the replies checked field for field; the
devices' timezone / locale / topics / meta, opaque cursors and total
counts, device and user topics with the ownership guard, unknown fields
(ignored, or refused with HERALD_API_STRICT_PARAMS), the filter and
webpush recipients fanned out to herald.deliver.<provider>, and bad input
for every new field (107 naming it, nothing written).
"""
import json

import pytest

from api_support import (API_KEY, api, batches_for, read_topic, serve_api,  # noqa: F401
                         tokens_of, uid, wait_sql)
from harness import http_json

FCM = {"fcm": {"message": {"notification": {"title": "t", "body": "b"}}}}
HMS = {"hms": {"message": {"data": "{}"}}}
WEBPUSH = {"webpush": {"headers": {"TTL": "60", "Urgency": "high"},
                       "payload": "{\"title\":\"hi\"}"}}


def sdk(api, method, params):
    """POST /api/<method> as pycent does: X-API-Key, HTTP 200 either way."""
    st, doc = http_json("POST", "%s/api/%s" % (api.url, method), params,
                        headers={"X-API-Key": API_KEY})
    assert st == 200 and isinstance(doc, dict), (method, st, doc)
    return doc


def ok(api, method, params):
    doc = sdk(api, method, params)
    assert "result" in doc, (method, params, doc)
    return doc["result"]


def err(api, method, params):
    doc = sdk(api, method, params)
    assert "error" in doc, (method, params, doc)
    return doc["error"]


def count(api, table, where="true"):
    return int(api.sql("select count(*) from %s where %s" % (table, where)))


def subscription(n):
    return json.dumps({"endpoint": "https://fcm.googleapis.com/fcm/send/%s" % n,
                       "keys": {"p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx"
                                          "aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                                "auth": "BTBZMqHH6r4Tts7J_aSIgg"}})


# ---- devices ------------------------------------------------------------------

def test_device_register_and_list_as_the_sdks_send_them(api):
    u = uid()
    res = ok(api, "device_register", {
        "provider": "fcm", "token": "tok-" + u, "platform": "android", "user": "alice-" + u,
        "timezone": "Europe/Berlin", "locale": "de", "topics": ["news-" + u, "sport-" + u],
        "meta": {"first_name": "Alice"}})
    dev_id = res["id"]
    assert isinstance(dev_id, str) and len(dev_id) == 36
    page = ok(api, "device_list", {"filter": {"ids": [dev_id]}, "include_topics": True,
                                   "include_meta": True, "include_total_count": True})
    assert page["total_count"] == 1 and "next_cursor" not in page
    [d] = page["items"]
    assert {k: d[k] for k in ("id", "provider", "token", "platform", "user", "timezone", "locale",
                              "topics", "meta")} == {
        "id": dev_id, "provider": "fcm", "token": "tok-" + u, "platform": "android",
        "user": "alice-" + u, "timezone": "Europe/Berlin", "locale": "de",
        "topics": ["news-" + u, "sport-" + u], "meta": {"first_name": "Alice"}}
    assert isinstance(d["created_at"], int) and isinstance(d["updated_at"], int)
    assert abs(d["created_at"] - int(api.sql("select extract(epoch from now())::bigint"))) < 60
    # the same token again, without id: the same device; left-out fields reset
    again = ok(api, "device_register", {"provider": "fcm", "token": "tok-" + u,
                                        "platform": "android", "user": "alice-" + u})
    assert again["id"] == dev_id
    [d] = ok(api, "device_list", {"filter": {"ids": [dev_id]}, "include_topics": True,
                                  "include_meta": True})["items"]
    assert (d["timezone"], d["locale"], d["topics"], d["meta"]) == ("", "", [], {})
    # with id: token rotation keeps the device
    rot = ok(api, "device_register", {"id": dev_id, "provider": "fcm", "token": "rot-" + u,
                                      "platform": "android", "timezone": "America/Sao_Paulo",
                                      "locale": "pt-BR"})
    assert rot["id"] == dev_id
    [d] = ok(api, "device_list", {"filter": {"ids": [dev_id]}})["items"]
    assert (d["token"], d["timezone"], d["locale"], d["user"]) == \
        ("rot-" + u, "America/Sao_Paulo", "pt-BR", "")
    assert "topics" not in d and "meta" not in d


def test_device_register_bad_new_fields_write_nothing(api):
    before = count(api, "devices")
    base = {"provider": "fcm", "token": "bad-" + uid(), "platform": "android"}
    for change, code, word in [
        ({"timezone": "Mars/Olympus_Mons"}, 107, "timezone"),
        ({"timezone": "../../etc/passwd"}, 107, "timezone"),
        ({"timezone": "Europe"}, 107, "timezone"),  # a directory, not a zone
        ({"timezone": "posix/Europe/Berlin"}, 107, "timezone"),
        ({"timezone": 3}, 107, "timezone"),
        ({"locale": "english!"}, 107, "locale"),
        ({"locale": "e"}, 107, "locale"),
        ({"locale": "de--DE"}, 107, "locale"),
        ({"locale": "x" * 40}, 107, "locale"),
        ({"topics": "news"}, 107, "topics"),
        ({"topics": [""]}, 107, "topics"),
        ({"topics": ["x" * 257]}, 107, "topics"),
        ({"topics": ["t%d" % i for i in range(1001)]}, 106, "topics"),
        ({"topics": ["a"], "channels": ["b"]}, 107, "channels"),
        ({"meta": {"k": 1}}, 107, "meta"),
        ({"provider": "webpush", "platform": "web", "token": "not json"}, 107, "token"),
        ({"provider": "webpush", "platform": "web",
          "token": json.dumps({"endpoint": "http://insecure", "keys": {"p256dh": "a", "auth": "b"}})},
         107, "token"),
    ]:
        p = dict(base)
        p.update(change)
        e = err(api, "device_register", p)
        assert e["code"] == code and word in e["message"], (change, e)
    assert count(api, "devices") == before


def test_webpush_device_shows_endpoint_and_keys(api):
    u = uid()
    sub = subscription(u)
    dev_id = ok(api, "device_register", {"provider": "webpush", "token": sub,
                                         "platform": "web"})["id"]
    [d] = ok(api, "device_list", {"filter": {"ids": [dev_id]},
                                  "include_webpush_keys": True})["items"]
    assert d["token"] == json.loads(sub)["endpoint"]
    assert d["webpush_keys"] == json.loads(sub)["keys"]


def test_device_update_every_update(api):
    u = uid()
    a = ok(api, "device_register", {"provider": "fcm", "token": "ua-" + u, "platform": "ios",
                                    "user": "u1-" + u, "topics": ["t1-" + u]})["id"]
    b = ok(api, "device_register", {"provider": "fcm", "token": "ub-" + u, "platform": "ios",
                                    "user": "u1-" + u})["id"]
    assert ok(api, "device_update", {"users": ["u1-" + u],
                                     "timezone_update": {"timezone": "Asia/Nicosia"},
                                     "locale_update": {"locale": "el"},
                                     "meta_update": {"meta": {"plan": "pro"}},
                                     "topics_update": {"op": "add", "topics": ["t2-" + u]}}) == {}
    items = ok(api, "device_list", {"filter": {"users": ["u1-" + u]}, "include_topics": True,
                                    "include_meta": True})["items"]
    by = {d["id"]: d for d in items}
    assert by[a]["topics"] == ["t1-" + u, "t2-" + u] and by[b]["topics"] == ["t2-" + u]
    assert all(d["timezone"] == "Asia/Nicosia" and d["locale"] == "el" and
               d["meta"] == {"plan": "pro"} for d in items)
    ok(api, "device_update", {"ids": [a], "topics_update": {"op": "remove", "topics": ["t1-" + u]}})
    ok(api, "device_update", {"ids": [b], "topics_update": {"op": "set", "topics": ["t3-" + u]},
                              "user_update": {"user": "u2-" + u}})
    by = {d["id"]: d for d in ok(api, "device_list", {"filter": {"ids": [a, b]},
                                                      "include_topics": True})["items"]}
    assert by[a]["topics"] == ["t2-" + u] and by[b]["topics"] == ["t3-" + u]
    assert by[b]["user"] == "u2-" + u
    # the draft's channels_update is topics_update op set
    ok(api, "device_update", {"ids": [a], "channels_update": {"channels": ["c-" + u]}})
    [d] = ok(api, "device_list", {"filter": {"ids": [a]}, "include_topics": True})["items"]
    assert d["topics"] == ["c-" + u]
    # bad input: 107 naming the field, nothing changed
    for params, word in [
        ({"ids": [a], "timezone_update": {"timezone": "Nowhere/Land"}}, "timezone"),
        ({"ids": [a], "locale_update": {"locale": "?"}}, "locale"),
        ({"ids": [a], "topics_update": {"op": "toggle", "topics": ["x"]}}, "op"),
        ({"ids": [a], "topics_update": {"topics": ["x"]}}, "op"),
        ({"ids": [a], "topics_update": {"op": "add", "topics": [""]}}, "topics"),
        ({"ids": [a], "topics_update": {"op": "add", "topics": ["x"]},
          "channels_update": {"channels": []}}, "channels_update"),
        ({"timezone_update": {"timezone": "UTC"}}, "required"),
    ]:
        e = err(api, "device_update", params)
        assert e["code"] == 107 and word in e["message"], (params, e)
    [d] = ok(api, "device_list", {"filter": {"ids": [a]}, "include_topics": True})["items"]
    assert (d["timezone"], d["locale"], d["topics"]) == ("Asia/Nicosia", "el", ["c-" + u])


def test_device_remove_by_ids_and_users(api):
    u = uid()
    a = ok(api, "device_register", {"provider": "hms", "token": "ra-" + u, "platform": "android",
                                    "user": "r-" + u})["id"]
    ok(api, "device_register", {"provider": "hms", "token": "rb-" + u, "platform": "android",
                                "user": "r-" + u})
    c = ok(api, "device_register", {"provider": "hms", "token": "rc-" + u,
                                    "platform": "android"})["id"]
    assert ok(api, "device_remove", {"ids": [c]}) == {}
    assert ok(api, "device_remove", {"users": ["r-" + u]}) == {}
    assert count(api, "devices", "id in ('%s', '%s')" % (a, c)) == 0
    assert err(api, "device_remove", {})["code"] == 107


def test_device_list_filter_cursor_and_total(api):
    u = uid()
    ids = []
    for i in range(7):
        ids.append(ok(api, "device_register", {
            "provider": "apns" if i % 2 else "fcm", "token": ("%064x" % i) if i % 2 else "l%d-%s" % (i, u),
            "platform": "ios" if i % 2 else "android", "user": "lu-" + u,
            "topics": ["even-" + u] if i % 2 == 0 else ["odd-" + u]})["id"])
    f = {"users": ["lu-" + u]}
    seen, cursor, pages = [], "", 0
    while True:
        params = {"filter": f, "limit": 3, "include_total_count": True}
        if cursor:
            params["cursor"] = cursor
        res = ok(api, "device_list", params)
        pages += 1
        assert res["total_count"] == 7
        seen += [d["id"] for d in res["items"]]
        if "next_cursor" not in res:
            break
        cursor = res["next_cursor"]
        assert cursor not in ids, "the cursor is opaque"
    assert pages == 3 and seen == sorted(ids)
    # lists ANDed across fields, values ORed within one
    res = ok(api, "device_list", {"filter": {"users": ["lu-" + u], "topics": ["even-" + u],
                                             "platforms": ["android"], "providers": ["fcm", "hms"]},
                                  "include_total_count": True})
    assert res["total_count"] == 4 and len(res["items"]) == 4
    res = ok(api, "device_list", {"filter": {"topics": ["odd-" + u, "even-" + u]}, "limit": 100})
    assert len(res["items"]) == 7
    # the draft: flat filters, since and has_more
    res = ok(api, "device_list", {"users": ["lu-" + u], "limit": 5})
    assert res["has_more"] is True and len(res["items"]) == 5
    res = ok(api, "device_list", {"users": ["lu-" + u], "since": res["items"][-1]["id"]})
    assert res["has_more"] is False and len(res["items"]) == 2
    for params, word in [({"cursor": "!!!"}, "cursor"), ({"cursor": 5}, "cursor"),
                         ({"filter": {"topics": "x"}}, "filter.topics"),
                         ({"filter": {"providers": ["gcm"]}}, "filter.providers"),
                         ({"filter": []}, "filter"), ({"include_total_count": 1}, "include_total")]:
        e = err(api, "device_list", params)
        assert e["code"] == 107 and word in e["message"], (params, e)


# ---- topics -------------------------------------------------------------------

def test_device_topic_update_and_list_with_the_owner_guard(api):
    u = uid()
    d = ok(api, "device_register", {"provider": "fcm", "token": "dt-" + u, "platform": "android",
                                    "user": "owner-" + u})["id"]
    assert ok(api, "device_topic_update", {"device_id": d, "op": "add",
                                           "topics": ["a-" + u, "b-" + u, "c-" + u]}) == {}
    e = err(api, "device_topic_update", {"device_id": d, "op": "remove", "topics": ["a-" + u],
                                         "user": "intruder-" + u})
    assert e["code"] == 107 and "device_id" in e["message"]
    ok(api, "device_topic_update", {"device_id": d, "op": "remove", "topics": ["a-" + u],
                                    "user": "owner-" + u})
    res = ok(api, "device_topic_list", {"filter": {"device_ids": [d]}, "include_device": True,
                                        "include_total_count": True, "limit": 1})
    assert res["total_count"] == 2 and len(res["items"]) == 1
    [item] = res["items"]
    assert set(item) == {"id", "device_id", "topic", "device"}
    assert (item["device_id"], item["topic"]) == (d, "b-" + u)
    assert item["device"]["id"] == d and item["device"]["user"] == "owner-" + u
    res2 = ok(api, "device_topic_list", {"filter": {"device_ids": [d]}, "cursor": res["next_cursor"]})
    assert [i["topic"] for i in res2["items"]] == ["c-" + u] and "next_cursor" not in res2
    res = ok(api, "device_topic_list", {"filter": {"topic_prefix": "c-" + u, "device_users": ["owner-" + u],
                                                   "device_providers": ["fcm"],
                                                   "device_platforms": ["android"]}})
    assert [(i["device_id"], i["topic"]) for i in res["items"]] == [(d, "c-" + u)]
    assert "device" not in res["items"][0]
    ok(api, "device_topic_update", {"device_id": d, "op": "set", "topics": ["z-" + u]})
    res = ok(api, "device_topic_list", {"filter": {"device_ids": [d]}})
    assert [i["topic"] for i in res["items"]] == ["z-" + u]
    for params, word in [({"device_id": "no-such-" + u, "op": "add", "topics": ["x"]}, "device_id"),
                         ({"device_id": d, "op": "flip", "topics": ["x"]}, "op"),
                         ({"device_id": d, "op": "add", "topics": [""]}, "topics"),
                         ({"op": "add", "topics": ["x"]}, "device_id")]:
        e = err(api, "device_topic_update", params)
        assert e["code"] == 107 and word in e["message"], (params, e)
    assert err(api, "device_topic_list", {"cursor": "bm90IGEga2V5"})["code"] == 107
    [d1] = ok(api, "device_list", {"filter": {"ids": [d]}, "include_topics": True})["items"]
    assert d1["topics"] == ["z-" + u]


def test_user_topics_apply_at_once_and_to_later_devices(api):
    u = uid()
    user = "ut-" + u
    d1 = ok(api, "device_register", {"provider": "fcm", "token": "ut1-" + u, "platform": "android",
                                     "user": user})["id"]
    assert ok(api, "user_topic_update", {"user": user, "op": "add",
                                         "topics": ["x-" + u, "y-" + u]}) == {}
    d2 = ok(api, "device_register", {"provider": "fcm", "token": "ut2-" + u, "platform": "android",
                                     "user": user, "topics": ["own-" + u]})["id"]
    by = {d["id"]: d["topics"] for d in ok(api, "device_list", {"filter": {"users": [user]},
                                                                "include_topics": True})["items"]}
    assert by == {d1: ["x-" + u, "y-" + u], d2: ["own-" + u, "x-" + u, "y-" + u]}
    ok(api, "user_topic_update", {"user": user, "op": "remove", "topics": ["x-" + u]})
    res = ok(api, "user_topic_list", {"filter": {"users": [user]}, "include_total_count": True})
    assert res["total_count"] == 1
    [item] = res["items"]
    assert set(item) == {"id", "user", "topic"} and (item["user"], item["topic"]) == (user, "y-" + u)
    by = {d["id"]: d["topics"] for d in ok(api, "device_list", {"filter": {"users": [user]},
                                                                "include_topics": True})["items"]}
    assert by == {d1: ["y-" + u], d2: ["own-" + u, "y-" + u]}
    # cursor paging and topic_prefix
    ok(api, "user_topic_update", {"user": user, "op": "set",
                                  "topics": ["p%d-%s" % (i, u) for i in range(5)]})
    seen, cursor = [], None
    while True:
        params = {"filter": {"topic_prefix": "p"}, "limit": 2}
        params["filter"]["users"] = [user]
        if cursor:
            params["cursor"] = cursor
        res = ok(api, "user_topic_list", params)
        seen += [i["topic"] for i in res["items"]]
        cursor = res.get("next_cursor")
        if not cursor:
            break
    assert sorted(seen) == ["p%d-%s" % (i, u) for i in range(5)]
    # the draft's names answer in the draft's shape
    res = ok(api, "push_user_channel_list", {"users": [user], "limit": 2})
    assert res["has_more"] is True and set(res["items"][0]) == {"id", "user", "channel"}
    ok(api, "push_user_channel_update", {"user": user, "op": "set", "channels": ["draft-" + u]})
    res = ok(api, "user_topic_list", {"filter": {"users": [user]}})
    assert [i["topic"] for i in res["items"]] == ["draft-" + u]
    for params, word in [({"user": user, "op": "add", "topics": [""]}, "topics"),
                         ({"user": user, "op": "nope", "topics": ["a"]}, "op"),
                         ({"op": "add", "topics": ["a"]}, "user")]:
        e = err(api, "user_topic_update", params)
        assert e["code"] == 107 and word in e["message"], (params, e)
    assert err(api, "user_topic_list", {"cursor": "eHl6"})["code"] == 107
    assert count(api, "user_topics", "user_id = '%s'" % user) == 1


# ---- unknown fields -----------------------------------------------------------

def test_unknown_fields_are_ignored_as_centrifugo_does(api):
    u = uid()
    res = ok(api, "device_register", {"provider": "fcm", "token": "unk-" + u, "platform": "android",
                                      "field_from_a_newer_sdk": {"x": 1}})
    assert "id" in res
    res = ok(api, "device_list", {"filter": {"ids": [res["id"]], "future": 1}, "future": True})
    assert len(res["items"]) == 1
    res = ok(api, "send_push_notification", {
        "recipient": {"fcm_tokens": ["t-" + u], "future": 1},
        "notification": {"fcm": {"message": {}}, "future": 1}, "uid": u, "future": 1})
    assert res == {"uid": u}


@pytest.fixture(scope="module")
def strict(pg_cluster):
    yield from serve_api(pg_cluster, HERALD_API_STRICT_PARAMS="true")


def test_strict_setting_refuses_unknown_fields_by_name(strict):
    u = uid()
    for method, params, word in [
        ("device_register", {"provider": "fcm", "token": "s-" + u, "platform": "android",
                             "bogus": 1}, "params.bogus"),
        ("device_list", {"filter": {"nope": []}}, "params.filter.nope"),
        ("device_update", {"ids": ["x"], "user_update": {"user": "x", "extra": 1}},
         "params.user_update.extra"),
        ("send_push_notification", {"recipient": {"fcm_tokens": ["t"]},
                                    "notification": {"bogus": 1, **FCM}}, "notification.bogus"),
        ("send_push_notification", {"recipient": {"fcm_tokens": ["t"]}, "notification": FCM,
                                    "extra": 1}, "params.extra"),
        ("user_topic_list", {"extra": True}, "params.extra"),
        ("update_push_status", {"analytics_uid": u, "status": "delivered", "device_id": "x",
                                "extra": 1}, "params.extra"),
    ]:
        e = err(strict, method, params)
        assert e["code"] == 107 and word in e["message"], (method, params, e)
    assert count(strict, "devices") == 0


# ---- send_push_notification ---------------------------------------------------

def test_filter_recipient_fans_out_to_matching_devices(api):
    u = uid()

    def reg(tok, provider="fcm", platform="android", **kw):
        p = {"provider": provider, "token": tok, "platform": platform}
        p.update(kw)
        return ok(api, "device_register", p)["id"]

    a = reg("fa-" + u, user="fu-" + u, topics=["ft-" + u])
    b = reg("fb-" + u, user="fu-" + u, platform="ios")
    c = reg("fc-" + u, user="other-" + u, topics=["ft-" + u])
    h = reg("fh-" + u, provider="hms", user="fu-" + u, topics=["ft-" + u])

    prov = {a: "fcm", b: "fcm", c: "fcm", h: "hms"}

    def sends_to(recipient, notification, want):
        """The send reaches exactly the devices of want (and no others:
        the request's token count is len(want))."""
        uid_ = uid()
        res = ok(api, "send_push_notification", {"recipient": recipient,
                                                 "notification": notification, "uid": uid_})
        assert res == {"uid": uid_}
        wait_sql(api, "select state || ':' || tokens from push_requests where uid = '%s'" % uid_,
                 "done:%d" % len(want))
        got = set()
        for p in ("fcm", "hms"):
            mine = {d for d in want if prov[d] == p}
            if mine:
                bs = batches_for(api.kafka.brokers, p, uid_,
                                 lambda bs: len(tokens_of(bs)) >= len(mine))
                got |= {t["device"] for b_ in bs for t in b_["tokens"]}
        assert got == want, (recipient, got, want)

    both = {**FCM, **HMS}
    sends_to({"filter": {"users": ["fu-" + u]}}, both, {a, b, h})
    sends_to({"filter": {"topics": ["ft-" + u]}}, both, {a, c, h})
    sends_to({"filter": {"topics": ["ft-" + u], "users": ["fu-" + u],
                         "platforms": ["android"]}}, both, {a, h})
    sends_to({"filter": {"ids": [a, b, c], "platforms": ["ios"]}}, both, {b})
    sends_to({"filter": {"users": ["fu-" + u], "providers": ["hms"]}}, both, {h})
    # a provider without a notification part gets nothing
    sends_to({"filter": {"topics": ["ft-" + u]}}, FCM, {a, c})


def test_filter_by_providers_only_reads_the_provider_ranges(api):
    u = uid()
    app = "prov-" + u[-8:]
    ids = {ok(api, "device_register", {"provider": "hms", "token": "ph%d-%s" % (i, u),
                                       "platform": "android", "app": app})["id"] for i in range(3)}
    ok(api, "device_register", {"provider": "fcm", "token": "pf-" + u, "platform": "android",
                                "app": app})
    uid_ = uid()
    ok(api, "send_push_notification", {"recipient": {"filter": {"providers": ["hms"]}},
                                       "notification": {**FCM, **HMS}, "uid": uid_, "app": app})
    bs = batches_for(api.kafka.brokers, "hms", uid_, lambda bs: len(tokens_of(bs)) >= 3)
    assert {t["device"] for b in bs for t in b["tokens"]} == ids
    wait_sql(api, "select state || ':' || tokens from push_requests where uid = '%s'" % uid_,
             "done:3")


def test_webpush_tokens_and_devices_go_to_the_webpush_topic(api):
    u = uid()
    subs = [subscription("%s-%d" % (u, i)) for i in range(2)]
    uid1 = ok(api, "send_push_notification", {"recipient": {"webpush_tokens": subs},
                                              "notification": WEBPUSH})["uid"]
    [b] = batches_for(api.kafka.brokers, "webpush", uid1, lambda bs: len(bs) >= 1)
    assert b["provider"] == "webpush" and b["notification"] == WEBPUSH["webpush"]
    assert [json.loads(t["token"]) for t in b["tokens"]] == [json.loads(x) for x in subs]
    dev = ok(api, "device_register", {"provider": "webpush", "token": subs[0], "platform": "web",
                                      "user": "wp-" + u})["id"]
    uid2 = ok(api, "send_push_notification", {"recipient": {"filter": {"users": ["wp-" + u]}},
                                              "notification": {**FCM, **WEBPUSH}})["uid"]
    [b] = batches_for(api.kafka.brokers, "webpush", uid2, lambda bs: len(bs) >= 1)
    [t] = b["tokens"]
    assert t["device"] == dev and json.loads(t["token"]) == json.loads(subs[0])


def test_raw_provider_recipients_in_todays_shape(api):
    u = uid()
    for recipient, note, prov, want in [
        ({"fcm_tokens": ["ft-" + u]}, FCM, "fcm", {"tokens": ["ft-" + u]}),
        ({"fcm_topic": "news"}, FCM, "fcm", {"topic": "news"}),
        ({"fcm_condition": "'a' in topics"}, FCM, "fcm", {"condition": "'a' in topics"}),
        ({"hms_tokens": ["ht-" + u]}, HMS, "hms", {"tokens": ["ht-" + u]}),
        ({"hms_topic": "news"}, HMS, "hms", {"topic": "news"}),
        ({"hms_condition": "'a' in topics"}, HMS, "hms", {"condition": "'a' in topics"}),
        ({"apns_tokens": ["ab" * 32]}, {"apns": {"payload": {"aps": {}}}}, "apns",
         {"tokens": ["ab" * 32]}),
    ]:
        uid_ = uid()
        res = ok(api, "send_push_notification", {"recipient": recipient, "notification": note,
                                                 "uid": uid_, "optimize_for_reliability": True})
        assert res == {"uid": uid_}
        [b] = batches_for(api.kafka.brokers, prov, uid_, lambda bs: len(bs) >= 1)
        if "tokens" in want:
            assert tokens_of([b]) == want["tokens"], recipient
        else:
            assert {k: b.get(k) for k in want} == want, (recipient, b)


def test_send_bad_new_fields_are_refused_and_nothing_is_queued(api):
    u = uid()
    cases = [
        ({"recipient": {"filter": []}, "notification": FCM}, 107, "recipient.filter"),
        ({"recipient": {"filter": {"users": "x"}}, "notification": FCM}, 107, "filter.users"),
        ({"recipient": {"filter": {"providers": ["gcm"]}}, "notification": FCM}, 107,
         "filter.providers"),
        ({"recipient": {"filter": {"platforms": ["symbian"]}}, "notification": FCM}, 107,
         "filter.platforms"),
        ({"recipient": {"filter": {"ids": ["i%d" % i for i in range(1001)]}}, "notification": FCM},
         106, "filter.ids"),
        ({"recipient": {"filter": {}, "fcm_tokens": ["t"]}, "notification": FCM}, 107, "only one"),
        ({"recipient": {"webpush_tokens": ["not a subscription"]}, "notification": WEBPUSH}, 107,
         "webpush_tokens[0]"),
        ({"recipient": {"webpush_tokens": [subscription(u)]}, "notification": FCM}, 107,
         "notification.webpush"),
        ({"recipient": {"filter": {}}, "notification": {"webpush": {"headers": {"X": "1"},
                                                                    "payload": "p"}}}, 107,
         "webpush.headers.X"),
        ({"recipient": {"filter": {}}, "notification": {"webpush": {"headers": {}}}}, 107,
         "webpush.payload"),
        ({"recipient": {"filter": {}}, "notification": {"webpush": {"payload": "x" * 5000}}}, 106,
         "webpush.payload"),
        ({"recipient": {"filter": {}}, "notification": FCM, "uid": ""}, 107, "params.uid"),
        ({"recipient": {"filter": {}}, "notification": FCM, "uid": u, "analytics_uid": "other"},
         108, "analytics_uid"),
        ({"recipient": {"filter": {}}, "notification": FCM, "uid": u,
          "limit_strategy": {"rate_limit": {}}}, 107, "limit_strategy.rate_limit.policies"),
    ]
    for params, code, word in cases:
        e = err(api, "send_push_notification", params)
        assert e["code"] == code and word in e["message"], (params, e)
    recs = read_topic(api.kafka.brokers, "herald.requests", lambda rs: True, timeout=3)
    assert not [v for _, v in recs if isinstance(v, dict) and v.get("uid") == u]


def test_update_push_status_with_analytics_uid(api):
    u = uid()
    d = ok(api, "device_register", {"provider": "fcm", "token": "ps-" + u,
                                    "platform": "android"})["id"]
    assert ok(api, "send_push_notification", {"recipient": {"filter": {"ids": [d]}},
                                              "notification": FCM,
                                              "analytics_uid": u}) == {"uid": u}
    assert ok(api, "update_push_status", {"analytics_uid": u, "status": "delivered",
                                          "device_id": d, "msg_id": "m-1"}) == {}
    wait_sql(api, "select status from push_status where uid = '%s' and device_id = '%s'" % (u, d),
             "delivered")
    e = err(api, "update_push_status", {"status": "delivered", "device_id": d})
    assert e["code"] == 107 and "analytics_uid" in e["message"]


# ---- the migration from channels to topics ------------------------------------

def test_channels_become_topics_keeping_every_row(stack, pg_cluster):
    """A registry at the draft's schema (migrations up to 0003) with
    channel rows: migrating keeps every row under the new names."""
    import os
    import subprocess
    from harness import BIN
    root = os.path.join(os.path.dirname(__file__), "..", "..", "db", "migrations")
    dsn = pg_cluster.new_database()
    pg_cluster.psql(dsn, "create table schema_migrations (version bigint primary key, "
                         "name text not null, applied_at timestamptz not null default now())")
    for v, name in [(1, "0001_registry.sql"), (2, "0002_push.sql"),
                    (3, "0003_registry_functions.sql")]:
        with open(os.path.join(root, name)) as f:
            pg_cluster.psql(dsn, f.read())
        pg_cluster.psql(dsn, "insert into schema_migrations values (%d, '%s')"
                        % (v, name[:-4]))
    pg_cluster.psql(dsn, """
        insert into devices (id, app, provider, token, platform, user_id)
        select 'd' || i, 'default', 'fcm', 'tok' || i, 'android', 'u' || (i % 3)
          from generate_series(1, 50) i;
        select herald_user_channels_update('default', 'u1', 'add', array['uc1', 'uc2']);
        insert into device_channels (device_id, channel, src, app)
        select 'd' || i, 'own' || (i % 4), 0, 'default' from generate_series(1, 50) i;
    """)
    before = pg_cluster.psql(dsn, "select count(*) || '/' || sum(hashtext(device_id || channel "
                                  "|| src)) from device_channels")
    ub = pg_cluster.psql(dsn, "select string_agg(user_id || channel, ',' order by id) "
                              "from user_channels")
    r = subprocess.run([os.path.join(BIN, "herald-api"), "migrate"],
                       env=stack.env(HERALD_PG_DSN=dsn), capture_output=True, text=True,
                       timeout=60)
    later = len([f for f in os.listdir(root) if f.endswith(".sql")]) - 3
    assert r.returncode == 0 and "%d applied" % later in r.stderr, r.stderr[-2000:]
    after = pg_cluster.psql(dsn, "select count(*) || '/' || sum(hashtext(device_id || topic "
                                 "|| src)) from device_topics")
    assert after == before and before.startswith("84/"), (before, after)  # 50 own + 2 x 17 user-bound
    assert pg_cluster.psql(dsn, "select string_agg(user_id || topic, ',' order by id) "
                                "from user_topics") == ub
    assert pg_cluster.psql(dsn, "select count(*) from devices where timezone = '' "
                                "and locale = ''") == "50"
