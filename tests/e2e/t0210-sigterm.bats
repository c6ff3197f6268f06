#!/usr/bin/env bats
# SIGTERM: the daemon stops claiming, lets the running stage finish within
# the grace period, then kills it and records the job 'interrupted'.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "SIGTERM past the grace period: stage killed, job interrupted" {
	printf 'shutdown_grace: 300ms\nkill_grace: 300ms\n' > "$RUNNER_HOME/runner.yml"
	make_repo app
	src=$(make_clone app)
	marker=$(make_sleeper)
	set_pipeline "$src" <<YML
stages:
  - name: long
    run: $marker 1000
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "pgrep -f '$marker'" 20
	kill -TERM "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID" 20
	DAEMON_PID=
	[ "$(job_state 1)" = interrupted ]
	[ "$(job_field 1 '.stages[0].state')" = interrupted ]
	assert_no_process "$marker"
	grep -q stopped "$T/serve.log"
	[ ! -e "$RUNNER_HOME/runner.sock" ]
}

@test "SIGTERM within the grace period: the stage finishes" {
	printf 'shutdown_grace: 30s\n' > "$RUNNER_HOME/runner.yml"
	make_repo app
	src=$(make_clone app)
	set_pipeline "$src" <<YML
stages:
  - name: only
    run:
      - echo started
      - while [ ! -e $MARK-go ]; do sleep 0.05; done
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "r log 1 only | grep -q started" 20
	kill -TERM "$DAEMON_PID"
	wait_for "grep -q stopping $T/serve.log" 10
	touch "$MARK-go"
	wait_for "! kill -0 $DAEMON_PID" 20
	DAEMON_PID=
	[ "$(job_state 1)" = passed ]
}
