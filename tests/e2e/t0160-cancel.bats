#!/usr/bin/env bats
# runner cancel: a running job ends 'canceled' with its processes gone; a
# queued one never starts.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "cancel a running job" {
	make_repo app
	src=$(make_clone app)
	marker=$(make_sleeper)
	set_pipeline "$src" <<YML
stages:
  - name: long
    run:
      - echo begun
      - $marker 1000
  - name: after
    run: echo never
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "pgrep -f '$marker'" 20
	run r cancel 1
	[ "$status" -eq 0 ]
	[ "$output" = "canceling running job #1" ]
	wait_state 1 canceled
	[ "$(job_field 1 '.stages[0].state')" = canceled ]
	[ "$(job_field 1 '.stages[1].state')" = skipped ]
	assert_no_process "$marker"
	run r cancel 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"job #1 is already canceled"* ]]
}

@test "cancel a queued job" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	run r cancel '#1'
	[ "$status" -eq 0 ]
	[ "$output" = "canceled job #1" ]
	start_daemon --workers 1
	[ "$(job_state 1)" = canceled ]
	[ "$(job_field 1 .started_ms)" = null ]
	run r cancel 99
	[ "$status" -eq 1 ]
	[[ "$output" == *"no job #99"* ]]
	run r cancel nope
	[ "$status" -eq 2 ]
}
