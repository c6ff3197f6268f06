#!/usr/bin/env bats
# isolate: true runs a stage under bubblewrap: the system read-only, only
# the workspace writable, a private /tmp, the runner's home (store,
# secrets, other jobs) out of sight, and no network unless network: true.

load lib

setup() {
	setup_env
	empty_source app
	start_sink http net
	NET_PORT=$SINK_PORT
}
teardown() { teardown_env; }

@test "an isolated stage writes only its workspace and sees no network" {
	set_pipeline "$SRC" "Isolated" <<YML
stages:
  - name: sandbox
    isolate: true
    run: |
      echo built > out.txt
      ! touch /usr/local/runner-escape 2>/dev/null
      ! touch /var/tmp/runner-escape-${T##*.} 2>/dev/null
      test ! -e "$RUNNER_HOME/runner.db"
      test ! -e "$RUNNER_HOME/runner.yml"
      echo private > /tmp/runner-private-\$RUNNER_JOB
      ! bash -c 'exec 3<>/dev/tcp/127.0.0.1/$NET_PORT' 2>/dev/null
      echo sandbox ok
  - name: online
    isolate: true
    network: true
    run: bash -c 'exec 3<>/dev/tcp/127.0.0.1/$NET_PORT; printf "GET /x HTTP/1.0\r\n\r\n" >&3; cat <&3' | grep -q ok
  - name: plain
    run: test -e "$RUNNER_HOME/runner.db" && cat out.txt
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	[[ "$(r log 1 sandbox)" == *"sandbox ok"* ]]
	[[ "$(r log 1 plain)" == *"built"* ]]
	[ ! -e /usr/local/runner-escape ]
	[ ! -e "/var/tmp/runner-escape-${T##*.}" ]
	[ ! -e /tmp/runner-private-1 ]
	[ "$(sink_count net)" -eq 1 ]		# only the stage with network
}

@test "runner.yml isolate: true is the default; a stage may opt out" {
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
isolate: true
YML
	set_pipeline "$SRC" "Default isolation" <<YML
stages:
  - name: default
    run: test ! -e "$RUNNER_HOME/runner.db"
  - name: out
    isolate: false
    run: test -e "$RUNNER_HOME/runner.db"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
}

@test "a timed-out isolated stage leaves nothing behind" {
	set_pipeline "$SRC" "Isolated sleeper" <<'YML'
stages:
  - name: stuck
    isolate: true
    timeout: 3s
    run: |
      cp "$(command -v sleep)" stuck-sleeper
      setsid "$PWD/stuck-sleeper" 300 &
      "$PWD/stuck-sleeper" 301
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ \$(pgrep -c -f '$RUNNER_HOME/work/1/stuck-sleeper') -eq 2 ]"
	wait_state 1 failed
	[ "$(job_field 1 .error)" = "stage 'stuck' timed out after 3.0s" ]
	wait_for "! pgrep -f '$RUNNER_HOME/work/1/stuck-sleeper'" 10
}
