"""test_api_register_groups.py -- device_register's group commit: with one
registration slot and many concurrent requests, registrations that wait
go to PostgreSQL together (one round trip, one commit). Every request
must still get exactly its own device, with the channels a lone
registration would have given it, and racing registrations of one token
must still leave one device holding the last user's channels.
"""
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from api_support import serve_api, uid, wait_sql

THREADS = 24


@pytest.fixture(scope="module")
def api(pg_cluster):
    yield from serve_api(pg_cluster, HERALD_API_REGISTER_SLOTS="1", HERALD_HTTP_WORKERS="32",
                         HERALD_PG_POOL_SIZE="4", HERALD_API_FANOUT="false",
                         HERALD_API_FEEDBACK="false")


def run_all(fn, jobs):
    with ThreadPoolExecutor(max_workers=THREADS) as ex:
        return list(ex.map(fn, jobs))


def channels_by_device(api, where):
    rows = api.sql("select d.id || ':' || coalesce(string_agg(c.topic || '/' || c.src, ','"
                   " order by c.topic, c.src), '') from devices d left join device_topics c"
                   " on c.device_id = d.id where %s group by d.id" % where)
    out = {}
    for line in rows.splitlines():
        dev, chans = line.split(":", 1)
        out[dev] = set(chans.split(",")) if chans else set()
    return out


def test_concurrent_registrations_each_get_their_own_device(api):
    run = uid()
    users = ["%s-u%d" % (run, i) for i in range(12)]
    for u in users:
        api.ok("push_user_channel_update", {"user": u, "op": "set", "channels": ["uc-" + u]})
    groups0 = api.metric("herald_api_register_groups_total")
    grouped0 = api.metric("herald_api_register_grouped_total")
    arrays0 = api.metric("herald_api_register_group_arrays_total")
    jobs = [("%s-tok%d" % (run, i), users[i % len(users)]) for i in range(480)]

    def register(job):
        token, user = job
        st, doc = api.call("device_register", {"provider": "fcm", "token": token,
                                               "platform": "android", "user": user,
                                               "channels": ["own-" + token]})
        return job, st, doc

    for (token, user), st, doc in run_all(register, jobs):
        assert st == 200 and "result" in doc, (token, st, doc)
        d = doc["result"]["device"]
        assert (d["token"], d["user"]) == (token, user)
    assert int(api.sql("select count(*) from devices where token like '%s-tok%%'" % run)) == 480
    by_dev = channels_by_device(api, "d.token like '%s-tok%%'" % run)
    ids = api.sql("select id || ' ' || token || ' ' || user_id from devices"
                  " where token like '%s-tok%%'" % run).splitlines()
    for line in ids:
        dev, token, user = line.split(" ")
        assert by_dev[dev] == {"own-%s/0" % token, "uc-%s/1" % user}, line
    # they did not go one by one
    assert api.metric("herald_api_register_groups_total") > groups0
    assert api.metric("herald_api_register_grouped_total") - grouped0 >= 2
    # different tokens, no id: groups went as one call of the function
    assert api.metric("herald_api_register_group_arrays_total") > arrays0


def test_groups_of_known_and_new_tokens_and_ids(api):
    run = uid()
    users = ["%s-u%d" % (run, i) for i in range(8)]
    for u in users:
        api.ok("push_user_channel_update", {"user": u, "op": "set", "channels": ["uc-" + u]})
    known = ["%s-known%d" % (run, i) for i in range(120)]
    first = {}
    for st, doc in run_all(lambda t: api.call("device_register", {
            "provider": "fcm", "token": t, "platform": "android", "user": users[0],
            "channels": ["old-" + t]}), known):
        assert st == 200 and "result" in doc, (st, doc)
        first[doc["result"]["device"]["token"]] = doc["result"]["device"]["id"]
    arrays0 = api.metric("herald_api_register_group_arrays_total")
    ordered0 = api.metric("herald_api_register_group_ordered_total")
    # known tokens moved to other users, new tokens, and known devices
    # named by id taking a new token, all at once
    jobs = [("known", t, users[1 + i % 7]) for i, t in enumerate(known[:80])]
    jobs += [("new", "%s-new%d" % (run, i), users[i % 8]) for i in range(160)]
    jobs += [("id", t, users[2]) for t in known[80:]]

    def register(job):
        kind, token, user = job
        params = {"provider": "fcm", "token": token, "platform": "android", "user": user,
                  "channels": ["own-" + token]}
        if kind == "id":
            params["id"] = first[token]
            params["token"] = token + "-moved"
        return job, api.call("device_register", params)

    for (kind, token, user), (st, doc) in run_all(register, jobs):
        assert st == 200 and "result" in doc, (kind, token, st, doc)
        d = doc["result"]["device"]
        want = token + "-moved" if kind == "id" else token
        assert (d["token"], d["user"]) == (want, user), (kind, token, d)
        if kind != "new":
            assert d["id"] == first[token], (kind, token, d)
        by_dev = channels_by_device(api, "d.id = '%s'" % d["id"])
        assert by_dev[d["id"]] == {"own-%s/0" % token, "uc-%s/1" % user}, (kind, token)
    assert int(api.sql("select count(*) from devices where token like '%s-%%'" % run)) == 280
    assert api.metric("herald_api_register_group_arrays_total") > arrays0
    # groups with an id went in order, as one call too
    assert api.metric("herald_api_register_group_ordered_total") > ordered0


