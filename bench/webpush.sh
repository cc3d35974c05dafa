#!/bin/sh
# webpush.sh -- the CPU cost of a Web Push message: herald-worker-webpush's
# build step (subscription parse, SSRF guard, cached VAPID header, RFC 8291
# encryption; bench/webpush_crypto.c) side by side with the npm web-push
# library's generateRequestDetails (VAPID signed per call and encryption,
# what sendNotification does before its HTTP request), both pinned to one
# CPU, in process CPU seconds. No network, no simulator.
#   BIN=build/release/bin bench/webpush.sh [MESSAGES] [PAYLOAD_BYTES]
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/build/release/bin}
N=${1:-20000}
SIZE=${2:-200}
CPU=${WORKER_CPUS:-0}
[ -x "$BIN/webpush_crypto" ] || { echo "build first: make -j2 release" >&2; exit 1; }
echo "== $(nproc) CPU ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), $(openssl version), node $(node --version)"
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
taskset -c "$CPU" "$BIN/webpush_crypto" "$N" "$SIZE"
NODE_PATH=$PWD/tests/js/node_modules taskset -c "$CPU" \
    node bench/js/webpush_crypto.js "$((N / 4))" "$SIZE"
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg) after the run"
