#!/usr/bin/env bats
# The daemon SIGKILLed mid-stage: after a restart the job runs again and
# passes, recorded once, and the old stage's processes are gone.

load lib

setup() { setup_env; host_stages; }	# stages leave marks in $T
teardown() { teardown_env; }

@test "daemon killed mid-stage: the job re-runs after restart, recorded once" {
	make_repo app
	src=$(make_clone app)
	marker=$(make_sleeper)
	set_pipeline "$src" <<YML
stages:
  - name: slow
    run:
      - echo "attempt at \$(date +%s%N)" >> $T/attempts
      - if [ ! -e $T/second ]; then touch $T/second; $marker 1000; fi
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "pgrep -f '$marker'" 20
	[ "$(job_state 1)" = running ]

	kill -KILL "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID" 10
	DAEMON_PID=
	[ "$(job_state 1)" = running ]

	start_daemon --workers 1
	wait_state 1 passed
	[ "$(job_field 1 .attempt)" -eq 2 ]
	[ "$(wc -l < "$T/attempts")" -eq 2 ]
	[ "$(r status --json | jq '.jobs | length')" -eq 1 ]
	assert_no_process "$marker"
	store_intact
}
