#!/bin/bash
# The reference tables in docs/ are the schema's (runner/model/schema.h):
# every block `<!-- schema NAME -->` ... `<!-- /schema NAME -->` that
# runner-doc prints must stand in docs/*.md exactly as printed.
#   tests/docs.sh SCHEMA_DOC [--write]
# --write replaces the blocks in the docs with the generated ones.
# The commented runner.yml that `runner init` writes is made from the same
# schema (`runner-doc sample`): it must show each key once, in the
# reference table's order, with the table's default where it shows no
# example of its own.
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

# the sample: its keys, in order, and their values
"$gen" sample > "$out/sample"
if ! head -1 "$out/sample" | grep -q '^# runner configuration'; then
	echo "docs: runner-doc sample printed no runner.yml sample"
	bad=1
fi
awk -F' [|] ' '$1 ~ /^[|] `/ { k = $1; gsub(/[|` ]/, "", k); print k "\t" $3 }' \
    "$out/block.runner.yml" > "$out/table"
prev=0
while IFS=$'\t' read -r key value; do
	n=$(awk -F'\t' -v k="$key" '$1 == k { print NR }' "$out/table")
	[ -n "$n" ] || continue	# a word of a comment, like "given:"
	if [ "$n" -le "$prev" ]; then
		echo "docs: the sample shows '$key' twice or out of the table's order"
		bad=1
	fi
	prev=$n
	def=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$out/table")
	case $def in
	'`'*'`') [ -z "$value" ] || [ "\`$value\`" = "$def" ] ||
		    [ "$key" = network ] || {
			echo "docs: the sample shows $key: $value, the table $def"
			bad=1
		    } ;;
	esac
done < <(sed -n 's/^# \([a-z_]*\):\( \([^#{]*[^ #{]\)\)\{0,1\}.*$/\1\t\3/p' "$out/sample")

[ "$bad" = 0 ] && echo "docs: every reference table matches the schema"
exit "$bad"
