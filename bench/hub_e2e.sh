#!/bin/bash
# hub_e2e.sh -- event latency end to end: POST /events on herald-api ->
# herald.events on herald-devkafka -> herald-hub -> SignalR client, at RATE
# events/s for COUNT events, each to one of USERS users with one connection
# each. The sender stamps "BenchTs" (Unix microseconds) into the Payload,
# which both services pass through untouched; the client measures receipt
# against it (same machine, same clock). Consumer fetch wait and producer
# linger: 1 ms each (the mock cluster delivers at fetch.wait.max.ms).
#
#   [SENDERS=8] bench/hub_e2e.sh [RATE=1000] [COUNT=20000] [USERS=1000]
source "$(dirname "$0")/api_lib.sh"
RATE=${1:-1000}
COUNT=${2:-20000}
USERS=${3:-1000}
SENDERS=${SENDERS:-8}   # parallel senders (see below)
SECRET=bench-secret-0123456789abcdef0123

machine
pg_start
kafka_start
api_start HERALD_KAFKA_LINGER_MS=1 HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
HUB_PORT=$(free_port)
HUB_ADMIN_PORT=$(free_port)
HERALD_HUB_PORT=$HUB_PORT HERALD_HUB_ADMIN_PORT=$HUB_ADMIN_PORT HERALD_JWT_SECRET=$SECRET HERALD_KAFKA_BROKERS=$KAFKA \
HERALD_KAFKA_FETCH_WAIT_MAX_MS=1 HERALD_LOG_LEVEL=warn \
    "$BIN/herald-hub" 2>"$WORK/hub.log" &
PIDS+=($!)
until curl -fs -o /dev/null "http://127.0.0.1:$HUB_PORT/readyz"; do sleep 0.1; done
"$BIN/hub_load" --port "$HUB_PORT" --conns "$USERS" --users "$USERS" \
    --secret $SECRET --duration 300 --expect $((COUNT / SENDERS * SENDERS)) >"$WORK/load.out" &
LOAD=$!
PIDS+=($LOAD)
until grep -q "\"open\":$USERS," "$WORK/load.out" 2>/dev/null; do sleep 0.2; done
# until the hub's consumer owns its partitions (it starts at the latest offset)
for _ in $(seq 60); do
    "$BIN/hub_load" --send 1 --auth apikey --key "$API_KEY" \
        --port "${API_URL##*:}" --send-path /events --type 5 --user probe >/dev/null
    curl -s "http://127.0.0.1:$HUB_ADMIN_PORT/metrics" |
        grep -q 'herald_hub_events_total{source="kafka",result="routed"} [1-9]' && break
    sleep 0.5
done
# each POST /events is answered after the Kafka acknowledgement (a few ms),
# so one sender on one connection tops out near 300/s: SENDERS in parallel
SPIDS=()
for s in $(seq "$SENDERS"); do
    "$BIN/hub_load" --send $((COUNT / SENDERS)) --send-rate $((RATE / SENDERS)) \
        --auth apikey --key "$API_KEY" --port "${API_URL##*:}" --send-path /events \
        --type 5 --users "$USERS" >"$WORK/send.$s.out" &
    SPIDS+=($!)
done
wait "${SPIDS[@]}" || true
wait $LOAD || true
cat "$WORK"/send.*.out
/usr/bin/python3 - "$WORK/load.out" "$RATE" "$COUNT" "$SENDERS" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
lat = last.get("lat_us", {})
print(json.dumps({"bench": "hub_e2e", "path": "POST /events -> herald-api -> devkafka -> herald-hub -> SignalR client",
                  "rate_per_s": float(sys.argv[2]), "sent": int(sys.argv[3]) // int(sys.argv[4]) * int(sys.argv[4]),
                  "received": last["deliveries"],
                  "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items() if k != "n"}}))
PY
