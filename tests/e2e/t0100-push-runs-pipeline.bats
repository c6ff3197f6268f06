#!/usr/bin/env bats
# A push to develop runs unit, lint and build; the job passes with three
# stages and an artifact whose sha256 and contents are right.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "push to develop runs the pipeline and records a valid artifact" {
	make_repo app
	src=$(make_clone app)
	start_daemon --workers 2

	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: queued job #1 for develop"* ]]

	wait_state 1 passed
	[ "$(job_field 1 '.stages | length')" -eq 3 ]
	[ "$(job_field 1 '[.stages[].name] | join(",")')" = "unit,lint,build" ]
	[ "$(job_field 1 '[.stages[].state] | unique | join(",")')" = "passed" ]
	[ "$(job_field 1 .commit)" = "$(git -C "$src" rev-parse HEAD)" ]
	[ "$(job_field 1 .subject)" = "Initial store back end" ]

	art=$(job_field 1 '.artifacts[0].path')
	[ -f "$art" ]
	[ "$(job_field 1 '.artifacts[0].sha256')" = "$(sha256sum "$art" | cut -d' ' -f1)" ]
	[ "$(job_field 1 '.artifacts[0].size')" -eq "$(stat -c %s "$art")" ]
	tar --zstd -tf "$art" | sort > "$T/list"
	grep -qx dist/bin/store.sh "$T/list"
	grep -qx dist/VERSION "$T/list"
	! grep -q '^src/' "$T/list" || false

	r artifacts 1 --extract "$T/out"
	[ -x "$T/out/dist/bin/store.sh" ]
	[ -L "$T/out/dist/store" ]
	# git describe worked inside the stage: the workspace is a real work tree
	[ "$(cat "$T/out/dist/VERSION")" = "$(git -C "$src" rev-parse --short=7 HEAD)" ]

	run r log 1 unit
	[[ "$output" == *"all 5 unit tests passed"* ]]

	run r status
	[ "$status" -eq 0 ]
	[[ "$output" == *"#1"*"passed"*"app develop"* ]]

	# the workspace is gone after the job: moved aside at once, deleted
	# once the worker has nothing else to do
	[ ! -e "$RUNNER_HOME/work/1" ]
	wait_for "[ -z \"\$(ls -A '$RUNNER_HOME/work/.discard' 2>/dev/null)\" ]" 10
}
