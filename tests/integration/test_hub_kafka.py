"""test_hub_kafka.py -- herald-hub consuming herald.events from
herald-devkafka: each replica reads every partition from the end it had
at start, with no consumer group and no commits (a replica leaves nothing
behind in Kafka), or, with HERALD_HUB_GROUP_ID, as a group that commits;
records with an explicit target and records routed from Type/Payload both
reach the official SignalR client; a malformed record is skipped; a record
of a push type newer than this build is dropped, counted and committed."""
import json
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from harness import http
from test_hub_signalr import Clients, metric, send, start_hub, token


def produce(p, record):
    p.produce("herald.events", json.dumps(record).encode(), key=b"k")
    p.flush(5)


def test_events_from_kafka(stack):
    kafka = stack.kafka()
    hub = start_hub(stack, HERALD_KAFKA_BROKERS=kafka.brokers)
    cl = Clients(hub, [{"id": "u", "token": token("k-user", orgadmin=["k-org"])},
                       {"id": "a", "token": None, "path": "/notifications/anonymous-hub?Token=k-ar",
                        "protocol": "json"}])
    p = Producer({"bootstrap.servers": kafka.brokers, "linger.ms": 1})
    try:
        # the hub starts at the end the partitions had when it started:
        # keep producing a probe until one arrives
        deadline = time.monotonic() + 30
        while not cl.messages("u"):
            assert time.monotonic() < deadline, "no event consumed in 30 s"
            produce(p, {"v": 1, "target": "user", "target_id": "k-user", "client_type": 0,
                        "notification": {"Type": 5, "Payload": {"UserId": "k-user"}, "ContextId": None},
                        "created_ms": int(time.time() * 1000)})
            time.sleep(0.5)
        n0 = len(cl.messages("u"))
        produce(p, {"v": 1, "notification": {"Type": 18, "Payload": {"OrganizationId": "k-org", "Enabled": False}}})
        produce(p, b"not json at all".decode())
        produce(p, {"v": 1, "target": "auth_request", "target_id": "k-ar",
                    "notification": {"Type": 16, "Payload": {"Id": "k-ar", "UserId": "k-user"}}})
        cl.wait(lambda evs: len(cl.messages("a")) == 1 and len(cl.messages("u")) == n0 + 1,
                what="org and auth-request events")
        org = cl.messages("u")[-1]
        assert org["target"] == "ReceiveMessage"
        assert org["arg"] == {"Type": 18, "Payload": {"OrganizationId": "k-org", "Enabled": False}}
        ar = cl.messages("a")[0]
        assert ar["target"] == "AuthRequestResponseRecieved" and ar["arg"]["Payload"]["Id"] == "k-ar"
        assert metric(hub, "herald_hub_events_total", source="kafka", result="malformed") == 1
        assert metric(hub, "herald_hub_event_lag_seconds_count") >= 1
        st, _, body = http("GET", hub.admin_url + "/readyz")
        assert st == 200 and json.loads(body)["checks"]["kafka"] == "ok"
        # no group: nothing committed under the consumer's (unused) id
        assert "no consumer group, no commits" in hub.read_log()
        assert hub.stop() == 0
        assert committed_vs_end(kafka.brokers, "herald-hub") == {}
    finally:
        cl.close()


