"""harness.py -- starts real Herald binaries and their dependencies for the
integration tests: a throwaway PostgreSQL cluster, herald-devkafka, and any
service binary, all on 127.0.0.1 and free ports.

Every process writes its output to a log file under build/test/logs/. When
a service stops, its log is scanned for AddressSanitizer, LeakSanitizer and
UBSan reports, and any report fails the test that owned the process.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("HERALD_TEST_BIN_DIR", os.path.join(ROOT, "build", "asan", "bin"))
RELEASE_BIN = os.path.join(ROOT, "build", "release", "bin")
LOGS = os.path.join(ROOT, "build", "test", "logs")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# librdkafka settings that make the mock cluster fast (specs/toolchain.md 1.4)
KAFKA_TEST_ENV = {
    "HERALD_KAFKA_FETCH_WAIT_MAX_MS": "5",
    "HERALD_KAFKA_FETCH_ERROR_BACKOFF_MS": "10",
    "HERALD_KAFKA_SESSION_TIMEOUT_MS": "3000",
    "HERALD_KAFKA_HEARTBEAT_INTERVAL_MS": "750",
    "HERALD_KAFKA_LINGER_MS": "1",
    "HERALD_KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS": "1000",
}


_handed = set()

# The admin listener's port variable of each service's public port variable
# (herald-sim serves its metrics on its control port: none).
ADMIN_PORT_VAR = {
    "HERALD_API_PORT": "HERALD_API_ADMIN_PORT",
    "HERALD_HUB_PORT": "HERALD_HUB_ADMIN_PORT",
    "HERALD_RELAY_PORT": "HERALD_RELAY_ADMIN_PORT",
    "HERALD_WORKER_FCM_PORT": "HERALD_WORKER_FCM_ADMIN_PORT",
    "HERALD_WORKER_APNS_PORT": "HERALD_WORKER_APNS_ADMIN_PORT",
    "HERALD_WORKER_HMS_PORT": "HERALD_WORKER_HMS_ADMIN_PORT",
    "HERALD_WORKER_WEBPUSH_PORT": "HERALD_WORKER_WEBPUSH_ADMIN_PORT",
}


def _port_range():
    """Ports outside the kernel's ephemeral range: a port picked there can be
    taken, between the pick and the bind, as the local port of any outgoing
    connection on the machine (a load test's thousands of sockets make that
    likely); outside it only another listener can take it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo > 12000:
        return 10000, lo - 1
    return hi + 1, 65535


def free_port():
    """A port nothing listens on now, never the same one twice in a run (two
    calls before either port is bound could otherwise get the same one),
    outside the ephemeral range (see _port_range)."""
    lo, hi = _port_range()
    rng = random.Random()
    while True:
        port = rng.randint(lo, hi)
        if port in _handed:
            continue
        try:
            with socket.socket() as s:
                s.bind(("0.0.0.0", port))
        except OSError:
            continue
        _handed.add(port)
        return port


class Exited(Exception):
    """A process wait_for() was waiting on is gone: no point waiting on."""


def log_path(name):
    os.makedirs(LOGS, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return os.path.join(LOGS, "%s-%d-%d.log" % (safe, os.getpid(), time.monotonic_ns() % 10**9))


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exited:
            raise
        except Exception as e:  # noqa: BLE001 - report the last error
            last = e
        time.sleep(interval)
    raise TimeoutError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def http(method, url, body=None, headers=None, timeout=10.0):
    """Returns (status, headers, body bytes); never raises on HTTP errors."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(method, url, body=None, headers=None, timeout=10.0):
    status, hdrs, raw = http(method, url, body, headers, timeout)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw
    return status, doc


class PgCluster:
    """A throwaway PostgreSQL cluster (scripts/pg.sh) with one database per
    test, so tests never see each other's rows."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="herald-pg-")
        self.port = free_port()
        self.dsn = None
        self._n = 0

    def start(self):
        out = subprocess.run(["sh", os.path.join(ROOT, "scripts", "pg.sh"), "start", self.dir, str(self.port)],
                             check=True, capture_output=True, text=True)
        self.dsn = out.stdout.strip().splitlines()[-1]
        return self

    def stop(self):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "pg.sh"), "stop", self.dir],
                       capture_output=True, text=True)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def new_database(self):
        self._n += 1
        name = "t_%d_%d" % (os.getpid(), self._n)
        self.psql("postgres", "create database %s" % name)
        return "postgresql://herald@127.0.0.1:%d/%s" % (self.port, name)

    def psql(self, db_or_dsn, sql):
        dsn = db_or_dsn if "://" in db_or_dsn else "postgresql://herald@127.0.0.1:%d/%s" % (self.port, db_or_dsn)
        out = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()


