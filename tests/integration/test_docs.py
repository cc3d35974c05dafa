"""test_docs.py -- the docs run: every example of README.md and docs/*.md
runs against a stack started by scripts/run.sh (as `make run` starts it,
on free ports, with a throwaway var/), and prints what the doc shows
(tests/docs/docrun.py has the rules). A failing example fails the test of
its file, naming file and line.

Also: the runner itself catches a failing command, a wrong output and a
marker without a reason; and the docs stand alone (no pointer to a file
outside the repository, docs/README.md lists every page).
"""
import os
import re
import shutil
import sys

import pytest

from harness import ROOT
from runstack import RunSh

sys.path.insert(0, os.path.join(ROOT, "tests", "docs"))
import docrun  # noqa: E402

@pytest.fixture(scope="module")
def docstack():
    """scripts/run.sh up (runstack.py); yields (cwd, env) for docrun.
    Stopped with Ctrl-C afterwards."""
    rs = RunSh()
    cwd = None
    try:
        rs.wait_ready(120)  # a loaded machine: asan binaries start slowly
        cwd = docrun.workdir(rs.var)
        yield cwd, docrun.stack_env(rs.var)
    finally:
        if rs.proc.poll() is None:
            rs.interrupt(40)
        rs.close()
        if cwd:
            shutil.rmtree(cwd, ignore_errors=True)


@pytest.mark.parametrize("path", docrun.doc_files())
def test_examples_run_as_shown(docstack, path):
    cwd, env = docstack
    ran, skipped, failures = docrun.run_file(path, cwd, env)
    print("%s: %d examples run, %d marked not run" % (path, ran, skipped))
    assert not failures, "\n\n".join(failures)


def test_every_example_is_run_or_says_why_not():
    total = marked = 0
    for path in docrun.doc_files():
        for ex in docrun.extract(path):
            total += 1
            marked += ex.skip is not None
            assert ex.skip is None or len(ex.skip) > 10, (ex.where(-1), ex.skip)
    # most examples run: a marker is for what one machine cannot do
    assert total >= 20 and marked * 2 < total, (total, marked)


# ---- the runner itself -------------------------------------------------------

SAMPLE = """# Sample

```sh
X=41
echo '{"id": "7f3e", "n": 42}'
```

```json output
{"id": "…",
 "n": 42}
```

Text:

```sh
echo "hello $X"
```

```text output
hello 41
```

```sh
echo one
false
echo three
```

```sh
echo "got $((X + 1))"
```

```text output
got 43
```

*Not run by the docs test: needs a Kubernetes cluster.*

```sh
kubectl apply -k deploy/k8s
```
"""


def test_the_runner_names_file_and_line_of_what_breaks(tmp_path):
    doc = tmp_path / "sample.md"
    doc.write_text(SAMPLE)
    examples = docrun.extract(str(doc), SAMPLE)
    assert [(e.line, e.skip is not None, e.output is not None) for e in examples] == \
        [(3, False, True), (15, False, True), (23, False, False), (29, False, True),
         (39, True, False)]
    var = tmp_path / "var"
    var.mkdir()
    (var / "stack.env").write_text("export HERALD_X='1'\n")
    ran, skipped, failures = docrun.run_file(str(doc), str(tmp_path), docrun.stack_env(var),
                                             examples)
    assert (ran, skipped) == (4, 1)
    assert len(failures) == 2, failures
    assert failures[0].startswith("%s:25: command failed" % doc), failures[0]
    assert failures[1].startswith("%s:30: the output differs from the one shown at line 34"
                                  % doc), failures[1]
    assert "got 42" in failures[1]


def test_the_runner_refuses_a_marker_without_a_reason():
    with pytest.raises(docrun.DocError, match="needs a reason"):
        docrun.extract("x.md", "*Not run by the docs test:*\n\n```sh\ntrue\n```\n")
    with pytest.raises(docrun.DocError, match="never closed"):
        docrun.extract("x.md", "```sh\ntrue\n")


def test_placeholders_match_any_text_and_nothing_else():
    assert docrun.output_matches('{"id":"…","ok":true}', '{"id":"0c0f-12","ok":true}\n', "json")
    assert not docrun.output_matches('{"id":"…","ok":true}', '{"id":"0c0f","ok":false}', "json")
    assert docrun.output_matches("HTTP/1.1 101 …", "HTTP/1.1 101 Switching Protocols\r\n", "text")
    assert not docrun.output_matches("a …\nb", "a x\nc", "text")


# ---- the docs stand alone ----------------------------------------------------

# What a reader of the repository does not have: the project's planning
# files, paths of one machine, and tracker numbers.
OUTSIDE = [
    (r"\bspecs/[\w.-]+", "a specs/ file"),
    (r"\bDESIGN\.md\b", "DESIGN.md"),
    (r"\bseeds/", "a seeds/ file"),
    (r"\bissue \d+", "an issue number"),
    (r"\bthis development machine\b", "one machine"),
    (r"(?<![\w.])/work/", "a /work path"),
    (r"\bCONVENTIONS\.md\b", "CONVENTIONS.md"),
]


def test_docs_point_at_nothing_outside_the_repository():
    found = []
    for path in docrun.doc_files():
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                for pattern, what in OUTSIDE:
                    if re.search(pattern, line, re.I):
                        found.append("%s:%d: %s: %s" % (path, n, what, line.strip()[:100]))
    assert not found, "\n".join(found)


def test_docs_links_resolve_and_the_index_lists_every_page():
    with open(os.path.join(ROOT, "docs", "README.md"), encoding="utf-8") as f:
        index = f.read()
    for page in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if page.endswith(".md") and page != "README.md":
            assert "(%s)" % page in index or "(%s#" % page in index, \
                "docs/README.md does not list " + page
    bad = []
    for path in docrun.doc_files():
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            if not os.path.exists(os.path.join(ROOT, os.path.dirname(path), target)):
                bad.append("%s: %s" % (path, target))
    assert not bad, bad
