"""workerkit.py -- helpers for the push-worker integration tests
(test_worker_*.py): herald-devkafka, herald-sim and one herald-worker-<p>
pointed at the simulator (real hostnames, the simulator's CA, CONNECT_TO),
delivery batches produced straight to herald.deliver.<p>, and the
feedback and dead letters read back by uid.

Nothing sleeps to synchronise: the simulator's /control/wait long-polls,
Kafka topics are polled until a predicate holds.
"""
import json
import os
import tempfile
import time
import uuid

import pytest
from confluent_kafka import Producer

from api_support import read_topic
from harness import Stack, free_port, http, wait_for
from simkit import Sim

PORT_VAR = {"fcm": "HERALD_WORKER_FCM_PORT", "apns": "HERALD_WORKER_APNS_PORT",
            "hms": "HERALD_WORKER_HMS_PORT", "webpush": "HERALD_WORKER_WEBPUSH_PORT"}

# A VAPID key pair (RFC 8291 Appendix A's sender key, in web-push's format).
VAPID_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
VAPID_PUBLIC = ("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wE"
                "qKK6PBru3jl7A8")

# fast retries and pauses, so error paths finish within a test
FAST = {"HERALD_WORKER_MAX_ATTEMPTS": "3", "HERALD_WORKER_RETRY_WINDOW_S": "0",
        "HERALD_WORKER_BACKOFF_BASE_MS": "100",
        "HERALD_WORKER_BACKOFF_CAP_MS": "400", "HERALD_WORKER_PAUSE_MS": "300",
        "HERALD_WORKER_PAUSE_MAX_MS": "1000", "HERALD_WORKER_TIMEOUT_MS": "2000",
        "HERALD_HTTP_ACCESS_LOG": "false"}

NOTIFICATION = {
    "fcm": {"message": {"data": {"type": "1", "payload": "{\"id\":\"x\"}"}}},
    "apns": {"headers": {"apns-push-type": "alert", "apns-priority": "10"},
             "payload": {"aps": {"alert": "hi"}}},
    "hms": {"message": {"data": "{\"type\":\"1\"}"}},
    "webpush": {"payload": "{\"type\":1}"},
}


def uid():
    return "w-" + uuid.uuid4().hex[:16]


def tag():
    """A short unique hex string to prefix one test's tokens with."""
    return uuid.uuid4().hex[:8]


def token(provider, prefix=None):
    """A fresh token. The simulator picks outcomes by token prefix
    (docs/sim.md), so a plain token starts with one no rule uses ("00" for
    APNs, whose tokens are 64 hex digits, "ok-" elsewhere)."""
    if prefix is None:
        prefix = "00" if provider == "apns" else "ok-"
    if provider == "apns":
        body = uuid.uuid4().hex + uuid.uuid4().hex
        return (prefix + body)[:64]
    return prefix + uuid.uuid4().hex


def worker_env(provider, sim):
    c = sim.creds
    env = {"HERALD_WORKER_CA_FILE": c["HERALD_SIM_CA_FILE"],
           "HERALD_WORKER_CONNECT_TO": "::127.0.0.1:%d" % sim.port}
    if provider == "fcm":
        env["HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE"] = c["HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE"]
    elif provider == "webpush":
        # the one documented way to reach the simulator: its origin and
        # address named explicitly (HERALD_WORKER_CONNECT_TO is ignored)
        env = {"HERALD_WORKER_CA_FILE": c["HERALD_SIM_CA_FILE"],
               "HERALD_WEBPUSH_VAPID_PRIVATE_KEY": VAPID_PRIVATE,
               "HERALD_WEBPUSH_VAPID_PUBLIC_KEY": VAPID_PUBLIC,
               "HERALD_WEBPUSH_VAPID_SUBJECT": "mailto:ops@herald.test",
               "HERALD_WEBPUSH_TEST_SIMULATOR": "fcm.googleapis.com:443:127.0.0.1:%d"
                                                % sim.port}
    elif provider == "apns":
        env.update({"HERALD_WORKER_APNS_KEY_FILE": c["HERALD_SIM_APNS_KEY_FILE"],
                    "HERALD_WORKER_APNS_KEY_ID": c["HERALD_SIM_APNS_KEY_ID"],
                    "HERALD_WORKER_APNS_TEAM_ID": c["HERALD_SIM_APNS_TEAM_ID"],
                    "HERALD_WORKER_APNS_TOPIC": c["HERALD_SIM_APNS_TOPIC"]})
    else:
        env.update({"HERALD_WORKER_HMS_APP_ID": c["HERALD_SIM_HMS_APP_ID"],
                    "HERALD_WORKER_HMS_CLIENT_SECRET": c["HERALD_SIM_HMS_CLIENT_SECRET"]})
    return env


