#!/bin/bash
# The layers hold against the three ways around them a review found
# (docs/architecture.md): in a scratch copy, runner/base/util.c
#   1. includes <jobs.h> of runner/store and uses JOB_QUEUED,
#   2. includes it as `# include "jobs.h"`,
#   3. declares a function of runner/store by hand and calls it;
# the first two must fail to compile with runner/base's own flags and
# fail tests/layers.sh; the third compiles (C cannot tell), and
# tests/layers.sh must find the import in the library's symbols. Prints
# what it saw; exit 1 if any bypass got through.
#
# usage: layers-bypass.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bad=0

# runner/base/util.c's compiler command, from the build's database, with
# the file and the output replaced
compile() {	# FILE OUT
	python3 - "$build/compile_commands.json" "$1" "$2" <<'EOF'
import json, shlex, subprocess, sys
db, file, out = sys.argv[1:]
for c in json.load(open(db)):
    if c['file'].endswith('runner/base/util.c'):
        args = [a for a in shlex.split(c['command']) if not a.startswith('-fdiagnostics-color')]
        break
else:
    sys.exit('no compiler command for runner/base/util.c')
cmd, skip = [], 0
for i, a in enumerate(args):
    if skip:
        skip -= 1
        continue
    if a in ('-MD',):
        continue
    if a in ('-MQ', '-MF', '-o', '-c'):
        skip = 1
        continue
    if a.endswith('runner/base/util.c'):
        continue
    cmd.append(a)
cmd += ['-o', out, '-c', file]
sys.exit(subprocess.run(cmd, cwd=c['directory']).returncode)
EOF
}

# a copy of the tree that tests/layers.sh reads
tree() {	# DIR
	mkdir -p "$1/docs"
	cp -r "$src/runner" "$src/stages" "$src/hooks" "$1/"
	cp "$src/meson.build" "$1/"
	cp "$src/docs/architecture.md" "$1/docs/"
}

# the tree and util.c with line $2 after the includes and $3 at the end
bypass() {	# NAME INCLUDE CODE
	local d=$scratch/$1
	tree "$d"
	awk -v inc="$2" '{ print } /^#include "util.h"/ && !done { print inc; done = 1 }' \
	    "$src/runner/base/util.c" > "$d/runner/base/util.c"
	printf '%s\n' "$3" >> "$d/runner/base/util.c"
}

# COMMAND must fail, saying what matches PATTERN
check() {	# NAME WHAT-MUST-HAPPEN PATTERN COMMAND...
	local name=$1 what=$2 pattern=$3 out
	shift 3
	if out=$("$@" 2>&1); then
		echo "FAIL: $name: $what, but it passed:"
		echo "$out" | tail -n 20
		bad=1
	elif ! grep -q -- "$pattern" <<<"$out"; then
		echo "FAIL: $name: $what, but it failed otherwise:"
		echo "$out" | tail -n 20
		bad=1
	else
		echo "ok: $name: $what:"
		grep -- "$pattern" <<<"$out" | head -n 2 | sed 's/^/    /'
	fi
}

use='int layers_bypass(void); int layers_bypass(void) { return JOB_QUEUED; }'
bypass angle '#include <jobs.h>' "$use"
check '#include <jobs.h> in runner/base' 'the compiler refuses it' \
    'jobs.h: No such file' \
    compile "$scratch/angle/runner/base/util.c" "$scratch/angle.o"
check '#include <jobs.h> in runner/base' 'tests/layers.sh refuses it' \
    'util.c: includes runner/store/jobs.h, a layer above' \
    bash "$src/tests/layers.sh" "$scratch/angle"

bypass spaced '# include "jobs.h"' "$use"
check '# include "jobs.h" in runner/base' 'the compiler refuses it' \
    'jobs.h: No such file' \
    compile "$scratch/spaced/runner/base/util.c" "$scratch/spaced.o"
check '# include "jobs.h" in runner/base' 'tests/layers.sh refuses it' \
    'util.c: includes runner/store/jobs.h, a layer above' \
    bash "$src/tests/layers.sh" "$scratch/spaced"

# a prototype of runner/store's store_is_sqlite, written by hand
bypass proto '' 'int store_is_sqlite(const void *s);
int layers_bypass(void); int layers_bypass(void) { return store_is_sqlite(0); }'
if ! compile "$scratch/proto/runner/base/util.c" "$scratch/util.c.o"; then
	echo "FAIL: the prototype written by hand should compile (C cannot tell)"
	bad=1
else
	# the build's libraries, runner/base's with this util.c (meson's
	# are thin archives: made again whole from their members)
	(cd "$build" && find . -name 'librunner-*.a') | while read -r a; do
		mkdir -p "$scratch/build/$(dirname "$a")"
		mapfile -t members < <(cd "$build" && ar t "$a")
		if [ -e "$build/${members[0]}" ]; then
			objs=()
			for m in "${members[@]}"; do
				if [[ "$a" == ./runner/base/* && "$m" == */util.c.o ]]
				then
					objs+=("$scratch/util.c.o")
				else
					objs+=("$build/$m")
				fi
			done
			ar rcs "$scratch/build/$a" "${objs[@]}"
		else
			cp "$build/$a" "$scratch/build/$a"
			[[ "$a" == ./runner/base/* ]] &&
			    (cd "$scratch" && ar r "build/$a" util.c.o)
		fi
	done
	check 'a prototype of store_is_sqlite in runner/base' \
	    'tests/layers.sh finds the import' \
	    "imports 'store_is_sqlite' of runner/store" \
	    bash "$src/tests/layers.sh" "$scratch/proto" "$scratch/build"
fi
# and the tree as it is passes
check_clean=$(bash "$src/tests/layers.sh" "$src" "$build" 2>&1) || {
	echo "FAIL: tests/layers.sh fails on the tree itself:"
	echo "$check_clean"
	bad=1
}
exit "$bad"
