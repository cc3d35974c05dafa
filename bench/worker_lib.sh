#!/bin/bash
# worker_lib.sh -- sourced by bench/worker_*.sh: herald-devkafka, herald-sim
# (20 ms simulated latency) with fresh credentials, and a push worker
# pointed at it, all on loopback and free ports; everything stops on exit.
# By default the worker (and the Node comparison) run pinned to CPU 0 and
# the simulator, Kafka and the load generator to the other CPUs
# (WORKER_CPUS, LOAD_CPUS), so their work is not charged to the worker.
#   BIN          binaries (default build/release/bin)
#   LATENCY_MS   simulated provider latency (default 20)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/build/release/bin}
LATENCY_MS=${LATENCY_MS:-20}
NCPU=$(nproc)
WORKER_CPUS=${WORKER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-$([ "$NCPU" -gt 1 ] && echo "1-$((NCPU - 1))" || echo 0)}
WORK=$(mktemp -d /tmp/herald-bench-worker.XXXXXX)
PIDS=()

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
        wait "${PIDS[$i]}" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap bench_cleanup EXIT INT TERM

machine() {
    echo "machine: $NCPU cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM, $(uname -sr); worker on CPU $WORKER_CPUS, simulator/Kafka/load on CPU $LOAD_CPUS"
}

stack_start() {
    taskset -c "$LOAD_CPUS" env HERALD_LOG_LEVEL=warn \
        HERALD_DEVKAFKA_BOOTSTRAP_FILE="$WORK/kafka.bootstrap" \
        "$BIN/herald-devkafka" </dev/null >/dev/null 2>"$WORK/devkafka.log" &
    PIDS+=($!)
    until [ -s "$WORK/kafka.bootstrap" ]; do
        kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/devkafka.log"; exit 1; }
        sleep 0.1
    done
    KAFKA=$(cat "$WORK/kafka.bootstrap")
    "$BIN/herald-sim" gen "$WORK/sim" >"$WORK/gen.log" 2>&1 || { cat "$WORK/gen.log"; exit 1; }
    set -a
    # shellcheck disable=SC1091
    . "$WORK/sim/credentials.env"
    set +a
    SIM_PORT=$(free_port)
    SIM_CONTROL=$(free_port)
    taskset -c "$LOAD_CPUS" env HERALD_LOG_LEVEL=warn HERALD_HTTP_ACCESS_LOG=false \
        HERALD_SIM_CREDENTIALS_DIR="$WORK/sim" HERALD_SIM_PORT="$SIM_PORT" \
        HERALD_SIM_CONTROL_PORT="$SIM_CONTROL" HERALD_SIM_LATENCY_MS="$LATENCY_MS" \
        HERALD_SIM_RECORDS_MAX=1000 HERALD_SIM_RECORD_BODY_MAX=256 \
        "$BIN/herald-sim" >"$WORK/sim.log" 2>&1 &
    PIDS+=($!)
    SIM_URL=http://127.0.0.1:$SIM_CONTROL
    until curl -fsS -o /dev/null "$SIM_URL/healthz" 2>/dev/null; do
        kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -n 5 "$WORK/sim.log"; exit 1; }
        sleep 0.1
    done
}

# worker_start PROVIDER [VAR=value ...]: the worker, waited for until ready.
worker_start() {
    local p=$1 port
    shift
    port=$(free_port)
    taskset -c "$WORKER_CPUS" env HERALD_LOG_LEVEL=warn HERALD_HTTP_ACCESS_LOG=false \
        HERALD_KAFKA_BROKERS="$KAFKA" HERALD_KAFKA_FETCH_WAIT_MAX_MS=5 \
        HERALD_KAFKA_LINGER_MS=5 HERALD_KAFKA_SESSION_TIMEOUT_MS=3000 \
        HERALD_KAFKA_HEARTBEAT_INTERVAL_MS=750 \
        HERALD_WORKER_CA_FILE="$HERALD_SIM_CA_FILE" \
        HERALD_WORKER_CONNECT_TO="::127.0.0.1:$SIM_PORT" \
        HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE="$HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE" \
        HERALD_WORKER_APNS_KEY_FILE="$HERALD_SIM_APNS_KEY_FILE" \
        HERALD_WORKER_APNS_KEY_ID="$HERALD_SIM_APNS_KEY_ID" \
        HERALD_WORKER_APNS_TEAM_ID="$HERALD_SIM_APNS_TEAM_ID" \
        HERALD_WORKER_APNS_TOPIC="$HERALD_SIM_APNS_TOPIC" \
        HERALD_WORKER_HMS_APP_ID="$HERALD_SIM_HMS_APP_ID" \
        HERALD_WORKER_HMS_CLIENT_SECRET="$HERALD_SIM_HMS_CLIENT_SECRET" \
        "HERALD_WORKER_$(echo "$p" | tr a-z A-Z)_PORT=$port" \
        "HERALD_WORKER_$(echo "$p" | tr a-z A-Z)_ADMIN_PORT=0" "$@" \
        "$BIN/herald-worker-$p" >"$WORK/worker-$p.log" 2>&1 &
    PIDS+=($!)
    WORKER_PID=$!
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
        kill -0 "$WORKER_PID" 2>/dev/null || { tail -n 5 "$WORK/worker-$p.log"; exit 1; }
        sleep 0.1
    done
}

# herald_run PROVIDER COUNT PER_BATCH [worker_run.py options]: produce,
# wait until the simulator counted COUNT deliveries, print one result line
# (and RESULT_* values).
herald_run() {
    local out
    out=$(taskset -c "$LOAD_CPUS" /usr/bin/python3 bench/worker_run.py \
        --brokers "$KAFKA" --sim "$SIM_URL" --provider "$1" --count "$2" \
        --batch "$3" --pid "$WORKER_PID" "${@:4}") || exit 1
    echo "$out" | grep -v '^RESULT'
    eval "$(echo "$out" | grep '^RESULT')"
}

# js_install: the pinned Node packages of bench/js (npm, not scripts/deps.sh).
js_install() {
    if [ ! -d bench/js/node_modules/firebase-admin ] ||
        [ ! -d bench/js/node_modules/@parse/node-apn ]; then
        (cd bench/js && npm install --no-audit --no-fund --loglevel=error) >&2 || exit 1
    fi
}

# js_run SCRIPT COUNT: a Node comparison pinned like the worker; sets
# JS_RATE, JS_CPU_RATE.
js_run() {
    local out
    curl -fsS -X POST "$SIM_URL/control/reset" >/dev/null
    out=$(taskset -c "$WORKER_CPUS" env NODE_EXTRA_CA_CERTS="$HERALD_SIM_CA_FILE" \
        SIM_ADDR="127.0.0.1:$SIM_PORT" SIM_URL="$SIM_URL" node "bench/js/$1" "$2") || exit 1
    echo "$out" | grep -v '^RESULT'
    eval "$(echo "$out" | grep '^RESULT')"
    # a comparison whose sends failed measures nothing: refuse to report it
    if [ "${RESULT_JS_OK:-0}" -ne "$2" ]; then
        echo "error: $1: only ${RESULT_JS_OK:-0} of $2 pushes were accepted" >&2
        exit 1
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
