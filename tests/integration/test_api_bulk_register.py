"""test_api_bulk_register.py -- a batch of device_register commands is
stored in one statement and answers each command exactly as the single
call does: the same device rows, topics (own and the user's), ids on
re-registration, and the same error for a bad command, which changes
nothing while the good ones around it are stored; the limits hold.
"""
import json
import socket

from api_support import API_KEY, api, uid  # noqa: F401
from harness import http_json


def batch(api, cmds):
    st, doc = http_json("POST", api.url + "/api/batch", {"commands": cmds},
                        headers=api.headers())
    assert st == 200, (st, doc)
    return doc


def regs(params):
    return [{"device_register": p} for p in params]


def workload(app, u):
    """Good commands with a bad one in the middle, a repeated token, a
    device moved to another user, topics and maps: one app each run."""
    p = []
    for i in range(40):
        p.append({"app": app, "provider": "fcm", "token": "bk-%s-%d" % (u, i),
                  "platform": "android", "user": "bku-%s-%d" % (u, i % 3),
                  "topics": ["t%d" % (i % 4)], "meta": {"n": str(i)},
                  "timezone": "Europe/Paris", "locale": "fr-FR"})
    p[10] = {"app": app, "provider": "pager", "token": "x", "platform": "android"}
    p[20] = {"app": app, "provider": "fcm", "token": "bk-%s-20" % u, "platform": "android",
             "timezone": "Mars/Base"}
    p[25] = {"app": app, "provider": "fcm", "token": "bk-%s-5" % u, "platform": "ios",
             "user": "bku-%s-1" % u, "channels": ["c"]}                    # token of #5 again
    p[30] = {"app": app, "provider": "fcm", "token": "bk-%s-30" % u, "platform": 5}
    p.append({"app": app, "provider": "apns", "token": "a" * 64, "platform": "ios",
              "user": "", "tags": {"k": "v"}, "identifier": "ident-" + u, "device_type": 1})
    return p


def strip(reply):
    """A reply without what differs between two registrations of the same
    input (generated ids, times, the app-specific user names)."""
    if "error" in reply:
        return reply
    d = dict(reply["device_register"]["device"])
    assert reply["device_register"]["id"] == d.pop("id")
    d.pop("created_at")
    d.pop("updated_at")
    return d


def state(api, app):
    rows = api.sql("SELECT d.token || '|' || d.provider || '|' || d.platform || '|' || "
                   "d.user_id || '|' || d.meta::text || '|' || d.tags::text || '|' || "
                   "d.timezone || '|' || d.locale || '|' || coalesce(string_agg("
                   "t.topic || ':' || t.src, ',' ORDER BY t.topic, t.src), '') "
                   "FROM devices d LEFT JOIN device_topics t ON t.device_id = d.id "
                   "WHERE d.app = '%s' GROUP BY d.id ORDER BY d.token" % app)
    return rows.splitlines()


def test_bulk_answers_and_stores_as_the_single_call(api):
    u = uid()
    one, many = "s" + u[:8], "b" + u[:8]
    for app in (one, many):  # the users' own topics, applied at registration
        api.ok("user_topic_update", {"app": app, "user": "bku-%s-1" % u, "op": "set",
                                     "topics": ["ut1", "ut2"]})
    single = []
    for p in workload(one, u):
        st, doc = http_json("POST", api.url + "/api/device_register", p, headers=api.headers())
        assert st == 200, doc
        single.append({"error": doc["error"]} if "error" in doc else
                      {"device_register": doc["result"]})
    stored = api.metric("herald_api_register_batches_total", path="bulk")
    bulk = batch(api, regs(workload(many, u)))["replies"]
    assert len(bulk) == len(single) == 41
    # a token comes twice: the function per row, one statement
    assert api.metric("herald_api_register_batches_total", path="bulk") == stored + 1
    assert [strip(r) for r in bulk] == [strip(r) for r in single]
    errs = [i for i, r in enumerate(bulk) if "error" in r]
    assert errs == [10, 20, 30], bulk
    assert all(bulk[i]["error"]["code"] == 107 for i in errs)
    assert "params.provider" in bulk[10]["error"]["message"]
    assert "params.timezone" in bulk[20]["error"]["message"]
    assert "params.platform" in bulk[30]["error"]["message"]
    # the repeated token is the same device, as it is with single calls
    assert bulk[25]["device_register"]["id"] == bulk[5]["device_register"]["id"]
    a, b = state(api, many), state(api, one)
    assert a == b, [(x, y) for x, y in zip(a, b) if x != y]
    assert len(state(api, many)) == 37
    assert "ut1:1,ut2:1" in [s for s in state(api, many) if "bk-%s-4|" % u in s][0]
    # registering the same batch again: the same ids, nothing added
    again = batch(api, regs(workload(many, u)))["replies"]
    ids = [r.get("device_register", {}).get("id") for r in bulk]
    assert [r.get("device_register", {}).get("id") for r in again] == ids
    assert state(api, many) == state(api, one)


