"""test_settings_truth.py -- what --help, docs/configuration.md and the
configuration a process logs at start say about a setting agree with what
the process does:

* a secret reads (set) only when it holds a value, (unset) otherwise, in
  all three places;
* an empty default reads "" (never a bare "default ");
* booleans are spelt true/false in defaults, and a bad one is refused
  listing every word that is taken;
* every port variable says what listens on it;
* a requirement that depends on other settings is written in --help, and
  the process refuses to start (exit 2) with that same wording;
* the worker pause after a refused credential is described as the code
  does it.
"""
import json
import os
import re

import pytest

from harness import ROOT
from test_foundation import base_env, binaries, help_vars, run

BOOL_WORDS = "true/false, yes/no, on/off or 1/0"


def fatal_of(out):
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    fatal = [e["msg"] for e in lines if e.get("level") == "fatal"]
    assert fatal, out[-2000:]
    return fatal[-1]


def start_dump(out):
    """The configuration a process logged at start, as a dict."""
    for line in out.splitlines():
        if line.startswith("{"):
            msg = json.loads(line).get("msg", "")
            if msg.startswith("starting ") and " with configuration " in msg:
                return json.loads(msg.split(" with configuration ", 1)[1])
    raise AssertionError("no configuration logged at start:\n" + out[-2000:])


@pytest.mark.parametrize("name", binaries())
def test_help_shows_secrets_empty_defaults_booleans_and_ports_truthfully(name):
    for var, (attrs, text) in help_vars(name).items():
        assert not re.search(r", default(,|$)", attrs), (var, attrs)
        if ", secret" in attrs and ", default " in attrs:
            # no secret has a built-in value: unset unless the operator sets it
            assert ", default (unset)" in attrs, (var, attrs)
        if attrs.startswith("boolean"):
            assert attrs.startswith("boolean (%s)" % BOOL_WORDS), (var, attrs)
            assert re.search(r", default (true|false)$", attrs), (var, attrs)
        if var.endswith("_PORT") and attrs.startswith("integer"):
            assert re.match(r"(TCP|TLS) port (of|serving) \S", text), (var, text)
            assert text != "TCP port of /healthz, /readyz and /metrics" or \
                name.startswith("herald-worker-"), (var, text)


def test_configuration_doc_shows_no_set_secret_and_no_bare_empty_default():
    with open(os.path.join(ROOT, "docs", "configuration.md")) as f:
        doc = f.read()
    rows = [r for r in doc.splitlines() if r.startswith("| `HERALD_")]
    assert rows
    for r in rows:
        cells = [c.strip() for c in r.split(" | ")]
        assert cells[2] != "empty" and cells[2] != "`(set)`", r
        if "secret" in cells[1] and cells[2] not in ("required", "unset"):
            assert cells[2] == "`(unset)`", r
    assert "`(set)` when it holds a value" in doc


def test_a_bad_boolean_lists_the_words_taken():
    env = base_env(HERALD_HTTP_ACCESS_LOG="maybe")
    rc, out = run("herald-devkafka", base_env(), "--help")
    assert rc == 0
    rc, out = run("herald-sim", env, "gen", "/nonexistent/x")
    assert rc == 2, out[-2000:]
    assert "HERALD_HTTP_ACCESS_LOG: must be %s" % BOOL_WORDS in fatal_of(out)


