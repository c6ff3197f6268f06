#!/bin/bash
# The reference tables in docs/ are the schema's (runner/model/schema.h):
# every block `<!-- schema NAME -->` ... `<!-- /schema NAME -->` that
# runner-doc prints must stand in docs/*.md exactly as printed.
#   tests/docs.sh SCHEMA_DOC [--write]
# --write replaces the blocks in the docs with the generated ones.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
gen=${1:?usage: docs.sh PATH/runner-doc [--write]}
write=${2:-}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$gen" > "$out/all"
# one file per generated block
awk -v dir="$out" '
	/^<!-- schema / { name = $3; f = dir "/block." name; printing = 1 }
	printing { print > f }
	/^<!-- \/schema / { printing = 0; close(f) }
' "$out/all"

bad=0
for f in "$out"/block.*; do
	name=${f##*/block.}
	doc=$(grep -l -F -x "<!-- schema $name -->" "$top"/docs/*.md | head -1 || true)
	if [ -z "$doc" ]; then
		echo "docs: no block '<!-- schema $name -->' in docs/*.md"
		bad=1
		continue
	fi
	# the block as the doc has it
	awk -v name="$name" '
		$0 == "<!-- schema " name " -->" { p = 1 }
		p { print }
		$0 == "<!-- /schema " name " -->" { p = 0 }
	' "$doc" > "$out/have"
	if cmp -s "$f" "$out/have"; then
		continue
	fi
	if [ "$write" = --write ]; then
		awk -v name="$name" -v new="$f" '
			$0 == "<!-- schema " name " -->" {
				while ((getline line < new) > 0) print line
				skip = 1
				next
			}
			skip && $0 == "<!-- /schema " name " -->" { skip = 0; next }
			!skip { print }
		' "$doc" > "$out/new" && cat "$out/new" > "$doc"
		echo "docs: wrote $name into ${doc#$top/}"
	else
		echo "docs: the table '$name' in ${doc#$top/} differs from the schema:"
		diff "$out/have" "$f" | head -20 || true
		bad=1
	fi
done
[ "$bad" = 0 ] && echo "docs: every reference table matches the schema"
exit "$bad"