def test_bulk_by_id_and_in_the_envelope(api):
    u = uid()
    app = "i" + u[:8]
    first = batch(api, regs([{"app": app, "provider": "fcm", "token": "old-%s-%d" % (u, i),
                              "platform": "android"} for i in range(3)]))["replies"]
    ids = [r["device_register"]["id"] for r in first]
    # by id: the devices take new tokens, as device_register with an id does
    st, doc = http_json("POST", api.url + "/api", {"method": "batch", "params": {"commands": regs(
        [{"app": app, "id": ids[i], "provider": "fcm", "token": "new-%s-%d" % (u, i),
          "platform": "android"} for i in range(3)])}}, headers=api.headers())
    assert st == 200, doc
    assert [r["device_register"]["id"] for r in doc["replies"]] == ids
    assert [r["device_register"]["device"]["token"] for r in doc["replies"]] == \
        ["new-%s-%d" % (u, i) for i in range(3)]
    assert api.sql("SELECT count(*) FROM devices WHERE app = '%s'" % app) == "3"


def test_bulk_limits_and_abuse(api):
    u = uid()
    app = "x" + u[:8]
    good = {"app": app, "provider": "fcm", "platform": "android"}
    # more commands than a batch carries: refused whole, nothing stored
    doc = batch(api, regs([dict(good, token="over-%d" % i) for i in range(1001)]))
    assert doc["error"]["code"] == 106 and "1000" in doc["error"]["message"], doc
    assert api.sql("SELECT count(*) FROM devices WHERE app = '%s'" % app) == "0"
    # a body over the limit: 413 before it is read, nothing stored
    with socket.create_connection(("127.0.0.1", api.svc.port), timeout=10) as s:
        s.sendall(("POST /api/batch HTTP/1.1\r\nHost: x\r\nAuthorization: apikey %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (API_KEY, 600 * 1024)).encode())
        s.sendall(json.dumps({"commands": regs([dict(good, token="big-%d" % i)
                                                 for i in range(100)])}).encode())
        assert int(s.recv(4096).split(b" ", 2)[1]) == 413
    assert api.sql("SELECT count(*) FROM devices WHERE app = '%s'" % app) == "0"
    # hostile items among good ones: each bad one answered, the good stored
    items = [dict(good, token="ok-%d" % i) for i in range(6)]
    items[1] = dict(good, token="x');DROP_TABLE_devices;--\"{,}\\")  # only data
    items[2] = dict(good, token="ok-2", meta="not a map")
    items[3] = dict(good, token="ok-3", topics=["{a,\"b\"}", "back\\slash"])
    items[4] = dict(good, token="")
    items[5] = dict(good, token="ok-5", user="u" * 5000)
    replies = batch(api, regs(items) + [{"device_register": None}])["replies"]
    assert "device_register" in replies[0] and "device_register" in replies[1]
    assert "device_register" in replies[3]
    for i in (2, 4, 5, 6):
        assert replies[i]["error"]["code"] == 107, (i, replies[i])
    assert replies[1]["device_register"]["device"]["token"] == "x');DROP_TABLE_devices;--\"{,}\\"
    assert api.sql("SELECT count(*) FROM devices WHERE app = '%s'" % app) == "3"
    assert api.sql("SELECT string_agg(topic, '|' ORDER BY topic) FROM device_topics t "
                   "JOIN devices d ON d.id = t.device_id WHERE d.app = '%s' "
                   "AND d.token = 'ok-3'" % app) == "back\\slash|{a,\"b\"}"


def test_bulk_falls_back_to_single_calls_when_a_row_fails_in_the_database(api):
    u = uid()
    app = "f" + u[:8]
    fallbacks = api.metric("herald_api_register_batch_fallbacks_total") or 0
    rows = api.metric("herald_api_register_batch_fallback_rows_total") or 0
    api.sql("ALTER TABLE devices ADD CONSTRAINT d_boom CHECK (token <> 'boom-%s')" % u)
    try:
        replies = batch(api, regs([{"app": app, "provider": "fcm", "token": t,
                                    "platform": "android", "user": "fu"}
                                   for t in ("f1-" + u, "boom-" + u, "f2-" + u)]))["replies"]
        st, single = http_json("POST", api.url + "/api/device_register",
                               {"app": app, "provider": "fcm", "token": "boom-" + u,
                                "platform": "android"}, headers=api.headers())
    finally:
        api.sql("ALTER TABLE devices DROP CONSTRAINT d_boom")
    assert "device_register" in replies[0] and "device_register" in replies[2], replies
    # the failing row gets what the single call gets: an internal error, no SQL
    assert replies[1] == {"error": single["error"]}, (replies, single)
    assert single["error"]["code"] == 100 and "boom" not in single["error"]["message"]
    assert api.sql("SELECT string_agg(token, ',' ORDER BY token) FROM devices "
                   "WHERE app = '%s'" % app) == "f1-%s,f2-%s" % (u, u)
    # the fallback is counted: one batch, its three registrations
    assert api.metric("herald_api_register_batch_fallbacks_total") == fallbacks + 1
    assert api.metric("herald_api_register_batch_fallback_rows_total") == rows + 3
