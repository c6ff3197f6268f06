#!/bin/bash
# The audit of privileged code that touches paths (docs/architecture.md,
# "Privileged code and shared folders"): every call that creates, changes
# the owner or mode of, renames or links a file by path in runner/,
# hooks/ and stages/ must stand in that table, by file, function and
# call; and every row of the table must still name such a call. A new
# chown, chmod, open with O_CREAT or rename without its row fails here,
# so the list stays the whole list.
#   tests/paths.sh [SOURCE-ROOT] [--print]
# --print writes the calls found as "FILE FUNCTION CALL" lines.
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
doc=docs/architecture.md

# The calls: by path, or creating. open/openat count with O_CREAT (or
# O_TMPFILE) in the same statement; fopen with a mode that writes.
calls='chown|lchown|fchownat|chmod|fchmodat|rename|renameat|renameat2|link|linkat|symlink|symlinkat|mkdir|mkdirat|mkdir_p|mkfifo|mknod|creat|write_file_atomic|write_file_renamed|open|openat|fopen'

found=$(mktemp)
listed=$(mktemp)
trap 'rm -f "$found" "$listed"' EXIT

# FILE FUNCTION CALL for each call, the function being the one whose
# definition (a line starting at column 0 with NAME( and no ';') comes
# last before it. A statement is joined over lines up to its ';', so an
# open() whose O_CREAT is on the next line is seen.
for f in $(git ls-files 'runner/*.c' 'hooks/*.c' 'stages/*.c' 2>/dev/null ||
    find runner hooks stages -name '*.c'); do
	awk -v file="$f" -v calls="$calls" '
	function flush(   s, name, rest, pre) {
		s = stmt
		stmt = ""
		# strings and comments say nothing about calls
		gsub(/"([^"\\]|\\.)*"/, "\"\"", s)
		gsub(/\/\*.*\*\//, "", s)
		while (match(s, "(^|[^A-Za-z0-9_.>])(" calls ")[ \t]*\\(")) {
			pre = substr(s, RSTART, RLENGTH)
			name = pre
			sub(/^[^A-Za-z_]/, "", name)
			sub(/[ \t]*\($/, "", name)
			rest = substr(s, RSTART + RLENGTH)
			s = rest
			if (name == "open" || name == "openat") {
				if (stmt_raw !~ /O_CREAT|O_TMPFILE/)
					continue
			}
			if (name == "fopen" && stmt_raw !~ /"[wa][+a-z]*"/)
				continue
			if (fn == "" || name == fn)
				continue	# an initialiser; a recursion
			print file, fn, name
		}
	}
	/^[A-Za-z_][A-Za-z0-9_ \t\*]*[ \t\*]([a-z_][a-z0-9_]*)\(/ && !/;[ \t]*$/ {
		line = $0
		sub(/\(.*/, "", line)
		n = split(line, w, /[ \t\*]+/)
		fn = w[n]
		stmt = ""
	}
	/^}/ { if (stmt != "") flush(); fn_end = 1 }
	/^[ \t]/ {
		if (incomment) { if ($0 ~ /\*\//) incomment = 0; next }
		t = $0
		if (t ~ /^[ \t]*\/\*/ && t !~ /\*\//) { incomment = 1; next }
		if (t ~ /^[ \t]*(\*|\/\/)/) next
		if (stmt == "") stmt_raw = ""
		stmt = stmt " " t
		stmt_raw = stmt_raw " " t
		if (t ~ /[;{}][ \t]*(\/\*.*)?$/)
			flush()
	}
	' "$f"
done | sort -u > "$found"

if [ "${2:-}" = --print ]; then
	cat "$found"
	exit 0
fi

# The table's rows: | `FILE` | `FUNCTION` | `CALL`, `CALL` | ... |
awk '
	/^<!-- paths -->/ { on = 1; next }
	/^<!-- \/paths -->/ { on = 0 }
	on && /^\| `/ {
		n = split($0, col, "|")
		file = col[2]; fn = col[3]; cs = col[4]
		gsub(/[ `]/, "", file); gsub(/[ `()]/, "", fn)
		gsub(/[ `()]/, "", cs)
		m = split(cs, c, ",")
		for (i = 1; i <= m; i++)
			if (c[i] != "") print file, fn, c[i]
	}
' "$doc" | sort -u > "$listed"

bad=0
if [ ! -s "$listed" ]; then
	echo "paths: no table between <!-- paths --> and <!-- /paths --> in $doc"
	exit 1
fi
while read -r file fn call; do
	echo "paths: $file: $fn() calls $call() on a path, and $doc's table of privileged paths has no row for it: add one saying which folder others can write there and the defence"
	bad=1
done < <(comm -23 "$found" "$listed")
while read -r file fn call; do
	echo "paths: $doc lists $call() in $file: $fn(), which no longer calls it: update the row"
	bad=1
done < <(comm -13 "$found" "$listed")
[ $bad -eq 0 ] && echo "paths: $(wc -l < "$found") calls, each with its row in $doc"
exit $bad
