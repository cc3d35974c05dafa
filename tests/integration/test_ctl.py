"""test_ctl.py -- heraldctl against a real stack: herald-api with its
fan-out and feedback stages, herald-devkafka, the FCM worker, herald-sim
and herald-relay.

* send to users, topics, devices and raw tokens reaches the simulator
  with the title, body and data given; --file, --dry-run, --at;
* status shows each device's outcome as a table and as JSON;
* devices list/show/remove, topics list/add/remove/set, installations
  create/show/list/rotate (a rotated key's old tokens refused by the
  relay);
* settings from the options, the environment and var/stack.env; bad
  input, a wrong or missing key, an unreachable server and unknown
  commands end in the documented exit codes with a clear message.
"""
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import tempfile
import termios

import pytest

from api_support import API_KEY, start_api
from ctlkit import CTL, ctl, ctl_env
from harness import Stack, free_port, wait_for
from relaykit import ADMIN_KEY, Relay
from workerkit import Rig, tag, token


class World:
    def __init__(self, stack, pg_cluster):
        self.kafka = stack.kafka()
        self.rig = Rig(stack, "fcm", kafka=self.kafka)
        self.api = start_api(stack, pg_cluster, kafka=self.kafka)
        self.relay = Relay(stack, self.api.dsn, self.kafka)
        self.env = ctl_env(HERALD_API_URL=self.api.url, HERALD_API_KEY=API_KEY,
                           HERALD_RELAY_URL=self.relay.url,
                           HERALD_RELAY_ADMIN_URL=self.relay.admin_url,
                           HERALD_RELAY_ADMIN_KEY=ADMIN_KEY,
                           HERALD_RELAY_CA_FILE=self.relay.cert)

    def run(self, *args, **kw):
        kw.setdefault("env", self.env)
        return ctl(*args, **kw)

    def device(self, user, tok=None, **kw):
        return self.api.register(tok or token("fcm"), user=user, **kw)


@pytest.fixture(scope="module")
def w(pg_cluster):
    s = Stack(pg=pg_cluster)
    try:
        world = World(s, pg_cluster)
    except Exception:
        s.close()
        raise
    yield world
    s.close()
    if s.problems:
        pytest.fail("\n".join(s.problems), pytrace=False)


def rows(out):
    """A table's data rows as lists of cells (split on 2+ spaces)."""
    lines = out.strip().splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


# ---- help, usage and exit codes ------------------------------------------

@pytest.mark.parametrize("cmd", [[], ["send"], ["devices"], ["devices", "list"],
                                 ["devices", "show"], ["devices", "remove"], ["topics"],
                                 ["topics", "add"], ["status"], ["import"],
                                 ["installations"], ["installations", "create"],
                                 ["installations", "list"], ["installations", "rotate"]])
def test_every_command_has_help(cmd):
    r = ctl(*(cmd + ["--help"]))
    assert r.rc == 0, r
    assert "Usage: heraldctl" in r.out and "--url URL" in r.out, r


def test_unknown_command_and_option_are_usage_errors():
    r = ctl("frobnicate")
    assert r.rc == 2 and 'unknown command "frobnicate"' in r.err, r
    r = ctl("devices", "list", "--colour")
    assert r.rc == 2 and "--colour is unknown" in r.err, r
    r = ctl("devices", "explode")
    assert r.rc == 2 and 'unknown subcommand "explode"' in r.err, r
    r = ctl("send", "--user", "a", "--title")
    assert r.rc == 2 and "--title needs a value" in r.err, r
    r = ctl()
    assert r.rc == 2 and "Commands:" in r.out, r


def test_missing_settings_exit_2(w):
    r = ctl("devices", "list", env=ctl_env(HERALD_API_URL=w.api.url))
    assert r.rc == 2 and "no API key" in r.err, r
    r = ctl("devices", "list", env=ctl_env(HERALD_API_KEY=API_KEY))
    assert r.rc == 2 and "no API URL" in r.err, r
    r = ctl("installations", "show", "x", env=ctl_env())
    assert r.rc == 2 and "no relay URL" in r.err, r


def test_wrong_key_exit_4_and_the_key_is_not_shown(w):
    r = w.run("devices", "list", "--key", "wrong-key-1234")
    assert r.rc == 4 and "HTTP 401" in r.err, r
    assert "wrong-key-1234" not in r.out + r.err


