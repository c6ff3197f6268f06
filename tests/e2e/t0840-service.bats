#!/usr/bin/env bats
# The service contract of the systemd unit, tested by starting the daemon
# directly: SIGHUP (systemctl reload) reads runner.yml again and reopens
# the log file after logrotate, the workers too; a runner.yml that no
# longer parses is reported and the last good one kept; SIGTERM stops it
# within shutdown_grace; under the journal every line has its level.
# And pause/resume hold and release the queue.

load lib

setup() {
	setup_env
	empty_source app
	sleeper=$(make_sleeper)
	set_pipeline "$SRC" <<YML
stages:
  - name: work
    run: test ! -e stop || $sleeper 1
YML
	trust_config
}
teardown() { teardown_env; }

@test "SIGHUP reloads runner.yml and reopens the log file, the workers' too" {
	"$RUNNER" serve --workers 1 --log-file "$T/d.log" >"$T/serve.out" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for "grep -q serving '$T/d.log'" 10
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 30
	grep -q "job #1: started" "$T/d.log"
	# logrotate moves the file away, then reloads the daemon
	mv "$T/d.log" "$T/d.log.1"
	printf 'shutdown_grace: 20s\n' >> "$RUNNER_HOME/runner.yml"
	kill -HUP "$DAEMON_PID"
	wait_for "grep -q 'reloaded .*runner.yml' '$T/d.log'" 10
	git -C "$SRC" commit -q --allow-empty -m two
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 30
	# the worker that ran job 1 wrote its lines where the daemon does now
	wait_for "grep -q 'job #2: passed' '$T/d.log'" 10
	! grep -q "job #2" "$T/d.log.1" || false
	[ ! -s "$T/serve.out" ]
	# a runner.yml that no longer parses: said, and the last good one kept
	printf 'workers: [\n' >> "$RUNNER_HOME/runner.yml"
	kill -HUP "$DAEMON_PID"
	wait_for "grep -q 'warning: .*runner.yml.*keeping the configuration loaded before' '$T/d.log'" 10
	kill -0 "$DAEMON_PID"
}

@test "SIGTERM stops the daemon within shutdown_grace, the running stage done" {
	trust_config "shutdown_grace: 20s"
	start_daemon --workers 1
	touch "$SRC/stop"
	git -C "$SRC" add stop
	git -C "$SRC" commit -q -m slow
	git -C "$SRC" push -q origin develop
	wait_state 1 running 30
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	start=$(date +%s)
	kill -TERM "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID 2>/dev/null" 25
	[ $(( $(date +%s) - start )) -lt 20 ]
	[ "$(job_state 1)" = passed ]
	grep -q stopped "$T/serve.log"
}

@test "under the journal, each line carries its level" {
	trust_config "trust_repositories: true"
	: > "$T/journal"
	JOURNAL_STREAM="$(stat -c '%d:%i' "$T/journal")" \
	    "$RUNNER" serve --workers 1 2>>"$T/journal" 3>&- &
	DAEMON_PID=$!
	wait_for "grep -q serving '$T/journal'" 10
	grep -q "^<4>runner\[$DAEMON_PID\]: warning: trust_repositories is true" "$T/journal"
	grep -q "^<6>runner\[$DAEMON_PID\]: serving '" "$T/journal"
	# no time stamps: journald adds its own
	! grep -v '^<[0-7]>runner\[[0-9]*\]: ' "$T/journal" || false
}

@test "pause holds the queue, resume releases it" {
	start_daemon --workers 1
	r pause >/dev/null
	run r status
	[[ "$output" == *"PAUSED by "* ]]
	[ "$(r status --json | jq .queue.paused)" = true ]
	git -C "$SRC" push -q origin develop
	# the daemon looks for work at least once a second: give it three
	! wait_for "[ \"\$(job_state 1)\" != queued ]" 3 || false
	run r resume
	[ "$status" -eq 0 ]
	[ "$output" = "resumed the queue" ]
	wait_state 1 passed 30
	[ "$(r status --json | jq .queue.paused)" = false ]
	run r resume
	[ "$output" = "the queue was not paused" ]
}
