#!/usr/bin/env bats
# Stages run under bubblewrap by default: the system read-only, only the
# workspace writable, a private /tmp, the runner's home (store, secrets,
# other jobs) and the other repositories out of sight; the network stays
# unless runner.yml or the stage says network: false. A stage may leave
# the sandbox only where runner.yml allows it for the repository.

load lib

setup() {
	setup_env
	empty_source app
	start_sink http net
	NET_PORT=$SINK_PORT
}
teardown() { teardown_env; }

@test "a stage writes only its workspace, and network: false takes the network" {
	git init -q --bare "$T/other.git"
	set_pipeline "$SRC" "Isolated" <<YML
stages:
  - name: sandbox
    network: false
    run: |
      echo built > out.txt
      ! touch /usr/local/runner-escape 2>/dev/null || false
      ! touch /var/tmp/runner-escape-${T##*.} 2>/dev/null || false
      test ! -e "$RUNNER_HOME/runner.db"
      test ! -e "$RUNNER_HOME/runner.yml"
      test ! -e "$T/other.git/HEAD"
      test -e "$T/app.git/HEAD"
      ! touch "$T/app.git/hooks/x" 2>/dev/null || false
      ! touch "$RUNNER_HOME/x" 2>/dev/null || false
      echo private > /tmp/runner-private-\$RUNNER_JOB
      ! bash -c 'exec 3<>/dev/tcp/127.0.0.1/$NET_PORT' 2>/dev/null || false
      echo sandbox ok
  - name: online
    run: bash -c 'exec 3<>/dev/tcp/127.0.0.1/$NET_PORT; printf "GET /x HTTP/1.0\r\n\r\n" >&3; cat <&3' | grep -q ok
  - name: again
    run: cat out.txt
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	[[ "$(r log 1 sandbox)" == *"sandbox ok"* ]]
	[[ "$(r log 1 again)" == *"built"* ]]
	[ ! -e /usr/local/runner-escape ]
	[ ! -e "/var/tmp/runner-escape-${T##*.}" ]
	[ ! -e /tmp/runner-private-1 ]
	[ "$(sink_count net)" -eq 1 ]		# only the stage with network
}

@test "where runner.yml allows it, stages run unconfined as the worker's build user, and may still ask for the sandbox" {
	[ "$(id -u)" = 0 ] || skip "needs root: only a root daemon has a build user to run unconfined stages as"
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    isolate: false
YML
	set_pipeline "$SRC" "Out of the sandbox" <<YML
stages:
  - name: host
    run: |
      test -d "$RUNNER_HOME"
      test -e "$T/app.git/HEAD"
      test "\$(id -un)" = runner-build-0
      ! cat "$RUNNER_HOME/runner.yml" 2>/dev/null || false
      ! ls "$RUNNER_HOME/logs" 2>/dev/null || false
      ! touch "$RUNNER_HOME/runner.db" 2>/dev/null || false
  - name: boxed
    isolate: true
    run: test ! -e "$RUNNER_HOME/runner.db" && test ! -e "$T/app.git/../other"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
}

@test "runner.yml network: false holds for every stage" {
	echo "network: false" >> "$RUNNER_HOME/runner.yml"
	set_pipeline "$SRC" "No network" <<YML
stages:
  - name: offline
    run: "! bash -c 'exec 3<>/dev/tcp/127.0.0.1/$NET_PORT' 2>/dev/null"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	[ "$(sink_count net)" -eq 0 ]
}

@test "a timed-out isolated stage leaves nothing behind" {
	set_pipeline "$SRC" "Isolated sleeper" <<'YML'
stages:
  - name: stuck
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

@test "trust_repositories alone runs stages as the daemon's own user, still confined; isolate: false as well unconfines them" {
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon's own user is root, as the docs install it"
	cat > "$RUNNER_HOME/runner.yml" <<YML
trust_repositories: true
YML
	set_pipeline "$SRC" "Trusted" <<YML
stages:
  - name: probe
    run: |
      echo "uid \$(id -u)"
      test -e "$RUNNER_HOME/runner.yml" && echo "home seen" || echo "home hidden"
      echo "pid 1 \$(cat /proc/1/comm)"
      grep '^Seccomp:' /proc/self/status
YML
	start_daemon --workers 1
	grep -q "warning: trust_repositories is true: code from repositories runs as the daemon's own user, under bubblewrap (isolate: false would run it unconfined)" "$T/serve.log"
	r status | grep -q "trust_repositories is true in runner.yml: code from repositories runs as the daemon's own user, under bubblewrap"
	git -C "$SRC" push -q origin develop
	wait_state 1 passed || { r log 1 probe >&2; false; }
	log=$(r log 1 probe)
	echo "$log"
	# root, as the daemon, but in the sandbox: the home out of sight, a
	# pid namespace of its own (bubblewrap is its pid 1), the filter on
	[[ "$log" == *"uid 0"* ]]
	[[ "$log" == *"home hidden"* ]]
	[[ "$log" == *"pid 1 bwrap"* ]]
	echo "$log" | grep -qE '^Seccomp:[[:space:]]+2'

	# isolate: false too: on the host, as root
	stop_daemon
	echo "isolate: false" >> "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	grep -q "code from repositories runs as the daemon's own user, unconfined (isolate: false)" "$T/serve.log"
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_state 2 passed || { r log 2 probe >&2; false; }
	log=$(r log 2 probe)
	echo "$log"
	[[ "$log" == *"uid 0"* ]]
	[[ "$log" == *"home seen"* ]]
	[[ "$log" != *"pid 1 bwrap"* ]]
	echo "$log" | grep -qE '^Seccomp:[[:space:]]+0'
}
