"""simkit.py -- helpers for the herald-sim integration tests: start the
simulator with fresh credentials, talk HTTP/2 (python h2) and HTTP/1.1 to it
over TLS with the real provider hostnames in SNI and :authority (the socket
goes to 127.0.0.1), mint APNs and Google JWTs, and call the control API.

Nothing here sleeps to synchronise: reads block on the socket with a
timeout, and the control API's /control/wait long-polls.
"""
import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from harness import BIN, free_port, http_json

APNS = "api.push.apple.com"
APNS_SANDBOX = "api.sandbox.push.apple.com"
FCM = "fcm.googleapis.com"
GOOGLE_OAUTH = "oauth2.googleapis.com"
HMS_OAUTH = "oauth-login.cloud.huawei.com"
HMS = "push-api.cloud.huawei.com"
TOKEN64 = "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0"


def gen_credentials(directory):
    out = subprocess.run([os.path.join(BIN, "herald-sim"), "gen", directory],
                         capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")})
    assert out.returncode == 0, out.stderr
    env = {}
    with open(os.path.join(directory, "credentials.env")) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v
    return env


class Sim:
    """A running herald-sim plus its credentials."""

    def __init__(self, stack, directory, **extra):
        self.dir = directory
        self.creds = gen_credentials(directory)
        self.port = free_port()
        env = stack.env(HERALD_SIM_CREDENTIALS_DIR=directory, HERALD_SIM_PORT=self.port,
                        HERALD_SIM_THREADS=2, **extra)
        self.svc = stack.start("herald-sim", env, port_var="HERALD_SIM_CONTROL_PORT")
        self.control = self.svc.url
        with open(self.creds["HERALD_SIM_APNS_KEY_FILE"]) as f:
            self.apns_key = f.read()
        with open(self.creds["HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE"]) as f:
            self.sa = json.load(f)

    # ---- control API ----
    def get(self, path):
        return http_json("GET", self.control + path)

    def post(self, path, body=None):
        return http_json("POST", self.control + path, body if body is not None else {})

    def counts(self):
        return self.get("/control/counts")[1]

    def records(self, query=""):
        return self.get("/control/records" + query)[1]["records"]

    def wait(self, query, timeout_ms=5000):
        st, doc = self.get("/control/wait?%s&timeout_ms=%d" % (query, timeout_ms))
        assert st == 200, doc
        return doc

    def advance_clock(self, ms):
        st, doc = self.post("/control/clock", {"advance_ms": ms})
        assert st == 200, doc

    def rule(self, **spec):
        st, doc = self.post("/control/rules", spec)
        assert st == 201, doc
        return doc["id"]

    # ---- credentials ----
    def apns_jwt(self, iat=None, kid=None, iss=None, key=None, der=False):
        tok = jwt.encode({"iss": iss or self.creds["HERALD_SIM_APNS_TEAM_ID"],
                          "iat": int(time.time()) if iat is None else iat},
                         key or self.apns_key, algorithm="ES256",
                         headers={"kid": kid or self.creds["HERALD_SIM_APNS_KEY_ID"]})
        if der:
            head, sig = tok.rsplit(".", 1)
            raw = jwt.utils.base64url_decode(sig)
            r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            tok = head + "." + jwt.utils.base64url_encode(encode_dss_signature(r, s)).decode()
        return tok

    def google_assertion(self, **override):
        now = int(time.time())
        claims = {"iss": self.sa["client_email"],
                  "scope": "https://www.googleapis.com/auth/firebase.messaging",
                  "aud": self.sa["token_uri"], "iat": now, "exp": now + 3600}
        claims.update(override)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.sa["private_key"], algorithm="RS256",
                          headers={"kid": self.sa["private_key_id"]})

    def tls_context(self, alpn=("h2",)):
        ctx = ssl.create_default_context(cafile=self.creds["HERALD_SIM_CA_FILE"])
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def h2(self, host):
        return H2Client(self, host)

    def h1(self, host):
        return H1Client(self, host)


@pytest.fixture
def sim(stack):
    d = tempfile.mkdtemp(prefix="herald-sim-")
    yield Sim(stack, d)


class Response:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.reset = None  # RST_STREAM error code
        self.done = False

    def json(self):
        return json.loads(self.body)


