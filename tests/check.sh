#!/bin/bash
# The test command: install what is missing, build twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and run the tests in both:
# the unit tests in both, the end-to-end suite with the SQLite store in
# the plain build and again with the PostgreSQL store (e2e-pg) in the
# sanitized one, on one PostgreSQL server started here for the run (each
# test has a schema of its own). Between the two builds, the static
# analysis (tests/analyze.sh: gcc -fanalyzer, cppcheck) alone on both
# cores, under a minute. Then run the fuzzers for 20 s together
# (clang), check that the benchmark still runs (short mode, no timings
# judged), and end with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
sh tests/deps.sh || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
passed=0
failed=0

run_build() {
	dir=$1
	skip=$2
	shift 2
	if [ ! -d "$dir" ]; then
		meson setup "$dir" "$@" >/dev/null || { failed=$((failed + 1)); return; }
	fi
	if ! ninja -C "$dir" >/dev/null; then
		echo "build in $dir failed" >&2
		ninja -C "$dir" | tail -n 30 >&2
		failed=$((failed + 1))
		return
	fi
	meson test -C "$dir" --print-errorlogs --num-processes 2 --no-suite "$skip" \
	    > "$dir/test-output.txt" 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' "$dir/test-output.txt" | sed "s|^|$dir: |"
	ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$dir/test-output.txt")
	# a test that must fail and did (a check shown to refuse) passed
	xf=$(sed -n 's/^Expected Fail: *\([0-9]*\).*/\1/p' "$dir/test-output.txt")
	[ -z "$ok" ] || ok=$((ok + ${xf:-0}))
	bad=0
	for k in Fail Timeout 'Unexpected Pass'; do
		n=$(sed -n "s/^$k: *\([0-9]*\).*/\1/p" "$dir/test-output.txt")
		bad=$((bad + ${n:-0}))
	done
	if [ "$bad" -ne 0 ]; then
		sed -n '/^Summary of Failures/,$p' "$dir/test-output.txt" >&2
		grep -E '^(not ok|#)' "$dir/meson-logs/testlog.txt" | head -n 80 >&2
	fi
	if [ -z "$ok" ]; then
		echo "no test result in $dir" >&2
		bad=$((bad + 1))
	fi
	passed=$((passed + ${ok:-0}))
	failed=$((failed + bad))
}

pgdir=$(mktemp -d /tmp/rt.pg.XXXXXX)
trap 'bash tests/helpers/pg.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
if RUNNER_TEST_PG=$(bash tests/helpers/pg.sh start "$pgdir"); then
	export RUNNER_TEST_PG
else
	echo "the tests' PostgreSQL server did not start" >&2
	failed=$((failed + 1))
fi

run_build build e2e-pg

# Static analysis of the plain build's sources; any finding fails.
if bash tests/analyze.sh build > analyze.log 2>&1; then
	echo "analyze: gcc -fanalyzer and cppcheck found nothing"
	passed=$((passed + 1))
else
	echo "analyze: findings (analyze.log)" >&2
	grep -E ': (error|warning|portability|performance):' analyze.log | head -n 40 >&2
	tail -n 2 analyze.log >&2
	failed=$((failed + 1))
fi
# the harness's own reads in the sanitized run (lib.bash: look) use the
# plain build's runner: the code under test stays the sanitized one
[ -x build/runner/cli/runner ] && export RUNNER_LOOK=$PWD/build/runner/cli/runner
run_build build-asan e2e -Db_sanitize=address,undefined -Db_lundef=false

# The fuzzers, 5 s each (20 s together); a crash fails the run.
while read -r line; do
	echo "$line"
	case $line in
	"fuzz: "*" ok "*) passed=$((passed + 1)) ;;
	"fuzz: "*) failed=$((failed + 1)) ;;
	esac
done < <(bash tests/fuzz/run 5 2>&1)

# The benchmark in its short mode: it must still run; no timing is judged.
if BENCH_BUILD=build bash tests/bench/run --quick > bench-quick.log 2>&1; then
	echo "bench: tests/bench/run --quick ran"
	passed=$((passed + 1))
else
	echo "bench: tests/bench/run --quick failed" >&2
	tail -n 20 bench-quick.log >&2
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
