"""test_foundation.py -- what every Herald binary owes an operator (issue 2):

* /readyz of herald-api turns 503 naming postgres when its PostgreSQL stops
  and 200 again when it is back, and the same for Kafka (herald-devkafka
  brokers down/up), without a restart, while /healthz stays 200; the hub
  and the three workers follow Kafka the same way;
* --help of every binary exits 0 and lists its HERALD_* variables;
* a bad value stops a binary with exit status 2 and a message naming the
  variable, and no secret value appears in anything it prints;
* /metrics of every service started here is valid Prometheus text;
* docs/configuration.md is what scripts/gen-config-doc.sh makes of the
  binaries' --help today.
"""
import difflib
import json
import os
import re
import subprocess
import tempfile

import pytest

from harness import BIN, ROOT, SANITIZER_MARKERS, PgCluster, http, wait_for
from simkit import Sim
from workerkit import PORT_VAR, worker_env

# Every binary issue 2 and the issues after it promise; herald-relay is
# checked when it has been built.
REQUIRED = ["herald-api", "herald-hub", "herald-worker-fcm", "herald-worker-apns",
            "herald-worker-hms", "herald-devkafka", "herald-sim"]
OPTIONAL = ["herald-relay"]
SOURCES = {"herald-devkafka": "tools/devkafka", "herald-sim": "tools/sim"}
SECRET = "s3cr3t-value"
# librdkafka waits up to reconnect.backoff.max.ms (10 s) before it retries
# a broker that was down: keep the down/up cycles short.
FAST_RECONNECT = {"HERALD_KAFKA_RECONNECT_BACKOFF_MS": "50",
                  "HERALD_KAFKA_RECONNECT_BACKOFF_MAX_MS": "500"}


def binaries():
    return REQUIRED + [b for b in OPTIONAL if os.path.exists(os.path.join(BIN, b))]


def run(name, env, *args, timeout=60):
    r = subprocess.run([os.path.join(BIN, name)] + list(args), env=env, capture_output=True,
                       text=True, timeout=timeout)
    out = r.stdout + r.stderr
    assert not [m for m in SANITIZER_MARKERS if m in out], out[-3000:]
    return r.returncode, out


def base_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def help_vars(name):
    """{variable: (type line, help line)} from `name --help`."""
    rc, out = run(name, base_env(), "--help")
    assert rc == 0, out[-2000:]
    lines = out.splitlines()
    found = {}
    for i, line in enumerate(lines):
        if re.fullmatch(r"  HERALD_[A-Z0-9_]+", line):
            found[line.strip()] = (lines[i + 2].strip(), lines[i + 1].strip())
    return found


# ---- Prometheus text format 0.0.4 ----------------------------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def parse_labels(text, where):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad label set: " + where
        assert m.group(1) not in labels, "label twice: " + where
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def family_of(name, fams):
    if name in fams and fams[name]["type"] not in ("histogram",):
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and base in fams and \
                suffix in SUFFIXES.get(fams[base]["type"], ()):
            return base
    return None


