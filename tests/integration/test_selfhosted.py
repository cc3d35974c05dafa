"""test_selfhosted.py -- herald-api in self-hosted mode (DESIGN.md §2): a
small box with herald-api + herald-hub + PostgreSQL and no Kafka. An event
posted to herald-api reaches an @microsoft/signalr client through the
hub's POST /send, and the same event's mobile push goes through a
herald-relay elsewhere (over HTTPS, installation credentials) and its own
Kafka/fan-out/worker chain to herald-sim. Device tokens saved on the box
are registered at, and removed from, the relay.
"""
import json
import time
import uuid

import jwt
import pytest

from api_support import API_KEY
from harness import Stack, http, http_json, wait_for
from relaykit import Chain, Relay
from test_hub_signalr import Clients
from workerkit import VAPID_PUBLIC, tag
from workerkit import token as push_token

SECRET = "selfhost-jwt-secret-0123456789abcdef"
INTERNAL = "selfhost-internal-key"


def user_jwt(sub, devicetype, device=""):
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, "device": device,
                       "devicetype": devicetype, "scope": ["api"], "amr": ["Application"]},
                      SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def box(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        # the relay operator's side
        chain = Chain(s, pg_cluster, providers=("fcm", "apns", "webpush"))
        relay = Relay(s, chain.dsn, chain.kafka)
        inst, key = relay.installation()
        hub = s.start("herald-hub", s.env(HERALD_JWT_SECRET=SECRET, HERALD_INTERNAL_KEY=INTERNAL,
                                          HERALD_HUB_THREADS="1"),
                      port_var="HERALD_HUB_PORT")
        api = s.start("herald-api", s.env(
            HERALD_API_KEY=API_KEY, HERALD_PG_DSN=pg_cluster.new_database(),
            HERALD_JWT_SECRET=SECRET, HERALD_INTERNAL_KEY=INTERNAL,
            HERALD_SELFHOST_HUB_URL=hub.url, HERALD_SELFHOST_RELAY_URL=relay.url,
            HERALD_SELFHOST_INSTALLATION_ID=inst, HERALD_SELFHOST_INSTALLATION_KEY=key,
            HERALD_SELFHOST_CA_FILE=relay.cert, HERALD_HTTP_ACCESS_LOG="false",
            HERALD_KAFKA_BROKERS=None), port_var="HERALD_API_PORT", wait="readyz")
    except Exception:
        s.close()
        raise
    yield chain, relay, inst, hub, api
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def relay_rows(chain, inst):
    return chain.api.sql("SELECT user_id || ' ' || token FROM devices WHERE "
                         "installation_id = '%s' ORDER BY id" % inst).splitlines()


def test_event_reaches_signalr_client_and_phone(box):
    chain, relay, inst, hub, api = box
    user = str(uuid.uuid4())
    phone, actor = push_token("fcm"), push_token("fcm")
    for ident, tok in (("phone-1", phone), ("actor-1", actor)):
        st, _, body = http("PUT", "%s/devices/identifier/%s/token" % (api.url, ident),
                           {"pushToken": tok}, headers={"Authorization": "Bearer " +
                                                        user_jwt(user, "Android", ident)})
        assert st == 200, body
    # the box registered both phones at the relay, in its installation
    assert sorted(relay_rows(chain, inst)) == sorted(
        "%s_%s %s" % (inst, user, t) for t in (phone, actor))

    cl = Clients(hub, [{"id": "web", "token": user_jwt(user, "ChromeBrowser", "web-1"),
                        "protocol": "messagepack"}])
    try:
        cl.wait(lambda evs: any(e["ev"] == "connected" for e in evs), 20, "hub connection")
        payload = {"Id": str(uuid.uuid4()), "UserId": user, "OrganizationId": None,
                   "CollectionIds": None, "RevisionDate": "2026-11-23T10:00:00Z"}
        st, doc = http_json("POST", api.url + "/events",
                            {"Type": 1, "Payload": payload, "ContextId": "actor-1",
                             "target": {"user": user}, "device_identifier": "actor-1"},
                            headers={"Authorization": "apikey " + API_KEY})
        assert st == 202, doc
        cl.wait(lambda evs: len(cl.messages("web")) == 1, 20, "the SignalR notification")
        m = cl.messages("web")[0]
        assert m["target"] == "ReceiveMessage"
        assert m["arg"] == {"Type": 1, "Payload": payload, "ContextId": "actor-1"}
    finally:
        cl.close()
    rec = chain.wait("fcm", phone)[0]
    data = rec["json"]["message"]["data"]
    assert data["type"] == "1" and json.loads(data["payload"]) == payload
    assert chain.records("fcm", actor) == []  # the acting phone is excluded

    # clearing a token on the box removes the registration at the relay
    st, _, _ = http("PUT", "%s/devices/identifier/phone-1/clear-token" % api.url, b"",
                    headers={"Authorization": "Bearer " + user_jwt(user, "Android", "phone-1")})
    assert st == 200
    wait_for(lambda: relay_rows(chain, inst) == ["%s_%s %s" % (inst, user, actor)],
             timeout=10, what="the relay registration removed")


def test_web_push_browser_is_reached_through_the_relay(box):
    """A browser's subscription PUT on the box (web-push-auth) is saved
    there and registered at the relay as a webpush device (its canonical
    token); an event for the user then reaches the browser through the
    relay's chain and herald-worker-webpush, decrypted by herald-sim in
    Bitwarden's Web Push shape. A malformed subscription sent straight to
    the relay is refused with nothing stored."""
    chain, relay, inst, hub, api = box
    user, vault = str(uuid.uuid4()), "vault-" + tag()
    id_ = "ok" + tag()
    st, sub = chain.sim.get("/control/webpush/subscription?id=%s&key=%s" % (id_, VAPID_PUBLIC))
    assert st == 200, sub
    st, _, body = http("PUT", "%s/devices/identifier/%s/web-push-auth" % (api.url, vault),
                       {"endpoint": sub["endpoint"], "p256dh": sub["keys"]["p256dh"],
                        "auth": sub["keys"]["auth"]},
                       headers={"Authorization": "Bearer " +
                                user_jwt(user, "ChromeBrowser", vault)})
    assert st == 200, body
    canon = json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]},
                       separators=(",", ":"))
    rows = chain.api.sql("SELECT provider || ' ' || platform || ' ' || token FROM devices "
                         "WHERE installation_id = '%s' AND user_id = '%s_%s'"
                         % (inst, inst, user)).splitlines()
    assert rows == ["webpush web " + canon]

    payload = {"UserId": user, "Date": "2026-12-06T10:00:00Z"}
    st, doc = http_json("POST", api.url + "/events",
                        {"Type": 5, "Payload": payload, "target": {"user": user}},
                        headers={"Authorization": "apikey " + API_KEY})
    assert st == 202, doc
    rec = chain.wait("webpush", id_)[0]
    got = json.loads(rec["response"]["body"])
    assert set(got) == {"data"} and got["data"]["type"] == 5
    assert json.loads(got["data"]["payload"]) == payload

    # abuse: browser devices whose tokens are broken subscriptions, sent
    # straight to the relay by another installation
    inst2, key2 = relay.installation("abuse@example.com")
    tok = relay.token(inst2, key2)
    bad_key = dict(sub["keys"], p256dh="B" + "A" * 86)      # not on the curve
    for bad in ({"endpoint": sub["endpoint"], "keys": bad_key},
                {"endpoint": "http://fcm.googleapis.com/x", "keys": sub["keys"]},
                {"endpoint": "https://169.254.169.254/latest", "keys": sub["keys"]},
                {"endpoint": "https://metadata.internal/x", "keys": sub["keys"]},
                {"endpoint": sub["endpoint"]}):
        reg = {"deviceId": str(uuid.uuid4()), "pushToken": json.dumps(bad),
               "userId": str(uuid.uuid4()), "type": 9, "identifier": "v-" + tag(),
               "installationId": inst2}
        st, _, body = relay.push("POST", "/push/register", tok, json.dumps(reg).encode())
        doc = json.loads(body)
        assert st == 400 and "PushToken" in doc["validationErrors"], (bad, doc)
    assert chain.api.sql("SELECT count(*) FROM devices WHERE installation_id = '%s'"
                         % inst2) == "0"

    _, _, _, _, api = box
    st, _, body = http("GET", api.admin_url + "/readyz")
    assert st == 200 and b"kafka" not in body and b"hub" in body
    # a raw-token send cannot go through a Bitwarden relay
    st, doc = http_json("POST", api.url + "/api/send_push_notification",
                        {"recipient": {"fcm_tokens": ["t-1"]},
                         "notification": {"fcm": {"message": {"notification": {"title": "x"}}}}},
                        headers={"Authorization": "apikey " + API_KEY})
    assert st == 200 and doc["error"]["code"] == 107, doc
    assert "self-hosted mode relays only" in doc["error"]["message"], doc
    # the operator sees the refusal and its reason, not only the access line
    warned = wait_for(lambda: [e for e in api.log_lines() if e.get("level") == "warn"
                               and "refused" in e.get("msg", "")], timeout=5,
                      what="a warning for the refused send")
    reason = doc["error"]["message"].split("bad request: ", 1)[1]
    assert reason in warned[-1]["msg"], warned
    assert "the recipient is not one user" in warned[-1]["msg"], warned


