#!/bin/sh
# fuzz.sh -- runs every libFuzzer harness (build/fuzz/fuzz/fuzz_*, built by
# `make fuzz-build`: clang, ASan + UBSan) for SECONDS each, one after the
# other, on a working corpus (build/fuzz/corpus/<name>/) seeded from the
# committed one (tests/fuzz/corpus/<name>/). Appends one line per run to
# build/fuzz/runs.tsv (date, target, seconds, executions, result), prints
# the executions of this run and of all runs so far, and ends with
# "N passed, N failed". A crash leaves its input in build/fuzz/crash-<name>-*
# (reproduce: build/fuzz/fuzz/<name> <file>). An input running longer
# than FUZZ_TIMEOUT_S (default 10) wall-clock seconds is a failure: raise
# it for long runs under nice on a loaded machine, where a starved
# process can stall that long on an input that takes milliseconds.
#
#   sh scripts/fuzz.sh [SECONDS] [NAME...]
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
passed=0
failed=0
mkdir -p build/fuzz/logs
names=$*
[ -n "$names" ] || names=$(cd build/fuzz/fuzz 2>/dev/null && ls fuzz_* 2>/dev/null)
[ -n "$names" ] || { echo "fuzz: no harness built (make fuzz-build)"; echo "0 passed, 1 failed"; exit 1; }
printf '%-22s %12s %14s  %s\n' target executions "all runs" result
for name in $names; do
    bin=build/fuzz/fuzz/$name
    work=build/fuzz/corpus/$name
    log=build/fuzz/logs/$name.log
    mkdir -p "$work"
    "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout="${FUZZ_TIMEOUT_S:-10}" \
        -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="build/fuzz/crash-$name-" \
        "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=0
    if [ $rc -eq 0 ]; then result=ok; passed=$((passed + 1)); else result="FAIL (exit $rc)"; failed=$((failed + 1)); fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$secs" "$execs" "$result" >>build/fuzz/runs.tsv
    total=$(awk -F'\t' -v n="$name" '$2 == n && $5 == "ok" {s += $4} END {print s + 0}' build/fuzz/runs.tsv)
    printf '%-22s %12s %14s  %s\n' "$name" "$execs" "$total" "$result"
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10 | sed 's/^/    /'
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
