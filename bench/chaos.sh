#!/bin/bash
# chaos.sh -- the chaos run: sustained traffic through the whole local
# stack while its parts fail, then a count of what arrived.
#
#   bench/chaos.sh [DURATION_S]     (default 180, at most 360; release build)
#
# Starts scripts/run.sh's stack (release binaries, its own var directory
# in /tmp and free ports, so it runs beside a `make run`) with
# HERALD_RUN_RESTART=true, so that a service that dies is started again
# as an orchestrator would. bench/chaos.py then registers 2 devices per
# provider (FCM, APNs, HMS, Web Push) and connects 1,000
# @microsoft/signalr hub clients, and for DURATION_S seconds sends pushes
# (send_push_notification, a unique uid in each provider's payload) and
# Bitwarden events (POST /events, a unique Payload.Id; one in ten to the
# organization of all 1,000 clients), while this script, in turn and
# again, every GAP_S seconds:
#
#   kills herald-api, each worker and herald-hub with -9 (run.sh starts
#   them again); takes herald-devkafka's broker down for 10 s; restarts
#   PostgreSQL; makes herald-sim answer 503 or 429 (Retry-After: 1) to
#   70 % of the sends of every provider for 10 s.
#
# Then the stack is whole again, chaos.py waits for the last deliveries
# and counts at herald-sim and at the clients (docs/reliability.md says
# exactly what counts as expected). Exit 0 when no push was lost. The
# whole run is bounded by 10 minutes.
#
# Variables: GAP_S (default 8), CHAOS_PUSH_RATE (10/s), CHAOS_EVENT_RATE
# (10/s), CHAOS_CLIENTS (1000), CHAOS_DEVICES (2), CHAOS_DRAIN_S (150),
# BIN (default build/release/bin), KEEP=1 keeps the work directory.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
DURATION=${1:-180}
GAP_S=${GAP_S:-8}
BIN=${BIN:-$ROOT/build/release/bin}
case "$DURATION" in '' | *[!0-9]*) echo "usage: bench/chaos.sh [DURATION_S]" >&2; exit 2 ;; esac
[ "$DURATION" -ge 20 ] && [ "$DURATION" -le 360 ] ||
    { echo "chaos.sh: DURATION_S must be 20..360 (the run is bounded by 10 minutes)" >&2; exit 2; }
for b in herald-api herald-hub herald-devkafka herald-sim herald-worker-fcm \
    herald-worker-apns herald-worker-hms herald-worker-webpush; do
    [ -x "$BIN/$b" ] || { echo "chaos.sh: $BIN/$b missing: run make release" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/herald-chaos.XXXXXX)
chmod 755 "$WORK"
VAR=$WORK/var
T0=$(date +%s)
STACK=
TRAFFIC=

