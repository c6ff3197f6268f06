#!/usr/bin/env bats
# A developer who may push to develop but holds no release key attacks the
# server from a build stage and from the staging deploy command that a
# green build runs by itself: force a production deploy, write the store,
# add a signer, read runner.yml, read a production secret, rewrite the
# live production release, write another repository's hooks, read the
# daemon's environment. Every attempt fails, the job says what was refused
# where it can, and production is unchanged.

load lib

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon switches to the build user"
	release_setup
	ssh_tag "$SRC" v1.0.0 release
	PROD=$(push_tag v1.0.0)
	[ "$(wait_deploy "$PROD" 90)" = healthy ]
	PROD_DIR=$(job_field "$PROD" .release_dir)
	# the server production's deploy started (the pid it saved is its
	# pid in the command's own pid namespace)
	PROD_PID=$(pgrep -f -- "store-server $PROD_PORT ")
	# production's commands, and the service they started, run as a user
	# of their own: not the one that runs code from develop
	[ "$(ps -o user= -p "$PROD_PID")" = runner-release ]
	git init -q --bare "$T/other.git"
	"$RUNNER" install-hook "$T/other.git" >/dev/null
	snapshot
}
teardown() { teardown_env; }

# What must not change, taken before the attack.
snapshot() {
	BEFORE_SIGNERS=$(sha256sum < "$T/allowed_signers")
	BEFORE_HOOKS=$(ls -la "$T/other.git/hooks" | sha256sum)
	BEFORE_RELEASE=$(cd "$PROD_DIR" && find . -type f -exec sha256sum {} + | sort | sha256sum)
}

production_unchanged() {
	[ "$(sha256sum < "$T/allowed_signers")" = "$BEFORE_SIGNERS" ]
	[ "$(ls -la "$T/other.git/hooks" | sha256sum)" = "$BEFORE_HOOKS" ]
	[ "$(cd "$PROD_DIR" && find . -type f -exec sha256sum {} + | sort | sha256sum)" = "$BEFORE_RELEASE" ]
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | "\(.state) \(.release) \(.release_files)"')" = "healthy $PROD intact" ]
	# no deployment to production but the signed one
	[ "$(r status --json --limit 1000 | jq '[.jobs[] | select(.env == "production")] | length')" = 1 ]
	store_sound
	http_body "$PROD_PORT" /health | grep -qx ok
	kill -0 "$PROD_PID"
}

# The attack, as a script in the repository: each attempt prints
# BLOCKED or ESCAPED with its name.
attack_script() {
	cat > "$SRC/attack.sh" <<SH
#!/bin/sh
try() {
	name=\$1
	shift
	if ( "\$@" ) >/dev/null 2>&1; then echo "ESCAPED \$name"; else echo "BLOCKED \$name"; fi
}
try deploy-force "$RUNNER" deploy --home "$RUNNER_HOME" --force 1 production
try store-write sh -c 'echo x >> "$RUNNER_HOME/runner.db"'
try store-sql sqlite3 "$RUNNER_HOME/runner.db" "UPDATE jobs SET state = 'passed'"
try signers sh -c 'echo "evil@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGHLgrYWZQyH6D5d8NQ2sb06hTXHk7SyE3SFojx8n4XY" >> "$T/allowed_signers"'
try read-config cat "$RUNNER_HOME/runner.yml"
try read-secret-file cat "$T/prod-token"
try prod-release sh -c 'echo pwned > "$PROD_DIR/dist/VERSION"'
try prod-release-new sh -c 'echo pwned > "$PROD_DIR/dist/new-file"'
try other-hooks sh -c 'printf "#!/bin/sh\\necho owned\\n" > "$T/other.git/hooks/post-update"'
try signal-prod kill -0 $PROD_PID
try daemon-environ sh -c 'cat /proc/$DAEMON_PID/environ | grep -q RUNNER_HOME'
try runner-logs sh -c 'ls "$RUNNER_HOME/logs" | grep -q .'
if [ -e "$T/allowed_signers" ]; then echo ON-HOST; else echo SANDBOXED; fi
echo "attack done"
SH
	chmod +x "$SRC/attack.sh"
}

# A develop commit whose build and staging deploy run the attack.
push_attack() {
	attack_script
	sed -i 's|^    run: ./tests/run-unit.sh|    run: ./attack.sh \&\& ./tests/run-unit.sh|' "$SRC/.runner.yml"
	sed -i 's|^    deploy: ./scripts/deploy.sh staging|    deploy: ./attack.sh \&\& ./scripts/deploy.sh staging|' "$SRC/.runner.yml"
	git -C "$SRC" add -A
	git -C "$SRC" commit -q -m "Innocent refactoring"
	git -C "$SRC" push -q origin develop
}

# every_attempt_blocked LOG WHERE
every_attempt_blocked() {
	local log=$1
	echo "$log" >&2		# shown when the test fails
	[[ "$log" == *"attack done"* ]]
	grep -qx "$2" <<<"$log"
	[ "$(grep -c '^BLOCKED ' <<<"$log")" = 12 ]
	! grep '^ESCAPED ' <<<"$log" || false
}

# A secret of production's, in a file only the runner's user reads.
prod_token() {
	echo prod-secret-value > "$T/prod-token"
	chmod 600 "$T/prod-token"
}

