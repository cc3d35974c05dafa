#!/bin/bash
# hub_shards.sh -- two shards against one hub on the same event stream:
# USERS users with one SignalR connection each and EVENTS user
# notifications produced to herald.events at RATE/s, spread evenly over
# the users and keyed by user id (the partition herald-api picks).
#   1. one unsharded hub, one load client holding every user;
#   2. two shards (HERALD_HUB_SHARDS=2), each with a load client holding
#      the users it owns (those of its partitions), the same events.
# Every delivery is counted at the clients. Reports the CPU-seconds of
# each hub process (utime + stime, Kafka consumer included) from the
# first event to the last delivery, and each shard's share of the
# unsharded hub's.
#
#   bench/hub_shards.sh [USERS=10000] [EVENTS=100000] [RATE=5000]
# Uses build/release/bin (BIN=...). Loopback only; bounded (each phase:
# clients end after 300 s at most).
set -eu
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bin}
USERS=${1:-10000}
EVENTS=${2:-100000}
RATE=${3:-5000}
PORT=${PORT:-18581}
SECRET=bench-secret-0123456789abcdef0123
OUT=$(mktemp -d /tmp/hub-shards.XXXXXX)
PIDS=()
DK=
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'cleanup; [ -z "$DK" ] || { kill "$DK" 2>/dev/null; wait "$DK" 2>/dev/null; } || true; rm -rf "$OUT"' EXIT

# start_kafka: a fresh mock cluster for each phase (its fetch cost grows
# with the log, so the second phase must not read after the first's)
start_kafka() {
    if [ -n "$DK" ]; then
        kill "$DK" 2>/dev/null || true
        wait "$DK" 2>/dev/null || true
    fi
    rm -f "$OUT/boot"
    HERALD_DEVKAFKA_TOPICS=herald.events:4,herald.broadcast:2 \
    HERALD_DEVKAFKA_BOOTSTRAP_FILE=$OUT/boot "$BIN/herald-devkafka" </dev/null >"$OUT/dk.out" 2>>"$OUT/dk.log" &
    DK=$!
    for _ in $(seq 100); do [ -s "$OUT/boot" ] && break; sleep 0.1; done
    BROKERS=$(cat "$OUT/boot")
}
start_kafka

# Which shard owns each user (as the hub: CRC-32 of the id, modulo the 4
# partitions, modulo 2), how many events each shard's users get, and a
# user of each shard for the start-up probe.
/usr/bin/python3 - "$USERS" "$EVENTS" "$OUT" <<'PY'
import sys, zlib
users, events, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
shard = lambda uid: zlib.crc32(uid.encode()) % 4 % 2
files = [open("%s/users%d" % (out, k), "w") for k in (0, 1)]
for i in range(users):
    u = "load-%d" % i
    files[shard(u)].write(u + "\n")
expect = [0, 0]
for j in range(events):
    expect[shard("load-%d" % (j % users))] += 1
probe = [next("probe-%d" % i for i in range(100) if shard("probe-%d" % i) == k) for k in (0, 1)]
open(out + "/plan", "w").write("%d %d %s %s\n" % (expect[0], expect[1], probe[0], probe[1]))
PY
read -r EXPECT0 EXPECT1 PROBE0 PROBE1 <"$OUT/plan"

# start_hub NAME PORT ADMIN [ENV=VALUE...]: the hub's pid in $HUB
start_hub() {
    local name=$1 port=$2 admin=$3
    shift 3
    env HERALD_HUB_PORT="$port" HERALD_HUB_ADMIN_PORT="$admin" HERALD_JWT_SECRET=$SECRET \
        HERALD_KAFKA_BROKERS="$BROKERS" HERALD_HUB_THREADS=1 HERALD_LOG_LEVEL=warn \
        HERALD_HUB_MAX_PER_ADDRESS=100000 "$@" "$BIN/herald-hub" 2>"$OUT/$name.log" &
    HUB=$!
    PIDS+=($HUB)
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
}
# wait_routed ADMIN USER: until the hub has consumed an event for USER
wait_routed() {
    for _ in $(seq 60); do
        /usr/bin/python3 bench/hub_produce.py "$BROKERS" 1 0 "user:$2" >/dev/null
        curl -s "http://127.0.0.1:$1/metrics" | grep -q 'herald_hub_events_total{source="kafka",result="routed"} [1-9]' && return 0
        sleep 0.5
    done
    echo "hub on admin port $1 consumed nothing" >&2
    return 1
}
# load NAME PORT EXPECT [hub_load options]: a client in the background
load() {
    local name=$1 port=$2 expect=$3
    shift 3
    "$BIN/hub_load" --port "$port" --secret $SECRET --rate 5000 --duration 300 \
        --expect "$expect" "$@" >"$OUT/$name.out" &
    LOADPID=$!
    PIDS+=($LOADPID)
}
wait_open() { until grep -q "\"open\":$2," "$OUT/$1.out" 2>/dev/null; do sleep 0.2; done; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# threads PID FILE: each thread's name, CPU ticks and wake-ups (voluntary
# context switches), for the breakdown
threads() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" \
            "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')" \
            "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")"
    done >"$2"
}
deliveries() { tail -n 1 "$OUT/$1.out" | sed -n 's/.*"deliveries":\([0-9]*\).*/\1/p'; }

