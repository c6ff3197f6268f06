#!/bin/bash
# The folders are the layers. meson.build's table (`layers = {`) ranks
# them; each layer's library sees only the headers of its own folder and
# of lower ranks (the compiler refuses the rest), and this checks, for
# every file, that:
#   - it includes (`#include "x.h"`, `# include <x.h>`) headers of its own
#     folder and of the layers below only, never of a layer above or
#     beside it; and no file includes, through others, its own header;
#   - with the build folder given: each layer's library imports (nm, its
#     undefined symbols) only what its own and lower layers define, so a
#     prototype written by hand of a higher layer's function fails too;
#     and its `link_with` in meson.build lists exactly the layers whose
#     symbols it imports;
#   - no two files of runner/, stages/ and hooks/ share a name (nor a name
#     and its plural: note.c, notes.c);
#   - docs/architecture.md's table of layers names every folder with its
#     rank's order, every .c file of each folder (and each header without
#     one), and no file that is not there.
# Prints each breach; exit 1 if any.
#
# usage: layers.sh [SOURCE_ROOT [BUILD_ROOT]]
set -euo pipefail
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
build=${2:-}
cd "$top"
bad=0
fail() { echo "$*"; bad=1; }

# folder -> rank, from meson.build
declare -A rank=()
while read -r dir r; do
	rank[$dir]=$r
done < <(sed -n '/^layers = {$/,/^}$/s/^ *'"'"'\([a-z/]*\)'"'"' *: *\([0-9]*\),.*/\1 \2/p' \
    meson.build)
[ "${#rank[@]}" -gt 0 ] || { echo "meson.build: no table of layers"; exit 1; }

declare -A home_of	# header name -> its folder
for dir in "${!rank[@]}"; do
	for h in "$dir"/*.h; do
		[ -e "$h" ] || continue
		home_of[$(basename "$h")]=$dir
	done
done

# may a file of folder $1 use folder $2?
may_use() {
	[ "$1" = "$2" ] || [ "${rank[$2]}" -lt "${rank[$1]}" ]
}

# 1. includes
declare -A uses	# "a b": file stem a includes header stem b (other file)
for dir in "${!rank[@]}"; do
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		while read -r q h; do
			hd=${home_of[$h]:-}
			if [ -z "$hd" ]; then
				# <stdio.h> and the like: not ours
				[ "$q" = '<' ] && continue
				fail "$f: includes \"$h\", which is no header of a layer"
				continue
			fi
			if ! may_use "$dir" "$hd"; then
				fail "$f: includes $hd/$h, a layer above or beside $dir"
			fi
			a=$dir/$(basename "$f"); a=${a%.*}
			b=$hd/${h%.h}
			[ "$a" != "$b" ] && uses["$a $b"]=1
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\(["<]\)\([^">]*\)[">].*/\1 \2/p' "$f")
	done
done
# tsort finds a cycle of any length among the files
if ! out=$(for k in "${!uses[@]}"; do echo "$k"; done | tsort 2>&1 >/dev/null)
then
	fail "cycle between files: $out"
fi
# every folder of a layer is in the table, every folder of the table here
for d in runner/*/ stages/*/ hooks/; do
	d=${d%/}
	[ -n "${rank[$d]:-}" ] || fail "$d: a folder that is no layer (meson.build's table)"
done
for d in "${!rank[@]}"; do
	[ -d "$d" ] || fail "meson.build: layer $d is no folder"
done

