#!/bin/sh
# test.sh -- runs the unit tests (AddressSanitizer + UBSan build) and the
# integration tests (real binaries, throwaway PostgreSQL, herald-devkafka),
# with the lint, a short smoke of every fuzz harness and the offline
# deployment check (scripts/lint.sh, scripts/fuzz.sh, scripts/deploy-check.sh)
# in between,
# then prints one line "N passed, N failed" and exits non-zero on any
# failure. HERALD_TEST_ONLY=unit|integration runs one half; arguments are
# passed to pytest: a test file (or file::test) runs that file alone, a -k
# expression selects from the whole suite.
set -u
cd "$(dirname "$0")/.."
B=build/asan
mkdir -p build/test
passed=0
failed=0
only=${HERALD_TEST_ONLY:-all}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

# count LOG RC: adds LOG's last "N passed, N failed" line to the totals,
# leaving the step's own figures in p and f; a non-zero RC with no failure
# counted (a crash, a sanitizer report, a timeout) is one failure.
count() {
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    p=$(echo "$line" | awk '{print $1}')
    f=$(echo "$line" | awk '{print $3}')
    [ -n "$p" ] || { p=0; f=0; }
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

# step NAME LOG LINES CMD...: runs CMD into LOG as one counted step and
# says how it went, with the last LINES lines of LOG on failure.
step() {
    name=$1 log=$2 lines=$3
    shift 3
    "$@" >"$log" 2>&1
    rc=$?
    count "$log" $rc
    if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
        echo "== $name: FAIL (exit $rc)"
        sed 's/^/    /' "$log" | tail -n "$lines"
    else
        echo "== $name: ok ($p)"
    fi
}

# One throwaway PostgreSQL serves the unit tests that need a database.
pgdir=$(mktemp -d /tmp/herald-unit-pg.XXXXXX)
cleanup() { sh scripts/pg.sh stop "$pgdir" >/dev/null 2>&1; rm -rf "$pgdir"; }
trap cleanup EXIT INT TERM

if [ "$only" != integration ]; then
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    HERALD_TEST_PG_DSN=$(sh scripts/pg.sh start "$pgdir" "$port") || exit 1
    export HERALD_TEST_PG_DSN
    echo "== unit tests ($B/tests)"
    for t in "$B"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        log=build/test/$name.log
        timeout 300 "$t" >"$log" 2>&1
        rc=$?
        count "$log" $rc
        if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
            echo "  FAIL $name (exit $rc)"
            sed 's/^/    /' "$log" | tail -n 40
        else
            echo "  ok   $name ($p)"
        fi
    done
fi

# the style and convention checks (scripts/lint.sh): one counted step
if [ "$only" = all ]; then
    if sh scripts/lint.sh >build/test/lint.log 2>&1; then
        passed=$((passed + 1))
        echo "== lint: ok"
    else
        failed=$((failed + 1))
        echo "== lint: FAIL"
        sed 's/^/    /' build/test/lint.log | tail -n 40
    fi
fi

# a short run of every libFuzzer harness (scripts/fuzz.sh): one counted
# step per harness; docker-compose.yml and deploy/k8s (offline): one more
if [ "$only" = all ]; then
    step "fuzz smoke" build/test/fuzz.log 40 \
        sh scripts/fuzz.sh "${HERALD_FUZZ_SMOKE_S:-3}"
    step "deploy check" build/test/deploy-check.log 60 \
        sh scripts/deploy-check.sh
fi

if [ "$only" != unit ]; then
    echo "== integration tests (tests/integration)"
    rm -f build/test/integration.xml
    where=tests/integration
    for a in "$@"; do
        case "$a" in tests/*) where= ;; esac
    done
    /usr/bin/python3 -m pytest $where -p no:cacheprovider -q \
        -o junit_family=xunit2 --junitxml=build/test/integration.xml "$@"
    if [ -f build/test/integration.xml ]; then
        counts=$(/usr/bin/python3 - <<'PY'
import xml.etree.ElementTree as ET
r = ET.parse("build/test/integration.xml").getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
sk = sum(int(s.get("skipped", 0)) for s in suites)
# a skipped test counts as failed: nothing here may be skipped silently
print(t - f - sk, f + sk)
PY
)
        passed=$((passed + ${counts% *}))
        failed=$((failed + ${counts#* }))
    else
        failed=$((failed + 1))
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
