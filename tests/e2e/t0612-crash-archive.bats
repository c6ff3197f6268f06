#!/usr/bin/env bats
# The daemon SIGKILLed while it archives artifacts (4,096 files),
# 20 times at varied points: the job is re-run and passes, its one
# recorded artifact is whole, and no partial archive is left or recorded.

load lib

setup() {
	setup_env
	host_stages	# the stage links files of the test's folder
	empty_source app
	# made once; each job links them into its workspace
	mkdir "$T/pre"
	head -c 4194304 /dev/urandom | split -a 4 -b 1024 - "$T/pre/f"
	set_pipeline "$SRC" "4,096 artifact files" <<YML
stages:
  - name: build
    run: cp -al $T/pre dist
    artifacts: [dist/**]
YML
}
teardown() { teardown_env; }

@test "SIGKILLs (20 rounds) while archiving: no partial artifact recorded, jobs re-run once" {
	rounds=$(crash_rounds)
	start_daemon --workers 1
	for i in $(seq 1 "$rounds"); do
		git -C "$SRC" commit -q --allow-empty -m "Push $i"
		git -C "$SRC" push -q origin develop
		part="$RUNNER_HOME/artifacts/$i.tar.zst.part"
		# The archiving stops right here: 0, 6, ... 114 ms into it (spread
		# the same over fewer rounds), which takes about a quarter of a
		# second here, longer under the sanitizers (the delay picks the
		# kill point; it waits for nothing).
		freeze_when "[ -e '$part' ]" 30 "0.$(printf '%03d' $(((i - 1) * 120 / rounds)))"
		kill_daemon
		[ -e "$part" ]				# it was still being written
		[ "$(job_field "$i" '.artifacts | length')" = 0 ]
		restart_daemon --workers 1
		wait_state "$i" passed 60
		[ "$(job_field "$i" .attempt)" = 2 ]
		[ "$(job_field "$i" '.artifacts | length')" = 1 ]
		[ ! -e "$part" ]
		artifacts_whole "$i"
		store_sound
	done
	[ "$(ls "$RUNNER_HOME/artifacts" | grep -c '\.part$')" = 0 ]
	artifacts_whole
}
