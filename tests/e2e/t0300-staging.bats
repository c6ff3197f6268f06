#!/usr/bin/env bats
# Staging: a green develop build deploys itself to staging, checked over
# HTTP; deployments to one environment are serialised; rollback works.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a green push deploys to staging and the service answers" {
	make_repo app
	src=$(make_clone app)
	start_daemon --workers 2
	git -C "$src" push -q origin develop
	wait_state 1 passed
	d=$(last_job deploy staging)
	[ -n "$d" ]
	[ "$(wait_deploy "$d")" = healthy ]
	[ "$(job_field "$d" .job)" = 1 ]
	[ "$(job_field "$d" .env)" = staging ]
	[ "$(job_field "$d" '.checks[0].name')" = /api/health ]
	[ "$(job_field "$d" '.checks[0].status')" = 200 ]
	[ "$(job_field "$d" '[.stages[].name] | join(",")')" = "extract,deploy,check /api/health,check ./scripts/smoke.sh" ]
	rel=$(job_field "$d" .release_dir)
	[ "$rel" = "$RUNNER_HOME/releases/staging/$d" ]
	# the release is the build's artifact, byte for byte
	# (GNU tar has nothing to say about it)
	tar --zstd -xf "$(job_field 1 '.artifacts[0].path')" -C "$T" dist 2>"$T/tar.err"
	[ ! -s "$T/tar.err" ]
	diff -r "$T/dist" "$rel/dist"
	http_body "$STAGING_PORT" /api/health | grep -q "\"version\":\"$(git -C "$src" rev-parse --short=7 HEAD)\""

	run r log "$d" deploy
	[[ "$output" == *"deployed $(git -C "$src" rev-parse --short=7 HEAD) to staging on port $STAGING_PORT"* ]]

	run r status --json
	[ "$(echo "$output" | jq -r '.environments[0].name')" = staging ]
	[ "$(echo "$output" | jq -r '.environments[0].state')" = healthy ]
	[ "$(echo "$output" | jq -r '.environments[0].release')" = "$d" ]
	[ "$(echo "$output" | jq -r '.environments[0].commit')" = "$(git -C "$src" rev-parse HEAD)" ]
	[ "$(echo "$output" | jq -r '.environments[0].job')" = 1 ]
	[ "$(echo "$output" | jq -r '.environments[0].checks[0].status')" = 200 ]
	run r status
	[[ "$output" == *"Environments:"*"app staging"*"healthy"*"release #$d"* ]]
}

@test "two quick pushes: staging deployments never overlap, the newest serves" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	git -C "$src" commit -q --allow-empty -m second
	git -C "$src" checkout -q -b other
	git -C "$src" commit -q --allow-empty -m third
	printf 'repos:\n  - path: %s\n    branches: "^(develop|other)$"\n' "$T/app.git" > "$RUNNER_HOME/runner.yml"
	git -C "$src" push -q origin develop other
	start_daemon --workers 2
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"queued\" or .state == \"running\")] | length')\" -eq 0 ]" 90
	# every deployment that ran did so alone
	r status --json --limit 100 | jq -r '.jobs[] | select(.kind == "deploy" and .started_ms != null) | "\(.started_ms) \(.finished_ms)"' | sort -n > "$T/spans"
	[ "$(wc -l < "$T/spans")" -ge 1 ]
	awk 'NR > 1 && $1 < prev_end { print "overlap: " $0; bad = 1 } { prev_end = $2 } END { exit bad }' "$T/spans"
	[ "$(r status --json | jq -r '.environments[0].state')" = healthy ]
}

@test "runner rollback staging redeploys the release before" {
	make_repo app
	src=$(make_clone app)
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	first=$(last_job deploy staging)
	[ "$(wait_deploy "$first")" = healthy ]
	git -C "$src" commit -q --allow-empty -m "Second release"
	git -C "$src" push -q origin develop
	wait_for "[ \"\$(last_job deploy staging)\" != $first ]" 30
	second=$(last_job deploy staging)
	[ "$(wait_deploy "$second")" = healthy ]
	http_body "$STAGING_PORT" /api/health | grep -q "$(git -C "$src" rev-parse --short=7 HEAD)"

	run r rollback staging
	[ "$status" -eq 0 ]
	[[ "$output" == *"rollback of staging to release #$first"* ]]
	rb=$(last_job deploy staging)
	[ "$(wait_deploy "$rb")" = healthy ]
	[ "$(job_field "$rb" .commit)" = "$(job_field "$first" .commit)" ]
	http_body "$STAGING_PORT" /api/health | grep -q "$(git -C "$src" rev-parse --short=7 HEAD~1)"
	[ "$(r status --json | jq -r '.environments[0].release')" = "$rb" ]

	run r releases staging
	[ "$status" -eq 0 ]
	[[ "$output" == *"* #$rb"* ]]
	[ "$(echo "$output" | wc -l)" -eq 3 ]
	run r rollback nowhere
	[ "$status" -eq 1 ]
	[[ "$output" == *"environment 'nowhere' has never been deployed"* ]]
	# what is not a release of staging is refused before anything is queued
	jobs=$(r status --json --limit 1000 | jq '.jobs | length')
	run r rollback staging --to 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"#1 is not a release of staging (it is a build)"* ]]
	run r rollback staging --to 99999
	[ "$status" -eq 1 ]
	[[ "$output" == *"no job #99999"* ]]
	[[ "$output" != *"FOREIGN KEY"* ]]
	[ "$(r status --json --limit 1000 | jq '.jobs | length')" = "$jobs" ]
}

@test "a failing staging check fails the deployment with the reason" {
	make_repo app
	src=$(make_clone app)
	echo broken > "$src/config/health"
	git -C "$src" commit -q -am "Break the health endpoint"
	start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d" 60)" = failed ]
	[[ "$(job_field "$d" .error)" == "check /api/health failed: GET http://127.0.0.1:$STAGING_PORT/api/health: status 500, expected 200" ]]
	[ "$(r status --json | jq -r '.environments[0].state')" = failed ]
}
