"""test_api_events.py -- Bitwarden event ingest (POST /events) and the
Bitwarden client device endpoints (PUT|POST /devices/identifier/{id}/token
and .../clear-token): the hub event on herald.events (a user's) or
herald.broadcast (the others), the mobile send with
the !deviceIdentifier exclusion and Bitwarden's mobile payloads, hub-only
events, routing from the payload, user-token auth, and the error paths.
"""
import hashlib
import json
import time

import jwt

from api_support import API_KEY, api, batches_for, read_topic, start_api, tokens_of, uid, wait_sql  # noqa: F401
from harness import Stack, http, http_json

SECRET = "test-jwt-secret-0123456789abcdef"  # api_support's HERALD_JWT_SECRET


def token(sub, device="", devicetype=0, orgs=(), **extra):
    claims = {"sub": sub, "device": device, "devicetype": devicetype,
              "exp": int(time.time()) + 600, "scope": ["api"]}
    if orgs:
        claims["orguser"] = list(orgs)
    claims.update(extra)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def apns_token(seed):
    """A hex APNs token of this test's own: a token is one device's, and a
    token another user's device holds is refused (409)."""
    return hashlib.sha256(seed.encode()).hexdigest()


def save_token(api, ident, push_token, user_jwt, method="PUT"):
    return http(method, "%s/devices/identifier/%s/token" % (api.url, ident),
                {"pushToken": push_token}, headers={"Authorization": "Bearer " + user_jwt})[0]


def post_event(api, body, key=API_KEY):
    return http_json("POST", api.url + "/events", body,
                     headers={"Authorization": "apikey " + key} if key else {})


def events_for(api, target_id, topic="herald.events"):
    """The hub events for target_id: a user's on herald.events, the others
    on herald.broadcast."""
    recs = read_topic(api.kafka.brokers, topic,
                      lambda rs: any(isinstance(v, dict) and v.get("target_id") == target_id
                                     for _, v in rs))
    return [v for _, v in recs if isinstance(v, dict) and v.get("target_id") == target_id]


# ---- Bitwarden device endpoints ---------------------------------------------

def test_save_token_registers_then_updates_the_users_device(api):
    user, ident = uid(), uid()
    jwt_ = token(user, device=ident, devicetype=0, orgs=["o1-" + user])
    assert save_token(api, ident, "fcm-a-" + user, jwt_) == 200
    [d] = api.ok("device_list", {"users": [user], "include_channels": True})["items"]
    assert (d["provider"], d["platform"], d["token"], d["identifier"]) == \
        ("fcm", "android", "fcm-a-" + user, ident)
    assert d["client_type"] == 4 and d["device_type"] == 0
    assert d["channels"] == ["org:o1-" + user], "the token's organizations become channels"
    # a new token for the same (identifier, user): the same device, updated
    assert save_token(api, ident, "fcm-b-" + user, jwt_, method="POST") == 200
    [d2] = api.ok("device_list", {"users": [user]})["items"]
    assert d2["id"] == d["id"] and d2["token"] == "fcm-b-" + user
    # iOS (devicetype by name) uses APNs; its tokens are hex
    ios = token(user, device="i-" + ident, devicetype="iOS")
    assert save_token(api, "i-" + ident, apns_token(ident), ios) == 200
    assert save_token(api, "i-" + ident, "not-hex", ios) == 400
    assert len(api.ok("device_list", {"users": [user]})["items"]) == 2


