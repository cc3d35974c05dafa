#!/bin/bash
# api_register.sh -- device_register throughput and latency: wrk registers
# a new device per request (new token, one of 100,000 users, a timezone,
# a locale and one topic; REGISTER_CHANNELS=0: none), each one call of
# herald_device_register(), alone or in a group commit. REGISTER_TOKENS=N
# registers N tokens again and again instead (each of its own user).
#   bash bench/api_register.sh [seconds] [connections]
# Prints the CPU per registration of herald-api and of PostgreSQL (every
# backend); PERF=FILE also records a perf profile of herald-api.
. "$(dirname "$0")/api_lib.sh"
SECS=${1:-20}
CONNS=${2:-64}
# WORKERS HTTP worker threads, a pool of POOL connections, of which
# registrations use SLOTS as separate round trips; registrations waiting
# beyond that go to PostgreSQL in groups (one round trip, one commit).
# device_register runs on the HTTP I/O thread and waits in the group
# commit, not in the worker queue (8 requests per worker, 503 "overloaded"
# past it), so WORKERS only matters to other methods.
TUNE="HERALD_HTTP_THREADS=${HTTP_THREADS:-1} HERALD_HTTP_WORKERS=${WORKERS:-32} HERALD_PG_POOL_SIZE=${POOL:-8} HERALD_API_REGISTER_SLOTS=${SLOTS:-2}"
machine
pg_start
kafka_start
api_start $TUNE HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
echo "== device_register, channels: ${REGISTER_CHANNELS:-1}, tokens: ${REGISTER_TOKENS:-new} ($TUNE, wrk -t1 -c$CONNS -d${SECS}s, load average $(cut -d' ' -f1-3 /proc/loadavg))"
# PERF=FILE: perf record of herald-api (call graphs) during the load
if [ -n "${PERF:-}" ]; then
    perf record -q -g -o "$PERF" -p "${PIDS[-1]}" -- sleep "$SECS" 2>/dev/null &
    PERF_PID=$!
fi
before=$(cpu_ticks "${PIDS[-1]}")
pg_before=$(pg_cpu_ticks)
out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/api_register.lua "$API_URL")
after=$(cpu_ticks "${PIDS[-1]}")
pg_after=$(pg_cpu_ticks)
[ -n "${PERF:-}" ] && wait "$PERF_PID"
echo "$out" | grep -E "Requests/sec|requests in|api errors|latency ms|Socket errors|Non-2xx"
n=$(echo "$out" | awk '/requests in/{print $1}')
hz=$(getconf CLK_TCK)
echo "CPU per registration: herald-api $(( (after - before) * 1000000 / hz / n )) us, PostgreSQL $(( (pg_after - pg_before) * 1000000 / hz / n )) us"
echo "devices in the registry: $(psql_q "select count(*) from devices")"
m=$(curl -fsS "$API_ADMIN_URL/metrics")
groups=$(echo "$m" | awk '/^herald_api_register_groups_total /{print $2}')
grouped=$(echo "$m" | awk '/^herald_api_register_grouped_total /{print $2}')
arrays=$(echo "$m" | awk '/^herald_api_register_group_arrays_total /{print $2}')
ordered=$(echo "$m" | awk '/^herald_api_register_group_ordered_total /{print $2}')
fallbacks=$(echo "$m" | awk '/^herald_api_register_group_fallbacks_total /{print $2}')
echo "registrations in groups: $grouped of $n, in $groups round trips (about $(( ${groups:-0} > 0 ? ${grouped:-0} / groups : 0 )) each; ${arrays:-0} of them one call of herald_device_register_many, ${ordered:-0} of herald_device_register_bulk; ${fallbacks:-0} run again one by one)"
