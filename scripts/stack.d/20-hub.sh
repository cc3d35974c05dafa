# 20-hub.sh -- herald-hub in the local stack (sourced by scripts/run.sh):
# the SignalR hub on HERALD_HUB_PORT, consuming herald.events from the
# stack's Kafka and accepting POST /send with HERALD_INTERNAL_KEY.
if have herald-hub; then
    start herald-hub hub \
        HERALD_HUB_PORT="$HERALD_HUB_PORT" \
        HERALD_JWT_SECRET="$HERALD_JWT_SECRET" \
        HERALD_INTERNAL_KEY="$HERALD_INTERNAL_KEY" \
        HERALD_KAFKA_BROKERS="$HERALD_KAFKA_BROKERS"
    wait_ready hub "http://127.0.0.1:$HERALD_HUB_PORT/readyz"
    stack_env HERALD_HUB_URL "http://127.0.0.1:$HERALD_HUB_PORT"
    banner "Hub            http://127.0.0.1:$HERALD_HUB_PORT/notifications/hub  (SignalR; POST /send with HERALD_INTERNAL_KEY; metrics http://127.0.0.1:$HERALD_HUB_ADMIN_PORT/metrics)"
else
    say "herald-hub not built: skipping the hub"
fi