def test_device_endpoints_refuse_bad_requests(api):
    user, ident = uid(), uid()
    good = token(user, device=ident)
    url = "%s/devices/identifier/%s/token" % (api.url, ident)
    assert http("PUT", url, {"pushToken": "x"})[0] == 401
    assert http("PUT", url, {"pushToken": "x"}, headers={"Authorization": "Bearer nope"})[0] == 401
    forged = jwt.encode({"sub": user, "exp": int(time.time()) + 60}, "other-secret",
                        algorithm="HS256")
    assert save_token(api, ident, "x", forged) == 401
    expired = token(user, exp=int(time.time()) - 3600)
    assert save_token(api, ident, "x", expired) == 401
    # an installation's token (scope api.push) is not a user's
    assert save_token(api, ident, "x", token(user, scope="api.push")) == 401
    assert save_token(api, ident, "", good) == 400
    assert save_token(api, ident, "x" * 256, good) == 400
    assert http("PUT", url, b"not json", headers={"Authorization": "Bearer " + good})[0] == 400
    # a device type DeviceType does not have, or none at all
    assert save_token(api, ident, "x", token(user, devicetype=27)) == 400
    untyped = jwt.encode({"sub": user, "exp": int(time.time()) + 600, "scope": ["api"]},
                         SECRET, algorithm="HS256")
    assert save_token(api, ident, "x", untyped) == 400
    st, _, _ = http("PUT", url, {"pushToken": "x"},
                    headers={"Authorization": "Bearer " + untyped, "Device-Type": "99"})
    assert st == 400
    assert api.ok("device_list", {"users": [user]})["items"] == []


def test_save_token_accepts_every_device_type(api):
    """Every DeviceType a Bitwarden client may send (0..26) is answered
    200, as upstream: Android on FCM, iOS on APNs and AndroidAmazon on ADM
    are registered; desktops, browsers and CLIs have no push provider for
    a bare token and are not. The type comes from the token's devicetype
    claim, or the Device-Type header when the token has none."""
    user = uid()
    mobile = {0: ("fcm", "android", "fcm-" + user),
              1: ("apns", "ios", apns_token(user)),
              15: ("adm", "android", "amzn1.adm-registration.v3.Zm9v-" + user)}
    untyped = jwt.encode({"sub": user, "exp": int(time.time()) + 600, "scope": ["api"]},
                         SECRET, algorithm="HS256")
    for t in range(27):
        ident = "t%d-%s" % (t, user)
        tok = mobile[t][2] if t in mobile else "tok-%d-%s" % (t, user)
        if t % 2:
            assert save_token(api, ident, tok, token(user, device=ident, devicetype=t)) == 200, t
        else:
            st, _, _ = http("PUT", "%s/devices/identifier/%s/token" % (api.url, ident),
                            {"pushToken": tok},
                            headers={"Authorization": "Bearer " + untyped,
                                     "Device-Type": str(t)})
            assert st == 200, t
    items = api.ok("device_list", {"users": [user]})["items"]
    got = {i["device_type"]: (i["provider"], i["platform"], i["token"]) for i in items}
    assert got == mobile


def test_android_amazon_is_stored_listed_unsupported_and_never_sent(api):
    """AndroidAmazon (15) registers its ADM token as upstream does (200):
    stored with provider adm, listed with
    "unsupported": true, counted; no worker speaks ADM, so a send to the
    user reaches the user's FCM phone only, and clear-token removes it."""
    user = uid()
    fire, phone = "fire-" + user, "phone-" + user
    before = api.metric("herald_api_undeliverable_registrations_total", provider="adm") or 0
    adm_tok = "amzn1.adm-registration.v3.Y29tLmFtYXpvbi5EZXZpY2VNZXNzYWdpbmc-" + user
    assert save_token(api, fire, adm_tok, token(user, device=fire, devicetype="AndroidAmazon")) == 200
    assert save_token(api, phone, "fcm-p-" + user, token(user, device=phone)) == 200
    items = api.ok("device_list", {"users": [user]})["items"]
    [d] = [i for i in items if i["identifier"] == fire]
    assert (d["provider"], d["platform"], d["token"], d["device_type"], d["client_type"]) == \
        ("adm", "android", adm_tok, 15, 4)
    assert d["unsupported"] is True
    assert all("unsupported" not in i for i in items if i["identifier"] == phone)
    assert api.metric("herald_api_undeliverable_registrations_total", provider="adm") == before + 1
    # a token update is the same device; a bad ADM token is refused
    assert save_token(api, fire, adm_tok + "-2", token(user, device=fire, devicetype=15)) == 200
    assert [i["id"] for i in api.ok("device_list", {"users": [user]})["items"]
            if i["identifier"] == fire] == [d["id"]]
    assert save_token(api, fire, "has space", token(user, devicetype=15)) == 400
    st, doc = post_event(api, {"Type": 5, "Payload": {"UserId": user}, "target": {"user": user}})
    assert st == 202 and doc["uid"]
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["fcm-p-" + user]
    wait_sql(api, "select tokens from push_requests where uid = '%s'" % doc["uid"], "1")
    # the app's logout: anonymous clear-token removes the Fire device
    assert http("PUT", "%s/devices/identifier/%s/clear-token" % (api.url, fire))[0] == 200
    assert [i["identifier"] for i in api.ok("device_list", {"users": [user]})["items"]] == [phone]


