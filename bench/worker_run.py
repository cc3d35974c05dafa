"""worker_run.py -- one push-worker measurement (bench/worker_*.sh):
produces COUNT device tokens in delivery batches of BATCH to
herald.deliver.<provider>, waits until herald-sim counted COUNT
deliveries, and reports the wall-clock rate and the pushes per CPU-second
of the worker process (utime + stime from /proc/<pid>/stat, before the
first record and after the last delivery). Web Push tokens are the
subscriptions of --subs, used in turn; --fetch-subs N only writes N
simulator subscriptions to that file.

Prints one human line and RESULT_* shell assignments.
"""
import argparse
import json
import os
import time
import urllib.parse
import urllib.request

from confluent_kafka import Producer

NOTIFICATION = {
    "fcm": {"message": {"data": {"type": "1", "payload": "{\"Id\":\"c1\",\"UserId\":\"u1\"}"}}},
    "apns": {"headers": {"apns-push-type": "background", "apns-priority": "5"},
             "payload": {"aps": {"content-available": 1},
                         "data": {"type": 1, "payload": "{\"Id\":\"c1\",\"UserId\":\"u1\"}"}}},
    "hms": {"message": {"data": "{\"type\":\"1\",\"payload\":\"{}\"}"}},
    # 200 bytes of plaintext, as bench/js/webpush.js sends
    "webpush": {"headers": {"TTL": 600},
                "payload": json.dumps({"type": 1, "payload": "x" * 176})},
}


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def control(sim, path, body=None):
    req = urllib.request.Request(sim + path, data=body, method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def fetch_subscriptions(sim, count, key, path):
    """COUNT subscriptions "ok-bench-<i>" made by the simulator for the
    VAPID public key, one JSON line each, into path."""
    with open(path, "w") as f:
        for i in range(count):
            q = urllib.parse.urlencode({"id": "ok-bench-%d" % i, "key": key})
            s = control(sim, "/control/webpush/subscription?" + q)
            f.write(json.dumps({"endpoint": s["endpoint"], "keys": s["keys"]},
                               separators=(",", ":")) + "\n")


def token(provider, i, subs=None):
    if subs:
        return subs[i % len(subs)]
    return "00%062x" % i if provider == "apns" else "ok-bench-%09d" % i


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers")
    ap.add_argument("--sim", required=True)
    ap.add_argument("--provider")
    ap.add_argument("--count", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--pid", type=int)
    ap.add_argument("--subs", help="Web Push: subscriptions file, used in turn")
    ap.add_argument("--fetch-subs", type=int, metavar="N",
                    help="only write N simulator subscriptions to --subs")
    ap.add_argument("--key", help="with --fetch-subs: the VAPID public key")
    a = ap.parse_args()
    if a.fetch_subs:
        fetch_subscriptions(a.sim, a.fetch_subs, a.key, a.subs)
        return
    if not (a.brokers and a.provider and a.count and a.batch and a.pid):
        ap.error("--brokers, --provider, --count, --batch and --pid are required")
    subs = None
    if a.subs:
        with open(a.subs) as f:
            subs = [line.strip() for line in f if line.strip()]

    control(a.sim, "/control/reset", b"{}")
    now = int(time.time() * 1000)
    records = []
    for b, first in enumerate(range(0, a.count, a.batch)):
        toks = [{"token": token(a.provider, i, subs), "device": "d%d" % i}
                for i in range(first, min(a.count, first + a.batch))]
        records.append(json.dumps({
            "v": 1, "uid": "bench-%d-%d" % (now, b), "app": "default", "provider": a.provider,
            "attempt": 0, "not_before_ms": 0, "expire_at_ms": 0, "created_ms": now,
            "recipient_type": "device", "notification": NOTIFICATION[a.provider],
            "tokens": toks}).encode())
    p = Producer({"bootstrap.servers": a.brokers, "linger.ms": 5})
    cpu0 = cpu_seconds(a.pid)
    t0 = time.monotonic()
    for i, r in enumerate(records):
        p.produce("herald.deliver." + a.provider, r, key=str(i).encode())
        p.poll(0)
    p.flush(60)
    deadline = t0 + 600
    while True:
        c = control(a.sim, "/control/counts")[a.provider]
        if c["delivered"] >= a.count:
            break
        if time.monotonic() > deadline:
            raise SystemExit("timed out: %d of %d delivered" % (c["delivered"], a.count))
        time.sleep(0.02)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(a.pid) - cpu0
    rate = a.count / wall
    cpu_rate = a.count / cpu if cpu > 0 else float("inf")
    print("herald-worker-%s: %d pushes (%d requests) in %.2f s wall = %.0f/s; "
          "worker CPU %.2f s = %.0f pushes per CPU-second"
          % (a.provider, a.count, c["requests"], wall, rate, cpu, cpu_rate))
    print("RESULT_RATE=%.0f RESULT_CPU_RATE=%.0f RESULT_CPU=%.2f RESULT_WALL=%.2f"
          % (rate, cpu_rate, cpu, wall))


if __name__ == "__main__":
    main()
