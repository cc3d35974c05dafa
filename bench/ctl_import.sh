#!/bin/bash
# ctl_import.sh -- heraldctl import of N new devices (JSON Lines, one
# device_register params object a line: an FCM token, one of 100,000
# users) into a throwaway PostgreSQL + herald-devkafka + herald-api, all
# on this machine; prints the time, the rate and the devices counted in
# the registry. Bounded: the import is stopped after LIMIT seconds
# (default 600) and the script says how far it got.
#   bash bench/ctl_import.sh [devices=1000000] [concurrency=4] [batch=500]
# (batch 1: one device_register call a line, the path before batches)
# herald-api tuning as bench/api_register.sh (WORKERS POOL SLOTS).
. "$(dirname "$0")/api_lib.sh"
N=${1:-1000000}
CONC=${2:-4}
BATCH=${3:-500}
LIMIT=${LIMIT:-600}
TUNE="HERALD_HTTP_THREADS=${HTTP_THREADS:-1} HERALD_HTTP_WORKERS=${WORKERS:-32} HERALD_PG_POOL_SIZE=${POOL:-8} HERALD_API_REGISTER_SLOTS=${SLOTS:-2}"
machine
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"provider\":\"fcm\",\"token\":\"bench-%d-%08d\",\"platform\":\"android\",\"user\":\"u%d\"}\n",
           n, i, i % 100000 }' >"$WORK/devices.jsonl"
echo "input: $N lines, $(du -h "$WORK/devices.jsonl" | cut -f1)"
pg_start
kafka_start
api_start $TUNE HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
echo "== heraldctl import --concurrency $CONC --batch $BATCH ($TUNE)"
api_before=$(cpu_ticks "${PIDS[-1]}")
t0=$(date +%s.%N)
/usr/bin/time -f "heraldctl CPU: %U s user, %S s system, max RSS %M KB" \
    timeout --preserve-status -s INT "$LIMIT" "$BIN/heraldctl" --url "$API_URL" --key "$API_KEY" \
    import "$WORK/devices.jsonl" --concurrency "$CONC" --batch "$BATCH" --progress 10
rc=$?
t1=$(date +%s.%N)
api_after=$(cpu_ticks "${PIDS[-1]}")
n=$(psql_q "select count(*) from devices")
echo "herald-api CPU: $(( (api_after - api_before) / $(getconf CLK_TCK) )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "heraldctl exit $rc; $(echo "$t1 - $t0" | bc) s wall; devices in the registry: $n"
if [ "$rc" -eq 130 ]; then
    echo "stopped after ${LIMIT} s: $n of $N imported ($(echo "$n / $LIMIT" | bc)/s)"
fi
