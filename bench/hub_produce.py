#!/usr/bin/python3
"""hub_produce.py -- produces herald.events records for the hub benchmarks:
COUNT organization (or user) notifications, each carrying its production
time in Payload.BenchTs (Unix microseconds) so hub_load can measure receipt
latency. RATE 0 = as fast as possible (a burst).

  hub_produce.py BROKERS COUNT RATE [org:ID | user:ID | users:N] [PAD_BYTES]

users:N spreads the events over the users load-0 .. load-(N-1), the
subjects of hub_load's tokens (one event reaches one user's connection).
A record keyed by a user id goes to the partition herald-api would
write it to (CRC-32 of the key modulo the partition count), so a hub
sharded by user reads it where it expects it.
"""
import json
import sys
import time
import zlib

from confluent_kafka import Producer


def main():
    brokers, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    kind, _, tid = (sys.argv[4] if len(sys.argv) > 4 else "org:bench").partition(":")
    pad = "x" * int(sys.argv[5] if len(sys.argv) > 5 else 20)
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 0, "queue.buffering.max.messages": 1000000})
    nparts = len(p.list_topics("herald.events", timeout=10).topics["herald.events"].partitions)
    t0 = time.monotonic()
    for i in range(count):
        if rate > 0:
            due = t0 + i / rate
            while True:
                left = due - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(0.0005, left))
        now_us = int(time.time() * 1e6)
        if kind == "org":
            target, payload = "organization", {"OrganizationId": tid, "Enabled": True}
        elif kind == "users":
            target, payload = "user", {"UserId": "load-%d" % (i % int(tid))}
        else:
            target, payload = "user", {"UserId": tid}
        payload["BenchTs"] = now_us
        payload["Pad"] = pad
        rec = {"v": 1, "target": target,
               "target_id": payload.get("UserId") or payload.get("OrganizationId"), "client_type": 0,
               "notification": {"Type": 18 if kind == "org" else 5, "Payload": payload, "ContextId": None},
               "created_ms": now_us // 1000}
        key = rec["target_id"].encode()
        p.produce("herald.events", json.dumps(rec, separators=(",", ":")).encode(),
                  key=key, partition=zlib.crc32(key) % nparts)
        p.poll(0)
    p.flush(30)
    print(json.dumps({"produced": count, "seconds": round(time.monotonic() - t0, 3)}))


if __name__ == "__main__":
    main()