def parse_prometheus(text):
    """Checks text against the Prometheus text exposition format and
    returns {family: {"type", "help", "samples": [(name, labels, value)]}}.
    Every sample must follow its family's HELP and TYPE; a family's lines
    form one group; no series twice; histogram buckets are cumulative and
    end with le="+Inf" equal to _count."""
    assert text.endswith("\n"), "no final newline"
    fams, done, seen, current = {}, set(), set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (n, line)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                continue  # a comment
            name = parts[2]
            assert METRIC_NAME.fullmatch(name), where
            assert name not in done, "family %s split in two groups: %s" % (name, where)
            if current and current != name:
                done.add(current)
            current = name
            f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            key = parts[1].lower()
            assert f[key] is None, "second %s: %s" % (parts[1], where)
            assert not f["samples"], "%s after samples: %s" % (parts[1], where)
            if key == "type":
                assert len(parts) == 4 and parts[3] in TYPES, where
            f[key] = parts[3] if len(parts) == 4 else ""
            continue
        assert line.strip(), "empty line: " + where
        m = SAMPLE.fullmatch(line)
        assert m, "not a sample: " + where
        fam = family_of(m.group(1), fams)
        assert fam and fams[fam]["type"] and fams[fam]["help"], \
            "sample without HELP and TYPE before it: " + where
        assert fam == current, "sample outside its family's group: " + where
        labels = parse_labels(m.group(2) or "", where)
        value = float(m.group(3))  # also +Inf, -Inf, NaN
        series = (m.group(1), tuple(sorted(labels.items())))
        assert series not in seen, "series twice: " + where
        seen.add(series)
        if fams[fam]["type"] == "counter":
            assert value >= 0, "negative counter: " + where
        fams[fam]["samples"].append((m.group(1), labels, value))
    for name, f in fams.items():
        assert f["type"] and f["help"] is not None, "%s lacks HELP or TYPE" % name
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    groups = {}
    for sname, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "count": None, "sum": None})
        if sname.endswith("_bucket"):
            g["buckets"].append((float(labels["le"]), value))
        else:
            g[sname.rsplit("_", 1)[1]] = value
    for rest, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        counts = [c for _, c in g["buckets"]]
        what = "%s%s" % (name, dict(rest))
        assert les and les == sorted(les) and les[-1] == float("inf"), "buckets of " + what
        assert counts == sorted(counts), "buckets not cumulative: " + what
        assert g["count"] == counts[-1] and g["sum"] is not None, "_count/_sum of " + what


def test_the_prometheus_checker_rejects_what_it_should():
    good = ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n"
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 3.5\nh_count 2\n")
    assert parse_prometheus(good)["h"]["type"] == "histogram"
    for bad in ("a_total 1\n",  # no HELP/TYPE
                "# TYPE a counter\na 1\n",  # no HELP
                "# HELP a A.\n# TYPE a counter\na{x=1} 1\n",  # unquoted label
                "# HELP a A.\n# TYPE a counter\na 1\na 2\n",  # series twice
                "# HELP a A.\n# TYPE a gauge\na one\n",  # not a number
                "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"):  # not cumulative
        with pytest.raises((AssertionError, ValueError)):
            parse_prometheus(bad)


def metrics_of(url):
    st, hdrs, body = http("GET", url + "/metrics")
    assert st == 200
    ctype = {k.lower(): v for k, v in hdrs.items()}.get("content-type", "")
    assert ctype.startswith("text/plain"), ctype
    fams = parse_prometheus(body.decode())
    assert fams, "no metrics at all"
    return fams


# ---- /readyz follows the dependencies -----------------------------------

def readyz(svc):
    """The admin listener's /readyz, with each check's detail; the public
    one must answer the same status and say nothing more."""
    st, _, body = http("GET", svc.admin_url + "/readyz", timeout=5)
    pst, _, pbody = http("GET", svc.url + "/readyz", timeout=5)
    if pst == st:
        assert list(json.loads(pbody)) == ["status"], pbody
    return st, json.loads(body)


def until(svcs, want_status, failing=None, timeout=20):
    """Polls /readyz of every service until each answers want_status (and,
    when failing is given, names that check as failing while the others
    pass); /healthz must answer 200 at every poll. Returns the bodies."""
    def poll():
        bodies = []
        for svc in svcs:
            assert svc.running(), "%s exited:\n%s" % (svc.name, svc.read_log()[-3000:])
            st, _, _ = http("GET", svc.url + "/healthz", timeout=5)
            assert st == 200, "%s /healthz %s while a dependency is down" % (svc.name, st)
            st, body = readyz(svc)
            if st != want_status:
                return None
            checks = body.get("checks", {})
            if failing and not (checks.get(failing, "ok") != "ok" and
                                all(v == "ok" for k, v in checks.items() if k != failing)):
                return None
            bodies.append(body)
        return bodies
    return wait_for(poll, timeout=timeout, interval=0.1,
                    what="/readyz %d of %s" % (want_status, [s.name for s in svcs]))


