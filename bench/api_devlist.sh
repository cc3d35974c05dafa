#!/bin/bash
# api_devlist.sh -- device_list over N devices (default 1,000,000): every
# page of 100 by next_cursor, each call timed on one kept-alive connection,
# with herald-api's and PostgreSQL's CPU per page (from /proc). Devices
# are created in SQL (nine in ten FCM, one in ten APNs; all on topic
# "bench", one in a thousand also on topic "rare"). Runs: all devices;
# the topic "bench" with each device's topics; the rare topic; the token
# prefix of every FCM device; a prefix of a few devices.
#   bash bench/api_devlist.sh [N]     (BIN=... for other binaries)
. "$(dirname "$0")/api_lib.sh"
N=${1:-1000000}
machine
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
pg_start
kafka_start
api_start HERALD_API_FANOUT=false HERALD_API_FEEDBACK=false
echo "creating $N devices"
t=$(date +%s.%N)
psql_q "
  insert into devices (id, app, provider, token, platform, user_id)
  select 'dev-' || lpad(i::text, 8, '0'), 'default',
         case when i % 10 = 0 then 'apns' else 'fcm' end,
         case when i % 10 = 0 then md5(i::text) || md5((i * 7)::text)
              else 'fcm-token-' || md5(i::text) || md5((i * 7)::text) end,
         case when i % 10 = 0 then 'ios' else 'android' end,
         'user-' || (i % 100000)
    from generate_series(1, $N) i;
  insert into device_topics (device_id, topic, src, app)
  select 'dev-' || lpad(i::text, 8, '0'), 'bench', 0, 'default'
    from generate_series(1, $N) i;
  insert into device_topics (device_id, topic, src, app)
  select 'dev-' || lpad(i::text, 8, '0'), 'rare', 0, 'default'
    from generate_series(1, $N, 1000) i;" >/dev/null
psql_q "vacuum analyze devices" >/dev/null
psql_q "vacuum analyze device_topics" >/dev/null
echo "  done in $(echo "$(date +%s.%N) - $t" | bc) s"
PG_PID=$(head -n 1 "$WORK/pg/data/postmaster.pid")
cat >"$WORK/devlist.py" <<'PY'
import http.client, json, os, sys, time, urllib.parse
url, key, body = urllib.parse.urlparse(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
api_pid, pg_pid = int(sys.argv[4]), int(sys.argv[5])
hz = os.sysconf("SC_CLK_TCK")

def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])

def pg_ticks():
    """PostgreSQL's backends and helpers: the postmaster's children."""
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                v = f.read().rsplit(")", 1)[1].split()
            if int(v[1]) == pg_pid:
                total += int(v[11]) + int(v[12])
        except OSError:
            pass
    return total

conn = http.client.HTTPConnection(url.hostname, url.port)
times, cursor, items = [], "", 0
a0, p0 = ticks(api_pid), pg_ticks()
while True:
    body["cursor"] = cursor
    t = time.perf_counter()
    conn.request("POST", "/api/device_list", json.dumps(body), {"X-API-Key": key})
    doc = json.loads(conn.getresponse().read())["result"]
    times.append((time.perf_counter() - t) * 1000)
    items += len(doc["items"])
    cursor = doc.get("next_cursor")
    if not cursor:
        break
a1, p1 = ticks(api_pid), pg_ticks()
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]
print("device_list %s: %d pages, %d devices in %.1f s" % (json.dumps({k: v for k, v in body.items() if k != "cursor"}), len(times), items, sum(times) / 1000))
for name, xs in [("first 100 pages", times[:100]), ("last 100 pages", times[-100:]), ("all", times)]:
    print("  %-16s p50 %.2f ms  p99 %.2f ms  max %.2f ms" % (name, pct(xs, 0.5), pct(xs, 0.99), max(xs)))
print("  CPU per page: herald-api %.0f us, PostgreSQL %.0f us" % (
    (a1 - a0) * 1e6 / hz / len(times), (p1 - p0) * 1e6 / hz / len(times)))
PY
run() { /usr/bin/python3 "$WORK/devlist.py" "$API_URL" "$API_KEY" "$1" "${PIDS[-1]}" "$PG_PID"; }
run '{"limit":100}'
run '{"limit":100,"filter":{"topics":["bench"]},"include_topics":true}'
run '{"limit":100,"filter":{"topics":["rare"]},"include_total_count":true}'
# every FCM device (90 % of all), then a handful
run '{"limit":100,"filter":{"token_prefix":"fcm-token-"}}'
run '{"limit":100,"filter":{"token_prefix":"fcm-token-c4ca"},"include_total_count":true}'
if [ "${HOLD:-0}" = 1 ]; then
    echo "holding: psql $PG_DSN (Ctrl-C to stop)"
    sleep 3600
fi