class DevKafka:
    """herald-devkafka: librdkafka's mock cluster in its own process, with
    control commands written to its stdin."""

    def __init__(self, brokers=1, topics=None, bin_dir=BIN):
        self.log = log_path("devkafka")
        self._logf = open(self.log, "w")
        env = dict(os.environ)
        env["HERALD_DEVKAFKA_BROKERS"] = str(brokers)
        if topics is not None:
            env["HERALD_DEVKAFKA_TOPICS"] = ",".join(topics)
        self.proc = subprocess.Popen([os.path.join(bin_dir, "herald-devkafka")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._logf, env=env, text=True, bufsize=1)
        line = self._readline(15)
        m = re.match(r"BOOTSTRAP (\S+)", line or "")
        if not m:
            self.kill()
            raise RuntimeError("herald-devkafka did not print BOOTSTRAP: %r (log %s)" % (line, self.log))
        self.brokers = m.group(1)

    def _readline(self, timeout):
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if r else None

    def cmd(self, command, timeout=10):
        """Sends one control command; returns its 'OK ...' reply line."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self._readline(timeout)
        if not line or not line.startswith("OK"):
            raise RuntimeError("devkafka %r -> %r" % (command, line))
        return line.strip()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._logf.close()


class Service:
    """One running Herald binary."""

    def __init__(self, name, env, port=None, args=(), bin_dir=BIN, wait="healthz", timeout=30.0,
                 admin_port=None):
        self.name = name
        self.port = port
        self.admin_port = admin_port
        self.env = env
        self.args = list(args)
        self.bin_dir = bin_dir
        self.log = None
        self.proc = None
        self._start(wait, timeout)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def admin_url(self):
        """The admin listener: /metrics and the detailed /readyz (the
        public port's own URL for herald-sim, which has none)."""
        if self.admin_port is None:
            return self.url
        return "http://127.0.0.1:%d" % self.admin_port

    def _start(self, wait, timeout):
        self.log = log_path(self.name)
        self._logf = open(self.log, "w")
        self.proc = subprocess.Popen([os.path.join(self.bin_dir, self.name)] + self.args, env=self.env,
                                     stdout=self._logf, stderr=subprocess.STDOUT)
        if wait:
            def ready():
                if self.proc.poll() is not None:
                    raise Exited("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.read_log()[-4000:]))
                st, _, _ = http("GET", "%s/%s" % (self.url, wait), timeout=2)
                return st == 200
            try:
                wait_for(ready, timeout=timeout, what="%s /%s" % (self.name, wait))
            except TimeoutError:
                raise TimeoutError("%s not %s in %.0fs; log:\n%s" % (self.name, wait, timeout, self.read_log()[-4000:]))

    def restart(self, wait="healthz", timeout=30.0):
        self.stop()
        self._start(wait, timeout)

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def log_lines(self):
        """The JSON log lines (other output, such as sanitizer reports, is skipped)."""
        out = []
        for line in self.read_log().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill9(self):
        """SIGKILL: the crash case. Sanitizer checks do not apply."""
        if self.running():
            self.proc.kill()
            self.proc.wait()
        self._logf.close()

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._logf.close()
                raise AssertionError("%s did not exit within %.0fs of SIGTERM" % (self.name, timeout))
        self._logf.close()
        return self.proc.returncode

    def sanitizer_reports(self):
        text = self.read_log()
        return [m for m in SANITIZER_MARKERS if m in text]


class Stack:
    """Per-test owner of processes: everything it started is stopped at the
    end of the test, and a service that exits non-zero on SIGTERM or
    printed a sanitizer report fails the test."""

    def __init__(self, pg=None):
        self.pg = pg
        self.services = []
        self.kafkas = []
        self.problems = []

    def kafka(self, brokers=1, topics=None):
        k = DevKafka(brokers=brokers, topics=topics)
        self.kafkas.append(k)
        return k

    def env(self, **extra):
        """A clean environment for a service: PATH, sanitizer options and
        fast Kafka settings, plus extra (None removes a variable)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.update(KAFKA_TEST_ENV)
        env["HERALD_LOG_LEVEL"] = "debug"
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def start(self, name, env, port_var=None, port=None, **kw):
        admin_port = None
        if port_var:
            port = port or free_port()
            env = dict(env)
            env[port_var] = str(port)
            admin_var = ADMIN_PORT_VAR.get(port_var)
            if admin_var:
                admin_port = int(env.get(admin_var) or free_port())
                env[admin_var] = str(admin_port)
        svc = Service(name, env, port=port, admin_port=admin_port, **kw)
        self.services.append(svc)
        return svc

    def close(self):
        for svc in reversed(self.services):
            if svc.proc is None:
                continue
            was_running = svc.running()
            try:
                rc = svc.stop()
            except AssertionError as e:
                self.problems.append(str(e))
                continue
            if was_running and rc != 0:
                self.problems.append("%s exited %s on SIGTERM (log %s)" % (svc.name, rc, svc.log))
            reports = svc.sanitizer_reports()
            if reports:
                self.problems.append("%s: sanitizer report %s (log %s)" % (svc.name, reports, svc.log))
        for k in self.kafkas:
            k.kill()
