#!/bin/bash
# worker_hms.sh -- herald-worker-hms against herald-sim with 20 ms simulated
# latency: device tokens per CPU-second of the worker process and the
# wall-clock rate, 1000 tokens per request. Loopback only.
#
#   bench/worker_hms.sh [COUNT=300000]
set -u
. "$(dirname "$0")/worker_lib.sh"
COUNT=${1:-300000}

machine
stack_start
worker_start hms
herald_run hms "$COUNT" 1000
