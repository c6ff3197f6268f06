#!/bin/bash
# axe.sh BUILD_ROOT: the path of axe-core's axe.min.js, installed from the
# npm registry once into BUILD_ROOT/axe (npm install --no-save), under a
# lock: the browser tests run in parallel and the first one installs it.
# Exit 1, saying why, when npm cannot.
set -euo pipefail
build=${1:?usage: axe.sh BUILD_ROOT}
dir="$build/axe"
js="$dir/node_modules/axe-core/axe.min.js"
mkdir -p "$dir"
exec {lock}>"$dir/.lock"
flock -w 300 "$lock" || { echo "axe.sh: $dir/.lock held for 5 minutes" >&2; exit 1; }
if [ ! -s "$js" ]; then
	command -v npm >/dev/null || { echo "axe.sh: no npm (tests/deps.sh installs it)" >&2; exit 1; }
	# npm's cache and log in the build tree, not in a test's $HOME
	if ! npm install --no-save --no-audit --no-fund --loglevel=error \
	    --cache "$dir/.npm" --prefix "$dir" axe-core@4 >"$dir/npm.log" 2>&1; then
		echo "axe.sh: npm install axe-core@4 failed:" >&2
		cat "$dir/npm.log" >&2
		exit 1
	fi
	[ -s "$js" ] || { echo "axe.sh: npm installed no $js" >&2; exit 1; }
fi
echo "$js"
