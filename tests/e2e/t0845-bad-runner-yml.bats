#!/usr/bin/env bats
# A runner.yml with a mistake never stops the service. Reloaded with
# SIGHUP (a YAML mistake, then a schema one), the daemon logs it once and
# everything keeps the last good configuration: a push by the runner's
# user and one handed over through the spool by the git server's user are
# queued and run; status, the web page and /metrics answer and show the
# mistake as a warning, and so does doctor; `runner check --config` names
# the line and column first. Pushes over ssh and smart HTTP (sshd and
# nginx of the test's own) and through gitolite3 are queued and run under
# the mistake too. Reloaded as the unit's ExecReload does, the check
# fails the reload first. A corrected file, reloaded, clears it all.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	WEB_PORT=$(free_port)
	# the pushes of the runner's own user
	empty_source app
	set_pipeline "$SRC" <<'YML'
stages:
  - name: build
    run: echo built
YML
	# and of the git server's user, through the spool
	git init -q --bare "$T/gitapp.git"
	chown -R "$GIT_USER:" "$T/gitapp.git"
	"$RUNNER" install-hook "$T/gitapp.git" >/dev/null
	GSRC="$T/gsrc"
	git init -q -b develop "$GSRC"
	git -C "$GSRC" remote add origin "$T/gitapp.git"
	# its stage lasts: the supervisor goes round its loop (once a
	# second) while the mistake is in place
	printf 'stages:\n  - name: build\n    run: sleep 2\n' > "$GSRC/.runner.yml"
	git -C "$GSRC" add .runner.yml
	git -C "$GSRC" commit -q -m "A pipeline"
	chown -R "$GIT_USER:" "$GSRC"
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$WEB_PORT" > "$RUNNER_HOME/runner.yml"
	cp "$RUNNER_HOME/runner.yml" "$T/good.yml"
}
teardown() { teardown_env; }

# the jobs of a push, one more each time: commit and push from $1 (as
# the git user when $2 says so)
push() {
	if [ "${2:-}" = git ]; then
		as_git git -C "$1" commit -q --allow-empty -m "${3:-again}"
		as_git git -C "$1" push -q origin develop
	else
		git -C "$1" commit -q --allow-empty -m "${3:-again}"
		git -C "$1" push -q origin develop
	fi
}

# over_servers: push $GSRC's develop over ssh to a repository of the ssh
# account's, then over smart HTTP to one of the web server's user, and
# wait for each to be handed over.
over_servers() {
	local out
	mkdir -p -m 0755 "$T/srv"
	start_sshd runner-test-ssh
	git init -q --bare "$T/srv/sshapp.git"
	chown -R runner-test-ssh: "$T/srv/sshapp.git"
	git init -q --bare "$T/srv/httpapp.git"
	chown -R "$GIT_USER:" "$T/srv/httpapp.git"
	"$RUNNER" install-hook "$T/srv/sshapp.git" >/dev/null
	"$RUNNER" install-hook "$T/srv/httpapp.git" >/dev/null
	start_git_http "$GIT_USER" "$T/srv"
	out=$(git -C "$GSRC" push "$SSH_URL$T/srv/sshapp.git" develop 2>&1) ||
	    { echo "$out"; return 1; }
	[[ "$out" == *"handed 1 update"* ]] || { echo "$out"; return 1; }
	out=$(git -C "$GSRC" push "$HTTP_URL/httpapp.git" develop 2>&1) ||
	    { echo "$out"; return 1; }
	[[ "$out" == *"handed 1 update"* ]] || { echo "$out"; return 1; }
}

# over_gitolite: push $GSRC's develop through gitolite3 (as the git
# user, Debian's set-up) and wait for it to be handed over.
over_gitolite() {
	local out
	start_gitolite "$GIT_USER"
	gitolite_conf 'repo glapp
    RW+ = admin' >/dev/null
	"$RUNNER" install-hook "$GL/repositories/glapp.git" >/dev/null
	out=$(git -C "$GSRC" push admin@gl:glapp develop 2>&1) ||
	    { echo "$out"; return 1; }
	[[ "$out" == *"handed 1 update"* ]] || { echo "$out"; return 1; }
}

