"""test_relay_isolation.py -- two installations on one herald-relay: A
cannot see, delete, re-tag or send to B's devices, even when both use the
same raw ids and the same phone token, and ids forged with B's prefix (or
a foreign installationId) are refused. Deliveries are checked at
herald-sim, rows in the shared registry.
"""
import json
import uuid

import pytest

from harness import Stack
from relaykit import Chain, Relay
from workerkit import token


@pytest.fixture(scope="module")
def env(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        chain = Chain(s, pg_cluster)
        relay = Relay(s, chain.dsn, chain.kafka)
    except Exception:
        s.close()
        raise
    yield chain, relay
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def guid():
    return str(uuid.uuid4())


class Tenant:
    def __init__(self, relay):
        self.relay = relay
        self.inst, key = relay.installation()
        self.tok = relay.token(self.inst, key)

    def call(self, method, path, body=None):
        raw = json.dumps(body).encode() if body is not None else None
        return self.relay.push(method, path, self.tok, raw)

    def register(self, dev, tok, user, ident, orgs=None):
        st, _, body = self.call("POST", "/push/register", {
            "deviceId": dev, "pushToken": tok, "userId": user, "type": 0,
            "identifier": ident, "organizationIds": orgs, "installationId": self.inst})
        assert st == 200, body

    def send(self, **kw):
        body = {"type": 0, "payload": {"id": guid()}}
        body.update(kw)
        return self.call("POST", "/push/send", body)


def rows(chain, inst):
    return chain.api.sql("SELECT id || ' ' || app || ' ' || user_id FROM devices "
                         "WHERE installation_id = '%s' ORDER BY id" % inst).splitlines()


def test_same_ids_and_token_stay_apart(env):
    chain, relay = env
    a, b = Tenant(relay), Tenant(relay)
    user, org, dev, dev2 = guid(), guid(), guid(), guid()
    shared = token("fcm")  # one phone signed in to both servers
    ta = token("fcm")
    b.register(dev, shared, user, "ident-1", [org])
    a.register(dev, shared, user, "ident-1")
    a.register(dev2, ta, user, "ident-2")
    assert rows(chain, b.inst) == ["%s_%s relay.%s %s_%s" % (b.inst, dev, b.inst, b.inst, user)]
    assert len(rows(chain, a.inst)) == 2

    # A's send to "the same" user reaches only A's devices
    assert a.send(userId=user)[0] == 200
    chain.wait("fcm", ta)
    assert len(chain.wait("fcm", shared)) == 1  # A's row of the shared phone
    # B's organization is not A's: A's send to it reaches nobody
    assert a.send(organizationId=org)[0] == 200
    assert b.send(userId=user)[0] == 200
    assert len(chain.wait("fcm", shared, 2)) == 2
    assert len(chain.records("fcm", ta)) == 1

    # A deletes and re-tags "its" dev: B's row is untouched
    assert a.call("PUT", "/push/delete-organization",
                  {"devices": [{"id": dev}], "organizationId": org})[0] == 200
    assert a.call("POST", "/push/delete", {"id": dev})[0] == 200
    assert a.call("POST", "/push/delete/" + dev)[0] == 200
    assert a.call("DELETE", "/push/" + dev)[0] == 200
    assert len(rows(chain, b.inst)) == 1
    assert chain.api.sql("SELECT count(*) FROM device_topics WHERE device_id = '%s_%s'"
                         % (b.inst, dev)) == "1"
    assert len(rows(chain, a.inst)) == 1


def test_forged_ids_are_refused(env):
    chain, relay = env
    a, b = Tenant(relay), Tenant(relay)
    user, tb = guid(), token("fcm")
    phone_b = guid()
    b.register(phone_b, tb, user, "ident-b")
    forged = "%s_%s" % (b.inst, phone_b)
    for method, path, body in [
            ("POST", "/push/delete", {"id": forged}),
            ("POST", "/push/delete/" + forged, None),
            ("DELETE", "/push/" + forged, None),
            ("PUT", "/push/add-organization", {"devices": [{"id": forged}], "organizationId": guid()}),
            ("PUT", "/push/delete-organization", {"devices": [{"id": guid()}],
                                                  "organizationId": "%s_o" % b.inst}),
            ("POST", "/push/register", {"deviceId": forged, "pushToken": token("fcm"),
                                        "userId": user, "type": 0, "identifier": "i"}),
            ("POST", "/push/register", {"deviceId": guid(), "pushToken": token("fcm"),
                                        "userId": "%s_%s" % (b.inst, user), "type": 0,
                                        "identifier": "i"})]:
        st, _, raw = a.call(method, path, body)
        assert st == 400, (method, path, st, raw)
        assert json.loads(raw)["object"] == "error"
    # registering into B's installation, or sending to it, is refused
    st, _, raw = a.call("POST", "/push/register", {
        "deviceId": guid(), "pushToken": token("fcm"), "userId": user, "type": 0,
        "identifier": "i", "installationId": b.inst})
    assert st == 400 and json.loads(raw)["message"] == \
        "InstallationId does not match current context."
    st, _, raw = a.send(installationId=b.inst)
    assert st == 400 and json.loads(raw)["message"] == \
        "InstallationId does not match current context."
    # A's token cannot act as B: the installation comes from the token only
    assert a.send(userId=user)[0] == 200
    # B's installation-wide send reaches B's phone; A's sends never did
    assert b.send(installationId=b.inst)[0] == 200
    assert len(chain.wait("fcm", tb)) == 1
    assert rows(chain, b.inst) == ["%s_%s relay.%s %s_%s" % (b.inst, phone_b, b.inst, b.inst, user)]
    assert rows(chain, a.inst) == []
