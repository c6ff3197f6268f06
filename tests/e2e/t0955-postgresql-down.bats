#!/usr/bin/env bats
# The web page and `runner log -f` of a store on PostgreSQL, on a server
# this file starts, while the server is stopped: each page answers within
# a second with the error (HTTP 503, the server's words), a live log says
# the store cannot be read, and `runner log -f` says so on stderr and goes
# on following; when the server is back they recover by themselves and
# the job, which went on meanwhile, passes and is followed to its end.

load lib

# durable, as a server in production is: one stopped at once (-m
# immediate) loses no durable commit; it may lose a relaxed one, such as
# the record of the stage that runs, and the follow goes on all the same
setup_file() { export PG_DURABLE=1; pg_server_start; }
teardown_file() { pg_server_stop; }

setup() {
	pg_setup_env
	WEB_PORT=$(free_port)
	cat > "$RUNNER_HOME/runner.yml" <<YML
store: '$STORE_URL'
http:
  listen: 127.0.0.1:$WEB_PORT
YML
	host_stages
	r init >/dev/null
	make_repo app
	SRC=$(make_clone app)
	LOGF= EV= JEV=
}
teardown() {
	[ -z "$LOGF" ] || kill "$LOGF" 2>/dev/null || true
	[ -z "$EV" ] || kill "$EV" 2>/dev/null || true
	[ -z "$JEV" ] || kill "$JEV" 2>/dev/null || true
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR" >/dev/null
	teardown_env
}

# status_in PATH: "STATUS MS", the HTTP status of PATH and how long the
# answer took; its body in $T/body
status_in() {
	local fd t0 t1 line code
	t0=${EPOCHREALTIME/./}
	exec {fd}<>"/dev/tcp/127.0.0.1/$WEB_PORT"
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&$fd
	IFS=' ' read -r _ code _ <&$fd
	while IFS= read -r line <&$fd && [ -n "${line%$'\r'}" ]; do :; done
	cat <&$fd > "$T/body"
	t1=${EPOCHREALTIME/./}
	exec {fd}<&-
	echo "$code $(((t1 - t0) / 1000))"
}

# stamped FILE: stdin's lines, each after the time it came (us)
stamped() {
	while IFS= read -r line; do echo "${EPOCHREALTIME/./} $line"; done > "$1" 2>&1
}

@test "with PostgreSQL stopped, pages and log -f say so within a second, and recover" {
	set_pipeline "$SRC" "Waits for a sign" <<YML
stages:
  - name: slow
    run: |
      echo start
      i=0; while [ ! -e $T/go ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
      echo end
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 running 30
	wait_for "grep -q start '$RUNNER_HOME'/logs/1/*" 30
	wait_for "[ \"\$(status_in / | cut -d' ' -f1)\" = 200 ]" 15
	# followed on the command line and by a browser
	{ "$RUNNER" log --home "$RUNNER_HOME" -f 1 slow > "$T/follow.out" \
	    2> >(stamped "$T/follow.err"); echo "$?" > "$T/follow.rc"; } 3>&- &
	LOGF=$!
	http_body "$WEB_PORT" "/job/1/log/0/events?from=0" > "$T/events" 2>&1 3>&- &
	EV=$!
	# and the job's page, live
	http_body "$WEB_PORT" /job/1/events > "$T/jobevents" 2>&1 3>&- &
	JEV=$!
	wait_for "grep -q start '$T/follow.out'" 15
	wait_for "grep -q '^event: job' '$T/jobevents'" 15
	wait_for "grep -q start '$T/events'" 15

	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PGDIR"
	stopped=${EPOCHREALTIME/./}
	for page in / /job/1 /api/status /metrics; do
		read -r code ms < <(status_in "$page")
		echo "$page: $code in $ms ms: $(head -c 300 "$T/body")"
		[ "$code" = 503 ]
		[ "$ms" -lt 1000 ]
		grep -q "store '" "$T/body"
	done
	# log -f: the error on stderr, within a second of the stop
	wait_for "grep -q 'following again when the store answers' '$T/follow.err'" 10
	said=$(grep -m1 'following again' "$T/follow.err" | cut -d' ' -f1)
	cat "$T/follow.err"
	[ $(((said - stopped) / 1000)) -lt 1000 ]
	grep -q "runner: store '" "$T/follow.err"
	kill -0 "$LOGF"
	# the live log: an event "store" with the error
	wait_for "grep -A1 -q '^event: store' '$T/events'" 10
	grep -A1 '^event: store' "$T/events" | grep -q "data: store '"
	wait_for "grep -A1 '^event: store' '$T/jobevents' | grep -q \"data: store '\"" 10

	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR" >/dev/null
	wait_for "[ \"\$(status_in / | cut -d' ' -f1)\" = 200 ]" 15
	wait_for "grep -q 'the store answers again' '$T/follow.err'" 15
	touch "$T/go"
	wait_state 1 passed 60
	# both followed the stage to its end
	wait_for "[ -s '$T/follow.rc' ]" 15
	[ "$(cat "$T/follow.rc")" = 0 ]
	grep -q end "$T/follow.out"
	LOGF=
	wait_for "grep -q '^event: end' '$T/events'" 15
	EV=
	grep -A1 '^event: end' "$T/events" | grep -q 'data: passed'
	# the job's page: the store's word taken back (an empty "store"),
	# then its final state
	wait_for "grep -q '^event: end' '$T/jobevents'" 15
	wait "$JEV" || true
	JEV=
	grep -A1 '^event: end' "$T/jobevents" | grep -q 'data: passed'
	grep -A1 '^event: store' "$T/jobevents" | grep -qx 'data: '
	grep -q end "$T/events"
	# the job ran once
	[ "$(job_field 1 .attempt)" = 1 ] || { r show 1; cat "$T/serve.log"; false; }
}
