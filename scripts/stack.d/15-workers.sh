# 15-workers.sh -- herald-worker-{fcm,apns,hms,webpush} in the local stack (sourced
# by scripts/run.sh after 10-sim.sh): each consumes herald.deliver.<p> from
# the stack's Kafka and sends to herald-sim with the real provider
# hostnames (HERALD_WORKER_CONNECT_TO redirects the sockets, the
# simulator's CA verifies them), using the credentials `herald-sim gen`
# wrote. Without the simulator the workers are not started: they would
# need real provider credentials (docs/workers.md).
if [ -n "${HERALD_SIM_TLS_ADDR:-}" ]; then
    # shellcheck disable=SC2153
    WORKER_NET=(HERALD_KAFKA_BROKERS="$HERALD_KAFKA_BROKERS"
        HERALD_WORKER_CA_FILE="$HERALD_SIM_CA_FILE"
        HERALD_WORKER_CONNECT_TO="::$HERALD_SIM_TLS_ADDR"
        HERALD_HTTP_BIND=127.0.0.1)
    if have herald-worker-fcm; then
        start herald-worker-fcm worker-fcm "${WORKER_NET[@]}" \
            HERALD_WORKER_FCM_PORT="$HERALD_WORKER_FCM_PORT" \
            HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE="$HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE"
        wait_ready worker-fcm "http://127.0.0.1:$HERALD_WORKER_FCM_PORT/readyz"
        banner "FCM worker     http://127.0.0.1:$HERALD_WORKER_FCM_PORT  (herald.deliver.fcm -> sim; metrics http://127.0.0.1:$HERALD_WORKER_FCM_ADMIN_PORT/metrics)"
    fi
    if have herald-worker-apns; then
        start herald-worker-apns worker-apns "${WORKER_NET[@]}" \
            HERALD_WORKER_APNS_PORT="$HERALD_WORKER_APNS_PORT" \
            HERALD_WORKER_APNS_KEY_FILE="$HERALD_SIM_APNS_KEY_FILE" \
            HERALD_WORKER_APNS_KEY_ID="$HERALD_SIM_APNS_KEY_ID" \
            HERALD_WORKER_APNS_TEAM_ID="$HERALD_SIM_APNS_TEAM_ID" \
            HERALD_WORKER_APNS_TOPIC="$HERALD_SIM_APNS_TOPIC"
        wait_ready worker-apns "http://127.0.0.1:$HERALD_WORKER_APNS_PORT/readyz"
        banner "APNs worker    http://127.0.0.1:$HERALD_WORKER_APNS_PORT  (herald.deliver.apns -> sim; metrics http://127.0.0.1:$HERALD_WORKER_APNS_ADMIN_PORT/metrics)"
    fi
    if have herald-worker-hms; then
        start herald-worker-hms worker-hms "${WORKER_NET[@]}" \
            HERALD_WORKER_HMS_PORT="$HERALD_WORKER_HMS_PORT" \
            HERALD_WORKER_HMS_APP_ID="$HERALD_SIM_HMS_APP_ID" \
            HERALD_WORKER_HMS_CLIENT_SECRET="$HERALD_SIM_HMS_CLIENT_SECRET"
        wait_ready worker-hms "http://127.0.0.1:$HERALD_WORKER_HMS_PORT/readyz"
        banner "HMS worker     http://127.0.0.1:$HERALD_WORKER_HMS_PORT  (herald.deliver.hms -> sim; metrics http://127.0.0.1:$HERALD_WORKER_HMS_ADMIN_PORT/metrics)"
    fi
    if have herald-worker-webpush; then
        # a VAPID key pair made once per var directory; subscriptions come
        # from herald-sim's /control/webpush/subscription
        [ -s "$VAR/vapid.env" ] || "$BIN/herald-worker-webpush" vapid-keygen >"$VAR/vapid.env"
        # shellcheck disable=SC1091
        . "$VAR/vapid.env"
        start herald-worker-webpush worker-webpush "${WORKER_NET[@]}" \
            HERALD_WORKER_WEBPUSH_PORT="$HERALD_WORKER_WEBPUSH_PORT" \
            HERALD_WEBPUSH_VAPID_PRIVATE_KEY="$HERALD_WEBPUSH_VAPID_PRIVATE_KEY" \
            HERALD_WEBPUSH_VAPID_PUBLIC_KEY="$HERALD_WEBPUSH_VAPID_PUBLIC_KEY" \
            HERALD_WEBPUSH_VAPID_SUBJECT="mailto:ops@localhost.test" \
            HERALD_WEBPUSH_TEST_SIMULATOR="fcm.googleapis.com:443:$HERALD_SIM_TLS_ADDR"
        wait_ready worker-webpush "http://127.0.0.1:$HERALD_WORKER_WEBPUSH_PORT/readyz"
        banner "Web Push worker http://127.0.0.1:$HERALD_WORKER_WEBPUSH_PORT  (herald.deliver.webpush -> sim, VAPID key $HERALD_WEBPUSH_VAPID_PUBLIC_KEY; metrics http://127.0.0.1:$HERALD_WORKER_WEBPUSH_ADMIN_PORT/metrics)"
    fi
else
    say "herald-sim not built: skipping the push workers"
fi
