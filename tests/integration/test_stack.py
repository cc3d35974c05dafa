"""test_stack.py -- `make run`: scripts/run.sh started the way the Makefile
starts it (sh scripts/run.sh), with its var directory in a temporary place,
every port moved to a free one and HERALD_BIN_DIR pointing at the binaries
under test. It must reach "ready", write var/stack.env only then (export
lines, so `. var/stack.env` reaches child processes), print a banner whose every URL answers /healthz and serves valid
/metrics, and on Ctrl-C (SIGINT to its process group) stop everything it
started -- services, herald-devkafka, PostgreSQL -- remove stack.env and
exit 0. Secrets reach the services by environment only: env and setsid,
the programs run.sh could pass them to on a command line, are wrapped to
record their arguments, and no secret may be among them. Bounded: about
60 s in all.
"""
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import BIN, ROOT, SANITIZER_MARKERS, free_port
from test_foundation import parse_prometheus

PORT_VARS = ["HERALD_API_PORT", "HERALD_HUB_PORT", "HERALD_RELAY_PORT", "HERALD_SIM_PORT",
             "HERALD_SIM_CONTROL_PORT", "HERALD_PG_PORT", "HERALD_WORKER_FCM_PORT",
             "HERALD_WORKER_APNS_PORT", "HERALD_WORKER_HMS_PORT", "HERALD_WORKER_WEBPUSH_PORT",
             "HERALD_API_ADMIN_PORT", "HERALD_HUB_ADMIN_PORT", "HERALD_RELAY_ADMIN_PORT",
             "HERALD_WORKER_FCM_ADMIN_PORT", "HERALD_WORKER_APNS_ADMIN_PORT",
             "HERALD_WORKER_HMS_ADMIN_PORT", "HERALD_WORKER_WEBPUSH_ADMIN_PORT"]
# what any script may rely on finding in stack.env
STACK_ENV_KEYS = ["HERALD_API_URL", "HERALD_HUB_URL", "HERALD_SIM_URL", "HERALD_API_KEY",
                  "HERALD_JWT_SECRET", "HERALD_INTERNAL_KEY", "HERALD_RELAY_ADMIN_KEY",
                  "HERALD_KAFKA_BROKERS", "HERALD_PG_DSN", "HERALD_BIN_DIR"]
SECRET_KEYS = ["HERALD_API_KEY", "HERALD_JWT_SECRET", "HERALD_INTERNAL_KEY",
               "HERALD_RELAY_ADMIN_KEY", "HERALD_SIM_HMS_CLIENT_SECRET"]


def processes_using(*needles):
    """{pid: command line} of every process whose command line mentions
    one of needles."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles):
            found[int(pid)] = cmd
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def get(url, cafile):
    """(status, body text) of GET url; https URLs (the relay) trust cafile."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def read_env(path):
    """stack.env as a dict, checked line by line to be `export K='v'` and
    checked as a whole to reach a child process once sourced."""
    env = {}
    with open(path) as f:
        for line in f.read().splitlines():
            m = re.fullmatch(r"export (HERALD_[A-Z0-9_]+)='([^']*)'", line)
            assert m, "not an export K='v' line in stack.env: %r" % line
            env[m.group(1)] = m.group(2)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    r = subprocess.run(["sh", "-c", '. "$1" && exec env', "sh", path], env=clean,
                       capture_output=True, text=True, timeout=10)
    seen = dict(line.split("=", 1) for line in r.stdout.splitlines() if line.startswith("HERALD_"))
    assert seen == env, "a child of a shell that sourced stack.env sees %s" % sorted(seen)
    return env


def argv_shims(shim_dir, log):
    """A directory of wrappers for env and setsid that append their
    arguments to log, then run the real program: put first in PATH."""
    os.makedirs(shim_dir)
    for prog in ("env", "setsid"):
        real = shutil.which(prog)
        path = os.path.join(shim_dir, prog)
        with open(path, "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "%s $*" >>"%s"\nexec "%s" "$@"\n'
                    % (prog, log, real))
        os.chmod(path, 0o755)
    return shim_dir


