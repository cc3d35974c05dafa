#!/bin/bash
# hub_idle.sh -- idle-connection benchmark: CONNS SignalR connections held
# by PROCS herald-hub processes sharing one port (SO_REUSEPORT; this
# machine's per-process descriptor limit is 20,000), opened by load
# clients of 10,000 connections each bound to 127.0.0.2, .3, ... Every
# connection sends the client's keep-alive Ping every 15 s and gets the
# hub's every 15 s. Reports user-space memory per connection (RSS delta of
# the hub processes / connections) and the hubs' idle CPU over HOLD s.
#
#   bench/hub_idle.sh [CONNS=100000] [PROCS=7] [HOLD=60]
# Uses build/release/bin (BIN=...). Loopback only; bounded in time.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
CONNS=${1:-100000}
PROCS=${2:-7}
HOLD=${3:-60}
PER_CLIENT=10000
PORT=${PORT:-18281}
OUT=$(mktemp -d /tmp/hub-idle.XXXXXX)
SECRET=bench-secret-0123456789abcdef0123
PIDS=()
HUBS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
for i in $(seq "$PROCS"); do
    HERALD_HUB_PORT=$PORT HERALD_HUB_ADMIN_PORT=0 HERALD_JWT_SECRET=$SECRET HERALD_KAFKA_BROKERS=$(cat "$OUT/boot") \
    HERALD_HUB_THREADS=1 HERALD_LOG_LEVEL=warn HERALD_HUB_MAX_PER_USER=100000 \
        "$BIN/herald-hub" 2>"$OUT/hub$i.log" &
    PIDS+=($!)
    HUBS+=($!)
done
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
sleep 2
rss() { local t=0 p; for p in "${HUBS[@]}"; do t=$((t + $(awk '/VmRSS/{print $2}' /proc/$p/status))); done; echo $t; }
cpu() { local t=0 p; for p in "${HUBS[@]}"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
RSS0=$(rss)
NCLIENTS=$(( (CONNS + PER_CLIENT - 1) / PER_CLIENT ))
for i in $(seq "$NCLIENTS"); do
    n=$PER_CLIENT
    [ $((i * PER_CLIENT)) -gt "$CONNS" ] && n=$((CONNS - (i - 1) * PER_CLIENT))
    "$BIN/hub_load" --port "$PORT" --conns "$n" --secret $SECRET --users "$n" \
        --src "127.0.0.$((i + 1))" --rate "${RATE:-800}" --ping 15 --stats-ms 5000 \
        --duration $((HOLD + 240)) >"$OUT/load$i.out" &
    PIDS+=($!)
done
T0=$(date +%s)
open_total() { local t=0 f l; for f in "$OUT"/load*.out; do l=$(tail -n 1 "$f" 2>/dev/null | sed -n 's/.*"open":\([0-9]*\).*/\1/p'); t=$((t + ${l:-0})); done; echo $t; }
until [ "$(open_total)" -ge "$CONNS" ]; do
    [ $(( $(date +%s) - T0 )) -lt 200 ] || { echo "only $(open_total) of $CONNS connected"; break; }
    sleep 1
done
RAMP=$(( $(date +%s) - T0 ))
sleep 20   # let the first keep-alive rounds settle
RSS1=$(rss)
C0=$(cpu); W0=$(date +%s.%N)
sleep "$HOLD"
C1=$(cpu); W1=$(date +%s.%N)
OPEN=$(open_total)
FAILED=0; for f in "$OUT"/load*.out; do l=$(tail -n 1 "$f" | sed -n 's/.*"failed":\([0-9]*\).*"closed":\([0-9]*\).*/\1+\2/p'); FAILED=$((FAILED + ${l:-0})); done
TICK=$(getconf CLK_TCK)
/usr/bin/python3 - <<PY
import json
conns, rss0, rss1 = $OPEN, $RSS0, $RSS1
cpu_s = ($C1 - $C0) / $TICK
wall = $W1 - $W0
print(json.dumps({"bench": "hub_idle", "hub_processes": $PROCS, "connections_open": conns,
                  "failed_or_closed": $FAILED, "ramp_s": $RAMP,
                  "hub_rss_kb_before": rss0, "hub_rss_kb_after": rss1,
                  "user_bytes_per_conn": round((rss1 - rss0) * 1024 / max(conns, 1)),
                  "idle_cpu_cores": round(cpu_s / wall, 3),
                  "idle_cpu_us_per_conn_per_s": round(cpu_s * 1e6 / wall / max(conns, 1), 3),
                  "hold_s": round(wall, 1)}))
PY