def relay_metric(relay, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in http("GET", relay.svc.admin_url + "/metrics")[2].decode().splitlines():
        if line.startswith(name + "{"):
            series, value = line.rsplit(" ", 1)
            if ",".join(sorted(series[len(name) + 1:-1].split(","))) == want:
                return float(value)
    return 0.0


def test_identity_400_backs_off_for_a_day(box, pg_cluster):
    chain, relay, inst, hub, _ = box
    s = Stack(pg=pg_cluster)
    try:
        api = s.start("herald-api", s.env(
            HERALD_API_KEY=API_KEY, HERALD_PG_DSN=pg_cluster.new_database(),
            HERALD_JWT_SECRET=SECRET, HERALD_INTERNAL_KEY=INTERNAL,
            HERALD_SELFHOST_HUB_URL=hub.url, HERALD_SELFHOST_RELAY_URL=relay.url + "/",
            HERALD_SELFHOST_IDENTITY_URL=relay.url, HERALD_SELFHOST_INSTALLATION_ID=inst,
            HERALD_SELFHOST_INSTALLATION_KEY="wrong-key", HERALD_SELFHOST_CA_FILE=relay.cert,
            HERALD_HTTP_ACCESS_LOG="false", HERALD_KAFKA_BROKERS=None),
            port_var="HERALD_API_PORT", wait="readyz")
        before = relay_metric(relay, "herald_relay_tokens_total", result="invalid_client")
        user = str(uuid.uuid4())
        for ident in ("p-1", "p-2", "p-3"):
            st, _, _ = http("PUT", "%s/devices/identifier/%s/token" % (api.url, ident),
                            {"pushToken": push_token("fcm")},
                            headers={"Authorization": "Bearer " + user_jwt(user, "Android", ident)})
            assert st == 200  # saved on the box; the relay failure is logged
        # one token request was refused; the next two never asked
        assert relay_metric(relay, "herald_relay_tokens_total",
                            result="invalid_client") == before + 1
        log = api.read_log()
        assert "no token requests for a day" in log and "not asking again" in log
        assert "wrong-key" not in log
    finally:
        s.close()
    assert not s.problems, s.problems
