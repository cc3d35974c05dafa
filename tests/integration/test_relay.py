"""test_relay.py -- herald-relay as a self-hosted Bitwarden server and
Vaultwarden see it: over HTTPS, the exact request bytes each of them sends
(specs/bitwarden.md §4.1, §4.5, §5.2-§5.5), ending in deliveries recorded
at herald-sim with the payload shapes the mobile apps parse (§6.5).
Also the identity endpoints, upstream's error answers and the
per-installation rate limit.
"""
import json
import time
import uuid

import pytest

from harness import Stack, http
from relaykit import ADMIN_KEY, Chain, Relay
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
    yield s, chain, relay
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def guid():
    return str(uuid.uuid4())


def rfc3339_us():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % (int(t * 1e6) % 10**6)


def vw_register(push_uuid, tok, user, atype, device_uuid, inst):
    # serde_json's json! sorts keys (BTreeMap); no organizationIds (§5.3)
    return ('{"deviceId":"%s","identifier":"%s","installationId":"%s","pushToken":"%s",'
            '"type":%d,"userId":"%s"}' % (push_uuid, device_uuid, inst, tok, atype, user)).encode()


def vw_send(user, acting_push_uuid, acting_uuid, t, cipher, rev):
    # Vaultwarden's cipher push (§5.5), keys sorted as serde_json writes them
    return ('{"clientType":null,"deviceId":"%s","identifier":"%s","installationId":null,'
            '"organizationId":null,"payload":{"collectionIds":null,"id":"%s",'
            '"organizationId":null,"revisionDate":"%s","userId":"%s"},"type":%d,'
            '"userId":"%s"}' % (acting_push_uuid, acting_uuid, cipher, rev, user, t, user)).encode()


def bw_register(dev, tok, user, dtype, ident, orgs, inst):
    # JsonContent.Create: camelCase, declaration order, nulls included (§4.5)
    return json.dumps({"deviceId": dev, "pushToken": tok, "userId": user, "type": dtype,
                       "identifier": ident, "organizationIds": orgs,
                       "installationId": inst}, separators=(",", ":")).encode()


def bw_send(user, org, dev, ident, t, payload):
    return json.dumps({"userId": user, "organizationId": org, "deviceId": dev,
                       "identifier": ident, "type": t, "payload": payload,
                       "clientType": None, "installationId": None},
                      separators=(",", ":")).encode()


def ok(resp):
    st, h, body = resp
    assert st == 200 and body == b"", (st, body)
    assert h.get("content-length") == "0"


def payload_of(rec, provider):
    if provider == "fcm":
        data = rec["json"]["message"]["data"]
        assert set(data) == {"type", "payload"}
        return data["type"], json.loads(data["payload"])
    assert rec["headers"]["apns-push-type"] == "background"
    assert rec["headers"]["apns-priority"] == "5"
    assert rec["json"]["aps"] == {"content-available": 1}
    return rec["json"]["data"]["type"], json.loads(rec["json"]["data"]["payload"])


def test_installations_and_tokens(env):
    _, _, relay = env
    body = b'{"email":"ops@example.com"}'
    st, h, doc = relay.json("POST", "/installations", body, {"Content-Type": "application/json"})
    assert st == 401 and doc["object"] == "error" and h["www-authenticate"] == "Bearer"
    st, _, _ = relay.json("POST", "/installations", body,
                          {"Content-Type": "application/json", "Authorization": "Bearer nope"})
    assert st == 401
    inst, key = relay.installation()
    assert len(key) == 20 and key.isalnum()
    st, _, doc = relay.json("GET", "/installations/" + inst)
    assert st == 200 and doc == {"id": inst, "key": None, "enabled": True, "object": "installation"}
    assert relay.json("GET", "/installations/" + guid())[0] == 404
    assert relay.json("GET", "/installations/nope")[0] == 404
    st, _, doc = relay.json("POST", "/installations", b'{"email":"x"}',
                            {"Content-Type": "application/json",
                             "Authorization": "Bearer " + ADMIN_KEY})
    assert st == 400 and "Email" in doc["validationErrors"]

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = ("grant_type=client_credentials&scope=api.push&client_id=installation.%s"
            "&client_secret=%s" % (inst, key)).encode()
    st, h, doc = relay.json("POST", "/connect/token", body, form)
    assert st == 200 and h["cache-control"] == "no-store"
    assert doc["expires_in"] == 86400 and doc["token_type"] == "Bearer"
    assert doc["scope"] == "api.push" and doc["access_token"].count(".") == 2
    for bad, err in [(body.replace(key.encode(), b"x" * 20), "invalid_client"),
                     (body.replace(inst.encode(), guid().encode()), "invalid_client"),
                     (body.replace(b"installation.", b"internal."), "invalid_client"),
                     (body.replace(b"client_credentials", b"password"), "unsupported_grant_type"),
                     (body.replace(b"api.push", b"api.admin"), "invalid_scope"),
                     (b"scope=api.push", "invalid_request")]:
        st, _, doc = relay.json("POST", "/connect/token", bad, form)
        assert (st, doc) == (400, {"error": err}), bad
    # the key is stored hashed, never as given
    assert key not in relay_sql(env, "SELECT key_hash FROM installations")


