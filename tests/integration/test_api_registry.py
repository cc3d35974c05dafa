"""test_api_registry.py -- herald-api's device registry over the server
API against real PostgreSQL: device_register / update / remove / list,
push_user_channel_update / list, the /api envelope, and every error path
(401, 400, 104, 106, 107, 100), each proving nothing was written.
"""
import json
import socket

from api_support import API_KEY, api, uid  # noqa: F401 (fixture)
from harness import http, http_json


def count(api, table, where="true"):
    return int(api.sql("select count(*) from %s where %s" % (table, where)))


def channels_of(api, device_id):
    got = api.ok("device_list", {"ids": [device_id], "include_channels": True})["items"]
    return got[0]["channels"] if got else None


# ---- device_register -------------------------------------------------------

def test_register_returns_the_device_and_lists_it(api):
    u = uid()
    d = api.register("tok-" + u, user=u, meta={"model": "pixel"}, tags={"lang": "en"},
                     channels=["news-" + u, "sport-" + u])
    assert set(d) >= {"id", "provider", "token", "platform", "user"}
    assert (d["provider"], d["token"], d["platform"], d["user"]) == ("fcm", "tok-" + u, "android", u)
    res = api.ok("device_list", {"ids": [d["id"]], "include_meta": True, "include_tags": True,
                                 "include_channels": True})
    assert res["has_more"] is False
    [item] = res["items"]
    assert item["meta"] == {"model": "pixel"} and item["tags"] == {"lang": "en"}
    assert item["channels"] == sorted(["news-" + u, "sport-" + u])
    # without include_* flags none of them is shown
    [plain] = api.ok("device_list", {"ids": [d["id"]]})["items"]
    assert "meta" not in plain and "tags" not in plain and "channels" not in plain


def test_register_via_envelope_also_returns_id(api):
    u = uid()
    res = api.ok("device_register", {"provider": "hms", "token": "h-" + u, "platform": "android"},
                 envelope=True)
    assert res["id"] == res["device"]["id"] and res["device"]["user"] == ""


def test_registering_a_known_token_moves_it_to_the_new_user(api):
    a, b = uid(), uid()
    api.ok("push_user_channel_update", {"user": a, "op": "set", "channels": ["a-only-" + a]})
    api.ok("push_user_channel_update", {"user": b, "op": "set", "channels": ["b-only-" + b]})
    d1 = api.register("moving-" + a, user=a, channels=["own-" + a])
    assert channels_of(api, d1["id"]) == sorted(["a-only-" + a, "own-" + a])
    d2 = api.register("moving-" + a, user=b, platform="web")
    assert d2["id"] == d1["id"] and d2["user"] == b and d2["platform"] == "web"
    assert count(api, "devices", "token = 'moving-%s'" % a) == 1
    # the user-bound channels follow the user; device_register is a full
    # replace, so the device's own channels are gone with the list absent
    assert channels_of(api, d1["id"]) == ["b-only-" + b]


def test_register_with_id_updates_that_device_and_takes_the_token_over(api):
    u = uid()
    d1 = api.register("first-" + u, user=u)
    other = api.register("second-" + u, user=u)
    d = api.ok("device_register", {"id": d1["id"], "provider": "fcm", "token": "second-" + u,
                                   "platform": "android", "user": u})["device"]
    assert d["id"] == d1["id"] and d["token"] == "second-" + u
    assert count(api, "devices", "id = '%s'" % other["id"]) == 0, "a token belongs to one device"
    assert count(api, "devices", "token = 'first-%s'" % u) == 0


def test_register_with_an_unknown_id_registers_by_token(api):
    u = uid()
    d = api.ok("device_register", {"id": "no-such-" + u, "provider": "fcm", "token": "x-" + u,
                                   "platform": "ios"})["device"]
    assert d["id"] != "no-such-" + u and d["token"] == "x-" + u


