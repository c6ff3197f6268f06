#!/usr/bin/env bats
# A service that a deploy command detaches (setsid -f) survives the
# command, every time, also with the CPU kept busy: the child of
# `setsid -f` may still be in the command's process group when the shell
# exits, and the runner must not end it there. It lives until the next
# deployment of the environment, whose runner ends it before its deploy
# command runs. The service holds a lock on a file in the state folder
# (locks work across the commands' pid namespaces): each deploy finds the
# lock free (the runner ended the one before), starts a service, and the
# check after it finds the lock held (the service outlived its command).

load lib

setup() {
	setup_env
	SVC=$(make_sleeper)
	empty_source app
	set_pipeline "$SRC" "A service deployed with setsid -f" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo v1 > dist/version
    artifacts: [dist/**]
environments:
  staging:
    deploy: |
      s="\$RUNNER_STATE_DIR"
      if [ -e "\$s/started" ] && ! flock -n "\$s/lock" true; then
        echo "still running" >> "\$s/lost"
      fi
      touch "\$s/started"
      echo deploy >> "\$s/count"
      setsid -f flock "\$s/lock" "$SVC" 600
      # as a deploy script does: wait until the service is up (under
      # this load its first instruction may come only after the next
      # deployment started)
      i=0; while flock -n "\$s/lock" true && [ \$i -lt 3000 ]; do sleep 0.01; i=\$((i + 1)); done
    checks:
      - run: '! flock -n "\$RUNNER_STATE_DIR/lock" true'
YML
}

teardown() {
	[ -z "${SVC:-}" ] || pkill -f -- "$SVC" 2>/dev/null || true
	[ -z "${BUSY:-}" ] || kill $BUSY 2>/dev/null || true
	teardown_env
}

@test "a service detached by 120 deploys under CPU load survives each command, and ends with the next deployment" {
	n=120
	[ -z "${RUNNER_SANITIZED:-}" ] || n=60	# the plain build does the 120
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	# keep both cores busy for the whole run
	BUSY=
	for i in 1 2; do
		( while :; do :; done ) 3>&- &
		BUSY="$BUSY $!"
	done
	for i in $(seq $((n - 1))); do
		r deploy 1 staging >/dev/null
	done
	wait_for "[ \"\$(r status --json --limit 1000 | jq '[.jobs[] | select(.kind == \"deploy\" and (.state == \"queued\" or .state == \"running\"))] | length')\" = 0 ]" 900
	kill $BUSY
	BUSY=
	state=$(env_dir state app staging)
	[ "$(wc -l < "$state/count")" -eq "$n" ]
	# every deployment healthy, and no service lost
	[ "$(r status --json --limit 1000 | jq '[.jobs[] | select(.kind == "deploy" and .state == "healthy")] | length')" -eq "$n" ]
	[ ! -e "$state/lost" ] || { cat "$state/lost"; false; }
	# the last one serves, alone
	[ "$(pgrep -fc -- "^$SVC 600")" = 1 ] || { pgrep -fa -- "$SVC"; false; }
}
