#!/bin/bash
# relay_send.sh -- herald-relay's POST /push/send throughput and latency
# with the recipients-a-minute quota off and on: wrk posts one
# Vaultwarden-shaped sync push to a user with two phones per request; each
# answer waits for Kafka's acknowledgement of its herald.requests record,
# and with the quota on also for the count of the user's devices in
# PostgreSQL. Plain HTTP (no TLS), request rate limit off.
#   bash bench/relay_send.sh [seconds] [connections]
. "$(dirname "$0")/api_lib.sh"
SECS=${1:-10}
CONNS=${2:-32}
ADMIN=bench-admin-key
USER_ID=6f1d3c52-9a4e-4b8e-8c39-1d2e3f4a5b6c

# relay_start QUOTA: a relay on a free port; RELAY_URL.
relay_start() {
    local port admin
    port=$(free_port)
    admin=$(free_port)
    env HERALD_PG_DSN="$PG_DSN" HERALD_KAFKA_BROKERS="$KAFKA" \
        HERALD_RELAY_PORT="$port" HERALD_RELAY_ADMIN_KEY=$ADMIN \
        HERALD_RELAY_ADMIN_PORT="$admin" \
        HERALD_RELAY_TOKEN_SECRET=bench-relay-token-secret-0123456789abcdef \
        HERALD_RELAY_RATE=0 HERALD_RELAY_RECIPIENTS_PER_MIN="$1" \
        HERALD_HTTP_ACCESS_LOG=false HERALD_LOG_LEVEL=warn \
        "$BIN/herald-relay" >"$WORK/relay.log" 2>&1 &
    PIDS+=($!)
    RELAY_URL=http://127.0.0.1:$port
    RELAY_ADMIN_URL=http://127.0.0.1:$admin # /metrics
    until curl -fsS -o /dev/null "$RELAY_URL/readyz" 2>/dev/null; do
        kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -n 5 "$WORK/relay.log"; exit 1; }
        sleep 0.1
    done
}

# tenant: an installation, its token (TOKEN) and the user's two phones.
tenant() {
    local inst key i
    read -r inst key < <(curl -fsS -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' -d '{"email":"bench@example.com"}' \
        "$RELAY_URL/installations" | jq -r '"\(.id) \(.key)"')
    TOKEN=$(curl -fsS -d "grant_type=client_credentials&scope=api.push&client_id=installation.$inst&client_secret=$key" \
        "$RELAY_URL/connect/token" | jq -r .access_token)
    for i in 1 2; do
        curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
            -d "{\"deviceId\":\"$(cat /proc/sys/kernel/random/uuid)\",\"pushToken\":\"bench-fcm-token-$RANDOM-$i\",\"userId\":\"$USER_ID\",\"type\":0,\"identifier\":\"phone-$i\"}" \
            "$RELAY_URL/push/register" || exit 1
    done
    cat >"$WORK/send.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"clientType":null,"deviceId":null,"identifier":null,"installationId":null,"organizationId":null,"payload":{"date":"2026-12-06T12:00:00.000000Z","userId":"$USER_ID"},"type":5,"userId":"$USER_ID"}'
LUA
}

machine
pg_start
kafka_start
for quota in 0 100000000; do
    relay_start $quota
    tenant
    echo "== POST /push/send, HERALD_RELAY_RECIPIENTS_PER_MIN=$quota (0: off), wrk -t2 -c$CONNS -d${SECS}s"
    wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$WORK/send.lua" "$RELAY_URL/push/send" |
        grep -E "Latency|Requests/sec|requests in|Non-2xx|Socket errors"
    curl -s "$RELAY_ADMIN_URL/metrics" | grep -E '^herald_relay_(recipients_total|requests_total\{op="send")'
    kill -TERM "${PIDS[-1]}"
    wait "${PIDS[-1]}" 2>/dev/null
    unset 'PIDS[-1]'
done