def test_register_herald_extensions(api):
    u = uid()
    d = api.register("ab" * 32, provider="apns", platform="ios", user=u,
                     identifier="ident-" + u, device_type=1, app="other-app")
    assert d["identifier"] == "ident-" + u and d["device_type"] == 1
    assert d["client_type"] == 4, "iOS devices are Bitwarden's Mobile client type"
    assert api.sql("select app from devices where id = '%s'" % d["id"]) == "other-app"
    assert api.ok("device_list", {"ids": [d["id"]]})["items"] == [], "apps are separate registries"
    assert len(api.ok("device_list", {"ids": [d["id"]], "app": "other-app"})["items"]) == 1


def test_register_refuses_bad_input_and_writes_nothing(api):
    before = count(api, "devices")
    base = {"provider": "fcm", "token": "tok-bad", "platform": "android"}

    def bad(code, **change):
        p = dict(base)
        for k, v in change.items():
            if v is None:
                p.pop(k)
            else:
                p[k] = v
        e = api.error("device_register", p)
        assert e["code"] == code, (change, e)
        return e["message"]

    assert "provider" in bad(107, provider=None)
    assert "provider" in bad(107, provider="gcm")
    assert "platform" in bad(107, platform="windows")
    assert "token" in bad(107, token=None)
    assert "token" in bad(107, token="")
    assert "hexadecimal" in bad(107, provider="apns", platform="ios", token="not-hex")
    assert "token" in bad(107, provider="apns", platform="ios", token="a" * 202)
    assert "token" in bad(107, token="x" * 4097)
    assert "token" in bad(107, token="has space")
    assert "user" in bad(107, user="x" * 129)
    assert "user" in bad(107, user="line\nbreak")
    assert "meta" in bad(107, meta={"k": 1})
    assert "meta" in bad(107, meta=["k"])
    assert "meta" in bad(106, meta={"k%d" % i: "v" for i in range(65)})
    assert "channels" in bad(106, channels=["c%d" % i for i in range(1001)])
    assert "channels" in bad(107, channels=[""])
    assert "channels" in bad(107, channels=["x" * 257])
    assert "app" in bad(107, app="bad app")
    assert "device_type" in bad(107, device_type="1")
    assert "client_type" in bad(107, client_type=9)
    assert count(api, "devices") == before


# ---- device_update / device_remove -----------------------------------------

def test_device_update_every_part_and_filter(api):
    a, b = uid(), uid()
    api.ok("push_user_channel_update", {"user": b, "op": "add", "channels": ["bch-" + b]})
    d1 = api.register("u1-" + a, user=a, channels=["x-" + a])
    d2 = api.register("u2-" + a, user=a, provider="hms")
    # provider_tokens filter (array form) selects d2 only
    api.ok("device_update", {"provider_tokens": [{"provider": "hms", "tokens": ["u2-" + a]}],
                             "meta_update": {"meta": {"m": "2"}}})
    # users filter: both; user_update swaps user-bound channels; tags; channels
    api.ok("device_update", {"users": [a], "user_update": {"user": b},
                             "tags_update": {"tags": {"t": "v"}},
                             "channels_update": {"channels": ["set-" + a]}})
    items = {i["id"]: i for i in api.ok("device_list", {"users": [b], "include_meta": True,
                                                         "include_tags": True,
                                                         "include_channels": True})["items"]}
    assert set(items) == {d1["id"], d2["id"]}
    assert items[d1["id"]]["meta"] == {} and items[d2["id"]]["meta"] == {"m": "2"}
    assert all(i["tags"] == {"t": "v"} for i in items.values())
    assert all(i["channels"] == sorted(["bch-" + b, "set-" + a]) for i in items.values())
    # ids AND users: no device matches both, nothing changes
    api.ok("device_update", {"ids": [d1["id"]], "users": ["nobody-" + a],
                             "user_update": {"user": "z"}})
    assert api.sql("select user_id from devices where id = '%s'" % d1["id"]) == b
    # logout: detach the user (empty user), its channels go
    api.ok("device_update", {"ids": [d1["id"]], "user_update": {"user": ""}})
    assert channels_of(api, d1["id"]) == ["set-" + a]


