"""runstack.py -- scripts/run.sh (what `make run` starts) for the tests:
started as the Makefile starts it (sh scripts/run.sh), in its own process
group, with its var directory in a temporary place, every port moved to a
free one and HERALD_BIN_DIR pointing at the binaries under test.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import BIN, ROOT, free_port

PORT_VARS = ["HERALD_API_PORT", "HERALD_HUB_PORT", "HERALD_RELAY_PORT", "HERALD_SIM_PORT",
             "HERALD_SIM_CONTROL_PORT", "HERALD_PG_PORT", "HERALD_WORKER_FCM_PORT",
             "HERALD_WORKER_APNS_PORT", "HERALD_WORKER_HMS_PORT", "HERALD_WORKER_WEBPUSH_PORT",
             "HERALD_API_ADMIN_PORT", "HERALD_HUB_ADMIN_PORT", "HERALD_RELAY_ADMIN_PORT",
             "HERALD_WORKER_FCM_ADMIN_PORT", "HERALD_WORKER_APNS_ADMIN_PORT",
             "HERALD_WORKER_HMS_ADMIN_PORT", "HERALD_WORKER_WEBPUSH_ADMIN_PORT"]


class RunSh:
    def __init__(self):
        # not under pytest's tmp_path: its 0700 parents keep the postgres
        # user (which runs the throwaway cluster) out
        self.top = tempfile.mkdtemp(prefix="herald-stack-")
        os.chmod(self.top, 0o755)
        self.var = os.path.join(self.top, "var")
        self.stack_env = os.path.join(self.var, "stack.env")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        self.env.update({v: str(free_port()) for v in PORT_VARS})
        self.env.update(HERALD_VAR_DIR=self.var, HERALD_BIN_DIR=BIN)
        self.out_path = os.path.join(self.top, "run.out")
        self.out = open(self.out_path, "w")
        # SIGINT handled by default even if the tests run with it ignored
        self.proc = subprocess.Popen(
            ["sh", "scripts/run.sh"], cwd=ROOT, env=self.env, stdout=self.out,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def text(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout=50):
        """Waits for stack.env; returns the seconds it took."""
        t0 = time.monotonic()
        while not os.path.exists(self.stack_env):
            assert self.proc.poll() is None, "run.sh exited %s:\n%s" % (
                self.proc.returncode, self.text())
            assert time.monotonic() - t0 < timeout, "no stack.env after %d s:\n%s" % (
                timeout, self.text())
            time.sleep(0.1)
        return time.monotonic() - t0

    def interrupt(self, timeout=40):
        """Ctrl-C: SIGINT to the group; returns run.sh's exit status."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout)

    def close(self):
        """stop(), then remove()."""
        self.stop()
        self.remove()

    def stop(self):
        """Stops run.sh if it still runs (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def remove(self):
        """Stops the PostgreSQL left in var/ and removes the directory."""
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "pg.sh"), "stop",
                        os.path.join(self.var, "pg")], capture_output=True)
        self.out.close()
        shutil.rmtree(self.top, ignore_errors=True)
