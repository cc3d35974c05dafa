"""test_hub_types.py -- every Bitwarden PushType 0-27, through POST /send
(camelCase, as a self-hosted server's NotificationsApiPushEngine posts it)
and through herald-api's POST /events and Kafka (PascalCase, as the queue
path writes it), reaches exactly the connections upstream's HubHelpers
routing table names, with the notification passed through field for
field; received with the official @microsoft/signalr client."""
import json
import time

from api_support import API_KEY, start_api
from harness import http
from test_hub_signalr import Clients, send, start_hub, token

U1, U2, O1, INST, AR = "u1", "u2", "o1", "inst-1", "ar-1"
REV = "2026-01-02T03:04:05Z"


def cipher(user, org=None):
    return {"id": "c", "userId": user, "organizationId": org, "collectionIds": None,
            "revisionDate": REV}


def user_push():
    return {"userId": U1, "date": REV}


def notification(**kw):
    p = {"id": "n", "priority": 0, "global": False, "clientType": 0, "userId": None,
         "organizationId": None, "installationId": None, "taskId": None, "title": "t",
         "body": "b", "creationDate": REV, "revisionDate": REV, "readDate": None,
         "deletedDate": None}
    p.update(kw)
    return p


D1, W1, D2, ANON = "d1", "w1", "d2", "anon"
EVERY = {D1, W1, D2}
# (type, payload, contextId, connections that must receive it)
CASES = [
    (0, cipher(U1), "dev-u1", {D1, W1}),
    (1, cipher(U1), None, {D1, W1}),
    (2, cipher(U1), None, {D1, W1}),
    (9, cipher(U1), None, {D1, W1}),
    (0, cipher(None, O1), None, {D1, D2}),  # organization cipher
    (3, {"id": "f", "userId": U1, "revisionDate": REV}, "dev-u1", {D1, W1}),
    (7, {"id": "f", "userId": U1, "revisionDate": REV}, None, {D1, W1}),
    (8, {"id": "f", "userId": U1, "revisionDate": REV}, None, {D1, W1}),
    (4, user_push(), None, {D1, W1}),
    (5, user_push(), None, {D1, W1}),
    (6, user_push(), None, {D1, W1}),
    (10, user_push(), None, {D1, W1}),
    (11, {"userId": U1, "reason": 1}, None, {D1, W1}),
    (17, user_push(), None, {D1, W1}),
    (22, user_push(), None, {D1, W1}),
    (27, {"userId": U1, "premium": True}, None, {D1, W1}),
    (12, {"id": "s", "userId": U1, "revisionDate": REV}, None, {D1, W1}),
    (13, {"id": "s", "userId": U1, "revisionDate": REV}, None, {D1, W1}),
    (14, {"id": "s", "userId": U1, "revisionDate": REV}, None, {D1, W1}),
    (15, {"userId": U1, "id": AR}, "dev-u1", {D1, W1}),
    (16, {"userId": U1, "id": AR}, "dev-u1", {ANON}),
    (18, {"organizationId": O1, "enabled": True}, None, {D1, D2}),
    (19, {"organizationId": O1, "limitCollectionCreation": True,
          "limitCollectionDeletion": False, "limitItemDeletion": False}, None, {D1, D2}),
    (20, notification(userId=U2), None, {D2}),
    (21, notification(userId=U1, clientType=3), None, {D1}),  # Desktop only
    (20, notification(organizationId=O1, clientType=1), None, set()),  # no Web member
    (20, notification(installationId=INST, userId=U1), None, EVERY),
    (23, {"organizationId": O1}, None, {D1, D2}),
    (24, {"providerId": "p", "adminId": U2}, None, {D2}),
    (25, {"organizationId": O1, "policy": {"id": "pol", "organizationId": O1, "type": 0,
                                           "data": None, "enabled": True}}, None, {D1, D2}),
    (26, {"userId": U2, "organizationId": O1, "targetUserId": "t",
          "targetOrganizationUserId": "tou"}, None, {D2}),
]


def pascal(v):
    if isinstance(v, dict):
        return {k[0].upper() + k[1:]: pascal(x) for k, x in v.items()}
    return v


def connect(hub):
    return Clients(hub, [
        {"id": D1, "token": token(U1, orgowner=[O1], devicetype="MacOsDesktop"),
         "protocol": "messagepack"},
        {"id": W1, "token": token(U1, devicetype="ChromeBrowser"), "protocol": "json"},
        {"id": D2, "token": token(U2, orguser=O1, devicetype="WindowsDesktop"),
         "protocol": "messagepack"},
        {"id": ANON, "token": None, "protocol": "messagepack",
         "path": "/notifications/anonymous-hub?Token=" + AR},
    ])


def probe(arg):
    return arg["Payload"].get("UserId") == "probe"


def check(cl, want):
    def mine(c):
        return [m for m in cl.messages(c) if not probe(m["arg"])]

    for c, msgs in want.items():
        cl.wait(lambda evs, c=c, n=len(msgs): len(mine(c)) >= n, timeout=20,
                what="%d messages for %s" % (len(msgs), c))
    time.sleep(0.5)  # anything misrouted arrives by now
    for c, msgs in want.items():
        got = mine(c)
        target = "AuthRequestResponseRecieved" if c == ANON else "ReceiveMessage"
        assert all(m["target"] == target for m in got), c
        key = lambda m: json.dumps(m, sort_keys=True)  # noqa: E731
        assert sorted(map(key, (m["arg"] for m in got))) == sorted(map(key, msgs)), c


def test_every_push_type_through_send(stack):
    assert {t for t, _, _, _ in CASES} == set(range(28))
    hub = start_hub(stack, HERALD_HUB_INSTALLATION_ID=INST)
    cl = connect(hub)
    want = {c: [] for c in (D1, W1, D2, ANON)}
    try:
        for t, payload, ctx, to in CASES:
            st, _, _ = send(hub, {"type": t, "payload": payload, "contextId": ctx})
            assert st == 200, t
            for c in to:
                want[c].append({"Type": t, "Payload": payload, "ContextId": ctx})
        check(cl, want)
    finally:
        cl.close()


def test_every_push_type_through_events(stack, pg_cluster):
    kafka = stack.kafka()
    api = start_api(stack, pg_cluster, kafka=kafka, HERALD_API_FANOUT="false",
                    HERALD_API_FEEDBACK="false")
    hub = start_hub(stack, HERALD_KAFKA_BROKERS=kafka.brokers, HERALD_HUB_INSTALLATION_ID=INST)
    cl = connect(hub)

    def event(body):
        st, _, raw = http("POST", api.url + "/events", body,
                          headers={"Authorization": "apikey " + API_KEY})
        assert st == 202, (st, raw)

    try:
        # the hub's group starts at the latest offset: probe until consumed
        deadline = time.monotonic() + 30
        while not cl.messages(D1):
            assert time.monotonic() < deadline, "no event consumed in 30 s"
            event({"Type": 5, "Payload": {"UserId": "probe"}, "target": {"user": U1}})
            time.sleep(0.5)
        want = {c: [] for c in (D1, W1, D2, ANON)}
        for t, payload, ctx, to in CASES:
            note = {"Type": t, "Payload": pascal(payload), "ContextId": ctx}
            event(note)
            for c in to:
                want[c].append(note)
        check(cl, want)
    finally:
        cl.close()
