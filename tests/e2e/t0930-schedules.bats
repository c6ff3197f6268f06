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

@test "a schedule's branch is that branch, never a tag or a ref git would take for its name" {
	schedules "  - { name: release, repo: $T/app.git, branch: release, cron: '0 3 * * *' }"
	# no branch release; a pusher makes refs that git's guess at the
	# name refs/heads/release would take
	git -C "$SRC" commit -q --allow-empty -m "not the release branch"
	git -C "$SRC" push -q -o ci.skip origin HEAD:refs/tags/refs/heads/release \
	    HEAD:refs/heads/refs/heads/release
	start_daemon --workers 1
	wait_for "[ -n \"\$(r status --json | jq -r '.schedules[0].last_ms // empty')\" ]" 10
	stop_daemon
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key = 'schedule:release'"
	start_daemon --workers 1
	wait_for "grep -q \"schedule 'release'\" '$T/serve.log'" 20
	cat "$T/serve.log"
	grep -q "warning: schedule 'release': no refs/heads/release in" "$T/serve.log"
	[ "$(builds)" = 0 ]
}

@test "a root daemon reads a schedule's branch as the repository's owner, never as root" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	chown -R "$GIT_USER:" "$T/app.git"
	# root's alone: a secret that looks like a commit id, and a config
	# file; the repository's owner names them from its repository
	mkdir -m 0700 "$T/root-only"
	secret=0123456789abcdef0123456789abcdef01234567
	echo "$secret" > "$T/root-only/token"
	printf '[core]\n\tbare = true\n' > "$T/root-only/config"
	chmod 0600 "$T/root-only/token" "$T/root-only/config"
	as_git ln -s "$T/root-only/token" "$T/app.git/refs/heads/stolen"
	as_git git --git-dir="$T/app.git" config include.path "$T/root-only/config"
	mkdir -m 0755 "$T/other"
	git init -q --bare "$T/other/app.git"
	git --git-dir="$T/other/app.git" config include.path "$T/root-only/config"
	git -C "$SRC" push -q "$T/other/app.git" develop
	chmod 0777 "$T/other"
	schedules "  - { name: stolen, repo: $T/app.git, branch: stolen, cron: '0 3 * * *' }
  - { name: owners, repo: $T/app.git, branch: develop, cron: '0 3 * * *' }
  - { name: roots, repo: $T/other/app.git, branch: develop, cron: '0 3 * * *' }"
	start_daemon --workers 1
	wait_for "[ \$(r status --json | jq '[.schedules[] | select(.last_ms)] | length') = 3 ]" 10
	stop_daemon
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key LIKE 'schedule:%'"
	start_daemon --workers 1
	wait_for "grep -q \"schedule 'roots'\" '$T/serve.log'" 20
	wait_for "grep -q \"schedule 'stolen'\" '$T/serve.log'" 20
	cat "$T/serve.log"
	# the owner's git cannot read root's files: no job, and the secret
	# nowhere
	grep -q "warning: schedule 'stolen': no refs/heads/stolen in" "$T/serve.log"
	[ "$(db "SELECT count(*) FROM jobs WHERE requested_by = 'schedule stolen'")" = 0 ]
	! grep -rq "$secret" "$T/serve.log" "$RUNNER_HOME" || false
	# root's repository in a folder others may change: root runs no git
	grep -q "warning: schedule 'roots': .* a folder on its path may be changed by another user" "$T/serve.log"
	[ "$(db "SELECT count(*) FROM jobs WHERE requested_by = 'schedule roots'")" = 0 ]
	# the owner's own branch: read as the owner (its include.path, which
	# it may not read, makes its git fail)
	grep -q "warning: schedule 'owners': no refs/heads/develop in" "$T/serve.log"
	as_git git config --file "$T/app.git/config" --unset include.path
	stop_daemon
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key = 'schedule:owners'"
	start_daemon --workers 1
	wait_for "grep -q \"schedule 'owners': queued job\" '$T/serve.log'" 20
	[ "$(db "SELECT commit_id FROM jobs WHERE requested_by = 'schedule owners'")" = "$(git -C "$SRC" rev-parse HEAD)" ]
}

@test "a daemon of its own user reads another user's branch without following a link" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git and the runner's users"
	git_user
	svc_home
	chown -R "$GIT_USER:" "$T/app.git"
	# the runner's alone: a secret file that looks like a commit id
	secret=89abcdef0123456789abcdef0123456789abcdef
	echo "$secret" > "$S/token"
	chown "$SVC:" "$S/token"
	chmod 0600 "$S/token"
	as_git ln -s "$S/token" "$T/app.git/refs/heads/stolen"
	# a hard link to it (where fs.protected_hardlinks is off)
	ln "$S/token" "$T/app.git/refs/heads/hard"
	as_git git --git-dir="$T/app.git" update-ref refs/heads/packed refs/heads/develop
	as_git git --git-dir="$T/app.git" pack-refs --all
	as_git git --git-dir="$T/app.git" update-ref refs/heads/loose refs/heads/develop
	head=$(git -C "$SRC" rev-parse HEAD)
	schedules "  - { name: stolen, repo: $T/app.git, branch: stolen, cron: '0 3 * * *' }
  - { name: hard, repo: $T/app.git, branch: hard, cron: '0 3 * * *' }
  - { name: packed, repo: $T/app.git, branch: packed, cron: '0 3 * * *' }
  - { name: loose, repo: $T/app.git, branch: loose, cron: '0 3 * * *' }"
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	wait_for "[ \$(r status --json | jq '[.schedules[] | select(.last_ms)] | length') = 4 ]" 10
	stop_daemon
	db "UPDATE settings SET value = '$(( $(date +%s%3N) - 2 * 86400000 ))' WHERE key LIKE 'schedule:%'"
	start_svc_daemon
	for n in stolen hard packed loose; do
		wait_for "grep -q \"schedule '$n'\" '$T/serve.log'" 20
	done
	cat "$T/serve.log"
	grep -q "warning: schedule 'stolen': cannot read refs/heads/stolen without following a link" "$T/serve.log"
	grep -q "warning: schedule 'hard': refs/heads/hard is not a file of one name" "$T/serve.log"
	[ "$(db "SELECT count(*) FROM jobs WHERE requested_by IN ('schedule stolen', 'schedule hard')")" = 0 ]
	! grep -rq "$secret" "$T/serve.log" "$RUNNER_HOME" || false
	# the owner's branches, loose and packed, are read all the same
	[ "$(db "SELECT commit_id FROM jobs WHERE requested_by = 'schedule packed'")" = "$head" ]
	[ "$(db "SELECT commit_id FROM jobs WHERE requested_by = 'schedule loose'")" = "$head" ]
}
