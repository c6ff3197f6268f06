#!/usr/bin/env bats
# Backups belong to a release: each deployment's backup command saves the
# data of the release serving before it into RUNNER_BACKUP_DIR, and a
# restore gets, in RUNNER_RESTORE_DIR, the backup taken when the release
# it returns to stopped serving. A rollback by hand backs up first.

load lib

setup() {
	case $BATS_TEST_DESCRIPTION in two*) REPO=one/app ;; esac
	setup_env
	empty_source "${REPO:-app}"
	printf 'v1\n' > "$SRC/version"
	git -C "$SRC" add version
	set_pipeline "$SRC" "v1" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && cp version dist/
    artifacts: [dist/**]
environments:
  staging:
    # a release migrates the data: it appends its version once
    deploy: |
      v=$(cat "$RUNNER_RELEASE_DIR/dist/version")
      grep -qx "$v" "$RUNNER_STATE_DIR/data" 2>/dev/null || echo "$v" >> "$RUNNER_STATE_DIR/data"
    backup: |
      echo "$RUNNER_RELEASE_ID $RUNNER_BACKUP_DIR" >> "$RUNNER_STATE_DIR/backups.log"
      [ ! -e "$RUNNER_STATE_DIR/data" ] || cp "$RUNNER_STATE_DIR/data" "$RUNNER_BACKUP_DIR/data"
    restore: |
      echo "$RUNNER_RELEASE_ID $RUNNER_RESTORE_DIR" >> "$RUNNER_STATE_DIR/restores.log"
      cp "$RUNNER_RESTORE_DIR/data" "$RUNNER_STATE_DIR/data"
YML
}
teardown() { teardown_env; }

@test "a rollback by hand backs up first, and restores the data of the release it returns to" {
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d1=$(last_job deploy staging)
	[ "$(wait_deploy "$d1")" = healthy ]
	printf 'v2\n' > "$SRC/version"
	git -C "$SRC" commit -qam v2
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job deploy staging)\" != $d1 ]" 30
	d2=$(last_job deploy staging)
	[ "$(wait_deploy "$d2")" = healthy ]
	state=$(env_dir state app staging)
	backups=$(env_dir backups app staging)
	[ "$(cat "$state/data")" = "$(printf 'v1\nv2')" ]
	# d2's backup holds the data as release d1 left it
	[ "$(cat "$backups/$d2/data")" = v1 ]

	run r rollback staging
	[ "$status" -eq 0 ]
	rb=$(last_job deploy staging)
	[ "$(wait_deploy "$rb")" = healthy ]
	[ "$(job_field "$rb" '[.stages[].name] | join(",")')" = "extract,backup,deploy,restore" ]
	# it backed up the data of d2 first, into its own folder
	[ "$(cat "$backups/$rb/data")" = "$(printf 'v1\nv2')" ]
	grep -qx "$rb $backups/$rb" "$state/backups.log"
	# and restored what d1 left, from the backup taken when d1 stopped
	grep -qx "$rb $backups/$d2" "$state/restores.log"
	[ "$(cat "$state/data")" = v1 ]
}

@test "two repositories named alike keep state and backups apart; an old home's folder moves to its repository" {
	# a home of runner 0.1 kept the state of one/app.git in state/app
	mkdir -p "$RUNNER_HOME/state/app/staging"
	echo v0 > "$RUNNER_HOME/state/app/staging/data"
	chmod -R a+rwX "$RUNNER_HOME/state/app"	# whoever the commands run as
	git init -q --bare "$T/two/app.git"
	"$RUNNER" install-hook "$T/two/app.git" >/dev/null
	git -C "$SRC" remote add two "$T/two/app.git"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d1=$(last_job deploy staging)
	[ "$(wait_deploy "$d1")" = healthy ] || { dump_state; r show "$d1"; false; }
	one=$(env_dir state one/app staging)
	two=$(env_dir state two/app staging)
	[ "$one" != "$two" ]
	# the old folder was one/app's (the only repository with an
	# environment): it moved, data and all
	[ ! -e "$RUNNER_HOME/state/app" ]
	[ "$(cat "$one/data")" = "$(printf 'v0\nv1')" ]

	git -C "$SRC" push -q two develop
	wait_for "[ \"\$(last_job deploy staging)\" != $d1 ]" 30
	d2=$(last_job deploy staging)
	[ "$(wait_deploy "$d2")" = healthy ]
	[ "$(job_field "$d2" .repo)" = "$(realpath "$T/two/app.git")" ]
	# two/app's deployment started from nothing of one/app's
	[ "$(cat "$two/data")" = v1 ]
	[ "$(cat "$one/data")" = "$(printf 'v0\nv1')" ]
	[ -e "$(env_dir backups two/app staging)/$d2" ]
	[ ! -e "$(env_dir backups one/app staging)/$d2" ]
}
