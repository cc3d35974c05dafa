"""docrun.py -- runs the examples of README.md and docs/*.md against a
running stack and compares what they print with what the doc shows.

The rules (docs/README.md, "Examples that run", says the same for writers):

* Every fenced block whose info string is sh, shell or bash is an example.
  The examples of one file run in order in one bash shell, as a reader
  pasting them into one terminal would, from a directory where var/ is the
  stack's (so `. var/stack.env` works) and with var/stack.env already
  sourced. A command that fails (non-zero status outside an `if`, `||` or
  `&&`) fails the example at its line.
* A fenced block right after an example (blank lines between are fine)
  whose info string has the word `output` (```json output, ```text output)
  is what the example prints on stdout. `…` in it stands for any text (ids,
  times, keys). In a json output block whitespace does not count (wrap as
  you like); in any other, trailing spaces and surrounding blank lines do
  not.
* An example that cannot run on one machine (Kubernetes, Docker, real
  provider credentials, a benchmark that takes minutes) carries a visible
  line just above its fence: `*Not run by the docs test: <why>.*`.

Usage: python3 tests/docs/docrun.py [--list] [FILE...] from the repository
root while `make run` is up (FILE defaults to README.md and docs/*.md).
tests/integration/test_docs.py starts its own stack and runs every file.
"""
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHELL_LANGS = ("sh", "shell", "bash")
MARKER = re.compile(r"^\W*Not run by the docs test: *(.*?)\W*$")
FENCE = re.compile(r"^(```+|~~~+)\s*(.*)$")
BLOCK_TIMEOUT_S = 60
ANY = "\u2026"  # …


class Example:
    def __init__(self, path, line, code, skip=None, output=None, output_line=None,
                 output_lang=""):
        self.path = path  # as given (relative to ROOT when from doc_files())
        self.line = line  # line of the opening fence, 1-based
        self.code = code
        self.skip = skip  # the marker's reason, or None
        self.output = output  # expected stdout, or None
        self.output_line = output_line
        self.output_lang = output_lang

    def where(self, offset=0):
        return "%s:%d" % (self.path, self.line + 1 + offset)


class DocError(Exception):
    """A doc breaks the rules (a marker without a reason, an unclosed
    block): reported like a failing example."""


def doc_files():
    docs = sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                  if f.endswith(".md"))
    return ["README.md"] + docs


def blocks(text):
    """[(fence line, info string, [lines])] of every fenced block."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start, body = m.group(1), m.group(2).strip(), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise DocError("line %d: the block opened here is never closed" % start)
        out.append((start, info, body))
        i += 1
    return out


def extract(path, text=None):
    """The examples of one Markdown file, in order."""
    if text is None:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            text = f.read()
    lines = text.split("\n")
    found = blocks(text)
    examples = []
    for n, (line, info, body) in enumerate(found):
        words = info.split()
        if not words or words[0] not in SHELL_LANGS:
            continue
        ex = Example(path, line, "\n".join(body))
        prev = line - 2  # index of the line above the fence
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        m = MARKER.match(lines[prev]) if prev >= 0 else None
        if m:
            if not m.group(1):
                raise DocError("%s:%d: a 'Not run by the docs test' marker needs a reason"
                               % (path, prev + 1))
            ex.skip = m.group(1)
        if n + 1 < len(found):
            nline, ninfo, nbody = found[n + 1]
            between = lines[line + len(body) + 1:nline - 1]
            if "output" in ninfo.split()[1:] and not any(x.strip() for x in between):
                ex.output, ex.output_line = "\n".join(nbody), nline
                ex.output_lang = ninfo.split()[0]
        examples.append(ex)
    return examples


def output_matches(expected, actual, lang):
    """expected (with … for any text) against actual stdout."""
    if lang == "json":
        exp = re.sub(r"\s+", "", expected)
        act = re.sub(r"\s+", "", actual)
        any_text = ".*?"
    else:
        exp = "\n".join(x.rstrip() for x in expected.strip("\n").split("\n"))
        act = "\n".join(x.rstrip() for x in actual.strip("\n").split("\n"))
        any_text = "[^\n]*?"
    pattern = any_text.join(re.escape(p) for p in exp.split(ANY))
    return re.fullmatch(pattern, act, re.S) is not None


class Shell:
    """One bash for one doc file, in its own process group (a doc may
    start background processes: they are stopped with it)."""

    def __init__(self, cwd, env):
        self.dir = tempfile.mkdtemp(prefix="herald-docrun-")
        self.err_path = os.path.join(self.dir, "stderr")
        self.errf = open(self.err_path, "w+")
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=cwd, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.errf, start_new_session=True)
        self.n = 0

    def run(self, code, timeout=BLOCK_TIMEOUT_S):
        """(stdout, stderr, [failing line numbers within code], timed out)."""
        self.n += 1
        script = os.path.join(self.dir, "block-%d.sh" % self.n)
        with open(script, "w") as f:
            f.write(code + "\n")
        fails = os.path.join(self.dir, "fails-%d" % self.n)
        end = "__docrun_end_%d__" % self.n
        self.errf.seek(0, os.SEEK_END)
        err_from = self.errf.tell()
        # ERR fires where set -e would stop: a failing command outside a
        # condition. The block is sourced, so $LINENO is its own line.
        cmd = ("trap 'echo $LINENO >> %s' ERR; . %s </dev/null; trap - ERR; "
               "printf '\\n%s\\n'\n" % (fails, script, end))
        self.proc.stdin.write(cmd.encode())
        self.proc.stdin.flush()
        buf, deadline, timed_out = b"", time.monotonic() + timeout, False
        marker = ("\n%s\n" % end).encode()
        while marker not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                timed_out = left <= 0
                break
            r, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        out = buf.split(marker)[0].decode(errors="replace")
        self.errf.flush()
        with open(self.err_path, errors="replace") as f:
            f.seek(err_from)
            err = f.read()
        failed = []
        if os.path.exists(fails):
            with open(fails) as f:
                failed = [int(x) for x in f.read().split() if x.isdigit()]
        if self.proc.poll() is not None and not timed_out and marker not in buf:
            failed.append(0)  # the shell itself exited (`exit` in a block)
        return out, err, failed, timed_out

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.errf.close()
        subprocess.run(["rm", "-rf", self.dir])


def workdir(var_dir):
    """A directory that looks like the checkout (every top-level entry
    linked) but whose var/ is the running stack's."""
    d = tempfile.mkdtemp(prefix="herald-docs-cwd-")
    for name in os.listdir(ROOT):
        if name not in ("var", ".git"):
            os.symlink(os.path.join(ROOT, name), os.path.join(d, name))
    os.symlink(os.path.abspath(var_dir), os.path.join(d, "var"))
    return d


