#!/usr/bin/env bats
# The store on PostgreSQL, named by runner.yml's `store:`, on a server
# this file starts (tests/helpers/pg.sh). Two build hosts, each a daemon
# with a home of its own, share its queue: every job runs once (host B
# fetches the sources over git:// into its cache). A host
# killed or frozen in the middle of a stage loses its job when its lease
# ends; the other host runs it again (attempt 2), and the frozen one,
# thawed, records nothing. With the server down a push still succeeds,
# is spooled, and runs once the server is back.

load lib

setup_file() { pg_server_start; }
teardown_file() { pg_server_stop; }

# host_config NAME: runner.yml of host NAME, on this test's schema; host
# B does not look at the repositories where they are: it fetches them
# from the git daemon at $GIT_URL into its cache
host_config() {
	cat <<YML
store: '$STORE_URL'
trust_repositories: true
isolate: false
supersede: false
host:
  name: $1
  labels: [linux]
  lease: 3s
YML
	[ "$1" != hostB ] || printf '  sources:\n    - path: %s\n      url: %s\n' \
	    "$T" "$GIT_URL"
}

# start_git_daemon ADDRESS: git's daemon serving $T there (git://)
start_git_daemon() {
	local port
	port=$(free_port)
	git daemon --reuseaddr --export-all --base-path="$T" --listen="$1" \
	    --port="$port" "$T" >>"$T/git-daemon.log" 2>&1 3>&- &
	GIT_PIDS+=($!)
	GIT_URL="git://$1:$port/"
	wait_for "(exec 3<>/dev/tcp/$1/$port) 2>/dev/null" 10
}

setup() {
	# this file names the store in runner.yml, as an operator does
	pg_setup_env
	GIT_PIDS=()
	start_git_daemon 127.0.0.1
	host_config hostA > "$RUNNER_HOME/runner.yml"
	r init >/dev/null
	HOME_B="$T/homeB"
	mkdir -m 0700 "$HOME_B"
	host_config hostB > "$HOME_B/runner.yml"
	chmod 0600 "$HOME_B/runner.yml"
	"$RUNNER" init --home "$HOME_B" >/dev/null
	make_repo app
	SRC=$(make_clone app)
	B_PID=
}
teardown() {
	[ -z "${frozen:-}" ] || kill -CONT $frozen 2>/dev/null || true
	for p in "${GIT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -z "${VA:-}" ] || ip link set "$VA" up 2>/dev/null || true
	if [ -n "${B_PID:-}" ]; then
		kill -TERM "$B_PID" 2>/dev/null || true
		wait_for "! kill -0 $B_PID 2>/dev/null" 30 || kill -KILL "$B_PID"
	fi
	# a server stopped by a test is started again for the next
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR" >/dev/null
	[ -z "${PG2:-}" ] || bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PG2"
	if [ -n "${NS:-}" ]; then
		ip link del "$VA" 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	fi
	teardown_env
}

start_host_b() {
	RUNNER_HOME=$HOME_B "$RUNNER" serve "$@" >>"$T/serveB.log" 2>&1 3>&- &
	B_PID=$!
	wait_for "grep -q 'serving' '$T/serveB.log'" 10
}

# two_hosts_build N: both hosts up (one worker each), N pushes of develop
# whose one stage takes a moment and writes its job's number to $T/runs;
# every job passed (supersede: false: every push is built)
two_hosts_build() {
	set_pipeline "$SRC" "Takes a moment" <<YML
stages:
  - name: unit
    run: sleep 0.3; echo "\$RUNNER_JOB" >> $T/runs
YML
	start_daemon --workers 1
	start_host_b --workers 1
	for i in $(seq 1 "$1"); do
		[ "$i" = 1 ] || git -C "$SRC" commit -q --allow-empty -m "Push $i"
		git -C "$SRC" push -q origin develop
	done
	wait_for "all_passed $1" 90
}

# the pid of the worker that runs job $1
worker_of() {
	psql -X -q -At "$STORE_URL" -c "SELECT worker_pid FROM jobs WHERE id = $1"
}