def test_device_update_refuses_bad_input(api):
    d = api.register("upd-bad-" + uid())
    for params, code, word in [
        ({"user_update": {"user": "x"}}, 107, "required"),
        ({"ids": [d["id"]], "user_update": {}}, 107, "user"),
        ({"ids": [d["id"]], "meta_update": {"meta": {"a": 1}}}, 107, "meta"),
        ({"ids": [d["id"]], "channels_update": {"channels": "x"}}, 107, "channels"),
        ({"ids": [], "user_update": {"user": "x"}}, 107, "ids"),
        ({"provider_tokens": [{"provider": "x", "tokens": ["a"]}]}, 107, "provider"),
        ({"provider_tokens": [{"provider": "fcm"}]}, 107, "tokens"),
        ({"ids": ["i%d" % i for i in range(1001)]}, 106, "ids"),
    ]:
        e = api.error("device_update", params)
        assert e["code"] == code and word in e["message"], (params, e)
    assert api.sql("select user_id from devices where id = '%s'" % d["id"]) == ""


def test_device_remove_by_each_filter(api):
    u = uid()
    d1 = api.register("r1-" + u, user=u, channels=["rc-" + u])
    d2 = api.register("r2-" + u, user="other-" + u)
    d3 = api.register("r3-" + u, provider="hms", user="third-" + u)
    d4 = api.register("r4-" + u, user="fourth-" + u)
    api.ok("device_remove", {"ids": [d1["id"]]})
    assert count(api, "devices", "id = '%s'" % d1["id"]) == 0
    assert count(api, "device_topics", "device_id = '%s'" % d1["id"]) == 0
    api.ok("device_remove", {"users": ["other-" + u]})
    assert count(api, "devices", "id = '%s'" % d2["id"]) == 0
    # the seed's ProviderTokens as one object, and as an array
    api.ok("device_remove", {"provider_tokens": {"provider": "hms", "tokens": ["r3-" + u]}})
    assert count(api, "devices", "id = '%s'" % d3["id"]) == 0
    api.ok("device_remove", {"provider_tokens": [{"provider": "fcm", "tokens": ["r4-" + u]}]})
    assert count(api, "devices", "id = '%s'" % d4["id"]) == 0
    assert api.error("device_remove", {})["code"] == 107


# ---- device_list -------------------------------------------------------------

def test_device_list_filters_and_keyset_pages(api):
    u = uid()
    made = []
    for i in range(12):
        prov = ["fcm", "hms", "apns"][i % 3]
        tok = ("%064x" % i) if prov == "apns" else "lst-%s-%d" % (u, i)
        made.append(api.register(tok, provider=prov, platform=["android", "ios", "web"][i % 3],
                                 user="%s-%d" % (u, i % 4)))
    users = ["%s-%d" % (u, k) for k in range(4)]
    mine = {d["id"] for d in made}

    def ids(params):
        return {d["id"] for d in api.ok("device_list", dict(params, limit=1000))["items"]}

    assert ids({"users": users}) == mine
    assert ids({"users": users, "providers": ["hms"]}) == {d["id"] for d in made[1::3]}
    assert ids({"users": users, "platforms": ["web"]}) == {d["id"] for d in made[2::3]}
    assert ids({"users": [users[1]]}) == {d["id"] for d in made[1::4]}
    assert ids({"tokens": ["lst-%s-0" % u, "lst-%s-1" % u]}) == {made[0]["id"], made[1]["id"]}
    assert ids({"ids": [made[5]["id"], made[6]["id"]], "providers": ["apns"]}) == {made[5]["id"]}
    # pages of 5 in id order, no overlap, has_more until the last
    seen, since, pages = [], "", 0
    while True:
        res = api.ok("device_list", {"users": users, "limit": 5, "since": since})
        page = [d["id"] for d in res["items"]]
        assert page == sorted(page) and (not seen or page[0] > seen[-1])
        seen += page
        pages += 1
        if not res["has_more"]:
            break
        since = page[-1]
    assert pages == 3 and sorted(seen) == sorted(mine)
    for params, code in [({"limit": 1001}, 107), ({"limit": -1}, 107), ({"limit": "5"}, 107),
                         ({"providers": ["gcm"]}, 107), ({"platforms": ["tv"]}, 107),
                         ({"include_meta": "yes"}, 107), ({"since": 5}, 107),
                         ({"tokens": ["t"] * 1001}, 106)]:
        assert api.error("device_list", params)["code"] == code, params