def test_known_push_token_cannot_take_another_users_device(api):
    """Whoever learns a victim's push token must not move the victim's
    device (and its notifications) to their own account: refused with
    409, nothing changed. The same app installation (identifier) signed in
    to another account may take its token along."""
    victim, thief = uid(), uid()
    v_ident, t_ident = "v-" + victim, "t-" + thief
    tok = "fcm-victim-" + victim
    assert save_token(api, v_ident, tok, token(victim, device=v_ident)) == 200
    [before] = api.ok("device_list", {"users": [victim]})["items"]
    st = save_token(api, t_ident, tok, token(thief, device=t_ident))
    assert st == 409
    [after] = api.ok("device_list", {"users": [victim]})["items"]
    assert (after["id"], after["token"], after["identifier"]) == \
        (before["id"], tok, v_ident)
    assert api.ok("device_list", {"users": [thief]})["items"] == []
    # account switch on the victim's own installation: allowed
    assert save_token(api, v_ident, tok, token(thief, device=v_ident)) == 200
    [moved] = api.ok("device_list", {"users": [thief]})["items"]
    assert moved["token"] == tok and moved["identifier"] == v_ident


def test_clear_token_removes_only_the_users_device(api):
    user, other, ident = uid(), uid(), uid()
    assert save_token(api, ident, "mine-" + user, token(user)) == 200
    assert save_token(api, ident, "theirs-" + user, token(other)) == 200
    url = "%s/devices/identifier/%s/clear-token" % (api.url, ident)
    st, _, _ = http("PUT", url, headers={"Authorization": "Bearer " + token(user)})
    assert st == 200
    assert api.ok("device_list", {"users": [user]})["items"] == []
    assert len(api.ok("device_list", {"users": [other]})["items"]) == 1
    st, _, _ = http("POST", url, headers={"Authorization": "Bearer " + token(other)})
    assert st == 200 and api.ok("device_list", {"users": [other]})["items"] == []


def test_clear_token_is_anonymous_as_the_apps_call_it_at_logout(api):
    user, ident = uid(), uid()
    assert save_token(api, ident, "out-" + user, token(user)) == 200
    url = "%s/devices/identifier/%s/clear-token" % (api.url, ident)
    assert http("PUT", url)[0] == 200
    assert api.ok("device_list", {"users": [user]})["items"] == []
    # the identifier must exist, as upstream
    st, _, body = http("PUT", url)
    assert st == 404 and json.loads(body)["error"] == "not_found"
    # a forged or expired token is still refused, not treated as anonymous
    assert http("PUT", url, headers={"Authorization": "Bearer nope"})[0] == 401
    # rate-limited per client address (burst 10, then 1/s)
    statuses, retry = [], None
    for _ in range(15):
        st, h, _ = http("PUT", "%s/devices/identifier/%s/clear-token" % (api.url, uid()))
        statuses.append(st)
        retry = retry or {k.lower(): v for k, v in h.items()}.get("retry-after")
    assert 429 in statuses and set(statuses) <= {404, 429}, statuses
    assert retry is not None and int(retry) >= 1


