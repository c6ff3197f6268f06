#!/usr/bin/env bats
# Two workers, eight jobs: each job runs exactly once.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "two workers run eight jobs, each exactly once" {
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '^b[0-9]+\$'
YML
	host_stages	# the stages write into the test's folder
	make_repo app
	src=$(make_clone app)
	mkdir "$T/runs"
	set_pipeline "$src" <<YML
stages:
  - name: count
    run: echo "\$RUNNER_JOB" >> $T/runs/log; sleep 0.2
YML
	for i in 1 2 3 4 5 6 7 8; do
		git -C "$src" branch "b$i"
	done
	run git -C "$src" push origin b1 b2 b3 b4 b5 b6 b7 b8
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c 'runner: queued job #')" -eq 8 ]

	start_daemon --workers 2
	wait_for "[ \"\$(r status --json --limit 100 | jq '[.jobs[] | select(.state == \"passed\")] | length')\" -eq 8 ]" 60
	[ "$(wc -l < "$T/runs/log")" -eq 8 ]
	[ "$(sort -u "$T/runs/log" | wc -l)" -eq 8 ]
	# both workers took part
	[ "$(grep -o 'runner\[[0-9]*\]: job #[0-9]*: started' "$T/serve.log" | cut -d']' -f1 | sort -u | wc -l)" -eq 2 ]
	# all attempt 1: nobody claimed a job twice
	[ "$(r status --json --limit 100 | jq '[.jobs[].attempt] | unique | join(",")' -r)" = 1 ]
}
