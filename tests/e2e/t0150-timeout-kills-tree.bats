#!/usr/bin/env bats
# A stage that starts a background process and then hangs is killed at its
# timeout, with everything it started.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a timed-out stage leaves no process behind" {
	make_repo app
	src=$(make_clone app)
	marker=$(make_sleeper)
	set_pipeline "$src" <<YML
stages:
  - name: hang
    timeout: 1s
    run:
      - $marker 1000 &
      - setsid $marker 1000 &
      - sh -c 'trap "" TERM; $marker 1000'
YML
	cat >> "$RUNNER_HOME/runner.yml" <<YML
kill_grace: 500ms
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_state 1 failed 30
	[ "$(job_field 1 '.stages[0].state')" = timed_out ]
	[ "$(job_field 1 .error)" = "stage 'hang' timed out after 1.0s" ]
	assert_no_process "$marker"
	run r log 1 hang
	[[ "$output" == *"timed out after 1.0s"* ]]
}

@test "no process outlives a stage that ends normally" {
	make_repo app
	src=$(make_clone app)
	marker=$(make_sleeper)
	set_pipeline "$src" <<YML
stages:
  - name: leak
    run:
      - $marker 1000 &
      - (setsid $marker 1000 &)
      - echo started
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_state 1 passed
	assert_no_process "$marker"
}
