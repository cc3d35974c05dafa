#!/bin/bash
# hub_idle.sh -- idle-connection benchmark: CONNS SignalR connections held
# by PROCS herald-hub processes sharing one port (SO_REUSEPORT; this
# machine's per-process descriptor limit is 20,000), opened by load
# clients of 10,000 connections each bound to 127.0.0.2, .3, ... Every
# connection sends the client's keep-alive Ping every 15 s and gets the
# hub's every 15 s. Reports user-space memory per connection (the hub
# processes' RSS and anonymous RSS deltas / connections) and the hubs'
# idle CPU over HOLD s, once per event loop of LOOPS (default "epoll
# poll": the same run measures both, one after the other).
#
#   [LOOPS="epoll poll"] bench/hub_idle.sh [CONNS=100000] [PROCS=7] [HOLD=60]
# Uses build/release/bin (BIN=...). Loopback only; bounded in time (each
# loop: a ramp of at most 200 s, 20 s of settling, HOLD s).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
CONNS=${1:-100000}
PROCS=${2:-7}
HOLD=${3:-60}
LOOPS=${LOOPS:-epoll poll}
PER_CLIENT=10000
PORT=${PORT:-18281}
SECRET=bench-secret-0123456789abcdef0123
PIDS=()
HUBS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    HUBS=()
}
trap cleanup EXIT

sum_status() { local t=0 p; for p in "${HUBS[@]}"; do t=$((t + $(awk -v k="$1:" '$1 == k {print $2}' /proc/$p/status))); done; echo $t; }
cpu() { local t=0 p; for p in "${HUBS[@]}"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
open_total() { local t=0 f l; for f in "$OUT"/load*.out; do l=$(tail -n 1 "$f" 2>/dev/null | sed -n 's/.*"open":\([0-9]*\).*/\1/p'); t=$((t + ${l:-0})); done; echo $t; }

run() {
    local loop=$1 epoll=true i n
    [ "$loop" = poll ] && epoll=false
    OUT=$(mktemp -d /tmp/hub-idle.XXXXXX)
    HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
    for i in $(seq "$PROCS"); do
        HERALD_HUB_PORT=$PORT HERALD_HUB_ADMIN_PORT=0 HERALD_JWT_SECRET=$SECRET HERALD_KAFKA_BROKERS=$(cat "$OUT/boot") \
        HERALD_HUB_THREADS=1 HERALD_LOG_LEVEL=warn HERALD_HUB_MAX_PER_USER=100000 \
        HERALD_HUB_MAX_PER_ADDRESS=100000 HERALD_HUB_EPOLL=$epoll \
            "$BIN/herald-hub" 2>"$OUT/hub$i.log" &
        PIDS+=($!)
        HUBS+=($!)
    done
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
    sleep 2
    local rss0 anon0 rss1 anon1 c0 c1 w0 w1 t0 ramp open failed closed f l
    rss0=$(sum_status VmRSS)
    anon0=$(sum_status RssAnon)
    local nclients=$(( (CONNS + PER_CLIENT - 1) / PER_CLIENT ))
    for i in $(seq "$nclients"); do
        n=$PER_CLIENT
        [ $((i * PER_CLIENT)) -gt "$CONNS" ] && n=$((CONNS - (i - 1) * PER_CLIENT))
        "$BIN/hub_load" --port "$PORT" --conns "$n" --secret $SECRET --users "$n" \
            --src "127.0.0.$((i + 1))" --rate "${RATE:-800}" --ping 15 --stats-ms 5000 \
            --duration $((HOLD + 240)) >"$OUT/load$i.out" &
        PIDS+=($!)
    done
    t0=$(date +%s)
    until [ "$(open_total)" -ge "$CONNS" ]; do
        [ $(( $(date +%s) - t0 )) -lt 200 ] || { echo "only $(open_total) of $CONNS connected" >&2; break; }
        sleep 1
    done
    ramp=$(( $(date +%s) - t0 ))
    sleep 20   # let the first keep-alive rounds settle
    rss1=$(sum_status VmRSS)
    anon1=$(sum_status RssAnon)
    c0=$(cpu); w0=$(date +%s.%N)
    sleep "$HOLD"
    c1=$(cpu); w1=$(date +%s.%N)
    open=$(open_total)
    failed=0 closed=0
    for f in "$OUT"/load*.out; do
        l=$(tail -n 1 "$f" | sed -n 's/.*"failed":\(-*[0-9]*\).*"closed":\([0-9]*\).*/\1 \2/p')
        set -- ${l:-0 0}
        failed=$((failed + $1))
        closed=$((closed + $2))
    done
    /usr/bin/python3 - <<PY
import json
# held: opened and not closed since (a client counts both)
conns, rss0, rss1, anon0, anon1 = $open - $closed, $rss0, $rss1, $anon0, $anon1
cpu_s = ($c1 - $c0) / $(getconf CLK_TCK)
wall = $w1 - $w0
print(json.dumps({"bench": "hub_idle", "loop": "$loop", "hub_processes": $PROCS,
                  "connections_held": conns, "failed": $failed, "closed": $closed, "ramp_s": $ramp,
                  "hub_rss_kb_before": rss0, "hub_rss_kb_after": rss1,
                  "user_bytes_per_conn": round((rss1 - rss0) * 1024 / max(conns, 1)),
                  "anon_bytes_per_conn": round((anon1 - anon0) * 1024 / max(conns, 1)),
                  "idle_cpu_cores": round(cpu_s / wall, 3),
                  "idle_cpu_us_per_conn_per_s": round(cpu_s * 1e6 / wall / max(conns, 1), 3),
                  "hold_s": round(wall, 1), "loadavg": open("/proc/loadavg").read().split()[:3]}))
PY
    cleanup
    rm -rf "$OUT"
}

for loop in $LOOPS; do
    run "$loop"
done
