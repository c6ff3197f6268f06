#!/usr/bin/env bats
# Build hosts that add capacity on one PostgreSQL store, a server this
# file starts. Three hosts of four workers run 300 sleeping jobs, each
# exactly once, spread over the three (the rate is the benchmark's:
# tests/bench/run). A host whose clock is five minutes off, ahead or
# behind, neither takes the job of a live host nor keeps the job of a
# dead one: leases are kept by the server's clock. A server stopped at
# once and started again under load loses no job, and no job runs twice
# at once.

load lib

setup_file() { pg_server_start; }
teardown_file() { pg_server_stop; }

setup() {
	# this file names the store in runner.yml, as an operator does
	pg_setup_env
	HOST_PIDS=()
	mkdir "$T/hosts"
	host_config hostA > "$RUNNER_HOME/runner.yml"
	r init >/dev/null
	make_repo app
	SRC=$(make_clone app)
}
teardown() {
	[ -z "${frozen:-}" ] || kill -CONT $frozen 2>/dev/null || true
	for p in "${HOST_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${HOST_PIDS[@]}"; do
		wait_for "! kill -0 $p 2>/dev/null" 30 || kill -KILL "$p" 2>/dev/null || true
	done
	[ -z "${PG2:-}" ] || bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PG2"
	teardown_env
}

# host_config NAME: runner.yml of host NAME; the repository's branches
# b1, b2... are built too
host_config() {
	cat <<YML
store: '$STORE_URL'
trust_repositories: true
isolate: false
supersede: false
repos:
  - path: $T/app.git
    branches: '^(develop|b[0-9]+)\$'
host:
  name: $1
  lease: 3s
YML
}

# start_host NAME WORKERS [VAR=VALUE...]: host NAME's daemon, with the
# variables given; hostA's home is the test's (the repository's hook
# hands pushes to it), the others' $T/hosts/NAME. HOST_NAME is its pid.
start_host() {
	local name=$1 workers=$2 home=$T/hosts/$1
	shift 2
	[ "$name" != hostA ] || home=$RUNNER_HOME
	mkdir -p -m 0700 "$home"
	host_config "$name" > "$home/runner.yml"
	chmod 0600 "$home/runner.yml"
	"$RUNNER" init --home "$home" >/dev/null
	env RUNNER_HOME="$home" "$@" "$RUNNER" serve --workers "$workers" \
	    >>"$T/serve-$name.log" 2>&1 3>&- &
	HOST_PIDS+=($!)
	printf -v "HOST_$name" '%s' "$!"
	wait_for "grep -q 'serving' '$T/serve-$name.log'" 10
}

q() {
	psql -X -q -At "$STORE_URL" -c "$1"
}

# show_hosts: what the hosts said, for a failing test
show_hosts() {
	for f in "$T"/serve-*.log; do echo "--- $f"; cat "$f"; done
	q "SELECT id, state, host, attempt, error FROM jobs ORDER BY id"
}

@test "300 sleeping jobs on three hosts of four workers: each runs once, on every host" {
	set_pipeline "$SRC" "Sleeps" <<YML
stages:
  - name: unit
    run: sleep 0.2; echo "\$RUNNER_JOB" >> $T/runs
YML
	# 300 branches, each on a commit of its own, in one push
	base=$(git -C "$SRC" rev-parse HEAD)
	tree=$(git -C "$SRC" rev-parse "HEAD^{tree}")
	for i in $(seq 1 300); do
		git -C "$SRC" update-ref "refs/heads/b$i" \
		    "$(git -C "$SRC" commit-tree -p "$base" -m "Commit $i" "$tree")"
	done
	start_host hostA 4
	start_host hostB 4
	start_host hostC 4
	run git -C "$SRC" push origin 'refs/heads/b*'
	[ "$status" -eq 0 ]
	# the hook handed the push to hostA's daemon, which queued it
	[ "$(echo "$output" | grep -c 'runner: queued job #')" = 300 ]
	wait_for "[ \"\$(q \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" = 300 ]" 240 ||
	    { show_hosts; false; }
	# once each: 300 runs of 300 jobs, each its first attempt
	[ "$(wc -l < "$T/runs")" = 300 ]
	[ "$(sort -u "$T/runs" | wc -l)" = 300 ]
	[ "$(q "SELECT count(*) FROM jobs WHERE attempt <> 1")" = 0 ]
	# every host ran its part (a tenth at least)
	q "SELECT host, count(*) FROM jobs GROUP BY host ORDER BY host"
	[ "$(q "SELECT count(DISTINCT host) FROM jobs")" = 3 ]
	[ "$(q "SELECT min(n) FROM (SELECT count(*) AS n FROM jobs GROUP BY host) AS h")" -ge 30 ]
}

