# 30-api.sh -- herald-api in the local stack (sourced by scripts/run.sh):
# the server API, /events, the Bitwarden device endpoints, the fan-out and
# the feedback consumer, on HERALD_API_PORT (8080).
if have herald-api; then
    start herald-api api \
        HERALD_API_KEY="$HERALD_API_KEY" \
        HERALD_JWT_SECRET="$HERALD_JWT_SECRET" \
        HERALD_PG_DSN="$HERALD_PG_DSN" \
        HERALD_KAFKA_BROKERS="$HERALD_KAFKA_BROKERS" \
        HERALD_API_PORT="$HERALD_API_PORT"
    wait_ready api "http://127.0.0.1:$HERALD_API_PORT/readyz"
    stack_env HERALD_API_URL "http://127.0.0.1:$HERALD_API_PORT"
    stack_env HERALD_API_ADMIN_URL "http://127.0.0.1:$HERALD_API_ADMIN_PORT"
    banner "API            http://127.0.0.1:$HERALD_API_PORT  (server API /api, /events, /devices/identifier/...; metrics http://127.0.0.1:$HERALD_API_ADMIN_PORT/metrics)"
fi
