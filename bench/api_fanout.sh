#!/bin/bash
# api_fanout.sh -- fan-out of one channel with N devices (default
# 1,000,000) into herald.deliver.fcm batches: time from the accepted send
# to its push_requests row (written only after every batch of it was
# acknowledged), then a count of the tokens in the batches (unique and
# total). Devices are created in SQL; the API path is bench/api_register.sh.
#   sh bench/api_fanout.sh [N]     (BIN=... for other binaries)
. "$(dirname "$0")/api_lib.sh"
N=${1:-1000000}
machine
pg_start
kafka_start
api_start HERALD_LOG_LEVEL=info ${FANOUT_ENV:-}
echo "creating $N devices on channel bench"
t=$(date +%s.%N)
psql_q "
  insert into devices (id, app, provider, token, platform)
  select 'dev-' || lpad(i::text, 8, '0'), 'default', 'fcm',
         'fcm-token-' || md5(i::text) || md5((i * 7)::text), 'android'
    from generate_series(1, $N) i;
  insert into device_channels (device_id, channel, src, app)
  select 'dev-' || lpad(i::text, 8, '0'), 'bench', 0, 'default'
    from generate_series(1, $N) i;" >/dev/null
psql_q "vacuum analyze devices" >/dev/null
psql_q "vacuum analyze device_channels" >/dev/null
echo "  done in $(echo "$(date +%s.%N) - $t" | bc) s"
UID_=bench-$(date +%s)
# The mock cluster keeps a few MB per partition, so the batches are counted
# while they are produced, by a reader started first.
if [ "${VERIFY:-1}" = 1 ]; then
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
    /usr/bin/python3 "$WORK/verify.py" "$KAFKA" "$UID_" "$N" >"$WORK/verify.out" 2>&1 &
    VPID=$!
    sleep 2
fi
t0=$(date +%s.%N)
curl -fsS -H "Authorization: apikey $API_KEY" -d "{\"recipient\":{\"channels\":[\"bench\"]},\"notification\":{\"uid\":\"$UID_\",\"fcm\":{\"message\":{\"data\":{\"k\":\"v\"}}}}}" "$API_URL/api/send_push_notification" >/dev/null
until [ "$(psql_q "select state from push_requests where uid = '$UID_'")" = done ]; do
    sleep 0.05
done
t1=$(date +%s.%N)
echo "fan-out of $N devices: $(echo "$t1 - $t0" | bc) s from send to the last batch acknowledged and recorded"
echo "  recorded: $(psql_q "select tokens || ' tokens' from push_requests where uid = '$UID_'")"
grep -o "request $UID_ done[^\"]*" "$WORK/api.log" || true
if [ "${VERIFY:-1}" = 1 ]; then
    wait $VPID
    cat "$WORK/verify.out"
fi