# skewed SKEW-MS: host A holds job 1 and host B, its clock SKEW-MS off,
# job 2; for two leases neither takes the other's; host B dies, and host
# A takes its job within the lease and a few seconds, as attempt 2
skewed() {
	set_pipeline "$SRC" "Waits for a sign" <<YML
stages:
  - name: slow
    run: |
      echo "start \$RUNNER_JOB" >> $T/runs
      i=0; while [ ! -e $T/go ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
      echo "end \$RUNNER_JOB" >> $T/runs
YML
	start_host hostA 2
	git -C "$SRC" push -q origin develop
	wait_for "grep -q 'start 1' $T/runs" 30
	# host A takes nothing more for now: job 2 goes to host B
	r drain hostA >/dev/null
	start_host hostB 1 RUNNER_TEST_CLOCK_SKEW="$1"
	git -C "$SRC" commit -q --allow-empty -m "Second"
	git -C "$SRC" push -q origin develop
	wait_for "grep -q 'start 2' $T/runs" 30
	[ "$(q "SELECT host FROM jobs WHERE id = 1")" = hostA ]
	[ "$(q "SELECT host FROM jobs WHERE id = 2")" = hostB ]
	# both hosts look at the leases with each heartbeat (a third of the
	# lease): two leases of heartbeats, by the server's clock
	a0=$(q "SELECT heartbeat_ms FROM hosts WHERE name = 'hostA'")
	b0=$(q "SELECT heartbeat_ms FROM hosts WHERE name = 'hostB'")
	wait_for "[ \"\$(q \"SELECT count(*) FROM hosts WHERE (name = 'hostA' AND heartbeat_ms > $a0 + 6000) OR (name = 'hostB' AND heartbeat_ms > $b0 + 6000)\")\" = 2 ]" 30
	# neither was taken: both are their first attempt, where they were
	q "SELECT id, state, host, attempt FROM jobs ORDER BY id"
	[ "$(q "SELECT string_agg(id || state || host || attempt, ' ' ORDER BY id) FROM jobs")" = "1runninghostA1 2runninghostB1" ]
	[ "$(grep -c start "$T/runs")" = 2 ]
	! grep -q "lease of host" "$T/serve-hostA.log" "$T/serve-hostB.log" || false
	# host B dies whole: its daemon, its worker, its stage
	wpid=$(q "SELECT worker_pid FROM jobs WHERE id = 2")
	pgid=$(q "SELECT pgid FROM stages WHERE job_id = 2 AND state = 'running'")
	r drain --undo hostA >/dev/null
	t0=$(date +%s%N)
	kill -KILL "$HOST_hostB" "$wpid"
	kill -KILL -- "-$pgid"
	wait_for "grep -q \"job #2: the lease of host 'hostB' ended without a heartbeat: back in the queue\" '$T/serve-hostA.log'" 30 ||
	    { show_hosts; false; }
	wait_for "grep -q 'start 2' <(sed -n '3,\$p' $T/runs)" 30
	t1=$(date +%s%N)
	# within the lease (3 s) and a few seconds, not five minutes
	echo "taken back in $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 15000 ]
	[ "$(q "SELECT host || attempt FROM jobs WHERE id = 2")" = hostA2 ]
	touch "$T/go"
	wait_for "[ \"\$(q \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" = 2 ]" 30
	[ "$(grep -c end "$T/runs")" = 2 ]
}

@test "a host whose clock is 5 minutes ahead takes no live job, and its dead one is taken in seconds" {
	skewed 300000
}

@test "a host whose clock is 5 minutes behind takes no live job, and its dead one is taken in seconds" {
	skewed -300000
}

@test "the server stopped at once and started again under load: no job lost, none run twice at once" {
	# a server of this test's own, which syncs its commits as a
	# production one does: an immediate stop loses none of them
	PG2="$T/pg"
	PG_DURABLE=1 bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PG2" >/dev/null
	STORE_URL="postgresql:///runner?host=$PG2&user=runner"
	# each job ticks while it runs: "JOB ATTEMPT TIME"; a run ends "end"
	set_pipeline "$SRC" "Ticks" <<YML
stages:
  - name: tick
    run: |
      a=\$(cat $T/attempts/\$RUNNER_JOB 2>/dev/null || echo 0); a=\$((a+1)); echo \$a > $T/attempts/\$RUNNER_JOB
      for i in 1 2 3 4 5 6; do echo "\$RUNNER_JOB \$a \$(date +%s%N)" >> $T/ticks; sleep 0.1; done
      echo "\$RUNNER_JOB end" >> $T/ends
YML
	mkdir "$T/attempts"
	base=$(git -C "$SRC" rev-parse HEAD)
	tree=$(git -C "$SRC" rev-parse "HEAD^{tree}")
	for i in $(seq 1 40); do
		git -C "$SRC" update-ref "refs/heads/b$i" \
		    "$(git -C "$SRC" commit-tree -p "$base" -m "Commit $i" "$tree")"
	done
	start_host hostA 2
	start_host hostB 2
	git -C "$SRC" push -q origin 'refs/heads/b*'
	wait_for "[ \"\$(q \"SELECT count(*) FROM jobs\")\" = 40 ] && [ \"\$(q \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" -ge 8 ]" 60
	# under load: stopped at once, as a crash would, and started again
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PG2"
	PG_DURABLE=1 bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PG2" >/dev/null
	wait_for "[ \"\$(q \"SELECT count(*) FROM jobs WHERE state NOT IN ('queued', 'running')\")\" = 40 ]" 120 ||
	    { show_hosts; false; }
	q "SELECT state, count(*), max(attempt) FROM jobs GROUP BY state"
	sort "$T/ends" | uniq -c | awk '$1 != 1'
	sort -n "$T/ticks" | awk '{ print $1, $2 }' | uniq -c | awk '$1 != 6'
	grep -h "job #\|warning\|error" "$T"/serve-*.log | grep -v "started\|passed in\|trust_repositories" | head -40
	# nothing lost: every job passed, its run ended once
	[ "$(q "SELECT count(*) FROM jobs WHERE state = 'passed'")" = 40 ]
	[ "$(wc -l < "$T/ends")" = 40 ]
	[ "$(sort -u "$T/ends" | wc -l)" = 40 ]
	# never twice at once: a job's attempts tick one after the other
	for id in $(q "SELECT id FROM jobs WHERE attempt > 1"); do
		awk -v j="$id" '$1 == j { if ($2 < last_a) bad = 1; last_a = $2 } END { exit bad }' "$T/ticks"
	done
}
