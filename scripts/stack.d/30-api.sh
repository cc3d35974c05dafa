# 30-api.sh -- herald-api in the local stack (sourced by scripts/run.sh):
# the server API, /events, the Bitwarden device endpoints, the fan-out and
# the feedback consumer, on HERALD_API_PORT (8080).
if have herald-api; then
    # the console's charts read the other services' admin listeners
    CONSOLE_METRICS=""
    for s in hub:HUB fcm:WORKER_FCM apns:WORKER_APNS hms:WORKER_HMS webpush:WORKER_WEBPUSH; do
        name=${s%%:*} var=HERALD_${s#*:}_ADMIN_PORT
        case $name in hub) bin=herald-hub ;; *) bin=herald-worker-$name ;; esac
        have "$bin" || continue
        # the workers run only with the simulator (15-workers.sh)
        [ "$name" = hub ] || [ -n "${HERALD_SIM_TLS_ADDR:-}" ] || continue
        CONSOLE_METRICS="$CONSOLE_METRICS${CONSOLE_METRICS:+,}$name=http://127.0.0.1:${!var}"
    done
    start herald-api api \
        HERALD_API_KEY="$HERALD_API_KEY" \
        HERALD_JWT_SECRET="$HERALD_JWT_SECRET" \
        HERALD_PG_DSN="$HERALD_PG_DSN" \
        HERALD_KAFKA_BROKERS="$HERALD_KAFKA_BROKERS" \
        HERALD_API_PORT="$HERALD_API_PORT" \
        HERALD_CONSOLE_METRICS_URLS="$CONSOLE_METRICS"
    wait_ready api "http://127.0.0.1:$HERALD_API_PORT/readyz"
    stack_env HERALD_API_URL "http://127.0.0.1:$HERALD_API_PORT"
    stack_env HERALD_API_ADMIN_URL "http://127.0.0.1:$HERALD_API_ADMIN_PORT"
    banner "API            http://127.0.0.1:$HERALD_API_PORT  (server API /api, /events, /devices/identifier/...; metrics http://127.0.0.1:$HERALD_API_ADMIN_PORT/metrics)"
    banner "Console        http://127.0.0.1:$HERALD_API_ADMIN_PORT/console/  (log in with HERALD_API_KEY from var/secrets.env)"
fi
