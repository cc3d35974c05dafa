#!/bin/bash
# worker_fcm.sh -- herald-worker-fcm against herald-sim with 20 ms
# simulated latency: pushes per CPU-second of the worker process and the
# wall-clock rate, then firebase-admin's sendEach (npm, pinned in
# bench/js/package.json, installed here) on the same simulator, and the
# ratios. Loopback only.
#
#   bench/worker_fcm.sh [COUNT=100000] [JS_COUNT=20000]
set -u
. "$(dirname "$0")/worker_lib.sh"
COUNT=${1:-100000}
JS_COUNT=${2:-20000}

machine
stack_start
worker_start fcm
herald_run fcm "$COUNT" 500
H_RATE=$RESULT_RATE H_CPU=$RESULT_CPU_RATE
js_install
js_run fcm.js "$JS_COUNT"
echo "ratio (Herald / firebase-admin): $(ratio "$H_CPU" "$RESULT_JS_CPU_RATE")x pushes per CPU-second, $(ratio "$H_RATE" "$RESULT_JS_RATE")x wall-clock rate"
