"""relaykit.py -- helpers for the herald-relay tests (test_relay*.py,
test_selfhosted.py): a throwaway TLS certificate, a herald-relay served
over HTTPS, raw HTTPS requests (the tests replay exact bytes), and the
whole chain behind a relay: herald-api's fan-out, the FCM and APNs
workers and herald-sim.
"""
import http.client
import json
import os
import ssl
import subprocess
import tempfile

from api_support import start_api
from harness import Exited, wait_for
from simkit import Sim
from workerkit import Rig

ADMIN_KEY = "test-relay-admin-key"


def gen_cert(directory):
    """A self-signed certificate for 127.0.0.1/localhost: (cert, key)."""
    cert = os.path.join(directory, "relay.crt")
    key = os.path.join(directory, "relay.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


class Relay:
    """A running herald-relay (HTTPS) and a client for it."""

    def __init__(self, stack, dsn, kafka, cert_dir=None, **env):
        self.dir = cert_dir or tempfile.mkdtemp(prefix="herald-relay-")
        self.cert, self.key = gen_cert(self.dir)
        e = {"HERALD_PG_DSN": dsn, "HERALD_KAFKA_BROKERS": kafka.brokers,
             "HERALD_RELAY_ADMIN_KEY": ADMIN_KEY,
             "HERALD_RELAY_TLS_CERT_FILE": self.cert,
             "HERALD_RELAY_TLS_KEY_FILE": self.key,
             "HERALD_RELAY_TOKEN_SECRET": "relay-token-secret-0123456789abcdef",
             "HERALD_RELAY_RATE": "1000", "HERALD_RELAY_TOKEN_RATE": "1000",
             "HERALD_HTTP_ACCESS_LOG": "false"}
        e.update(env)
        self.ctx = ssl.create_default_context(cafile=self.cert)
        for attempt in range(3):
            self.svc = stack.start("herald-relay", stack.env(**e),
                                   port_var="HERALD_RELAY_PORT", wait=None)
            self.port = self.svc.port
            try:
                wait_for(self._ready, timeout=30, what="herald-relay /readyz over HTTPS")
                return
            except Exited as ex:
                # the free port was taken by another process's connection
                # before the relay bound it: try another one
                if "Address already in use" not in str(ex) or attempt == 2:
                    raise
                stack.services.remove(self.svc)

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def _ready(self):
        if not self.svc.running():
            raise Exited("herald-relay exited:\n" + self.svc.read_log()[-4000:])
        return self.raw("GET", "/readyz")[0] == 200

    def raw(self, method, path, body=None, headers=None):
        """Sends exactly these bytes; returns (status, headers, body bytes)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                c.putheader(k, v)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None):
        st, h, raw = self.raw(method, path, body, headers)
        return st, h, (json.loads(raw) if raw else None)

    @property
    def admin_url(self):
        return "http://127.0.0.1:%d" % self.svc.admin_port

    def admin(self, method, path, body=None, headers=None):
        """A request to the admin listener (plain HTTP, 127.0.0.1): listing
        installations and rotating keys; (status, headers, JSON body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.svc.admin_port, timeout=10)
        try:
            c.request(method, path, body, headers or {})
            r = c.getresponse()
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, (json.loads(raw) if raw else None)
        finally:
            c.close()

    # ---- identity ---------------------------------------------------------
    def installation(self, email="ops@example.com"):
        st, _, doc = self.json("POST", "/installations",
                               json.dumps({"email": email}).encode(),
                               {"Content-Type": "application/json",
                                "Authorization": "Bearer " + ADMIN_KEY})
        assert st == 200, (st, doc)
        return doc["id"], doc["key"]

    def token(self, inst, key, scope="api.push"):
        """The token request exactly as the Bitwarden server and Vaultwarden
        send it (§4.1, §5.2)."""
        body = ("grant_type=client_credentials&scope=%s&client_id=installation.%s"
                "&client_secret=%s" % (scope, inst, key)).encode()
        st, _, doc = self.json("POST", "/connect/token", body,
                               {"Content-Type": "application/x-www-form-urlencoded"})
        assert st == 200, (st, doc)
        return doc["access_token"]

    def push(self, method, path, token, body=None, vaultwarden=True):
        """A /push call with the headers Vaultwarden (reqwest) or the
        Bitwarden server (HttpClient + JsonContent) send."""
        h = {"Authorization": "Bearer " + token}
        if body is not None:
            h["Content-Type"] = ("application/json" if vaultwarden
                                 else "application/json; charset=utf-8")
            h["Accept"] = "application/json"
        return self.raw(method, path, body, h)


class Chain:
    """What sits behind a relay: Kafka, herald-api (fan-out) on dsn, the
    FCM and APNs workers (and the others of `providers`), herald-sim."""

    def __init__(self, stack, pg_cluster, providers=("fcm", "apns")):
        self.kafka = stack.kafka()
        self.sim = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"))
        self.api = start_api(stack, pg_cluster, kafka=self.kafka)
        self.dsn = self.api.dsn
        self.rigs = {p: Rig(stack, p, kafka=self.kafka, sim=self.sim)
                     for p in providers}

    def records(self, provider, tok):
        return self.rigs[provider].records(token=tok)

    def wait(self, provider, tok, n=1):
        self.rigs[provider].wait_records(n, token=tok, accepted=1)
        return self.records(provider, tok)
