#!/usr/bin/env bats
# A deployment that waits (between check attempts, through its
# verification window) does not hold up a cancel or the daemon's stop: it
# ends 'canceled' or 'interrupted' at once, not when the window ends.

load lib

setup() {
	setup_env
	start_sink http web
	WEB=$SINK_PORT
	empty_source app
	set_pipeline "$SRC" "A long verification window" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo ok > dist/ok
    artifacts: [dist/**]
environments:
  staging:
    url: http://127.0.0.1:$WEB
    deploy: "true"
    checks: [ { http: /health } ]
    verify: { window: 10m, interval: 200ms }
YML
	# the test's own server serves staging's url
	printf 'environments:\n  staging:\n    serve_users: [%s]\n' "$(id -un)" \
	    >> "$RUNNER_HOME/runner.yml"
}
teardown() { teardown_env; }

# in_verify: push, and wait until the staging deployment ($d) is in its
# verification window.
in_verify() {
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	wait_for "r show --json $d | jq -e '.stages[] | select(.name == \"check /health\" and .state == \"passed\")'" 30
}

@test "runner cancel ends a deployment in its verification window at once" {
	in_verify
	# status names what it is doing
	run r status
	[[ "$output" == *"#$d "*"running"*"deploy staging"*"  verify "* ]]
	[ "$(job_field "$d" .phase)" = verify ]
	r cancel "$d"
	[ "$(wait_deploy "$d" 15)" = canceled ]
	[ "$(job_field "$d" .error)" = "canceled while the deployment waited for its checks" ]
}

@test "the daemon stops during a verification window: the deployment is interrupted" {
	in_verify
	kill -TERM "$DAEMON_PID"
	wait_for "! own_daemon $DAEMON_PID" 15
	DAEMON_PID=
	[ "$(job_state "$d")" = interrupted ]
	[ "$(job_field "$d" .error)" = "the daemon stopped while the deployment waited for its checks" ]
}
