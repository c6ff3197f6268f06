#!/usr/bin/env bats
# A queued job with a newer push to the same ref is 'superseded'; retry
# queues a new job for the same commit.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "an older queued push to the same branch is superseded" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	git -C "$src" commit -q --allow-empty -m second
	git -C "$src" push -q origin develop
	start_daemon --workers 1
	wait_state 2 passed
	[ "$(job_state 1)" = superseded ]
	[ "$(job_field 1 .started_ms)" = null ]
	# it says by what, and what it was
	[ "$(job_field 1 .error)" = "superseded by #2" ]
	[ "$(job_field 1 .subject)" = "Initial store back end" ]
	run r status
	[[ "$output" == *"#1 "*"superseded"*"Initial store back end"* ]]
}

@test "repositories with one name in different folders are told apart" {
	mkdir -p "$T/a" "$T/b"
	for d in a b; do
		git init -q --bare "$T/$d/app.git"
		r install-hook "$T/$d/app.git" >/dev/null
	done
	src=$(make_clone app)
	git -C "$src" remote set-url origin "$T/a/app.git"
	git -C "$src" push -q origin develop
	git -C "$src" push -q "$T/b/app.git" develop
	# the first seen keeps its name; the second gets a longer one
	run r status
	[[ "$output" == *" app develop"* ]]
	[[ "$output" == *" b/app develop"* ]]
	! [[ "$output" == *" a/app develop"* ]] || false
}

@test "supersede can be turned off" {
	echo "supersede: false" > "$RUNNER_HOME/runner.yml"
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	git -C "$src" commit -q --allow-empty -m second
	git -C "$src" push -q origin develop
	start_daemon --workers 1
	wait_state 2 passed
	[ "$(job_state 1)" = passed ]
}

@test "retry runs the same commit again as a new job" {
	printf 'repos:\n  - path: %s\n    auto_deploy: []\n' "$T/app.git" > "$RUNNER_HOME/runner.yml"
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	start_daemon --workers 1
	wait_state 1 passed
	run r retry 1
	[ "$status" -eq 0 ]
	[ "$output" = "queued job #2 (retry of #1)" ]
	wait_state 2 passed
	[ "$(job_field 2 .commit)" = "$(job_field 1 .commit)" ]
	[ "$(job_field 2 .retry_of)" = 1 ]
}

@test "log -f follows a stage until it ends" {
	make_repo app
	src=$(make_clone app)
	set_pipeline "$src" <<YML
stages:
  - name: slow
    run:
      - echo first line
      - while [ ! -e $MARK-go ]; do sleep 0.05; done
      - echo last line
YML
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_state 1 running
	r log -f 1 slow > "$T/followed" &
	follower=$!
	wait_for "grep -q 'first line' $T/followed" 20
	kill -0 $follower
	touch "$MARK-go"
	wait_for "! kill -0 $follower" 20
	grep -q 'last line' "$T/followed"
	wait_state 1 passed
}