# 2. symbols and link lines
if [ -n "$build" ]; then
	declare -A lib_of=()	# folder -> its library (.a)
	declare -A def=()	# symbol -> folders that define it
	declare -A folder_of_var=()	# meson variable -> folder
	for dir in "${!rank[@]}"; do
		a=$(find "$build/$dir" -maxdepth 1 -name 'librunner-*.a' | head -n 1)
		if [ -z "$a" ]; then
			fail "$dir: no library in $build/$dir (built?)"
			continue
		fi
		lib_of[$dir]=$a
		while read -r s; do
			def[$s]="${def[$s]:-} $dir"
		done < <(nm -gP --defined-only "$a" | awk 'NF >= 2 && $2 ~ /^[A-Za-z]$/ { print $1 }')
		v=$(sed -n 's/^\(lib_[a-z_]*\) *= *static_library(.*/\1/p' "$dir/meson.build")
		[ -n "$v" ] && folder_of_var[$v]=$dir
	done
	for dir in "${!lib_of[@]}"; do
		declare -A used=()
		while read -r s; do
			# not ours (libc, SQLite, ...), or its own library's
			[ -n "${def[$s]:-}" ] || continue
			[[ "${def[$s]} " == *" $dir "* ]] && continue
			for d in ${def[$s]}; do
				if ! may_use "$dir" "$d"; then
					fail "$dir: ${lib_of[$dir]#"$build"/} imports '$s' of $d, a layer above or beside it"
				fi
				used[$d]=1
			done
		done < <(nm -gP --undefined-only "${lib_of[$dir]}" | awk 'NF >= 2 && $2 == "U" { print $1 }' | sort -u)
		# the link line: meson.build's link_with of this library
		declare -A linked=()
		for v in $(tr '\n' ' ' < "$dir/meson.build" |
		    sed -n 's/.*static_library(\([^)]*\)).*/\1/p' |
		    sed -n 's/.*link_with *: *\[\([^]]*\)\].*/\1/p' | tr ',' ' '); do
			d=${folder_of_var[$v]:-}
			if [ -z "$d" ]; then
				fail "$dir/meson.build: links $v, which is no layer's library"
				continue
			fi
			linked[$d]=1
		done
		for d in "${!used[@]}"; do
			[ -n "${linked[$d]:-}" ] ||
			    fail "$dir/meson.build: uses $d but does not link it"
		done
		for d in "${!linked[@]}"; do
			[ -n "${used[$d]:-}" ] ||
			    fail "$dir/meson.build: links $d but uses nothing of it"
		done
		unset used linked
	done
fi

# 3. names: no two files share one, nor a name and its plural
declare -A seen=()
while read -r f; do
	b=$(basename "$f"); b=${b%.*}; b=${b%s}
	for o in ${seen[$b]:-}; do
		[ "$(dirname "$o")" != "$(dirname "$f")" ] &&
		    fail "$f and $o share a name"
	done
	seen[$b]="${seen[$b]:-} $f"
done < <(for d in "${!rank[@]}"; do ls "$d"/*.[ch] 2>/dev/null; done | sort)

# 4. docs/architecture.md's table of layers: | layer | `folder/` | what |
doc=docs/architecture.md
declare -A documented=()
last=-1
while IFS='|' read -r _ _ folder what _; do
	# shellcheck disable=SC2016
	dir=$(sed -n 's/^ *`\([a-z/]*\)\/` *$/\1/p' <<<"$folder")
	[ -n "$dir" ] || continue
	if [ -z "${rank[$dir]:-}" ]; then
		fail "$doc: the table of layers names $dir/, which is no layer"
		continue
	fi
	documented[$dir]=1
	if [ "${rank[$dir]}" -lt "$last" ]; then
		fail "$doc: $dir/ is listed above a layer of higher rank"
	fi
	last=${rank[$dir]}
	# names (`util.c`), patterns (`cmd_*.c`), paths (`hooks/hook_main.c`)
	pats=()
	# shellcheck disable=SC2016
	while read -r n; do
		if [[ "$n" == */* ]]; then
			[ -e "$n" ] || fail "$doc: $dir/ names $n, which is not there"
			continue
		fi
		pats+=("$n")
		compgen -G "$dir/$n" >/dev/null ||
		    fail "$doc: $dir/ names $n, which is not in $dir/"
	done < <(grep -o '`[A-Za-z0-9_./*-]*\.[ch]`' <<<"$what" | tr -d '`')
	for f in "$dir"/*.c "$dir"/*.h; do
		[ -e "$f" ] || continue
		n=$(basename "$f")
		# a header is named by its .c, unless it has none
		[[ "$n" == *.h && -e "${f%.h}.c" ]] && continue
		found=
		for p in "${pats[@]}"; do
			# shellcheck disable=SC2053
			[[ "$n" == $p ]] && { found=1; break; }
		done
		[ -n "$found" ] || fail "$doc: the row of $dir/ does not name $n"
	done
done < "$doc"
for d in "${!rank[@]}"; do
	[ -n "${documented[$d]:-}" ] ||
	    fail "$doc: no row for the layer $d/ in the table of layers"
done

[ "$bad" = 0 ] && echo "layers: every include and import goes downward," \
    "link lines match, no cycles, names unique, $doc true"
exit "$bad"
