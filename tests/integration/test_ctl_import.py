"""test_ctl_import.py -- heraldctl import against a real herald-api:
JSON Lines and CSV imports register every good line and report every bad
one with its line number; an import killed or interrupted half-way goes
on with --resume and ends with every device registered once; progress
is a bar on a terminal and plain lines otherwise.
"""
import json
import os
import pty
import signal
import subprocess
import tempfile
import time

import pytest

from api_support import API_KEY, serve_api
from ctlkit import CTL, ctl, ctl_env
from harness import wait_for
from workerkit import tag, token


@pytest.fixture(scope="module")
def api(pg_cluster):
    yield from serve_api(pg_cluster)


def env(api):
    return ctl_env(HERALD_API_URL=api.url, HERALD_API_KEY=API_KEY)


def user_devices(api, user):
    out, since = [], ""
    while True:
        res = api.ok("device_list", {"users": [user], "since": since, "limit": 1000,
                                     "include_meta": True, "include_channels": True})
        out += res["items"]
        if not res["has_more"]:
            return out
        since = res["items"][-1]["id"]


def app_count(api, app):
    return int(api.sql("SELECT count(*) FROM devices WHERE app = '%s'" % app).strip())


def write(lines, suffix=".jsonl"):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False,
                                    dir=tempfile.mkdtemp(prefix="heraldctl-import-"))
    f.write("\n".join(lines) + "\n")
    f.close()
    return f.name


def dev(user, i):
    return json.dumps({"provider": "fcm", "token": "imp-%s-%d" % (user, i),
                       "platform": "android", "user": user})


def test_jsonl_registers_good_lines_and_reports_bad_ones_by_number(api):
    user = "jl-" + tag()
    lines = [dev(user, i) for i in range(300)]
    lines[4] = "this is not json"                                   # line 5
    lines[9] = json.dumps({"provider": "pager", "token": "x", "platform": "android"})  # line 10
    lines[19] = ""                                                  # line 20: blank, skipped
    lines[29] = '{"provider": "fcm", "token": '                     # line 30: broken JSON
    lines[39] = json.dumps({"provider": "fcm", "token": "t", "platform": "android",
                            "timezone": "Mars/Base"})               # line 40: no such timezone
    path = write(lines)
    r = ctl("import", path, env=env(api))
    assert r.rc == 6, r
    # reported as the answers come (many calls are in flight): by number here
    bad = sorted((ln for ln in r.err.splitlines() if ln.startswith("heraldctl import: line ")),
                 key=lambda ln: int(ln.split(":")[1].split()[1]))
    assert [ln.split(":")[1].strip() for ln in bad] == ["line 5", "line 10", "line 30", "line 40"], r
    assert "not a JSON object" in bad[0]
    assert "params.provider" in bad[1] and "code 107" in bad[1]
    assert "not valid JSON" in bad[2]
    assert "params.timezone" in bad[3]
    assert "295 devices registered, 4 bad lines skipped" in r.out, r
    assert len(user_devices(api, user)) == 295
    # the progress file says the import is complete; --resume does nothing
    r = ctl("import", path, "--resume", env=env(api))
    assert r.rc == 0 and "complete already" in r.out, r


def test_csv_with_meta_topics_and_quotes(api):
    user = "csv-" + tag()
    apns = token("apns")
    rows = ["provider,token,platform,user,topics,meta.model,tags.tier",
            "fcm,csv-%s-1,android,%s,news;sport,\"Pixel 8, Pro\",gold" % (user, user),
            "apns,%s,ios,%s,,iPhone,\"say \"\"hi\"\"\"" % (apns, user),
            "fcm,csv-%s-3,android,%s" % (user, user),                # line 4: 4 fields
            "hms,csv-%s-5,android,%s,,\"unterminated,x" % (user, user),  # line 5
            "",
            "hms,csv-%s-7,android,%s,,,\n" % (user, user)]
    path = write(rows, suffix=".csv")
    r = ctl("import", path, env=env(api))
    assert r.rc == 6, r
    assert "line 4: 4 fields, the header has 7" in r.err, r
    assert "line 5: field 6: unterminated quote" in r.err, r
    devs = {d["token"]: d for d in user_devices(api, user)}
    assert len(devs) == 3, devs
    one = devs["csv-%s-1" % user]
    assert one["meta"] == {"model": "Pixel 8, Pro"} and sorted(one["channels"]) == ["news", "sport"]
    assert devs[apns]["provider"] == "apns" and devs[apns]["platform"] == "ios"
    tags = api.ok("device_list", {"ids": [devs[apns]["id"]], "include_tags": True})["items"][0]
    assert tags["tags"] == {"tier": 'say "hi"'}


