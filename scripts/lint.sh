#!/bin/sh
# lint.sh -- the checks a reviewer should not have to make by eye:
#   * clang-format (.clang-format) on every C file,
#   * no getenv() outside common/core/config.c (configuration is a table),
#   * common/core/banned.h included by every .c file outside tests/,
#   * every .c/.h opens with a comment saying what it is,
#   * no .c file over 1000 lines (CONVENTIONS.md 12),
#   * no assignment inside an if condition (scripts/ifassign.py),
#   * no call cycle between C files, nor one through a private header
#     (scripts/cycles.py; the folders in CYCLES_PENDING are still being
#     untangled and are left out until they are).
# Prints one line per problem and exits 1 if there is any.
set -u
cd "$(dirname "$0")/.."
problems=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
files=$(printf '%s\n' $files | sort -u | grep -v '^tests/unit/unit.h$')

report() { echo "$1"; problems=$((problems + 1)); }

for f in $files; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        report "$f: not clang-formatted (make format)"
    fi
    case "$f" in
    common/core/config.c) ;;
    *) grep -n 'getenv(' "$f" | sed "s|^|$f:|; s|$| <- getenv() outside common/core/config.c|" | grep . && problems=$((problems + 1)) ;;
    esac
    case "$f" in
    tests/*) ;; # test code may call what product code must not
    *.c) grep -q '#include "core/banned.h"' "$f" || report "$f: does not include common/core/banned.h" ;;
    esac
    head -n 1 "$f" | grep -q '^/\*' || report "$f: does not open with a comment"
    case "$f" in
    *.c) n=$(wc -l <"$f"); [ "$n" -le 1000 ] || report "$f: $n lines (split it by responsibility)" ;;
    esac
done
# shellcheck disable=SC2086 # one file per word
python3 scripts/ifassign.py $files || problems=$((problems + 1))
CYCLES_PENDING=""
dirs=""
for d in common services/* tools/*; do
    case " $CYCLES_PENDING " in *" $d "*) continue ;; esac
    dirs="$dirs $d"
done
# shellcheck disable=SC2086 # one folder per word
python3 scripts/cycles.py $dirs || problems=$((problems + 1))
echo "lint: $problems problem(s)"
[ "$problems" -eq 0 ]
