#!/bin/bash
# The folders are the layers (meson.build, docs/architecture.md): a file
# may include headers of its own folder and of the layers below it, never
# of a layer above or beside it; and no file includes, through others,
# its own header (no cycles). Prints each breach; exit 1 if any.
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"

# folder -> layer, bottom up; folders on one layer may not include each
# other
declare -A rank=(
	[runner/base]=0 [runner/model]=1 [runner/store]=2 [runner/home]=2
	[runner/git]=3 [runner/records]=3
	[runner/retention]=3
	[stages/exec]=4 [stages/pipeline]=5 [stages/deploy]=5 [runner/notify]=5
	[hooks]=5 [runner/daemon]=6 [runner/worker]=6
	[runner/views]=6 [runner/web]=7 [runner/cli]=8
)
declare -A home_of	# header name -> its folder
bad=0
for dir in "${!rank[@]}"; do
	for h in "$dir"/*.h; do
		[ -e "$h" ] || continue
		home_of[$(basename "$h")]=$dir
	done
done
declare -A uses	# "a b": file stem a includes header stem b (other file)
for dir in "${!rank[@]}"; do
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		while IFS= read -r h; do
			hd=${home_of[$h]:-}
			if [ -z "$hd" ]; then
				echo "$f: includes \"$h\", which is no header of a layer"
				bad=1
				continue
			fi
			if [ "$hd" != "$dir" ] &&
			    [ "${rank[$hd]}" -ge "${rank[$dir]}" ]; then
				echo "$f: includes $hd/$h, a layer above or beside $dir"
				bad=1
			fi
			a=$dir/$(basename "$f"); a=${a%.*}
			b=$hd/${h%.h}
			[ "$a" != "$b" ] && uses["$a $b"]=1
		done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	done
done
# tsort finds a cycle of any length among the files
if ! out=$(for k in "${!uses[@]}"; do echo "$k"; done | tsort 2>&1 >/dev/null)
then
	echo "cycle between files: $out"
	bad=1
fi
# every folder of a layer is in the table
for d in runner/*/ stages/*/ hooks/; do
	d=${d%/}
	[ -n "${rank[$d]:-}" ] || { echo "$d: a folder that is no layer"; bad=1; }
done
[ "$bad" = 0 ] && echo "layers: every include goes downward, no cycles"
exit "$bad"
