#!/usr/bin/env bats
# The daemon SIGKILLed while it archives artifacts (4,096 files),
# 20 times at varied points (spread over how long archiving takes on the
# machine at the time, measured first): the job is re-run and passes, its one
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

# ms_since T0: milliseconds since T0 (a date +%s%N reading)
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

@test "SIGKILLs (20 rounds) while archiving: no partial artifact recorded, jobs re-run once" {
	rounds=$(crash_rounds)
	start_daemon --workers 1
	# How long archiving takes on this machine now: one job, not killed.
	git -C "$SRC" commit -q --allow-empty -m "Calibration"
	git -C "$SRC" push -q origin develop
	wait_for "[ -e '$RUNNER_HOME/artifacts/1.tar.zst.part' ]" 30
	t0=$(date +%s%N)
	wait_for "[ ! -e '$RUNNER_HOME/artifacts/1.tar.zst.part' ]" 60
	span=$(ms_since "$t0")
	wait_state 1 passed 60
	echo "# archiving took about ${span} ms" >&3
	hit=0
	for i in $(seq 1 "$rounds"); do
		j=$((i + 1))
		git -C "$SRC" commit -q --allow-empty -m "Push $i"
		git -C "$SRC" push -q origin develop
		part="$RUNNER_HOME/artifacts/$j.tar.zst.part"
		# The archiving stops right here: spread over the first half of
		# the time it took above (the delay picks the kill point; it
		# waits for nothing).
		delay=$(( (i - 1) * span / 2 / rounds ))
		# or the archive is already in place: on a busy machine a look
		# can miss a short archiving, and that round kills nothing
		# half-written (the count of hits below still asks for half)
		freeze_when "[ -e '$part' ] || [ -e '${part%.part}' ]" 30 \
		    "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
		kill_daemon
		wrote=0
		if [ -e "$part" ]; then		# it was still being written
			wrote=1
			hit=$((hit + 1))
			[ "$(job_field "$j" '.artifacts | length')" = 0 ]
		fi
		restart_daemon --workers 1
		wait_state "$j" passed 60
		# re-run once (one that ended before the kill may have passed
		# at its first attempt)
		[ "$wrote" = 0 ] || [ "$(job_field "$j" .attempt)" = 2 ]
		[ "$(job_field "$j" '.artifacts | length')" = 1 ]
		[ ! -e "$part" ]
		artifacts_whole "$j"
		store_sound
	done
	echo "# $hit of $rounds kills came while the archive was being written" >&3
	[ "$hit" -ge $((rounds / 2)) ]
	[ "$(ls "$RUNNER_HOME/artifacts" | grep -c '\.part$')" = 0 ]
	artifacts_whole
}
