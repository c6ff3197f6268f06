#!/usr/bin/env bats
# The daemon SIGKILLed during a stage, 20 times at varied points: the job
# is re-run to completion and recorded once, and nothing the killed stage
# started survives, not even a process that left its group with setsid.

load lib

setup() {
	setup_env
	host_stages	# the stages leave marks in the test's folder
	empty_source app
	set_pipeline "$SRC" "Steps" <<YML
stages:
  - name: steps
    run: |
      setsid sleep 1000 < /dev/null > /dev/null 2>&1 &
      echo \$! >> $T/escapees
      for k in \$(seq 1 22); do echo "step \$k"; sleep 0.02; done
      sleep 0.3
YML
}
teardown() {
	[ -f "$T/escapees" ] && xargs -r kill -9 < "$T/escapees" 2>/dev/null
	teardown_env
}

@test "SIGKILLs (20 rounds) during a stage: re-run once, no process of the old stage left" {
	rounds=$(crash_rounds)
	start_daemon --workers 1
	for i in $(seq 1 "$rounds"); do
		git -C "$SRC" commit -q --allow-empty -m "Push $i"
		git -C "$SRC" push -q origin develop
		# the worker stops right here
		freeze_when "grep -qx 'step $i' '$RUNNER_HOME/logs/$i/00-steps.log' 2>/dev/null" 30
		[ "$(job_state "$i")" = running ]
		kill_daemon
		escapee=$(tail -n 1 "$T/escapees")
		kill -0 "$escapee"		# it outlived the stage's group
		restart_daemon --workers 1
		wait_state "$i" passed 60
		[ "$(job_field "$i" .attempt)" = 2 ]
		# the old attempt's escapee is gone, and so is the new one's
		wait_for "! xargs -r kill -0 < '$T/escapees' 2>/dev/null" 10
		# (the escapee, and the stage's shell if it was still running)
		grep -qE "killed [12] process(es)? left by stages of the last daemon" "$T/serve.log"
		store_sound
	done
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.state == "passed")] | length')" = "$rounds" ]
}
