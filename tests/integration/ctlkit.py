"""ctlkit.py -- helpers for the heraldctl tests (test_ctl*.py): run the
binary with a clean environment (no HERALD_* from the caller, no
var/stack.env unless the test writes one) and return what it did.
"""
import os
import subprocess
import tempfile

from harness import BIN, SANITIZER_MARKERS

CTL = os.path.join(BIN, "heraldctl")


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out[-3000:], self.err[-3000:])


def ctl_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.pop("NO_COLOR", None)
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def ctl(*args, env=None, cwd=None, input=None, timeout=120, binary=CTL):
    """Runs heraldctl; cwd defaults to an empty directory (no var/)."""
    cwd = cwd or tempfile.mkdtemp(prefix="heraldctl-")
    r = subprocess.run([binary] + [str(a) for a in args], env=env or ctl_env(), cwd=cwd,
                       input=input, capture_output=True, text=True, timeout=timeout)
    for m in SANITIZER_MARKERS:
        assert m not in r.stderr, r.stderr[-4000:]
    return Run(r.returncode, r.stdout, r.stderr)
