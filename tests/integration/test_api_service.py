"""test_api_service.py -- herald-api as a process: --help, configuration
refused naming the variable, the migrate subcommand, and SIGTERM in the
middle of a fan-out (exit 0, the unfinished request left uncommitted and
finished by the next instance).
"""
import os
import signal
import subprocess

from api_support import API_KEY, batches_for, start_api, tokens_of, uid, wait_sql
from harness import BIN, ROOT, SANITIZER_MARKERS
from test_api_fanout import FCM, bulk_devices, expected_tokens, send

API = os.path.join(BIN, "herald-api")


def run(env, *args, timeout=30):
    r = subprocess.run([API] + list(args), env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert not [m for m in SANITIZER_MARKERS if m in r.stderr + r.stdout], r.stderr[-3000:]
    return r


def test_help_lists_the_variables(stack):
    r = run(stack.env(), "--help")
    assert r.returncode == 0
    out = r.stdout + r.stderr
    for v in ("HERALD_API_KEY", "HERALD_API_PORT", "HERALD_PG_DSN", "HERALD_KAFKA_BROKERS",
              "HERALD_API_MAX_INACTIVE_DEVICE_DAYS", "HERALD_JWT_SECRET", "migrate"):
        assert v in out, v


def test_bad_configuration_is_refused_naming_the_variable(stack, pg_dsn):
    base = {"HERALD_API_KEY": API_KEY, "HERALD_PG_DSN": pg_dsn,
            "HERALD_KAFKA_BROKERS": "127.0.0.1:1"}
    for change, name in [({"HERALD_API_KEY": None}, "HERALD_API_KEY"),
                         ({"HERALD_API_KEY": "a,,b"}, "HERALD_API_KEY"),
                         ({"HERALD_PG_DSN": None}, "HERALD_PG_DSN"),
                         ({"HERALD_API_FANOUT_WORKERS": "0"}, "HERALD_API_FANOUT_WORKERS"),
                         ({"HERALD_API_PORT": "70000"}, "HERALD_API_PORT"),
                         ({"HERALD_KAFKA_NO_SUCH_PROPERTY": "1"}, "HERALD_KAFKA_NO_SUCH_PROPERTY")]:
        env = dict(base)
        env.update(change)
        r = run(stack.env(**env))
        assert r.returncode == 2, (change, r.returncode, r.stderr[-500:])
        assert name in r.stderr, (change, r.stderr[-500:])
    r = run(stack.env(**base), "frobnicate")
    assert r.returncode == 2 and "frobnicate" in r.stderr


def test_migrate_applies_and_exits(stack, pg_dsn, pg_cluster):
    r = run(stack.env(HERALD_PG_DSN=pg_dsn), "migrate")
    assert r.returncode == 0, r.stderr[-2000:]
    # every migration of db/migrations, embedded in the binary
    n = len([f for f in os.listdir(os.path.join(ROOT, "db", "migrations")) if f.endswith(".sql")])
    assert "%d applied" % n in r.stderr, r.stderr[-500:]
    tables = pg_cluster.psql(pg_dsn, "select string_agg(tablename, ',' order by tablename) "
                                     "from pg_tables where schemaname = 'public'")
    for t in ("device_topics", "devices", "installations", "push_requests", "push_status",
              "user_topics"):
        assert t in tables.split(","), tables
    r = run(stack.env(HERALD_PG_DSN=pg_dsn), "migrate")
    assert r.returncode == 0 and "0 applied" in r.stderr


def test_sigterm_mid_fanout_exits_zero_and_the_next_instance_finishes(stack, pg_cluster):
    a = start_api(stack, pg_cluster, HERALD_API_FANOUT_PAGE="100",
                  HERALD_API_FANOUT_MAX_BATCHES="1")
    ch = "term-" + uid()
    bulk_devices(a, "st", ch, 20000)
    want = expected_tokens(a, "st", "fcm")
    a.kafka.cmd("rtt 1 100")
    u = send(a, {"channels": [ch]}, {"uid": uid(), **FCM})
    batches_for(a.kafka.brokers, "fcm", u, lambda bs: len(bs) >= 4, timeout=60)
    a.svc.signal(signal.SIGTERM)
    assert a.svc.proc.wait(20) == 0
    assert a.sql("select count(*) from push_requests where uid = '%s'" % u) == "0", \
        "an unfinished request is not recorded"
    assert not a.svc.sanitizer_reports()
    a.kafka.cmd("rtt 1 0")
    b = start_api(stack, pg_cluster, dsn=a.dsn, kafka=a.kafka)
    wait_sql(b, "select state from push_requests where uid = '%s'" % u, "done", timeout=120)
    toks = tokens_of(batches_for(b.kafka.brokers, "fcm", u,
                                 lambda bs: set(tokens_of(bs)) >= want, timeout=60))
    assert set(toks) == want
