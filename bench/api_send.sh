#!/bin/bash
# api_send.sh -- send_push_notification throughput and latency: wrk posts
# one notification to one raw FCM token per request; each answer waits for
# Kafka's acknowledgement of its herald.requests record. Runs the API
# alone (HERALD_API_FANOUT=false: the fan-out in other replicas) and then
# with the fan-out stage in the same process.
#   bash bench/api_send.sh [seconds] [connections]
. "$(dirname "$0")/api_lib.sh"
SECS=${1:-20}
CONNS=${2:-128}
# The HTTP I/O thread is the limit (about 50 us of CPU per request, most
# of it syscalls): two of them on a 2-core box, and a 2 ms linger so each
# produce request to Kafka carries a few dozen records.
TUNE="HERALD_HTTP_THREADS=${HTTP_THREADS:-2} HERALD_KAFKA_LINGER_MS=${LINGER_MS:-2}"
machine
pg_start
for fanout in false true; do
    kafka_start # a fresh cluster: the first run's requests must not be the second's backlog
    api_start $TUNE HERALD_API_FANOUT=$fanout
    echo "== send_push_notification, fan-out in process: $fanout ($TUNE, wrk -t1 -c$CONNS -d${SECS}s)"
    before=$(cpu_ticks "${PIDS[-1]}")
    kbefore=$(cpu_ticks "${PIDS[-2]}")
    out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/api_send.lua "$API_URL")
    after=$(cpu_ticks "${PIDS[-1]}")
    kafter=$(cpu_ticks "${PIDS[-2]}")
    echo "$out" | grep -E "Requests/sec|requests in|api errors|latency ms|Socket errors|Non-2xx"
    n=$(echo "$out" | awk '/requests in/{print $1}')
    echo "CPU per request: herald-api $(( (after - before) * 1000000 / $(getconf CLK_TCK) / n )) us, herald-devkafka $(( (kafter - kbefore) * 1000000 / $(getconf CLK_TCK) / n )) us (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ "$fanout" = true ]; then
        # the stage consumed the same requests meanwhile: how far behind?
        # (bounded: ~60 s. herald-devkafka's mock partitions keep about
        # 17,000 records each: when the stage falls further behind than
        # that, the older records are gone before it reads them)
        t0=$(date +%s.%N)
        waited=0
        done_n=0
        while [ $waited -lt 300 ]; do
            done_n=$(curl -s "$API_ADMIN_URL/metrics" | awk '/^herald_api_fanout_requests_total\{result="done"\}/{print $2}')
            [ "${done_n:-0}" -ge "$n" ] 2>/dev/null && break
            sleep 0.2
            waited=$((waited + 1))
        done
        echo "fan-out: ${done_n:-0} requests done (of $n answered) $(echo "$(date +%s.%N) - $t0" | bc) s after the load ended"
    fi
    kill -TERM "${PIDS[-1]}"
    wait "${PIDS[-1]}"
    unset 'PIDS[-1]'
done
