"""test_worker_webpush.py -- herald-worker-webpush against herald-sim's Web
Push service, with delivery batches produced straight to
herald.deliver.webpush: the exact payload decrypted (by the simulator and
by npm http_ece), VAPID, TTL/Urgency/Topic, every answer class, Retry-After
honoured, expiry never passed, and the SSRF guards: each refused endpoint
gets no connection (a canary listener counts them)."""
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from harness import ROOT
from workerkit import VAPID_PUBLIC, rig_fixture, tag, uid


class Canary:
    """A TCP listener that counts the connections it is offered."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            c.close()


CANARY4 = Canary()
CANARY6 = Canary(socket.AF_INET6, "::1")

# localhost:<canary> is allowed by origin, so only the connect-time check
# stands between the worker and a loopback address
rig = rig_fixture("webpush", HERALD_WEBPUSH_EXTRA_ORIGINS="https://localhost:%d" % CANARY4.port)


def subscribe(rig, id_, key=VAPID_PUBLIC):
    q = {"id": id_}
    if key:
        q["key"] = key
    st, doc = rig.sim.get("/control/webpush/subscription?" + urllib.parse.urlencode(q))
    assert st == 200, doc
    return doc


def token_of(sub):
    return json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]},
                      separators=(",", ":"))


def http_ece_decrypt(sub, body_b64):
    return subprocess.run(["node", os.path.join(ROOT, "tests/js/ece_decrypt_one.js"),
                           sub["ua_private"], sub["keys"]["auth"], body_b64],
                          check=True, capture_output=True, timeout=30).stdout.decode()


def test_delivers_the_exact_payload_encrypted(rig):
    u = uid()
    pre = "ok" + tag()
    subs = [subscribe(rig, "%s-%d" % (pre, i)) for i in range(3)]
    payload = json.dumps({"title": "Grüße", "body": "x" * 200})
    rig.send(u, [token_of(s) for s in subs],
             notification={"headers": {"TTL": 600, "Urgency": "high", "Topic": "news-1"},
                           "payload": payload})
    rig.wait_records(3, token_prefix=pre)
    out = rig.outcomes(u, 3)
    assert sorted(v for v in out.values()) == [("sent", "")] * 3
    rec = rig.records(token=pre + "-1")[0]
    assert rec["authority"] == "fcm.googleapis.com" and rec["proto"] == "h2"
    assert rec["status"] == 201 and rec["outcome"] == "success"
    h = rec["headers"]
    assert h["ttl"] == "600" and h["urgency"] == "high" and h["topic"] == "news-1"
    assert h["content-encoding"] == "aes128gcm"
    assert h["content-type"] == "application/octet-stream"
    assert h["authorization"].startswith("vapid t=") and h["authorization"].endswith(
        ", k=" + VAPID_PUBLIC)
    # the simulator decrypted it with its own code...
    assert rec["response"]["body"] == payload
    assert rec["response"]["headers"]["location"].startswith("https://fcm.googleapis.com/")
    # ...and so does an implementation nobody here wrote
    body = rec.get("body_base64")
    assert body, "the simulator keeps the raw body"
    assert http_ece_decrypt(subs[1], body) == payload
    # a fresh key pair and salt per message: no two bodies share a header
    bodies = {r["body_base64"][:100] for r in rig.records(token_prefix=pre)}
    assert len(bodies) == 3
    fb = rig.feedback(u, 3)[0]
    assert fb["provider"] == "webpush" and fb["http_status"] == 201


def test_every_answer_class(rig):
    u = uid()
    t = tag()
    ids = {"gone": "dead" + t, "notfound": "we03" + t, "toolarge": "we05" + t,
           "bad": "we00" + t, "ok": "ok" + t}
    subs = {k: subscribe(rig, v) for k, v in ids.items()}
    subs["otherkey"] = subscribe(rig, "ok2" + t,
                                 key="BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4"
                                     "bjyPjs7Vd8pZGH6SRpkNtoIAiw4")
    toks = {k: token_of(s) for k, s in subs.items()}
    rig.send(u, list(toks.values()))
    out = rig.outcomes(u, len(toks), timeout=40)
    assert out[toks["gone"]] == ("token_invalid", "Gone")
    assert out[toks["notfound"]] == ("token_invalid", "NotFound")
    assert out[toks["toolarge"]] == ("failed", "PayloadTooLarge")
    assert out[toks["bad"]] == ("failed", "BadRequest")
    assert out[toks["otherkey"]] == ("failed", "VapidRejected")
    assert out[toks["ok"]] == ("sent", "")
    # permanent answers are not retried
    assert len(rig.records(token=ids["gone"])) == 1
    assert len(rig.records(token="ok2" + t)) == 1


def test_retry_after_is_honoured(rig):
    u = uid()
    id_ = "04290002" + tag()            # 429 with Retry-After: 2, every time
    rig.send(u, [token_of(subscribe(rig, id_))])
    out = rig.outcomes(u, 1, timeout=40)
    assert list(out.values()) == [("failed", "TooManyRequests")]
    recs = sorted(rig.records(token=id_), key=lambda r: r["time_ms"])
    assert len(recs) == 3               # HERALD_WORKER_MAX_ATTEMPTS
    gaps = [b["time_ms"] - a["time_ms"] for a, b in zip(recs, recs[1:])]
    assert all(g >= 2000 for g in gaps), gaps


def test_expiry_is_never_passed(rig):
    u = uid()
    id_ = "04290030" + tag()            # Retry-After: 30 s
    now = int(time.time() * 1000)
    rig.send(u, [token_of(subscribe(rig, id_))], expire_at_ms=now + 3000)
    out = rig.outcomes(u, 1, timeout=20)
    assert list(out.values()) == [("expired", "TooManyRequests")]
    assert len(rig.records(token=id_)) == 1
    # and the push service is told to keep it no longer than that
    u2 = uid()
    id2 = "ok" + tag()
    rig.send(u2, [token_of(subscribe(rig, id2))], expire_at_ms=now + 100000,
             notification={"headers": {"TTL": 86400}, "payload": "x"})
    rig.wait_records(1, token=id2)
    assert int(rig.records(token=id2)[0]["headers"]["ttl"]) <= 100


def test_ssrf_endpoints_are_refused_without_a_connection(rig):
    u = uid()
    keys = subscribe(rig, "ok" + tag())["keys"]
    endpoints = [
        "https://127.0.0.1:%d/fcm/send/x" % CANARY4.port,
        "https://10.1.2.3/fcm/send/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]:%d/fcm/send/x" % CANARY6.port,
        "https://2130706433:%d/x" % CANARY4.port,
        "http://fcm.googleapis.com/fcm/send/x",
        "https://evil.example/fcm/send/x",
        # allowed by origin, resolves to loopback: refused at connect time
        "https://localhost:%d/fcm/send/x" % CANARY4.port,
    ]
    toks = [json.dumps({"endpoint": e, "keys": keys}) for e in endpoints]
    rig.send(u, toks)
    out = rig.outcomes(u, len(toks), timeout=60)
    for t in toks[:-1]:
        assert out[t] == ("failed", "bad_request"), (t, out[t])
    assert out[toks[-1]][0] == "failed"          # connect refused, every try
    assert CANARY4.hits == 0 and CANARY6.hits == 0


def test_redirect_is_not_followed(rig):
    u = uid()
    id_ = "we09" + tag()                # 301 to another subscription path
    rig.send(u, [token_of(subscribe(rig, id_))])
    out = rig.outcomes(u, 1, timeout=30)
    assert list(out.values()) == [("failed", "Redirect")]
    assert len(rig.records(token=id_)) == 1
    assert rig.records(token="redirected-" + id_) == []


def test_bad_notifications_are_failed_not_sent(rig):
    u = uid()
    id_ = "ok" + tag()
    rig.send(u, [token_of(subscribe(rig, id_))],
             notification={"headers": {"Urgency": "whenever"}, "payload": "x"})
    assert list(rig.outcomes(u, 1).values()) == [("failed", "bad_request")]
    u2 = uid()
    rig.send(u2, [token_of(subscribe(rig, id_))], notification={"payload": "y" * 3994})
    assert list(rig.outcomes(u2, 1).values()) == [("failed", "bad_request")]
    assert rig.records(token=id_) == []


def test_vapid_keygen_prints_a_usable_pair(rig):
    from harness import BIN
    r = subprocess.run([os.path.join(BIN, "herald-worker-webpush"), "vapid-keygen"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    kv = dict(line.split("=", 1) for line in r.stdout.split())
    assert len(kv["HERALD_WEBPUSH_VAPID_PUBLIC_KEY"]) == 87
    assert len(kv["HERALD_WEBPUSH_VAPID_PRIVATE_KEY"]) == 43


def test_simulator_named_by_host_name(rig):
    """The compose demo's form of the test setting: the simulator's address
    as a name (its service name there, "localhost" here), resolved once at
    start; the worker delivers to it and still refuses other loopback
    ports."""
    rig.worker.stop()                   # the only consumer is the new worker
    w = rig.start_worker(HERALD_WEBPUSH_TEST_SIMULATOR="fcm.googleapis.com:443:localhost:%d"
                                                     % rig.sim.port,
                         HERALD_WEBPUSH_EXTRA_ORIGINS="https://localhost:%d" % CANARY4.port)
    try:
        u = uid()
        pre = "ok" + tag()
        subs = [subscribe(rig, "%s-%d" % (pre, i)) for i in range(4)]
        rig.send(u, [token_of(s) for s in subs])
        rig.wait_records(4, token_prefix=pre)
        assert sorted(rig.outcomes(u, 4).values()) == [("sent", "")] * 4
        u2 = uid()
        canary = json.dumps({"endpoint": "https://localhost:%d/x" % CANARY4.port,
                             "keys": subs[0]["keys"]})
        rig.send(u2, [canary])
        assert list(rig.outcomes(u2, 1, timeout=60).values())[0][0] == "failed"
        assert CANARY4.hits == 0
    finally:
        w.stop()
        rig.worker = rig.start_worker()


def test_simulator_name_that_does_not_resolve_stops_the_start(rig):
    from harness import BIN
    env = dict(os.environ, HERALD_WEBPUSH_VAPID_PRIVATE_KEY="x" * 43,
               HERALD_WEBPUSH_VAPID_SUBJECT="mailto:ops@herald.test",
               HERALD_KAFKA_BROKERS=rig.kafka.brokers,
               HERALD_WEBPUSH_TEST_SIMULATOR="fcm.googleapis.com:443:no-such-sim.invalid:443")
    r = subprocess.run([os.path.join(BIN, "herald-worker-webpush")], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "does not resolve" in r.stdout + r.stderr
