"""test_hub_bitwarden.py -- herald-hub as a self-hosted Bitwarden server's
notifications service: POST /send with the server's own identity token
(RS256 from a JWKS this test serves: scope internal, issuer, lifetime, key
rotation, algorithm confusion), push types newer than this build accepted
and dropped, and user tokens without scope api refused, with the
official @microsoft/signalr client on the receiving end."""
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from harness import wait_for
from test_hub_signalr import SECRET, Clients, RawWS, metric, send, start_hub, token

ISSUER = "http://identity.test"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Jwks:
    """An identity server's /.well-known/openid-configuration/jwks."""

    def __init__(self):
        self.keys = {}
        self.fetches = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.fetches += 1
                body = json.dumps({"keys": [outer.jwk(k, p) for k, p in outer.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/.well-known/openid-configuration/jwks" % self.srv.server_port

    def add(self, kid):
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    @staticmethod
    def jwk(kid, priv):
        n = priv.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
                "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64u(n.e.to_bytes(3, "big"))}

    def token(self, kid, scope="internal", iss=ISSUER, exp_in=3600):
        claims = {"iss": iss, "client_id": "internal.Api", "scope": [scope],
                  "exp": int(time.time()) + exp_in, "nbf": int(time.time()) - 5}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def close(self):
        self.srv.shutdown()


def hs256_with_public_key(priv, kid):
    """The algorithm-confusion forgery: HS256 keyed with the public PEM."""
    pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    head = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64u(json.dumps({"iss": ISSUER, "scope": ["internal"],
                            "exp": int(time.time()) + 600}).encode())
    sig = hmac.new(pem, (head + "." + body).encode(), hashlib.sha256).digest()
    return head + "." + body + "." + b64u(sig)


def test_send_takes_the_identity_servers_tokens(stack):
    idp = Jwks()
    idp.add("k1")
    hub = start_hub(stack, HERALD_JWT_JWKS_URL=idp.url, HERALD_JWT_JWKS_MIN_REFRESH_S="1",
                    HERALD_HUB_INTERNAL_ISSUER=ISSUER)
    cl = Clients(hub, [{"id": "u", "token": token("0f8fad5b-d9cb-469f-a165-70867728950e"),
                        "protocol": "messagepack"}])
    body = {"type": 5, "payload": {"userId": "0F8FAD5B-D9CB-469F-A165-70867728950E",
                                   "date": "2026-01-02T03:04:05Z"}, "contextId": None}
    try:
        # NotificationsApiPushEngine's call: 200 and delivered (an upper-case
        # GUID reaches the lower-case sub)
        assert send(hub, body, key=idp.token("k1"))[0] == 200
        cl.wait(lambda evs: len(cl.messages("u")) == 1)
        assert cl.messages("u")[0]["arg"]["Payload"] == body["payload"]
        # refused: wrong scope, wrong issuer, expired, HS256 keyed with the
        # public key, a user token
        for bad in (idp.token("k1", scope="api"), idp.token("k1", iss="http://evil"),
                    idp.token("k1", exp_in=-600), hs256_with_public_key(idp.keys["k1"], "k1"),
                    token("0f8fad5b-d9cb-469f-a165-70867728950e")):
            assert send(hub, body, key=bad)[0] == 401
        # a key rotation: the new kid is fetched in the background, then accepted
        fetches = idp.fetches
        idp.add("k2")
        rotated = idp.token("k2")
        wait_for(lambda: send(hub, body, key=rotated)[0] == 200, timeout=10, what="k2 accepted")
        assert idp.fetches > fetches
        cl.wait(lambda evs: len(cl.messages("u")) == 2)
        # the static key still works
        assert send(hub, body)[0] == 200
        cl.wait(lambda evs: len(cl.messages("u")) == 3)
        # unknown kids do not make the hub hammer the identity server
        before = idp.fetches
        for i in range(20):
            send(hub, body, key=jwt.encode({"iss": ISSUER, "scope": ["internal"],
                                            "exp": int(time.time()) + 60},
                                           idp.keys["k1"], algorithm="RS256", headers={"kid": "nope"}))
        time.sleep(1.5)
        assert idp.fetches - before <= 2
    finally:
        cl.close()
        idp.close()


def test_unknown_types_are_accepted_dropped_and_counted(stack):
    hub = start_hub(stack)
    cl = Clients(hub, [{"id": "u", "token": token("user-x"), "protocol": "messagepack"}])
    try:
        for t in (28, 99):
            st, _, _ = send(hub, {"type": t, "payload": {"userId": "user-x"}})
            assert st == 200, t
        assert send(hub, {"Type": 5, "Payload": {"UserId": "user-x"}})[0] == 200
        cl.wait(lambda evs: len(cl.messages("u")) == 1)
        time.sleep(0.3)
        assert [m["arg"]["Type"] for m in cl.messages("u")] == [5]
        assert metric(hub, "herald_hub_bitwarden_unknown_type_total", type="99") == 1
        assert metric(hub, "herald_hub_bitwarden_unknown_type_total", type="28") == 1
        assert send(hub, {"type": 99, "payload": {}})[0] == 200
        assert metric(hub, "herald_hub_bitwarden_unknown_type_total", type="99") == 2
        assert hub.read_log().count("Type 99 is unknown") == 1, "logged once per type"
    finally:
        cl.close()


def test_user_hub_needs_scope_api(stack):
    hub = start_hub(stack)
    push_token = jwt.encode({"sub": "inst", "exp": int(time.time()) + 600, "scope": ["api.push"]},
                            SECRET, algorithm="HS256")
    ws = RawWS(hub.port, "/notifications/hub?access_token=" + push_token)
    assert ws.status == 401
    ws.close()
    ws = RawWS(hub.port, "/notifications/hub?access_token=" + token("u"))
    assert ws.status == 101
    ws.close()