def run_file(path, cwd, env, examples=None):
    """Runs the examples of one file; returns (ran, skipped, [failure
    messages, each starting with file:line])."""
    examples = extract(path) if examples is None else examples
    failures, ran, skipped = [], 0, 0
    shell = Shell(cwd, env)
    try:
        shell.run(". var/stack.env")
        for ex in examples:
            if ex.skip:
                skipped += 1
                continue
            ran += 1
            out, err, failed, timed_out = shell.run(ex.code)
            if timed_out:
                failures.append("%s: did not finish in %d s\n%s" % (
                    ex.where(), BLOCK_TIMEOUT_S, tail(out, err)))
                continue
            if failed:
                failures.append("%s: command failed\n%s" % (
                    ex.where(failed[0] - 1 if failed[0] > 0 else 0), tail(out, err)))
                continue
            if ex.output is not None and not output_matches(ex.output, out, ex.output_lang):
                failures.append("%s: the output differs from the one shown at line %d\n"
                                "  shown:  %s\n  got:    %s\n%s" % (
                                    ex.where(), ex.output_line + 1,
                                    ex.output.strip().replace("\n", "\n          "),
                                    out.strip().replace("\n", "\n          "),
                                    tail("", err)))
    finally:
        shell.close()
    return ran, skipped, failures


def tail(out, err, n=1500):
    parts = []
    if out.strip():
        parts.append("  stdout: " + out.strip()[-n:].replace("\n", "\n          "))
    if err.strip():
        parts.append("  stderr: " + err.strip()[-n:].replace("\n", "\n          "))
    return "\n".join(parts)


def stack_env(var_dir):
    """The environment examples start from: the caller's, without HERALD_*
    (stack.env provides those)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env["HOME"] = env.get("HOME", "/root")
    return env


def main(argv):
    files = [a for a in argv if not a.startswith("--")] or doc_files()
    if "--list" in argv:
        for f in files:
            for ex in extract(f):
                print("%s %s%s" % (ex.where(-1), "skip: " + ex.skip if ex.skip else "run",
                                   " (+ output)" if ex.output is not None else ""))
        return 0
    var = os.path.join(ROOT, "var")
    if not os.path.exists(os.path.join(var, "stack.env")):
        print("docrun: no var/stack.env: start the stack with `make run` first", file=sys.stderr)
        return 2
    cwd = workdir(var)
    total_ran = total_skipped = 0
    bad = []
    try:
        for f in files:
            ran, skipped, failures = run_file(f, cwd, stack_env(var))
            total_ran += ran
            total_skipped += skipped
            bad += failures
            for msg in failures:
                print("FAIL " + msg)
    finally:
        subprocess.run(["rm", "-rf", cwd])
    print("%d examples run, %d not run (marked), %d failed" % (total_ran, total_skipped, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
