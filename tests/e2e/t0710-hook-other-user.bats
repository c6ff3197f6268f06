#!/usr/bin/env bats
# The hook run by the git server's user, who is not the runner's: it hands
# pushes to the spool that install-hook lets it write, the daemon queues
# and runs them with no warning to the pusher; a wake-up the socket
# refuses still runs the job; status says whether the daemon runs; a
# chained hook gets all of a 10,000-ref push.

load lib

# the pushes in the spool (its reserve and folders are not)
spooled() {
	find "$RUNNER_HOME/spool" -maxdepth 1 -type f ! -name '.*'
}

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
}
teardown() { teardown_env; }

# The bare repository and a clone of the sample app, both the git user's.
git_owned_repo() {
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	run "$RUNNER" install-hook "$T/app.git"
	[ "$status" -eq 0 ]
	[[ "$output" == *"user '$GIT_USER' (who owns '$T/app.git' and runs its hooks)"*"group 'runner'"* ]]
	SRC=$(make_clone app)
	chown -R "$GIT_USER:" "$SRC"
}

@test "a push by the git server's user is queued and run, with no warning" {
	git_owned_repo
	# what it was granted: the spool and the socket, not the store
	[ "$(stat -c %G "$RUNNER_HOME/spool")" = runner ]
	! as_git test -r "$RUNNER_HOME/runner.db" || false
	! as_git test -r "$RUNNER_HOME/runner.yml" || false
	! as_git ls "$RUNNER_HOME/spool" || false
	start_daemon --workers 1
	run as_git git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	[[ "$output" != *"warning"* ]]
	wait_state 1 passed 60
	[ "$(job_field 1 .ref)" = refs/heads/develop ]
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
	# the staging deployment follows, as for any push
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)" 60)" = healthy ]
	# the note of the commit is written as the repository's owner: not a
	# file of the repository becomes root's
	c=$(git -C "$SRC" rev-parse HEAD)
	wait_for "as_git git --git-dir='$T/app.git' notes --ref=runner show $c | grep -q 'build #1 passed'" 30
	[ -z "$(find "$T/app.git" -not -user "$GIT_USER")" ] || { find "$T/app.git" -not -user "$GIT_USER" -ls; false; }
	# a branch that does not trigger queues nothing
	as_git git -C "$SRC" push -q origin develop:refs/heads/feature
	wait_for "[ -z \"\$(spooled)\" ]" 10
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.kind == "build")] | length')" = 1 ]
}

@test "a wake-up the socket refuses still runs the job, and the pusher is told" {
	git_owned_repo
	start_daemon --workers 1
	chmod 0600 "$RUNNER_HOME/runner.sock"
	run as_git git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: warning: could not wake the daemon: Permission denied; it finds the push within a second"* ]]
	pushed=$(( $(date +%s%N) / 1000000 ))
	wait_state 1 passed 60
	# the daemon looks for work once a second without a datagram
	echo "# queued $(( $(job_field 1 .created_ms) - pushed )) ms after the push" >&3
}

@test "a push the daemon cannot be woken for, by the runner's own user, runs too" {
	make_repo app
	SRC=$(make_clone app)
	start_daemon --workers 1
	# as if a datagram were lost: the daemon sees the store change itself
	mv "$RUNNER_HOME/runner.sock" "$RUNNER_HOME/runner.sock.away"
	run git -C "$SRC" push origin develop
	[[ "$output" == *"queued job #1"* ]]
	wait_state 1 passed 60
}

@test "runner status says whether the daemon runs" {
	run r status
	[[ "$output" == *"daemon: not running"* ]]
	[ "$(r status --json | jq -c .daemon)" = '{"running":false,"pid":null,"since":null}' ]
	start_daemon --workers 1
	[ "$(r status --json | jq -r '.daemon | "\(.running) \(.pid)"')" = "true $DAEMON_PID" ]
	since=$(r status --json | jq .daemon.since)
	[ "$since" -gt $(( $(date +%s) * 1000 - 60000 )) ]
	run r status
	[[ "$output" == *"daemon: running (pid $DAEMON_PID, for "* ]]
	stop_daemon
	[ "$(r status --json | jq .daemon.running)" = false ]
}