def test_tokens_are_bound_to_the_relay_audience(env):
    """A token signed with the relay's own secret but without its audience
    (a user token, say, where an operator reused the secret) is refused on
    /push; the relay's own tokens name it."""
    import jwt  # python3-jwt

    _, _, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["aud"] == "herald-relay"
    body = json.dumps({"id": guid()}).encode()
    assert relay.push("POST", "/push/delete", tok, body)[0] == 200
    del claims["aud"]
    forged = jwt.encode(claims, "relay-token-secret-0123456789abcdef", algorithm="HS256")
    assert relay.push("POST", "/push/delete", forged, body)[0] == 401
    claims["aud"] = "api"
    forged = jwt.encode(claims, "relay-token-secret-0123456789abcdef", algorithm="HS256")
    assert relay.push("POST", "/push/delete", forged, body)[0] == 401


def relay_sql(env, q):
    _, chain, _ = env
    return chain.api.sql(q)


def test_push_errors_are_upstreams(env):
    _, _, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    reg = vw_register(guid(), "fcm-tok", guid(), 0, guid(), inst)
    st, h, doc = relay.json("POST", "/push/register", reg, {"Content-Type": "application/json"})
    assert st == 401 and h["www-authenticate"] == "Bearer" and doc["object"] == "error"
    st, _, _ = relay.json("POST", "/push/register", reg,
                          {"Content-Type": "application/json", "Authorization": "Bearer x.y.z"})
    assert st == 401
    # a token without api.push is forbidden
    other = relay.token(inst, key, scope="api.installation")
    assert relay.push("POST", "/push/register", other, reg)[0] == 403
    st, _, body = relay.push("POST", "/push/register", tok, b"")
    assert st == 400 and json.loads(body)["message"] == "Body is empty."
    st, _, body = relay.push("POST", "/push/register", tok,
                             b'{"deviceId":"d","userId":"u","type":0,"identifier":"i"}')
    doc = json.loads(body)
    assert st == 400 and doc == {
        "message": "The model state is invalid.",
        "validationErrors": {"PushToken": ["The PushToken field is required."]},
        "exceptionMessage": None, "exceptionStackTrace": None,
        "innerExceptionMessage": None, "object": "error"}
    st, _, body = relay.push("POST", "/push/send", tok, b'{"type":0,"payload":{}}')
    assert st == 400 and json.loads(body)["validationErrors"] == {
        "UserId": ["UserId or OrganizationId or InstallationId is required."]}
    st, _, body = relay.push("POST", "/push/send", tok,
                             bw_send(None, None, None, None, 0, {}).replace(
                                 b'"installationId":null', b'"installationId":"%s"' % guid().encode()))
    assert st == 400 and json.loads(body)["message"] == \
        "InstallationId does not match current context."
    # plain HTTP is not served
    with pytest.raises(Exception):
        import urllib.request
        urllib.request.urlopen("http://127.0.0.1:%d/healthz" % relay.port, timeout=3)