class Rig:
    """Kafka + simulator + one worker of `provider`."""

    def __init__(self, stack, provider, kafka=None, sim=None, sim_env=None, **wenv):
        self.stack = stack
        self.provider = provider
        self.kafka = kafka or stack.kafka()
        self.sim = sim or Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"), **(sim_env or {}))
        self.wenv = dict(FAST)
        self.wenv.update(wenv)
        self.worker = self.start_worker()

    def start_worker(self, **extra):
        e = {"HERALD_KAFKA_BROKERS": self.kafka.brokers}
        e.update(worker_env(self.provider, self.sim))
        e.update(self.wenv)
        e.update(extra)
        return self.stack.start("herald-worker-" + self.provider, self.stack.env(**e),
                                port_var=PORT_VAR[self.provider], wait="readyz")

    @property
    def topic(self):
        return "herald.deliver." + self.provider

    # ---- producing -------------------------------------------------------
    def batch(self, uid_, tokens=None, notification=None, attempt=0, not_before_ms=0,
              expire_at_ms=0, topic=None, condition=None):
        rec = {"v": 1, "uid": uid_, "app": "default", "provider": self.provider,
               "attempt": attempt, "not_before_ms": not_before_ms,
               "expire_at_ms": expire_at_ms, "created_ms": int(time.time() * 1000),
               "notification": notification or NOTIFICATION[self.provider]}
        if topic is not None:
            rec.update(recipient_type="topic", topic=topic)
        elif condition is not None:
            rec.update(recipient_type="condition", condition=condition)
        else:
            rec.update(recipient_type="device",
                       tokens=[{"token": t, "device": "dev-" + t[-12:]} for t in tokens])
        return rec

    def produce(self, records, raw=None):
        p = Producer({"bootstrap.servers": self.kafka.brokers, "linger.ms": 1})
        for i, r in enumerate(records):
            p.produce(self.topic, key=("%s:%d" % (r["uid"], i)).encode(),
                      value=json.dumps(r).encode())
        for v in raw or []:
            p.produce(self.topic, value=v)
        assert p.flush(30) == 0

    def send(self, uid_, tokens=None, **kw):
        self.produce([self.batch(uid_, tokens, **kw)])

    # ---- reading back ----------------------------------------------------
    def feedback(self, uid_, n, timeout=30.0):
        """The feedback records of uid_, once there are at least n."""
        recs = read_topic(self.kafka.brokers, "herald.feedback",
                          lambda rs: len([v for _, v in rs if isinstance(v, dict)
                                          and v.get("uid") == uid_]) >= n, timeout)
        return [v for _, v in recs if isinstance(v, dict) and v.get("uid") == uid_]

    def outcomes(self, uid_, n, timeout=30.0):
        """{token: (outcome, code)} of uid_'s first n outcomes."""
        return {f["token"]: (f["outcome"], f["code"]) for f in self.feedback(uid_, n, timeout)}

    def dlq(self, uid_, timeout=30.0):
        recs = read_topic(self.kafka.brokers, "herald.dlq",
                          lambda rs: any(isinstance(v, dict) and v.get("uid") == uid_
                                         for _, v in rs), timeout)
        return [v for _, v in recs if isinstance(v, dict) and v.get("uid") == uid_]

    def records(self, **q):
        q.setdefault("endpoint", "send")
        query = "&".join("%s=%s" % kv for kv in q.items())
        return self.sim.records("?provider=%s&limit=20000&%s" % (self.provider, query))

    def wait_records(self, count, timeout=30.0, **q):
        """Long-polls the simulator (8 s per call, below the client's 10 s
        socket timeout) until count matching requests were recorded."""
        q.setdefault("endpoint", "send")
        query = "&".join("%s=%s" % kv for kv in q.items())
        deadline = time.monotonic() + timeout
        while True:
            st, doc = self.sim.get("/control/wait?provider=%s&count=%d&%s&timeout_ms=8000"
                                   % (self.provider, count, query))
            if st == 200:
                return doc
            if time.monotonic() > deadline:
                raise AssertionError("simulator: %d %s requests not seen (%s)"
                                     % (count, query, doc))

    def metric(self, name, svc=None, **labels):
        """The value of one series of the worker's /metrics, 0 if absent."""
        st, _, body = http("GET", (svc or self.worker).admin_url + "/metrics")
        assert st == 200
        want = sorted('%s="%s"' % kv for kv in labels.items())
        for line in body.decode().splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, value = line.rsplit(" ", 1)
            got = []
            if "{" in series:
                n, rest = series.split("{", 1)
                got = [p for p in rest.rstrip("}").split(",") if p]
            else:
                n = series
            if n == name and all(w in got for w in want):
                return float(value)
        return 0.0


