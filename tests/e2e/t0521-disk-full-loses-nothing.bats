#!/usr/bin/env bats
# A build that fills the home's disk fails once, with the reason, and is
# not queued again to fill it again; another repository's pushes before,
# during and after the fill are all queued and run; 'cancel' and 'status'
# work while the disk is full; a push that could have no job is refused
# at pre-receive, or said loudly by post-receive. The home is on a small
# tmpfs made by the test (mounting needs root; without it the test is
# skipped and says why).

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs for the home"
	mkdir "$T/small"
	mount -t tmpfs -o size=40m tmpfs "$T/small"
	export RUNNER_HOME="$T/small/home"
	"$RUNNER" init >/dev/null
	empty_source app
	make_repo other
	OTHER="$T/src-other"
	git init -q -b develop "$OTHER"
	git -C "$OTHER" remote add origin "$T/other.git"
}
teardown() {
	# a worker frozen by a failing test is thawed to stop
	[ -z "${children:-}" ] || kill -CONT $children 2>/dev/null || true
	stop_daemon
	[ -d "$T/small" ] && umount -l "$T/small" 2>/dev/null
	teardown_env
}

# Bytes free on the small home.
free_bytes() {
	df -B1 --output=avail "$T/small" | tail -1 | tr -d ' '
}

# other_push MESSAGE: a commit of the other repository pushed; the push's
# output in $T/push.out.
other_push() {
	set_pipeline "$OTHER" "$1" <<YML
stages:
  - name: unit
    run: echo '$1'
YML
	git -C "$OTHER" push origin develop >"$T/push.out" 2>&1
}

# The job of the other repository's last push, as its hook said it.
queued_id() {
	sed -n 's/.*queued job #\([0-9]*\) .*/\1/p' "$T/push.out" | tail -1
}

# What a failing assertion shows.
show_job() {
	echo "--- job $1 ---"
	r show "$1" 2>&1 || true
	echo "--- daemon log ---"
	cat "$T/serve.log"
}

@test "the build that fills the disk fails once; the other repository's pushes are all queued and run" {
	start_daemon --workers 1
	# the reserves are set aside at start
	wait_for "[ -f '$RUNNER_HOME/reserve' ] && [ -f '$RUNNER_HOME/spool/.reserve' ]" 10

	other_push "Before the fill"
	before=$(queued_id)
	wait_state "$before" passed 60

	# a build that writes until the disk is full, then holds it (its
	# workspace is measured every 2 s; it starts writing after the first)
	set_pipeline "$SRC" "Fill the disk" <<'YML'
stages:
  - name: fill
    run: |
      sleep 1.5
      head -c 100000000 /dev/zero > big || true
      sleep 300
YML
	git -C "$SRC" push -q origin develop
	fill=$(look r status --json | jq '[.jobs[] | select(.repo | endswith("/app.git"))][0].id')
	# the worker is frozen as soon as the disk is full, so that what
	# follows happens while it is
	freeze_when "[ \$(free_bytes) -lt 65536 ]" 60
	children=$(pgrep -P "$DAEMON_PID" | tr '\n' ' ')

	# during the fill: the push is queued, on the store's reserve,
	# which the full disk made it release; status and cancel work; the
	# build that filled the disk is still there, holding what it wrote
	other_push "During the fill"
	cat "$T/push.out"
	during=$(queued_id)
	[ -n "$during" ]
	! grep -q 'error\|warning' "$T/push.out" || false
	# (e2e-pg: the store is on the server's disk, which is not full)
	[ -n "${RUNNER_STORE:-}" ] || [ ! -e "$RUNNER_HOME/reserve" ]
	set_pipeline "$SRC" "Canceled during the fill" <<'YML'
stages:
  - name: unit
    run: echo fine
YML
	git -C "$SRC" push origin develop >"$T/push.out" 2>&1
	canceled=$(queued_id)
	[ -n "$canceled" ]
	run r status
	[ "$status" -eq 0 ]
	[[ "$output" == *"#$canceled "*queued*"app develop"* ]]
	run r cancel "$canceled"
	[ "$status" -eq 0 ]
	[ "$output" = "canceled job #$canceled" ]
	[ "$(job_state "$fill")" = running ]
	[ "$(du -sm "$RUNNER_HOME/work/$fill" | cut -f1)" -ge 30 ]

	kill -CONT $children
	wait_state "$fill" failed 60 || { show_job "$fill"; false; }
	error=$(job_field "$fill" .error)
	# (with the SQLite store, its reserve is said used too)
	[[ "$error" == "stage 'fill': the runner's disk is full (home '$RUNNER_HOME': "*" free"*") while it wrote to its workspace ("*" now)" ]] ||
	    { show_job "$fill"; false; }
	wait_state "$during" passed 60 || { show_job "$during"; false; }
	[ "$(job_state "$canceled")" = canceled ]

	# after: room again, the reserves made again, and pushes run
	wait_for "[ -f '$RUNNER_HOME/reserve' ] && [ -f '$RUNNER_HOME/spool/.reserve' ]" 10
	other_push "After the fill"
	after=$(queued_id)
	wait_state "$after" passed 60 || { show_job "$after"; false; }

	# the filling build ran once: attempt 1, failed, never queued again
	[ "$(job_field "$fill" .attempt)" = 1 ]
	[ "$(job_state "$fill")" = failed ]
	[ "$(look r status --json | jq -c '[.jobs[] | select(.repo | endswith("/app.git")) | .id] | sort')" = "[$fill,$canceled]" ]
	[ ! -e "$RUNNER_HOME/work/$fill" ]
	store_intact
}

@test "a push that could have no job is refused at pre-receive, or said loudly by post-receive" {
	r install-hook --pre-receive "$T/app.git" >/dev/null
	set_pipeline "$SRC" "First" <<'YML'
stages:
  - name: unit
    run: echo fine
YML
	# the disk full, and its reserves used up (the daemon is not running
	# to make them again)
	rm -f "$RUNNER_HOME/reserve" "$RUNNER_HOME/spool/.reserve"
	dd if=/dev/zero of="$T/small/fill" bs=64k 2>/dev/null || true
	[ "$(free_bytes)" -lt 65536 ]

	run git -C "$SRC" push origin develop
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing the push: the runner's disk is full (home '$RUNNER_HOME': "*" KiB free, its reserve used up): this push's job could not be recorded; push again once there is room"* ]]

	# without the pre-receive hook, git takes the push: the hook says
	# loudly that it has no job (e2e-pg: the store is on the server's
	# disk, and the push is queued there)
	set_pipeline "$OTHER" "Lost" <<'YML'
stages:
  - name: unit
    run: echo fine
YML
	run git -C "$OTHER" push origin develop
	[ "$status" -eq 0 ]
	if [ -z "${RUNNER_STORE:-}" ]; then
		[[ "$output" == *"the runner's disk is full; NOTHING WAS QUEUED for this push: push again once there is room"* ]]
	else
		[[ "$output" == *"queued job #"* ]]
	fi

	# room again: the push is taken and queued
	rm -f "$T/small/fill"
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"queued job #"* ]]
}
