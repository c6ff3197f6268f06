#!/usr/bin/env bats
# The hook under stress: a locked or missing store, an unwritable home.
# The push always succeeds with one clear warning line, and a push the
# store could not take is kept in the spool and run later, not lost.

load lib

setup() {
	setup_env
	make_repo app
	SRC=$(make_clone app)
	set_pipeline "$SRC" "Quick" <<'YML'
stages:
  - name: unit
    run: echo quick
YML
}
teardown() {
	[ -n "${LOCK_PID:-}" ] && kill "$LOCK_PID" 2>/dev/null
	[ -n "${RO_MOUNT:-}" ] && umount -l "$RO_MOUNT" 2>/dev/null
	teardown_env
}

@test "a locked store: the push goes through at once, spooled, and runs when the lock is gone" {
	sqlite_only "its write lock (t0950 stops the PostgreSQL server instead)"
	start_daemon --workers 1
	# another process holds the store's write lock
	mkfifo "$T/lock.fifo"
	# (it waits its turn: the daemon may be writing as it begins)
	sqlite3 -cmd '.timeout 10000' "$RUNNER_HOME/runner.db" < "$T/lock.fifo" >/dev/null 2>&1 3>&- &
	LOCK_PID=$!
	exec 8>"$T/lock.fifo"
	echo "BEGIN EXCLUSIVE; SELECT 1;" >&8
	wait_for "! sqlite3 '$RUNNER_HOME/runner.db' 'BEGIN IMMEDIATE; ROLLBACK;'" 10

	start=$(date +%s%N)
	run git -C "$SRC" push origin develop
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$status" -eq 0 ]
	echo "$output" >&3
	[ "$(echo "$output" | grep -c 'runner: warning')" -eq 1 ]
	[[ "$output" == *"runner: warning: store '$RUNNER_HOME/runner.db': "*"locked"*"; the push is saved in $RUNNER_HOME/spool"* ]]
	[ "$took" -lt 5000 ]
	[ "$(ls "$RUNNER_HOME/spool" | wc -l)" -eq 1 ]

	# the lock goes; the daemon queues the spooled push and runs it
	echo "COMMIT;" >&8
	exec 8>&-
	wait_for "! kill -0 $LOCK_PID" 10
	LOCK_PID=
	wait_state 1 passed
	[ "$(ls "$RUNNER_HOME/spool" | wc -l)" -eq 0 ]
	grep -q "queued 1 job from the spool" "$T/serve.log"
	store_intact
}

@test "a missing store: spooled, queued once the home is set up again" {
	sqlite_only "runner.db removed (t0950 stops the PostgreSQL server instead)"
	rm -f "$RUNNER_HOME"/runner.db*
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	echo "$output" >&3
	[ "$(echo "$output" | grep -c 'runner: warning')" -eq 1 ]
	[[ "$output" == *"cannot open store"*"the push is saved in"* ]]
	r init >/dev/null
	start_daemon --workers 1
	wait_state 1 passed
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
}

@test "an unwritable home: the push succeeds, nothing is queued, and the pusher is told so with the fix" {
	if [ "$(id -u)" = 0 ]; then
		# root writes anywhere: make the home a read-only mount
		mount --bind "$RUNNER_HOME" "$RUNNER_HOME"
		RO_MOUNT=$RUNNER_HOME
		mount -o remount,bind,ro "$RUNNER_HOME"
	else
		chmod -R a-w "$RUNNER_HOME"
	fi
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	if [ -n "${RUNNER_STORE:-}" ]; then
		# the store is PostgreSQL's, not the home's: queued all the same
		[[ "$output" != *"warning"* ]]
		[[ "$output" == *"runner: queued job #1"* ]]
		return
	fi
	# plainly that nothing was queued, with the fix, and no word of the
	# push being found later
	[[ "$output" == *"runner: ERROR: NOTHING WAS QUEUED for this push: cannot write '$RUNNER_HOME/spool'"* ]]
	[[ "$output" == *"runner: fix: "* ]]
	[[ "$output" != *"finds the push"* ]]
	git -C "$T/app.git" rev-parse -q --verify refs/heads/develop
}