@test "runner.yml's store: two hosts share one queue; each job runs once, on either" {
	two_hosts_build 12
	# once each: 12 runs, 12 first attempts
	[ "$(wc -l < "$T/runs")" = 12 ]
	[ "$(sort -u "$T/runs" | wc -l)" = 12 ]
	for id in $(seq 1 12); do
		[ "$(job_field "$id" .attempt)" = 1 ]
	done
	# both hosts ran some, and the queue says who ran what
	hosts=$(for id in $(seq 1 12); do job_field "$id" .host; done | sort -u | tr '\n' ' ')
	[ "$hosts" = "hostA hostB " ]
	r status --json | jq -e '[.hosts[].name] == ["hostA","hostB"]'
	# nothing went to a SQLite file
	[ ! -e "$RUNNER_HOME/runner.db" ]
	[ ! -e "$HOME_B/runner.db" ]
	# host B fetched the commits of its jobs over git:// into its cache
	for id in $(seq 1 12); do
		[ "$(job_field "$id" .host)" = hostB ] || continue
		git --git-dir="$(ls -d "$HOME_B/cache/sources/"*app.git)" \
		    cat-file -e "$(job_field "$id" .commit)"
	done
}

@test "a host with builds: false takes no build" {
	host_config hostB > "$HOME_B/runner.yml"
	printf '  builds: false\n' >> "$HOME_B/runner.yml"
	two_hosts_build 6
	# host B looked for work all along (test 1: it takes half when it may)
	for id in $(seq 1 6); do
		[ "$(job_field "$id" .host)" = hostA ]
	done
	r status --json | jq -e '[.hosts[].name] == ["hostA","hostB"]'
}

# all_passed N: jobs 1..N passed
all_passed() {
	for id in $(seq 1 "$1"); do
		[ "$(job_state "$id")" = passed ] || return 1
	done
}

@test "a host killed mid-stage: the other runs the job again (attempt 2), once" {
	push_waiting_job --workers 1
	[ "$(job_field 1 .host)" = hostA ]
	start_host_b --workers 1
	# host A dies whole: its daemon, its worker, its stage
	wpid=$(worker_of 1)
	pgid=$(ps -o pgid= -p "$(pgrep -f "$T/runs" | head -n 1)" | tr -d ' ')
	kill -KILL "$DAEMON_PID" "$wpid"
	kill -KILL -- "-$pgid"
	DAEMON_PID=
	wait_for "grep -q \"job #1: the lease of host 'hostA' ended without a heartbeat: back in the queue\" '$T/serveB.log'" 30
	wait_for "[ \"\$(grep -c start $T/runs)\" = 2 ]" 30
	[ "$(job_field 1 .host)" = hostB ]
	[ "$(job_field 1 .attempt)" = 2 ]
	touch "$T/go"
	wait_state 1 passed 30
	[ "$(grep -c end "$T/runs")" = 1 ]
}

@test "a host frozen mid-stage: the other runs the job again; thawed, it records nothing" {
	push_waiting_job --workers 1
	start_host_b --workers 1
	wpid=$(worker_of 1)
	pgid=$(ps -o pgid= -p "$(pgrep -f "$T/runs" | head -n 1)" | tr -d ' ')
	# the whole host stops: daemon, worker (its heartbeat too), stage
	frozen="$DAEMON_PID $wpid"
	kill -STOP $frozen
	kill -STOP -- "-$pgid"
	wait_for "grep -q \"job #1: the lease of host 'hostA' ended without a heartbeat: back in the queue\" '$T/serveB.log'" 30
	wait_for "[ \"\$(grep -c start $T/runs)\" = 2 ]" 30
	[ "$(job_field 1 .host)" = hostB ]
	touch "$T/go"
	wait_state 1 passed 30
	# thawed: host A's worker learns it lost the job, stops what is left
	# of its attempt, and records nothing
	kill -CONT $frozen -- "-$pgid"
	frozen=
	wait_for "grep -q 'job #1: .*this worker no longer holds it' '$T/serve.log'" 30
	wait_for "! ps -e -o pgid=,stat= | awk -v g=$pgid '\$1 == g && \$2 !~ /^Z/' | grep -q ." 30
	[ "$(job_state 1)" = passed ]
	[ "$(job_field 1 .host)" = hostB ]
	[ "$(job_field 1 .attempt)" = 2 ]
	[ "$(job_field 1 '.stages | length')" = 1 ]
	[ "$(job_field 1 '.stages[0].state')" = passed ]
}

