#!/bin/bash
# The demo: build, make a runner home and a bare repository with the hook,
# start the daemon, push the sample store back end to develop, watch the
# pipeline and the automatic staging deployment, then sign a release tag
# and watch it go to production, and show `runner status`. Everything lives
# in one folder that is kept for a look around afterwards (RUNNER_DEMO_DIR,
# default a new one in /tmp). The sample app serves staging on port 6502
# and production on 6503 while the demo runs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh tests/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
bin="$top/build/runner/cli"
runner="$bin/runner"

demo=${RUNNER_DEMO_DIR:-$(mktemp -d /tmp/runner-demo.XXXXXX)}
mkdir -p "$demo"
chmod 0711 "$demo"	# the build user passes through it to its workspaces
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

# wait_job ID: until job ID has ended; prints its state
wait_job() {
	i=0
	while :; do
		state=$("$runner" show --json "$1" | jq -r .state)
		case $state in queued|running) ;; *) break ;; esac
		i=$((i + 1)); [ $i -lt 2400 ] || { echo "job #$1 did not finish" >&2; exit 1; }
		sleep 0.05
	done
	echo "job #$1: $state"
	[ "$state" = passed ] || [ "$state" = healthy ]
}
# GET http://127.0.0.1:$1$2 with bash's /dev/tcp (no curl needed)
get() {
	bash -c 'exec 5<>"/dev/tcp/127.0.0.1/$0" || exit 1
	printf "GET %s HTTP/1.0\r\n\r\n" "$1" >&5
	sed "1,/^\r*$/d" <&5' "$1" "$2"
}

step "waiting for build #1 (unit, lint, build)"
wait_job 1
"$runner" show 1 | sed -n '/^stages:/,$p'

step "a green build deploys itself to staging: waiting for deployment #2"
wait_job 2
"$runner" show 2 | sed -n '/^stages:/,/^$/p'
printf 'GET http://127.0.0.1:6502/api/health -> %s\n' "$(get 6502 /api/health)"

step "trust a release key (runner.yml, server side) and push a signed tag"
mkdir -p "$demo/keys"
rm -f "$demo/keys/release" "$demo/keys/release.pub"
ssh-keygen -q -t ed25519 -N '' -C release -f "$demo/keys/release"
echo "release@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$demo/keys/release.pub")" \
    > "$demo/allowed_signers"
cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $demo/git/store-erp.git
    allowed_signers: $demo/allowed_signers
YML
cd "$demo/store-erp"
git -c gpg.format=ssh -c user.signingkey="$demo/keys/release.pub" \
    -c user.name="Demo" -c user.email=demo@example.com \
    tag -s v1.0.0 -m "Release 1.0.0: stock, value and reorder reports"
git push origin v1.0.0 2>&1 | sed 's/^/  /'
cd "$top"

step "waiting for the release to reach production: deployment #3"
wait_job 3
"$runner" show 3 | sed -n '/^tag:/p; /^stages:/,$p'
printf 'GET http://127.0.0.1:6503/health -> %s\n' "$(get 6503 /health)"

step "runner status"
"$runner" status
step "runner releases production"
"$runner" releases production

kill -TERM $daemon
wait $daemon 2>/dev/null || true
trap - EXIT
# the servers the deployments left running: each in the pid namespace
# of the command that started it, whose init names the release folder
pkill -f -- "$RUNNER_HOME/releases/" 2>/dev/null || true
printf '\nThe demo home, repository and daemon log are in %s\n' "$demo"
printf 'Try: RUNNER_HOME=%s %s status\n' "$RUNNER_HOME" "$runner"
