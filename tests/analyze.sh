#!/bin/bash
# Static analysis of the tree, run by tests/check.sh (CI) on the plain
# build: every C file of the build compiled once more with gcc -fanalyzer
# (no object written, nothing linked, both cores), then cppcheck
# --enable=warning,performance,portability over the same compile commands.
# Any finding fails. A false positive is suppressed where it is, with the
# reason: `#pragma GCC diagnostic ignored "-Wanalyzer-..."` (for gcc only)
# or `/* cppcheck-suppress ID */` on the line before.
# Usage: analyze.sh [BUILD_DIR]
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
db=$build/compile_commands.json
[ -f "$db" ] || { echo "analyze: no $db (meson setup $build first)" >&2; exit 1; }
for tool in jq cppcheck; do
	command -v $tool >/dev/null || {
		echo "analyze: $tool is missing (sh tests/deps.sh installs it)" >&2
		exit 1
	}
done
jobs=${ANALYZE_JOBS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
while IFS=$'\t' read -r dir cmd; do
	n=$((n + 1))
	# the build's own command, writing no object and no dependency file
	printf 'cd %q && %s -fanalyzer -fdiagnostics-color=never > %q 2>&1 || touch %q\n' \
	    "$dir" "$(printf '%s' "$cmd" | sed -e 's/ -MD / /' \
	    -e 's/ -M[QF] [^ ]*//g' -e 's/ -o [^ ]*/ -o \/dev\/null/' \
	    -e 's/-fdiagnostics-color=always//')" \
	    "$out/$n.log" "$out/$n.fail"
done < <(jq -r '.[] | select(.file | test("^\\.\\./(runner|hooks|stages|tests)/")) |
    [.directory, .command] | @tsv' "$db") > "$out/jobs"
xargs -d '\n' -P "$jobs" -n 1 sh -c < "$out/jobs"
fails=$(find "$out" -name '*.fail' | wc -l)
cat "$out"/*.log
echo "analyze: gcc -fanalyzer: $n files, $fails with findings"

cppcheck --project="$db" --enable=warning,performance,portability \
    --inline-suppr --error-exitcode=1 -q -j "$jobs" --suppress='*:/usr/*' \
    -i "$build" > "$out/cppcheck" 2>&1
crc=$?
cat "$out/cppcheck"
echo "analyze: cppcheck: $([ $crc -eq 0 ] && echo clean || echo findings)"
[ "$fails" -eq 0 ] && [ $crc -eq 0 ]
