#!/bin/bash
# hub_latency.sh -- the hub's share of event latency: herald.events record
# produced (to herald-devkafka) -> SignalR client receipt, at RATE events/s
# for COUNT events, each event addressed to one of USERS users with one
# connection each. Latency is measured by the client against the
# producer's clock (same machine). Consumer fetch wait: 1 ms.
#
#   bench/hub_latency.sh [RATE=1000] [COUNT=20000] [USERS=1000]
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
RATE=${1:-1000}
COUNT=${2:-20000}
USERS=${3:-1000}
PORT=${PORT:-18381}
ADMIN_PORT=${ADMIN_PORT:-18382} # the hub's /metrics
OUT=$(mktemp -d /tmp/hub-latency.XXXXXX)
SECRET=bench-secret-0123456789abcdef0123
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
BROKERS=$(cat "$OUT/boot")
HERALD_HUB_PORT=$PORT HERALD_HUB_ADMIN_PORT=$ADMIN_PORT HERALD_JWT_SECRET=$SECRET HERALD_KAFKA_BROKERS=$BROKERS \
HERALD_KAFKA_FETCH_WAIT_MAX_MS=1 HERALD_LOG_LEVEL=warn \
    "$BIN/herald-hub" 2>"$OUT/hub.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
"$BIN/hub_load" --port "$PORT" --conns "$USERS" --users "$USERS" --secret $SECRET \
    --duration 300 --expect "$COUNT" >"$OUT/load.out" &
LOAD=$!
PIDS+=($LOAD)
until grep -q "\"open\":$USERS," "$OUT/load.out" 2>/dev/null; do sleep 0.2; done
for _ in $(seq 60); do   # until the consumer owns its partitions
    /usr/bin/python3 bench/hub_produce.py "$BROKERS" 1 0 user:probe >/dev/null
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -q 'herald_hub_events_total{source="kafka",result="routed"} [1-9]' && break
    sleep 0.5
done
/usr/bin/python3 bench/hub_produce.py "$BROKERS" "$COUNT" "$RATE" "users:$USERS" 60 >"$OUT/produce.out"
wait $LOAD || true
cat "$OUT/produce.out"
# the hub's own view: record creation -> hand-off to the service threads
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep '^herald_hub_event_lag_seconds' >"$OUT/lag.txt"
/usr/bin/python3 - "$OUT/lag.txt" <<'PY'
import re, sys
b = [(float(m.group(1)), int(float(m.group(2)))) for m in
     (re.match(r'.*le="([^"]+)"\} (\S+)', l) for l in open(sys.argv[1])) if m and m.group(1) != "+Inf"]
tot = [int(float(l.split()[-1])) for l in open(sys.argv[1]) if l.startswith("herald_hub_event_lag_seconds_count")][0]
print("hub lag (created -> routed) buckets, share of events at or under:",
      ", ".join("%gms %.1f%%" % (le * 1000, 100.0 * c / tot) for le, c in b if le <= 0.5))
PY
/usr/bin/python3 - "$OUT/load.out" "$RATE" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
lat = last.get("lat_us", {})
print(json.dumps({"bench": "hub_latency", "path": "devkafka produce -> hub -> SignalR client",
                  "rate_per_s": float(sys.argv[2]), "received": last["deliveries"],
                  "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items() if k != "n"}}))
PY
