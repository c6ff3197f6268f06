#!/usr/bin/env bats
# Runaway stages are bounded: memory (RLIMIT_AS), file size (RLIMIT_FSIZE),
# open files, the log (log_cap, with a note), and floods of binary output
# do not stall the daemon. The defaults are those runner init's sample
# names, as a stage's ulimit shows them.

load lib

setup() {
	setup_env
	empty_source app
}
teardown() { teardown_env; }

@test "a memory hog meets limits.memory; a huge file meets limits.file_size" {
	set_pipeline "$SRC" "Hogs" <<'YML'
stages:
  - name: hog
    limits: { memory: 64M }
    run: |
      ulimit -v
      head -c 300000000 /dev/zero | tail -n 1 > /dev/null
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed
	log=$(r log 1 hog)
	[[ "$log" == *65536* ]]			# ulimit -v in KiB
	[[ "$log" == *"memory exhausted"* ]]
	[[ "$(job_field 1 .error)" == "stage 'hog' failed with exit code 1" ]]

	set_pipeline "$SRC" "Big file" <<'YML'
stages:
  - name: big
    limits: { file_size: 1M, open_files: 64 }
    run: |
      test "$(ulimit -n)" = 64
      head -c 5000000 /dev/zero > big.bin
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 failed
	[ "$(job_field 2 .error)" = "stage 'big' failed with exit code 153: a file grew past its size limit (limits.file_size)" ]
	[ "$(job_field 2 '.stages[0].exit_code')" = 153 ]
}

@test "runner.yml limits are the default; a stage's own can only narrow them" {
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
limits: { memory: 96M, open_files: 100, processes: 200 }
YML
	set_pipeline "$SRC" "Defaults" <<'YML'
stages:
  - name: defaults
    run: test "$(ulimit -v)" = 98304 && test "$(ulimit -n)" = 100
  - name: own
    limits: { open_files: 50 }
    run: test "$(ulimit -v)" = 98304 && test "$(ulimit -n)" = 50
  - name: wider
    limits: { processes: 5000, open_files: 4096, memory: 4G, file_size: 1M }
    run: echo "p=$(ulimit -p) n=$(ulimit -n) v=$(ulimit -v) f=$(ulimit -f)" && test "$(ulimit -p)" = 200 && test "$(ulimit -n)" = 100 && test "$(ulimit -v)" = 98304 && test "$(ulimit -f)" = 2048
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed || { r log 1 wider >&2; false; }
	# a bad limit names the place
	echo 'limits: { memory: plenty }' > "$RUNNER_HOME/runner.yml"
	run r check --config
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:1:19: 'memory' in 'limits' of runner.yml must be a size like 512M or 2G"* ]]
}

@test "with no limits set, a stage gets what runner init's sample says: processes 4096, file_size 8G, the daemon's memory and open files" {
	# the sample runner init wrote names these defaults
	grep -qxF '# limits: { processes: 4096, file_size: 8G }' "$RUNNER_HOME/runner.yml" ||
	    { grep -n -B3 'limits:' "$RUNNER_HOME/runner.yml"; false; }
	grep -q "^# like 8G) and open_files have no default: a stage keeps the daemon's" "$RUNNER_HOME/runner.yml"
	set_pipeline "$SRC" "Limits" <<'YML'
stages:
  - name: limits
    run: echo "p=$(ulimit -p) f=$(ulimit -f) v=$(ulimit -v) n=$(ulimit -n)"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed || { r log 1 limits >&2; false; }
	# the daemon's own (soft) limits, as the kernel has them; ulimit -v
	# counts KiB, ulimit -f 512-byte blocks (8G: 16777216)
	v=$(awk '/^Max address space/ { print $4 }' "/proc/$DAEMON_PID/limits")
	[ "$v" = unlimited ] || v=$((v / 1024))
	n=$(awk '/^Max open files/ { print $4 }' "/proc/$DAEMON_PID/limits")
	run r log 1 limits
	[[ "$output" == *"p=4096 f=16777216 v=$v n=$n"* ]] || { echo "$output"; false; }
}

@test "logs are capped with a note; floods of binary output do not stall the daemon" {
	cat > "$RUNNER_HOME/runner.yml" <<YML
log_cap: 64K
repos:
  - path: $T/app.git
    branches: '^(develop|other)$'
YML
	set_pipeline "$SRC" "Floods" <<'YML'
stages:
  - name: flood
    run: |
      head -c 50000000 /dev/urandom
      echo done >&2
  - name: after
    run: printf 'bell\a esc\033[2J nul\000 end\n'
YML
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	# the other worker serves another branch meanwhile
	git -C "$SRC" push -q origin develop:refs/heads/other
	wait_state 1 passed 60
	wait_state 2 passed 60
	log="$RUNNER_HOME/logs/1/00-flood.log"
	size=$(stat -c %s "$log")
	[ "$size" -lt $((64 * 1024 + 200)) ]
	tail -n 1 "$log" | grep -q '^\[runner: log capped at 65536 bytes; further output dropped\]$'
	# shown escaped unless --raw, stored raw
	out=$(r log 1 after)
	[[ "$out" == *'bell\x07 esc\x1b[2J nul\x00 end'* ]]
	r log --raw 1 after | grep -q $'esc\033\[2J'
	[ "$(r show --json 1 | jq -r '.stages[0].state')" = passed ]
}

@test "runner.yml max_timeout ends a stage whatever its pipeline's timeout says" {
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
max_timeout: 2s
YML
	set_pipeline "$SRC" "Forever" <<'YML'
stages:
  - name: forever
    timeout: 1000h
    run: sleep 600
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 30
	[ "$(job_field 1 .error)" = "stage 'forever' timed out after 2.0s (runner.yml max_timeout)" ]
	[ "$(job_field 1 '.stages[0].state')" = timed_out ]
}
