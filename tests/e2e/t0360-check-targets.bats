#!/usr/bin/env bats
# An environment's http checks are requests the worker makes for the
# pipeline, which is the pusher's: they reach the environment's own url
# (its host and port) and what runner.yml's check_hosts adds, never the
# runner's web page, so a develop push cannot use them to probe this
# machine's services.

load lib

setup() {
	setup_env
	empty_source app
	OWN=$(free_port)
	OTHER=$(free_port)
	while [ "$OTHER" = "$OWN" ]; do OTHER=$(free_port); done
	listen "$OWN" own
	listen "$OTHER" other
}
teardown() { teardown_env; }

# listen PORT NAME: an HTTP server on 127.0.0.1:PORT whose request log is
# $T/NAME.log
listen() {
	mkdir -p "$T/www-$2"
	python3 -m http.server "$1" --bind 127.0.0.1 --directory "$T/www-$2" \
	    >"$T/$2.log" 2>&1 3>&- &
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null" 20
}

# pipeline URL: staging (its url on $OWN) checks /, then URL
pipeline() {
	staging_at "$OWN" / "$1"
}

# staging_at PORT CHECK...: a pipeline whose staging says its url is on
# 127.0.0.1:PORT and has these http checks
staging_at() {
	local port=$1 c
	shift
	{
		cat <<YML
stages:
  - name: build
    run: mkdir -p dist && echo v > dist/v
    artifacts: [dist/**]
environments:
  staging:
    url: http://127.0.0.1:$port
    deploy: "true"
    checks:
YML
		for c in "$@"; do echo "      - http: $c"; done
	} | set_pipeline "$SRC" "checks $*"
}

@test "a check of another local port is refused, and never sent" {
	pipeline "http://127.0.0.1:$OTHER/probe"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 30
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	wait_state "$d" failed 30
	[ "$(job_field "$d" .error)" = "check http://127.0.0.1:$OTHER/probe failed: GET http://127.0.0.1:$OTHER/probe: refused: the http checks of environment 'staging' reach only its url's host and port (127.0.0.1:$OWN), and what runner.yml's 'check_hosts' of the environment allows" ]
	# its own url was checked; the other port never saw a request
	grep -q '"GET / HTTP' "$T/own.log"
	! grep -q 'GET' "$T/other.log" || false
	# localhost is another name, not another right
	pipeline "http://localhost:$OTHER/probe"
	git -C "$SRC" push -q origin develop
	wait_state 3 passed 30
	wait_for "[ \"\$(last_job deploy staging)\" -gt $d ]" 30
	d=$(last_job deploy staging)
	wait_state "$d" failed 30
	[[ "$(job_field "$d" .error)" == *"refused: the http checks of environment 'staging' reach only"* ]]
	! grep -q 'GET' "$T/other.log" || false
}

@test "runner.yml's check_hosts lets a check reach another host and port" {
	pipeline "http://127.0.0.1:$OTHER/probe"
	cat > "$RUNNER_HOME/runner.yml" <<YML
environments:
  staging:
    check_hosts: ['127.0.0.1:$OTHER']
    serve_users: [root]   # the test's own server serves its url
YML
	touch "$T/www-other/probe"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	grep -q '"GET /probe HTTP' "$T/other.log"
}

@test "no check reaches the web page's port, whatever runner.yml allows" {
	WEB=$(free_port)
	pipeline "http://localhost:$WEB/api/jobs"
	cat > "$RUNNER_HOME/runner.yml" <<YML
http:
  listen: 127.0.0.1:$WEB
environments:
  staging:
    check_hosts: ['localhost:$WEB', '127.0.0.1:$WEB']
YML
	start_daemon --workers 1
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$WEB) 2>/dev/null" 20
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	wait_state "$d" failed 30
	[ "$(job_field "$d" .error)" = "check http://localhost:$WEB/api/jobs failed: GET http://localhost:$WEB/api/jobs: refused: port $WEB is the runner's web page, which checks never reach" ]
}

@test "runner.yml's url pins the environment: a pipeline pointing its url elsewhere cannot move the checks" {
	# the pusher's pipeline says staging is on the other port
	staging_at "$OTHER" /probe
	cat > "$RUNNER_HOME/runner.yml" <<YML
environments:
  staging:
    url: http://127.0.0.1:$OWN
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	wait_state "$d" failed 30
	[ "$(job_field "$d" .error)" = "check /probe failed: GET http://127.0.0.1:$OTHER/probe: refused: the http checks of environment 'staging' reach only its url's host and port (127.0.0.1:$OWN, pinned by runner.yml), and what runner.yml's 'check_hosts' of the environment allows" ]
	! grep -q 'GET' "$T/other.log" || false
}
