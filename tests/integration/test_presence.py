"""test_presence.py -- presence: herald-hub publishes which users are
connected on herald.presence (HERALD_HUB_PRESENCE), herald-api reads it
and, when the sender asks (HERALD_PUSH_SKIP_ONLINE for Bitwarden events,
skip_online on send_push_notification), skips the mobile push of a user
whose official @microsoft/signalr client is connected: nothing reaches
herald-sim, the device is recorded "skipped" (code "online") and counted.
The push is delivered after the client disconnects, after its hub is
killed with SIGKILL once the hub's lease ends, and after the hub lost the
disconnect's record while Kafka was down (it publishes under a new id
and its old users read offline); a restarted herald-api reads presence
from the start again, without committing offsets under its reader's
group; default off delivers while connected; a bad skip_online is error
107 naming the field."""
import json
import tempfile
import time
import uuid

import pytest

from api_support import API_KEY, start_api
from harness import Stack, http_json, wait_for
from simkit import Sim
from test_hub_signalr import Clients, metric, start_hub, token
from workerkit import Rig
from workerkit import token as fcm_token

LEASE_MS = 1500
FCM = {"fcm": {"message": {"data": {"type": "1"}}}}


class Rig2:
    """devkafka, herald-sim with herald-worker-fcm, one herald-api with
    HERALD_PUSH_SKIP_ONLINE (the fan-out), one without it and without a
    fan-out (its requests go through the first one's), one hub
    publishing presence."""

    def __init__(self, stack, pg_cluster):
        self.stack = stack
        self.kafka = stack.kafka()
        self.sim = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"))
        self.fcm = Rig(stack, "fcm", kafka=self.kafka, sim=self.sim)
        self.api = start_api(stack, pg_cluster, kafka=self.kafka, HERALD_PUSH_SKIP_ONLINE="true")
        self.plain = start_api(stack, pg_cluster, dsn=self.api.dsn, kafka=self.kafka,
                               HERALD_API_FANOUT="false", HERALD_API_FEEDBACK="false",
                               HERALD_API_SCHEDULER="false")
        self.hub = self.start_hub()

    def start_hub(self, **env):
        return start_hub(self.stack, HERALD_KAFKA_BROKERS=self.kafka.brokers,
                         HERALD_HUB_PRESENCE="true", HERALD_HUB_PRESENCE_LEASE_MS=str(LEASE_MS), **env)


