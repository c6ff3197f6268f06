#!/usr/bin/env bats
# The outbox survives the daemon: events not delivered when it is killed
# are delivered after the restart, and none that was acknowledged is sent
# again.

load lib

setup() {
	setup_env
	empty_source app
	set_pipeline "$SRC" "First" <<'YML'
stages:
  - name: unit
    run: echo fine
YML
}
teardown() { teardown_env; }

notification() {
	r show --json "$1" | jq -r ".notifications[0].$2"
}

@test "daemon SIGKILLed with events pending: delivered after restart, none twice" {
	port=$(free_port)
	start_sink http hook --port "$port"
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: audit
    webhook: { url: 'http://127.0.0.1:$port/hook', secret: s3cret }
    on: [all]
    retries: 100
    backoff: 100ms
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ \"\$(notification 1 state)\" = delivered ]"

	# the receiver goes down; the next event keeps failing
	stop_sink hook
	git -C "$SRC" commit -q --allow-empty -m "Second"
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	wait_for "[ \"\$(notification 2 attempts)\" -ge 2 ]"
	[ "$(notification 2 state)" = pending ]

	kill -KILL "$DAEMON_PID"
	wait_for "! kill -0 $DAEMON_PID"
	DAEMON_PID=
	# a push while the daemon is down is queued; its event comes later
	git -C "$SRC" commit -q --allow-empty -m "Third"
	git -C "$SRC" push -q origin develop

	start_sink http hook --port "$port"
	start_daemon --workers 1
	wait_state 3 passed
	wait_for "[ \"\$(notification 2 state)\" = delivered ] && [ \"\$(notification 3 state)\" = delivered ]"
	# each event reached the receiver exactly once
	[ "$(sink_count hook)" -eq 3 ]
	[ "$(jq -r .job.id "$T"/sink-hook/*.body | sort | tr '\n' ' ')" = "1 2 3 " ]
	[ "$(notification 1 attempts)" = 1 ]
	[ "$(r status --json | jq '.notifications.pending + .notifications.dead')" = 0 ]
}
