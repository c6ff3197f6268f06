#!/usr/bin/env bats
# runner doctor finds each problem seeded into a healthy home, says how to
# fix it, and exits 1; a healthy home passes (exit 0, warnings allowed).

load lib

setup() {
	setup_env
	make_repo app
	trust_config
}
teardown() { teardown_env; }

# doctor_fails CHECK TEXT: doctor exits 1 with a FAIL line for CHECK
# containing TEXT, followed by a fix
doctor_fails() {
	run r doctor
	[ "$status" -eq 1 ] || { echo "$output"; false; }
	grep -A1 "^FAIL  $1: .*$2" <<<"$output" | grep -q '^      fix: ' ||
	    { echo "no FAIL '$1' with '$2' and a fix in:"; echo "$output"; false; }
}

@test "a healthy home passes" {
	run r doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"ok    repository $(realpath "$T/app.git")"* ]]
	if [ -n "${RUNNER_STORE:-}" ]; then
		[[ "$output" == *"ok    store: PostgreSQL, schema version "* ]]
	else
		[[ "$output" == *"ok    store: integrity ok, schema version "* ]]
	fi
	[[ "$output" == *"0 problems"* ]]
	run r doctor --json
	[ "$status" -eq 0 ]
	[ "$(jq '.problems' <<<"$output")" = 0 ]
	[ "$(jq -r '.checks[] | select(.check == "daemon") | .status' <<<"$output")" = warning ]
}

@test "file modes, runner.yml and users" {
	chmod 0644 "$RUNNER_HOME/runner.yml"
	doctor_fails "file modes" "runner.yml"
	chmod 0600 "$RUNNER_HOME/runner.yml"
	printf 'workers: many\n' >> "$RUNNER_HOME/runner.yml"
	doctor_fails "runner.yml" "runner.yml:"
	trust_config
	if [ "$(id -u)" = 0 ]; then
		trust_config "build_user: no-such-user-here"
		doctor_fails confinement "no-such-user-here"
	fi
}

@test "repositories: missing, no hook, not executable, another home, chained hook that cannot run" {
	hook="$T/app.git/hooks/post-receive"
	chmod -x "$hook"
	doctor_fails "repository $T/app.git" "not executable"
	chmod +x "$hook"
	sed -i "s#^RUNNER_HOME=.*#RUNNER_HOME='/elsewhere'#" "$hook"
	doctor_fails "repository $T/app.git" "/elsewhere"
	rm "$hook"
	doctor_fails "repository $T/app.git" "no runner post-receive hook"
	printf '#!/bin/sh\n' > "$T/app.git/hooks/post-receive"
	r install-hook "$T/app.git" >/dev/null
	chmod -x "$T/app.git/hooks/post-receive.chained"
	doctor_fails "repository $T/app.git" "chained hook"
	run r doctor
	[[ "$output" == *"fix: chmod +x '$T/app.git/hooks/post-receive.chained'"* ]]
	chmod +x "$T/app.git/hooks/post-receive.chained"
	trust_config "  - path: $T/gone.git"
	doctor_fails "repository $T/gone.git" "gone.git"
}

@test "the daemon's socket, jobs left running, a paused queue" {
	start_daemon --workers 1
	run r doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"ok    daemon: running (pid $DAEMON_PID)"* ]]
	rm "$RUNNER_HOME/runner.sock"
	doctor_fails daemon "not its socket"
	stop_daemon
	r pause >/dev/null
	run r doctor
	[[ "$output" == *"warn  queue: paused by "* ]]
	r resume >/dev/null
	# a job recorded running by a daemon that is gone
	db "INSERT INTO jobs (repo, ref, old_commit, commit_id, state, worker_pid, created_ms, started_ms)
	    VALUES ('$T/app.git', 'refs/heads/develop', '', 'abc', 'running', 999999, 0, 0)"
	doctor_fails jobs "recorded running with no worker"
}