# ---- user channels ------------------------------------------------------------

def test_user_channels_follow_the_users_devices(api):
    u = uid()
    d1 = api.register("uc1-" + u, user=u)
    d2 = api.register("uc2-" + u, user=u, channels=["own-" + u])
    api.ok("push_user_channel_update", {"user": u, "op": "add", "channels": ["c1-" + u, "c2-" + u]})
    assert channels_of(api, d1["id"]) == sorted(["c1-" + u, "c2-" + u])
    api.ok("push_user_channel_update", {"user": u, "op": "remove", "channels": ["c1-" + u]})
    assert channels_of(api, d2["id"]) == sorted(["c2-" + u, "own-" + u])
    api.ok("push_user_channel_update", {"user": u, "op": "set", "channels": ["c3-" + u]})
    assert channels_of(api, d1["id"]) == ["c3-" + u]
    assert channels_of(api, d2["id"]) == sorted(["c3-" + u, "own-" + u])
    # a device registered later gets the user's channels at once
    d3 = api.register("uc3-" + u, user=u)
    assert channels_of(api, d3["id"]) == ["c3-" + u]
    api.ok("push_user_channel_update", {"user": u, "op": "set", "channels": []})
    assert channels_of(api, d3["id"]) == []


def test_user_channel_list_filters_and_pages(api):
    u = uid()
    for i in range(7):
        api.ok("push_user_channel_update", {"user": "%s-%d" % (u, i % 2), "op": "add",
                                            "channels": ["%s:%d" % (u, i)]})
    users = ["%s-0" % u, "%s-1" % u]
    res = api.ok("push_user_channel_list", {"users": users, "limit": 100})
    assert len(res["items"]) == 7 and res["has_more"] is False
    assert all(set(i) == {"id", "user", "channel"} for i in res["items"])
    assert {i["channel"] for i in api.ok("push_user_channel_list",
                                         {"channels": ["%s:3" % u]})["items"]} == {"%s:3" % u}
    pre = api.ok("push_user_channel_list", {"channel_prefix": u + ":", "limit": 100})["items"]
    assert len(pre) == 7
    both = api.ok("push_user_channel_list", {"channel_prefix": u + ":", "users": [users[0]]})
    assert len(both["items"]) == 4
    seen, since = [], ""
    while True:
        res = api.ok("push_user_channel_list", {"users": users, "limit": 3, "since": since})
        seen += [i["id"] for i in res["items"]]
        if not res["has_more"]:
            break
        since = res["items"][-1]["id"]
    assert len(seen) == 7 and len(set(seen)) == 7
    for params, code in [({"since": "abc"}, 107), ({"limit": 5000}, 107),
                         ({"users": "u"}, 107)]:
        assert api.error("push_user_channel_list", params)["code"] == code, params


def test_user_channel_update_refuses_bad_input(api):
    u = uid()
    for params, code in [({"op": "add", "channels": ["x"]}, 107),
                         ({"user": u, "op": "merge", "channels": ["x"]}, 107),
                         ({"user": u, "op": "add", "channels": ["x"] * 1001}, 106),
                         ({"user": u, "op": "add", "channels": [1]}, 107),
                         ({"user": "", "op": "add", "channels": ["x"]}, 107)]:
        assert api.error("push_user_channel_update", params)["code"] == code, params
    assert count(api, "user_topics", "user_id = '%s'" % u) == 0


# ---- the envelope and HTTP-level errors --------------------------------------

