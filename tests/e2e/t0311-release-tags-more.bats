#!/usr/bin/env bats
# Production by signed tag, continued from t0310 (split so the two run in
# parallel): untested commits, the pre-receive hook, a failing production
# health check rolled back, and deploys by hand.

load lib

setup() { release_setup; }
teardown() { teardown_env; }

@test "a signed tag on an untested commit is rejected" {
	git -C "$SRC" commit -q --allow-empty -m "Never built"
	ssh_tag "$SRC" v1.1.0 release
	id=$(push_tag v1.1.0)
	[ "$(wait_deploy "$id")" = rejected ]
	[[ "$(job_field "$id" .error)" == "commit $(git -C "$SRC" rev-parse --short=7 HEAD) of tag 'v1.1.0' has no passed build"* ]]
}

@test "the pre-receive hook refuses bad release tags at push time" {
	r install-hook --pre-receive "$T/app.git"
	make_ssh_signer stranger untrusted
	git -C "$SRC" tag -a v3.0.1 -m "unsigned"
	git -C "$SRC" tag v3.0.2
	ssh_tag "$SRC" v3.0.3 stranger
	for t in v3.0.1 v3.0.2 v3.0.3; do
		run git -C "$SRC" push origin "refs/tags/$t"
		[ "$status" -ne 0 ]
		[[ "$output" == *"runner: refusing release tag '$t': "* ]]
		! git -C "$T/app.git" rev-parse -q --verify "refs/tags/$t" || false
	done
	[[ "$output" == *"signature is not by an allowed signer"* ]]
	git -C "$SRC" commit -q --allow-empty -m "Never built"
	ssh_tag "$SRC" v3.1.0 release
	run git -C "$SRC" push origin refs/tags/v3.1.0
	[ "$status" -ne 0 ]
	[[ "$output" == *"has no passed build"* ]]
	# a runner.yml with a mistake: tags are judged by the last good one
	# the daemon kept, branches pass
	cp "$RUNNER_HOME/runner.yml" "$T/runner.yml.good"
	printf 'repos: [\n' > "$RUNNER_HOME/runner.yml"
	git -C "$SRC" tag -a v9.9.9 -m unsigned
	run git -C "$SRC" push origin refs/tags/v9.9.9
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing release tag 'v9.9.9': "* ]]
	! git -C "$T/app.git" rev-parse -q --verify refs/tags/v9.9.9 || false
	git -C "$SRC" push -q origin HEAD:refs/heads/other
	git -C "$T/app.git" rev-parse -q --verify refs/heads/other
	cp "$T/runner.yml.good" "$RUNNER_HOME/runner.yml"
	# a good one passes the hook and deploys
	ssh_tag "$SRC" v3.2.0 release HEAD~1
	git -C "$SRC" tag -d v3.2.0 >/dev/null
	git -C "$SRC" checkout -q HEAD~1
	ssh_tag "$SRC" v3.2.0 release
	id=$(push_tag v3.2.0)
	[ "$(wait_deploy "$id" 90)" = healthy ]
}

@test "a production release whose health check fails is rolled back and restored" {
	ssh_tag "$SRC" v1.0.0 release
	good=$(push_tag v1.0.0)
	[ "$(wait_deploy "$good" 90)" = healthy ]
	# the broken release never reaches staging health, so allow it past
	trust_config "    require_staging: false"
	echo broken > "$SRC/config/health"
	git -C "$SRC" commit -q -am "Break the health endpoint"
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_state \$(last_job build))\" = passed ]" 60
	ssh_tag "$SRC" v1.0.1 release
	bad=$(push_tag v1.0.1)
	[ "$(wait_deploy "$bad" 90)" = rolled_back ]
	[[ "$(job_field "$bad" .error)" == "check /api/health failed: "*"status 500"* ]]
	[ "$(job_field "$bad" .previous_release)" = "$good" ]
	[[ "$(job_field "$bad" '[.stages[].name] | join(",")')" == *"rollback to #$good,restore,check /api/health,check /health" ]]
	# the previous release serves again, its data restored
	http_body "$PROD_PORT" /api/health | grep -q "\"version\":\"$(git -C "$SRC" rev-parse --short=7 "v1.0.0^{commit}")\""
	grep -q "restored backup_" "$(env_dir state app production)/state/restore.log"
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | "\(.state) \(.release)"')" = "healthy $good" ]
}

@test "runner deploy by hand: production needs --force and records who" {
	run r deploy 1 production
	[ "$status" -eq 1 ]
	[[ "$output" == *"environment 'production' requires a signed release tag"* ]]
	run r deploy --force 1 production
	[ "$status" -eq 0 ]
	id=$(echo "$output" | sed -n 's/queued deployment #\([0-9]*\).*/\1/p')
	[ "$(wait_deploy "$id" 90)" = healthy ]
	[ "$(job_field "$id" .forced_by)" = "$(id -un)" ]
	run r deploy 1 nowhere
	[ "$status" -eq 1 ]
	[[ "$output" == *"no environment 'nowhere'"* ]]
}

@test "runner retry of a failed release deploys that release again, checking its signature" {
	# the production port is taken: the first deployment of v2.0.0 fails
	start_sink http blocker --port "$PROD_PORT"
	ssh_tag "$SRC" v2.0.0 release
	id=$(push_tag v2.0.0)
	[ "$(wait_deploy "$id" 90)" = failed ]
	builds=$(last_job build)
	stop_sink blocker
	run r retry "$id"
	[ "$status" -eq 0 ]
	[[ "$output" == "queued deployment #"*" to production (retry of #$id)" ]]
	again=$(echo "$output" | sed -n 's/queued deployment #\([0-9]*\).*/\1/p')
	[ "$(wait_deploy "$again" 90)" = healthy ]
	[ "$(job_field "$again" .env)" = production ]
	[ "$(job_field "$again" .tag)" = v2.0.0 ]
	[ "$(job_field "$again" .retry_of)" = "$id" ]
	[ "$(job_field "$again" .requested_by)" = "$(id -un)" ]
	[ -n "$(job_field "$again" .tag_object)" ]
	# no build was queued, and the tag deployed once it worked
	[ "$(last_job build)" = "$builds" ]
	http_body "$PROD_PORT" /api/health | grep -q "\"version\":\"$(git -C "$SRC" rev-parse --short=7 "v2.0.0^{commit}")\""
}
