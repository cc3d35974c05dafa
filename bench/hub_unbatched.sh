#!/bin/bash
# hub_unbatched.sh -- the unbatched delivery path: CONNS SignalR
# connections in one organization, COUNT ~120-byte notifications sent by
# POST /send at RATE/s, slowly enough that each reaches every connection
# before the next arrives (one write per delivery). Reports the hub's CPU
# per delivery and, with perf installed, its send(), epoll_ctl() and
# epoll_wait() calls over the run; PERF=FILE also records a call-graph
# profile there (perf report -i FILE --no-children --sort dso).
#
#   bench/hub_unbatched.sh [CONNS=5000] [COUNT=30] [RATE=2]
# Uses build/release/bin (BIN=...). The hub runs one service thread on
# CPU 0, the client on CPU 1. Loopback only; bounded.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
CONNS=${1:-5000}
COUNT=${2:-30}
RATE=${3:-2}
PORT=${PORT:-18681}
OUT=$(mktemp -d /tmp/hub-unbatched.XXXXXX)
SECRET=bench-secret-0123456789abcdef0123
KEY=bench-key
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$OUT"
}
trap cleanup EXIT

HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
HERALD_HUB_PORT=$PORT HERALD_HUB_ADMIN_PORT=0 HERALD_JWT_SECRET=$SECRET HERALD_INTERNAL_KEY=$KEY \
HERALD_HUB_THREADS=1 HERALD_KAFKA_BROKERS=$(cat "$OUT/boot") HERALD_LOG_LEVEL=warn \
HERALD_HUB_MAX_PER_ADDRESS=100000 \
    taskset -c 0 "$BIN/herald-hub" 2>"$OUT/hub.log" &
HUB=$!
PIDS+=($HUB)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
taskset -c 1 "$BIN/hub_load" --port "$PORT" --conns "$CONNS" --rate 20000 --duration 300 \
    --expect $((CONNS * COUNT)) --secret $SECRET --org bench >"$OUT/load.out" &
LOAD=$!
PIDS+=($LOAD)
until grep -q "\"open\":$CONNS," "$OUT/load.out" 2>/dev/null; do sleep 0.2; done
sleep 1
cpu() { awk '{print $14 + $15}' /proc/$HUB/stat; }
C0=$(cpu)
STAT=
if command -v perf >/dev/null; then
    perf stat -e syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait \
        -p $HUB -o "$OUT/stat" &
    STAT=$!
fi
REC=
if [ -n "${PERF:-}" ]; then
    perf record -F 2000 -g -o "$PERF" -p $HUB 2>"$OUT/perf.log" &
    REC=$!
fi
sleep 0.5
"$BIN/hub_load" --port "$PORT" --send "$COUNT" --send-rate "$RATE" --key $KEY --org bench --pad 20 >"$OUT/send.out"
wait $LOAD || true
C1=$(cpu)
for p in $STAT $REC; do kill -INT "$p"; wait "$p" || true; done
/usr/bin/python3 - "$OUT" "$C0" "$C1" "$(getconf CLK_TCK)" "$CONNS" "$COUNT" <<'PY'
import json, os, re, sys
out, c0, c1, tick, conns, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
last = json.loads(open(out + "/load.out").read().strip().splitlines()[-1])
cpu_s = (c1 - c0) / tick
d = last["deliveries"]
res = {"bench": "hub_unbatched", "connections": conns, "notifications": count, "deliveries": d,
       "hub_cpu_s": round(cpu_s, 2), "hub_cpu_us_per_delivery": round(cpu_s * 1e6 / d, 2) if d else None,
       "loadavg": open("/proc/loadavg").read().split()[:3]}
if os.path.exists(out + "/stat"):
    for line in open(out + "/stat"):
        m = re.match(r"\s*([\d,]+)\s+syscalls:sys_enter_(\w+)", line)
        if m and d:
            res[m.group(2) + "_per_delivery"] = round(int(m.group(1).replace(",", "")) / d, 3)
print(json.dumps(res))
PY
