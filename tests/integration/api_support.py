"""api_support.py -- shared helpers for the herald-api integration tests
(test_api_*.py): one herald-api + herald-devkafka + fresh database per
test module, server-API calls, SQL, and reading Kafka topics back.

Starting a consumer group on the mock cluster costs ~3 s, so each module
starts one herald-api and its tests share it, each with its own users,
channels and uids. Kafka topics are read by partition assignment (no
group join), from the beginning, filtered by uid.
"""
import json
import os
import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from harness import KAFKA_TEST_ENV, Stack, http, http_json, wait_for

API_KEY = "test-api-key"


class Api:
    def __init__(self, stack, pg, dsn, kafka, svc):
        self.stack = stack
        self.pg = pg
        self.dsn = dsn
        self.kafka = kafka
        self.svc = svc

    @property
    def url(self):
        return self.svc.url

    def headers(self, key=API_KEY):
        return {"Authorization": "apikey " + key} if key else {}

    def call(self, method, params, envelope=False, key=API_KEY):
        """Returns (http status, parsed body)."""
        if envelope:
            return http_json("POST", self.url + "/api", {"method": method, "params": params},
                             headers=self.headers(key))
        return http_json("POST", "%s/api/%s" % (self.url, method), params, headers=self.headers(key))

    def ok(self, method, params, envelope=False):
        st, doc = self.call(method, params, envelope)
        assert st == 200 and isinstance(doc, dict) and "result" in doc, (method, st, doc)
        return doc["result"]

    def error(self, method, params, envelope=False):
        """The Centrifugo error object of a call that must fail."""
        st, doc = self.call(method, params, envelope)
        assert st == 200 and isinstance(doc, dict) and "error" in doc, (method, st, doc)
        return doc["error"]

    def register(self, token, provider="fcm", platform="android", **kw):
        params = {"provider": provider, "token": token, "platform": platform}
        params.update(kw)
        return self.ok("device_register", params)["device"]

    def sql(self, query):
        return self.pg.psql(self.dsn, query)

    def metrics(self):
        st, _, body = http("GET", self.svc.admin_url + "/metrics")
        assert st == 200
        return body.decode()

    def metric(self, name, **labels):
        """The value of one series, 0 if absent."""
        want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
        for line in self.metrics().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            series, value = line.rsplit(" ", 1)
            if "{" in series:
                n, rest = series.split("{", 1)
                got = ",".join(sorted(rest.rstrip("}").split(",")))
            else:
                n, got = series, ""
            if n == name and got == want:
                return float(value)
        return 0.0


def start_api(stack, pg_cluster, dsn=None, kafka=None, **env):
    kafka = kafka or stack.kafka()
    dsn = dsn or pg_cluster.new_database()
    e = {"HERALD_API_KEY": API_KEY, "HERALD_PG_DSN": dsn, "HERALD_KAFKA_BROKERS": kafka.brokers,
         "HERALD_HTTP_ACCESS_LOG": "false"}
    e.update(env)
    svc = stack.start("herald-api", stack.env(**e), port_var="HERALD_API_PORT", wait="readyz")
    return Api(stack, pg_cluster, dsn, kafka, svc)


def serve_api(pg_cluster, **env):
    """The body of a module fixture: one herald-api (with env) on its own
    Stack, yielded, then stopped; the module fails if it logged problems."""
    s = Stack(pg=pg_cluster)
    try:
        a = start_api(s, pg_cluster, **env)
    except Exception:
        s.close()
        raise
    yield a
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


@pytest.fixture(scope="module")
def api(pg_cluster):
    """One herald-api per test module."""
    yield from serve_api(pg_cluster, HERALD_JWT_SECRET="test-jwt-secret-0123456789abcdef")


def uid():
    return "t-" + uuid.uuid4().hex


def consumer(brokers):
    conf = {"bootstrap.servers": brokers, "group.id": "reader-" + uuid.uuid4().hex,
            "enable.auto.commit": False, "fetch.wait.max.ms": 5,
            "fetch.error.backoff.ms": 10}
    return Consumer(conf)


def read_topic(brokers, topic, until, timeout=30.0):
    """Reads every record of topic from the beginning (partition
    assignment, no group) until until(records) is true; returns the
    records as (key, value dict) pairs."""
    c = consumer(brokers)
    try:
        md = c.list_topics(topic, timeout=10)
        parts = md.topics[topic].partitions
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = c.poll(0.1)
            if m is None or m.error():
                if until(out):
                    return out
                continue
            try:
                val = json.loads(m.value())
            except ValueError:
                val = m.value()
            out.append((m.key().decode() if m.key() else None, val))
        if until(out):
            return out
        raise AssertionError("timed out reading %s: %d records" % (topic, len(out)))
    finally:
        c.close()


def batches_for(brokers, provider, uid_, until, timeout=30.0):
    """Delivery batches of one uid on herald.deliver.<provider>."""
    recs = read_topic(brokers, "herald.deliver." + provider,
                      lambda rs: until([v for _, v in rs if isinstance(v, dict) and v.get("uid") == uid_]),
                      timeout)
    return [v for _, v in recs if isinstance(v, dict) and v.get("uid") == uid_]


def tokens_of(batches):
    return [t["token"] for b in batches for t in b.get("tokens", [])]


def produce(brokers, topic, records, key=None):
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 1})
    for r in records:
        p.produce(topic, key=key, value=r if isinstance(r, (bytes, str)) else json.dumps(r))
    assert p.flush(30) == 0


def wait_sql(api, query, want, timeout=30.0):
    return wait_for(lambda: api.sql(query) == want or None, timeout=timeout,
                    what="%s == %r (last %r)" % (query, want, api.sql(query)))


__all__ = ["API_KEY", "Api", "KAFKA_TEST_ENV", "api", "batches_for", "consumer", "produce",
           "read_topic", "start_api", "tokens_of", "uid", "wait_for", "wait_sql", "os"]
