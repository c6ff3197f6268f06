#!/usr/bin/env bats
# What one job may take of the home's disk: the file size limit by
# default, its workspace (measured while a stage runs), all its logs
# together, its artifact archive; a pipeline narrows runner.yml's bounds,
# never widens them. The bounds other than file_size are set small in
# runner.yml (or the pipeline) by these tests, as their labels say: the
# defaults (20G, 256M, 2G) are more than a test should write.

load lib

setup() {
	setup_env
	empty_source app
}
teardown() {
	teardown_env
}

# What a failing assertion shows.
show_job() {
	echo "--- job $1 ---"
	r show "$1" 2>&1 || true
	echo "--- daemon log ---"
	cat "$T/serve.log"
}

@test "by default a stage cannot write a file past 8G" {
	set_pipeline "$SRC" "A huge file" <<'YML'
stages:
  - name: big
    run: dd if=/dev/zero of=sparse bs=1 count=1 seek=9G
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60 || { show_job 1; false; }
	[ "$(job_field 1 .error)" = "stage 'big' failed with exit code 153: a file grew past its size limit (limits.file_size)" ]
	# 8G less a byte is allowed
	set_pipeline "$SRC" "A large file" <<'YML'
stages:
  - name: big
    run: dd if=/dev/zero of=sparse bs=1 count=1 seek=8589934590
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 60 || { show_job 2; false; }
}

@test "a workspace past its quota fails its stage (quota set small in runner.yml, and by the pipeline)" {
	printf 'disk: { workspace: 8M }\n' > "$RUNNER_HOME/runner.yml"
	# a pipeline that asks for more gets runner.yml's
	set_pipeline "$SRC" "Fill the workspace" <<'YML'
disk: { workspace: 64M }
stages:
  - name: fill
    run: |
      head -c 20000000 /dev/zero > big
      sleep 60
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 30 || { show_job 1; false; }
	[ "$(job_field 1 .error)" = "stage 'fill': its workspace exceeds its quota of 8M (runner.yml disk: workspace, or the pipeline's)" ]
	[ "$(job_field 1 .attempt)" = 1 ]
	grep -q "its workspace exceeds its quota of 8M" "$RUNNER_HOME/logs/1/00-fill.log"

	# a pipeline narrows it; under it, a stage passes
	set_pipeline "$SRC" "Narrower" <<'YML'
disk: { workspace: 2M }
stages:
  - name: small
    run: head -c 1000000 /dev/zero > ok
  - name: fill
    run: |
      head -c 4000000 /dev/zero > big
      sleep 60
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 failed 30 || { show_job 2; false; }
	[ "$(job_field 2 .error)" = "stage 'fill': its workspace exceeds its quota of 2M (runner.yml disk: workspace, or the pipeline's)" ]
	[ "$(job_field 2 '.stages[0].state')" = passed ]
}

@test "the logs of one job together are bounded (bound set small in runner.yml)" {
	printf 'disk: { logs: 1M }\n' > "$RUNNER_HOME/runner.yml"
	set_pipeline "$SRC" "Chatty" <<'YML'
stages:
  - name: one
    run: head -c 600000 /dev/zero | tr '\0' 5
  - name: two
    run: head -c 600000 /dev/zero | tr '\0' 6
  - name: three
    run: head -c 600000 /dev/zero | tr '\0' 7; echo done
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { show_job 1; false; }
	logs="$RUNNER_HOME/logs/1"
	[ "$(tr -cd 5 < "$logs/00-one.log" | wc -c)" = 600000 ]
	grep -q "the job's logs together reached their bound of 1M (runner.yml disk: logs, or the pipeline's); the rest of this stage's output is dropped" "$logs/01-two.log"
	[ "$(tr -cd 7 < "$logs/02-three.log" | wc -c)" = 0 ]
	grep -q "the job's logs together reached their bound of 1M (runner.yml disk: logs, or the pipeline's); this stage's output is dropped" "$logs/02-three.log"
	total=$(cat "$logs"/*.log | wc -c)
	[ "$total" -le $((1024 * 1024 + 1024)) ] || { echo "logs: $total bytes"; false; }
}

@test "an artifact archive past its bound fails the job and keeps nothing (bound set small in runner.yml)" {
	printf 'disk: { artifacts: 64K }\n' > "$RUNNER_HOME/runner.yml"
	set_pipeline "$SRC" "Big artifact" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && head -c 1000000 /dev/urandom > dist/blob
    artifacts: [dist/**]
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60 || { show_job 1; false; }
	# (said when the stage's files are added, or when the archive is
	# finished: the compressor holds what it has not written yet)
	[[ "$(job_field 1 .error)" == "artifacts"*": the archive grew past 64K, the most a build's artifacts may take (runner.yml disk: artifacts, or the pipeline's); nothing is kept" ]] ||
	    { show_job 1; false; }
	[ "$(job_field 1 '.artifacts | length')" = 0 ]
	[ ! -e "$RUNNER_HOME/artifacts/1.tar.zst" ]
	[ ! -e "$RUNNER_HOME/artifacts/1.tar.zst.part" ]
}

@test "bad disk bounds are refused with file, line and field" {
	printf 'log_cap: 64M\ndisk: { workspace: lots }\n' > "$RUNNER_HOME/runner.yml"
	run r serve
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:2:20: 'workspace' in 'disk' of runner.yml must be a size of at least 1M, like 64M"* ]] ||
	    { echo "$output"; false; }
	printf 'disk:\n  logs: 1K\n' > "$RUNNER_HOME/runner.yml"
	run r serve
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:2:9: 'logs' in 'disk' of runner.yml must be a size of at least 4K, like 64M"* ]] ||
	    { echo "$output"; false; }
	printf 'disk: { workspaces: 1G }\nstages:\n  - name: a\n    run: "true"\n' > "$T/p.yml"
	run r check "$T/p.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"p.yml:1:9: unknown key 'workspaces' in 'disk' of the pipeline (did you mean 'workspace'?)"* ]] ||
	    { echo "$output"; false; }
}
