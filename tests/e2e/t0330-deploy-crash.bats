#!/usr/bin/env bats
# A deployment interrupted by a crash is recorded 'interrupted' and is not
# re-run by itself.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "daemon killed during a deploy: interrupted, never re-run" {
	# runner.yml grants the staging commands a folder of the test's
	mkdir -m 0777 "$T/marks"
	cat >> "$RUNNER_HOME/runner.yml" <<YML
environments:
  staging: { paths: [$T/marks] }
YML
	make_repo app
	src=$(make_clone app)
	sed -i "s|    deploy: ./scripts/deploy.sh staging|    deploy: touch $T/marks/deploying; echo run >> $T/marks/deploys; while [ ! -e $T/marks/never ]; do sleep 0.05; done|" "$src/.runner.yml"
	git -C "$src" commit -q -am "A deploy that hangs"
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "[ -e $T/marks/deploying ]" 30
	d=$(last_job deploy staging)
	kill -KILL "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID" 10
	DAEMON_PID=
	start_daemon --workers 1
	wait_for "[ \"\$(job_state $d)\" = interrupted ]" 10
	[[ "$(job_field "$d" .error)" == "the daemon died during the deployment; it is not re-run by itself" ]]
	# the build is untouched, and the deploy ran once
	[ "$(job_state 1)" = passed ]
	[ "$(wc -l < "$T/marks/deploys")" -eq 1 ]
	[ "$(r status --json | jq '[.jobs[] | select(.state == "queued" or .state == "running")] | length')" -eq 0 ]
}
