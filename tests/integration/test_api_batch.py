"""test_api_batch.py -- the batch method: several commands in one request,
each answered in its own slot (results, per-command errors, unknown
methods), in order or in parallel, through both routes; the limits and
bad shapes refused with nothing written.
"""
from api_support import api, batches_for, tokens_of, uid  # noqa: F401
from harness import http_json

FCM = {"fcm": {"message": {"notification": {"title": "t", "body": "b"}}}}


def batch(api, params, envelope=False):
    if envelope:
        st, doc = http_json("POST", api.url + "/api", {"method": "batch", "params": params},
                            headers=api.headers())
    else:
        st, doc = http_json("POST", api.url + "/api/batch", params, headers=api.headers())
    assert st == 200, (st, doc)
    return doc


def test_batch_answers_each_command_in_its_slot(api):
    u = uid()
    doc = batch(api, {"commands": [
        {"device_register": {"provider": "fcm", "token": "b1-" + u, "platform": "android",
                             "user": "bu-" + u}},
        {"device_register": {"provider": "fcm", "token": "b2-" + u, "platform": "bogus"}},
        {"no_such_method": {}},
        {"send_push_notification": {"recipient": {"filter": {"users": ["bu-" + u]}},
                                    "notification": FCM, "uid": u}},
        {"device_list": {"filter": {"users": ["bu-" + u]}}},
    ]})
    assert set(doc) == {"replies"}, doc
    r = doc["replies"]
    assert len(r) == 5
    dev = r[0]["device_register"]["id"]
    assert r[1]["error"]["code"] == 107 and "platform" in r[1]["error"]["message"]
    assert r[2] == {"error": {"code": 104, "message": "method not found"}}
    assert r[3] == {"send_push_notification": {"uid": u}}
    # in order: the list sees the device registered by the first command
    assert [d["id"] for d in r[4]["device_list"]["items"]] == [dev]
    bs = batches_for(api.kafka.brokers, "fcm", u, lambda bs: len(tokens_of(bs)) >= 1)
    assert tokens_of(bs) == ["b1-" + u]
    # the failed command wrote nothing
    assert api.sql("select count(*) from devices where token = 'b2-%s'" % u) == "0"


def test_batch_parallel_and_envelope(api):
    u = uid()
    cmds = [{"send_push_notification": {"recipient": {"fcm_tokens": ["p%d-%s" % (i, u)]},
                                        "notification": FCM, "uid": "%s-%d" % (u, i)}}
            for i in range(20)]
    doc = batch(api, {"commands": cmds, "parallel": True}, envelope=True)
    assert doc["replies"] == [{"send_push_notification": {"uid": "%s-%d" % (u, i)}}
                              for i in range(20)]
    doc = batch(api, {"commands": []})
    assert doc == {"replies": []}
    # pycent sends exactly this shape (params under the method name)
    doc = batch(api, {"commands": [{"user_topic_update": {"user": "bt-" + u, "op": "add",
                                                          "topics": ["x"]}},
                                   {"user_topic_list": {"filter": {"users": ["bt-" + u]}}}]})
    assert doc["replies"][0] == {"user_topic_update": {}}
    assert [i["topic"] for i in doc["replies"][1]["user_topic_list"]["items"]] == ["x"]


def test_batch_refuses_bad_shapes_and_runs_nothing(api):
    u = uid()
    reg = {"device_register": {"provider": "fcm", "token": "bad-" + u, "platform": "android"}}
    cases = [
        ({"commands": {"a": 1}}, 107, "params.commands"),
        ({"commands": [reg, 5]}, 107, "params.commands[1]"),
        ({"commands": [reg, {"device_list": {}, "device_remove": {}}]}, 107, "commands[1]"),
        ({"commands": [reg, {"device_list": []}]}, 107, "commands[1].device_list"),
        ({"commands": [reg, {"batch": {"commands": []}}]}, 107, "nested"),
        ({"commands": [reg], "parallel": "yes"}, 107, "parallel"),
        ({"commands": [reg] + [{"device_list": {}}] * 1000}, 106, "1000"),
    ]
    for params, code, word in cases:
        doc = batch(api, params)
        assert "error" in doc and doc["error"]["code"] == code and word in doc["error"]["message"], \
            (params, doc)
    assert api.sql("select count(*) from devices where token = 'bad-%s'" % u) == "0"
    assert api.metric("herald_api_calls_total", method="batch", code="107") >= len(cases) - 1
