#!/bin/bash
# api_lib.sh -- sourced by bench/api_*.sh: starts a throwaway PostgreSQL,
# herald-devkafka and herald-api (release build by default) on free
# ports, and stops them on exit. Variables a caller may set first:
#   BIN        binaries (default build/release/bin)
#   API_ENV    extra VAR=value words for herald-api
# After api_start: API_URL, API_KEY, PG_DSN, KAFKA, API_PID, KAFKA_PID.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/build/release/bin}
WORK=$(mktemp -d /tmp/herald-bench-api.XXXXXX)
chmod 755 "$WORK"
API_KEY=bench-key
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
    sh scripts/pg.sh stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap bench_cleanup EXIT INT TERM

pg_start() {
    PG_DSN=$(sh scripts/pg.sh start "$WORK/pg" "$(free_port)") || exit 1
}

kafka_start() {
    HERALD_DEVKAFKA_BOOTSTRAP_FILE=$WORK/kafka.bootstrap "$BIN/herald-devkafka" \
        </dev/null >/dev/null 2>"$WORK/devkafka.log" &
    PIDS+=($!)
    KAFKA_PID=$!
    until [ -s "$WORK/kafka.bootstrap" ]; do
        kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/devkafka.log"; exit 1; }
        sleep 0.1
    done
    KAFKA=$(cat "$WORK/kafka.bootstrap")
}

# api_start [VAR=value ...]: herald-api, waited for until ready.
api_start() {
    local port admin
    port=$(free_port)
    admin=$(free_port)
    env HERALD_API_KEY=$API_KEY HERALD_PG_DSN="$PG_DSN" \
        HERALD_KAFKA_BROKERS="$KAFKA" HERALD_API_PORT="$port" \
        HERALD_API_ADMIN_PORT="$admin" \
        HERALD_HTTP_ACCESS_LOG=false HERALD_LOG_LEVEL=warn \
        HERALD_KAFKA_FETCH_WAIT_MAX_MS=5 HERALD_KAFKA_SESSION_TIMEOUT_MS=3000 \
        HERALD_KAFKA_HEARTBEAT_INTERVAL_MS=750 ${API_ENV:-} "$@" \
        "$BIN/herald-api" >"$WORK/api.log" 2>&1 &
    PIDS+=($!)
    API_PID=$!
    API_URL=http://127.0.0.1:$port
    API_ADMIN_URL=http://127.0.0.1:$admin # /metrics
    until curl -fsS -o /dev/null "$API_URL/readyz" 2>/dev/null; do
        kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -n 5 "$WORK/api.log"; exit 1; }
        sleep 0.1
    done
}

# user + system CPU ticks of a process so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# user + system CPU ticks of the PostgreSQL cluster so far: the postmaster,
# its live children and the children it has reaped
pg_cpu_ticks() {
    local pm t c
    pm=$(head -n 1 "$WORK/pg/data/postmaster.pid")
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    for c in $(cat /proc/"$pm"/task/*/children); do
        t=$((t + $(cpu_ticks "$c" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# ticks to seconds (two decimals)
ticks_s() { echo "scale=2; $1 / $(getconf CLK_TCK)" | bc; }

psql_q() { psql -X -q -tA -v ON_ERROR_STOP=1 "$PG_DSN" -c "$1"; }

machine() {
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM, $(uname -sr)"
}