def committed_vs_end(brokers, group):
    """(committed offset, end offset) of group on each herald.events
    partition it committed on."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    try:
        parts = c.list_topics("herald.events", timeout=10).topics["herald.events"].partitions
        tps = c.committed([TopicPartition("herald.events", p) for p in parts], timeout=10)
        return {tp.partition: (tp.offset, c.get_watermark_offsets(tp, timeout=10)[1])
                for tp in tps if tp.offset >= 0}
    finally:
        c.close()


def test_unknown_types_are_dropped_counted_and_committed(stack):
    """As on POST /send: a record of a newer server's push type (routed
    from its Type, or with an explicit target) is not malformed; it is
    logged once per type, counted, dropped, and its offset committed."""
    kafka = stack.kafka()
    hub = start_hub(stack, HERALD_KAFKA_BROKERS=kafka.brokers, HERALD_HUB_GROUP_ID="hub-unknown")
    cl = Clients(hub, [{"id": "u", "token": token("n-user")}])
    p = Producer({"bootstrap.servers": kafka.brokers, "linger.ms": 1})
    probe = {"v": 1, "notification": {"Type": 5, "Payload": {"UserId": "n-user"}}}
    try:
        deadline = time.monotonic() + 30
        while not cl.messages("u"):
            assert time.monotonic() < deadline, "no event consumed in 30 s"
            produce(p, probe)
            time.sleep(0.5)
        n0 = len(cl.messages("u"))
        produce(p, {"v": 1, "notification": {"Type": 28, "Payload": {"UserId": "n-user"}}})
        produce(p, {"v": 1, "target": "user", "target_id": "n-user",
                    "notification": {"Type": 99, "Payload": {"UserId": "n-user"}}})
        produce(p, {"v": 1, "notification": {"type": 99, "payload": {"userId": "n-user"}}})
        produce(p, {"v": 1, "notification": {"Type": 7, "Payload": {"Id": "f", "UserId": "n-user"}}})
        cl.wait(lambda evs: len(cl.messages("u")) == n0 + 1, what="the type-7 event after them")
        time.sleep(0.3)
        assert [m["arg"]["Type"] for m in cl.messages("u")[n0:]] == [7], "unknown types are dropped"
        assert metric(hub, "herald_hub_bitwarden_unknown_type_total", type="28") == 1
        assert metric(hub, "herald_hub_bitwarden_unknown_type_total", type="99") == 2
        assert metric(hub, "herald_hub_events_total", source="kafka", result="malformed") == 0
        assert hub.read_log().count("Type 99 is unknown") == 1, "logged once per type"
        # the committed offset passes a record only once every record
        # before it is done: reaching the end (past the type-7 record that
        # follows them) means the dropped ones were marked done too
        assert hub.stop() == 0
        offs = committed_vs_end(kafka.brokers, "hub-unknown")
        assert offs and all(c == end for c, end in offs.values()), offs
    finally:
        cl.close()


def stop_while_flowing(start, user, feed, feeders=1):
    """Three rounds: a hub from start() with four clients of user, feed()
    called over and over by feeders threads; SIGTERM once the clients get
    events, at a different point of the stream each round. The hub must
    exit 0 with no sanitizer report (the binaries under test are the ASan
    build)."""
    import threading

    for rnd in range(3):
        hub = start()
        cl = Clients(hub, [{"id": "u%d" % i, "token": token(user)} for i in range(4)])
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                feed(hub)

        ts = [threading.Thread(target=loop, daemon=True) for _ in range(feeders)]
        for t in ts:
            t.start()
        try:
            deadline = time.monotonic() + 30
            while not cl.messages("u0"):
                assert time.monotonic() < deadline, "no event delivered in 30 s"
                time.sleep(0.1)
            time.sleep(0.2 * rnd)
            assert hub.stop(timeout=30) == 0, hub.read_log()[-3000:]
            assert not hub.sanitizer_reports(), hub.read_log()[-6000:]
        finally:
            stop.set()
            for t in ts:
                t.join(10)
            cl.close()


def test_shutdown_while_events_flow_is_clean(stack):
    """SIGTERM while herald.events records stream in: the consumer stops
    before the service threads it dispatches to (an event dispatched into
    freed threads was a use-after-free)."""
    kafka = stack.kafka()
    p = Producer({"bootstrap.servers": kafka.brokers, "linger.ms": 0})
    rec = json.dumps({"v": 1, "target": "user", "target_id": "s-user", "client_type": 0,
                      "notification": {"Type": 5, "Payload": {"UserId": "s-user"}}}).encode()

    def produce(hub):
        for _ in range(200):
            try:
                p.produce("herald.events", rec, key=b"k")
            except BufferError:
                p.poll(0.01)
        p.poll(0)

    stop_while_flowing(lambda: start_hub(stack, HERALD_KAFKA_BROKERS=kafka.brokers,
                                         HERALD_HUB_THREADS="4"), "s-user", produce)
    p.flush(5)


def test_shutdown_while_sends_are_routed_is_clean(stack):
    """SIGTERM while POST /send requests stream in: a service thread that
    answers one routes the event into every thread's inbox, so every
    thread has stopped before any thread's inbox, lock or registry is
    freed."""
    body = {"Type": 5, "Payload": {"UserId": "r-user", "Date": "2026-01-01T00:00:00Z"}}

    def post(hub):
        try:
            send(hub, body)
        except Exception:  # noqa: BLE001 - refused once it stops
            pass

    stop_while_flowing(lambda: start_hub(stack, HERALD_HUB_THREADS="4"), "r-user", post,
                       feeders=4)