def test_bad_files_and_settings(api):
    r = ctl("import", write(["token,provider,platform,colour", "a,fcm,ios,red"], ".csv"),
            env=env(api))
    assert r.rc == 2 and 'unknown column "colour"' in r.err, r
    r = ctl("import", write(["token,platform", "a,ios"], ".csv"), env=env(api))
    assert r.rc == 2 and "needs the columns provider, token and platform" in r.err, r
    r = ctl("import", "/nonexistent.jsonl", env=env(api))
    assert r.rc == 2 and "/nonexistent.jsonl" in r.err, r
    r = ctl("import", write([dev("k", 1)]), env=ctl_env(HERALD_API_URL=api.url))
    assert r.rc == 2 and "no API key" in r.err, r
    path = write([dev("wk-" + tag(), i) for i in range(50)])
    r = ctl("import", path, "--key", "wrong-key", env=env(api))
    assert r.rc == 4 and "HTTP 401" in r.err and "stopping" in r.err, r
    assert "--resume goes on after line 0" in r.out, r
    r = ctl("import", path, "--resume", "--progress-file", "/nonexistent/x", env=env(api))
    assert r.rc == 0, r  # no progress file yet: from the start
    r = ctl("import", "-", "--resume", env=env(api))
    assert r.rc == 2 and "--resume needs a FILE" in r.err, r


def test_rate(api):
    user = "rate-" + tag()
    path = write([dev(user, i) for i in range(300)])
    t0 = time.monotonic()
    r = ctl("import", path, "--batch", "10", "--rate", "200", env=env(api))
    took = time.monotonic() - t0
    assert r.rc == 0 and "300 devices registered" in r.out, r
    # the last batch may start once 290 lines are due: 1.45 s in
    assert took >= 1.4, took
    assert len(user_devices(api, user)) == 300
    for bad in ("0", "-5", "fast", "10000001"):
        r = ctl("import", path, "--rate", bad, env=env(api))
        assert r.rc == 2 and "--rate" in r.err, (bad, r)


def test_stdin_and_app(api):
    app = "imp" + tag()
    user = "stdin-" + tag()
    data = "\n".join(dev(user, i) for i in range(20)) + "\n"
    r = ctl("import", "-", "--app", app, env=env(api), input=data)
    assert r.rc == 0 and "20 devices registered, 0 bad" in r.out, r
    assert app_count(api, app) == 20


def progress_line(path):
    try:
        with open(path) as f:
            for ln in f:
                if ln.startswith("line "):
                    return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_resume_after_an_interrupted_import(api, how):
    app = "res" + tag()
    n = 6000
    path = write([json.dumps({"provider": "fcm", "token": "res-%d" % i, "platform": "android",
                              "user": "u%d" % (i % 50)}) for i in range(n)])
    mark = path + ".progress"
    # small batches at 1,000 lines a second: six seconds, stopped after the
    # first half second however fast the machine is
    p = subprocess.Popen([CTL, "import", path, "--app", app, "--concurrency", "2",
                          "--batch", "5", "--rate", "1000"],
                         env=env(api), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: progress_line(mark) >= 500, timeout=60, what="500 lines committed")
        if how == "kill":
            p.kill()
        else:
            p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    stopped_at = progress_line(mark)
    assert 500 <= stopped_at < n, (stopped_at, out, err)
    if how == "interrupt":
        assert p.returncode == 130 and "interrupted" in err, (out, err)
        assert "--resume goes on after line %d" % stopped_at in out, out
    assert app_count(api, app) >= stopped_at
    r = ctl("import", path, "--app", app, "--resume", env=env(api))
    assert r.rc == 0, r
    assert "%d lines in" % (n - stopped_at) in r.out, r
    assert "%d devices registered" % n in r.out, r  # totals carry over
    assert app_count(api, app) == n  # every device, once


