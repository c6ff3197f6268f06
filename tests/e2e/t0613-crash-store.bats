#!/usr/bin/env bats
# The daemon SIGKILLed while stages start and end (each a store write),
# 20 times at varied points (once stage 2 ... 9 of 13 has started, the
# worker frozen there with SIGSTOP), and during each automatic deployment: builds
# are re-run to completion and recorded once, deployments end
# 'interrupted' and are never re-run by themselves, the store stays sound.

load lib

setup() {
	setup_env
	host_stages	# the deploy command leaves marks in the test's folder
	empty_source app
	{
		echo "stages:"
		for k in $(seq 1 12); do
			echo "  - name: s$k"
			echo "    run: echo $k; sleep 0.05"
		done
		echo "  - name: pack"
		echo "    run: mkdir -p dist && echo app > dist/app"
		echo "    artifacts: [dist/**]"
		echo "environments:"
		echo "  staging:"
		echo "    deploy: echo deploying; touch $T/deploy-\$RUNNER_JOB; sleep 30"
	} > "$SRC/.runner.yml"
	git -C "$SRC" add -A
	git -C "$SRC" commit -q -m "Many stages"
}
teardown() { teardown_env; }

@test "SIGKILLs (20 rounds) amid store writes and during deployments" {
	rounds=$(crash_rounds)
	start_daemon --workers 1
	for i in $(seq 1 "$rounds"); do
		[ "$i" = 1 ] || git -C "$SRC" commit -q --allow-empty -m "Push $i"
		git -C "$SRC" push -q origin develop
		build=$(last_job build)
		at=$(printf '%02d' $((i % 8 + 1)))
		# the job stops right here
		freeze_when "ls '$RUNNER_HOME/logs/$build/' 2>/dev/null | grep -q '^$at-'" 30
		[ "$(job_state "$build")" = running ]
		kill_daemon
		restart_daemon --workers 1
		wait_state "$build" passed 60
		[ "$(job_field "$build" .attempt)" = 2 ]
		# its deployment starts; the daemon dies during it
		wait_for "[ \"\$(last_job deploy staging)\" -gt $build ] 2>/dev/null" 30
		deploy=$(last_job deploy staging)
		wait_for "[ -e '$T/deploy-$deploy' ]" 30
		[ "$(job_state "$deploy")" = running ]
		kill_daemon
		restart_daemon --workers 1
		[ "$(wait_deploy "$deploy")" = interrupted ]
		[[ "$(job_field "$deploy" .error)" == "the daemon died during the deployment; it is not re-run by itself" ]]
		store_sound
	done
	r status --json --limit 1000 > "$T/jobs.json"
	[ "$(jq '[.jobs[] | select(.kind == "build" and .state == "passed")] | length' "$T/jobs.json")" = "$rounds" ]
	[ "$(jq '[.jobs[] | select(.kind == "deploy")] | length' "$T/jobs.json")" = "$rounds" ]
	[ "$(jq '[.jobs[] | select(.kind == "deploy" and .state != "interrupted")] | length' "$T/jobs.json")" = 0 ]
	artifacts_whole
}
