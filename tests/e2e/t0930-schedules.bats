#!/usr/bin/env bats
# Schedules: builds of a branch's head at the times a cron expression
# says; one missed while the daemon was down runs once when it starts;
# skip_built leaves a head that has a build alone; status shows them.

load lib

setup() {
	setup_env
	empty_source app
	set_pipeline "$SRC" "first" <<'YML'
stages:
  - name: unit
    run: echo "scheduled build of $RUNNER_BRANCH"
YML
	git -C "$SRC" push -q -o ci.skip origin develop
}
teardown() { teardown_env; }

schedules() {
	cat > "$RUNNER_HOME/runner.yml" <<YML
schedules:
$1
YML
}
builds() { db "SELECT count(*) FROM jobs WHERE kind = 'build'"; }

@test "a schedule missed while the daemon was down runs once when it starts" {
	schedules "  - { name: nightly, repo: $T/app.git, branch: develop, cron: '0 3 * * *' }"
	start_daemon --workers 1
	# first seen now: nothing run for the past
	wait_for "[ -n \"\$(r status --json | jq -r '.schedules[0].last_ms // empty')\" ]" 10
	[ "$(builds)" = 0 ]
	run r status --json
	[ "$(jq -r '.schedules[0] | "\(.name) \(.branch) \(.cron)"' <<<"$output")" = "nightly develop 0 3 * * *" ]
	next=$(jq '.schedules[0].next_ms' <<<"$output")
	[ "$(date -d "@$((next / 1000))" +%H:%M)" = 03:00 ]
	r status | grep -q "^  nightly  app develop  '0 3 \* \* \*'  next in "
	stop_daemon
	# two nights pass while the daemon is down
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key = 'schedule:nightly'"
	start_daemon --workers 1
	wait_for "[ \"\$(builds)\" = 1 ]" 10
	wait_state 1 passed 30
	[ "$(job_field 1 .requested_by)" = "schedule nightly" ]
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
	grep -q "schedule 'nightly': queued job #1 for develop" "$T/serve.log"
	r log 1 unit | grep -q "scheduled build of develop"
	# once, not once per missed night; and not again at the next start
	stop_daemon
	start_daemon --workers 1
	[ "$(builds)" = 1 ]
}

@test "skip_built leaves a head that has a build alone" {
	schedules "  - { name: again, repo: $T/app.git, branch: develop, cron: '0 3 * * *', skip_built: true }"
	start_daemon --workers 1
	r run "$T/app.git" develop >/dev/null
	wait_state 1 passed 30
	stop_daemon
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key = 'schedule:again'"
	start_daemon --workers 1
	wait_for "grep -q \"schedule 'again': develop [0-9a-f]* was built already\" '$T/serve.log'" 10
	[ "$(builds)" = 1 ]
}

@test "a schedule fires at its time while the daemon runs; a bad one is refused" {
	schedules "  - { name: minutely, repo: $T/app.git, branch: develop, cron: '* * * * *' }"
	start_daemon --workers 1
	# the next whole minute
	wait_for "[ \"\$(builds)\" = 1 ]" 75
	wait_state 1 passed 30
	[ "$(job_field 1 .requested_by)" = "schedule minutely" ]
	schedules "  - { name: bad, repo: $T/app.git, branch: develop, cron: '61 * * * *' }"
	run r doctor
	[[ "$output" == *"runner.yml:2:"*"'cron' in schedule 'bad': minute: a value is out of the field's range (0 to 59)"* ]]
	schedules "  - { name: bad, repo: $T/app.git, branch: develop, cron: '* * *' }"
	run r doctor
	[[ "$output" == *"five fields: minute hour day-of-month month day-of-week"* ]]
	schedules "  - { name: bad, repo: $T/app.git, branch: '../x', cron: '* * * * *' }"
	run r doctor
	[[ "$output" == *"'branch' in schedule 'bad': '../x' is not a branch name"* ]]
}
