#!/usr/bin/env bats
# A disk that fails a write of the store's log (fsync and fdatasync fail
# with EIO, tests/helpers/failsync.c preloaded into the daemon): what was
# committed since the last sync may never reach the disk, so the daemon
# stops at once and says why, and what was recorded before stays. On
# PostgreSQL the host's disk holds none of the store: the job ends as
# usual.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a failed sync of the store stops the daemon, which says why" {
	make_repo app
	src=$(make_clone app)
	LD_PRELOAD="$RUNNER_FAILSYNC_SO" RUNNER_FAILSYNC="$T/disk-fails" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    start_daemon --workers 1
	git -C "$src" push -q origin develop
	wait_state 1 passed
	# and the deployment to staging it queued
	[ "$(wait_deploy 2)" = healthy ]

	touch "$T/disk-fails"
	git -C "$src" commit -q --allow-empty -m second
	git -C "$src" push -q origin develop
	if [ "${RUNNER_TEST_STORE:-}" = pg ]; then
		# the build's archive, synced before it is recorded, fails
		[ "$(wait_deploy 3)" = failed ]
		[[ "$(job_field 3 .error)" == *"Input/output error"* ]]
		own_daemon "$DAEMON_PID"
		return
	fi
	wait_for "! own_daemon $DAEMON_PID" 30 || {
		echo "the daemon still runs; its log:"; tail -20 "$T/serve.log"
		false
	}
	run wait "$DAEMON_PID"
	DAEMON_PID=
	[ "$status" -eq 1 ] || { tail -20 "$T/serve.log"; false; }
	grep -q "a write of the store's log (.*/runner.db-wal) to disk failed (Input/output error)" "$T/serve.log"
	grep -Eq "(worker|notifier): store: a write of the store's log" "$T/serve.log"
	grep -q "could not write the store to disk: the runner stops" "$T/serve.log"
	grep -q "a write of the store to disk failed (logged above)" "$T/serve.log"
	[ -f "$RUNNER_HOME/store-disk-failed" ]

	# it does not serve again (a service manager's restart) until the
	# disk is checked and the mark removed
	rm "$T/disk-fails"
	run "$RUNNER" serve --workers 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"store-disk-failed': a write of the store to disk failed"* ]]
	rm "$RUNNER_HOME/store-disk-failed"
	start_daemon --workers 1
	[ "$(job_field 1 .state)" = passed ]
	# the build the failure met ends (recovered, or its end kept)
	wait_for "case \"\$(job_state 3)\" in queued|running) false;; *) true;; esac" 60
}