def test_run_sh_is_ready_then_stops_everything_on_ctrl_c():
    # not under pytest's tmp_path: its 0700 parents keep the postgres user
    # (which runs the throwaway cluster) out
    top = tempfile.mkdtemp(prefix="herald-stack-")
    os.chmod(top, 0o755)
    var = os.path.join(top, "var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update({v: str(free_port()) for v in PORT_VARS})
    env.update(HERALD_VAR_DIR=var, HERALD_BIN_DIR=BIN)
    argv_log = os.path.join(top, "argv.log")
    env["PATH"] = argv_shims(os.path.join(top, "shims"), argv_log) + ":" + env["PATH"]
    out_path = os.path.join(top, "run.out")
    out = open(out_path, "w")
    # its own process group, so SIGINT to the group is a terminal's Ctrl-C;
    # SIGINT handled by default even if this test runs with it ignored
    proc = subprocess.Popen(["sh", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stack_env = os.path.join(var, "stack.env")
    started = {}
    try:
        def text():
            with open(out_path, errors="replace") as f:
                return f.read()

        t0 = time.monotonic()
        while not os.path.exists(stack_env):
            assert proc.poll() is None, "run.sh exited %s:\n%s" % (proc.returncode, text())
            assert time.monotonic() - t0 < 50, "no stack.env after 50 s:\n" + text()
            time.sleep(0.1)
        ready_s = time.monotonic() - t0
        while "Ctrl-C stops everything." not in text() and time.monotonic() - t0 < 55:
            time.sleep(0.1)  # the banner follows stack.env
        banner = text()
        assert "Herald is ready." in banner and "Ctrl-C stops everything." in banner, banner
        assert not os.path.exists(stack_env + ".tmp")

        senv = read_env(stack_env)
        for k in STACK_ENV_KEYS + (["HERALD_RELAY_URL"]
                                   if os.path.exists(os.path.join(BIN, "herald-relay")) else []):
            assert senv.get(k), "%s missing from stack.env: %s" % (k, sorted(senv))
        assert senv["HERALD_API_URL"] == "http://127.0.0.1:%s" % env["HERALD_API_PORT"]
        assert senv["HERALD_HUB_URL"] == "http://127.0.0.1:%s" % env["HERALD_HUB_PORT"]
        assert ":%s/" % env["HERALD_PG_PORT"] in senv["HERALD_PG_DSN"]
        assert senv["HERALD_KAFKA_BROKERS"] in banner and senv["HERALD_API_URL"] in banner
        assert senv["HERALD_BIN_DIR"] == os.path.realpath(BIN) and senv["HERALD_BIN_DIR"] in banner

        urls = {v for k, v in senv.items() if k.endswith("_URL")}
        urls |= {m.group(1) for m in re.finditer(r"(http://127\.0\.0\.1:\d+)", banner)}
        for url in sorted(urls):
            assert get(url + "/healthz", senv.get("HERALD_RELAY_CA_FILE"))[0] == 200, url
        # metrics are on the admin listeners the banner names, not public
        scraped = re.findall(r"metrics (http://127\.0\.0\.1:\d+)/metrics", banner)
        assert len(scraped) >= 3, banner
        for url in scraped:
            st, body = get(url + "/metrics", None)
            assert st == 200, url
            parse_prometheus(body)
        assert get(senv["HERALD_API_URL"] + "/metrics", None)[0] == 404
        assert senv["HERALD_API_ADMIN_URL"] == "http://127.0.0.1:%s" % env["HERALD_API_ADMIN_PORT"]
        for port in ("HERALD_WORKER_FCM_PORT", "HERALD_WORKER_APNS_PORT", "HERALD_WORKER_HMS_PORT"):
            if os.path.exists(os.path.join(BIN, "herald-worker-" + port.split("_")[2].lower())):
                assert "http://127.0.0.1:%s" % env[port] in urls, (port, banner)

        # the banner's heraldctl line works as printed, from the checkout
        m = re.search(r"^    (\S+/heraldctl(?: --env-file \S+)?) devices list --user alice$",
                      banner, re.M)
        assert m, banner
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        r = subprocess.run(m.group(1).split() + ["send", "--user", "alice", "--title", "hi"],
                           cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.strip(), (r.stdout, r.stderr)
        r = subprocess.run(m.group(1).split() + ["status", r.stdout.strip()],
                           cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "state" in r.stdout, (r.stdout, r.stderr)

        started = processes_using(BIN + "/herald-", var + "/")
        names = " ".join(started.values())
        for b in ("herald-devkafka", "herald-api", "herald-hub", "postgres"):
            assert b in names, (b, started)

        t1 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(40)
        stop_s = time.monotonic() - t1
        final = text()
        assert rc == 0, (rc, final[-3000:])
        assert final.rstrip().endswith("[herald] stopped"), final[-2000:]
        assert "exited unexpectedly" not in final and "killing it" not in final, final[-2000:]
        assert not os.path.exists(stack_env)
        left = {p: c for p, c in started.items() if alive(p)}
        assert not left, "left running after Ctrl-C: %s" % left
        assert not processes_using(BIN + "/herald-", var + "/")
        assert not os.path.exists(os.path.join(var, "pg", "data", "postmaster.pid"))
        assert ready_s + stop_s < 60, (ready_s, stop_s)

        secrets = [senv[k] for k in SECRET_KEYS if senv.get(k)]
        token_secret = os.path.join(var, "relay-tls", "token-secret")
        if os.path.exists(token_secret):
            with open(token_secret) as f:
                secrets.append(f.read().strip())
        with open(argv_log, errors="replace") as f:
            argv = f.read()
        assert "setsid " in argv, "the argv shims were not used: %r" % argv[:500]
        for s in secrets:
            assert s not in argv, "a secret was passed on a command line: %s" % argv[:2000]
        logs = os.path.join(var, "log")
        for name in sorted(os.listdir(logs)):
            with open(os.path.join(logs, name), errors="replace") as f:
                log = f.read()
            assert not [m for m in SANITIZER_MARKERS if m in log], (name, log[-3000:])
            for s in secrets:
                assert s not in log, "a secret from stack.env is in %s" % name
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pid in processes_using(BIN + "/herald-", var + "/"):
            if "postgres" not in started.get(pid, ""):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "pg.sh"), "stop", os.path.join(var, "pg")],
                       capture_output=True)
        out.close()
        shutil.rmtree(top, ignore_errors=True)


def test_run_sh_recovers_after_a_run_killed_with_9():
    """`make run` killed with -9 leaves its services running (each in a
    session of its own) and, when PostgreSQL dies with it, a stale pid
    file. The next run stops what the first one left, clears the pid file,
    comes up, and stops everything on Ctrl-C."""
    top = tempfile.mkdtemp(prefix="herald-stack-")
    os.chmod(top, 0o755)
    var = os.path.join(top, "var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update({v: str(free_port()) for v in PORT_VARS})
    env.update(HERALD_VAR_DIR=var, HERALD_BIN_DIR=BIN)
    stack_env = os.path.join(var, "stack.env")
    procs = []

    def run(n):
        out = open(os.path.join(top, "run%d.out" % n), "w")
        p = subprocess.Popen(["sh", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        procs.append((p, out))
        t0 = time.monotonic()
        while not os.path.exists(stack_env):
            with open(out.name, errors="replace") as f:
                text = f.read()
            assert p.poll() is None, "run %d exited %s:\n%s" % (n, p.returncode, text)
            assert time.monotonic() - t0 < 60, "run %d: no stack.env after 60 s:\n%s" % (n, text)
            time.sleep(0.1)
        return p, out.name

    try:
        first, _ = run(1)
        left = processes_using(BIN + "/herald-", var + "/")
        assert any("herald-api" in c for c in left.values()), left
        os.kill(first.pid, signal.SIGKILL)  # run.sh only: its services live on
        first.wait(10)
        pidfile = os.path.join(var, "pg", "data", "postmaster.pid")
        with open(pidfile) as f:
            postmaster = int(f.readline())
        os.kill(postmaster, signal.SIGKILL)
        wait_gone = time.monotonic() + 10
        while alive(postmaster) and time.monotonic() < wait_gone:
            time.sleep(0.1)
        assert os.path.exists(pidfile)  # stale now
        os.unlink(stack_env)  # as the killed run could not remove it
        second, out2 = run(2)
        with open(out2, errors="replace") as f:
            text = f.read()
        assert "left running by an earlier run" in text, text
        still = {p: c for p, c in left.items() if alive(p) and "postgres" not in c}
        assert not still, "the first run's services are still running: %s" % still
        os.killpg(second.pid, signal.SIGINT)
        assert second.wait(40) == 0
        assert not processes_using(BIN + "/herald-", var + "/")
        assert not os.path.exists(pidfile)
    finally:
        for p, out in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            out.close()
        for pid in processes_using(BIN + "/herald-", var + "/"):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "pg.sh"), "stop", os.path.join(var, "pg")],
                       capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
