#!/bin/bash
# api_register.sh -- device_register throughput and latency: wrk registers
# a new device per request (new token, one of 100,000 users, one channel;
# REGISTER_CHANNELS=0: no channel), each a single database round trip
# (herald_device_register()).
#   bash bench/api_register.sh [seconds] [connections]
. "$(dirname "$0")/api_lib.sh"
SECS=${1:-20}
CONNS=${2:-32}
# as many worker threads as connections (a worker never waits for one).
# 6 was best on 2 cores (4: ~15 % fewer, 8: more context switches); the
# server queues 8 requests per worker, so keep CONNS <= 8 * POOL or the
# excess is answered 503 "overloaded".
TUNE="HERALD_HTTP_THREADS=${HTTP_THREADS:-1} HERALD_HTTP_WORKERS=${POOL:-6} HERALD_PG_POOL_SIZE=${POOL:-6}"
machine
pg_start
kafka_start
api_start $TUNE HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
echo "== device_register, channels: ${REGISTER_CHANNELS:-1} ($TUNE, wrk -t1 -c$CONNS -d${SECS}s)"
before=$(cpu_ticks "${PIDS[-1]}")
out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/api_register.lua "$API_URL")
after=$(cpu_ticks "${PIDS[-1]}")
echo "$out" | grep -E "Requests/sec|requests in|api errors|latency ms|Socket errors|Non-2xx"
n=$(echo "$out" | awk '/requests in/{print $1}')
echo "herald-api CPU per request: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / n )) us"
echo "devices in the registry: $(psql_q "select count(*) from devices")"