def test_progress_on_a_terminal_and_in_a_log(api):
    user = "tty-" + tag()
    # long enough (1.5 s at the rate given) for the bar, which is redrawn
    # every 200 ms, to show
    path = write([dev(user, i) for i in range(3000)])
    master, slave = pty.openpty()
    p = subprocess.Popen([CTL, "import", path, "--concurrency", "2", "--batch", "5",
                          "--rate", "2000"], env=env(api),
                         stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.wait(timeout=30)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert p.returncode == 0, text
    assert "\r\033[K" in text and "█" in text and "lines" in text and "/s" in text, text
    assert "\033[36m" in text  # colour on a terminal
    # NO_COLOR: the bar without colour
    master, slave = pty.openpty()
    p = subprocess.Popen([CTL, "import", path, "--concurrency", "2", "--batch", "5"],
                         env=dict(env(api), NO_COLOR="1"),
                         stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    p.wait(timeout=30)
    os.close(master)
    assert "█" in seen.decode("utf-8", "replace") and b"\033[36m" not in seen
    # not a terminal: plain lines, no escapes
    r = ctl("import", path, "--progress", "1", env=env(api))
    assert r.rc == 0 and "\033[" not in r.err, r
    assert "heraldctl import: 3000 lines done (100.0%), 3000 registered, 0 bad" in r.err, r


def import_state(api, app):
    return api.sql("SELECT string_agg(d.token || '|' || d.platform || '|' || d.user_id || '|' || "
                   "d.meta::text || '|' || coalesce((SELECT string_agg(t.topic || ':' || t.src, ',' "
                   "ORDER BY t.topic, t.src) FROM device_topics t WHERE t.device_id = d.id), ''), "
                   "E'\\n' ORDER BY d.token) FROM devices d WHERE d.app = '%s'" % app)


def bad_lines(err):
    return sorted((ln for ln in err.splitlines() if ln.startswith("heraldctl import: line ")),
                  key=lambda ln: int(ln.split(":")[1].split()[1]))


@pytest.mark.parametrize("batch", ["7", "500"])
def test_batches_register_as_single_calls_do(api, batch):
    u = tag()
    api.ok("user_topic_update", {"app": "one" + u, "user": "eq-1", "op": "set", "topics": ["ut"]})
    api.ok("user_topic_update", {"app": "bat" + u, "user": "eq-1", "op": "set", "topics": ["ut"]})
    lines = [json.dumps({"provider": "fcm", "token": "eq-%d" % i, "platform": "android",
                         "user": "eq-%d" % (i % 3), "topics": ["t%d" % (i % 2)],
                         "meta": {"i": str(i)}}) for i in range(60)]
    lines[12] = "[1, 2]"                                                      # line 13
    lines[20] = json.dumps({"provider": "fcm", "token": "eq-x", "platform": "tv"})  # line 21
    lines[33] = '{"provider": "fcm",'                                         # line 34
    lines[40] = json.dumps({"provider": "fcm", "token": "eq-3", "platform": "ios",
                            "user": "eq-1"})                                  # token of line 4
    path = write(lines)
    # one request at a time: the repeated token is applied in line order
    single = ctl("import", path, "--app", "one" + u, "--batch", "1", "--concurrency", "1",
                 "--progress-file", path + ".one", env=env(api))
    bulk = ctl("import", path, "--app", "bat" + u, "--batch", batch, "--concurrency", "1",
               env=env(api))
    assert single.rc == bulk.rc == 6, (single, bulk)
    assert "57 devices registered, 3 bad lines skipped" in bulk.out, bulk
    assert "57 devices registered, 3 bad lines skipped" in single.out, single
    assert [ln.split(":")[1].strip() for ln in bad_lines(bulk.err)] == \
        ["line 13", "line 21", "line 34"], bulk
    assert bad_lines(bulk.err)[1] == bad_lines(single.err)[1]  # the server's words
    assert "params.platform" in bad_lines(bulk.err)[1] and "code 107" in bad_lines(bulk.err)[1]
    assert "not a JSON object" in bad_lines(bulk.err)[0]
    assert "not valid JSON" in bad_lines(bulk.err)[2]
    assert import_state(api, "bat" + u) == import_state(api, "one" + u)
    assert "eq-3|ios|eq-1|{}|ut:1" in import_state(api, "bat" + u).split("\n")
    # again: the same devices, nothing added
    r = ctl("import", path, "--app", "bat" + u, "--batch", batch, "--concurrency", "1",
            "--progress-file", path + ".again", env=env(api))
    assert r.rc == 6 and app_count(api, "bat" + u) == 56, r
    assert import_state(api, "bat" + u) == import_state(api, "one" + u)


def test_lines_too_big_to_share_a_batch(api):
    app = "big" + tag()
    pad = {"pad": "p" * 300000}  # unknown fields are ignored
    lines = [dev("big", i) for i in range(5)]
    lines[1] = json.dumps(dict(json.loads(lines[1]), **pad))     # fits a batch alone
    lines[2] = json.dumps(dict(json.loads(lines[2]), **pad))     # the next batch
    lines[3] = json.dumps(dict(json.loads(lines[3]), pad="p" * (512 * 1024 - 200)))  # a call of its own
    path = write(lines)
    r = ctl("import", path, "--app", app, env=env(api))
    assert r.rc == 0 and "5 devices registered, 0 bad" in r.out, r
    assert app_count(api, app) == 5


def test_resume_with_small_batches(api):
    app = "rb" + tag()
    n = 3000
    path = write([json.dumps({"provider": "fcm", "token": "rb-%d" % i, "platform": "android",
                              "user": "u%d" % (i % 50)}) for i in range(n)])
    p = subprocess.Popen([CTL, "import", path, "--app", app, "--concurrency", "1",
                          "--batch", "3"], env=env(api),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: progress_line(path + ".progress") >= 100, timeout=60,
                 what="100 lines committed")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    stopped_at = progress_line(path + ".progress")
    assert p.returncode == 130 and 100 <= stopped_at < n, (stopped_at, out, err)
    r = ctl("import", path, "--app", app, "--resume", env=env(api))
    assert r.rc == 0 and "%d devices registered" % n in r.out, r
    assert app_count(api, app) == n
