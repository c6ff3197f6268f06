#!/usr/bin/env bats
# A full disk fails the job that filled it with a clear "no space", keeps
# the store consistent, and the daemon serves the next job once there is
# room again. The home is on a small tmpfs made by the test (mounting
# needs root; without it the test is skipped and says why).

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs for the home"
	mkdir "$T/small"
	# 12 MB for the builds, and 5 for the reserves the daemon sets aside
	# (the store's and the spool's)
	mount -t tmpfs -o size=17m tmpfs "$T/small"
	export RUNNER_HOME="$T/small/home"
	"$RUNNER" init >/dev/null
	empty_source app
}
teardown() {
	stop_daemon
	[ -d "$T/small" ] && umount -l "$T/small" 2>/dev/null
	teardown_env
}

integrity() {
	store_intact && echo ok
}

@test "a huge log and an artifact that does not fit fail with 'no space'; then the next job runs" {
	set_pipeline "$SRC" "Log flood" <<'YML'
stages:
  - name: flood
    run: yes "a line of output that fills the disk" | head -c 40000000
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60
	[ "$(job_field 1 .error)" = "stage 'flood': cannot write its log: No space left on device (no space)" ]
	# the log was cut back, so the outcome could be recorded
	[ "$(stat -c %s "$RUNNER_HOME/logs/1/00-flood.log")" -le $((64 * 1024 + 200)) ]
	[ "$(integrity)" = ok ]

	set_pipeline "$SRC" "Artifact too big" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && head -c 7000000 /dev/urandom > dist/blob
    artifacts: [dist/**]
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 failed 60
	[[ "$(job_field 2 .error)" == "artifacts: cannot finish archive "*"No space left on device (no space left on the device)" ]]
	[ "$(job_field 2 '.artifacts | length')" = 0 ]
	[ ! -e "$RUNNER_HOME/artifacts/2.tar.zst" ]
	[ ! -e "$RUNNER_HOME/artifacts/2.tar.zst.part" ]
	[ "$(integrity)" = ok ]

	# room again (the workspace and the partial archive are gone)
	set_pipeline "$SRC" "Small" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && echo small > dist/app
    artifacts: [dist/**]
YML
	git -C "$SRC" push -q origin develop
	wait_state 3 passed 60
	[ "$(job_field 3 '.artifacts | length')" = 1 ]
	[ "$(integrity)" = ok ]
	[ "$(r status --json | jq '[.jobs[] | select(.state == "running" or .state == "queued")] | length')" = 0 ]
}
