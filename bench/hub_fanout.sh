#!/bin/bash
# hub_fanout.sh -- fan-out benchmark: CONNS SignalR connections (one
# organization), a burst of COUNT ~100-byte notifications to it through
# herald.events, every delivery counted at the client. Reports deliveries
# per CPU-second of the hub process (utime + stime from /proc).
#
#   bench/hub_fanout.sh [CONNS=10000] [COUNT=1000] [PROTOCOL=messagepack|json]
# Uses build/release/bin (BIN=... to change). Loopback only; bounded.
# By default the hub runs one service thread pinned to CPU 0 and the load
# client is pinned to CPU 1 (HUB_THREADS, HUB_CPUS, LOAD_CPUS), so the
# client's work is not charged to, or competing with, the hub.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
CONNS=${1:-10000}
COUNT=${2:-1000}
PROTO=${3:-messagepack}
PORT=${PORT:-18181}
ADMIN_PORT=${ADMIN_PORT:-18182} # the hub's /metrics
OUT=$(mktemp -d /tmp/hub-fanout.XXXXXX)
SECRET=bench-secret-0123456789abcdef0123
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
BROKERS=$(cat "$OUT/boot")

HERALD_HUB_PORT=$PORT HERALD_HUB_ADMIN_PORT=$ADMIN_PORT HERALD_JWT_SECRET=$SECRET HERALD_KAFKA_BROKERS=$BROKERS \
HERALD_KAFKA_FETCH_WAIT_MAX_MS=5 HERALD_HUB_QUEUE_MAX=4096 HERALD_LOG_LEVEL=warn HERALD_HUB_MAX_PER_ADDRESS=100000 \
HERALD_HUB_THREADS=${HUB_THREADS:-1} \
    taskset -c "${HUB_CPUS:-0}" "$BIN/herald-hub" 2>"$OUT/hub.log" &
HUB=$!
PIDS+=($HUB)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done

JSONFLAG=""
[ "$PROTO" = json ] && JSONFLAG=--json
EXPECT=$((CONNS * COUNT))
taskset -c "${LOAD_CPUS:-1}" "$BIN/hub_load" --port "$PORT" --conns "$CONNS" --secret $SECRET --org bench --rate 20000 \
    --duration 300 --expect "$EXPECT" --batch-ms "${BATCH_MS:-0}" $JSONFLAG >"$OUT/load.out" &
LOAD=$!
PIDS+=($LOAD)
until grep -q "\"open\":$CONNS," "$OUT/load.out" 2>/dev/null; do sleep 0.2; done
# wait for the hub's consumer to own its partitions: probe until one arrives
for _ in $(seq 60); do
    /usr/bin/python3 bench/hub_produce.py "$BROKERS" 1 0 org:probe >/dev/null
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -q 'herald_hub_events_total{source="kafka",result="routed"} [1-9]' && break
    sleep 0.5
done
sleep 1
cpu() { awk '{print $14 + $15}' /proc/$HUB/stat; }
RSS0=$(awk '/VmRSS/{print $2}' /proc/$HUB/status)
C0=$(cpu); T0=$(date +%s.%N)
/usr/bin/python3 bench/hub_produce.py "$BROKERS" "$COUNT" 0 org:bench 20 >"$OUT/produce.out"
wait $LOAD || true
C1=$(cpu); T1=$(date +%s.%N)
RSS1=$(awk '/VmRSS/{print $2}' /proc/$HUB/status)
TICK=$(getconf CLK_TCK)
tail -n 1 "$OUT/load.out"
/usr/bin/python3 - "$OUT/load.out" "$C0" "$C1" "$TICK" "$T0" "$T1" "$CONNS" "$COUNT" "$PROTO" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
c0, c1, tick = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t0, t1 = float(sys.argv[5]), float(sys.argv[6])
cpu_s = (c1 - c0) / tick
d = last["deliveries"]
print(json.dumps({"bench": "hub_fanout", "protocol": sys.argv[9], "connections": int(sys.argv[7]),
                  "notifications": int(sys.argv[8]), "deliveries": d, "wall_s": round(t1 - t0, 3),
                  "hub_cpu_s": round(cpu_s, 2),
                  "deliveries_per_cpu_s": round(d / cpu_s) if cpu_s else None,
                  "latency_us": last.get("lat_us")}))
PY