# (binary, environment, the rule its --help states and its refusal repeats)
CONDITIONAL = [
    ("herald-hub", {}, "HERALD_JWT_SECRET, HERALD_JWT_PUBLIC_KEY_FILE or HERALD_JWT_JWKS_URL is required"),
    ("herald-worker-fcm", {"HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE": "/nonexistent/sa.json"},
     "HERALD_KAFKA_BROKERS: required"),
    ("herald-worker-apns", {"HERALD_KAFKA_BROKERS": "127.0.0.1:1"},
     "exactly one of HERALD_WORKER_APNS_KEY_FILE (token authentication) and "
     "HERALD_WORKER_APNS_CERT_FILE (certificate authentication) is required"),
    ("herald-worker-apns", {"HERALD_KAFKA_BROKERS": "127.0.0.1:1",
                            "HERALD_WORKER_APNS_KEY_FILE": "/nonexistent/k.p8"},
     "required with HERALD_WORKER_APNS_KEY_FILE"),
    ("herald-api", {"HERALD_API_KEY": "k", "HERALD_JWT_SECRET": "j" * 32,
                    "HERALD_PG_DSN": "{pg}"},
     "required in self-hosted mode (HERALD_KAFKA_BROKERS unset)"),
    ("herald-api", {"HERALD_API_KEY": "k", "HERALD_JWT_SECRET": "j" * 32,
                    "HERALD_PG_DSN": "{pg}",
                    "HERALD_SELFHOST_HUB_URL": "http://127.0.0.1:1",
                    "HERALD_INTERNAL_KEY": "i",
                    "HERALD_SELFHOST_RELAY_URL": "https://127.0.0.1:1"},
     "required when HERALD_SELFHOST_RELAY_URL is set"),
    ("herald-sim", {}, "required to serve (not by gen)"),
]


@pytest.mark.parametrize("name,env,rule", CONDITIONAL,
                         ids=["%s-%d" % (c[0], i) for i, c in enumerate(CONDITIONAL)])
def test_a_conditional_requirement_is_in_help_and_refused_in_its_words(name, env, rule, pg_dsn):
    env = {k: v.replace("{pg}", pg_dsn) for k, v in env.items()}
    helps = " ".join(text for _, text in help_vars(name).values())
    attrs = {v: a for v, (a, _) in help_vars(name).items()}
    if rule.endswith(": required"):
        assert attrs[rule.split(":")[0]].endswith(", required"), attrs
    else:
        assert rule in helps, (name, rule)
    rc, out = run(name, base_env(**env))
    assert rc == 2, (name, rc, out[-2000:])
    assert rule in fatal_of(out), (name, out[-2000:])


def test_unset_secrets_are_logged_as_unset_and_set_ones_as_set(pg_dsn):
    rc, out = run("herald-worker-apns", base_env(HERALD_KAFKA_BROKERS="127.0.0.1:1"))
    assert rc == 2
    assert start_dump(out)["HERALD_WORKER_APNS_CERT_PASSWORD"] == "(unset)"
    rc, out = run("herald-worker-apns", base_env(HERALD_KAFKA_BROKERS="127.0.0.1:1",
                                                 HERALD_WORKER_APNS_CERT_PASSWORD="pw"))
    assert start_dump(out)["HERALD_WORKER_APNS_CERT_PASSWORD"] == "(set)"
    rc, out = run("herald-api", base_env(HERALD_API_KEY="k", HERALD_JWT_SECRET="j" * 32,
                                         HERALD_PG_DSN=pg_dsn))
    dump = start_dump(out)
    assert dump["HERALD_SELFHOST_INSTALLATION_KEY"] == "(unset)"
    assert dump["HERALD_INTERNAL_KEY"] == "(unset)"
    assert dump["HERALD_API_KEY"] == "(set)"
    rc, out = run("herald-sim", base_env())
    assert start_dump(out)["HERALD_SIM_HMS_APPS"] == "(unset)"


def test_the_worker_pause_after_a_refused_credential_is_documented_as_coded():
    with open(os.path.join(ROOT, "common", "push", "credential.c")) as f:
        m = re.search(r"#define CONFIG_RETRY_MS (\d+)", f.read())
    assert m and int(m.group(1)) == 300000
    _, text = help_vars("herald-worker-fcm")["HERALD_WORKER_PAUSE_MS"]
    assert "retried after 5 minutes" in text, text
    with open(os.path.join(ROOT, "docs", "workers.md")) as f:
        doc = f.read()
    assert "5 minutes" in doc and "invalid_grant" in doc