say() { printf '[chaos] %s %s\n' "$(date +%H:%M:%S)" "$*"; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cleanup() {
    trap '' INT TERM EXIT
    [ -n "$TRAFFIC" ] && kill -TERM "$TRAFFIC" 2>/dev/null
    if [ -n "$STACK" ]; then
        kill -TERM "$STACK" 2>/dev/null
        wait "$STACK" 2>/dev/null
    fi
    if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# pid_of NAME: the newest pid run.sh recorded for a service
pid_of() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$VAR/run.pids"; }

# ---- the stack ---------------------------------------------------------------

say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/Mem:/{print $2}') GB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
for v in API HUB RELAY SIM SIM_CONTROL PG WORKER_FCM WORKER_APNS WORKER_HMS WORKER_WEBPUSH \
    API_ADMIN HUB_ADMIN RELAY_ADMIN WORKER_FCM_ADMIN WORKER_APNS_ADMIN WORKER_HMS_ADMIN \
    WORKER_WEBPUSH_ADMIN; do
    export "HERALD_${v}_PORT=$(free_port)"
done
# 1,000 clients come from one address, and reconnect all at once
HERALD_VAR_DIR=$VAR HERALD_BIN_DIR=$BIN HERALD_RUN_RESTART=true HERALD_HUB_MAX_PER_ADDRESS=5000 \
    HERALD_LOG_LEVEL=info HERALD_HTTP_ACCESS_LOG=false \
    HERALD_SIM_RECORDS_MAX=50000 HERALD_SIM_RECORD_BODY_MAX=1024 \
    setsid bash scripts/run.sh >"$WORK/run.log" 2>&1 </dev/null &
STACK=$!
until [ -s "$VAR/stack.env" ]; do
    kill -0 "$STACK" 2>/dev/null || { cat "$WORK/run.log"; exit 1; }
    [ $(($(date +%s) - T0)) -lt 180 ] || { say "the stack did not start in 180 s"; cat "$WORK/run.log"; exit 1; }
    sleep 0.5
done
# shellcheck disable=SC1091
. "$VAR/stack.env"
say "stack up in $(($(date +%s) - T0)) s (logs in $VAR/log)"
PGDIR=$(awk '$1 == "pgdir" { print $2 }' "$VAR/run.pids")

# ---- the traffic -------------------------------------------------------------

CHAOS_ROOT=$ROOT CHAOS_VAR=$VAR HERALD_SIM_RECORDS_MAX=50000 \
    /usr/bin/python3 bench/chaos.py "$WORK" "$DURATION" &
TRAFFIC=$!
until [ -e "$WORK/traffic.started" ]; do
    kill -0 "$TRAFFIC" 2>/dev/null || { wait "$TRAFFIC"; TRAFFIC=; say "traffic failed to start"; exit 1; }
    sleep 0.5
done

# ---- the chaos -----------------------------------------------------------------

storm() { # storm STATUS: 70 % of every provider's sends answered STATUS for 10 s
    local p
    for p in fcm apns hms webpush; do
        curl -fsS -o /dev/null -X POST "$HERALD_SIM_URL/control/rules" \
            -d "{\"provider\":\"$p\",\"status\":$1,\"retry_after\":1,\"probability\":0.7}" ||
            say "could not add a rule for $p"
    done
    sleep 10
    curl -fsS -o /dev/null -X DELETE "$HERALD_SIM_URL/control/rules"
}

kafka_down() {
    echo "down -1" >"$HERALD_DEVKAFKA_CONTROL"
    sleep 10
    echo "up -1" >"$HERALD_DEVKAFKA_CONTROL"
}

pg_restart() {
    sh scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1
    sleep 2
    sh scripts/pg.sh start "$PGDIR" "$HERALD_PG_PORT" >/dev/null || say "PostgreSQL did not start again"
}

kill9() {
    local pid
    pid=$(pid_of "$1")
    kill -KILL "$pid" 2>/dev/null || say "$1 (pid $pid) was not running"
}

ACTIONS=(api worker-fcm kafka worker-apns hub storm503 pg worker-hms worker-webpush
    storm429 hub api kafka worker-fcm pg worker-apns worker-hms worker-webpush)
declare -A DONE_COUNT
END=$(($(date +%s) + DURATION))
i=0
while [ "$(date +%s)" -lt "$END" ]; do
    a=${ACTIONS[$((i % ${#ACTIONS[@]}))]}
    i=$((i + 1))
    say "chaos: $a"
    case "$a" in
    kafka) kafka_down ;;
    pg) pg_restart ;;
    storm503) storm 503 ;;
    storm429) storm 429 ;;
    *) kill9 "$a" ;;
    esac
    DONE_COUNT[$a]=$((${DONE_COUNT[$a]:-0} + 1))
    sleep "$GAP_S"
done
for a in "${!DONE_COUNT[@]}"; do echo "$a ${DONE_COUNT[$a]}"; done | sort >"$WORK/chaos.actions"
say "chaos done: $(tr '\n' ' ' <"$WORK/chaos.actions")"
# whole again: every service answering ready
for u in "$HERALD_API_URL/readyz" "$HERALD_HUB_URL/readyz" \
    "http://127.0.0.1:$HERALD_WORKER_FCM_PORT/readyz" "http://127.0.0.1:$HERALD_WORKER_APNS_PORT/readyz" \
    "http://127.0.0.1:$HERALD_WORKER_HMS_PORT/readyz" "http://127.0.0.1:$HERALD_WORKER_WEBPUSH_PORT/readyz"; do
    n=0
    until curl -fsS -o /dev/null --max-time 2 "$u" 2>/dev/null; do
        n=$((n + 1))
        [ $n -lt 120 ] || { say "not ready after 60 s: $u"; break; }
        sleep 0.5
    done
done
touch "$WORK/chaos.done"

# ---- the count -------------------------------------------------------------------

LIMIT=$((T0 + 590))
while kill -0 "$TRAFFIC" 2>/dev/null; do
    [ "$(date +%s)" -lt "$LIMIT" ] || { say "10 minutes: stopping"; kill -TERM "$TRAFFIC"; break; }
    sleep 1
done
wait "$TRAFFIC"
rc=$?
TRAFFIC=
say "restarts seen by run.sh: $(grep -c 'starting it again' "$WORK/run.log")"
say "chaos actions: $(tr '\n' ' ' <"$WORK/chaos.actions")"
say "done in $(($(date +%s) - T0)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
