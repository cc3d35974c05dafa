#!/usr/bin/env python3
# cycles.py -- finds call and include cycles between C files, and long
# functions. A file depends on another when it names (calls, or takes the
# address of) a non-static function defined there, or includes a private
# header (*private.h: shared by a few files, not an API) declaring a
# function defined there.
# Each loop is printed as its links: "cycle: a.c -> b.c; b.c -> a.c".
#
#   scripts/cycles.py [--long N] DIR...
#
# With --long N, functions longer than N lines are listed instead.
# Needs Universal Ctags. Exits 1 when it prints anything.
import os
import re
import subprocess
import sys


def c_files(dirs):
    out = []
    for d in dirs:
        for root, _, names in os.walk(d):
            out += [os.path.join(root, n) for n in names if n.endswith(".c")]
    return sorted(out)


def functions(files):
    """(name, file, start, end, static) for every function definition."""
    tags = subprocess.run(
        ["ctags", "--sort=no", "--c-kinds=f", "--fields=+fne", "-f", "-"] + files,
        check=True, capture_output=True, text=True).stdout
    out = []
    for line in tags.splitlines():
        parts = line.split("\t")
        name, path = parts[0], parts[1]
        fields = dict(p.split(":", 1) for p in parts[3:] if ":" in p)
        out.append((name, path, int(fields.get("line", 0)),
                    int(fields.get("end", 0)), "file" in fields))
    return out


def strip(text):
    """text without comments and string literals (lines kept)."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"),
                  text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def declared_in(inc, dirs, defs):
    """The files defining the functions header inc declares."""
    if "private" not in os.path.basename(inc):
        return set()
    for d in ["common", "."] + dirs:
        path = os.path.join(d, inc)
        if os.path.isfile(path):
            break
    else:
        return set()
    with open(path) as fh:
        words = re.findall(r"\b([A-Za-z_]\w*)\s*\(", strip(fh.read()))
    return {defs[w] for w in words if w in defs}


def graph(files, dirs):
    defs = {}
    for name, path, _, _, static in functions(files):
        if not static:
            defs[name] = path
    edges = {f: set() for f in files}
    for f in files:
        with open(f) as fh:
            text = fh.read()
        for word in set(re.findall(r"\b[A-Za-z_]\w*\b", strip(text))):
            g = defs.get(word)
            if g and g != f:
                edges[f].add(g)
        # including a private header is depending on the files that
        # define what it declares (a shared struct alone makes no edge)
        for inc in re.findall(r'#include "([^"]+)"', text):
            for g in declared_in(inc, dirs, defs):
                if g != f:
                    edges[f].add(g)
    return edges


def cycles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(argv):
    long_n = 0
    if len(argv) > 1 and argv[0] == "--long":
        long_n = int(argv[1])
        argv = argv[2:]
    files = c_files(argv)
    found = 0
    if long_n:
        for name, path, start, end, _ in functions(files):
            if end - start + 1 > long_n:
                print(f"{path}:{start}: {name}() {end - start + 1} lines")
                found += 1
        return 1 if found else 0
    edges = graph(files, argv)
    for comp in cycles(edges):
        inside = set(comp)
        links = [f"{a} -> {b}" for a in comp for b in sorted(edges[a])
                 if b in inside]
        print("cycle: " + "; ".join(links))
        found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
