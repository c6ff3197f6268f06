#!/usr/bin/env bats
# install-hook: refuses what is not a bare repository, is idempotent,
# chains an existing hook (its exit code kept) and the same hook input
# delivered twice enqueues one job.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "install-hook refuses a missing or non-bare repository" {
	run r install-hook "$T/missing.git"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot install into '$T/missing.git': No such file or directory"* ]]
	git init -q "$T/work"
	run r install-hook "$T/work"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a bare repository"* ]]
	mkdir "$T/plain"
	run r install-hook "$T/plain"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a git repository"* ]]
	run r install-hook
	[ "$status" -eq 2 ]
}

@test "install-hook needs an initialised home" {
	git init -q --bare "$T/app.git"
	RUNNER_STORE= run "$RUNNER" install-hook --home "$T/nohome" "$T/app.git"
	[ "$status" -eq 1 ]
	[[ "$output" == *"run 'runner init' first"* ]]
}

@test "install-hook is idempotent and chains an existing hook" {
	git init -q --bare "$T/app.git"
	cat > "$T/app.git/hooks/post-receive" <<SH
#!/bin/sh
cat > $T/chained-input
echo "chained hook ran"
exit 3
SH
	chmod +x "$T/app.git/hooks/post-receive"
	run r install-hook "$T/app.git"
	[ "$status" -eq 0 ]
	[[ "$output" == *"post-receive.chained"* ]]
	cp "$T/app.git/hooks/post-receive" "$T/first"
	run r install-hook "$T/app.git"
	[ "$status" -eq 0 ]
	cmp "$T/first" "$T/app.git/hooks/post-receive"
	grep -q 'exit 3' "$T/app.git/hooks/post-receive.chained"

	src=$(make_clone app)
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: queued job #1 for develop"* ]]
	[[ "$output" == *"chained hook ran"* ]]
	grep -q "refs/heads/develop" "$T/chained-input"

	# the chained hook's exit code comes through the runner's hook
	cd "$T/app.git"
	echo "0000000000000000000000000000000000000000 $(git rev-parse develop) refs/heads/other" > "$T/in"
	run sh -c "GIT_DIR=. ./hooks/post-receive < $T/in"
	[ "$status" -eq 3 ]
}

@test "the same hook input delivered twice enqueues one job" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	head=$(git -C "$src" rev-parse HEAD)
	cd "$T/app.git"
	echo "0000000000000000000000000000000000000000 $head refs/heads/develop" > "$T/in"
	run sh -c "GIT_DIR=. ./hooks/post-receive < $T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"already queued job #1 for develop"* ]]
	[ "$(r status --json | jq '.jobs | length')" -eq 1 ]
	# a deletion queues nothing
	echo "$head 0000000000000000000000000000000000000000 refs/heads/develop" > "$T/in"
	run sh -c "GIT_DIR=. ./hooks/post-receive < $T/in"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(r status --json | jq '.jobs | length')" -eq 1 ]
}

@test "only branches matching the trigger queue a job" {
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '^(develop|release/.+)$'
YML
	make_repo app
	src=$(make_clone app)
	git -C "$src" branch feature/x
	git -C "$src" branch release/1.0
	git -C "$src" tag v1.0.0
	run git -C "$src" push origin develop feature/x release/1.0 v1.0.0
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c 'queued job')" -eq 2 ]
	# a release tag queues a release to production instead of a build
	[ "$(echo "$output" | grep -c 'queued release #[0-9]* for v1.0.0 .* (production)')" -eq 1 ]
	[ "$(r status --json | jq -r '[.jobs[] | select(.kind == "build") | .ref] | sort | join(",")')" = "refs/heads/develop,refs/heads/release/1.0" ]
}