def test_auth_and_envelope_errors(api):
    url = api.url
    st, doc = http_json("POST", url + "/api/device_list", {})
    assert st == 401 and doc["error"] == "unauthorized"
    st, _ = http_json("POST", url + "/api", {"method": "device_list", "params": {}},
                      headers={"Authorization": "apikey wrong"})
    assert st == 401
    st, _ = http_json("POST", url + "/api/device_list", {}, headers={"Authorization": "Bearer " + API_KEY})
    assert st == 401
    st, doc = http_json("POST", url + "/api/device_list", {}, headers={"X-API-Key": API_KEY})
    assert st == 200 and "result" in doc
    h = api.headers()
    assert http("POST", url + "/api", b"{not json", headers=h)[0] == 400
    assert http("POST", url + "/api/device_list", b"", headers=h)[0] == 400
    assert http("POST", url + "/api/device_list", b"[1,2]", headers=h)[0] == 400
    assert api.call("no_such_method", {})[1]["error"]["code"] == 104
    assert api.call("no_such_method", {}, envelope=True)[1]["error"]["code"] == 104
    st, doc = http_json("POST", url + "/api", {"params": {}}, headers=h)
    assert st == 200 and doc["error"]["code"] == 107
    st, doc = http_json("POST", url + "/api", {"method": "device_list", "params": [1]}, headers=h)
    assert doc["error"]["code"] == 107
    st, doc = http_json("POST", url + "/api", {"method": "device_list", "params": {}, "x": 1},
                        headers=h)
    assert "result" in doc, "unknown envelope fields are ignored, as Centrifugo does"
    st, doc = http_json("POST", url + "/api", {"method": "device_list"}, headers=h)
    assert st == 200 and "result" in doc, "absent params are {}"
    st, _, _ = http("GET", url + "/api", headers=h)
    assert st == 405
    assert declared_too_large(api) == 413


