#!/usr/bin/env bats
# Environments cannot take each other's endpoints. An environment's
# commands run in a pid namespace of their own: they see and signal only
# their own processes, not the daemon's or another environment's. What a
# deployment leaves running ends when the next deployment of the
# environment replaces it. Before an environment's checks count, the
# runner confirms that what listens on its url's port on this machine is
# the environment's: a process its deployments started, or its own user.
# A develop pusher's staging service that took production's port fails
# the release with who serves it.

load lib

setup() {
	setup_env
	SVC=$(make_sleeper)
	make_ssh_signer release
	trust_config
	empty_source app
	mkdir -p -m 0755 "$MARK-www"
	echo PWNED > "$MARK-www/index.html"
	# serve.py MODE PORT: answers 200 on PORT, bound as MODE says:
	# mapped (::ffff:0.0.0.0, which takes IPv4 to any address), or once
	# (127.0.0.1, one answer, then nothing listens)
	cat > "$MARK-www/serve.py" <<'PY'
import socket, sys
mode, port = sys.argv[1], int(sys.argv[2])
if mode == "mapped":
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::ffff:0.0.0.0", port))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(4096)
    if mode == "once":
        s.close()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nPWNED\n")
    c.close()
    if mode == "once":
        break
PY
}
teardown() {
	[ -z "${SVC:-}" ] || pkill -f -- "$SVC" 2>/dev/null || true
	[ -z "${MARK:-}" ] || pkill -f -- "$MARK-www" 2>/dev/null || true
	[ -z "${MARK:-}" ] || rm -rf "$MARK-www"
	teardown_env
}

