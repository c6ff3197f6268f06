#!/usr/bin/env bats
# Work a pipeline asks of the worker itself is bounded like a stage: an
# artifact glob that backtracks without end is an error naming it, an
# only/except pattern too, and archiving ends at the stage's timeout and
# on cancel, so one repository cannot hold a worker past what runner.yml
# lets its stages take.

load lib

setup() {
	setup_env
	empty_source app
	start_daemon --workers 1
}
teardown() { teardown_env; }

@test "an artifact glob that backtracks without end fails the stage at once, naming the glob" {
	set_pipeline "$SRC" "glob bomb" <<'YML'
stages:
  - name: build
    timeout: 10s
    run: |
      mkdir -p out
      n=$(printf 'a%.0s' $(seq 1 180))
      for i in $(seq 1 3000); do : > "out/${n}${i}ba"; done
    artifacts: ['**a**a**a**a**a**a**a**a**b']
YML
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60
	local err
	err=$(job_field 1 .error)
	echo "$err"
	[[ "$err" == "artifacts of stage 'build': glob '**a**a**a**a**a**a**a**a**b' hit its match limit on 'out/aaaa"* ]]
	# it took the worker well under the stage's 10 s
	[ "$(job_field 1 '(.finished_ms - .started_ms) < 10000')" = true ]
}

@test "an only pattern that backtracks without end ends the job in error, naming it" {
	git -C "$SRC" checkout -q -b "$(printf 'a%.0s' $(seq 1 60))ba"
	set_pipeline "$SRC" "pattern bomb" <<'YML'
stages:
  - name: unit
    run: echo should not run
    only: '^(a|aa)+$'
YML
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '.*'
YML
	git -C "$SRC" push -q origin HEAD
	wait_state 1 error 60
	[[ "$(job_field 1 .error)" == "stage 'unit': pattern '^(a|aa)+\$' of 'only' hit its match limit on 'aaaa"*"(make it simpler)" ]]
	[ "$(job_field 1 '.stages[0].state')" != passed ]
}

# a stage whose artifact is large and quick to make: archiving takes long.
# A stop inside the entry leaves libarchive's output block unfreed, once
# (artifact_abort): under the sanitizers that is suppressed for these
# tests alone.
big_artifact_pipeline() {
	export LSAN_OPTIONS="suppressions=$SOURCE_ROOT/tests/e2e/lsan-archive-stop.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
	stop_daemon
	# a sparse file past the default file_size (8G), so that archiving
	# it takes longer than the stage may
	printf 'limits: { file_size: 100G }\n' >> "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	set_pipeline "$SRC" "big artifact" <<YML
stages:
  - name: build
    timeout: $1
    run: mkdir -p dist && truncate -s 60G dist/zeros
    artifacts: [dist/**]
YML
}

@test "archiving ends at the stage's timeout (file_size raised in runner.yml)" {
	big_artifact_pipeline 2s
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60
	[ "$(job_field 1 .error)" = "artifacts of stage 'build': archiving stopped at the stage's timeout" ]
	[ "$(job_field 1 '.stages[0].state')" = timed_out ]
	[ ! -e "$RUNNER_HOME/artifacts/1.tar.zst.part" ]
}

@test "archiving stops on cancel (file_size raised in runner.yml)" {
	big_artifact_pipeline 10m
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 .phase)\" = archiving ]" 60
	r cancel 1
	wait_state 1 canceled 10
	[ "$(job_field 1 '.stages[0].state')" = canceled ]
	[[ "$(job_field 1 .error)" == *"archiving stopped: canceled"* ]]
}