def test_api_readyz_follows_postgres_and_kafka_without_a_restart(stack):
    pg = PgCluster().start()  # its own cluster: this test stops it
    try:
        kafka = stack.kafka()
        api = stack.start("herald-api", stack.env(
            HERALD_API_KEY=SECRET, HERALD_JWT_SECRET=SECRET + "-jwt-0123456789abcdef",
            HERALD_PG_DSN=pg.new_database(), HERALD_KAFKA_BROKERS=kafka.brokers,
            HERALD_PG_CONNECT_TIMEOUT_MS=1000, **FAST_RECONNECT),
            port_var="HERALD_API_PORT", wait="readyz")
        pid = api.proc.pid
        st, body = readyz(api)
        assert st == 200 and body["checks"] == {"postgres": "ok", "kafka": "ok"}, body
        assert http("GET", api.url + "/metrics")[0] == 404  # admin listener only

        pg.stop()
        [body] = until([api], 503, failing="postgres")
        assert body["status"] == "unready", body
        pg.start()
        until([api], 200)

        kafka.cmd("down -1")
        [body] = until([api], 503, failing="kafka")
        kafka.cmd("up -1")
        until([api], 200)

        assert api.proc.pid == pid and api.running()
        metrics_of(api.admin_url)
        assert api.stop() == 0
        log = api.read_log()
        assert SECRET not in log
        assert '"HERALD_API_KEY\\":\\"(set)\\"' in log  # the config dump ran
    finally:
        pg.destroy()


def test_hub_and_workers_follow_kafka_and_serve_metrics(stack, tmp_path):
    kafka = stack.kafka()
    sim = Sim(stack, str(tmp_path / "sim"))
    hub = stack.start("herald-hub", stack.env(HERALD_KAFKA_BROKERS=kafka.brokers,
                                              HERALD_INTERNAL_KEY=SECRET,
                                              HERALD_JWT_SECRET=SECRET + "-jwt-0123456789abcdef",
                                              **FAST_RECONNECT),
                      port_var="HERALD_HUB_PORT", wait="readyz")
    svcs = [hub]
    for p in ("fcm", "apns", "hms"):
        svcs.append(stack.start("herald-worker-" + p,
                                stack.env(HERALD_KAFKA_BROKERS=kafka.brokers,
                                          **worker_env(p, sim), **FAST_RECONNECT),
                                port_var=PORT_VAR[p], wait="readyz"))
    for svc in svcs + [sim.svc]:
        metrics_of(svc.admin_url)
    for svc in svcs:  # on the admin listener only
        assert http("GET", svc.url + "/metrics")[0] == 404, svc.name

    kafka.cmd("down -1")
    for body in until(svcs, 503, failing="kafka"):
        assert body["status"] == "unready", body
    kafka.cmd("up -1")
    until(svcs, 200)
    for svc in svcs:
        assert svc.stop() == 0, svc.name
        assert SECRET not in svc.read_log()
        assert sim.creds["HERALD_SIM_HMS_CLIENT_SECRET"] not in svc.read_log()


# ---- --help and bad configuration ----------------------------------------

@pytest.mark.parametrize("name", binaries())
def test_help_lists_the_variables_of_its_tables(name):
    """--help exits 0, and every HERALD_* name that the binary's own
    sources declare in a configuration table is listed."""
    listed = help_vars(name)
    assert "HERALD_LOG_LEVEL" in listed
    for var, (attrs, text) in listed.items():
        assert text and re.match(r"(integer -?\d+\.\.\d+|boolean|string|one of \S+)", attrs), \
            (var, attrs, text)
    src = os.path.join(ROOT, SOURCES.get(name, "services/" + name[len("herald-"):]))
    declared = set()
    for f in os.listdir(src):
        if f.endswith(".c"):
            with open(os.path.join(src, f)) as fh:
                declared |= set(re.findall(r'HD_CFG_[A-Z]+\(\s*"(HERALD_[A-Z0-9_]+)"', fh.read()))
    assert declared, "no configuration table found in " + src
    assert declared <= set(listed), "declared but not in --help: %s" % sorted(declared - set(listed))


def valid_env(name):
    """Environment that passes every check of the configuration table:
    required variables set to a valid value, secrets to SECRET-n."""
    env, secrets = base_env(), []
    for var, (attrs, _) in help_vars(name).items():
        if ", secret" in attrs:
            env[var] = "%s-%d-%s" % (SECRET, len(secrets), var.lower())
            secrets.append(env[var])
        elif ", required" in attrs:
            m = re.match(r"integer (-?\d+)\.\.", attrs)
            c = re.match(r"one of ([^|,]+)", attrs)
            env[var] = m.group(1) if m else c.group(1) if c else \
                "true" if attrs.startswith("boolean") else "/nonexistent/" + var.lower()
    return env, secrets