# spooled: the pushes waiting in the spool
spooled() {
	find "$RUNNER_HOME/spool" -maxdepth 1 -name '*.push' | wc -l
}

@test "the server down: the push succeeds, is spooled, and runs once the server is back" {
	set_pipeline "$SRC" "Quick" <<'YML'
stages:
  - name: unit
    run: echo quick
YML
	# the daemon serving: the hook hands the push over, and the daemon,
	# which cannot reach the server, says why at once
	start_daemon --workers 1
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PGDIR"
	run git -C "$SRC" push origin develop
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c 'runner: warning')" -eq 1 ]
	[[ "$output" == *"runner: warning: "*"store 'postgresql:"*"the push is saved in $RUNNER_HOME/spool and is queued once the store answers"* ]]
	[ "$(spooled)" -eq 1 ]
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR" >/dev/null
	wait_state 1 passed 60
	[ "$(spooled)" -eq 0 ]
	[ "$(job_field 1 .attempt)" = 1 ]
	# no daemon: the hook queues the push itself, for any host; with the
	# server down it spools it
	stop_daemon
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PGDIR"
	git -C "$SRC" commit -q --allow-empty -m again
	run git -C "$SRC" push origin develop
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c 'runner: warning')" -eq 1 ]
	[[ "$output" == *"cannot open store 'postgresql:"*"the push is saved in $RUNNER_HOME/spool"* ]]
	[ "$(spooled)" -eq 1 ]
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR" >/dev/null
	start_daemon --workers 1
	# (a server stopped at once forgets the numbers it had set aside)
	wait_for "[ -n \"\$(last_job build)\" ] && [ \"\$(last_job build)\" != 1 ]" 60
	wait_state "$(last_job build)" passed 60
	[ "$(spooled)" -eq 0 ]
}

# The daemon serving: the hook spools the push and waits for the
# daemon's answer (spool/taken/), looking for it at short intervals that
# grow, up to 2 s. A supervisor frozen while the push is spooled answers
# when thawed: the push names the job, and that job is the one that runs.
# Frozen past the 2 s, the push is saved (synced) and says so; thawed, the
# daemon queues it once.
@test "the daemon answering late: the push names the job that runs; past 2 s it is saved and queued once" {
	set_pipeline "$SRC" "Quick" <<YML
stages:
  - name: unit
    run: echo "\$RUNNER_JOB" >> $T/runs
YML
	start_daemon --workers 1
	frozen=$DAEMON_PID
	kill -STOP "$DAEMON_PID"
	git -C "$SRC" push origin develop > "$T/push1.out" 2>&1 &
	pusher=$!
	wait_for "[ \"\$(spooled)\" -eq 1 ]" 10
	kill -CONT "$DAEMON_PID"
	frozen=
	wait "$pusher"
	cat "$T/push1.out"
	grep -q "runner: queued job #1 for develop" "$T/push1.out"
	! grep -q "runner: warning\|has not queued" "$T/push1.out" || false
	wait_state 1 passed 60
	[ "$(spooled)" -eq 0 ]

	frozen=$DAEMON_PID
	kill -STOP "$DAEMON_PID"
	git -C "$SRC" commit -q --allow-empty -m late
	run git -C "$SRC" push origin develop
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: the runner's daemon has not queued the push yet (it is busy): it is saved in $RUNNER_HOME/spool"* ]]
	[ "$(spooled)" -eq 1 ]
	kill -CONT "$DAEMON_PID"
	frozen=
	wait_for "[ \"\$(last_job build)\" = 2 ]" 30
	wait_state 2 passed 60
	[ "$(spooled)" -eq 0 ]
	# each job ran once, and no third was queued
	[ "$(sort "$T/runs" | tr '\n' ' ')" = "1 2 " ]
	[ "$(job_field 2 .attempt)" = 1 ]
	[ "$(last_job build)" = 2 ]
}

