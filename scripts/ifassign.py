#!/usr/bin/env python3
"""ifassign.py -- reports an assignment inside an `if (...)` condition
(CONVENTIONS: no assignment inside if), conditions spanning lines
included. Comments, string and character literals are blanked first, so
`==`, `!=`, `<=`, `>=` and an '=' in a literal never count. `while`
conditions are left alone: `while ((n = read(...)) > 0)` is the idiom.
Usage: ifassign.py FILE...; prints file:line per problem, exits 1 if any."""
import re
import sys

LITERAL = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
IF = re.compile(r'\bif\s*\(')
ASSIGN = re.compile(r'(?<![=!<>+\-*/%&|^])=(?!=)|(?:[+\-*/%&|^]|<<|>>)=')


def blank(m):
    return re.sub(r'[^\n]', ' ', m.group(0))


def check(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        src = LITERAL.sub(blank, f.read())
    bad = []
    for m in IF.finditer(src):
        depth, i = 1, m.end()
        while i < len(src) and depth:
            depth += {"(": 1, ")": -1}.get(src[i], 0)
            i += 1
        cond = src[m.end():i - 1]
        # <= >= are comparisons; a compound <<= >>= is caught by ASSIGN
        cond = re.sub(r'(?<![<>])[<>]=', '  ', cond)
        if ASSIGN.search(cond):
            bad.append(src.count("\n", 0, m.start()) + 1)
    return bad


def main(paths):
    n = 0
    for p in paths:
        for line in check(p):
            print("%s:%d: assignment inside an if condition" % (p, line))
            n += 1
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