# pipeline STAGING_DEPLOY: staging (url on $STAGING_PORT) deployed by
# STAGING_DEPLOY; production (url on $PROD_PORT, checked at /) deployed
# by a command that starts nothing
pipeline() {
	set_pipeline "$SRC" "pipeline" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo v > dist/v
    artifacts: [dist/**]
environments:
  staging:
    url: http://127.0.0.1:$STAGING_PORT
    deploy: |
$(sed 's/^/      /')
  production:
    url: http://127.0.0.1:$PROD_PORT
    requires: signed-tag
    deploy: "true"
    checks:
      - http: /
YML
}

# serve PORT: the deploy lines that leave an HTTP server on PORT running
serve() {
	cat <<SH
setsid -f python3 -m http.server $1 --bind 127.0.0.1 --directory $MARK-www >/dev/null 2>&1 </dev/null
i=0; until python3 -c 'import socket; socket.create_connection(("127.0.0.1", $1))' 2>/dev/null; do [ \$i -lt 1000 ] || exit 1; sleep 0.02; i=\$((i + 1)); done
SH
}

# the staging deployment of build $1, once healthy
staged() {
	wait_for "[ -n \"\$(look r status --json --limit 1000 | jq '.jobs[] | select(.kind == \"deploy\" and .job == $1) | .id')\" ]" 30
	local d
	d=$(look r status --json --limit 1000 | jq '[.jobs[] | select(.kind == "deploy" and .job == '"$1"') | .id] | max')
	[ "$(wait_deploy "$d" 60)" = healthy ] || { dump_state; r log "$d" >&2; return 1; }
	echo "$d"
}

@test "a staging service on production's port fails the release, named; the next staging deployment ends it" {
	# staging serves itself, and leaves a server on production's port
	{ serve "$STAGING_PORT"; serve "$PROD_PORT"; } | pipeline
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	d=$(staged 1)
	# its own port is its own: the check of staging passed
	[ "$(job_field "$d" .state)" = healthy ]
	[ "$(http_body "$PROD_PORT" /)" = PWNED ]
	ssh_tag "$SRC" v1.0.0 release
	p=$(push_tag v1.0.0)
	[ "$(wait_deploy "$p" 60)" = failed ]
	holder=$(pgrep -f -- "^python3 -m http.server $PROD_PORT")
	user=$(stat -c %U "/proc/$holder")
	err=$(job_field "$p" .error)
	[ "$err" = "port $PROD_PORT (127.0.0.1:$PROD_PORT) is served by $user, pid $holder, not by environment 'production' (the services its deployments started)" ] || { echo "$err"; false; }
	# status says it
	r status | grep -F "served by $user, pid $holder" || { r status; false; }
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | .state')" = failed ]

	# the next staging deployment ends what the one before left running
	serve "$STAGING_PORT" | pipeline
	git -C "$SRC" push -q origin develop
	b=$(last_job build)
	wait_state "$b" passed 60
	d2=$(staged "$b")
	r log "$d2" deploy | grep -qx "\[runner: ended the services deployment #$d left running (pid [0-9]* and all in its namespace)\]"
	! kill -0 "$holder" 2>/dev/null || { ps -fp "$holder"; false; }
	! (exec 3<>"/dev/tcp/127.0.0.1/$PROD_PORT") 2>/dev/null || false
	# staging's own server is the new one, alone
	[ "$(pgrep -fc -- "^python3 -m http.server $STAGING_PORT")" = 1 ]
}

@test "environment commands see only their own processes: a deploy cannot stop the daemon or read its environment" {
	start_daemon --workers 1
	daemon=$DAEMON_PID
	pipeline <<SH
ls -d /proc/[0-9]* | wc -l > "\$RUNNER_STATE_DIR/seen"
cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' > "\$RUNNER_STATE_DIR/cmdlines"
kill -STOP $daemon 2>/dev/null && echo "stopped $daemon" >> "\$RUNNER_STATE_DIR/hits" || true
setsid -f $SVC 600
SH
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d" 60)" = healthy ] || { r log "$d"; false; }
	[ ! -e "$(env_dir state app staging)/hits" ]
	state=$(env_dir state app staging)
	# bwrap's init, the shell, ls and wc: nothing of the host
	[ "$(cat "$state/seen")" -le 6 ] || { cat "$state/cmdlines"; false; }
	! grep -q "serve\|runner-worker\|$RUNNER" "$state/cmdlines" || { cat "$state/cmdlines"; false; }
	# the daemon, its workers and the service still run
	[ "$(ps -o stat= -p "$daemon" | cut -c1)" != T ]
	! ps -o stat= --ppid "$daemon" | grep -q '^T' || false
	r status >/dev/null
	[ "$(pgrep -fc -- "^$SVC 600")" = 1 ] || { pgrep -fa -- "$SVC"; r log "$d"; ps -ef | tail -20; false; }
	# another job still runs
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_state 3 passed 60
}

# squat HOW: staging serves itself and leaves serve.py HOW on production's
# port; a release then fails, with the reason matching the pattern $2
squat() {
	{ serve "$STAGING_PORT"; echo "setsid -f python3 $MARK-www/serve.py $1 $PROD_PORT >/dev/null 2>&1 </dev/null"; } | pipeline
	if [ -n "${3:-}" ]; then
		sed -i "s|url: http://127.0.0.1:$PROD_PORT|url: http://$3:$PROD_PORT|" "$SRC/.runner.yml"
		git -C "$SRC" commit -qam "production by $3"
	fi
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	staged 1 >/dev/null
	# listening (a connection would take the answer of a one-shot)
	wait_for "grep -qiE ':$(printf %04X "$PROD_PORT") [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6" 30
	ssh_tag "$SRC" v1.0.0 release
	p=$(push_tag v1.0.0)
	[ "$(wait_deploy "$p" 60)" = failed ] || { r show "$p"; false; }
	[[ "$(job_field "$p" .error)" == $2 ]] || { job_field "$p" .error; false; }
}

@test "a listener on the v4-mapped wildcard is seen, and refused" {
	squat mapped "port $PROD_PORT (\[::ffff:0.0.0.0\]:$PROD_PORT) is served by runner-build, pid [0-9]*, not by environment 'production' (the services its deployments started)"
}

@test "an answer from a listener that is gone when the runner looks does not pass" {
	squat once "nothing listens on port $PROD_PORT of this machine, though the checks of environment 'production' were answered there: who answered is gone"
}

@test "a url naming this machine by its host name is checked as well" {
	name=$(hostname)
	getent hosts "$name" >/dev/null || skip "this machine's name $name does not resolve"
	squat mapped "port $PROD_PORT (*) is served by runner-build, pid [0-9]*, not by environment 'production'*" "$name"
}
