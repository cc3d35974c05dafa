"""test_relay_tenant.py -- herald-relay's per-installation quotas and its
installation admin endpoints, over HTTPS against real PostgreSQL and
Kafka: devices reached a minute (a push to N devices counts N, answered
429 with Retry-After in upstream's error shape past the quota) and devices
registered (a new device past the limit refused with 400, known devices
still updated, concurrent registrations cannot pass it together); each
installation has its own quotas; metrics carry no installation id.
Listing installations and rotating a key are served on the admin
listener only (the public port answers 404) and take the admin key only; after
a rotation the old key and every token issued under it are refused.
"""
import json
import threading
import uuid

import pytest

from harness import Stack, http
from relaykit import ADMIN_KEY, Relay
from workerkit import token


@pytest.fixture(scope="module")
def env(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        kafka = s.kafka()
        dsn = pg_cluster.new_database()
        relay = Relay(s, dsn, kafka, HERALD_RELAY_RECIPIENTS_PER_MIN="3",
                      HERALD_RELAY_MAX_DEVICES="3")
    except Exception:
        s.close()
        raise
    yield s, pg_cluster, dsn, relay
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def guid():
    return str(uuid.uuid4())


class Tenant:
    def __init__(self, relay):
        self.relay = relay
        self.inst, self.key = relay.installation()
        self.tok = relay.token(self.inst, self.key)

    def register(self, user, dev=None, tok=None):
        dev = dev or guid()
        body = json.dumps({"deviceId": dev, "pushToken": tok or token("fcm"), "userId": user,
                           "type": 0, "identifier": guid(), "installationId": self.inst})
        return self.relay.push("POST", "/push/register", self.tok, body.encode()), dev

    def send(self, user=None, everyone=False):
        body = {"userId": user, "organizationId": None, "deviceId": None, "identifier": None,
                "type": 5, "payload": {"userId": user or guid(), "date": "2026-12-06T12:00:00Z"},
                "clientType": None, "installationId": self.inst if everyone else None}
        return self.relay.push("POST", "/push/send", self.tok, json.dumps(body).encode())


def metric(relay, name, **labels):
    st, _, body = http("GET", relay.svc.admin_url + "/metrics")
    assert st == 200
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and line.split("}")[0][len(name) + 1:] == want:
            return float(line.rsplit(" ", 1)[1])
    return 0


def relay_metrics_text(relay):
    return http("GET", relay.svc.admin_url + "/metrics")[2].decode()


def test_a_push_counts_each_device_it_reaches(env):
    relay = env[3]
    a, b = Tenant(relay), Tenant(relay)
    two, one = guid(), guid()
    for user in (two, two, one):
        assert a.register(user)[0][0] == 200
    assert b.register(one)[0][0] == 200
    assert a.send(two)[0] == 200  # 2 of 3
    st, h, raw = a.send(two)  # 2 more: over
    assert st == 429 and int(h["retry-after"]) >= 1, (st, raw)
    doc = json.loads(raw)
    assert doc["object"] == "error" and doc["validationErrors"] is None
    assert doc["message"] == ("Too many recipients: this installation may push to 3 devices "
                              "a minute."), doc
    assert a.send(one)[0] == 200  # the last one fits
    assert a.send(one)[0] == 429
    assert a.send(guid())[0] == 200  # a user without devices reaches nobody
    assert b.send(one)[0] == 200  # B has its own quota
    assert a.send(everyone=True)[0] == 429  # the whole installation: 3
    assert metric(relay, "herald_relay_recipients_total", result="accepted") == 4
    assert metric(relay, "herald_relay_recipients_total", result="refused") == 2 + 1 + 3
    assert metric(relay, "herald_relay_requests_total", op="send", result="over_quota") == 3
    assert a.inst not in relay_metrics_text(relay)


def test_devices_per_installation(env):
    _, pg, dsn, relay = env
    a, b = Tenant(relay), Tenant(relay)
    user = guid()
    (r1, d1), (r2, d2), (r0, _) = a.register(user), a.register(user), a.register(user)
    assert r1[0] == 200 and r2[0] == 200 and r0[0] == 200
    (st, _, raw), d3 = a.register(user)
    assert st == 400, (st, raw)
    doc = json.loads(raw)
    assert doc["message"] == "This installation has reached its limit of 3 devices.", doc
    assert doc["object"] == "error"
    app = "relay." + a.inst
    assert pg.psql(dsn, "SELECT count(*) FROM devices WHERE app = '%s'" % app) == "3"
    assert pg.psql(dsn, "SELECT count(*) FROM devices WHERE id = '%s_%s'" % (a.inst, d3)) == "0"
    # a known device still updates its token
    assert a.register(user, dev=d1, tok=token("fcm"))[0][0] == 200
    # B has its own limit
    assert b.register(user)[0][0] == 200
    # a removed device makes room
    assert a.relay.push("POST", "/push/delete", a.tok,
                        json.dumps({"id": d2}).encode())[0] == 200
    assert a.register(user, dev=d3)[0][0] == 200
    assert metric(relay, "herald_relay_requests_total", op="register", result="over_quota") == 1
    assert a.inst not in relay_metrics_text(relay)


def test_concurrent_registrations_cannot_pass_the_device_limit_together(env):
    _, pg, dsn, relay = env
    a = Tenant(relay)
    codes = []

    def one():
        codes.append(a.register(guid())[0][0])

    threads = [threading.Thread(target=one) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 3 + [400] * 9, codes
    assert pg.psql(dsn, "SELECT count(*) FROM devices WHERE app = 'relay.%s'" % a.inst) == "3"


ADMIN = {"Authorization": "Bearer " + ADMIN_KEY}


def rotate(relay, inst, headers=None):
    return relay.admin("POST", "/installations/%s/rotate" % inst, None,
                      ADMIN if headers is None else headers)


def test_rotating_a_key_revokes_the_tokens_of_the_old_one(env):
    _, pg, dsn, relay = env
    a, other = Tenant(relay), Tenant(relay)
    assert a.register(guid())[0][0] == 200
    # abuse: no key, a wrong key, unknown and malformed ids change nothing
    for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + ADMIN_KEY}):
        st, hh, doc = rotate(relay, a.inst, h)
        assert st == 401 and doc["object"] == "error" and hh["www-authenticate"] == "Bearer"
    assert rotate(relay, guid())[0] == 404
    assert rotate(relay, "nope")[0] == 404
    assert a.send(guid())[0] == 200
    assert pg.psql(dsn, "SELECT key_version FROM installations WHERE id = '%s'" % a.inst) == "1"

    st, h, doc = rotate(relay, a.inst.upper())
    assert st == 200 and h["cache-control"] == "no-store", (st, doc)
    assert doc["id"] == a.inst and doc["keyVersion"] == 2 and doc["enabled"] is True
    assert len(doc["key"]) == 20 and doc["key"].isalnum() and doc["key"] != a.key
    # every token of the old key is refused, on every endpoint
    st, hh, raw = a.send(guid())
    assert st == 401 and hh["www-authenticate"] == "Bearer", (st, raw)
    assert a.register(guid())[0][0] == 401
    assert relay.push("POST", "/push/delete", a.tok, json.dumps({"id": guid()}).encode())[0] == 401
    # the old key gets no new token; the new key does, and it works
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    old = ("grant_type=client_credentials&scope=api.push&client_id=installation.%s"
           "&client_secret=%s" % (a.inst, a.key)).encode()
    assert relay.json("POST", "/connect/token", old, form)[:3:2] == (400, {"error": "invalid_client"})
    a.key, a.tok = doc["key"], relay.token(a.inst, doc["key"])
    assert a.send(guid())[0] == 200
    assert a.register(guid())[0][0] == 200
    # the other installation was not touched
    assert other.send(guid())[0] == 200
    # a second rotation revokes the second key's tokens too
    st, _, doc2 = rotate(relay, a.inst)
    assert st == 200 and doc2["keyVersion"] == 3
    assert a.send(guid())[0] == 401
    tok3 = relay.token(a.inst, doc2["key"])
    assert relay.push("POST", "/push/delete", tok3, json.dumps({"id": guid()}).encode())[0] == 200
    # a disabled installation's tokens are refused as well
    pg.psql(dsn, "UPDATE installations SET enabled = false WHERE id = '%s'" % other.inst)
    assert other.send(guid())[0] == 401
    assert doc2["key"] not in relay.svc.read_log() and doc["key"] not in relay.svc.read_log()


