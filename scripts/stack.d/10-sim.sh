# 10-sim.sh -- herald-sim in the local stack (sourced by scripts/run.sh).
#
# Generates the test CA and provider credentials into $VAR/sim once (later
# runs keep them), starts the simulator on HERALD_SIM_PORT (TLS: APNs, FCM,
# HMS, both OAuth endpoints) with its control API on
# HERALD_SIM_CONTROL_PORT, and exports for the snippets that follow (the
# workers) everything docs/sim.md lists: HERALD_SIM_CA_FILE,
# HERALD_SIM_TLS_ADDR, the APNs key file/id/team/topic, the FCM
# service-account file and project, the HMS app id and secret.
if have herald-sim; then
    SIM_DIR=$VAR/sim
    export HERALD_SIM_CONTROL_PORT=${HERALD_SIM_CONTROL_PORT:-8444}
    "$BIN/herald-sim" gen "$SIM_DIR" >"$LOG/sim-gen.log" 2>&1 ||
        fail "herald-sim gen failed: $(tail -n 3 "$LOG/sim-gen.log")"
    set -a
    # shellcheck disable=SC1091
    . "$SIM_DIR/credentials.env"
    set +a
    start herald-sim sim HERALD_SIM_CREDENTIALS_DIR="$SIM_DIR" \
        HERALD_SIM_PORT="$HERALD_SIM_PORT" \
        HERALD_SIM_CONTROL_PORT="$HERALD_SIM_CONTROL_PORT"
    wait_ready sim "http://127.0.0.1:$HERALD_SIM_CONTROL_PORT/healthz"
    export HERALD_SIM_URL="http://127.0.0.1:$HERALD_SIM_CONTROL_PORT"
    export HERALD_SIM_TLS_ADDR="127.0.0.1:$HERALD_SIM_PORT"
    for v in HERALD_SIM_URL HERALD_SIM_TLS_ADDR HERALD_SIM_CA_FILE \
        HERALD_SIM_APNS_KEY_FILE HERALD_SIM_APNS_KEY_ID HERALD_SIM_APNS_TEAM_ID \
        HERALD_SIM_APNS_TOPIC HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE \
        HERALD_SIM_FCM_PROJECT_ID HERALD_SIM_HMS_APP_ID \
        HERALD_SIM_HMS_CLIENT_SECRET; do
        eval "stack_env $v \"\$$v\""
    done
    banner "Simulator      https://127.0.0.1:$HERALD_SIM_PORT (APNs, FCM, HMS; CA $HERALD_SIM_CA_FILE)"
    banner "Sim control    $HERALD_SIM_URL/control/counts"
fi