def test_unreachable_server_exit_3():
    r = ctl("devices", "list", "--url", "http://127.0.0.1:%d" % free_port(), "--key", "k")
    assert r.rc == 3 and "no answer (connect)" in r.err, r


def test_settings_from_var_stack_env_and_env_file(w):
    d = tempfile.mkdtemp(prefix="heraldctl-run-")
    os.makedirs(os.path.join(d, "var"))
    with open(os.path.join(d, "var", "stack.env"), "w") as f:
        f.write("# written by make run\nHERALD_API_URL=%s\nHERALD_API_KEY=%s\n" % (w.api.url, API_KEY))
    user = "env-" + tag()
    w.device(user)
    r = ctl("devices", "list", "--user", user, env=ctl_env(), cwd=d)
    assert r.rc == 0 and len(rows(r.out)) == 1, r
    # the environment wins over the file; an option over both
    r = ctl("devices", "list", env=ctl_env(HERALD_API_KEY="from-env"), cwd=d)
    assert r.rc == 4, r
    r = ctl("devices", "list", "--key", API_KEY, env=ctl_env(HERALD_API_KEY="from-env"), cwd=d)
    assert r.rc == 0, r
    # --env-file elsewhere, and one that does not exist
    r = ctl("--env-file", os.path.join(d, "var", "stack.env"), "devices", "list", env=ctl_env())
    assert r.rc == 0, r
    r = ctl("devices", "list", "--env-file", "/nonexistent/stack.env", env=ctl_env())
    assert r.rc == 2 and "/nonexistent/stack.env: no such file" in r.err, r


# ---- send and status -------------------------------------------------------

def sim_record(w, tok):
    w.rig.wait_records(1, token=tok)
    return w.rig.records(token=tok)[0]["json"]["message"]


def test_send_to_a_user_reaches_the_device_and_status_shows_it(w):
    user = "alice-" + tag()
    tok = token("fcm")
    dev = w.device(user, tok)
    r = w.run("send", "--user", user, "--title", "Hello", "--body", "How are you?",
              "--data", "order=42", "--data", "kind=ship")
    assert r.rc == 0, r
    uid = r.out.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", uid), r
    msg = sim_record(w, tok)
    assert msg["notification"] == {"title": "Hello", "body": "How are you?"}
    assert msg["data"] == {"order": "42", "kind": "ship"}
    wait_for(lambda: w.api.ok("push_status_list", {"uid": uid})["items"], timeout=30,
             what="the outcome recorded")
    r = w.run("status", uid)
    assert r.rc == 0, r
    assert "\033[" not in r.out  # no colour when not a terminal
    assert re.search(r"state\s+done", r.out) and re.search(r"outcomes\s+sent 1", r.out), r
    table = r.out.split("\n\n", 1)[1]
    head = table.splitlines()[0].split()
    assert head == ["TARGET", "PROVIDER", "STATUS", "CODE", "UPDATED", "DEVICE"], r
    (row,) = rows(table)
    assert row[0] == dev["id"] and row[1] == "fcm" and row[2] == "sent" and row[-1] == dev["id"], r
    # the columns are aligned: every cell of a column starts where its head does
    lines = table.strip().splitlines()
    assert lines[1].index("fcm") == lines[0].index("PROVIDER")
    r = w.run("status", uid, "--json")
    doc = json.loads(r.out)
    assert r.rc == 0 and doc["counts"] == {"sent": 1} and doc["items"][0]["device_id"] == dev["id"]


def test_send_to_topics_devices_and_raw_tokens(w):
    user = "topic-" + tag()
    tok = token("fcm")
    w.device(user, tok)
    topic = "news-" + tag()
    assert w.run("topics", "add", "--user", user, topic).rc == 0
    r = w.run("send", "--topic", topic, "--data", "via=topic")
    assert r.rc == 0, r
    assert sim_record(w, tok)["data"] == {"via": "topic"}

    tok2 = token("fcm")
    dev = w.device("dev-" + tag(), tok2)
    r = w.run("send", "--device", dev["id"], "--title", "direct")
    assert r.rc == 0, r
    assert sim_record(w, tok2)["notification"] == {"title": "direct"}

    raw = token("fcm")  # never registered
    r = w.run("send", "--fcm-token", raw, "--body", "raw", "--providers", "fcm")
    assert r.rc == 0, r
    assert sim_record(w, raw)["notification"] == {"body": "raw"}