@pytest.fixture(scope="module")
def rig(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        r = Rig2(s, pg_cluster)
    except Exception:
        s.close()
        raise
    yield r
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def user_with_phone(rig):
    user = str(uuid.uuid4())
    tok = fcm_token("fcm")
    dev = rig.api.register(tok, "fcm", "android", user=user)["id"]
    return user, tok, dev


def users_online(rig):
    return rig.api.metric("herald_api_presence_users")


def connect(rig, user, hub=None):
    """A client of user, once herald-api sees one more user online."""
    n = users_online(rig)
    c = Clients(hub or rig.hub, [{"id": "c", "token": token(user)}])
    c.wait(lambda evs: any(e["ev"] == "connected" for e in evs), 15, "client connected")
    c.base = n
    wait_users(rig, n + 1)
    return c


def disconnect(rig, c):
    c.close()
    wait_users(rig, c.base)


def wait_users(rig, n):
    seen = []

    def check():
        seen.append(users_online(rig))
        return seen[-1] == n
    try:
        wait_for(check, timeout=20, what="herald-api sees %d online user(s)" % n)
    except TimeoutError as e:
        raise TimeoutError("%s; it counted %s" % (e, sorted(set(seen)))) from None


def status(rig, uid_, n=1):
    """push_status_list's targets of uid_ once there are n."""
    def get():
        items = rig.api.ok("push_status_list", {"uid": uid_}).get("items") or []
        return items if len(items) >= n else None
    return wait_for(get, timeout=30, what="%d status row(s) of %s" % (n, uid_))


def post_event(api, user):
    st, doc = http_json("POST", api.url + "/events",
                        {"Type": 5, "Payload": {"UserId": user, "Date": "2026-01-01T00:00:00Z"},
                         "target": {"user": user}},
                        headers={"Authorization": "apikey " + API_KEY})
    assert st == 202, doc
    return doc["uid"]


def skipped(rig):
    return rig.api.metric("herald_push_skipped_online_total", provider="fcm")


def assert_skipped(rig, uid_, dev, tok):
    [row] = status(rig, uid_)
    assert (row["target"], row["status"], row["code"]) == (dev, "skipped", "online"), row
    # the skip is decided before any batch: nothing went to the simulator
    time.sleep(0.5)
    assert rig.fcm.records(token=tok) == []


def test_event_skipped_while_connected_delivered_after(rig):
    user, tok, dev = user_with_phone(rig)
    before = skipped(rig)
    c = connect(rig, user)
    try:
        uid1 = post_event(rig.api, user)
        # the hub event still reaches the connected client
        c.wait(lambda evs: any(e["ev"] == "message" and e["target"] == "ReceiveMessage" for e in evs),
               15, "the hub event")
        assert_skipped(rig, uid1, dev, tok)
        assert skipped(rig) == before + 1
        # default off (a herald-api without HERALD_PUSH_SKIP_ONLINE):
        # delivered while connected
        post_event(rig.plain, user)
        rig.fcm.wait_records(1, token=tok)
    finally:
        disconnect(rig, c)
    uid2 = post_event(rig.api, user)
    rig.fcm.wait_records(2, token=tok)
    [row] = status(rig, uid2)
    assert row["status"] == "sent", row
    assert skipped(rig) == before + 1


def test_send_skip_online_field(rig):
    user, tok, dev = user_with_phone(rig)
    other, otok, odev = user_with_phone(rig)
    c = connect(rig, user)
    try:
        # one online, one offline user in the same send
        uid1 = "skip-" + uuid.uuid4().hex
        rig.api.ok("send_push_notification", {
            "recipient": {"users": [user, other]}, "skip_online": True,
            "notification": dict(FCM, uid=uid1)})
        rig.fcm.wait_records(1, token=otok)
        rows = {r["target"]: r for r in status(rig, uid1, 2)}
        assert rows[dev]["status"] == "skipped" and rows[dev]["code"] == "online", rows
        assert rig.fcm.records(token=tok) == []
        # without the field: delivered though connected
        uid2 = "noskip-" + uuid.uuid4().hex
        rig.api.ok("send_push_notification", {
            "recipient": {"users": [user]}, "notification": dict(FCM, uid=uid2)})
        rig.fcm.wait_records(1, token=tok)
    finally:
        disconnect(rig, c)
    uid3 = "after-" + uuid.uuid4().hex
    rig.api.ok("send_push_notification", {
        "recipient": {"users": [user]}, "skip_online": True,
        "notification": dict(FCM, uid=uid3)})
    rig.fcm.wait_records(2, token=tok)


def test_send_skip_online_filter(rig):
    """A filter with users: online users' devices that match the rest of
    the filter are skipped (and only those recorded); with every user
    online nothing is sent, not every device of the app."""
    user, tok, dev = user_with_phone(rig)
    other, otok, _ = user_with_phone(rig)
    ios = rig.api.register("a" * 64, "apns", "ios", user=user)["id"]
    c = connect(rig, user)
    try:
        uid1 = "filter-" + uuid.uuid4().hex
        rig.api.ok("send_push_notification", {
            "recipient": {"filter": {"users": [user, other], "platforms": ["android"]}},
            "skip_online": True, "notification": dict(FCM, uid=uid1)})
        rig.fcm.wait_records(1, token=otok)
        rows = {r["target"]: r for r in status(rig, uid1, 2)}
        assert rows[dev]["status"] == "skipped", rows
        assert ios not in rows  # the filter's platforms: never a target
        uid2 = "alone-" + uuid.uuid4().hex
        rig.api.ok("send_push_notification", {
            "recipient": {"filter": {"users": [user]}},
            "skip_online": True, "notification": dict(FCM, uid=uid2)})
        [row] = status(rig, uid2)
        assert (row["target"], row["status"]) == (dev, "skipped"), row
        wait_for(lambda: rig.api.ok("push_status_list", {"uid": uid2})["request"]["state"] == "done",
                 timeout=20, what="the send done")
        time.sleep(0.5)
        assert rig.fcm.records(token=tok) == []
        assert len(rig.fcm.records(token=otok)) == 1
    finally:
        disconnect(rig, c)


def test_send_skip_online_bad_values(rig):
    user, _, _ = user_with_phone(rig)
    for bad in ("yes", 1, "true", [True], {"x": 1}):
        err = rig.api.error("send_push_notification", {
            "recipient": {"users": [user]}, "skip_online": bad, "notification": FCM})
        assert err["code"] == 107 and "skip_online" in err["message"], (bad, err)
    # presence knows users, not tokens, topics or filters without users
    for rcpt in ({"fcm_tokens": ["t"]}, {"filter": {"topics": ["news"]}},
                 {"filter": {"users": []}}, {"fcm_topic": "news"}):
        err = rig.api.error("send_push_notification", {
            "recipient": rcpt, "skip_online": True, "notification": FCM})
        assert err["code"] == 107 and "skip_online" in err["message"], (rcpt, err)


def test_crashed_hub_users_expire(rig):
    """A second hub killed with SIGKILL writes nothing more: its user
    counts as online until the lease ends, then is delivered to; the
    reader forgets the hub and tombstones its keys."""
    hub2 = rig.start_hub()
    user, tok, dev = user_with_phone(rig)
    c = connect(rig, user, hub=hub2)
    try:
        assert metric(hub2, "herald_hub_presence_users") == 1
        uid1 = post_event(rig.api, user)
        assert_skipped(rig, uid1, dev, tok)
        hubs = rig.api.metric("herald_api_presence_hubs")
        hub2.kill9()
        killed = time.monotonic()
        # forgotten after the lease ran out twice (its users read offline
        # after the first)
        wait_users(rig, c.base)
        assert time.monotonic() - killed >= LEASE_MS / 1000.0
        wait_for(lambda: rig.api.metric("herald_api_presence_hubs") == hubs - 1, timeout=20,
                 what="the dead hub forgotten")
        post_event(rig.api, user)
        rig.fcm.wait_records(1, token=tok)
    finally:
        c.close()


def test_lost_record_fails_towards_sending(rig):
    """The broker is down when the user leaves: the tombstone is never
    written. The hub, seeing the record fail, publishes under a new id and
    tombstones the old one's heartbeat, so the user reads offline (without
    that the old online record would stand, renewed by every heartbeat,
    and every push to the user would be skipped)."""
    hub3 = rig.start_hub(HERALD_KAFKA_SEND_TIMEOUT_MS="1000")
    user, tok, dev = user_with_phone(rig)
    c = connect(rig, user, hub=hub3)
    try:
        uid1 = post_event(rig.api, user)
        assert_skipped(rig, uid1, dev, tok)
        failed = metric(hub3, "herald_hub_presence_failed_total")
        rig.kafka.cmd("down 1")
        try:
            c.close()
            wait_for(lambda: metric(hub3, "herald_hub_presence_failed_total") > failed, timeout=20,
                     what="the hub's presence record failing")
        finally:
            rig.kafka.cmd("up 1")
        wait_for(lambda: metric(hub3, "herald_hub_presence_restarts_total") >= 1, timeout=20,
                 what="the hub publishing under a new id")
        wait_users(rig, c.base)
        uid2 = post_event(rig.api, user)
        rig.fcm.wait_records(1, token=tok)
        [row] = status(rig, uid2)
        assert row["status"] == "sent", row
    finally:
        c.close()
        hub3.stop()


def test_presence_records_on_the_topic(rig):
    """What a hub writes: the user's key on connect, its tombstone on
    disconnect, and a heartbeat per lease third (not per connection)."""
    from api_support import consumer
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    user = str(uuid.uuid4())
    n = users_online(rig)
    c = Clients(rig.hub, [{"id": "a", "token": token(user)}, {"id": "b", "token": token(user)}])
    c.wait(lambda evs: len([e for e in evs if e["ev"] == "connected"]) == 2, 15, "two connections")
    wait_users(rig, n + 1)
    c.close()
    # (the next test counts from here: the user must have read offline)
    wait_users(rig, n)
    k = consumer(rig.kafka.brokers)
    try:
        parts = k.list_topics("herald.presence", timeout=10).topics["herald.presence"].partitions
        k.assign([TopicPartition("herald.presence", p, OFFSET_BEGINNING) for p in parts])
        recs, deadline = [], time.monotonic() + 10
        while time.monotonic() < deadline:
            m = k.poll(0.2)
            if m is None or m.error():
                if any(r[1] is None for r in recs):
                    break
                continue
            key = m.key().decode()
            if key.endswith("/" + user):
                recs.append((key, m.value()))
    finally:
        k.close()
    # two connections of one user: one online record, one tombstone
    assert len(recs) == 2, recs
    assert recs[0][0] == recs[1][0] and recs[0][0].startswith("u/")
    assert json.loads(recs[0][1]) == {"lease_ms": LEASE_MS}
    assert recs[1][1] is None


def test_restarted_reader_sees_who_is_online(rig):
    """herald-api reads herald.presence from the beginning at every start
    under one fixed group id and commits nothing: restarted (after the
    other tests left a history of hubs), it sees a user who connected
    before it started and skips their push (the replay forgets no live
    hub), and the group holds no offsets (nothing piles up in Kafka
    across restarts)."""
    from api_support import consumer
    from confluent_kafka import TopicPartition

    user, tok, dev = user_with_phone(rig)
    c = connect(rig, user)
    try:
        online = users_online(rig)
        rig.api.svc.restart(wait="readyz")
        wait_users(rig, online)
        uid_ = "restarted-" + uuid.uuid4().hex
        rig.api.ok("send_push_notification", {
            "recipient": {"users": [user]}, "skip_online": True,
            "notification": dict(FCM, uid=uid_)})
        assert_skipped(rig, uid_, dev, tok)
    finally:
        disconnect(rig, c)
    k = consumer(rig.kafka.brokers)
    try:
        parts = k.list_topics("herald.presence", timeout=10).topics["herald.presence"].partitions
        k2 = consumer_of(rig.kafka.brokers, "herald-api-presence")
        try:
            got = k2.committed([TopicPartition("herald.presence", p) for p in parts], timeout=10)
        finally:
            k2.close()
    finally:
        k.close()
    assert len(got) == len(parts) > 0
    assert all(tp.offset < 0 for tp in got), got


def consumer_of(brokers, group):
    from confluent_kafka import Consumer
    return Consumer({"bootstrap.servers": brokers, "group.id": group,
                     "enable.auto.commit": False})
