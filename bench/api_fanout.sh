#!/bin/bash
# api_fanout.sh -- fan-out of one topic with N devices (default
# 1,000,000) into herald.deliver.fcm batches: time from the accepted send
# (recipient filter {topics: [bench]}) to its push_requests row (written
# only after every batch of it was acknowledged), the CPU-seconds
# herald-api, PostgreSQL and herald-devkafka spent meanwhile (and per
# 1,000,000 deliveries), then a count of the tokens in the batches
# (unique and total; VERIFY=0 skips it). Devices are created in SQL
# (a quarter each with locale pt-BR, fr, de and none); the API path is
# bench/api_register.sh. TEMPLATE=1 sends a second time with
# localizations (pt, fr) and a template in the title.
#   bash bench/api_fanout.sh [N]     (BIN=... for other binaries)
. "$(dirname "$0")/api_lib.sh"
N=${1:-1000000}
machine
pg_start
kafka_start
api_start HERALD_LOG_LEVEL=info ${FANOUT_ENV:-}
echo "creating $N devices on channel bench"
t=$(date +%s.%N)
# One transaction on this throwaway cluster: no per-row foreign-key
# checks (session_replication_role), and the one index whose keys arrive
# in random order (the token) built once at the end, by sorting.
psql_q "
  set session_replication_role = replica;
  set maintenance_work_mem = '256MB';
  begin;
  drop index devices_token;
  insert into devices (id, app, provider, token, platform, locale)
  select 'dev-' || lpad(i::text, 8, '0'), 'default', 'fcm',
         'fcm-token-' || md5(i::text) || md5((i * 7)::text), 'android',
         (array['pt-BR', 'fr', 'de', ''])[1 + i % 4]
    from generate_series(1, $N) i;
  insert into device_topics (device_id, topic, src, app)
  select 'dev-' || lpad(i::text, 8, '0'), 'bench', 0, 'default'
    from generate_series(1, $N) i;
  create unique index devices_token on devices (app, provider, token);
  commit;" >/dev/null
psql_q "vacuum analyze devices, device_topics" >/dev/null
echo "  done in $(echo "$(date +%s.%N) - $t" | bc) s"
# The mock cluster keeps a few MB per partition, so the batches are counted
# while they are produced, by a reader started first.
cat >"$WORK/verify.py" <<'PY'
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
brokers, uid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-verify", "enable.auto.commit": False,
              "fetch.wait.max.ms": 5})
t = "herald.deliver.fcm"
c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for p in c.list_topics(t).topics[t].partitions])
seen, total, batches, idle = set(), 0, 0, 0
while idle < 600 and total < n:
    ms = c.consume(1000, 0.1)
    if not ms:
        idle += 1
        continue
    idle = 0
    for m in ms:
        if m.error():
            continue
        b = json.loads(m.value())
        if b.get("uid") != uid:
            continue
        batches += 1
        for tok in b["tokens"]:
            total += 1
            seen.add(tok["token"])
c.close()
print("verified from Kafka: %d batches, %d tokens, %d unique" % (batches, total, len(seen)))
PY

# cpu_report API0 PG0 KAFKA0 API1 PG1 KAFKA1: CPU-seconds each process
# spent during the send, and per 1,000,000 deliveries
cpu_report() {
    local names=(herald-api postgresql herald-devkafka) i d total=0 line=""
    for i in 0 1 2; do
        d=$((${@:$((i + 4)):1} - ${@:$((i + 1)):1}))
        total=$((total + d))
        line="$line ${names[$i]} $(ticks_s "$d") s ($(ticks_s "$((d * 1000000 / N))") s/1M),"
    done
    echo "  CPU:$line total $(ticks_s "$total") s ($(ticks_s "$((total * 1000000 / N))") CPU-s per 1M deliveries)"
}

run_send() {
    UID_=bench-$1-$(date +%s)
    if [ "${VERIFY:-1}" = 1 ]; then
        /usr/bin/python3 "$WORK/verify.py" "$KAFKA" "$UID_" "$N" >"$WORK/verify.out" 2>&1 &
        VPID=$!
        sleep 2
    fi
    cpu0=($(cpu_ticks "$API_PID") $(pg_cpu_ticks) $(cpu_ticks "$KAFKA_PID"))
    t0=$(date +%s.%N)
    curl -fsS -H "Authorization: apikey $API_KEY" -d "{\"recipient\":{\"filter\":{\"topics\":[\"bench\"]}},\"uid\":\"$UID_\",$2}" "$API_URL/api/send_push_notification" >/dev/null
    # herald-api logs the request done once its push_requests row is
    # written: waiting on the log keeps the wait's own queries (a new
    # backend each) out of PostgreSQL's CPU figure
    until grep -q "request $UID_ done" "$WORK/api.log"; do
        sleep 0.05
    done
    t1=$(date +%s.%N)
    cpu1=($(cpu_ticks "$API_PID") $(pg_cpu_ticks) $(cpu_ticks "$KAFKA_PID"))
    echo "fan-out of $N devices ($1): $(echo "$t1 - $t0" | bc) s from send to the last batch acknowledged and recorded (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    cpu_report "${cpu0[@]}" "${cpu1[@]}"
    echo "  recorded: $(psql_q "select state || ', ' || tokens || ' tokens' from push_requests where uid = '$UID_'")"
    grep -o "request $UID_ done[^\"]*" "$WORK/api.log" || true
    if [ "${VERIFY:-1}" = 1 ]; then
        wait $VPID
        cat "$WORK/verify.out"
    fi
}

PLAIN='"notification":{"fcm":{"message":{"data":{"k":"v"}}}}'
run_send plain "$PLAIN"
if [ "${TEMPLATE:-0}" = 1 ]; then
    TMPL='"notification":{"fcm":{"message":{"notification":{"title":"{{default [[Hello]] .l10n.greeting}}!","body":"{{default [[How is it going]] .l10n.question}}?"}}}},"localizations":{"pt":{"translations":{"greeting":"Olá","question":"Como tá indo"}},"fr":{"translations":{"greeting":"Bonjour","question":"Comment ça va"}}}'
    run_send l10n "$TMPL"
fi
