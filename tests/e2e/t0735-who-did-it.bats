#!/usr/bin/env bats
# Who paused the queue, ran or retried a build or deployed by hand is the
# real user (the kernel's uid), not what the environment says: any user
# can set SUDO_USER, so only root's SUDO_USER counts, and only naming a
# user that exists.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates a user"
	svc_home
	svc git init -q --bare "$S/app.git"
	SRC="$S/src"
	cp -r "$FIXTURE" "$SRC"
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo built > dist/app
    artifacts: [dist/**]
environments:
  production:
    requires: signed-tag
    deploy: "true"
YML
	chown -R "$SVC:" "$SRC"
	svc git -C "$SRC" init -q -b develop
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m first
	svc git -C "$SRC" push -q "$S/app.git" develop
}
teardown() { teardown_env; }

paused_by() {
	"$RUNNER" status --json | jq -r .queue.paused_by
}

@test "another user's SUDO_USER is not believed: its real name is recorded" {
	run svc env SUDO_USER=root "$RUNNER" pause
	[ "$status" = 0 ]
	[ "$(paused_by)" = "$SVC" ]
	svc "$RUNNER" resume >/dev/null

	run svc env SUDO_USER=root "$RUNNER" run "$S/app.git" develop
	[ "$status" = 0 ]
	[[ "$output" == *"by hand, by $SVC)"* ]]
	[[ "$output" != *"by root"* ]]
	id=$(last_job build)
	[[ "$("$RUNNER" show "$id")" == *"by hand:  $SVC"* ]]
	[ "$(db "select requested_by from jobs where id = $id")" = "$SVC" ]
}

@test "root run through sudo: SUDO_USER names who ran it, if that user exists" {
	SUDO_USER=$SVC "$RUNNER" pause >/dev/null
	[ "$(paused_by)" = "$SVC" ]
	"$RUNNER" resume >/dev/null

	SUDO_USER=no-such-user-here "$RUNNER" pause >/dev/null
	[ "$(paused_by)" = root ]
	"$RUNNER" resume >/dev/null

	run env SUDO_USER=$SVC "$RUNNER" run "$S/app.git" develop
	[ "$status" = 0 ]
	[[ "$output" == *"by hand, by $SVC)"* ]]
	run env SUDO_USER=no-such-user-here "$RUNNER" run "$S/app.git" develop
	[ "$status" = 0 ]
	[[ "$output" == *"by hand, by root)"* ]]
}

@test "runner deploy --force and retry by another user record its real name" {
	start_svc_daemon
	svc "$RUNNER" run "$S/app.git" develop >/dev/null
	wait_state 1 passed 60 || { r log 1 build >&2; false; }
	run svc env SUDO_USER=root "$RUNNER" deploy --force 1 production
	[ "$status" = 0 ]
	id=$(last_job deploy production)
	[ "$(job_field "$id" .forced_by)" = "$SVC" ]
	[ "$(job_field "$id" .requested_by)" = "$SVC" ]
	[[ "$("$RUNNER" show "$id")" == *"forced:   by $SVC"* ]]
	# a retry, the same
	run svc env SUDO_USER=root "$RUNNER" retry 1
	[ "$status" = 0 ] || { echo "$output"; false; }
	id=$(last_job build)
	[ "$id" != 1 ]
	[ "$(job_field "$id" .requested_by)" = "$SVC" ]
	[ "$(job_field "$id" '"\(.pushed_by)|\(.pushed_via)|\(.pushed_as)"')" = "$SVC|cli|$SVC" ]
}