@test "the store: damaged, newer than the runner" {
	sqlite_only "a damaged runner.db"
	cp "$RUNNER_HOME/runner.db" "$T/good.db"
	# fill the store so that it has pages past its schema, then damage one
	for i in $(seq 1 200); do
		printf "INSERT INTO settings VALUES ('k%d', '%0500d', 0);\n" "$i" 0
	done | db
	db "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	pages=$(db "PRAGMA page_count")
	[ "$pages" -gt 10 ]
	size=$(db "PRAGMA page_size")
	dd if=/dev/urandom of="$RUNNER_HOME/runner.db" bs="$size" seek=$((pages - 2)) count=1 conv=notrunc 2>/dev/null
	doctor_fails store "is damaged"
	cp "$T/good.db" "$RUNNER_HOME/runner.db"
	db "PRAGMA user_version = 99"
	doctor_fails store "newer than this runner knows"
}

@test "folders of an older home, and a nearly full disk" {
	mkdir -p "$RUNNER_HOME/state/app/staging"
	doctor_fails "old folder" "state/app is named"
	rm -r "$RUNNER_HOME/state/app"
	if [ "$(id -u)" = 0 ]; then
		mkdir "$T/small"
		mount -t tmpfs -o size=16m tmpfs "$T/small"
		RUNNER_HOME="$T/small/home" r init >/dev/null
		RUNNER_HOME="$T/small/home" run r doctor
		umount "$T/small"
		[ "$status" -eq 1 ] || { echo "$output"; false; }
		[[ "$output" == *"FAIL  disk: "*"free on the home's file system"* ]] ||
		    { echo "$output"; false; }
	fi
}

# apply_fixes: run doctor, apply each printed fix of a FAIL (and of the
# paused queue's warning) literally, as the operator would paste it, with
# runner in PATH as installed; prints what it ran.
apply_fixes() {
	local fix
	r doctor --json | jq -r '.checks[] | select(.status == "problem" or .check == "queue") | .fix // empty' |
	    sort -u > "$T/fixes"
	[ -s "$T/fixes" ] || { echo "no fix printed"; r doctor; return 1; }
	while IFS= read -r fix; do
		echo "# applying: $fix"
		PATH="$RUNNER_BIN_DIR:$PATH" sh -c "$fix" ||
		    { echo "the fix failed: $fix"; return 1; }
	done < "$T/fixes"
}

@test "every fix doctor prints, applied as printed, makes it pass" {
	make_ssh_signer release
	echo top-secret > "$T/token"
	chmod 0600 "$T/token"
	trust_config "secrets: { TOKEN: { file: $T/token } }"
	run r doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# seeded faults, all at once
	chmod 0644 "$RUNNER_HOME/runner.yml"
	chmod 0777 "$RUNNER_HOME/spool"
	chmod g+w "$T/allowed_signers"
	chmod 0640 "$T/token"
	if [ "$(id -u)" = 0 ]; then
		test_user runner-test-other
		chown runner-test-other "$T/allowed_signers"
	fi
	chmod -x "$T/app.git/hooks/post-receive"
	make_repo other
	rm "$T/other.git/hooks/post-receive"
	make_repo chained
	printf '#!/bin/sh\n' > "$T/chained.git/hooks/post-receive"
	r install-hook "$T/chained.git" >/dev/null
	chmod -x "$T/chained.git/hooks/post-receive.chained"
	trust_config "  - path: $T/other.git
  - path: $T/chained.git
secrets: { TOKEN: { file: $T/token } }"
	chmod 0644 "$RUNNER_HOME/runner.yml"
	r pause >/dev/null
	run r doctor
	[ "$status" -eq 1 ]
	for what in "runner.yml' is mode 0644" "spool' is mode 2777" \
	    "allowed_signers' is mode 0664" "token' is mode 0640" \
	    "repository $T/app.git: '$T/app.git/hooks/post-receive' is not executable" \
	    "repository $T/other.git: no runner post-receive hook" \
	    "repository $T/chained.git: the chained hook"; do
		[[ "$output" == *"$what"* ]] || { echo "no '$what' in:"; echo "$output"; false; }
	done
	if [ "$(id -u)" = 0 ]; then
		[[ "$output" == *"allowed_signers' belongs to uid $(id -u runner-test-other), not to the runner's user 'root' or root"* ]]
	fi
	apply_fixes
	run r doctor
	[ "$status" -eq 0 ] || { cat "$T/fixes"; echo "$output"; false; }
	[[ "$output" == *"0 problems, 1 warning"* ]] || { echo "$output"; false; }
	[[ "$output" == *"warn  daemon: not running"* ]]
}
