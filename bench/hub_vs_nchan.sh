#!/bin/bash
# hub_vs_nchan.sh -- the same fan-out on herald-hub and on nginx + nchan,
# side by side: CONNS WebSocket subscribers of one channel (hub: one
# organization), COUNT ~100-byte messages published one HTTP POST each
# (hub: POST /send; nchan: POST /pub), every delivery counted by the same
# load client. Each server runs one worker/thread pinned to CPU 0, the
# client on CPU 1. Reports deliveries per server CPU-second and the ratio.
#
#   bench/nchan-deps.sh; [PUBLISHERS=1] bench/hub_vs_nchan.sh [CONNS=10000] [COUNT=1000]
# PUBLISHERS=1 publishes one message at a time (each waits for the
# previous answer): one write per delivery on both servers. With several
# concurrent publishers messages arrive together and can share writes.
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
CONNS=${1:-10000}
COUNT=${2:-1000}
PUBLISHERS=${PUBLISHERS:-1}   # concurrent publishers, COUNT/PUBLISHERS each
OUT=$(mktemp -d /tmp/hub-vs-nchan.XXXXXX)
SECRET=bench-secret-0123456789abcdef0123
KEY=bench-key
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
TICK=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME SERVER_PID PORT LOAD_ARGS... -- SEND_ARGS...
run() {
    local name=$1 spid=$2 port=$3; shift 3
    local largs=() sargs=()
    while [ "$1" != "--" ]; do largs+=("$1"); shift; done
    shift
    sargs=("$@")
    taskset -c 1 "$BIN/hub_load" --port "$port" --conns "$CONNS" --rate 20000 \
        --duration 300 --expect $((CONNS * (COUNT / PUBLISHERS) * PUBLISHERS)) "${largs[@]}" >"$OUT/$name.load" &
    local load=$!
    until grep -q "\"open\":$CONNS," "$OUT/$name.load" 2>/dev/null; do sleep 0.2; done
    sleep 1
    local c0 t0 c1 t1
    c0=$(cpu "$spid"); t0=$(date +%s.%N)
    local j sp=()
    for j in $(seq "$PUBLISHERS"); do
        "$BIN/hub_load" --port "$port" --send $((COUNT / PUBLISHERS)) "${sargs[@]}" >>"$OUT/$name.send" &
        sp+=($!)
    done
    wait "${sp[@]}"
    wait $load || true
    c1=$(cpu "$spid"); t1=$(date +%s.%N)
    /usr/bin/python3 - "$OUT/$name.load" "$c0" "$c1" "$TICK" "$t0" "$t1" "$name" >>"$OUT/results" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
cpu_s = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4])
print(json.dumps({"server": sys.argv[7], "deliveries": last["deliveries"], "server_cpu_s": round(cpu_s, 2),
                  "wall_s": round(float(sys.argv[6]) - float(sys.argv[5]), 2),
                  "deliveries_per_cpu_s": round(last["deliveries"] / cpu_s) if cpu_s else None,
                  "p50_ms": round(last.get("lat_us", {}).get("p50", 0) / 1000, 1),
                  "p99_ms": round(last.get("lat_us", {}).get("p99", 0) / 1000, 1)}))
PY
}

# herald-hub (Kafka configured but unused here: events come by POST /send)
HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>"$OUT/dk.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
HPORT=18481
HERALD_HUB_PORT=$HPORT HERALD_HUB_ADMIN_PORT=0 HERALD_JWT_SECRET=$SECRET HERALD_INTERNAL_KEY=$KEY HERALD_HUB_THREADS=1 \
HERALD_KAFKA_BROKERS=$(cat "$OUT/boot") HERALD_HUB_QUEUE_MAX=4096 HERALD_LOG_LEVEL=warn HERALD_HUB_MAX_PER_ADDRESS=100000 \
    taskset -c 0 "$BIN/herald-hub" 2>"$OUT/hub.log" &
HUB=$!
PIDS+=($HUB)
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$HPORT/healthz" && break; sleep 0.1; done
run herald-hub "$HUB" "$HPORT" --secret $SECRET --org bench --ping 15 -- --key $KEY --org bench --pad 20
kill "$HUB"

# nginx + nchan, one worker
NPORT=18482
mkdir -p "$OUT/nginx/logs"
cat >"$OUT/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log $OUT/nginx/logs/error.log error;
pid $OUT/nginx/nginx.pid;
events { worker_connections 19000; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx;
    server {
        listen 127.0.0.1:$NPORT;
        location = /sub { nchan_subscriber websocket; nchan_channel_id bench; }
        location = /pub { nchan_publisher; nchan_channel_id bench; nchan_message_buffer_length 10; }
    }
}
CONF
taskset -c 0 nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" &
NGX=$!
PIDS+=($NGX)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$NPORT/pub" && break; sleep 0.1; done
run nchan "$NGX" "$NPORT" --raw --path /sub --ping 0 -- --raw --send-path /pub --key none --pad 60
cat "$OUT/results"
/usr/bin/python3 - "$OUT/results" <<'PY'
import json, sys
r = {j["server"]: j for j in map(json.loads, open(sys.argv[1]))}
h, n = r["herald-hub"]["deliveries_per_cpu_s"], r["nchan"]["deliveries_per_cpu_s"]
print(json.dumps({"ratio_hub_over_nchan": round(h / n, 2) if h and n else None}))
PY