# attack WHERE [REPO-LINES]: runner.yml with REPO-LINES for the repository
# and a production secret; the attack pushed; every attempt of the build
# stage and of the staging deploy refused, each run WHERE it should
# (sandboxed, or on the host), and production unchanged.
attack() {
	prod_token
	trust_config "${2:-}secrets:
  PROD_TOKEN: { file: $T/prod-token, environments: [production] }"
	push_attack
	build=$(last_job build)
	wait_state "$build" passed 90
	every_attempt_blocked "$(r log "$build" unit)" "$1"
	wait_for "[ \"\$(last_job deploy staging)\" -gt $PROD ]" 30
	dep=$(last_job deploy staging)
	[ "$(wait_deploy "$dep" 90)" = healthy ]
	every_attempt_blocked "$(r log "$dep" deploy)" "$1"
	production_unchanged
}

@test "a build stage and a staging deploy of develop cannot reach production, the store or secrets" {
	attack SANDBOXED
}

@test "the same attacks fail where runner.yml lets the repository run unconfined" {
	attack ON-HOST "    isolate: false
"
}

@test "a secret scoped to production is refused to a build stage and to staging, by name" {
	prod_token
	trust_config "secrets:
  PROD_TOKEN: { file: $T/prod-token, environments: [production] }
  TAG_ONLY: { value: tag-secret-value, refs: '^refs/tags/v' }"
	set_pipeline "$SRC" "Wants the production token" <<'YML'
stages:
  - name: steal
    secrets: [PROD_TOKEN]
    run: echo "token=$PROD_TOKEN"
YML
	git -C "$SRC" push -q origin develop
	build=$(last_job build)
	wait_state "$build" failed
	[ "$(job_field "$build" .error)" = "stage 'steal' names secret 'PROD_TOKEN', whose scope in runner.yml is environments production; it was not given" ]
	! r log "$build" steal | grep -q prod-secret-value || false
	set_pipeline "$SRC" "Wants a tag secret on a branch" <<'YML'
stages:
  - name: steal
    secrets: [TAG_ONLY]
    run: echo "token=$TAG_ONLY"
YML
	git -C "$SRC" push -q origin develop
	build=$(last_job build)
	wait_state "$build" failed
	[[ "$(job_field "$build" .error)" == *"names secret 'TAG_ONLY', whose scope in runner.yml is refs '^refs/tags/v'"* ]]
	# and from the staging environment of a develop commit
	cp "$FIXTURE/.runner.yml" "$SRC/.runner.yml"
	sed -i "s/127.0.0.1:6502/127.0.0.1:$STAGING_PORT/; s/127.0.0.1:6503/127.0.0.1:$PROD_PORT/" "$SRC/.runner.yml"
	sed -i 's|^    deploy: ./scripts/deploy.sh staging|    secrets: [PROD_TOKEN]\n    deploy: echo "token=$PROD_TOKEN"|' "$SRC/.runner.yml"
	git -C "$SRC" commit -q -am "Staging wants the production token"
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job deploy staging)\" -gt $PROD ]" 60
	dep=$(last_job deploy staging)
	# it failed, and staging went back to the release before
	[ "$(wait_deploy "$dep" 60)" = rolled_back ] || { r show "$dep" >&2; false; }
	[[ "$(job_field "$dep" .error)" == *"deploy 'deploy' names secret 'PROD_TOKEN', whose scope in runner.yml is environments production; it was not given"* ]]
	! r log "$dep" deploy | grep -q prod-secret-value || false
	production_unchanged
}

@test "a repository cannot widen the server's policy: isolate: false and network: true are refused" {
	set_pipeline "$SRC" "Out of the sandbox" <<'YML'
stages:
  - name: escape
    isolate: false
    run: cat /etc/hostname
YML
	git -C "$SRC" push -q origin develop
	build=$(last_job build)
	wait_state "$build" error
	job_field "$build" .error >&2
	[ "$(job_field "$build" .error)" = ".runner.yml:3:14: stage 'escape' says 'isolate: false', which runner.yml does not allow for $T/app.git (a repository can narrow the server's policy, never widen it)" ]
	trust_config "network: false"
	set_pipeline "$SRC" "Wants the network" <<'YML'
stages:
  - name: online
    network: true
    run: true
YML
	git -C "$SRC" push -q origin develop
	build=$(last_job build)
	wait_state "$build" error
	[[ "$(job_field "$build" .error)" == *"stage 'online' says 'network: true', which runner.yml does not allow"* ]]
	production_unchanged
}

@test "a release whose files changed is shown tampered, and a rollback extracts it again" {
	# the runner's user (root here) changes a file of the serving release
	echo changed >> "$PROD_DIR/dist/VERSION"
	run r status
	[[ "$output" == *"TAMPERED: release #$PROD has 1 file changed since it was extracted (dist/VERSION)"* ]]
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | .release_files')" = tampered ]
	run r releases production
	[[ "$output" == *"#$PROD"*"TAMPERED (1 changed)"* ]]
	[ "$(r releases production --json | jq -r ".releases[] | select(.id == $PROD) | .release_files")" = tampered ]
	# a rollback by hand to it deploys a fresh copy of the build's artifact
	id=$(r rollback production --to "$PROD" | sed -n 's/^queued deployment #\([0-9]*\):.*/\1/p')
	[ -n "$id" ]
	[ "$(wait_deploy "$id" 90)" = healthy ]
	new_dir=$(job_field "$id" .release_dir)
	[ "$new_dir" != "$PROD_DIR" ]
	! grep -q changed "$new_dir/dist/VERSION" || false
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | .release_files')" = intact ]
}
