#!/usr/bin/env bats
# A failing unit test fails the job at 'unit'; lint and build never run,
# and the log shows the failure.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "failing unit test fails the job at unit and skips the rest" {
	make_repo app
	src=$(make_clone app)
	sed -i 's/check "stock value" 120203/check "stock value" 999/' \
	    "$src/tests/run-unit.sh"
	git -C "$src" commit -q -am "Break the stock value test"
	start_daemon --workers 1
	git -C "$src" push -q origin develop

	wait_state 1 failed
	[ "$(job_field 1 '.stages[0].state')" = failed ]
	[ "$(job_field 1 '.stages[0].exit_code')" = 1 ]
	[ "$(job_field 1 '.stages[1].state')" = skipped ]
	[ "$(job_field 1 '.stages[2].state')" = skipped ]
	[ "$(job_field 1 .error)" = "stage 'unit' failed with exit code 1" ]
	[ "$(job_field 1 '.artifacts | length')" -eq 0 ]
	[ ! -e "$RUNNER_HOME/logs/1/01-lint.log" ]

	run r log 1 unit
	[[ "$output" == *"not ok 4 - stock value: want '999', got '120203'"* ]]
	[[ "$output" == *"[runner: stage 'unit' failed with exit code 1]"* ]]

	run r show 1
	[[ "$output" == *"unit"*"failed"*"exit 1"* ]]
	[[ "$output" == *"lint"*"skipped"* ]]
}
