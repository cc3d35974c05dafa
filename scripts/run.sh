#!/bin/bash
# run.sh -- the local stack behind `make run`: a throwaway PostgreSQL in
# ./var, herald-devkafka, the provider simulator and every Herald service,
# each started, waited for until ready, and stopped cleanly on Ctrl-C.
#
# Every service adds itself through scripts/stack.d/NN-name.sh, sourced in
# order; a snippet whose binary has not been built is skipped. When all are
# ready, var/stack.env is written and a banner shows where everything is.
# stack.env is a shell file of `export NAME='value'` lines (every URL, key,
# CA file and HERALD_BIN_DIR): `. var/stack.env` hands them to the shell
# and to every program it starts. HERALD_PG_DSN / HERALD_KAFKA_BROKERS, when set, are
# used instead of the local PostgreSQL / herald-devkafka. Ports move with
# HERALD_API_PORT, HERALD_HUB_PORT, HERALD_RELAY_PORT, HERALD_SIM_PORT,
# HERALD_PG_PORT, HERALD_WORKER_{FCM,APNS,HMS,WEBPUSH}_PORT and the admin
# listeners' HERALD_{API,HUB,RELAY,WORKER_*}_ADMIN_PORT; HERALD_VAR_DIR moves
# ./var and HERALD_BIN_DIR the binaries (default build/release/bin).
# HERALD_RUN_RESTART=true starts a service that exits again instead of
# stopping everything (bench/chaos.sh kills them on purpose).
# `make run` starts it with sh (dash on Debian): run under bash whatever
# the caller used, before any bash-only syntax is parsed.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
VAR=$(realpath -m "${HERALD_VAR_DIR:-var}")
BIN=$(realpath -m "${HERALD_BIN_DIR:-build/release/bin}")
LOG=$VAR/log
mkdir -p "$LOG"
rm -f "$VAR/stack.env"

export HERALD_API_PORT=${HERALD_API_PORT:-8080}
export HERALD_HUB_PORT=${HERALD_HUB_PORT:-8081}
export HERALD_RELAY_PORT=${HERALD_RELAY_PORT:-8082}
export HERALD_SIM_PORT=${HERALD_SIM_PORT:-8443}
export HERALD_PG_PORT=${HERALD_PG_PORT:-55432}
export HERALD_WORKER_FCM_PORT=${HERALD_WORKER_FCM_PORT:-9101}
export HERALD_WORKER_APNS_PORT=${HERALD_WORKER_APNS_PORT:-9102}
export HERALD_WORKER_HMS_PORT=${HERALD_WORKER_HMS_PORT:-9103}
export HERALD_WORKER_WEBPUSH_PORT=${HERALD_WORKER_WEBPUSH_PORT:-9104}
# the admin listeners (/metrics, detailed /readyz, the console), 127.0.0.1
export HERALD_API_ADMIN_PORT=${HERALD_API_ADMIN_PORT:-8090}
export HERALD_HUB_ADMIN_PORT=${HERALD_HUB_ADMIN_PORT:-8091}
export HERALD_RELAY_ADMIN_PORT=${HERALD_RELAY_ADMIN_PORT:-8092}
export HERALD_WORKER_FCM_ADMIN_PORT=${HERALD_WORKER_FCM_ADMIN_PORT:-9111}
export HERALD_WORKER_APNS_ADMIN_PORT=${HERALD_WORKER_APNS_ADMIN_PORT:-9112}
export HERALD_WORKER_HMS_ADMIN_PORT=${HERALD_WORKER_HMS_ADMIN_PORT:-9113}
export HERALD_WORKER_WEBPUSH_ADMIN_PORT=${HERALD_WORKER_WEBPUSH_ADMIN_PORT:-9114}
export HERALD_LOG_LEVEL=${HERALD_LOG_LEVEL:-info}

# What this run started, one "name pid" line each ("pgdir DIR" for the
# PostgreSQL cluster), so a run killed with -9 can be cleaned up by the
# next one (recover_previous).
RUN_PIDS=$VAR/run.pids
PIDS=()
NAMES=()
declare -A SPECS # index in PIDS -> start's arguments (shell-quoted)
STACK_ENV=()
BANNER=()
PG_STARTED=0
PGDIR=$VAR/pg

