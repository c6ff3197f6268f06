#!/usr/bin/env bats
# Nothing idle holds memory: workers and the notifier leave after
# idle_exit with nothing to do, so an idle daemon is the supervisor alone;
# a push starts a worker again, and the job's event the notifier.

load lib

setup() {
	setup_env
	start_sink http hook
	make_repo app
	SRC=$(make_clone app)
	cat > "$RUNNER_HOME/runner.yml" <<YML
idle_exit: 1s
repos:
  - path: $T/app.git
    auto_deploy: []
notify:
  - name: hook
    webhook: http://127.0.0.1:$SINK_PORT/hook
    on: [job_passed]
YML
}
teardown() { teardown_env; }

children() { pgrep -c -P "$DAEMON_PID" || true; }

@test "idle workers and notifier leave; work brings them back" {
	start_daemon --workers 2
	# two workers and the notifier at start; none once idle
	wait_for "[ \"\$(children)\" = 0 ]" 20
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 30
	wait_for "[ \"\$(sink_count hook)\" = 1 ]" 20
	[ "$(jq -r .job.id "$T/sink-hook/1.body")" = 1 ]
	wait_for "[ \"\$(children)\" = 0 ]" 20
	# again, and a job queued while no worker runs
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 30
	wait_for "[ \"\$(sink_count hook)\" = 2 ]" 20
	! grep -q "died" "$T/serve.log" || false
}
