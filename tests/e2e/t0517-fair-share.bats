#!/usr/bin/env bats
# One repository cannot hold every worker: by default its builds take all
# the workers but one while another repository is known, so a second
# team's push runs at once even when the first team's stages say
# timeout: 1000h. runner.yml's max_running sets the share; deployments are
# never held back.

load lib

setup() {
	setup_env
	for r in app other; do
		git init -q --bare "$T/$r.git"
		"$RUNNER" install-hook "$T/$r.git" >/dev/null
		git init -q -b develop "$T/src-$r"
		git -C "$T/src-$r" remote add origin "$T/$r.git"
	done
	# app's builds wait for a marker, for as long as their pipeline says
	set_pipeline "$T/src-app" "slow" <<YML
stages:
  - name: hold
    timeout: 1000h
    run: while [ ! -e "$MARK-go" ]; do sleep 0.05; done
YML
	set_pipeline "$T/src-other" "quick" <<'YML'
stages:
  - name: quick
    run: echo quick
YML
}
teardown() {
	touch "$MARK-go"
	teardown_env
}

# config LINES: runner.yml with both repositories' branches, and LINES
config() {
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '.*'
$1
YML
}

# the state of the newest build of repository NAME
state_of() {
	look r status --json --limit 100 | jq -r --arg r "$T/$1.git" \
	    '[.jobs[] | select(.repo == $r)] | max_by(.id) | .state'
}

@test "two endless builds of one repository leave a worker to another's push" {
	config ""
	start_daemon --workers 2
	# the other repository has been seen before
	git -C "$T/src-other" push -q origin develop
	wait_for "[ \"\$(state_of other)\" = passed ]" 30
	git -C "$T/src-app" push -q origin develop develop:feature
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"running\")] | length')\" = 1 ]" 30
	# the second build of app waits, though a worker is free
	look r status --json | jq -e '[.jobs[] | select(.state == "queued")] | length == 1' >/dev/null
	git -C "$T/src-other" commit -q --allow-empty -m again
	git -C "$T/src-other" push -q origin develop
	wait_for "[ \"\$(state_of other)\" = passed ]" 30
	[ "$(r status --json | jq '[.jobs[] | select(.state == "queued")] | length')" = 1 ]
	touch "$MARK-go"
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"passed\")] | length')\" = 4 ]" 30
}

@test "a repository runner.yml names is known before its first push" {
	config "  - path: $T/other.git"
	start_daemon --workers 2
	git -C "$T/src-app" push -q origin develop develop:feature
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"running\")] | length')\" = 1 ]" 30
	git -C "$T/src-other" push -q origin develop
	wait_for "[ \"\$(state_of other)\" = passed ]" 30
	look r status --json | jq -e '[.jobs[] | select(.state == "queued")] | length == 1' >/dev/null
}

@test "runner.yml max_running sets a repository's share" {
	config "    max_running: 2
  - path: $T/other.git"
	start_daemon --workers 2
	git -C "$T/src-app" push -q origin develop develop:feature
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"running\")] | length')\" = 2 ]" 30
	touch "$MARK-go"
	wait_for "[ \"\$(r status --json | jq '[.jobs[] | select(.state == \"passed\")] | length')\" = 2 ]" 30
}