def test_clear_token_limit_is_per_client_behind_a_trusted_proxy(api, pg_cluster):
    """With HERALD_TRUSTED_PROXIES naming the reverse proxy, the anonymous
    clear-token limit is per client (the forwarding header's first
    untrusted hop): one client's burst leaves the others behind the same
    proxy alone. Without it the header is not believed: a client writing
    a new X-Forwarded-For per call is still limited by its address."""
    s = Stack(pg=pg_cluster)
    try:
        proxied = start_api(s, pg_cluster, kafka=api.kafka, HERALD_JWT_SECRET=SECRET,
                            HERALD_TRUSTED_PROXIES="127.0.0.1", HERALD_API_CLEAR_TOKEN_BURST="3",
                            HERALD_API_FANOUT="false", HERALD_API_FEEDBACK="false")

        def clear(svc, xff):
            return http("PUT", "%s/devices/identifier/%s/clear-token" % (svc.url, uid()),
                        headers={"X-Forwarded-For": xff})[0]

        got = [clear(proxied, "198.51.100.1") for _ in range(5)]
        assert got[:3] == [404, 404, 404] and 429 in got[3:], got
        assert clear(proxied, "198.51.100.2") == 404, "another client has its own budget"
        assert clear(proxied, "203.0.113.7, 198.51.100.1") == 429, \
            "the proxy appended the real client; the client's own hops do not count"
        spoofed = [clear(api, "192.0.2.%d" % i) for i in range(15)]
        assert 429 in spoofed, spoofed
    finally:
        s.close()
    assert not s.problems, s.problems


def test_clear_token_needs_a_token_when_configured(api, pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        strict = start_api(s, pg_cluster, kafka=api.kafka, HERALD_JWT_SECRET=SECRET,
                           HERALD_API_CLEAR_TOKEN_ANONYMOUS="false", HERALD_API_FANOUT="false",
                           HERALD_API_FEEDBACK="false")
        user, ident = uid(), uid()
        assert save_token(strict, ident, "strict-" + user, token(user)) == 200
        url = "%s/devices/identifier/%s/clear-token" % (strict.url, ident)
        st, h, _ = http("PUT", url)
        assert st == 401 and {k.lower(): v for k, v in h.items()}["www-authenticate"] == "Bearer"
        assert len(strict.ok("device_list", {"users": [user]})["items"]) == 1
        assert http("PUT", url, headers={"Authorization": "Bearer " + token(user)})[0] == 200
    finally:
        s.close()
    assert not s.problems, s.problems


# ---- /events ------------------------------------------------------------------

def test_event_reaches_the_hub_and_the_other_mobile_device_only(api):
    user = uid()
    phone_a, phone_b = "a-" + user, "b-" + user
    assert save_token(api, phone_a, "tok-a-" + user, token(user, device=phone_a)) == 200
    assert save_token(api, phone_b, "tok-b-" + user, token(user, device=phone_b)) == 200
    payload = {"Id": "c1", "UserId": user, "RevisionDate": "2026-11-23T10:00:00Z"}
    st, doc = post_event(api, {"Type": 1, "Payload": payload, "ContextId": phone_a,
                               "target": {"user": user}, "device_identifier": phone_a})
    assert st == 202 and doc["status"] == "accepted" and doc["uid"]
    [ev] = events_for(api, user)
    assert ev["target"] == "user" and ev["client_type"] == 0
    assert ev["notification"] == {"Type": 1, "Payload": payload, "ContextId": phone_a}
    bs = batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)
    assert tokens_of(bs) == ["tok-b-" + user], "one delivery, to the other device"
    data = bs[0]["notification"]["message"]["data"]
    assert data["type"] == "1" and json.loads(data["payload"]) == payload
    assert "contextId" not in data
    wait_sql(api, "select tokens from push_requests where uid = '%s'" % doc["uid"], "1")


def test_organization_event_reaches_members_devices(api):
    org, u1, u2 = uid(), uid(), uid()
    assert save_token(api, "d1-" + org, "o1-" + org, token(u1, orgs=[org])) == 200
    assert save_token(api, "d2-" + org, apns_token(org), token(u2, devicetype=1, orgs=[org])) == 200
    st, doc = post_event(api, {"Type": 18, "Payload": {"OrganizationId": org, "Enabled": True},
                               "target": {"organization": org}})
    assert st == 202
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["o1-" + org]
    [b] = batches_for(api.kafka.brokers, "apns", doc["uid"], lambda bs: bs)
    assert b["notification"]["headers"]["apns-push-type"] == "background"
    assert b["notification"]["payload"]["aps"] == {"content-available": 1}
    assert b["notification"]["payload"]["data"]["type"] == 18