def accepted_tokens(r):
    """The distinct device tokens the simulator accepted (HMS: every token
    of an accepted request)."""
    out = set()
    for rec in r.records(accepted=1):
        out.update(rec.get("tokens") or [rec["token"]])
    return out


def crash_scenario(stack, provider, n, per_batch, first, graceful, latency_ms=100, **wenv):
    """Produces n tokens in batches, stops the worker once `first` requests
    were accepted (SIGKILL, or SIGTERM when graceful), restarts it and waits
    until every token was accepted. wenv: extra worker settings (a limit on
    requests in flight keeps batches unstarted at the stop). Returns
    (rig, tokens, records)."""
    r = Rig(stack, provider, sim_env={"HERALD_SIM_LATENCY_MS": latency_ms}, **wenv)
    u = uid()
    toks = [token(provider) for _ in range(n)]
    r.produce([r.batch(u, toks[i:i + per_batch]) for i in range(0, n, per_batch)])
    r.wait_records(first, accepted=1, timeout=60)
    if graceful:
        assert r.worker.stop() == 0
    else:
        r.worker.kill9()
    assert len(accepted_tokens(r)) < n, "everything finished before the stop"
    r.worker = r.start_worker()
    wait_for(lambda: len(accepted_tokens(r)) == n, timeout=120,
             what="every token delivered after the restart")
    assert accepted_tokens(r) == set(toks)
    # idle: nothing in flight and every batch finished
    wait_for(lambda: r.metric("herald_push_consuming_inflight_jobs") == 0
             and r.metric("herald_push_requests_inflight") == 0,
             timeout=30, what="the worker to be idle")
    return r, u, toks, r.records(accepted=1)


def rig_fixture(provider, **wenv):
    """A module-scoped Rig (starting Kafka, the simulator and a worker
    costs a few seconds; tests share it with their own uids and tokens)."""
    @pytest.fixture(scope="module")
    def rig(pg_cluster):
        s = Stack(pg=pg_cluster)
        try:
            r = Rig(s, provider, **wenv)
        except Exception:
            s.close()
            raise
        yield r
        s.close()
        if s.problems:
            pytest.fail("\n".join(s.problems), pytrace=False)
    return rig


__all__ = ["FAST", "NOTIFICATION", "Rig", "accepted_tokens", "crash_scenario", "free_port",
           "os", "rig_fixture", "tag", "token", "uid", "wait_for"]