def test_vaultwarden_replay(env):
    _, chain, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    user = guid()
    phones = []  # (push_uuid, device uuid, provider, token)
    for provider, atype in (("fcm", 0), ("apns", 1), ("fcm", 0)):
        t = token(provider)
        phones.append((guid(), guid(), provider, t))
        ok(relay.push("POST", "/push/register", tok,
                      vw_register(phones[-1][0], t, user, atype, phones[-1][1], inst)))
    # re-registering the same device is an update, not a second row
    ok(relay.push("POST", "/push/register", tok,
                  vw_register(phones[0][0], phones[0][3], user, 0, phones[0][1], inst)))
    assert relay_sql(env, "SELECT count(*) FROM devices WHERE installation_id = '%s'" % inst) == "3"

    actor = phones[0]
    cipher, rev = guid(), rfc3339_us()
    ok(relay.push("POST", "/push/send", tok, vw_send(user, actor[0], actor[1], 0, cipher, rev)))
    want = {"collectionIds": None, "id": cipher, "organizationId": None,
            "revisionDate": rev, "userId": user}
    for push_uuid, _, provider, t in phones[1:]:
        rec = chain.wait(provider, t)[0]
        typ, payload = payload_of(rec, provider)
        assert str(typ) == "0" and payload == want
    assert chain.records("fcm", actor[3]) == []  # the acting device is excluded

    # Vaultwarden's unregister: POST /push/delete/{push_uuid}, no body
    gone = phones[2]
    ok(relay.raw("POST", "/push/delete/" + gone[0], None, {"Authorization": "Bearer " + tok}))
    ok(relay.push("POST", "/push/send", tok, vw_send(user, actor[0], actor[1], 1, guid(), rfc3339_us())))
    chain.wait("apns", phones[1][3], 2)
    assert len(chain.records("fcm", gone[3])) == 1


def test_bitwarden_server_replay(env):
    _, chain, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    user, org, org2 = guid(), guid(), guid()
    dev, ident, t = guid(), guid(), token("apns")
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(dev, t, user, 1, ident, [org], inst), vaultwarden=False))
    dev2, t2 = guid(), token("fcm")
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(dev2, t2, user, 0, guid(), None, inst), vaultwarden=False))

    # organization target (only dev is in org)
    p = {"organizationId": org, "enabled": True}
    ok(relay.push("POST", "/push/send", tok, bw_send(None, org, None, None, 18, p), False))
    typ, payload = payload_of(chain.wait("apns", t)[0], "apns")
    assert typ == 18 and payload == p

    # add-organization / delete-organization re-tag devices
    upd = json.dumps({"devices": [{"id": dev2}], "organizationId": org2}).encode()
    ok(relay.push("PUT", "/push/add-organization", tok, upd, False))
    ok(relay.push("POST", "/push/send", tok, bw_send(None, org2, None, None, 6, {"userId": user}), False))
    chain.wait("fcm", t2)
    ok(relay.push("PUT", "/push/delete-organization", tok, upd, False))

    # user target with the acting device's identifier excluded (§4.5)
    p = {"userId": user, "date": rfc3339_us()}
    ok(relay.push("POST", "/push/send", tok, bw_send(user, None, dev, ident, 5, p), False))
    typ, payload = payload_of(chain.wait("fcm", t2, 2)[1], "fcm")
    assert typ == "5" and payload == p
    assert len(chain.records("apns", t)) == 1  # dev was the actor

    # current delete and the legacy DELETE /push/{id}
    ok(relay.push("POST", "/push/delete", tok, json.dumps({"id": dev}).encode(), False))
    ok(relay.raw("DELETE", "/push/" + dev2, None, {"Authorization": "Bearer " + tok}))
    assert relay_sql(env, "SELECT count(*) FROM devices WHERE installation_id = '%s'" % inst) == "0"
    # the org2 tag removal left no channel rows behind
    assert relay_sql(env, "SELECT count(*) FROM device_topics WHERE topic = 'org:%s_%s'"
                     % (inst, org2)) == "0"


def test_rate_limit_per_installation(env, pg_cluster):
    s, chain, _ = env
    slow = Relay(s, chain.dsn, chain.kafka, HERALD_RELAY_RATE="1", HERALD_RELAY_BURST="2")
    a, ka = slow.installation()
    b, kb = slow.installation()
    ta, tb = slow.token(a, ka), slow.token(b, kb)
    body = json.dumps({"id": "nothing"}).encode()
    ok(slow.push("POST", "/push/delete", ta, body))
    ok(slow.push("POST", "/push/delete", ta, body))
    st, h, raw = slow.push("POST", "/push/delete", ta, body)
    assert st == 429 and int(h["retry-after"]) >= 1, (st, raw)
    assert json.loads(raw)["object"] == "error"
    ok(slow.push("POST", "/push/delete", tb, body))  # B has its own bucket
    time.sleep(1.1)
    ok(slow.push("POST", "/push/delete", ta, body))