def declared_too_large(api):
    """A body declared over the 512 KiB limit is refused before it is sent."""
    with socket.create_connection(("127.0.0.1", api.svc.port), timeout=10) as s:
        s.sendall(("POST /api/device_list HTTP/1.1\r\nHost: x\r\nAuthorization: apikey %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (API_KEY, 600 * 1024)).encode())
        return int(s.recv(4096).split(b" ", 2)[1])


def test_database_failure_is_internal_error_without_sql_and_writes_nothing(api):
    u = uid()
    api.sql("alter table user_topics add constraint t_boom check (topic <> 'boom-%s')" % u)
    try:
        st, doc = api.call("push_user_channel_update",
                           {"user": u, "op": "add", "channels": ["fine-" + u, "boom-" + u]})
    finally:
        api.sql("alter table user_topics drop constraint t_boom")
    assert st == 200 and doc["error"] == {"code": 100, "message": "internal server error"}
    text = json.dumps(doc).lower()
    assert "sql" not in text and "constraint" not in text and "pg" not in text
    assert count(api, "user_topics", "user_id = '%s'" % u) == 0
    assert api.metric("herald_api_calls_total", method="push_user_channel_update", code="100") >= 1


# ---- update_push_status / push_status_list -----------------------------------

def test_push_status_only_moves_up(api):
    u = uid()
    d = api.register("ps-" + u)
    api.ok("update_push_status", {"uid": u, "status": "interacted", "device_id": d["id"],
                                  "msg_id": "m1"})
    api.ok("update_push_status", {"uid": u, "status": "delivered", "device_id": d["id"]})
    res = api.ok("push_status_list", {"uid": u})
    assert res["counts"] == {"interacted": 1}
    [item] = res["items"]
    assert (item["device_id"], item["status"], item["msg_id"]) == (d["id"], "interacted", "m1")
    assert res["request"] == {"state": "pending"}
    for params in [{"uid": u, "status": "sent", "device_id": "x"},
                   {"uid": u, "status": "delivered"},
                   {"status": "delivered", "device_id": "x"}]:
        assert api.error("update_push_status", params)["code"] == 107, params
    assert api.error("push_status_list", {})["code"] == 107


def test_push_status_list_by_device_gives_its_latest_outcomes(api):
    u = uid()
    d, other = api.register("psd-" + u), api.register("psd2-" + u)
    for k in range(3):
        api.ok("update_push_status", {"uid": "%s-%d" % (u, k), "status": "delivered",
                                      "device_id": d["id"]})
    api.ok("update_push_status", {"uid": u + "-x", "status": "interacted", "device_id": other["id"]})
    res = api.ok("push_status_list", {"device_id": d["id"]})
    assert res["device_id"] == d["id"] and res["has_more"] is False
    # newest first, each with its push's uid
    assert [(i["uid"], i["status"], i["device_id"]) for i in res["items"]] == [
        ("%s-%d" % (u, k), "delivered", d["id"]) for k in (2, 1, 0)]
    res = api.ok("push_status_list", {"device_id": d["id"], "limit": 2})
    assert [i["uid"] for i in res["items"]] == [u + "-2", u + "-1"] and res["has_more"] is True
    assert api.ok("push_status_list", {"device_id": "no-such-" + u})["items"] == []
    rows = count(api, "push_status")
    for params in [{"uid": u + "-0", "device_id": d["id"]}, {"device_id": d["id"], "since": "x"},
                   {"device_id": ""}, {"device_id": 5}, {"device_id": d["id"], "limit": 1001}]:
        assert api.error("push_status_list", params)["code"] == 107, params
    assert count(api, "push_status") == rows


def test_device_list_token_prefix_pages_the_token_index(api):
    u = uid()[:8]
    made = {}
    for i in range(7):
        made["tp%sa-%d" % (u, i)] = api.register("tp%sa-%d" % (u, i), provider="fcm",
                                                 user="tpu-" + u)["id"]
    for i in range(5):
        made["tp%sa-h%d" % (u, i)] = api.register("tp%sa-h%d" % (u, i), provider="hms",
                                                  platform="android")["id"]
    for i in range(3):  # outside the prefix, just after its range, and one ending in "~"
        api.register("tp%sb-%d" % (u, i))
    tilde = api.register("tp%s~1" % u)["id"]
    want = {v for k, v in made.items()}

    def pages(flt, limit=5):
        seen, cursor, n = [], "", 0
        while True:
            res = api.ok("device_list", {"filter": flt, "limit": limit, "cursor": cursor,
                                         "include_total_count": True})
            seen += [(d["provider"], d["token"], d["id"]) for d in res["items"]]
            n += 1
            if not res["has_more"]:
                return seen, n, res["total_count"]
            cursor = res["next_cursor"]

    seen, n, total = pages({"token_prefix": "tp%sa" % u})
    # (provider, token) order, every device once, three pages, counted
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 12, seen
    assert {s[2] for s in seen} == want and n == 3 and total == 12
    assert all(s[1].startswith("tp%sa" % u) for s in seen)
    # with the other filters: providers in the range, users as the leading list
    seen, _, total = pages({"token_prefix": "tp%sa" % u, "providers": ["hms"]})
    assert {s[1] for s in seen} == {"tp%sa-h%d" % (u, i) for i in range(5)} and total == 5
    seen, _, total = pages({"token_prefix": "tp%sa-" % u, "users": ["tpu-" + u]}, limit=3)
    assert {s[1] for s in seen} == {"tp%sa-%d" % (u, i) for i in range(7)} and total == 7
    assert [s[2] for s in pages({"token_prefix": "tp%s~" % u})[0]] == [tilde]
    assert pages({"token_prefix": "tp%sc" % u})[0] == []
    for flt, code in [({"token_prefix": ""}, 107), ({"token_prefix": "a b"}, 107),
                      ({"token_prefix": "x" * 257}, 107), ({"token_prefix": 5}, 107),
                      ({"token_prefix": ["tp"]}, 107)]:
        assert api.error("device_list", {"filter": flt})["code"] == code, flt
    assert api.ok("device_list", {"filter": {"token_prefix": "x" * 256}})["items"] == []
