#!/usr/bin/env bats
# The gates of an environment (its pre-deployment checklist) each block a
# deployment when unmet, with the reason, and let it through when met.

load lib

setup() {
	setup_env
	make_repo app
	SRC=$(make_clone app)
}
teardown() { teardown_env; }

# Replace staging's definition with one that has the given gate lines.
gated_staging() {
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: build
    run: ./scripts/build.sh
    artifacts: [dist/**]
environments:
  staging:
    url: ${URL:-http://127.0.0.1:$STAGING_PORT}
    deploy: ./scripts/deploy.sh staging
$1
YML
	git -C "$SRC" commit -q -am "Gate staging"
}

@test "require_env blocks until the variable is set in runner.yml" {
	gated_staging "    require_env: [DATABASE_URL]"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = rejected ]
	[ "$(job_field "$d" .error)" = "gate require_env: 'DATABASE_URL' is not set in runner.yml (secrets)" ]
	[ ! -d "$RUNNER_HOME/releases/staging/$d" ]
	printf 'secrets:\n  DATABASE_URL: postgres://db/store\n' > "$RUNNER_HOME/runner.yml"
	r retry 1 >/dev/null
	wait_for "[ \"\$(last_job deploy staging)\" != $d ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
}

@test "require_changelog blocks a release whose changelog does not mention it" {
	make_ssh_signer release
	trust_config "    require_staging: false"
	cat >> "$SRC/.runner.yml" <<'YML'
    require_changelog: CHANGELOG.md
YML
	printf '# Changes\n\n## 1.0.0\n- first\n' > "$SRC/CHANGELOG.md"
	git -C "$SRC" add -A
	git -C "$SRC" commit -q -m "Changelog for 1.0.0"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	ssh_tag "$SRC" v2.0.0 release
	id=$(git -C "$SRC" push origin refs/tags/v2.0.0 2>&1 | sed -n 's/.*queued release #\([0-9]*\).*/\1/p')
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "gate require_changelog: 'CHANGELOG.md' does not mention v2.0.0" ]
	ssh_tag "$SRC" v1.0.0 release
	id=$(git -C "$SRC" push origin refs/tags/v1.0.0 2>&1 | sed -n 's/.*queued release #\([0-9]*\).*/\1/p')
	[ "$(wait_deploy "$id" 90)" = healthy ]
	[[ "$(job_field "$id" '[.stages[].name] | join(",")')" == "release build,gates,"* ]]
}

@test "require_tls_days blocks when the certificate expires too soon" {
	tls_port=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	openssl s_server -quiet -accept "$tls_port" -cert "$T/cert.pem" \
	    -key "$T/key.pem" -www </dev/null >/dev/null 2>&1 3>&- &
	wait_for "(exec 7<>/dev/tcp/127.0.0.1/$tls_port)" 10
	URL="https://127.0.0.1:$tls_port" gated_staging "    require_tls_days: 14"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = rejected ]
	job_field "$d" .error >&2	# shown if the test fails
	# a certificate made for 2 days has 1 whole day left, or 2 when this
	# machine's clock was stepped back since it was made
	[[ "$(job_field "$d" .error)" == "gate require_tls_days: the certificate of https://127.0.0.1:$tls_port expires in "[012]" days, less than 14" ]]
}
