"""test_worker_config.py -- the three worker binaries as processes: --help
lists their variables, and configuration they cannot run with is refused
at start, naming the variable, with a non-zero exit and no sanitizer
report (HERALD_KAFKA_BROKERS unset: Kafka is optional in common/kafka/kafka.c
but the workers need it)."""
import os
import subprocess
import tempfile

import pytest

from harness import BIN, SANITIZER_MARKERS
from simkit import gen_credentials
from workerkit import PORT_VAR

PROVIDERS = ("apns", "fcm", "hms")
CRED_VAR = {"apns": "HERALD_WORKER_APNS_KEY_FILE",
            "fcm": "HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE",
            "hms": "HERALD_WORKER_HMS_CLIENT_SECRET"}


@pytest.fixture(scope="module")
def creds():
    return gen_credentials(tempfile.mkdtemp(prefix="herald-wcfg-"))


def base_env(stack, provider, c):
    env = {"HERALD_WORKER_CA_FILE": c["HERALD_SIM_CA_FILE"],
           # nothing listens there: the workers must refuse before connecting
           "HERALD_WORKER_CONNECT_TO": "::127.0.0.1:1",
           PORT_VAR[provider]: "0"}
    if provider == "fcm":
        env["HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE"] = c["HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE"]
    elif provider == "apns":
        env.update(HERALD_WORKER_APNS_KEY_FILE=c["HERALD_SIM_APNS_KEY_FILE"],
                   HERALD_WORKER_APNS_KEY_ID=c["HERALD_SIM_APNS_KEY_ID"],
                   HERALD_WORKER_APNS_TEAM_ID=c["HERALD_SIM_APNS_TEAM_ID"],
                   HERALD_WORKER_APNS_TOPIC=c["HERALD_SIM_APNS_TOPIC"])
    else:
        env.update(HERALD_WORKER_HMS_APP_ID=c["HERALD_SIM_HMS_APP_ID"],
                   HERALD_WORKER_HMS_CLIENT_SECRET=c["HERALD_SIM_HMS_CLIENT_SECRET"])
    return env


def run(provider, env, *args):
    r = subprocess.run([os.path.join(BIN, "herald-worker-" + provider)] + list(args),
                       env=env, capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert not [m for m in SANITIZER_MARKERS if m in out], out[-3000:]
    return r, out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_help_lists_the_variables(stack, provider):
    r, out = run(provider, stack.env(), "--help")
    assert r.returncode == 0
    for v in (CRED_VAR[provider], PORT_VAR[provider], "HERALD_KAFKA_BROKERS",
              "HERALD_WORKER_CA_FILE", "HERALD_WORKER_CONNECT_TO",
              "HERALD_WORKER_MAX_ATTEMPTS"):
        assert v in out, v


@pytest.mark.parametrize("provider", PROVIDERS)
def test_kafka_brokers_unset_is_refused(stack, creds, provider):
    env = stack.env(**base_env(stack, provider, creds))
    env.pop("HERALD_KAFKA_BROKERS", None)
    r, out = run(provider, env)
    assert r.returncode != 0
    # refused like any required variable, as --help says (", required")
    assert "HERALD_KAFKA_BROKERS: required but not set" in out and '"level":"fatal"' in out, \
        out[-2000:]
    assert creds["HERALD_SIM_HMS_CLIENT_SECRET"] not in out


@pytest.mark.parametrize("provider", PROVIDERS)
def test_missing_credential_is_refused(stack, creds, provider):
    env = stack.env(HERALD_KAFKA_BROKERS="127.0.0.1:1", **base_env(stack, provider, creds))
    env.pop(CRED_VAR[provider])
    r, out = run(provider, env)
    assert r.returncode != 0
    assert CRED_VAR[provider] in out, out[-2000:]
