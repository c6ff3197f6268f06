#!/usr/bin/env bats
# A malformed .runner.yml ends the job 'error' with file, line and column;
# the push itself succeeds.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "malformed pipeline file: job error names line and column, push succeeds" {
	make_repo app
	src=$(make_clone app)
	set_pipeline "$src" <<'YML'
stages:
  - name: unit
    run: ./tests/run-unit.sh
    timout: 5m
YML
	start_daemon --workers 1
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[ "$(git -C "$T/app.git" rev-parse develop)" = "$(git -C "$src" rev-parse HEAD)" ]

	wait_state 1 error
	[ "$(job_field 1 .error)" = ".runner.yml:4:5: unknown key 'timout' in stage 'unit' (did you mean 'timeout'?)" ]
	[ "$(job_field 1 '.stages | length')" -eq 0 ]
	run r status
	[[ "$output" == *".runner.yml:4:5: unknown key 'timout'"* ]]

	# a YAML syntax error, and a commit without a pipeline file
	printf 'stages:\n  - name: [unit\n' > "$src/.runner.yml"
	git -C "$src" commit -q -am "Broken YAML"
	git -C "$src" push -q origin develop
	wait_state 2 error
	[[ "$(job_field 2 .error)" == ".runner.yml:3:1: "* ]]

	git -C "$src" rm -q .runner.yml
	git -C "$src" commit -q -m "No pipeline"
	git -C "$src" push -q origin develop
	wait_state 3 error
	[[ "$(job_field 3 .error)" == "no '.runner.yml' in commit "* ]]
}

@test "runner check validates a file locally with the same messages" {
	cd "$T"
	printf 'stages:\n  - name: unit\n    run: make\n    timout: 5m\n' > .runner.yml
	run r check
	[ "$status" -eq 1 ]
	[ "$output" = "runner: .runner.yml:4:5: unknown key 'timout' in stage 'unit' (did you mean 'timeout'?)" ]
	run r check "$FIXTURE/.runner.yml"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok, 3 stages: unit lint build" ]]
	run r check "$T/missing.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing.yml"*"No such file"* ]]
}