def test_listing_installations(env):
    _, _, _, relay = env
    t = Tenant(relay)
    assert t.register(guid())[0][0] == 200
    for h in ({}, {"Authorization": "Bearer wrong"}):
        st, _, doc = relay.admin("GET", "/installations", None, h)
        assert st == 401 and doc["object"] == "error"
    seen, after, pages = {}, "", 0
    while True:
        q = "/installations?limit=2" + ("&after=" + after if after else "")
        st, h, doc = relay.admin("GET", q, None, ADMIN)
        assert st == 200 and doc["object"] == "list" and h["cache-control"] == "no-store", doc
        assert len(doc["data"]) <= 2
        pages += 1
        for item in doc["data"]:
            assert item["id"] not in seen
            seen[item["id"]] = item
        if doc["continuationToken"] is None:
            break
        after = doc["continuationToken"]
    assert pages >= 2 and list(seen) == sorted(seen)
    mine = seen[t.inst]
    assert mine["devices"] == 1 and mine["email"] == "ops@example.com"
    assert mine["enabled"] is True and mine["keyVersion"] == 1 and mine["keyRotatedAt"] is None
    assert mine["createdAt"].endswith("Z") and "key" not in mine
    assert relay.admin("GET", "/installations?limit=%d" % len(seen), None, ADMIN)[2][
        "continuationToken"] == sorted(seen)[-1]
    for bad, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                       ("after=nope", "after")):
        st, _, doc = relay.admin("GET", "/installations?" + bad, None, ADMIN)
        assert st == 400 and field in doc["validationErrors"], (bad, doc)