def test_send_from_a_file_with_a_uid(w):
    user = "file-" + tag()
    tok = token("fcm")
    w.device(user, tok)
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"fcm": {"message": {"data": {"source": "file"}}}}, f)
    f.close()
    uid = "file-" + tag()
    r = w.run("send", "--user", user, "--file", f.name, "--uid", uid)
    assert r.rc == 0 and r.out.strip() == uid, r
    assert sim_record(w, tok)["data"] == {"source": "file"}
    r = w.run("send", "--user", user, "--file", "-", "--json", input='{"fcm":{"message":{}}}')
    assert r.rc == 0 and "uid" in json.loads(r.out), r


def test_send_dry_run_prints_the_request_and_sends_nothing():
    r = ctl("send", "--url", "http://127.0.0.1:%d" % free_port(), "--key", "secret-key-99",
            "--user", "bob", "--title", "T", "--data", "a=b", "--uid", "dry-1", "--dry-run")
    assert r.rc == 0, r
    head, body = r.out.split("\n\n", 1)
    assert head.splitlines()[0].startswith("POST http://127.0.0.1:")
    assert head.splitlines()[0].endswith("/api/send_push_notification")
    assert "secret-key-99" not in r.out
    doc = json.loads(body)
    assert doc["recipient"] == {"filter": {"users": ["bob"]}}
    assert doc["notification"]["uid"] == "dry-1"
    assert doc["notification"]["fcm"]["message"] == {"notification": {"title": "T"},
                                                     "data": {"a": "b"}}
    assert doc["notification"]["apns"]["payload"] == {"a": "b", "aps": {"alert": {"title": "T"}}}
    assert json.loads(doc["notification"]["hms"]["message"]["data"]) == {"a": "b"}


def test_send_at_is_sent_as_send_at(w):
    user = "later-" + tag()
    w.device(user)
    r = w.run("send", "--user", user, "--title", "later", "--at", "+1h", "--dry-run")
    doc = json.loads(r.out.split("\n\n", 1)[1])
    assert r.rc == 0 and isinstance(doc["send_at"], int), r
    r = w.run("send", "--user", user, "--title", "later", "--at", "2030-01-01T00:00:00Z")
    if r.rc == 0:  # an API that schedules
        assert r.out.strip(), r
    else:  # an API that does not: its own error, clearly
        assert r.rc == 1 and "send_at" in r.err and "code 108" in r.err, r
    r = w.run("send", "--user", user, "--title", "x", "--at", "tomorrow")
    assert r.rc == 2 and "--at tomorrow" in r.err, r


def test_send_bad_input(w):
    r = w.run("send", "--title", "nobody")
    assert r.rc == 2 and "no recipient" in r.err, r
    r = w.run("send", "--user", "a", "--topic", "b", "--title", "x")
    assert r.rc == 2 and "one kind of recipient" in r.err, r
    r = w.run("send", "--user", "a")
    assert r.rc == 2 and "nothing to send" in r.err, r
    r = w.run("send", "--user", "a", "--data", "novalue")
    assert r.rc == 2 and "KEY=VALUE" in r.err, r
    r = w.run("send", "--user", "a", "--file", "/nonexistent.json")
    assert r.rc == 2 and "/nonexistent.json" in r.err, r
    # the API's own refusal, naming the field
    r = w.run("send", "--apns-token", "not-hex", "--title", "x")
    assert r.rc == 1 and "params.recipient.apns_tokens[0]" in r.err, r


def test_status_of_an_unknown_uid(w):
    r = w.run("status", "never-sent-" + tag())
    assert r.rc == 0 and re.search(r"state\s+pending", r.out) and "nothing known" in r.err, r
    r = w.run("status")
    assert r.rc == 2, r


# ---- devices ---------------------------------------------------------------

