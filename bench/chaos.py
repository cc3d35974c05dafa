"""chaos.py -- the traffic and the counting of bench/chaos.sh.

Run by chaos.sh against the stack it started (the variables of
var/stack.env in the environment). It registers the push devices, starts
the hub clients (bench/chaos_clients.js), then for DURATION seconds sends

* pushes: send_push_notification to the user "chaos-push", whose devices
  are DEVICES per provider (FCM, APNs, HMS, Web Push); each push has a
  unique uid, carried in every provider's payload ("cid");
* Bitwarden events: POST /events, each with a unique Payload.Id; one in
  ORG_EVERY to the organization every hub client belongs to, the others
  to one client's user;

while chaos.sh breaks the stack. It retries what was not accepted (same
uid / event id) until RETRY_S after the end, then, once chaos.sh says
the stack is whole again (WORK/chaos.done), waits for the stragglers
and counts, at herald-sim (its recorded requests, polled all along) and
at the clients, what was expected, delivered, duplicated and lost.
Prints the tables and writes WORK/result.json.

    python3 bench/chaos.py WORK DURATION
"""
import concurrent.futures
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

WORK = sys.argv[1]
DURATION = float(sys.argv[2])
ENV = os.environ
API = ENV["HERALD_API_URL"]
KEY = ENV["HERALD_API_KEY"]
SIM = ENV["HERALD_SIM_URL"]
HUB = ENV["HERALD_HUB_URL"]
PUSH_RATE = float(ENV.get("CHAOS_PUSH_RATE", "10"))   # pushes per second
EVENT_RATE = float(ENV.get("CHAOS_EVENT_RATE", "10"))  # events per second
ORG_EVERY = int(ENV.get("CHAOS_ORG_EVERY", "10"))      # 1 event in N to the org
CLIENTS = int(ENV.get("CHAOS_CLIENTS", "1000"))
CLIENT_PROCS = int(ENV.get("CHAOS_CLIENT_PROCS", "2"))
DEVICES = int(ENV.get("CHAOS_DEVICES", "2"))           # per provider
RETRY_S = float(ENV.get("CHAOS_RETRY_S", "60"))
DRAIN_S = float(ENV.get("CHAOS_DRAIN_S", "150"))
GRACE_MS = int(ENV.get("CHAOS_GRACE_MS", "5000"))
PROVIDERS = ("fcm", "apns", "hms", "webpush")
RUN = "%x" % int(time.time())
ORG = "chaos-org-" + RUN
CID = re.compile(r"cp-%s-[0-9]+" % RUN)


def now_ms():
    return int(time.time() * 1000)