def test_hub_only_events_send_no_mobile_push(api):
    user = uid()
    assert save_token(api, "h-" + user, "hub-" + user, token(user)) == 200
    for body in [
        {"Type": 0, "Payload": {"Id": "x", "UserId": user}, "target": {"user": user},
         "non_mobile_only": True},
        {"Type": 5, "Payload": {"UserId": user}, "target": {"user": user}, "client_type": 3},
    ]:
        st, doc = post_event(api, body)
        assert st == 202 and doc["uid"] is None, body
    assert len(events_for(api, user)) == 2


def test_context_id_excludes_the_acting_phone_for_every_type(api):
    user = uid()
    p1, p2 = "p1-" + user, "p2-" + user
    assert save_token(api, p1, "t1-" + user, token(user, device=p1)) == 200
    assert save_token(api, p2, "t2-" + user, token(user, device=p2)) == 200
    for body in [
        {"Type": 5, "Payload": {"UserId": user}, "ContextId": p1},  # routed, PascalCase
        {"type": 8, "payload": {"id": "f", "userId": user}, "contextId": p1},  # camelCase
        {"Type": 27, "Payload": {"UserId": user, "Premium": True}, "ContextId": p1,
         "target": {"user": user}},
    ]:
        st, doc = post_event(api, body)
        assert st == 202 and doc["uid"], body
        assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
            ["t2-" + user], body


def test_auth_request_response_reaches_the_other_phones_and_the_anonymous_hub(api):
    user, ar = uid(), uid()
    p1, p2 = "p1-" + user, "p2-" + user
    assert save_token(api, p1, "t1-" + user, token(user, device=p1)) == 200
    assert save_token(api, p2, apns_token(user), token(user, device=p2, devicetype=1)) == 200
    payload = {"Id": ar, "UserId": user}
    st, doc = post_event(api, {"Type": 16, "Payload": payload, "ContextId": p1})
    assert st == 202 and doc["uid"]
    [ev] = events_for(api, ar, "herald.broadcast")
    assert ev["target"] == "auth_request"
    assert ev["notification"] == {"Type": 16, "Payload": payload, "ContextId": p1}
    # P1 acted (approved on it): only P2 (an iPhone) is pushed, in the shape iOS reads
    [b] = batches_for(api.kafka.brokers, "apns", doc["uid"], lambda bs: bs)
    assert tokens_of([b]) == [apns_token(user)]
    data = b["notification"]["payload"]["data"]
    assert data["type"] == 16 and json.loads(data["payload"]) == payload
    assert batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: True, timeout=1) == []
    # camelCase as Vaultwarden-style producers write it; no acting device: both
    st, doc = post_event(api, {"type": 16, "payload": {"id": ar, "userId": user}})
    assert st == 202
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["t1-" + user]


def test_upper_case_guids_reach_lower_case_subjects(api):
    user = "0f8fad5b-d9cb-469f-a165-%012d" % (int(time.time() * 1000) % 10**12)
    assert save_token(api, "g-" + user, "g-" + user, token(user.upper())) == 200
    st, doc = post_event(api, {"Type": 5, "Payload": {"UserId": user.upper()}})
    assert st == 202
    [ev] = events_for(api, user)
    assert ev["target"] == "user"
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["g-" + user]


def test_unknown_types_are_accepted_counted_and_dropped(api):
    user = uid()
    assert save_token(api, "u-" + user, "unk-" + user, token(user)) == 200
    before = api.metric("herald_api_bitwarden_unknown_type_total", type="99") or 0
    for body in [{"Type": 99, "Payload": {"UserId": user}},
                 {"Type": 28, "Payload": {"UserId": user}, "target": {"user": user}}]:
        st, doc = post_event(api, body)
        assert st == 202 and doc == {"status": "dropped", "uid": None}, (st, doc)
    assert api.metric("herald_api_bitwarden_unknown_type_total", type="99") == before + 1
    assert api.metric("herald_api_bitwarden_unknown_type_total", type="28") >= 1
    # nothing reached the hub's topic for this user: a later event does
    marker = uid()
    assert post_event(api, {"Type": 5, "Payload": {"UserId": marker}})[0] == 202
    recs = read_topic(api.kafka.brokers, "herald.events",
                      lambda rs: any(isinstance(v, dict) and v.get("target_id") == marker
                                     for _, v in rs))
    assert [v for _, v in recs if isinstance(v, dict) and v.get("target_id") == user] == []


