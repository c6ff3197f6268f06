#!/usr/bin/env bats
# A fork bomb meets limits.processes (RLIMIT_NPROC). Linux does not apply
# RLIMIT_NPROC to root, so when the tests run as root this one runs the
# runner, git and the daemon as the unprivileged user nobody, as a runner
# serving real repositories would run.

load lib

setup() {
	setup_env
	U=()
	if [ "$(id -u)" = 0 ]; then
		chown -R 65534:65534 "$T"
		U=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	fi
	git init -q --bare "$T/app.git"
	[ ${#U[@]} -eq 0 ] || chown -R 65534:65534 "$T"
	R install-hook "$T/app.git" >/dev/null
	SRC="$T/src"
	"${U[@]}" git init -q -b develop "$SRC"
	"${U[@]}" git -C "$SRC" remote add origin "$T/app.git"
}
teardown() { teardown_env; }

# runner and git as the user the daemon runs as
R() { "${U[@]}" "$RUNNER" "$@"; }
G() { "${U[@]}" git -C "$SRC" "$@"; }
state() { R show --json "$1" | jq -r .state; }

commit_pipeline() {
	"${U[@]}" tee "$SRC/.runner.yml" >/dev/null
	G add .runner.yml
	G commit -q -m "$1"
}

@test "a fork bomb is bounded by limits.processes and leaves nothing behind" {
	commit_pipeline "Fork bomb" <<'YML'
stages:
  - name: bomb
    timeout: 4s
    limits: { processes: 40 }
    run: |
      bomb() { bomb & bomb & wait; }
      bomb
YML
	"${U[@]}" "$RUNNER" serve --workers 1 >>"$T/serve.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for "grep -q serving '$T/serve.log'" 10
	G push -q origin develop
	wait_for "case \$(state 1) in passed|failed) true;; *) false;; esac" 30
	# the limit was hit: forks were refused
	R log 1 bomb | grep -qiE "cannot fork|resource temporarily unavailable"
	# nothing of the stage is left
	wait_for "! pgrep -f 'bomb & bomb'" 10
	# and the daemon serves the next job
	commit_pipeline "Calm" <<'YML'
stages:
  - name: calm
    run: echo calm
YML
	G push -q origin develop
	wait_for "[ \"\$(state 2)\" = passed ]" 30
}