def log(msg):
    print("[chaos] %s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def post(url, body, key=KEY, timeout=5.0):
    """(HTTP status, parsed JSON or None); status 0 when there was no answer."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": "apikey " + key,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None
    except (OSError, ValueError):
        return 0, None


def get(url, timeout=10.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


# ---- set-up -----------------------------------------------------------------

def device_tokens():
    """provider -> [token] for the DEVICES devices of each provider."""
    vapid = ""
    for line in open(os.path.join(ENV["CHAOS_VAR"], "vapid.env")):
        if line.startswith("HERALD_WEBPUSH_VAPID_PUBLIC_KEY="):
            vapid = line.split("=", 1)[1].strip().strip("'\"")
    toks = {p: [] for p in PROVIDERS}
    for i in range(DEVICES):
        toks["fcm"].append("chaos-fcm-%s-%d" % (RUN, i))
        toks["apns"].append(hashlib.sha256(("chaos-apns-%s-%d" % (RUN, i)).encode()).hexdigest())
        toks["hms"].append("chaos-hms-%s-%d" % (RUN, i))
        sub = get("%s/control/webpush/subscription?%s" % (SIM, urllib.parse.urlencode(
            {"id": "chaos-%s-%d" % (RUN, i), "key": vapid})))
        toks["webpush"].append(json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]}))
    return toks


def register(toks):
    platform = {"fcm": "android", "apns": "ios", "hms": "android", "webpush": "web"}
    for p, ts in toks.items():
        for t in ts:
            st, doc = post(API + "/api/device_register",
                           {"provider": p, "token": t, "platform": platform[p], "user": "chaos-push"})
            if st != 200 or "result" not in (doc or {}):
                sys.exit("device_register %s failed: %s %s" % (p, st, doc))


def sim_token(provider, token):
    """The device token as herald-sim records it (Web Push: the id in the endpoint, before its key fingerprint)."""
    if provider == "webpush":
        return json.loads(token)["endpoint"].rsplit("/", 1)[1].split("~")[0]
    return token


# ---- senders ----------------------------------------------------------------

class Sender:
    """Sends items at a rate from a pool of threads; each item is retried
    (same id) until accepted or until the retry deadline."""

    def __init__(self, name, rate, attempt, threads=24):
        self.name, self.rate, self.attempt = name, rate, attempt
        self.pool = concurrent.futures.ThreadPoolExecutor(threads)
        self.items = []
        self.lock = threading.Lock()
        self.deadline = None

    def one(self, item):
        while True:
            t0 = now_ms()
            ok, why = self.attempt(item)
            item["attempts"] += 1
            if ok:
                item["sent_ms"], item["ack_ms"] = t0, now_ms()
                return
            item["last_error"] = why
            if time.time() > self.deadline:
                return
            time.sleep(0.5)

    def run(self, duration, make):
        self.deadline = time.time() + duration + RETRY_S
        start = time.time()
        futs = []
        n = 0
        while True:
            due = start + n / self.rate
            if due - start >= duration:
                break
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            item = make(n)
            item.update(attempts=0, first_ms=now_ms(), sent_ms=None, ack_ms=None, last_error=None)
            with self.lock:
                self.items.append(item)
            futs.append(self.pool.submit(self.one, item))
            n += 1
        return futs


def push_body(uid):
    cid = {"cid": uid}
    return {"uid": uid,
            "recipient": {"filter": {"users": ["chaos-push"]}},
            "notification": {
                "fcm": {"message": {"data": cid}},
                "apns": {"payload": {"aps": {"alert": "chaos"}, "cid": uid}},
                "hms": {"message": {"data": json.dumps(cid)}},
                "webpush": {"payload": json.dumps(cid)}}}


def push_attempt(item):
    st, doc = post(API + "/api/send_push_notification", push_body(item["uid"]))
    if st == 200 and (doc or {}).get("result", {}).get("uid") == item["uid"]:
        return True, None
    err = (doc or {}).get("error")
    if isinstance(err, dict) and err.get("code") in (104, 106, 107, 108):
        sys.exit("push refused as invalid: %s" % err)
    return False, "%s %s" % (st, json.dumps(err)[:80] if err else "")


def event_attempt(item):
    target = {"organization": ORG} if item["kind"] == "org" else {"user": item["user"]}
    body = {"Type": 5 if item["kind"] == "user" else 18,
            "Payload": {"Id": item["id"], "UserId": item.get("user"), "OrganizationId": ORG,
                        "Date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "ContextId": None, "target": target, "non_mobile_only": True}
    st, doc = post(API + "/events", body)
    if st == 202 and (doc or {}).get("status") == "accepted":
        return True, None
    if st == 400:
        sys.exit("event refused as invalid: %s" % doc)
    return False, "%s %s" % (st, json.dumps(doc)[:80] if doc else "")


# ---- herald-sim ---------------------------------------------------------------

class SimCollector(threading.Thread):
    """Polls herald-sim's accepted requests (since the last sequence number)
    and counts (provider, token, cid) deliveries."""

    def __init__(self):
        super().__init__(daemon=True)
        self.got = {}          # (provider, token, cid) -> times
        self.since = get(SIM + "/control/counts").get("last_seq", 0)
        self.gaps = 0          # polls that matched more than they returned
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.limit = int(ENV.get("HERALD_SIM_RECORDS_MAX", "20000"))

    def poll(self):
        doc = get("%s/control/records?accepted=1&since=%d&limit=%d" % (SIM, self.since, self.limit),
                  timeout=30)
        recs = doc.get("records", [])
        if doc.get("matched", 0) > len(recs):
            self.gaps += 1
        with self.lock:
            for r in recs:
                self.since = max(self.since, r["seq"])
                if r.get("endpoint", "").endswith("token"):
                    continue
                cids = set(CID.findall(json.dumps([r.get("body"), r.get("response")])))
                toks = r.get("tokens") or [r.get("token")]
                for c in cids:
                    for t in toks:
                        k = (r["provider"], t, c)
                        self.got[k] = self.got.get(k, 0) + 1
        return len(recs)

    def run(self):
        while not self.stop.is_set():
            try:
                self.poll()
            except (OSError, ValueError) as e:
                log("sim poll failed: %s" % e)
            self.stop.wait(1.0)


# ---- hub clients ----------------------------------------------------------------

def start_clients():
    procs = []
    per = (CLIENTS + CLIENT_PROCS - 1) // CLIENT_PROCS
    env = dict(ENV, NODE_PATH=os.path.join(ENV["CHAOS_ROOT"], "tests/js/node_modules"))
    for i in range(CLIENT_PROCS):
        n = min(per, CLIENTS - i * per)
        out = os.path.join(WORK, "clients.%d.json" % i)
        p = subprocess.Popen(["node", os.path.join(ENV["CHAOS_ROOT"], "bench/chaos_clients.js"),
                              HUB + "/notifications/hub", ENV["HERALD_JWT_SECRET"], "chaos-%s-" % RUN,
                              str(i * per), str(n), ORG, out],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        procs.append((p, out, n))
    up = [0] * len(procs)

    def follow(i, p):
        for line in p.stdout:
            w = line.split()
            if w and w[0] in ("ready", "up"):
                up[i] = int(w[1])
    for i, (p, _, _) in enumerate(procs):
        threading.Thread(target=follow, args=(i, p), daemon=True).start()
    t = time.time()
    while sum(up) < CLIENTS and time.time() - t < 120:
        time.sleep(0.5)
    log("hub clients connected: %d of %d" % (sum(up), CLIENTS))
    if sum(up) < CLIENTS:
        stop_clients(procs)
        sys.exit("not every hub client could connect")
    return procs


def stop_clients(procs):
    docs = {}
    for p, out, _ in procs:
        try:
            p.stdin.write("stop\n")
            p.stdin.flush()
        except OSError:
            pass
    for p, out, _ in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
        if os.path.exists(out):
            docs.update(json.load(open(out))["clients"])
    return docs


# ---- counting -----------------------------------------------------------------------

def count_pushes(pushes, toks, sim):
    rows = {}
    accepted = [p for p in pushes if p["ack_ms"] is not None]
    acc_ids = {p["uid"] for p in accepted}
    for prov in PROVIDERS:
        stoks = [sim_token(prov, t) for t in toks[prov]]
        expected = len(accepted) * len(stoks)
        delivered = dup = extra = 0
        for (pv, t, c), n in sim.items():
            if pv != prov:
                continue
            if c in acc_ids and t in stoks:
                delivered += 1
                dup += n - 1
            else:
                extra += n
        lost = [(c, t) for c in sorted(acc_ids) for t in stoks if (prov, t, c) not in sim]
        rows[prov] = {"expected": expected, "delivered": delivered, "duplicates": dup,
                      "lost": len(lost), "unexpected": extra, "lost_examples": lost[:5]}
    return rows


def count_hub(events, docs):
    """An event is expected at a client when a session of the client (the
    hub had answered its handshake) began before the accepted POST /events
    was sent and lasted until GRACE_MS after the answer. An expected event
    that never came is 'lost' when that session was still open at the end,
    'dropped' when the session closed later (the hub that held the event
    was killed before delivering it). Not expected: 'gap' (the client was
    reconnecting when the event was sent) and 'cut' (connected, but the
    connection closed within GRACE_MS of the answer); 'outside' counts
    those that arrived anyway."""
    clients = sorted(docs)
    users = {c: c for c in clients}
    r = {"events_sent": len(events), "events_accepted": 0, "expected": 0, "delivered": 0,
         "duplicates": 0, "lost": 0, "dropped": 0, "dup_resent": 0, "gap": 0, "cut": 0, "outside": 0,
         "lost_examples": []}
    for e in events:
        if e["ack_ms"] is None:
            continue
        r["events_accepted"] += 1
        targets = clients if e["kind"] == "org" else [e["user"]] if e["user"] in users else []
        for c in targets:
            d = docs[c]
            n = d["got"].get(e["id"], 0)
            cover = [s for s in d["sessions"] if s[0] <= e["sent_ms"] and s[1] >= e["ack_ms"] + GRACE_MS]
            if cover:
                r["expected"] += 1
                if n:
                    r["delivered"] += 1
                    r["duplicates"] += n - 1
                    if n > 1 and e["attempts"] > 1:
                        r["dup_resent"] += n - 1
                elif not cover[0][2]:
                    r["dropped"] += 1
                else:
                    r["lost"] += 1
                    if len(r["lost_examples"]) < 10:
                        r["lost_examples"].append({"event": e["id"], "client": c, "sent_ms": e["sent_ms"],
                                                   "ack_ms": e["ack_ms"], "sessions": d["sessions"][-4:]})
            else:
                if n:
                    r["outside"] += 1
                    r["duplicates"] += n - 1
                    if n > 1 and e["attempts"] > 1:
                        r["dup_resent"] += n - 1
                connected = any(s[0] <= e["sent_ms"] <= s[1] for s in d["sessions"])
                r["cut" if connected else "gap"] += 1
    return r


def main():
    toks = device_tokens()
    register(toks)
    log("devices: %d per provider for user chaos-push" % DEVICES)
    sim = SimCollector()
    sim.start()
    procs = start_clients()
    # the hub consumer is assigned by now; an org event every client must get
    # proves it before the measured traffic starts
    probe = {"kind": "org", "id": "probe-" + RUN, "user": None}
    for _ in range(60):
        if event_attempt(probe)[0]:
            break
        time.sleep(1)
    time.sleep(2)
    open(os.path.join(WORK, "traffic.started"), "w").close()
    log("traffic for %d s: %.0f pushes/s (%d devices each), %.0f events/s to %d hub clients"
        % (DURATION, PUSH_RATE, DEVICES * len(PROVIDERS), EVENT_RATE, CLIENTS))
    pushes = Sender("push", PUSH_RATE, push_attempt)
    events = Sender("event", EVENT_RATE, event_attempt)
    user_of = lambda n: "chaos-%s-u%d" % (RUN, random.randrange(CLIENTS))
    results = {}

    def go(name, s, make):
        results[name] = s.run(DURATION, make)
    th = [threading.Thread(target=go, args=("push", pushes, lambda n: {"uid": "cp-%s-%d" % (RUN, n)})),
          threading.Thread(target=go, args=("event", events, lambda n: {
              "id": "ce-%s-%d" % (RUN, n),
              "kind": "org" if n % ORG_EVERY == 0 else "user",
              "user": None if n % ORG_EVERY == 0 else user_of(n)}))]
    for t in th:
        t.start()
    for t in th:
        t.join()
    log("traffic done: %d pushes, %d events sent; retrying the unaccepted ones"
        % (len(pushes.items), len(events.items)))
    for f in results["push"] + results["event"]:
        f.result()
    done = os.path.join(WORK, "chaos.done")
    while not os.path.exists(done):
        time.sleep(0.5)
    log("stack whole again; waiting up to %d s for the last deliveries" % DRAIN_S)
    t = time.time()
    while time.time() - t < DRAIN_S:
        with sim.lock:
            rows = count_pushes(pushes.items, toks, dict(sim.got))
        missing = sum(r["lost"] for r in rows.values())
        if missing == 0:
            break
        time.sleep(2)
    time.sleep(max(0, GRACE_MS / 1000 + 2 - (time.time() - t)))
    sim.stop.set()
    sim.join()
    sim.poll()
    docs = stop_clients(procs)
    rows = count_pushes(pushes.items, toks, sim.got)
    hub = count_hub(events.items, docs)
    counts = get(SIM + "/control/counts")
    res = {"run": RUN, "duration_s": DURATION, "drain_s": round(time.time() - t, 1),
           "pushes_sent": len(pushes.items),
           "pushes_accepted": sum(1 for p in pushes.items if p["ack_ms"] is not None),
           "push_attempts": sum(p["attempts"] for p in pushes.items),
           "event_attempts": sum(e["attempts"] for e in events.items),
           "providers": rows, "hub": hub, "sim_gaps": sim.gaps, "sim_counts": counts,
           "reconnections": sum(len(d["sessions"]) - 1 for d in docs.values()),
           "unaccepted_pushes": [p for p in pushes.items if p["ack_ms"] is None][:10]}
    json.dump(res, open(os.path.join(WORK, "result.json"), "w"), indent=1)
    report(res)
    lost = sum(r["lost"] for r in rows.values())
    sys.exit(1 if lost or sim.gaps else 0)


def report(res):
    print()
    print("pushes: %d sent, %d accepted by herald-api (%d attempts); %.1f s to drain"
          % (res["pushes_sent"], res["pushes_accepted"], res["push_attempts"], res["drain_s"]))
    print()
    print("| Provider | Expected | Delivered | Duplicated | Lost |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for p, r in res["providers"].items():
        print("| %s | %d | %d | %d | %d |" % (p, r["expected"], r["delivered"], r["duplicates"], r["lost"]))
    h = res["hub"]
    print()
    print("hub: %d events sent, %d accepted; %d client reconnections"
          % (h["events_sent"], h["events_accepted"], res["reconnections"]))
    print()
    print("| Hub (event x client) | Expected | Delivered | Duplicated | Lost | Dropped with its connection "
          "| Not expected: reconnecting | Not expected: cut within %d s | Arrived though not expected |"
          % (GRACE_MS // 1000))
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("| %d events, %d clients | %d | %d | %d | %d | %d | %d | %d | %d |"
          % (h["events_accepted"], CLIENTS, h["expected"], h["delivered"], h["duplicates"], h["lost"],
             h["dropped"], h["gap"], h["cut"], h["outside"]))
    print()
    print("hub duplicates of events herald-api took twice (the sender retried after no answer): %d"
          % h["dup_resent"])
    for p, r in res["providers"].items():
        if r["lost"]:
            print("lost %s examples: %s" % (p, r["lost_examples"]))
    if h["lost_examples"]:
        print("lost hub examples: %s" % json.dumps(h["lost_examples"][:3]))
    if res["sim_gaps"]:
        print("WARNING: herald-sim's record ring overflowed between polls %d times" % res["sim_gaps"])


if __name__ == "__main__":
    main()