def test_payload_limit_is_the_providers(api):
    user = uid()
    assert save_token(api, "l-" + user, "lim-" + user, token(user)) == 200
    big = {"Id": "n", "UserId": user, "Title": "t" * 3000}
    st, doc = post_event(api, {"Type": 20, "Payload": big})
    assert st == 202 and doc["uid"]
    [b] = batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)
    assert json.loads(b["notification"]["message"]["data"]["payload"]) == big
    st, doc = post_event(api, {"Type": 20, "Payload": dict(big, Title="t" * 5000)})
    assert st == 400 and doc["error"] == "too_large", doc
    assert "the limit is 4096 bytes" in doc["message"], doc


def test_event_without_target_is_routed_from_its_payload(api):
    user = uid()
    assert save_token(api, "r-" + user, "routed-" + user, token(user)) == 200
    st, doc = post_event(api, {"Type": 5, "Payload": json.dumps({"UserId": user, "Date": "x"})})
    assert st == 202
    [ev] = events_for(api, user)
    assert ev["target"] == "user" and ev["notification"]["Type"] == 5
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["routed-" + user]


def test_installation_event_uses_the_relay_installations_devices(api):
    inst = uid()
    api.sql("insert into installations (id, key_hash) values ('%s', 'x')" % inst)
    api.sql("insert into devices (id, app, provider, token, platform, installation_id) values "
            "('i1-%s', 'default', 'fcm', 'inst-%s', 'android', '%s'), "
            "('i2-%s', 'default', 'fcm', 'other-%s', 'android', null)"
            % (inst, inst, inst, inst, inst))
    st, doc = post_event(api, {"Type": 20, "Payload": {"Id": "n", "InstallationId": inst},
                               "target": {"installation": inst}, "client_type": 4})
    assert st == 202
    wait_sql(api, "select state from push_requests where uid = '%s'" % doc["uid"], "done")
    assert batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: True, timeout=1) == []
    # client_type 4 (Mobile) filters on the device's client type: these rows have 0
    st, doc = post_event(api, {"Type": 20, "Payload": {"Id": "n", "InstallationId": inst},
                               "target": {"installation": inst}})
    assert tokens_of(batches_for(api.kafka.brokers, "fcm", doc["uid"], lambda bs: bs)) == \
        ["inst-" + inst]


def test_event_errors(api):
    good = {"Type": 1, "Payload": {"UserId": "u"}, "target": {"user": "u"}}
    assert post_event(api, good, key=None)[0] == 401
    assert post_event(api, good, key="wrong")[0] == 401
    assert http("POST", api.url + "/events", b"{no", headers=api.headers())[0] == 400
    for body in [
        {"Payload": {"UserId": "u"}, "target": {"user": "u"}},
        {"Type": "1", "Payload": {}, "target": {"user": "u"}},
        {"Type": 300, "Payload": {}, "target": {"user": "u"}},
        {"Type": 1, "target": {"user": "u"}},
        {"Type": 1, "Payload": "[1]", "target": {"user": "u"}},
        {"Type": 1, "Payload": {}, "target": {"planet": "u"}},
        {"Type": 1, "Payload": {}, "target": {"user": "u", "organization": "o"}},
        {"Type": 1, "Payload": {}, "target": {"user": ""}},
        {"Type": 1, "Payload": {}, "client_type": 9, "target": {"user": "u"}},
        {"Type": 1, "Payload": {}, "target": {"user": "u"}, "surprise": 1},
        {"Type": 1, "Payload": {}},  # no target, and no UserId to route by
        {"Type": 1, "Payload": {"x": "y" * 5000}, "target": {"user": "u"}},
    ]:
        st, doc = post_event(api, body)
        assert st == 400 and "error" in doc, (body, st, doc)
    assert api.metric("herald_api_events_total", result="rejected") >= 12