def relay_metric(relay, name, **labels):
    st, _, body = http("GET", relay.svc.admin_url + "/metrics")
    assert st == 200
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and line.split("}")[0][len(name) + 1:] == want:
            return float(line.rsplit(" ", 1)[1])
    return 0


def test_payload_limit_is_the_providers_and_new_types_are_dropped(env):
    _, chain, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    user, t = guid(), token("fcm")
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(guid(), t, user, 0, guid(), None, inst), vaultwarden=False))
    # a notification-center message with a long body: 3 KB is relayed
    p = {"id": guid(), "userId": user, "title": "T" * 100, "body": "B" * 3000,
         "global": False, "clientType": 0}
    ok(relay.push("POST", "/push/send", tok, bw_send(user, None, None, None, 20, p), False))
    typ, payload = payload_of(chain.wait("fcm", t)[0], "fcm")
    assert typ == "20" and payload == p
    # 5 KB does not fit the providers' 4 KB: a 400 naming the limit
    p["body"] = "B" * 5000
    st, _, body = relay.push("POST", "/push/send", tok, bw_send(user, None, None, None, 20, p), False)
    doc = json.loads(body)
    assert st == 400 and "the limit is 4096 bytes" in doc["validationErrors"]["Payload"][0], doc
    # a type newer than this build (28, and 99): 200, nothing sent, counted
    before = relay_metric(relay, "herald_relay_bitwarden_unknown_type_total", type="99")
    for typ in (28, 99):
        ok(relay.push("POST", "/push/send", tok,
                      bw_send(user, None, None, None, typ, {"userId": user}), False))
    assert relay_metric(relay, "herald_relay_bitwarden_unknown_type_total", type="99") == before + 1
    assert relay_metric(relay, "herald_relay_bitwarden_unknown_type_total", type="28") >= 1
    ok(relay.push("POST", "/push/send", tok,
                  bw_send(user, None, None, None, 5, {"userId": user}), False))
    recs = chain.wait("fcm", t, 2)
    assert [payload_of(r, "fcm")[0] for r in recs] == ["20", "5"]


def test_android_amazon_is_stored_and_counted_undeliverable(env):
    """Upstream registers AndroidAmazon (15) on ADM; no worker here speaks
    ADM: the registration is answered 200 and stored (provider adm),
    counted as undeliverable, and a send to the user reaches the user's
    other phones only. A browser type is still answered 200, not stored."""
    _, chain, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    user, t = guid(), token("fcm")
    fire, adm_tok = guid(), "amzn1.adm-registration.v3." + guid()
    before = relay_metric(relay, "herald_relay_requests_total", op="register",
                          result="undeliverable")
    ok(relay.push("POST", "/push/register", tok,
                  vw_register(fire, adm_tok, user, 15, guid(), inst)))
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(guid(), t, user, 0, guid(), None, inst), vaultwarden=False))
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(guid(), "browser-" + guid(), user, 9, guid(), None, inst),
                  vaultwarden=False))
    assert relay_sql(env, "SELECT provider || ' ' || platform || ' ' || device_type || ' ' || token "
                     "FROM devices WHERE installation_id = '%s' AND provider = 'adm'" % inst) == \
        "adm android 15 " + adm_tok
    assert relay_sql(env, "SELECT count(*) FROM devices WHERE installation_id = '%s'" % inst) == "2"
    assert relay_metric(relay, "herald_relay_requests_total", op="register",
                        result="undeliverable") == before + 1
    st, _, body = relay.push("POST", "/push/register", tok,
                             vw_register(guid(), "has space", user, 15, guid(), inst))
    assert st == 400 and "not a valid ADM token" in body.decode(), body
    ok(relay.push("POST", "/push/send", tok,
                  bw_send(user, None, None, None, 5, {"userId": user}), False))
    typ, _ = payload_of(chain.wait("fcm", t)[0], "fcm")
    assert typ == "5"
    assert chain.records("fcm", adm_tok) == []
    ok(relay.push("POST", "/push/delete", tok, json.dumps({"id": fire}).encode(), False))
    assert relay_sql(env, "SELECT count(*) FROM devices WHERE installation_id = '%s' "
                     "AND provider = 'adm'" % inst) == "0"