def test_racing_registrations_of_one_token_leave_one_device(api):
    run = uid()
    users = ["%s-u%d" % (run, i) for i in range(6)]
    for u in users:
        api.ok("push_user_channel_update", {"user": u, "op": "set", "channels": ["uc-" + u]})
    tokens = ["%s-shared%d" % (run, i) for i in range(4)]
    # every token registered many times, by every user, all at once
    jobs = [(tokens[i % len(tokens)], users[(i // len(tokens)) % len(users)])
            for i in range(360)]

    def register(job):
        token, user = job
        return api.call("device_register", {"provider": "fcm", "token": token,
                                            "platform": "android", "user": user})

    for st, doc in run_all(register, jobs):
        assert st == 200 and "result" in doc, (st, doc)
    rows = api.sql("select token || ' ' || user_id || ' ' || id from devices"
                   " where token like '%s-shared%%' order by token" % run).splitlines()
    assert [r.split(" ")[0] for r in rows] == sorted(tokens)  # one device per token
    by_dev = channels_by_device(api, "d.token like '%s-shared%%'" % run)
    for line in rows:
        _, user, dev = line.split(" ")
        # the user-bound channels are exactly the final user's
        assert by_dev[dev] == {"uc-%s/1" % user}, line


LOCKS = "select count(*) from pg_locks l join pg_database d on d.oid = l.database" \
        " where d.datname = current_database() and l.locktype = 'advisory'" \
        " and l.classid = 1213353029 and %s"


def psql_proc(api, sql=None):
    args = ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", api.dsn]
    if sql is not None:
        args += ["-c", sql]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def register_args(app, rows):
    """herald_device_register_{many,bulk}'s sixteen arrays for rows of
    (token, user): new fcm devices."""
    def arr(vals, typ):
        return "ARRAY[%s]::%s[]" % (",".join("NULL" if v is None else "'%s'" % v for v in vals), typ)
    n = len(rows)
    return ",".join([arr([app] * n, "text"), arr([None] * n, "text"),
                     arr([uuid.uuid4().hex for _ in rows], "text"), arr(["fcm"] * n, "text"),
                     arr([t for t, _ in rows], "text"), arr(["android"] * n, "text"),
                     arr([u for _, u in rows], "text"), arr([None] * n, "jsonb"),
                     arr([None] * n, "jsonb"), arr(["{}"] * n, "text"), arr([None] * n, "text"),
                     arr(["0"] * n, "smallint"), arr([None] * n, "smallint"),
                     arr([None] * n, "text"), arr([None] * n, "text"), arr([None] * n, "text")])


def one_register(app, token, user):
    return ("select count(*) from herald_device_register('%s', NULL, '%s', 'fcm', '%s', 'android',"
            " '%s', NULL, NULL, '{}', NULL, 0::smallint, NULL, NULL, NULL, NULL)"
            % (app, uuid.uuid4().hex, token, user))


def race(api, app, u1, first, second):
    """A session holds u1's lock, the one that comes first; first (a group
    of all users at once) and then second queue behind it; the lock is let
    go. Returns both (rc, stderr)."""
    s = psql_proc(api)
    s.stdin.write("begin; select pg_advisory_xact_lock(1213353029, hashtext('%s:%s'));\n" % (app, u1))
    s.stdin.flush()
    wait_sql(api, LOCKS % "l.granted", "1")
    p1 = psql_proc(api, first)
    wait_sql(api, LOCKS % "not l.granted", "1")
    p2 = psql_proc(api, second)
    wait_sql(api, LOCKS % "not l.granted", "2")
    s.stdin.write("commit;\n")
    s.stdin.close()
    s.wait(timeout=30)
    out = []
    for p in (p1, p2):
        _, err = p.communicate(timeout=30)
        out.append((p.returncode, err))
    return out


def test_ordered_groups_take_every_lock_first(api):
    """A group whose registrations must run in order (an id given, a token
    twice) takes every user's lock before its first row, in the order
    herald_device_register_many takes them: two groups sharing two users
    no longer wait for each other until the deadlock detector breaks
    one. The same rows as one call each in one transaction, as such a
    group went before, do deadlock (the test's own check)."""
    app = "lk" + uuid.uuid4().hex[:8]
    users = [app + "-a", app + "-b"]
    many = "select count(*) from herald_device_register_many(%s)" % register_args(
        app, [("m1", users[0]), ("m2", users[1])])
    # rows in the other order: the second user's first
    u1 = api.sql("select u from unnest(array['%s','%s']) u order by hashtext('%s:' || u) limit 1"
                 % (users[0], users[1], app))
    u2 = users[1] if u1 == users[0] else users[0]
    bulk = "select count(*) from herald_device_register_bulk(%s)" % register_args(
        app, [("b1", u2), ("b2", u1)])
    for rc, err in race(api, app, u1, many, bulk):
        assert rc == 0 and "deadlock" not in err, err
    assert api.sql("select string_agg(token, ',' order by token) from devices where app = '%s'"
                   % app) == "b1,b2,m1,m2"
    # the control: one call per row, as the pipeline ran them
    many = "select count(*) from herald_device_register_many(%s)" % register_args(
        app, [("m3", users[0]), ("m4", users[1])])
    rows = "begin; %s; %s; commit;" % (one_register(app, "p1", u2), one_register(app, "p2", u1))
    errs = [err for rc, err in race(api, app, u1, many, rows) if rc != 0]
    assert len(errs) == 1 and "deadlock detected" in errs[0], errs
