#!/usr/bin/env bats
# Idle costs nothing, with the defaults a user gets (idle_exit 60s; the
# daemon as root, as the docs install it, and as a user of its own).
# Idle workers and the notifier are woken by nothing: not the
# supervisor's heartbeat and the look that follows it, not a reader of the
# store (as root, SQLite re-owns the WAL on every open, changing its
# ctime). They leave idle_exit after their last work, and then the whole
# daemon is the supervisor alone, which opens no store and does not wake
# at all. A push starts a worker again, and the job's event the notifier.
#
# The absences are observed over windows: the workers' and the
# notifier's voluntary context switches (a task blocked in poll that
# woke and slept again counts one) across the supervisor's next heartbeat
# and looks; every system call of the supervisor alone under strace.

load lib

setup() {
	setup_env
	command -v strace >/dev/null ||
	    skip "needs strace (tests/deps.sh installs it)"
}
teardown() { teardown_env; }

# The daemon's children (workers, notifier), as pids.
children() { pgrep -P "$DAEMON_PID" || true; }

# Each task (thread) of processes $@ with its voluntary context switches.
switches() {
	local p t
	for p in "$@"; do
		for t in /proc/"$p"/task/*; do
			echo "${t#/proc/} $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)"
		done
	done
}

# settled SECONDS PID...: the processes did not wake for SECONDS: what
# they were doing is done.
settled() {
	local a wait=$1
	shift
	a=$(switches "$@")
	nap "$wait"
	[ "$a" = "$(switches "$@")" ]
}

# The repository and its pipeline, the daemon's runner.yml with nothing
# but the repository and a notification target (every setting that
# decides idle cost at its default); $RUN runs a command as the daemon's
# user, $REPO is where the hook is.
scenario() {
	start_sink http hook
	$RUN git init -q --bare "$REPO"
	$RUN "$RUNNER" install-hook "$REPO" >/dev/null
	SRC="$T/src"
	mkdir -p "$SRC"
	cat > "$SRC/.runner.yml" <<YML
stages:
  - name: unit
    run: echo unit
YML
	chown -R "$(stat -c %U "$REPO"):" "$SRC"
	$RUN git -C "$SRC" init -q -b develop
	$RUN git -C "$SRC" remote add origin "$REPO"
	$RUN git -C "$SRC" add -A
	$RUN git -C "$SRC" commit -q -m "A pipeline"
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $REPO
    auto_deploy: []
notify:
  - name: hook
    webhook: http://127.0.0.1:$SINK_PORT/hook
    on: [job_passed]
YML
	! grep -q idle_exit "$RUNNER_HOME/runner.yml" || false
}

# The whole scenario, with the daemon started by $@.
idle_costs_nothing() {
	"$@" >>"$T/serve.log" 2>&1 3>&- &
	wait_for "grep -q serving '$T/serve.log'" 15
	DAEMON_PID=$(pgrep -f "runner serve --workers 2" | while read -r p; do
	    own_daemon "$p" && echo "$p"; done | head -n 1)
	[ -n "$DAEMON_PID" ]
	$RUN git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ \"\$(sink_count hook)\" = 1 ]" 20
	wait_for "[ \"\$(job_field 1 '.notifications[0].state')\" = delivered ]" 20
	local ended=$EPOCHSECONDS kids
	kids=$(children | tr "\n" " ")
	[ "$(echo $kids | wc -w)" = 3 ] || { echo "children: $kids" >&2; false; }
	wait_for "settled 0.5 $kids" 15

	# 1. the workers and the notifier, idle, are not woken while the
	# supervisor beats (every 10 s while workers live) and looks at what
	# the beat wrote: a window from now until the supervisor opened the
	# store three times (its beat, its look and the look after; on
	# PostgreSQL, until it spoke to the server for its beat)
	local before after until
	if [ -z "${RUNNER_STORE:-}" ]; then
		until="[ \"\$(grep -c 'runner.db\", O_RDWR' '$T/sup.trace')\" -ge 3 ]"
	else
		until="grep -qE '^[0-9]+ +(connect|sendto)\\(' '$T/sup.trace'"
	fi
	before=$(switches $kids)
	timeout 30 strace -qq -f -e trace=openat,write,connect,sendto -o "$T/sup.trace" \
	    -p "$DAEMON_PID" 2>/dev/null &
	local tracer=$!
	# on PostgreSQL, another installation on the same database (a
	# schema of its own) queues a job meanwhile: not this one's to wake for
	if [ -n "${RUNNER_STORE:-}" ]; then
		local other
		other=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" schema "$RUNNER_TEST_PG")
		RUNNER_STORE=$other "$RUNNER" init --home "$T/other" >/dev/null
		RUNNER_STORE=$other "$RUNNER" run --home "$T/other" "$REPO" develop |
		    grep -q 1
	fi
	wait_for "$until" 25 || { cat "$T/sup.trace" >&2; false; }
	after=$(switches $kids)
	kill "$tracer" 2>/dev/null || true
	wait "$tracer" || true
	if [ "$before" != "$after" ]; then
		echo "idle workers or notifier woke; tasks and switches before:" >&2
		echo "$before" >&2
		echo "after:" >&2
		echo "$after" >&2
		cat "$T/sup.trace" >&2
		false
	fi
	# (nothing poked them: no write of a wake-up to their pipes)
	! grep -qE 'write\([0-9]+, "[wn]", 1\)' "$T/sup.trace" || false

	# 2. they leave by the default idle_exit (60 s) after their last work
	wait_for "[ -z \"\$(pgrep -P $DAEMON_PID)\" ]" $((90 - (EPOCHSECONDS - ended))) ||
	    { ps -o pid,etime,args --ppid "$DAEMON_PID" >&2; false; }

	# 3. the supervisor alone: no system call at all (it sleeps in poll
	# until a datagram, a signal or a write to the store or the spool),
	# once it is done with the children's leaving (the last connection
	# to the store wrote it: a look, and the one a second later)
	wait_for "settled 1.5 $DAEMON_PID" 15
	if [ -z "${RUNNER_STORE:-}" ]; then
		timeout 15 strace -qq -f -o "$T/idle.trace" -p "$DAEMON_PID" 2>/dev/null || true
		if grep -vE 'restart_syscall|<detached|resumed>' "$T/idle.trace" | grep -q .; then
			echo "the idle supervisor made system calls:" >&2
			cat "$T/idle.trace" >&2
			false
		fi
		! grep -q 'runner.db' "$T/idle.trace" || false
	else
		# on PostgreSQL it says this host is alive every third of the
		# lease (build hosts take back each other's ended leases); it
		# opens no file of the home's
		timeout 12 strace -qq -f -e trace=openat -o "$T/idle.trace" \
		    -p "$DAEMON_PID" 2>/dev/null || true
		! grep -q "$RUNNER_HOME" "$T/idle.trace" || false
	fi
	[ -z "$(children)" ]

	# 4. a push brings a worker back, and the job's event the notifier
	$RUN git -C "$SRC" commit -q --allow-empty -m again
	$RUN git -C "$SRC" push -q origin develop
	wait_state 2 passed 30
	wait_for "[ \"\$(sink_count hook)\" = 2 ]" 20
	[ "$(jq -r .job.id "$T/sink-hook/2.body")" = 2 ]
	! grep -q "died" "$T/serve.log" || false
}

@test "as root with the defaults: idle workers wake for nothing and leave; the supervisor alone sleeps; a push brings them back" {
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon as the docs install it"
	RUN=
	REPO="$T/app.git"
	scenario
	idle_costs_nothing "$RUNNER" serve --workers 2
}

@test "as a user of its own with the defaults: the same" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the daemon's user"
	svc_home
	RUN=svc
	REPO="$S/app.git"
	scenario
	idle_costs_nothing svc "$RUNNER" serve --workers 2
}