class H2Client:
    """A minimal HTTP/2 client: one TLS connection, sequential or
    concurrent streams, GOAWAY and SETTINGS observed."""

    def __init__(self, sim, host, alpn=("h2",)):
        self.host = host
        raw = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
        self.sock = sim.tls_context(alpn).wrap_socket(raw, server_hostname=host)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self.streams = {}
        self.goaway = None
        self.max_streams = []  # every MAX_CONCURRENT_STREAMS the server sent
        self._flush()

    def _flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def start(self, path, headers=(), body=b"", method="POST", flush=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https"), (":authority", self.host),
                (":path", path)] + list(headers)
        if isinstance(body, str):
            body = body.encode()
        self.conn.send_headers(sid, hdrs, end_stream=not body)
        if body:
            self.conn.send_data(sid, body, end_stream=True)
        self.streams[sid] = Response()
        if flush:
            self._flush()
        return sid

    def flush(self):
        self._flush()

    def pump(self, timeout=10.0):
        """Reads once; returns False when the connection is closed."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            sid = getattr(ev, "stream_id", None)
            r = self.streams.get(sid)
            if isinstance(ev, h2.events.ResponseReceived):
                r.headers = dict(ev.headers)
                r.status = int(r.headers[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                r.body += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded):
                r.done = True
            elif isinstance(ev, h2.events.StreamReset):
                if r is not None:
                    r.reset = ev.error_code
                    r.done = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev
            elif isinstance(ev, h2.events.RemoteSettingsChanged):
                ch = ev.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
                if ch is not None:
                    self.max_streams.append(ch.new_value)
        self._flush()
        return True

    def wait(self, sid, timeout=10.0):
        deadline = time.monotonic() + timeout
        r = self.streams[sid]
        while not r.done:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("stream %d not answered" % sid)
            if self.goaway is not None and sid > self.goaway.last_stream_id:
                return r
            try:
                if not self.pump(left):
                    return r
            except socket.timeout:
                raise TimeoutError("stream %d not answered" % sid)
        return r

    def request(self, path, headers=(), body=b"", method="POST", timeout=10.0):
        return self.wait(self.start(path, headers, body, method), timeout)

    def settle(self, timeout=0.5):
        """Reads whatever the server sends within timeout (SETTINGS, GOAWAY)."""
        try:
            while self.pump(timeout):
                pass
        except (socket.timeout, ssl.SSLError, ConnectionError):
            pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # APNs shortcut
    def push(self, token=TOKEN64, jwt_token=None, topic="com.herald.sim", body=b'{"aps":{"alert":"hi"}}',
             extra=(), timeout=10.0):
        hdrs = [("apns-topic", topic)] if topic else []
        if jwt_token is not None:
            hdrs.append(("authorization", "bearer " + jwt_token))
        return self.request("/3/device/" + token, hdrs + list(extra), body, timeout=timeout)


class H1Client(http.client.HTTPSConnection):
    """HTTP/1.1 over TLS to the simulator with a real hostname in SNI and
    Host."""

    def __init__(self, sim, host, alpn=("http/1.1",)):
        super().__init__(host, 443, context=sim.tls_context(alpn), timeout=10)
        self._sim_port = sim.port

    def connect(self):
        raw = socket.create_connection(("127.0.0.1", self._sim_port), timeout=self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)

    def call(self, method, path, body=None, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        self.request(method, path, body=body, headers=headers or {})
        r = self.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def google_token(sim, assertion=None):
    """Gets an access token from the simulated Google token endpoint."""
    c = sim.h1(GOOGLE_OAUTH)
    st, _, body = c.call("POST", "/token",
                         "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
                         + (assertion or sim.google_assertion()),
                         {"Content-Type": "application/x-www-form-urlencoded"})
    c.close()
    assert st == 200, body
    return json.loads(body)["access_token"]


def hms_token(sim):
    c = sim.h1(HMS_OAUTH)
    st, _, body = c.call("POST", "/oauth2/v3/token",
                         "grant_type=client_credentials&client_id=%s&client_secret=%s"
                         % (sim.creds["HERALD_SIM_HMS_APP_ID"], sim.creds["HERALD_SIM_HMS_CLIENT_SECRET"]),
                         {"Content-Type": "application/x-www-form-urlencoded"})
    c.close()
    assert st == 200, body
    return json.loads(body)["access_token"]
