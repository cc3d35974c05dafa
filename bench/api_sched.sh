#!/bin/bash
# api_sched.sh -- the scheduler stage's release rate: N pushes (default
# 50,000) held in scheduled_pushes, all due at once 5 s after they are
# written, released to herald.requests by one herald-api (fan-out stage
# off, so only the release is measured). Prints the time from due to
# the last row marked released, and releases per second.
#   bash bench/api_sched.sh [N]     (BIN=... for other binaries)
. "$(dirname "$0")/api_lib.sh"
N=${1:-50000}
machine
pg_start
kafka_start
api_start HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
echo "holding $N pushes"
psql_q "
  insert into scheduled_pushes (app, uid, due_at, state, record)
  select 'default', 'sched-' || i, now() + interval '5 seconds', 'pending',
         '{\"v\":1,\"uid\":\"sched-' || i || '\",\"app\":\"default\",\"created_ms\":0,'
         || '\"expire_at_ms\":0,\"recipient\":{\"fcm_tokens\":[\"tok-' || i || '\"]},'
         || '\"notification\":{\"fcm\":{\"message\":{\"data\":{\"k\":\"v\"}}}}}'
    from generate_series(1, $N) i;
  analyze scheduled_pushes;" >/dev/null
due=$(psql_q "select extract(epoch from min(due_at)) from scheduled_pushes")
until [ "$(psql_q "select count(*) from scheduled_pushes where state = 'released'")" = "$N" ]; do
    sleep 0.1
done
t1=$(date +%s.%N)
echo "released $N due pushes in $(echo "$t1 - $due" | bc) s after they were due: $(echo "$N / ($t1 - $due)" | bc) per second"