def test_token_requests_are_limited_per_client_address(env):
    """POST /connect/token checks a key in the database: one address gets
    its burst, then 429 with Retry-After (a wrong key and a right one
    alike), and its budget comes back with time."""
    s, chain, _ = env
    slow = Relay(s, chain.dsn, chain.kafka, HERALD_RELAY_TOKEN_RATE="1",
                 HERALD_RELAY_TOKEN_BURST="3")
    inst, key = slow.installation()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = ("grant_type=client_credentials&scope=api.push&client_id=installation.%s"
           "&client_secret=%s" % (inst, "x" * 20)).encode()
    got = [slow.json("POST", "/connect/token", bad, form)[0] for _ in range(3)]
    assert got == [400, 400, 400], got
    st, h, doc = slow.json("POST", "/connect/token", bad, form)
    assert st == 429 and int(h["retry-after"]) >= 1, (st, doc)
    good = bad.replace(b"x" * 20, key.encode())
    assert slow.json("POST", "/connect/token", good, form)[0] == 429
    time.sleep(1.1)
    assert slow.json("POST", "/connect/token", good, form)[0] == 200


def test_token_limit_is_per_client_behind_a_trusted_proxy(env):
    """Behind a reverse proxy named in HERALD_TRUSTED_PROXIES the limit is
    per client (the forwarding header's first untrusted hop), so one
    client's burst does not lock out the others behind the same proxy;
    a client cannot buy a fresh budget by writing its own header hops."""
    s, chain, _ = env
    proxied = Relay(s, chain.dsn, chain.kafka, HERALD_RELAY_TOKEN_RATE="1",
                    HERALD_RELAY_TOKEN_BURST="3", HERALD_TRUSTED_PROXIES="127.0.0.1")
    inst, _ = proxied.installation()
    bad = ("grant_type=client_credentials&scope=api.push&client_id=installation.%s"
           "&client_secret=%s" % (inst, "x" * 20)).encode()

    def post(xff):
        return proxied.json("POST", "/connect/token", bad,
                            {"Content-Type": "application/x-www-form-urlencoded",
                             "X-Forwarded-For": xff})[0]

    got = [post("198.51.100.1") for _ in range(5)]
    assert got[:3] == [400, 400, 400] and 429 in got[3:], got
    assert post("198.51.100.2") == 400, "another client behind the proxy has its own budget"
    assert post("203.0.113.7, 198.51.100.1") == 429, "the proxy appended the real client"


def test_ids_that_are_not_guids_are_refused_naming_the_field(env):
    """userId, deviceId, organizationId(s) bind to Guid upstream: a register
    or re-tag with any other id is a 400 naming the field and stores
    nothing (before, "u1" was stored where /push/send could never reach)."""
    _, chain, relay = env
    inst, key = relay.installation()
    tok = relay.token(inst, key)
    user, dev, org = guid(), guid(), guid()
    ok(relay.push("POST", "/push/register", tok,
                  bw_register(dev, token("fcm"), user, 0, guid(), [org], inst), vaultwarden=False))

    def devices():
        return relay_sql(env, "SELECT count(*) FROM devices WHERE installation_id = '%s'" % inst)

    def channels():
        return relay_sql(env, "SELECT count(*) FROM device_topics WHERE device_id LIKE '%s_%%'"
                         % inst)

    before = (devices(), channels())
    for method, path, body, field in [
            ("POST", "/push/register", bw_register(guid(), token("fcm"), "u1", 0, guid(), None, inst),
             "UserId"),
            ("POST", "/push/register", bw_register("phone-1", token("fcm"), user, 0, guid(), None,
                                                   inst), "DeviceId"),
            ("POST", "/push/register", bw_register(guid(), token("fcm"), user, 0, guid(), ["o1"],
                                                   inst), "OrganizationIds"),
            ("PUT", "/push/add-organization",
             json.dumps({"devices": [{"id": dev}], "organizationId": "o1"}).encode(), "OrganizationId"),
            ("PUT", "/push/add-organization",
             json.dumps({"devices": [{"id": "d1"}], "organizationId": guid()}).encode(), "Id"),
            ("PUT", "/push/delete-organization",
             json.dumps({"devices": [{"id": dev}], "organizationId": "o1"}).encode(), "OrganizationId"),
            ("PUT", "/push/delete-organization",
             json.dumps({"devices": [{"id": "d1"}], "organizationId": org}).encode(), "Id")]:
        if isinstance(body, str):
            body = body.encode()
        st, _, raw = relay.push(method, path, tok, body, False)
        doc = json.loads(raw)
        assert st == 400, (path, field, st, raw)
        assert doc["validationErrors"] == {field: ["The %s field is not a valid GUID." % field]}, raw
    assert (devices(), channels()) == before