say() { printf '[herald] %s\n' "$*"; }

stop_all() {
    trap '' INT TERM HUP
    say "stopping"
    rm -f "$VAR/stack.env"
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
        local n=0
        while kill -0 "${PIDS[$i]}" 2>/dev/null && [ $n -lt 200 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        if kill -0 "${PIDS[$i]}" 2>/dev/null; then
            say "${NAMES[$i]} did not stop in 20 s: killing it"
            kill -KILL "${PIDS[$i]}" 2>/dev/null
        fi
        wait "${PIDS[$i]}" 2>/dev/null
    done
    if [ $PG_STARTED -eq 1 ]; then
        sh scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1
        [ "$PGDIR" = "$VAR/pg" ] || rm -rf "$PGDIR"
    fi
    rm -f "$RUN_PIDS" "$VAR/run.pid" "$VAR/kafka.control"
    say "stopped"
}

# cmdline PID: the process's command line, spaces for NULs ("" if gone).
cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }

# A run killed with -9 leaves its services (each in a session of its own)
# and PostgreSQL running, and their ports taken: stop what run.pids names
# if it is still the same program, and clear a PostgreSQL pid file whose
# server is gone. Another live run on the same var directory is an error.
recover_previous() {
    local old name pid n
    if [ -f "$VAR/run.pid" ]; then
        old=$(cat "$VAR/run.pid")
        if [ "$old" != "$$" ] && cmdline "$old" | grep -q "scripts/run.sh"; then
            say "error: another make run (pid $old) is using $VAR."
            say "Stop it first: Ctrl-C in its terminal, or: kill $old"
            exit 1
        fi
    fi
    echo $$ >"$VAR/run.pid"
    [ -f "$RUN_PIDS" ] || return 0
    while read -r name pid; do
        if [ "$name" = pgdir ]; then
            if [ -f "$pid/data/postmaster.pid" ]; then
                say "stopping the PostgreSQL an earlier run left in $pid"
                sh scripts/pg.sh stop "$pid" >/dev/null 2>&1 ||
                    { say "error: cannot stop it; run: sh scripts/pg.sh stop $pid"; exit 1; }
            fi
            case "$pid" in /tmp/herald-stack-pg.*) rm -rf "$pid" ;; esac
            continue
        fi
        case "$(cmdline "$pid")" in
        "$BIN"/*) ;;
        *) continue ;; # gone, or the pid is another program's now
        esac
        say "stopping $name (pid $pid) left running by an earlier run"
        kill -TERM "$pid" 2>/dev/null
        n=0
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
            sleep 0.1
            n=$((n + 1))
        done
        kill -KILL "$pid" 2>/dev/null
    done <"$RUN_PIDS"
    rm -f "$RUN_PIDS"
}
recover_previous

fail() {
    say "error: $*"
    stop_all
    exit 1
}

# Ctrl-C reaches run.sh alone: every process below runs in a session of
# its own (setsid), so stop_all can stop them in reverse order of start,
# the services before the Kafka and PostgreSQL they flush to.
trap 'stop_all; exit 0' INT TERM HUP

# have NAME: the binary exists.
have() { [ -x "$BIN/$1" ]; }

# spawn NAME LOGNAME [VAR=value ...]: runs $BIN/NAME in the background with
# the extra variables, output appended to var/log/LOGNAME.log; sets
# SPAWNED. The variables are exported by the shell (a builtin), never
# passed on a command line: no secret shows in ps or /proc/PID/cmdline.
spawn() {
    local name=$1 logname=$2
    shift 2
    (
        for kv in "$@"; do export "${kv?}"; done
        exec setsid "$BIN/$name"
    ) >>"$LOG/$logname.log" 2>&1 &
    SPAWNED=$!
    echo "$logname $SPAWNED" >>"$RUN_PIDS"
}

# start NAME LOGNAME [VAR=value ...]: spawn, on a fresh log, remembered
# (with its arguments, for HERALD_RUN_RESTART) for stop_all.
start() {
    : >"$LOG/$2.log"
    SPECS[${#PIDS[@]}]=$(printf '%q ' "$@")
    spawn "$@"
    PIDS+=("$SPAWNED")
    NAMES+=("$2")
}

# wait_ready LOGNAME URL: polls URL until it answers 200 (60 s).
wait_ready() {
    local logname=$1 url=$2 n=0
    local pid=${PIDS[$((${#PIDS[@]} - 1))]}
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || fail "$logname exited; see $LOG/$logname.log: $(tail -n 3 "$LOG/$logname.log")"
        n=$((n + 1))
        [ $n -lt 600 ] || fail "$logname not ready after 60 s; see $LOG/$logname.log"
        sleep 0.1
    done
    say "$logname ready"
}

stack_env() { STACK_ENV+=("$1=$2"); }
# sh_quote VALUE: VALUE in single quotes, safe for any POSIX shell.
sh_quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
banner() { BANNER+=("$1"); }

# Secrets: generated once, kept in var/secrets.env across runs.
if [ ! -f "$VAR/secrets.env" ]; then
    umask 077
    {
        echo "HERALD_API_KEY=$(openssl rand -hex 16)"
        echo "HERALD_JWT_SECRET=$(openssl rand -hex 32)"
        echo "HERALD_INTERNAL_KEY=$(openssl rand -hex 24)"
        echo "HERALD_RELAY_ADMIN_KEY=$(openssl rand -hex 24)"
    } >"$VAR/secrets.env"
    umask 022
fi
# shellcheck disable=SC1091
. "$VAR/secrets.env"
export HERALD_API_KEY HERALD_JWT_SECRET HERALD_INTERNAL_KEY HERALD_RELAY_ADMIN_KEY

# PostgreSQL
if [ -z "${HERALD_PG_DSN:-}" ]; then
    # As root, PostgreSQL runs as the postgres user, which must reach its
    # data directory: a checkout in a private home (/root) cannot host it,
    # so the cluster then lives in /tmp for this run only.
    if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
        PGDIR=$(mktemp -d /tmp/herald-stack-pg.XXXXXX)
        say "postgres cannot reach $VAR: PostgreSQL data in $PGDIR (removed on exit)"
    fi
    echo "pgdir $PGDIR" >>"$RUN_PIDS"
    # a server killed with -9 leaves its pid file: pg.sh stop clears it
    [ -f "$PGDIR/data/postmaster.pid" ] && sh scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1
    HERALD_PG_DSN=$(sh scripts/pg.sh start "$PGDIR" "$HERALD_PG_PORT") ||
        fail "PostgreSQL did not start (see $PGDIR/server.log; is port $HERALD_PG_PORT taken? HERALD_PG_PORT moves it)"
    PG_STARTED=1
    say "PostgreSQL ready on 127.0.0.1:$HERALD_PG_PORT"
fi
export HERALD_PG_DSN

# Kafka: herald-devkafka unless a real cluster is given.
if [ -z "${HERALD_KAFKA_BROKERS:-}" ]; then
    have herald-devkafka || fail "$BIN/herald-devkafka is missing: run make release"
    rm -f "$VAR/kafka.bootstrap" "$VAR/kafka.control"
    # its control commands (docs/operations.md) come from a named pipe,
    # opened read-write so that it never sees an end of file
    mkfifo -m 600 "$VAR/kafka.control" || fail "cannot make $VAR/kafka.control"
    HERALD_DEVKAFKA_BOOTSTRAP_FILE=$VAR/kafka.bootstrap setsid "$BIN/herald-devkafka" \
        <>"$VAR/kafka.control" >"$LOG/devkafka.out" 2>"$LOG/devkafka.log" &
    PIDS+=($!)
    NAMES+=(devkafka)
    echo "devkafka $!" >>"$RUN_PIDS"
    n=0
    until [ -s "$VAR/kafka.bootstrap" ]; do
        kill -0 "${PIDS[0]}" 2>/dev/null || fail "herald-devkafka exited: $(tail -n 3 "$LOG/devkafka.log")"
        n=$((n + 1))
        [ $n -lt 300 ] || fail "herald-devkafka printed no bootstrap list"
        sleep 0.1
    done
    HERALD_KAFKA_BROKERS=$(cat "$VAR/kafka.bootstrap")
    stack_env HERALD_DEVKAFKA_CONTROL "$VAR/kafka.control"
    banner "Kafka control  echo 'down -1' >$VAR/kafka.control  (herald-devkafka's commands; answers in $LOG/devkafka.out)"
    # librdkafka's mock cluster answers an empty fetch only after
    # fetch.wait.max.ms and rebalances after session.timeout.ms - 1 s.
    export HERALD_KAFKA_FETCH_WAIT_MAX_MS=${HERALD_KAFKA_FETCH_WAIT_MAX_MS:-5}
    export HERALD_KAFKA_SESSION_TIMEOUT_MS=${HERALD_KAFKA_SESSION_TIMEOUT_MS:-6000}
    export HERALD_KAFKA_HEARTBEAT_INTERVAL_MS=${HERALD_KAFKA_HEARTBEAT_INTERVAL_MS:-1500}
    say "herald-devkafka ready: $HERALD_KAFKA_BROKERS"
fi
export HERALD_KAFKA_BROKERS

for snippet in scripts/stack.d/*.sh; do
    [ -f "$snippet" ] || continue
    # shellcheck disable=SC1090
    . "$snippet"
done

stack_env HERALD_API_KEY "$HERALD_API_KEY"
stack_env HERALD_JWT_SECRET "$HERALD_JWT_SECRET"
stack_env HERALD_INTERNAL_KEY "$HERALD_INTERNAL_KEY"
stack_env HERALD_RELAY_ADMIN_KEY "$HERALD_RELAY_ADMIN_KEY"
stack_env HERALD_RELAY_ADMIN_URL "http://127.0.0.1:$HERALD_RELAY_ADMIN_PORT"
stack_env HERALD_KAFKA_BROKERS "$HERALD_KAFKA_BROKERS"
stack_env HERALD_PG_DSN "$HERALD_PG_DSN"
stack_env HERALD_BIN_DIR "$BIN"
for kv in "${STACK_ENV[@]}"; do
    printf 'export %s=%s\n' "${kv%%=*}" "$(sh_quote "${kv#*=}")"
done >"$VAR/stack.env.tmp"
mv "$VAR/stack.env.tmp" "$VAR/stack.env"

# heraldctl reads var/stack.env from the current directory by itself
CTL=$BIN/heraldctl
[ "$VAR" = "$ROOT/var" ] || CTL="$CTL --env-file $VAR/stack.env"

cat <<EOF

  Herald is ready.

EOF
printf '  %s\n' "${BANNER[@]}"
cat <<EOF
  PostgreSQL     ${HERALD_PG_DSN}
  Kafka          ${HERALD_KAFKA_BROKERS}
  Logs           $LOG/
  Binaries       $BIN  (\$HERALD_BIN_DIR; PATH=\$HERALD_BIN_DIR:\$PATH puts them on PATH)
  Settings       $VAR/stack.env  (source it: . $VAR/stack.env)

  Try it:
    . $VAR/stack.env
    curl -s -H "Authorization: apikey \$HERALD_API_KEY" \\
      -d '{"method":"device_register","params":{"provider":"fcm","token":"demo-token","platform":"android","user":"bob"}}' \\
      \$HERALD_API_URL/api

  Or with the CLI, from $ROOT (heraldctl --help for the rest):
    $CTL devices list --user alice
    $CTL send --user alice --title Hello --body 'from heraldctl'
    $CTL status <uid printed by send>

  Ctrl-C stops everything.

EOF

# Stay up until interrupted or until a process dies; with
# HERALD_RUN_RESTART=true a Herald service that exits is started again
# (as an orchestrator would), herald-devkafka and PostgreSQL are not.
while :; do
    for i in "${!PIDS[@]}"; do
        kill -0 "${PIDS[$i]}" 2>/dev/null && continue
        wait "${PIDS[$i]}" 2>/dev/null
        status=$?
        if [ "${HERALD_RUN_RESTART:-false}" != true ] || [ -z "${SPECS[$i]:-}" ]; then
            fail "${NAMES[$i]} exited unexpectedly (status $status); see $LOG/${NAMES[$i]}.log"
        fi
        say "${NAMES[$i]} exited (status $status): starting it again"
        eval "spawn ${SPECS[$i]}"
        PIDS[$i]=$SPAWNED
    done
    sleep 0.5 &
    wait $! 2>/dev/null
done