def test_devices_list_show_remove(w):
    user = "carol-" + tag()
    devs = [w.device(user, meta={"model": "pixel-%d" % i}, channels=["c%d" % i]) for i in range(3)]
    ids = sorted(d["id"] for d in devs)
    r = w.run("devices", "list", "--user", user)
    assert r.rc == 0, r
    assert r.out.splitlines()[0].split() == ["ID", "PROVIDER", "PLATFORM", "USER", "TOKEN"]
    assert [row[0] for row in rows(r.out)] == ids and "3 devices" in r.err, r
    r = w.run("devices", "list", "--user", user, "--limit", "2", "--topics")
    assert r.rc == 0 and len(rows(r.out)) == 2 and "more" in r.err, r
    assert rows(r.out)[0][4] in ("c0", "c1", "c2")
    r = w.run("devices", "list", "--user", user, "--json")
    doc = json.loads(r.out)
    assert r.rc == 0 and [d["id"] for d in doc["items"]] == ids and doc["has_more"] is False
    assert {d["meta"]["model"] for d in doc["items"]} == {"pixel-0", "pixel-1", "pixel-2"}

    r = w.run("devices", "show", devs[0]["id"])
    assert r.rc == 0 and re.search(r"meta\s+\{\"model\":\"pixel-0\"\}", r.out), r
    assert re.search(r"topics\s+c0", r.out), r
    r = w.run("devices", "show", "no-such-device")
    assert r.rc == 5 and "no device no-such-device" in r.err, r

    r = w.run("devices", "remove", devs[0]["id"])
    assert r.rc == 0, r
    assert len(w.api.ok("device_list", {"users": [user]})["items"]) == 2
    r = w.run("devices", "remove", "--token", "fcm:" + devs[1]["token"])
    assert r.rc == 0, r
    assert len(w.api.ok("device_list", {"users": [user]})["items"]) == 1
    r = w.run("devices", "remove", "--user", user)
    assert r.rc == 0, r
    assert w.api.ok("device_list", {"users": [user]})["items"] == []
    r = w.run("devices", "remove")
    assert r.rc == 2 and "which devices" in r.err, r
    r = w.run("devices", "list", "--provider", "pager")
    assert r.rc == 1 and re.search(r"params\.(filter\.)?providers", r.err), r


# ---- topics ----------------------------------------------------------------

def test_topics_list_add_remove_set(w):
    user = "dave-" + tag()
    w.device(user)
    pfx = "t" + tag()
    assert w.run("topics", "add", "--user", user, pfx + "-a", pfx + "-b").rc == 0
    r = w.run("topics", "list", "--user", user)
    assert r.rc == 0 and sorted(row[1] for row in rows(r.out)) == [pfx + "-a", pfx + "-b"], r
    assert w.run("topics", "remove", "--user", user, pfx + "-a").rc == 0
    r = w.run("topics", "list", "--prefix", pfx, "--json")
    assert json.loads(r.out)["items"] == [{"user": user, "topic": pfx + "-b"}], r
    assert w.run("topics", "set", "--user", user).rc == 0
    r = w.run("topics", "list", "--user", user, "--json")
    assert json.loads(r.out)["items"] == [], r
    r = w.run("topics", "add", pfx)
    assert r.rc == 2 and "one --user" in r.err, r


# ---- installations ---------------------------------------------------------

def test_installations_create_and_show(w):
    r = w.run("installations", "create", "--email", "ops@example.com", "--json")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["enabled"] is True and len(doc["key"]) >= 20
    r = w.run("installations", "show", doc["id"])
    assert r.rc == 0 and re.search(r"id\s+" + doc["id"], r.out), r
    assert re.search(r"enabled\s+yes", r.out) and "key" not in r.out, r
    r = w.run("installations", "show", "00000000-0000-0000-0000-000000000000")
    assert r.rc == 5, r
    r = w.run("installations", "create", "--email", "x@example.com", "--admin-key", "wrong")
    assert r.rc == 4, r


