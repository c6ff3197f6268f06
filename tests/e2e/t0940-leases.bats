#!/usr/bin/env bats
# Build hosts and leases: a job is its worker's while the worker's
# heartbeat renews its lease. A worker frozen in the middle of a stage
# loses the job when the lease ends: its stage is killed, the build runs
# again (attempt 2) on another worker, and the worker, thawed, records
# nothing more of it. A drained host claims nothing.

load lib

setup() {
	setup_env
	make_repo app
	SRC=$(make_clone app)
	trust_config "host:
  name: hostA
  labels: [linux, test]
  lease: 5s"
	host_stages
}
# a worker the test froze must be able to stop with the daemon
teardown() {
	[ -z "${wpid:-}" ] || kill -CONT "$wpid" 2>/dev/null || true
	teardown_env
}

@test "a frozen worker loses its job when the lease ends; it runs again once, and the thawed worker records nothing" {
	push_waiting_job --workers 2
	[ "$(job_field 1 .host)" = hostA ]
	[ "$(job_field 1 .attempt)" = 1 ]
	wpid=$(db "select worker_pid from jobs where id = 1")
	pgid=$(db "select pgid from stages where job_id = 1 and state = 'running'")
	[ -n "$wpid" ]
	[ -n "$pgid" ]
	# the whole worker freezes: its heartbeat too
	kill -STOP "$wpid"
	kill -STOP -- "-$pgid"
	wait_for "grep -q \"job #1: the lease of host 'hostA' ended without a heartbeat: back in the queue\" '$T/serve.log'" 20
	# the frozen stage was killed; the other worker runs attempt 2
	wait_for "[ \"\$(grep -c start $T/runs)\" = 2 ]" 30
	[ "$(job_field 1 .attempt)" = 2 ]
	[ "$(job_field 1 .state)" = running ]
	[ "$(db "select worker_pid from jobs where id = 1")" != "$wpid" ]
	# (its processes are zombies until the frozen worker reaps them)
	! ps -e -o pgid=,stat= | awk -v g="$pgid" '$1 == g && $2 !~ /^Z/' | grep -q . || false
	touch "$T/go"
	wait_state 1 passed 30
	# thawed: it notices, and the store refuses what it would record
	kill -CONT "$wpid"
	wait_for "grep -q 'job #1: .*this worker no longer holds it' '$T/serve.log'" 20
	[ "$(job_state 1)" = passed ]
	[ "$(job_field 1 .attempt)" = 2 ]
	[ "$(job_field 1 '.stages | length')" = 1 ]
	[ "$(job_field 1 '.stages[0].state')" = passed ]
	[ "$(grep -c end "$T/runs")" = 1 ]
	# and it works on: the next push passes
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 30
}

@test "a drained host finishes nothing new until --undo; status and the page show the hosts" {
	WEB=$(free_port)
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$WEB" >> "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	wait_for "[ \"\$(r status --json | jq -r '.hosts[0].name')\" = hostA ]" 15
	r status --json | jq -e '.hosts[0].labels == ["linux","test"] and .hosts[0].workers == 1 and .hosts[0].draining == false'
	run r drain
	[ "$status" -eq 0 ]
	[[ "$output" == *"drained host 'hostA'"* ]]
	r status | grep -q "hostA \[linux,test\]  1 worker, heartbeat .* ago; DRAINED by $(id -un) for"
	wait_for "http_body $WEB / | grep -q \"<tr class=host data-host='hostA'><td>hostA</td><td>linux,test</td><td>1</td>.*drained by $(id -un)\"" 15
	git -C "$SRC" push -q origin develop
	# a heartbeat after the push: the worker had its chance to claim
	t=$(date +%s%3N)
	wait_for "[ \"\$(r status --json | jq '.hosts[0].heartbeat_ms')\" -gt $t ]" 15
	[ "$(job_state 1)" = queued ]
	r drain --undo hostA | grep -q "host 'hostA' claims jobs again"
	wait_state 1 passed 60
	r status --json | jq -e '.hosts[0].draining == false'
	run r drain a b
	[ "$status" -eq 2 ]
	run r drain --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: runner drain"* ]]
}

@test "a pipeline that runs on labels this host lacks waits for one that has them" {
	set_pipeline "$SRC" "Wants arm64" <<'YML'
runs_on: linux
stages:
  - name: unit
    run: echo unit
  - name: cross
    runs_on: [arm64]
    run: echo built on arm64
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "grep -q 'job #1: its pipeline runs on hosts labelled arm64, which host .hostA. is not: back in the queue' '$T/serve.log'" 30
	[ "$(job_state 1)" = queued ]
	[ "$(job_field 1 '.needs | sort | join(",")')" = arm64,linux ]
	[ "$(job_field 1 .attempt)" = 0 ]
	[ "$(job_field 1 '.stages | length')" = 0 ]
	r status | grep -q "#1 .*waiting .* for a host labelled arm64,linux\|#1 .*waiting .* for a host labelled linux,arm64"
	# the host gets the label: it runs it, as its first attempt
	sed -i 's/labels: \[linux, test\]/labels: [linux, test, arm64]/' "$RUNNER_HOME/runner.yml"
	r resume >/dev/null
	wait_state 1 passed 60
	[ "$(job_field 1 .attempt)" = 1 ]
	[[ "$(r log 1 cross)" == *"built on arm64"* ]]
	# a label that cannot be one is refused with where it is
	printf 'stages:\n  - name: a\n    runs_on: [Big Iron]\n    run: true\n' > "$T/bad.yml"
	run r check "$T/bad.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.yml:3:15: bad host label 'Big Iron' in runs_on of stage 'a'"* ]]
}

@test "an environment's deployments wait for a host with its runs_on labels" {
	cat >> "$RUNNER_HOME/runner.yml" <<'YML'
environments:
  staging:
    runs_on: [deploy]
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	wait_for "grep -q \"job #$d: its environment's deployments run on hosts labelled deploy, which host 'hostA' is not\" '$T/serve.log'" 30
	[ "$(job_state "$d")" = queued ]
	[ "$(job_field "$d" '.needs[0]')" = deploy ]
	sed -i 's/labels: \[linux, test\]/labels: [linux, test, deploy]/' "$RUNNER_HOME/runner.yml"
	r resume >/dev/null
	[ "$(wait_deploy "$d")" = healthy ]
	[ "$(job_field "$d" .attempt)" = 1 ]
	# a label that cannot be one is refused where it is written
	sed -i 's/runs_on: \[deploy\]/runs_on: [Big Iron]/' "$RUNNER_HOME/runner.yml"
	run r status
	[[ "$output" == *"runner.yml:"*"'runs_on' of environment 'staging': bad host label 'Big Iron'"* ]]
}
