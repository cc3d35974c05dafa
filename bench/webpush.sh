#!/bin/bash
# webpush.sh -- herald-worker-webpush end to end: it drains COUNT
# deliveries from herald-devkafka to herald-sim's Web Push service (20 ms
# simulated latency; every body is decrypted and the VAPID JWT verified
# by the simulator), then the npm web-push library's sendNotification
# sends COUNT_JS messages to the same subscriptions on the same simulator.
# Both pinned to CPU 0 (the simulator, Kafka and the producer elsewhere);
# pushes per CPU-second from /proc (worker) and process.cpuUsage (Node),
# and the ratio. SUBS distinct subscriptions are used in turn (each
# message still gets its own key pair, ECDH and salt). Then, unless
# CRYPTO=0, the per-message build step alone (bench/webpush_crypto.c) for
# the floor under the end-to-end figure.
#   BIN=build/release/bin [PERF=perf.data] bench/webpush.sh [COUNT=50000] [COUNT_JS=10000]
set -u
. "$(dirname "$0")/worker_lib.sh"
COUNT=${1:-50000}
JS_COUNT=${2:-10000}
SUBS=${SUBS:-1000}
BATCH=${BATCH:-500}

[ -x "$BIN/herald-worker-webpush" ] || { echo "build first: make -j2 release" >&2; exit 1; }
machine
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; $(openssl version), node $(node --version)"
stack_start
keys=$("$BIN/herald-worker-webpush" vapid-keygen) || exit 1
VAPID_PUBLIC=$(echo "$keys" | sed -n 's/^HERALD_WEBPUSH_VAPID_PUBLIC_KEY=//p')
VAPID_PRIVATE=$(echo "$keys" | sed -n 's/^HERALD_WEBPUSH_VAPID_PRIVATE_KEY=//p')
SUBS_FILE=$WORK/subs.jsonl
/usr/bin/python3 bench/worker_run.py --sim "$SIM_URL" --fetch-subs "$SUBS" \
    --key "$VAPID_PUBLIC" --subs "$SUBS_FILE" || exit 1
# the simulator is reached through the worker's one explicit test setting
worker_start webpush HERALD_WEBPUSH_VAPID_PRIVATE_KEY="$VAPID_PRIVATE" \
    HERALD_WEBPUSH_VAPID_PUBLIC_KEY="$VAPID_PUBLIC" \
    HERALD_WEBPUSH_VAPID_SUBJECT=mailto:bench@herald.test \
    HERALD_WEBPUSH_TEST_SIMULATOR="fcm.googleapis.com:443:127.0.0.1:$SIM_PORT"
# PERF=FILE: a perf profile of the worker during the run
[ -n "${PERF:-}" ] && { perf record -q -g -o "$PERF" -p "$WORKER_PID" 2>/dev/null & PERF_PID=$!; }
herald_run webpush "$COUNT" "$BATCH" --subs "$SUBS_FILE"
[ -n "${PERF:-}" ] && { kill -INT "$PERF_PID"; wait "$PERF_PID"; }
H_RATE=$RESULT_RATE H_CPU=$RESULT_CPU_RATE
export SUBS_FILE VAPID_PUBLIC VAPID_PRIVATE NODE_PATH=$ROOT/tests/js/node_modules
js_run webpush.js "$JS_COUNT"
echo "ratio (Herald / npm web-push): $(ratio "$H_CPU" "$RESULT_JS_CPU_RATE")x pushes per CPU-second, $(ratio "$H_RATE" "$RESULT_JS_RATE")x wall-clock rate"
if [ "${CRYPTO:-1}" != 0 ] && [ -x "$BIN/webpush_crypto" ]; then
    echo "== the build step alone (no network), $((COUNT / 2)) messages of 200 bytes"
    taskset -c "$WORKER_CPUS" "$BIN/webpush_crypto" "$((COUNT / 2))" 200
fi
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after the run"
