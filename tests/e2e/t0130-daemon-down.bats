#!/usr/bin/env bats
# A push while the daemon is stopped succeeds at once; the job waits in the
# store and runs when the daemon starts.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "push while the daemon is down runs after it starts" {
	make_repo app
	src=$(make_clone app)
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"queued job #1 for develop"* ]]
	[ "$(job_state 1)" = queued ]
	run r status
	[[ "$output" == *"1 queued, 0 running"* ]]

	start_daemon --workers 1
	wait_state 1 passed
	[ "$(job_field 1 .attempt)" -eq 1 ]
}

@test "the hook warns but the push succeeds when the home is gone" {
	make_repo app
	src=$(make_clone app)
	mv "$RUNNER_HOME" "$T/moved"
	# (the e2e-pg suite names its store in the environment, which a
	# home that is gone would not tell)
	RUNNER_STORE= run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: warning: cannot open store"* ]]
	[ "$(git -C "$T/app.git" rev-parse develop)" = "$(git -C "$src" rev-parse HEAD)" ]
}

@test "the hook warns when its binary was removed after install" {
	mkdir "$T/bin"
	cp "$RUNNER_BIN_DIR/runner-hook" "$T/bin/runner-hook"
	git init -q --bare "$T/app.git"
	RUNNER_HOOK_BIN="$T/bin/runner-hook" r install-hook "$T/app.git"
	rm "$T/bin/runner-hook"
	src=$(make_clone app)
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: warning: $T/bin/runner-hook is missing; nothing queued"* ]]
}

@test "the hook ignores garbage input and enqueues nothing" {
	make_repo app
	cd "$T/app.git"
	run sh -c "printf 'garbage\n\001\002 x y\n' | GIT_DIR=. ./hooks/post-receive"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ignored 2 malformed hook input lines"* ]]
	[ "$(r status --json | jq '.jobs | length')" -eq 0 ]
}
