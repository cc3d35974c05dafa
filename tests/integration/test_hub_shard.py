"""test_hub_shard.py -- herald-hub sharded by user (HERALD_HUB_SHARDS):
two shards behind the nginx example of deploy/k8s/hub-shards, events posted to
herald-api (which keys a user's events by user id and writes the others
to herald.broadcast), official SignalR clients of several users; every
event reaches its users exactly as through one unsharded hub, a
connection on the wrong shard is refused at the handshake, and GET
/shard answers for a token and refuses a bad one."""
import json
import os
import subprocess
import tempfile
import time
import uuid

from api_support import API_KEY, start_api
from harness import ROOT, free_port, http, http_json, wait_for
from test_hub_signalr import Clients, metric, start_hub, token

EXAMPLE = os.path.join(ROOT, "deploy", "k8s", "hub-shards", "hub-shards.conf")


def shard_of(hub, tok):
    st, hdrs, body = http("GET", hub.url + "/shard?access_token=" + tok)
    assert st == 200, body
    doc = json.loads(body)
    hdrs = {k.lower(): v for k, v in hdrs.items()}
    assert doc["shards"] == 2 and str(doc["shard"]) == hdrs.get("x-herald-shard")
    return doc["shard"]


class Nginx:
    """nginx running deploy/nginx/hub-shards.conf, the shards' addresses
    put in place of the StatefulSet's."""

    def __init__(self, shards):
        self.dir = tempfile.mkdtemp(prefix="herald-nginx-")
        self.port = free_port()
        conf = open(EXAMPLE).read()
        for k, hub in enumerate(shards):
            conf = conf.replace("herald-hub-shard-%d:8081" % k, "127.0.0.1:%d" % hub.port)
        assert ":8081;" not in conf
        conf = conf.replace("listen 8080;", "listen 127.0.0.1:%d;" % self.port)
        with open(os.path.join(self.dir, "shards.conf"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write("pid %s/nginx.pid;\nerror_log %s/error.log info;\n"
                    "events { worker_connections 256; }\n"
                    "http {\n access_log off;\n client_body_temp_path %s;\n"
                    " proxy_temp_path %s;\n include %s/shards.conf;\n}\n"
                    % ((self.dir,) * 4 + (self.dir,)))
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                                      "-g", "daemon off; master_process off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = "http://127.0.0.1:%d" % self.port
        wait_for(lambda: self._up(), timeout=10, what="nginx listening")

    def _up(self):
        try:
            http("GET", self.url + "/nothing", timeout=1)
            return True
        except OSError:
            return False

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def ready(hub):
    return http("GET", hub.url + "/readyz")[0] == 200


def users_per_shard(hub, n):
    """n users of each shard (user ids as Bitwarden's, GUIDs)."""
    found = {0: [], 1: []}
    while min(len(v) for v in found.values()) < n:
        u = str(uuid.uuid4())
        k = shard_of(hub, token(u))
        if len(found[k]) < n:
            found[k].append(u)
    return found


def settled(hubs):
    """The hubs' routed Kafka event counts once they stop changing."""
    def counts():
        return [metric(h, "herald_hub_events_total", source="kafka", result="routed") for h in hubs]
    last = [None]

    def same():
        now = counts()
        ok, last[0] = now == last[0], now
        if not ok:
            time.sleep(0.5)
        return ok
    wait_for(same, timeout=20, what="event counts settled")
    return last[0]


def post_event(api, body):
    st, doc = http_json("POST", api.url + "/events", body, headers={"Authorization": "apikey " + API_KEY})
    assert st == 202, doc


def test_two_shards_deliver_like_one_hub(stack, pg_cluster):
    kafka = stack.kafka()
    api = start_api(stack, pg_cluster, kafka=kafka)
    env = {"HERALD_KAFKA_BROKERS": kafka.brokers, "HERALD_HUB_SHARDS": "2"}
    shards = [start_hub(stack, HERALD_HUB_SHARD=str(k), **env) for k in (0, 1)]
    whole = start_hub(stack, HERALD_KAFKA_BROKERS=kafka.brokers)
    for h in shards + [whole]:
        wait_for(lambda: ready(h), timeout=30, what="hub ready")
    # GET /shard: its abuse cases first
    assert http("GET", shards[0].url + "/shard")[0] == 401
    assert http("GET", shards[0].url + "/shard?access_token=not.a.jwt")[0] == 401
    assert http("GET", shards[0].url + "/shard?access_token=" + token("x", secret="w" * 32))[0] == 401
    assert http("GET", whole.url + "/shard?access_token=" + token("x"))[0] == 404

    users = users_per_shard(shards[0], 2)
    every = users[0] + users[1]
    assert all(shard_of(shards[1], token(u)) == k for k in (0, 1) for u in users[k])
    org, ar = str(uuid.uuid4()), str(uuid.uuid4())
    members = [users[0][0], users[1][0]]

    def specs(base_url, tag):
        out = []
        for u in every:
            claims = {"orgadmin": [org]} if u in members else {}
            out.append({"id": tag + u, "url": base_url + "/notifications/hub",
                        "token": token(u, **claims), "tokenInQuery": True})
        out.append({"id": tag + "anon", "url": base_url + "/notifications/anonymous-hub?Token=" + ar,
                    "token": None, "protocol": "json"})
        return out

    nginx = Nginx(shards)
    routed = Clients(nginx, specs(nginx.url, "s:"))
    alone = Clients(whole, specs(whole.url, "w:"))
    wrong = Clients(shards[1], [{"id": "wrong", "url": shards[1].url + "/notifications/hub",
                                 "token": token(users[0][1]), "tokenInQuery": True}])
    try:
        assert not routed.of("error") and not alone.of("error")
        assert len(routed.of("connected")) == len(every) + 1
        # the wrong shard: refused at the handshake, naming the owner
        [err] = wrong.of("error", "wrong")
        assert "Wrong hub shard" in err["error"] and "belongs to shard 0" in err["error"], err
        assert metric(shards[1], "herald_hub_rejected_total", reason="wrong_shard") == 1
        # each shard holds its users only
        for k in (0, 1):
            wait_for(lambda: metric(shards[k], "herald_hub_connections", hub="main") == 2,
                     what="shard %d's connections" % k)

        # a probe per user until each one's is through both setups (the
        # unsharded hub starts at the latest offset once it has its group)
        deadline = time.monotonic() + 30
        while not all(routed.messages("s:" + u) and alone.messages("w:" + u) for u in every):
            assert time.monotonic() < deadline, "probes not delivered"
            for u in every:
                post_event(api, {"Type": 5, "Payload": {"UserId": u, "Date": "probe"}})
            time.sleep(0.5)
        before = settled([shards[0], shards[1], whole])
        sent = {u: [] for u in every}
        for i in range(3):
            for u in every:
                body = {"Type": 1, "Payload": {"Id": "c-%d-%s" % (i, u), "UserId": u,
                                               "RevisionDate": "2026-01-01T00:00:0%dZ" % i}}
                post_event(api, body)
                sent[u].append(body["Payload"]["Id"])
        post_event(api, {"Type": 18, "Payload": {"OrganizationId": org, "Enabled": True}})
        post_event(api, {"Type": 16, "Payload": {"Id": ar, "UserId": users[1][1]}})

        def got(cl, tag, u):  # all but the probes
            return [(m["target"], m["arg"]) for m in cl.messages(tag + u) if m["arg"]["Type"] != 5]

        want = {u: 3 + (1 if u in members else 0) for u in every}
        for cl, tag in ((routed, "s:"), (alone, "w:")):
            cl.wait(lambda evs: all(len(got(cl, tag, u)) >= want[u] for u in every)
                    and cl.messages(tag + "anon"), timeout=20, what=tag + " deliveries")
        time.sleep(1)  # nothing more arrives: no duplicate from the other shard
        for u in every:
            s, w = got(routed, "s:", u), got(alone, "w:", u)
            assert sorted(map(json.dumps, s)) == sorted(map(json.dumps, w)), u
            assert len(s) == want[u], (u, s)
            ids = [a["Payload"].get("Id") for t, a in s if a["Type"] == 1]
            assert ids == sent[u]  # one partition per user: in order
        assert [m["arg"]["Payload"]["Id"] for m in routed.messages("s:anon")] == [ar]
        assert [m["arg"]["Payload"]["Id"] for m in alone.messages("w:anon")] == [ar]
        # each shard read its own users' events and every broadcast, the
        # unsharded hub everything once
        after = settled([shards[0], shards[1], whole])
        delta = [a - b for a, b in zip(after, before)]
        assert delta == [3 * len(users[0]) + 2, 3 * len(users[1]) + 2, 3 * len(every) + 2]
    finally:
        wrong.close()
        routed.close()
        alone.close()
        nginx.close()