def test_installations_list_and_rotate(w):
    made = []
    for i in range(3):
        r = w.run("installations", "create", "--email", "ops%d@example.com" % i, "--json")
        assert r.rc == 0, r
        made.append(json.loads(r.out))
    inst, key = made[0]["id"], made[0]["key"]
    old_tok = w.relay.token(inst, key)
    w.relay.push("POST", "/push/register", old_tok, json.dumps(
        {"deviceId": "00000000-0000-4000-8000-000000000001", "pushToken": token("fcm"),
         "userId": "00000000-0000-4000-8000-000000000002", "type": 0,
         "identifier": "phone"}).encode())
    # list: an aligned table, every installation, page after page
    r = w.run("installations", "list", "--limit", "0")
    assert r.rc == 0, r
    head = r.out.splitlines()[0].split()
    assert head == ["ID", "ENABLED", "DEVICES", "KEY", "CREATED", "ROTATED", "EMAIL"], r.out
    cols = [r.out.splitlines()[0].index(h) for h in ("ENABLED", "DEVICES", "EMAIL")]
    table = {row[0]: row for row in rows(r.out)}
    assert {m["id"] for m in made} <= set(table), r.out
    assert table[inst][1:4] == ["yes", "1", "1"] and table[inst][-1] == "ops0@example.com"
    for line in r.out.splitlines()[1:]:
        assert line[cols[0] - 2:cols[0]] == "  " and line[cols[2] - 2:cols[2]] == "  ", r.out
    assert re.search(r"\d+ installations", r.err), r
    r = w.run("installations", "list", "--limit", "2")
    assert r.rc == 0 and len(rows(r.out)) == 2 and "more" in r.err, r
    r = w.run("installations", "list", "--json", "--limit", "0")
    assert r.rc == 0, r
    doc = json.loads(r.out)
    assert doc["has_more"] is False
    item = {i["id"]: i for i in doc["items"]}[inst]
    assert item["devices"] == 1 and item["keyVersion"] == 1
    # rotate: a new key, printed once; the old key's token is refused
    r = w.run("installations", "rotate", inst)
    assert r.rc == 0, r
    new_key = re.search(r"key\s+(\S+)", r.out).group(1)
    assert new_key != key and re.search(r"version\s+2", r.out), r.out
    st, _, _ = w.relay.push("POST", "/push/delete", old_tok, b'{"id":"x"}')
    assert st == 401
    new_tok = w.relay.token(inst, new_key)
    assert w.relay.push("POST", "/push/delete", new_tok, b'{"id":"x"}')[0] == 200
    r = w.run("installations", "rotate", inst, "--json")
    assert r.rc == 0 and json.loads(r.out)["keyVersion"] == 3, r
    r = w.run("installations", "list", "--json", "--limit", "0")
    item = {i["id"]: i for i in json.loads(r.out)["items"]}[inst]
    assert item["keyVersion"] == 3 and item["keyRotatedAt"].endswith("Z")
    # exit codes: unknown (5), wrong admin key (4), bad usage (2)
    assert w.run("installations", "rotate", "00000000-0000-0000-0000-000000000000").rc == 5
    r = w.run("installations", "rotate", made[1]["id"], "--admin-key", "wrong")
    assert r.rc == 4, r
    r = w.run("installations", "list", "--admin-key", "wrong")
    assert r.rc == 4, r
    w.relay.token(made[1]["id"], made[1]["key"])  # the refused rotation changed nothing
    for args in (["rotate"], ["rotate", "a", "b"], ["rotate", "../x"], ["list", "extra"],
                 ["list", "--limit", "-1"]):
        r = w.run("installations", *args)
        assert r.rc == 2, (args, r)


def test_a_list_larger_than_a_provider_answer(w):
    """One page of 600 devices with meta is ~200 KB: more than the HTTP
    client keeps for a provider's answer (64 KiB)."""
    user = "big-" + tag()
    meta = {"note": "x" * 200}
    path = os.path.join(tempfile.mkdtemp(prefix="heraldctl-big-"), "d.jsonl")
    with open(path, "w") as f:
        for i in range(600):
            f.write(json.dumps({"provider": "fcm", "token": "big-%s-%d" % (user, i),
                                "platform": "android", "user": user, "meta": meta}) + "\n")
    assert w.run("import", path).rc == 0
    r = w.run("devices", "list", "--user", user, "--limit", "0", "--json")
    assert r.rc == 0, r
    assert len(r.out) > 128 * 1024
    doc = json.loads(r.out)
    assert len(doc["items"]) == 600 and doc["items"][0]["meta"] == meta


def test_a_table_fits_the_terminal(w):
    user = "wide-" + tag()
    w.device(user, "ok-" + "w" * 150)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    p = subprocess.Popen([CTL, "devices", "list", "--user", user], env=w.env,
                         stdout=slave, stderr=subprocess.PIPE, text=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=30)
    os.close(master)
    text = re.sub(r"\033\[[0-9;]*m", "", out.decode())
    lines = [ln for ln in text.replace("\r", "").splitlines() if ln]
    assert p.returncode == 0 and len(lines) == 2, text
    assert all(len(ln) <= 100 for ln in lines) and len(lines[1]) > 90, lines
    assert lines[1].endswith("…") and "ok-www" in lines[1], lines
    assert b"\033[1m" in out  # bold heads on a terminal