# 1. one hub for everyone
start_hub one "$PORT" $((PORT + 1))
ONE=$HUB
load one "$PORT" "$EVENTS" --conns "$USERS" --users "$USERS"
L1=$LOADPID
wait_open one "$USERS"
wait_routed $((PORT + 1)) "$PROBE0"
sleep 1
C0=$(cpu "$ONE"); threads "$ONE" "$OUT/th.one.0"; T0=$(date +%s.%N)
/usr/bin/python3 bench/hub_produce.py "$BROKERS" "$EVENTS" "$RATE" "users:$USERS" >"$OUT/produce1.out"
wait "$L1" || true
C1=$(cpu "$ONE"); threads "$ONE" "$OUT/th.one.1"; T1=$(date +%s.%N)
D1=$(deliveries one)
cleanup

# 2. two shards, the users of each on its own client
start_kafka
start_hub shard0 "$PORT" $((PORT + 1)) HERALD_HUB_SHARDS=2 HERALD_HUB_SHARD=0
S0=$HUB
start_hub shard1 $((PORT + 2)) $((PORT + 3)) HERALD_HUB_SHARDS=2 HERALD_HUB_SHARD=1
S1=$HUB
N0=$(wc -l <"$OUT/users0"); N1=$(wc -l <"$OUT/users1")
load load0 "$PORT" "$EXPECT0" --conns "$N0" --user-file "$OUT/users0"
LA=$LOADPID
load load1 $((PORT + 2)) "$EXPECT1" --conns "$N1" --user-file "$OUT/users1" --src 127.0.0.3
LB=$LOADPID
wait_open load0 "$N0"
wait_open load1 "$N1"
wait_routed $((PORT + 1)) "$PROBE0"
wait_routed $((PORT + 3)) "$PROBE1"
sleep 1
A0=$(cpu "$S0"); B0=$(cpu "$S1"); threads "$S0" "$OUT/th.s0.0"; threads "$S1" "$OUT/th.s1.0"; T2=$(date +%s.%N)
/usr/bin/python3 bench/hub_produce.py "$BROKERS" "$EVENTS" "$RATE" "users:$USERS" >"$OUT/produce2.out"
wait "$LA" || true
wait "$LB" || true
A1=$(cpu "$S0"); B1=$(cpu "$S1"); threads "$S0" "$OUT/th.s0.1"; threads "$S1" "$OUT/th.s1.1"; T3=$(date +%s.%N)
DA=$(deliveries load0); DB=$(deliveries load1)
cleanup
kill "$DK" 2>/dev/null || true

/usr/bin/python3 - <<PY
import json
tick = $(getconf CLK_TCK)
def threads(name):
    """Per thread name: [CPU-seconds, wake-ups]."""
    def load(f):
        return {l.split()[0]: (l.split()[1], int(l.split()[2]), int(l.split()[3])) for l in open(f)}
    a, b, out = load("$OUT/th.%s.0" % name), load("$OUT/th.%s.1" % name), {}
    for tid, (comm, t, w) in b.items():
        _, t0, w0 = a.get(tid, (comm, 0, 0))
        cpu, wake = out.get(comm, (0, 0))
        out[comm] = (round(cpu + (t - t0) / tick, 2), wake + w - w0)
    return out
one = ($C1 - $C0) / tick
s0, s1 = ($A1 - $A0) / tick, ($B1 - $B0) / tick
print(json.dumps({"bench": "hub_shards", "users": $USERS, "events": $EVENTS, "rate": $RATE,
                  "unsharded": {"deliveries": $D1, "expected": $EVENTS, "cpu_s": round(one, 2),
                                "threads": threads("one"), "wall_s": round($T1 - $T0, 2)},
                  "shard0": {"users": $N0, "deliveries": $DA, "expected": $EXPECT0, "cpu_s": round(s0, 2), "threads": threads("s0"),
                             "share_of_unsharded": round(s0 / one, 3) if one else None},
                  "shard1": {"users": $N1, "deliveries": $DB, "expected": $EXPECT1, "cpu_s": round(s1, 2), "threads": threads("s1"),
                             "share_of_unsharded": round(s1 / one, 3) if one else None},
                  "wall_s_sharded": round($T3 - $T2, 2),
                  "loadavg": open("/proc/loadavg").read().split()[:3]}))
PY