def refused(name, env, var):
    rc, out = run(name, env)
    assert rc == 2, (name, var, rc, out[-2000:])
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    fatal = [entry["msg"] for entry in lines if entry.get("level") == "fatal"]
    assert fatal and var in fatal[-1], (name, var, out[-2000:])
    return out


@pytest.mark.parametrize("name", binaries())
def test_bad_values_are_refused_naming_the_variable_and_no_secret_is_shown(name):
    env, secrets = valid_env(name)
    listed = help_vars(name)
    outputs = []

    bad = dict(env, HERALD_LOG_LEVEL="loud")
    outputs.append(refused(name, bad, "HERALD_LOG_LEVEL"))
    assert "loud" in outputs[-1]  # a non-secret value is quoted back

    ports = [v for v, (attrs, _) in listed.items()
             if v.endswith("_PORT") and attrs.startswith("integer")]
    assert ports or name == "herald-devkafka", listed.keys()
    for port in ports:
        outputs.append(refused(name, dict(env, **{port: "70000"}), port))
        outputs.append(refused(name, dict(env, **{port: "80abc"}), port))

    bools = [v for v, (attrs, _) in listed.items() if attrs.startswith("boolean")]
    if bools:
        outputs.append(refused(name, dict(env, **{bools[0]: "maybe"}), bools[0]))

    # a secret that breaks its own rule (too long) is named, never shown
    for var, (attrs, _) in listed.items():
        if ", secret" in attrs and attrs.startswith("string"):
            long_secret = SECRET + "x" * 5000
            outputs.append(refused(name, dict(env, **{var: long_secret}), var))
            assert "xxxxxxxx" not in outputs[-1]
            break

    for out in outputs:
        for s in secrets + [SECRET]:
            assert s not in out, (name, s, out[-2000:])


@pytest.mark.parametrize("name,var", [("herald-api", "HERALD_JWT_SECRET"),
                                      ("herald-hub", "HERALD_JWT_SECRET"),
                                      ("herald-relay", "HERALD_RELAY_TOKEN_SECRET")])
def test_hs256_secrets_under_32_bytes_are_refused(name, var):
    if not os.path.exists(os.path.join(BIN, name)):
        pytest.fail("%s not built" % name)
    env, _ = valid_env(name)
    out = refused(name, dict(env, **{var: "x" * 31}), var)
    assert "32 bytes" in out and "x" * 31 not in out


def test_secrets_stay_out_of_a_started_services_log(stack, tmp_path):
    """Start-up logs the effective configuration: paths show, secrets do
    not (the scrubber once masked HERALD_JWT_PUBLIC_KEY_FILE too)."""
    key = tmp_path / "jwt-public.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(key), "-days", "1", "-subj", "/CN=herald-test"],
                   check=True, capture_output=True)
    hub = stack.start("herald-hub", stack.env(HERALD_INTERNAL_KEY=SECRET,
                                              HERALD_JWT_PUBLIC_KEY_FILE=key,
                                              HERALD_LOG_LEVEL="info"),
                      port_var="HERALD_HUB_PORT", wait="healthz")
    assert hub.stop() == 0
    [start] = [e["msg"] for e in hub.log_lines() if e["msg"].startswith("starting ")]
    dump = json.loads(start.split(" with configuration ", 1)[1])
    assert dump["HERALD_JWT_PUBLIC_KEY_FILE"] == str(key)
    assert dump["HERALD_INTERNAL_KEY"] == "(set)"
    assert SECRET not in hub.read_log()


# ---- docs/configuration.md -------------------------------------------------

def test_configuration_doc_matches_the_binaries():
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "configuration.md")
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "gen-config-doc.sh"), "-o", out, BIN],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        with open(out) as f:
            fresh = f.read()
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        committed = f.read()
    for name in binaries():
        assert "\n## %s\n" % name in fresh, name
    diff = "".join(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True),
                                        "docs/configuration.md", "regenerated"))
    assert not diff, "docs/configuration.md is out of date: run `make config-doc`\n" + diff[:6000]
