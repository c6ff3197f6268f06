#!/bin/bash
# Tests that cannot fail: bats runs a test under `set -e`, which a negated
# command and the first half of an `&&` list never trip. Fails on a line
# of a tests/e2e/*.bats file
#  - whose only command is negated (`! grep -q x`) without `|| false`;
#  - inside a @test, that is `[ ... ] && [ ... ]` as a statement.
# Lines inside here-documents are the scripts of a pipeline, not the test:
# they are skipped. Usage: bats-lint.sh [SOURCE_ROOT]
set -u
root=${1:-$(dirname "$0")/..}
status=0
for f in "$root"/tests/e2e/*.bats; do
	awk -v file="${f#"$root"/}" '
	function strip(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	# the end marker of a here-document starting on this line
	function heredoc(s,   m) {
		if (match(s, /<<-?[ \t]*["\x27]?[A-Za-z_][A-Za-z_0-9]*/)) {
			m = substr(s, RSTART, RLENGTH)
			sub(/^<<-?[ \t]*["\x27]?/, "", m)
			return m
		}
		return ""
	}
	{
		line = strip($0)
		if (doc != "") {
			if (line == doc)
				doc = ""
			next
		}
		if ($0 ~ /^@test /)
			intest = 1
		else if ($0 ~ /^}/)
			intest = 0
		doc = heredoc($0)
		if (line ~ /^#/ || line ~ /\\$/)
			next
		if (line ~ /^! / && line !~ /\|\|/) {
			printf "%s:%d: negated command alone never fails a test (add || false): %s\n", file, NR, line
			bad = 1
		}
		if (intest && line ~ /^\[\[? / && line ~ /\]\]? && \[\[? / &&
		    line !~ /\|\|/ && line ~ /\]\]?;?$/) {
			printf "%s:%d: [ a ] && [ b ] as a statement: its first half never fails a test (write two lines): %s\n", file, NR, line
			bad = 1
		}
	}
	END { exit bad }
	' "$f" || status=1
done
exit $status