def test_listing_and_rotation_only_on_the_admin_listener(env):
    """The public port answers 404 for them, admin key or not, and
    nothing is rotated; the admin listener still wants the key."""
    _, _, _, relay = env
    t = Tenant(relay)
    for h in ({}, ADMIN):
        st, _, doc = relay.json("GET", "/installations", None, h)
        assert st == 404 and doc["error"] == "not_found", (st, doc)
        st, _, doc = relay.json("GET", "/installations?limit=2", None, h)
        assert st == 404, (st, doc)
        st, _, doc = relay.json("POST", "/installations/%s/rotate" % t.inst, None, h)
        assert st == 404 and doc["error"] == "not_found", (st, doc)
    assert t.register(guid())[0][0] == 200  # the key was not rotated
    assert relay.admin("GET", "/installations?limit=1", None, ADMIN)[0] == 200
    assert relay.admin("GET", "/installations?limit=1")[0] == 401
    assert rotate(relay, t.inst, {"Authorization": "Bearer wrong"})[0] == 401
    # the public routes are not on the admin listener, nor /metrics on
    # the public port
    assert relay.admin("GET", "/installations/" + t.inst)[0] == 404
    assert relay.json("GET", "/metrics")[0] == 404


def test_an_open_relay_keeps_listing_and_rotation_to_the_admin_key(env):
    s, _, dsn, main = env
    kafka = s.kafkas[0]
    relay = Relay(s, dsn, kafka, HERALD_RELAY_OPEN_INSTALLATIONS="true",
                  HERALD_RELAY_ADMIN_KEY="")
    st, _, doc = relay.json("POST", "/installations", b'{"email":"a@example.com"}',
                            {"Content-Type": "application/json"})
    assert st == 200, doc
    assert relay.admin("GET", "/installations")[0] == 401
    assert relay.admin("GET", "/installations", None, ADMIN)[0] == 401
    assert rotate(relay, doc["id"], {})[0] == 401
    assert rotate(relay, doc["id"])[0] == 401
    # the key still works: nothing was rotated
    relay.token(doc["id"], doc["key"])