@test "a chained hook gets all of a 10,000-ref push, over 4 MiB of input" {
	git init -q --bare "$T/app.git"
	printf '#!/bin/sh\ncat > "%s/chained.in"\n' "$T" > "$T/app.git/hooks/post-receive"
	chmod +x "$T/app.git/hooks/post-receive"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	SRC=$(make_clone app)
	head=$(git -C "$SRC" rev-parse HEAD)
	long=$(printf 'x%.0s' $(seq 170))
	for i in $(seq -w 1 10000); do
		echo "create refs/heads/$long/$long-$i $head"
	done | git -C "$SRC" update-ref --stdin
	git -C "$SRC" push -q origin 'refs/heads/*:refs/heads/*'
	[ "$(wc -l < "$T/chained.in")" -eq 10001 ]
	[ "$(wc -c < "$T/chained.in")" -gt $((4 * 1024 * 1024)) ]
	grep -q " refs/heads/develop$" "$T/chained.in"
	grep -q "/$long-10000$" "$T/chained.in"
}

@test "the home is the runner's: modes after init, a warning where one is wider" {
	[ "$(stat -c %a "$RUNNER_HOME")" = 2711 ]
	for f in runner.yml runner.db; do
		# (e2e-pg: the store is the server's)
		[ "$f" = runner.db ] && [ -n "${RUNNER_STORE:-}" ] && continue
		[ "$(stat -c %a "$RUNNER_HOME/$f")" = 600 ]
	done
	[ "$(stat -c '%a %G' "$RUNNER_HOME/spool")" = "2730 runner" ]
	for d in logs artifacts tmp; do
		[ "$(stat -c %a "$RUNNER_HOME/$d")" = 700 ]
	done
	run r status
	[[ "$output" != *"warning"* ]]
	[ "$(r status --json | jq '.warnings | length')" = 0 ]
	chmod 0644 "$RUNNER_HOME/runner.yml"
	echo top-secret > "$T/token" && chmod 0640 "$T/token"
	echo "secrets: { TOKEN: { file: $T/token } }" >> "$RUNNER_HOME/runner.yml"
	run r status
	[[ "$output" == *"warning: '$RUNNER_HOME/runner.yml' is mode 0644, wider than 0600"* ]]
	[[ "$output" == *"warning: '$T/token' is mode 0640, wider than 0600"* ]]
	[ "$(r status --json | jq '.warnings | length')" = 2 ]
	start_daemon --workers 1
	grep -q "warning: '$RUNNER_HOME/runner.yml' is mode 0644, wider than 0600" "$T/serve.log"
	stop_daemon
	# init puts the home's modes back
	r init >/dev/null
	[ "$(stat -c %a "$RUNNER_HOME/runner.yml")" = 600 ]
	[ "$(r status --json | jq '.warnings | length')" = 1 ]
}

@test "push options of the git server's user travel through the spool" {
	git_owned_repo
	printf 'stages:\n  - name: show\n    run: echo "FOO=${FOO:-unset}"\n' > "$SRC/.runner.yml"
	as_git git -C "$SRC" commit -qam "show a variable"
	printf 'repos:\n  - path: %s\n    variables: [FOO]\n' "$T/app.git" > "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	# the hook cannot read runner.yml: the daemon checks the variables
	run as_git git -C "$SRC" push -o ci.variable=FOO=spooled -o ci.variable=RUNNER_X=1 \
	    -o ci.variable=BAR=unlisted origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	[[ "$output" == *"'ci.variable=RUNNER_X=1' ignored"* ]]
	[[ "$output" == *"the push's variables are checked against runner.yml when the daemon takes the push"* ]]
	wait_state 1 passed 60
	r log 1 show | grep -qx "FOO=spooled"
	[ "$(job_field 1 '.variables | keys | join(",")')" = FOO ]
	grep -q "spooled push: variable 'BAR' refused: runner.yml's 'variables' of '$T/app.git' (FOO) do not name it" "$T/serve.log"
	# ci.skip: nothing handed over
	as_git git -C "$SRC" commit -q --allow-empty -m skipped
	run as_git git -C "$SRC" push -o ci.skip origin develop
	[[ "$output" == *"ci.skip: no job for this push"* ]]
	[ -z "$(spooled)" ]
	[ "$(r status --json | jq '.jobs | length')" = 1 ]
}
