#!/usr/bin/env bats
# The daemon run as a user of its own, not root: there is no other user to
# switch to, so bubblewrap's user namespace keeps repository code, which
# runs with the daemon's uid, away from the home: runner.yml, the store,
# the logs. runner.yml cannot let it out (isolate: false stays confined
# unless trust_repositories).

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the daemon's user"
	svc_home
	svc git init -q --bare "$S/app.git"
	svc "$RUNNER" install-hook "$S/app.git" >/dev/null
	SRC="$S/src"
	cp -r "$FIXTURE" "$SRC"
	sed -i "s/127.0.0.1:6502/127.0.0.1:$STAGING_PORT/; s/127.0.0.1:6503/127.0.0.1:$PROD_PORT/" "$SRC/.runner.yml"
	chown -R "$SVC:" "$SRC"
	svc git -C "$SRC" init -q -b develop
	svc git -C "$SRC" remote add origin "$S/app.git"
}
teardown() { teardown_env; }

@test "not root: stages run with the daemon's uid but cannot reach its home" {
	echo "secrets: { TOKEN: top-secret-value }" >> "$RUNNER_HOME/runner.yml"
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: probe
    run: |
      test "\$(id -un)" = $SVC
      ! cat "$RUNNER_HOME/runner.yml" 2>/dev/null || false
      ! ls "$RUNNER_HOME/logs" 2>/dev/null || false
      ! sqlite3 "$RUNNER_HOME/runner.db" "UPDATE jobs SET state = 'x'" 2>/dev/null || false
      ! touch "$RUNNER_HOME/runner.db" 2>/dev/null || false
      ! grep -qa top-secret /proc/*/environ 2>/dev/null || false
      echo probed
YML
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m probe
	start_svc_daemon
	run svc git -C "$SRC" push origin develop
	[[ "$output" == *"queued job #1"* ]]
	wait_state 1 passed 60 || { r log 1 probe >&2; false; }
	[[ "$(r log 1 probe)" == *probed* ]]
	[ "$(db "select count(*) from jobs where state = 'x'")" = 0 ]
	# what a deploy command (no PID namespace of its own) would try: the
	# daemon's processes are not dumpable, so not even its own user reads
	# their environment
	[ -n "$DAEMON_PID" ]
	! svc cat "/proc/$DAEMON_PID/environ" >/dev/null 2>&1 || false
	# isolate: false in runner.yml does not let it out either
	cat >> "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $S/app.git
    isolate: false
YML
	svc git -C "$SRC" commit -q --allow-empty -m again
	svc git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job build)\" -gt 1 ]" 20
	wait_state "$(last_job build)" passed 60 || { r log "$(last_job build)" probe >&2; false; }
}

@test "as the systemd unit runs it: no new privileges, the system read-only but the home" {
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: probe
    run: |
      test "\$(id -un)" = $SVC
      ! cat "$RUNNER_HOME/runner.yml" 2>/dev/null || false
      grep -q '^NoNewPrivs:.*1' /proc/self/status
      echo probed
YML
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m probe
	# ProtectSystem=strict and ReadWritePaths= of the home, in a mount
	# namespace of its own ($T is a mount of its own: it stays writable
	# when the test runs on a tmpfs; otherwise it is bound again first;
	# the repository, as /srv/git would be, is not: read-only);
	# NoNewPrivileges=yes through setpriv
	unshare --mount --propagation private -- sh -c '
		mountpoint -q "$1" || mount --bind "$1" "$1"
		mount --bind "$2" "$2" && mount -o remount,bind,ro "$2"
		shift 2
		mount -o remount,bind,ro / && exec "$@"' _ "$T" "$S/app.git" \
	    setpriv --no-new-privs --reuid="$SVC" --regid="$SVC" --init-groups \
	    env HOME="$S/user" RUNNER_HOME="$RUNNER_HOME" \
	    "$RUNNER" serve --workers 1 >>"$T/serve.log" 2>&1 3>&- &
	wait_for "grep -q serving '$T/serve.log'" 15 || { cat "$T/serve.log"; false; }
	# this test's daemon: another test's may run as the same user
	DAEMON_PID=
	for p in $(pgrep -u "$SVC" -f "runner serve"); do
		own_daemon "$p" && DAEMON_PID=$p
	done
	[ -n "$DAEMON_PID" ]
	grep -q '^NoNewPrivs:.*1' "/proc/$DAEMON_PID/status"
	svc git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { cat "$T/serve.log"; r log 1 probe >&2; false; }
	[[ "$(r log 1 probe)" == *probed* ]]
	# the repository is read-only to it: the note waits for the hook,
	# which writes it at the next push; said once, not as a warning
	c1=$(svc git -C "$SRC" rev-parse HEAD)
	wait_for "[ -n \"\$(find '$RUNNER_HOME/notes' -type f -name $c1)\" ]" 30
	# (said once the note is put aside and writing it failed)
	wait_for "grep -q \"git notes of '$S/app.git' are left for its hook, which writes them at the next push: writing them as the runner's user failed: .*Read-only file system\" '$T/serve.log'" 30 ||
	    { cat "$T/serve.log"; false; }
	svc git -C "$SRC" commit -q --allow-empty -m again
	svc git -C "$SRC" push -q origin develop
	svc git -C "$SRC" fetch -q origin refs/notes/runner:refs/notes/runner
	svc git -C "$SRC" log --notes=runner -1 "$c1" | grep -q "runner: build #1 passed on develop"
	wait_state 2 passed 60
	[ "$(grep -c "git notes of '$S/app.git' are left" "$T/serve.log")" = 1 ]
	! grep -E "warning|error" "$T/serve.log" || false
}

@test "not root: the web page answers its own user, not the same uid in a build's namespace" {
	WEB=$(free_port)
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$WEB" >> "$RUNNER_HOME/runner.yml"
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: probe
    run: |
      test "\$(id -un)" = $SVC
      if curl -sS -m 10 http://127.0.0.1:$WEB/api/status; then echo LEAKED; exit 1; fi
      echo probed
YML
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m probe
	start_svc_daemon
	wait_for "[ -n \"\$(http_body $WEB /api/status)\" ]" 15
	svc git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { r log 1 probe >&2; false; }
	[[ "$(r log 1 probe)" == *probed* ]]
	[[ "$(r log 1 probe)" != *LEAKED* ]]
	grep -q "refused a connection from 127.0.0.1 port [0-9]*: it is repository code's (uid $(id -u "$SVC"))" "$T/serve.log"
	# the same uid outside a namespace is the operator
	svc bash -c "exec 3<>/dev/tcp/127.0.0.1/$WEB; printf 'GET /api/status HTTP/1.0\r\n\r\n' >&3; cat <&3" | grep -q '"jobs"'
}

@test "not root: trust_repositories alone still confines stages; with isolate: false too they run on the host as the daemon's user" {
	echo "trust_repositories: true" >> "$RUNNER_HOME/runner.yml"
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: probe
    run: |
      test "\$(id -un)" = $SVC
      test -e "$RUNNER_HOME/runner.yml" && echo "home seen" || echo "home hidden"
      echo "pid 1 \$(cat /proc/1/comm)"
YML
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m probe
	start_svc_daemon
	grep -q "code from repositories runs as the daemon's own user, under bubblewrap" "$T/serve.log"
	svc git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { r log 1 probe >&2; false; }
	[[ "$(r log 1 probe)" == *"home hidden"* ]]
	[[ "$(r log 1 probe)" == *"pid 1 bwrap"* ]]
	stop_daemon
	echo "isolate: false" >> "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	grep -q "code from repositories runs as the daemon's own user, unconfined (isolate: false)" "$T/serve.log"
	svc git -C "$SRC" commit -q --allow-empty -m again
	svc git -C "$SRC" push -q origin develop
	wait_state 2 passed 60 || { r log 2 probe >&2; false; }
	[[ "$(r log 2 probe)" == *"home seen"* ]]
	[[ "$(r log 2 probe)" != *"pid 1 bwrap"* ]]
}
