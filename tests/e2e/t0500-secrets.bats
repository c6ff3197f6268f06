#!/usr/bin/env bats
# Secrets are defined on the server, given only to the stages and
# deployments that name them, masked in logs (also split across writes,
# base64 and URL-encoded), and never stored or shown.

load lib

TOKEN='tok/3x4mpl3+VALUE='

setup() {
	setup_env
	empty_source app
	printf 'file-secret-0451\n' > "$T/secret-file"
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    auto_deploy: [staging]
secrets:
  DEPLOY_TOKEN: '$TOKEN'
  FROM_FILE: { file: $T/secret-file }
  UNUSED_SECRET: never-given-7777
YML
}
teardown() { teardown_env; }

@test "a stage gets only the secrets it names, masked in every form" {
	set_pipeline "$SRC" "Use secrets" <<'YML'
stages:
  - name: use
    secrets: [DEPLOY_TOKEN, FROM_FILE]
    run:
      - echo "plain $DEPLOY_TOKEN and $FROM_FILE"
      - printf '%s' "$DEPLOY_TOKEN" | base64
      - printf 'x%s' "$DEPLOY_TOKEN" | base64
      - jq -rn --arg v "$DEPLOY_TOKEN" '"url " + ($v|@uri)'
      - printf 'split tok/3x4'; sleep 0.2; printf 'mpl3+VALUE= done\n'
      - env | grep -c UNUSED_SECRET || true
  - name: other
    run: test -z "${DEPLOY_TOKEN:-}" && test -z "${FROM_FILE:-}" && echo "no secrets here"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	log=$(r log --raw 1 use)
	[[ "$log" == *"plain *** and ***"* ]]
	[[ "$log" == *"split *** done"* ]]
	[[ "$log" == *"url ***"* ]]
	# the stage really had the value: its base64 is there, masked
	[ "$(echo "$log" | grep -c '\*\*\*')" -ge 5 ]
	echo "$log" | grep -qx 0		# UNUSED_SECRET was not given
	[[ "$(r log 1 other)" == *"no secrets here"* ]]
	# no form of any value anywhere: logs, store, status, show, daemon log
	b64=$(printf '%s' "$TOKEN" | base64)
	uri=$(jq -rn --arg v "$TOKEN" '$v|@uri')
	r status > "$T/out"; r status --json >> "$T/out"; r show --json 1 >> "$T/out"
	for v in "$TOKEN" "${b64%??}" "$uri" file-secret-0451 never-given-7777; do
		! grep -rqF -- "$v" "$RUNNER_HOME/logs" "$RUNNER_HOME/runner.db" \
		    "$T/out" "$T/serve.log" || false
		! db .dump | grep -qF -- "$v" || false
	done
}

@test "a missing secret fails the stage by name, never by value" {
	set_pipeline "$SRC" "Needs more" <<'YML'
stages:
  - name: deploy-prep
    secrets: [DEPLOY_TOKEN, NOT_DEFINED]
    run: echo should not run
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed
	[ "$(job_field 1 .error)" = "stage 'deploy-prep' needs secret 'NOT_DEFINED', which is not defined in runner.yml (secrets:)" ]
	! r log 1 deploy-prep | grep -q "should not run" || false
	! grep -rqF -- "$TOKEN" "$RUNNER_HOME/logs" "$T/serve.log" || false
	# bad names are caught when the pipeline is read
	cat > "$T/bad.yml" <<'YML'
stages:
  - name: x
    run: "true"
    secrets: [DEPLOY-TOKEN]
YML
	run r check "$T/bad.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.yml:4:15: bad secret name 'DEPLOY-TOKEN' in stage 'x'"* ]]
}

@test "deploy commands and checks get the environment's secrets, masked" {
	set_pipeline "$SRC" "Deploy with a token" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo app > dist/app
    artifacts: [dist/**]
environments:
  staging:
    secrets: [DEPLOY_TOKEN]
    deploy: test -n "\$DEPLOY_TOKEN" && echo "deploying with \$DEPLOY_TOKEN"
    checks:
      - run: test -n "\$DEPLOY_TOKEN" && echo "checked with \$DEPLOY_TOKEN"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ -n \"\$(last_job deploy staging)\" ]"
	id=$(last_job deploy staging)
	[ "$(wait_deploy "$id")" = healthy ]
	log=$(r log --raw "$id")
	[[ "$log" == *"deploying with ***"* ]]
	[[ "$log" == *"checked with ***"* ]]
	! grep -rqF -- "$TOKEN" "$RUNNER_HOME/logs" "$RUNNER_HOME/runner.db" "$T/serve.log" || false
	# the build stage did not get it
	[[ "$(r log 1 build)" != *"***"* ]]
}
