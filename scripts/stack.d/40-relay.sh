# 40-relay.sh -- herald-relay in the local stack (sourced by scripts/run.sh):
# the Bitwarden push relay over HTTPS on HERALD_RELAY_PORT (8082), with a
# self-signed certificate for localhost/127.0.0.1 made once in
# var/relay-tls/ (HERALD_RELAY_CA_FILE in stack.env is the file to trust).
# Its /connect/token is at the same root, so HERALD_RELAY_URL is both the
# relay URL and the identity URL (docs/self-hosted.md).
if have herald-relay; then
    RELAY_TLS=$VAR/relay-tls
    if [ ! -s "$RELAY_TLS/tls.crt" ] || [ ! -s "$RELAY_TLS/tls.key" ]; then
        mkdir -p "$RELAY_TLS"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -days 825 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$RELAY_TLS/tls.key" -out "$RELAY_TLS/tls.crt" \
            >/dev/null 2>&1 || fail "could not make the relay's TLS certificate"
        chmod 600 "$RELAY_TLS/tls.key"
    fi
    if [ ! -s "$RELAY_TLS/token-secret" ]; then
        (umask 077 && openssl rand -hex 32 >"$RELAY_TLS/token-secret")
    fi
    start herald-relay relay \
        HERALD_RELAY_PORT="$HERALD_RELAY_PORT" \
        HERALD_RELAY_ADMIN_KEY="$HERALD_RELAY_ADMIN_KEY" \
        HERALD_RELAY_TOKEN_SECRET="$(cat "$RELAY_TLS/token-secret")" \
        HERALD_RELAY_TLS_CERT_FILE="$RELAY_TLS/tls.crt" \
        HERALD_RELAY_TLS_KEY_FILE="$RELAY_TLS/tls.key" \
        HERALD_PG_DSN="$HERALD_PG_DSN" \
        HERALD_KAFKA_BROKERS="$HERALD_KAFKA_BROKERS"
    until curl -fsS -o /dev/null --max-time 2 --cacert "$RELAY_TLS/tls.crt" \
        "https://127.0.0.1:$HERALD_RELAY_PORT/readyz" 2>/dev/null; do
        kill -0 "${PIDS[$((${#PIDS[@]} - 1))]}" 2>/dev/null ||
            fail "relay exited; see $LOG/relay.log: $(tail -n 3 "$LOG/relay.log")"
        RELAY_WAIT=$((${RELAY_WAIT:-0} + 1))
        [ "$RELAY_WAIT" -lt 600 ] || fail "relay not ready after 60 s; see $LOG/relay.log"
        sleep 0.1
    done
    say "relay ready"
    stack_env HERALD_RELAY_URL "https://127.0.0.1:$HERALD_RELAY_PORT"
    stack_env HERALD_RELAY_CA_FILE "$RELAY_TLS/tls.crt"
    banner "Relay          https://127.0.0.1:$HERALD_RELAY_PORT  (Bitwarden push relay + /connect/token; POST /installations with HERALD_RELAY_ADMIN_KEY; metrics http://127.0.0.1:$HERALD_RELAY_ADMIN_PORT/metrics)"
else
    say "herald-relay not built: skipping the relay"
fi