# A host in a network namespace of its own, reaching the server over TCP
# through a veth pair whose far end the test can take down: the link cut.
@test "a host cut off mid-stage gives the job up before its lease ends; the other runs it, never both at once" {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	id=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	sub="10.201.$((id % 250)).$(( (id / 250 % 60) * 4 ))"
	near=${sub%.*}.$(( ${sub##*.} + 1 )) far=${sub%.*}.$(( ${sub##*.} + 2 ))
	NS=rtn$id VA=rta$id
	ip netns add "$NS"
	ip link add "$VA" type veth peer name "rtb$id"
	ip link set "rtb$id" netns "$NS"
	ip addr add "$near/30" dev "$VA"
	ip link set "$VA" up
	ip netns exec "$NS" ip addr add "$far/30" dev "rtb$id"
	ip netns exec "$NS" ip link set "rtb$id" up
	ip netns exec "$NS" ip link set lo up
	# a server of this test's own that also listens on TCP
	port=$(free_port)
	PG_PORT=$port PG_NET="$sub/30" bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$T/pg" >/dev/null
	PG2="$T/pg"
	STORE_URL="postgresql:///runner?host=$T/pg&port=$port&user=runner"
	host_config hostA > "$RUNNER_HOME/runner.yml"
	r init >/dev/null
	STORE_URL="postgresql://runner@$near:$port/runner"
	# host B fetches over the same link
	start_git_daemon "$near"
	host_config hostB > "$HOME_B/runner.yml"
	# each tick names the network namespace the stage runs in
	set_pipeline "$SRC" "Ticks until a sign" <<YML
stages:
  - name: slow
    run: |
      ns=\$(readlink /proc/self/ns/net)
      echo start >> $T/runs
      i=0; while [ ! -e $T/go ] && [ \$i -lt 1200 ]; do echo "\$ns \$(date +%s%N)" >> $T/ticks; sleep 0.05; i=\$((i+1)); done
YML
	# host B alone first: it claims the job
	ip netns exec "$NS" env RUNNER_HOME="$HOME_B" "$RUNNER" serve --workers 1 >>"$T/serveB.log" 2>&1 3>&- &
	B_PID=$!
	wait_for "grep -q 'serving' '$T/serveB.log'" 10
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(grep -c start $T/runs 2>/dev/null)\" = 1 ]" 30
	[ "$(job_field 1 .host)" = hostB ]
	start_daemon --workers 1
	ns_b=$(head -n 1 "$T/ticks" | cut -d' ' -f1)
	# the link goes down: host B can neither renew nor record
	ip link set "$VA" down
	wait_for "grep -q \"job #1: the lease of host 'hostB' ended without a heartbeat: back in the queue\" '$T/serve.log'" 30
	wait_for "[ \"\$(grep -c start $T/runs)\" = 2 ]" 30
	[ "$(job_field 1 .host)" = hostA ]
	[ "$(job_field 1 .attempt)" = 2 ]
	# never both at once: host B's last tick came before host A's first
	wait_for "awk -v n='$ns_b' '\$1 != n' $T/ticks | grep -q ." 10
	last_b=$(awk -v n="$ns_b" '$1 == n { t = $2 } END { print t }' "$T/ticks")
	first_a=$(awk -v n="$ns_b" '$1 != n { print $2; exit }' "$T/ticks")
	[ "$last_b" -lt "$first_a" ]
	touch "$T/go"
	wait_state 1 passed 30
	# the link back: host B records nothing of the job, and works on
	ip link set "$VA" up
	wait_for "grep -q 'job #1: ' '$T/serveB.log' && grep -qE 'job #1: .*(no longer holds it|cannot renew|gave it up|store)' '$T/serveB.log'" 30
	[ "$(job_state 1)" = passed ]
	[ "$(job_field 1 .host)" = hostA ]
	[ "$(job_field 1 '.stages | length')" = 1 ]
	[ "$(job_field 1 '.stages[0].state')" = passed ]
	[ "$(awk -v n="$ns_b" '$1 == n && $2 > '"$first_a" "$T/ticks" | wc -l)" = 0 ]
}
