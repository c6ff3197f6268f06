#!/usr/bin/env bats
# Delivery is reliable and never holds a pipeline up: 5xx and 429 are
# retried with backoff (Retry-After honoured), other 4xx are not, an
# endpoint that stays down ends 'dead' with its last error in status.

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

# hook_config PORT [RETRIES] [BACKOFF]: one webhook target on every event.
hook_config() {
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: audit
    webhook: { url: 'http://127.0.0.1:$1/hook/TOKEN-SECRET', secret: s3cret }
    on: [all]
    retries: ${2:-5}
    backoff: ${3:-50ms}
YML
}

notification() {
	r show --json "$1" | jq -r ".notifications[0].$2"
}

@test "500 twice, then 200: delivered exactly once more, the same event each time" {
	start_sink http hook --codes 500,500,200
	hook_config "$SINK_PORT"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ \"\$(notification 1 state)\" = delivered ]"
	[ "$(notification 1 attempts)" = 3 ]
	[ "$(notification 1 status)" = 200 ]
	[ "$(sink_count hook)" -eq 3 ]
	# one event id and one body on every attempt
	ids=$(sed -n 's/^X-Runner-Delivery: \([0-9]*\)\r$/\1/p' "$T"/sink-hook/{1,2,3}.head | sort -u)
	[ "$(echo "$ids" | wc -l)" -eq 1 ]
	cmp "$T/sink-hook/1.body" "$T/sink-hook/3.body"
	# nothing more of it arrives: the next request is the next event
	git -C "$SRC" commit -q --allow-empty -m "Second"
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	wait_for "[ \"\$(notification 2 state)\" = delivered ]"
	[ "$(sink_count hook)" -eq 4 ]
	[ "$(jq -r .job.id "$T/sink-hook/4.body")" = 2 ]
	[ "$(notification 2 attempts)" = 1 ]
}

@test "429 with Retry-After waits as long as it says" {
	start_sink http hook --codes 429,200 --retry-after 1
	hook_config "$SINK_PORT" 5 10ms
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(notification 1 state)\" = delivered ]"
	[ "$(notification 1 attempts)" = 2 ]
	first=$(stat -c %.3Y "$T/sink-hook/1.body")
	second=$(stat -c %.3Y "$T/sink-hook/2.body")
	# 10ms of backoff, but the receiver asked for a second
	awk -v a="$first" -v b="$second" 'BEGIN { exit !(b - a >= 0.95) }'
}

@test "a 4xx other than 429 is not retried" {
	start_sink http hook --codes 404,200
	hook_config "$SINK_PORT"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(notification 1 state)\" = dead ]"
	[ "$(notification 1 attempts)" = 1 ]
	[ "$(notification 1 status)" = 404 ]
	[ "$(notification 1 error)" = "HTTP 404: sink error (not retried)" ]
	[ "$(sink_count hook)" -eq 1 ]
}

@test "an endpoint that is down: the job is unaffected, the event ends dead and shows" {
	port=$(free_port)
	hook_config "$port" 2 20ms
	cat >> "$RUNNER_HOME/runner.yml" <<YML
  - name: team
    slack: http://127.0.0.1:$port/services/T000/B000/SLACKTOKEN
    on: [job_failed]
    retries: 2
    backoff: 20ms
YML
	set_pipeline "$SRC" "Fail" <<'YML'
stages:
  - name: unit
    run: exit 1
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed
	[ "$(job_field 1 .error)" = "stage 'unit' failed with exit code 1" ]
	wait_for "[ \"\$(r status --json | jq .notifications.dead)\" = 2 ]"
	[ "$(r status --json | jq .notifications.pending)" = 0 ]
	[ "$(notification 1 attempts)" = 3 ]
	[[ "$(notification 1 error)" == "gave up after 3 attempts: "*"onnect"* ]]
	run r status
	[[ "$output" == *"Notifications not delivered: 0 pending, 2 dead"* ]]
	[[ "$output" == *"audit (webhook) job #1 job_failed, 3 attempts: gave up after 3 attempts: "* ]]
	[[ "$output" == *"team (slack) job #1 job_failed, 3 attempts"* ]]
	# the daemon goes on with the next job
	set_pipeline "$SRC" "Pass" <<'YML'
stages:
  - name: unit
    run: "true"
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	# the endpoints' tokens are never shown
	r status --json > "$T/out"
	r show 1 >> "$T/out"
	! grep -qE 'SLACKTOKEN|TOKEN-SECRET|s3cret' "$T/out" "$T/serve.log" || false
	grep -q "notification #1 (job #1 job_failed) to 'audit': dead" "$T/serve.log"
}