# reload_as_the_unit: the unit's ExecReload lines, as systemd runs them:
# one after the other, the first that fails failing the reload.
reload_as_the_unit() {
	local line
	while IFS= read -r line; do
		line=${line//@bindir@/$RUNNER_BIN_DIR}
		line=${line//\/var\/lib\/runner/$RUNNER_HOME}
		line=${line//\$MAINPID/$DAEMON_PID}
		eval "$line" || return 1
	done < <(sed -n 's/^ExecReload=//p' "$SOURCE_ROOT/runner/daemon/runner.service.in")
}

@test "a runner.yml with a mistake, reloaded: pushes run, status, page and metrics answer and warn" {
	start_daemon --workers 1
	web_up
	[ "$(stat -c %a "$RUNNER_HOME/runner.yml.last-good")" = 600 ]
	cmp "$RUNNER_HOME/runner.yml" "$RUNNER_HOME/runner.yml.last-good"

	# a YAML mistake: check names it, before any reload
	printf 'http:\n  listen: 127.0.0.1:%s\n base_url: http://ci.example.test/\n' \
	    "$WEB_PORT" > "$RUNNER_HOME/runner.yml"
	mistake="$RUNNER_HOME/runner.yml:3:2: did not find expected key while parsing a block mapping"
	run r check --config
	[ "$status" -eq 1 ]
	[ "$output" = "runner: $mistake" ]
	run r check --config "$T/good.yml"
	[ "$status" -eq 0 ]
	[[ "$output" == "$T/good.yml: ok, "* ]]
	run r check --config --dump
	[ "$status" -eq 2 ]
	kill -HUP "$DAEMON_PID"
	wait_for "grep -qF \"warning: reload failed: \$mistake; keeping the configuration loaded before\" '$T/serve.log'" 10

	# pushes are queued and run: the runner's own, and one through the
	# spool
	git -C "$SRC" commit -q --allow-empty -m direct
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	# the triggers of the configuration kept, not the defaults
	[[ "$output" == *"runner: queued job #1 for develop"* ]]
	[[ "$output" != *"default triggers"* ]]
	push "$GSRC" git "spooled"
	wait_state 1 passed 60
	wait_state 2 passed 60
	[ "$(job_field 1 .repo)" = "$T/app.git" ]
	[ "$(job_field 2 .repo)" = "$T/gitapp.git" ]
	# (taken/ keeps the daemon's answers to the runner's own hook a
	# while: on PostgreSQL every push of it goes through the spool)
	[ -z "$(find "$RUNNER_HOME/spool" -path "$RUNNER_HOME/spool/taken" -prune -o -name '*.push' -print)" ] ||
	    { find "$RUNNER_HOME/spool" -ls; false; }

	# status answers, with the mistake as a warning
	run r status
	[ "$status" -eq 0 ]
	[[ "$output" == *"daemon: running (pid $DAEMON_PID"* ]]
	[[ "$output" == *"warning: $mistake; the runner keeps the configuration it last loaded"* ]]
	r status --json | jq -e --arg m "$mistake" '[.warnings[] | select(startswith($m))] | length == 1'
	# the web page and /metrics too
	[ "$(web_status /)" = 200 ]
	[ "$(web_status /metrics)" = 200 ]
	http_body "$WEB_PORT" / | grep -qF "warning: $mistake"
	http_body "$WEB_PORT" /metrics > "$T/metrics"
	grep -qx 'runner_up 1' "$T/metrics"
	grep -qx 'runner_config_ok 0' "$T/metrics"
	# doctor warns, and says what to do
	run r doctor
	[[ "$output" == *"warn  runner.yml: $mistake"* ]]
	[[ "$output" == *"fix: correct it ('runner check --config' names the line), then reload the daemon"* ]]
	# said once in the log, by the supervisor, while job 2's stage ran
	# for 2s; the web page was never restarted for it
	[ "$(grep -cF "$mistake" "$T/serve.log")" = 1 ] || { cat "$T/serve.log"; false; }
	! grep -q 'runner-web) ended' "$T/serve.log" || false

	# a schema mistake: the same
	printf 'http:\n  listen: 127.0.0.1:%s\nidle_exit: soon\n' "$WEB_PORT" > "$RUNNER_HOME/runner.yml"
	schema="$RUNNER_HOME/runner.yml:3:12: bad 'idle_exit' 'soon' (use a number with s, m or h, like 10m)"
	run r check --config
	[ "$status" -eq 1 ]
	[ "$output" = "runner: $schema" ]
	kill -HUP "$DAEMON_PID"
	wait_for "grep -qF \"warning: reload failed: \$schema\" '$T/serve.log'" 10
	push "$GSRC" git "spooled again"
	wait_state 3 passed 60
	# and over the git servers' transports: ssh, smart HTTP
	last=4
	if [ -x /usr/sbin/sshd ] && [ -x /usr/sbin/nginx ] && [ -x /usr/sbin/fcgiwrap ]; then
		over_servers
		wait_state 4 passed 60
		wait_state 5 passed 60
		[ "$(job_field 4 .repo)" = "$T/srv/sshapp.git" ]
		[ "$(job_field 5 .repo)" = "$T/srv/httpapp.git" ]
		last=6
	else
		echo "# sshd, nginx or fcgiwrap is not installed: the ssh and HTTP pushes are not tried (tests/deps.sh installs them)" >&3
	fi
	# and through gitolite3
	if command -v gitolite >/dev/null; then
		over_gitolite
		wait_state $last passed 60
		[ "$(job_field $last .repo)" = "$GL/repositories/glapp.git" ]
		last=$((last + 1))
	else
		echo "# gitolite3 is not installed: the gitolite push is not tried (tests/deps.sh installs it)" >&3
	fi
	r status --json | jq -e --arg m "$schema" '[.warnings[] | select(startswith($m))] | length == 1'
	[ "$(grep -c 'reload failed' "$T/serve.log")" = 2 ]

	# reloaded as the unit reloads: its check fails the reload, saying
	# where, and the daemon is not signalled
	run reload_as_the_unit
	[ "$status" -ne 0 ]
	[ "$output" = "runner: $schema" ]
	[ "$(grep -c 'reload failed' "$T/serve.log")" = 2 ]

	# corrected and reloaded as the unit does: the warning is gone
	# everywhere
	cp "$T/good.yml" "$RUNNER_HOME/runner.yml"
	echo "idle_exit: 2m" >> "$RUNNER_HOME/runner.yml"
	run reload_as_the_unit
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	wait_for "grep -q 'reloaded $RUNNER_HOME/runner.yml' '$T/serve.log'" 10
	cmp "$RUNNER_HOME/runner.yml" "$RUNNER_HOME/runner.yml.last-good"
	[ "$(r status --json | jq '[.warnings[] | select(contains("runner.yml"))] | length')" = 0 ]
	run r status
	[[ "$output" != *"runner.yml:"* ]]
	http_body "$WEB_PORT" /metrics | grep -qx 'runner_config_ok 1'
	run r doctor
	[[ "$output" == *"ok    runner.yml"* ]]
	push "$SRC" "" "after the fix"
	wait_state $last passed 60
}

@test "runner check --config: exit codes, and a file the daemon would refuse" {
	run r check --config
	[ "$status" -eq 0 ]
	[ "$output" = "$RUNNER_HOME/runner.yml: ok, 0 repositories, 0 environments, 0 notify targets, 0 schedules" ]
	# a signers file that cannot be read stops serve: check says so too
	printf 'repos:\n  - path: %s/app.git\n    allowed_signers: %s/none\n' "$T" "$T" > "$T/signers.yml"
	run r check --config "$T/signers.yml"
	[ "$status" -eq 1 ]
	[ "$output" = "runner: $T/signers.yml:2: 'allowed_signers' of $T/app.git: cannot read '$T/none': No such file or directory" ]
	run r check --config "$T/missing.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/missing.yml"* ]]
	run r check --config a.yml b.yml
	[ "$status" -eq 2 ]
	# no copy kept yet (the daemon never ran): status says what is wrong
	printf 'workers: [\n' > "$RUNNER_HOME/runner.yml"
	run r status
	echo "$output"
	[[ "$output" == *"$RUNNER_HOME/runner.yml:2:1: did not find expected node content"* ]]
	# the SQLite store is found through runner.yml; PostgreSQL's here
	# through RUNNER_STORE, so status can still show the jobs
	[ -n "${RUNNER_STORE:-}" ] || [ "$status" -eq 1 ]
}
