#!/usr/bin/env bats
# Results in git notes: every ended build and deployment of a commit is
# its note under refs/notes/runner in the bare repository; a clone fetches
# and reads them with git log --notes=runner; concurrent pushes lose
# neither a note nor a ref; runner.yml can turn them off.

load lib

setup() {
	setup_env
	empty_source app
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '.*'
    auto_deploy: [staging]
YML
	set_pipeline "$SRC" "first" <<'YML'
stages:
  - name: unit
    run: echo unit
  - name: build
    run: mkdir -p dist && echo v > dist/v
    artifacts: [dist/**]
environments:
  staging:
    deploy: echo deployed
YML
}
teardown() { teardown_env; }

note_of() { git --git-dir="$T/app.git" notes --ref=runner show "$1" 2>/dev/null; }

@test "a build and its deployment are the commit's note, which a clone reads" {
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	c=$(git -C "$SRC" rev-parse HEAD)
	wait_state 1 passed 30
	d=$(last_job deploy staging)
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	wait_for "note_of $c | grep -q 'deployment #$d to staging healthy'" 30
	note_of "$c" | grep -q "^runner: build #1 passed on develop in "
	note_of "$c" | grep -q "^  unit  *passed "
	note_of "$c" | grep -q "^  artifact sha256 $(job_field 1 '.artifacts[0].sha256')$"
	note_of "$c" | grep -q "^runner: deployment #$d to staging healthy, artifact of build #1 in "
	# a clone fetches and reads them
	git clone -q "$T/app.git" "$T/clone"
	git -C "$T/clone" fetch -q origin refs/notes/runner:refs/notes/runner
	git -C "$T/clone" log --notes=runner -1 | grep -q "runner: build #1 passed on develop"
	# the notes are the runner's commits, not the pusher's branches
	[ "$(git --git-dir="$T/app.git" log -1 --format=%an refs/notes/runner)" = runner ]
}

@test "concurrent pushes lose neither a note nor a ref" {
	start_daemon --workers 2
	for b in 1 2 3 4 5 6; do
		git -C "$SRC" checkout -q -B "b$b" develop
		git -C "$SRC" commit -q --allow-empty -m "branch $b"
	done
	pids=()
	for b in 1 2 3 4 5 6; do
		git -C "$SRC" push -q origin "b$b" 2>"$T/push$b" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE kind = 'build' AND state = 'passed'\") -eq 6 ]" 60
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')\") -eq 0 ]" 60
	for b in 1 2 3 4 5 6; do
		c=$(git -C "$SRC" rev-parse "b$b")
		[ "$(git --git-dir="$T/app.git" rev-parse "refs/heads/b$b")" = "$c" ]
		wait_for "note_of $c | grep -q '^runner: build #[0-9]* passed on b$b'" 30
	done
	# pushes after the notes: the branch moves, the notes stay
	git -C "$SRC" commit -q --allow-empty -m more
	git -C "$SRC" push -q origin b6
	wait_for "note_of $(git -C "$SRC" rev-parse b6) | grep -q 'passed on b6'" 30
	note_of "$(git -C "$SRC" rev-parse b5)" | grep -q "passed on b5"
}

@test "notes: false writes none" {
	sed -i 's/    auto_deploy: \[staging\]/    auto_deploy: [staging]\n    notes: false/' "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 30
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')\") -eq 0 ]" 30
	wait_for "[ \$(db 'SELECT count(*) FROM events WHERE routed = 0') -eq 0 ]" 30
	! git --git-dir="$T/app.git" rev-parse -q --verify refs/notes/runner || false
}

@test "a pusher cannot forge a result: a pushed refs/notes/runner is undone, and refused with the pre-receive hook" {
	set_pipeline "$SRC" "fails" <<'YML'
stages:
  - name: unit
    run: exit 3
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	c=$(git -C "$SRC" rev-parse HEAD)
	wait_state 1 failed 30
	wait_for "note_of $c | grep -q '^runner: build #1 failed on develop'" 30
	real=$(git --git-dir="$T/app.git" rev-parse refs/notes/runner)
	# whoever may push a branch writes "passed" over the failed result
	git -C "$SRC" fetch -q origin refs/notes/runner:refs/notes/runner
	git -C "$SRC" notes --ref=runner add -f -m "runner: build #1 passed on develop in 1s" "$c"
	run git -C "$SRC" push origin refs/notes/runner:refs/notes/runner
	[[ "$output" == *"runner: refs/notes/runner holds the runner's results: this push's update of it is undone"* ]] ||
	    { echo "$output"; false; }
	[ "$(git --git-dir="$T/app.git" rev-parse refs/notes/runner)" = "$real" ]
	note_of "$c" | grep -q '^runner: build #1 failed on develop'
	# nor deleted
	run git -C "$SRC" push origin :refs/notes/runner
	[ "$(git --git-dir="$T/app.git" rev-parse refs/notes/runner)" = "$real" ] || { echo "$output"; false; }
	# the pre-receive hook refuses it before anyone can fetch it
	"$RUNNER" install-hook --pre-receive "$T/app.git" >/dev/null
	run git -C "$SRC" push origin +refs/notes/runner:refs/notes/runner
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing the update of refs/notes/runner: it holds the runner's results, which only the runner writes"* ]] ||
	    { echo "$output"; false; }
	[ "$(git --git-dir="$T/app.git" rev-parse refs/notes/runner)" = "$real" ]
	# a clone reads the runner's result
	git clone -q "$T/app.git" "$T/clone"
	git -C "$T/clone" fetch -q origin refs/notes/runner:refs/notes/runner
	git -C "$T/clone" log --notes=runner -1 | grep -q "runner: build #1 failed on develop"
	# the branches still push, with the notes the runner writes
	git -C "$SRC" commit -q --allow-empty -m two
	git -C "$SRC" push -q origin develop
	wait_state 2 failed 30
	wait_for "note_of $(git -C "$SRC" rev-parse HEAD) | grep -q '^runner: build #2 failed'" 30
}

@test "a ref below refs/notes/runner, which would keep the runner from writing its notes, is undone" {
	start_daemon --workers 1
	c=$(git -C "$SRC" rev-parse HEAD)
	# before the runner ever wrote a note: refs/notes/runner/x would
	# make refs/notes/runner impossible to create
	run git -C "$SRC" push origin "HEAD:refs/notes/runner/x"
	[[ "$output" == *"runner: refs/notes/runner/x holds the runner's results: this push's update of it is undone"* ]] ||
	    { echo "$output"; false; }
	! git --git-dir="$T/app.git" rev-parse -q --verify refs/notes/runner/x || false
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 30
	wait_for "note_of $c | grep -q '^runner: build #1 passed on develop'" 30
	"$RUNNER" install-hook --pre-receive "$T/app.git" >/dev/null
	run git -C "$SRC" push origin "HEAD:refs/notes/runner/y"
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing the update of refs/notes/runner/y: it holds the runner's results"* ]] || { echo "$output"; false; }
}
