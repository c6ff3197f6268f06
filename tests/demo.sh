#!/bin/sh
# The demo: build, make a runner home and a bare repository with the hook,
# start the daemon, push the sample store back end to develop, wait for the
# pipeline and show `runner status`. Everything lives in one folder that is
# kept for a look around afterwards (RUNNER_DEMO_DIR, default a new one in
# /tmp).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
bin="$top/build/runner/bin"
runner="$bin/runner"

demo=${RUNNER_DEMO_DIR:-$(mktemp -d /tmp/runner-demo.XXXXXX)}
mkdir -p "$demo"
export RUNNER_HOME="$demo/home"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "runner init --home $RUNNER_HOME"
"$runner" init

step "a bare repository with the hook"
git init -q --bare "$demo/git/store-erp.git"
"$runner" install-hook "$demo/git/store-erp.git"

step "runner serve (2 workers, log in $demo/serve.log)"
"$runner" serve --workers 2 > "$demo/serve.log" 2>&1 &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true' EXIT
i=0
until [ -S "$RUNNER_HOME/runner.sock" ]; do
	i=$((i + 1)); [ $i -lt 200 ] || { cat "$demo/serve.log"; exit 1; }
	sleep 0.05
done

step "git push origin develop (the sample store back end)"
rm -rf "$demo/store-erp"
cp -r fixtures/sample-app "$demo/store-erp"
cd "$demo/store-erp"
git init -q -b develop
git add -A
git -c user.name="Demo" -c user.email=demo@example.com \
    commit -q -m "Store back end: stock, value and reorder reports"
git remote add origin "$demo/git/store-erp.git"
git push origin develop 2>&1 | sed 's/^/  /'
cd "$top"

step "waiting for job #1"
i=0
while :; do
	state=$("$runner" show --json 1 | jq -r .state)
	case $state in queued|running) ;; *) break ;; esac
	i=$((i + 1)); [ $i -lt 1200 ] || { echo "job #1 did not finish"; exit 1; }
	sleep 0.05
done

step "runner status"
"$runner" status
step "runner show 1"
"$runner" show 1
step "runner log 1 unit"
"$runner" log 1 unit
step "runner artifacts 1"
"$runner" artifacts 1

kill -TERM $daemon
wait $daemon 2>/dev/null || true
trap - EXIT
printf '\nThe demo home, repository and daemon log are in %s\n' "$demo"
printf 'Try: RUNNER_HOME=%s %s status\n' "$RUNNER_HOME" "$runner"
[ "$state" = passed ]
