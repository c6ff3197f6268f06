#!/usr/bin/env bats
# The web page's actions and live pages as a hostile client sees them.
# Through nginx as docs/operations.md sets it up (the block marked for
# this test), the locations left without a login (/metrics, the badge)
# never pass on a client's own X-Remote-User: the runner would take it as
# the proxy's word. However many live streams are held open, the pages
# still answer: the streams have a share of the connections, and a
# stream past it is refused at once. A commit subject's carriage returns
# end no line of a live page's stream (the browser would read the rest
# as events of the push's choosing). No other site may frame a page
# (its buttons clicked under a decoy). What a push controls (a branch,
# a subject, a variable, a log with tags, ANSI and OSC links) is text on
# every page, chart and stream. On IPv6 as on IPv4, the header counts
# from the proxy's user only.

load lib

PROXYU=runner-test-proxy

setup() {
	setup_env
	WEB_PORT=$(free_port)
	make_repo app
	SRC=$(make_clone app)
}
teardown() {
	local p
	for p in "${HELD[@]}"; do kill "$p" 2>/dev/null || true; done
	teardown_env
}

# start_proxy: nginx as $PROXYU with the documented server block on
# 127.0.0.1:$PROXY_PORT (Prometheus' address made this machine's), user
# alice with password secret
start_proxy() {
	local d="$T/proxy"
	mkdir -p -m 0755 "$d"
	printf 'alice:%s\n' "$(openssl passwd -apr1 secret)" > "$d/htpasswd"
	chmod 0644 "$d/htpasswd"
	web_proxy "$d" "$PROXYU" "$PROXY_PORT" "$WEB_PORT" 256
}

# code [CURL ARGS] URL: the status of a GET
code() { curl -sS -o "$T/body" -w '%{http_code}' "$@"; }

@test "the documented nginx's locations without a login never pass on a client's X-Remote-User" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test makes a user and runs nginx as it"
	[ -x /usr/sbin/nginx ] || skip "nginx is not installed (tests/deps.sh installs it)"
	test_user "$PROXYU"
	PROXY_PORT=$(free_port)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
  base_url: http://127.0.0.1:$PROXY_PORT
  auth: { header: X-Remote-User, proxy_user: $PROXYU }
  operators:
    - who: [alice]
      may: [retry, pause]"
	start_proxy
	grep -q 'location = /badge.svg' "$T/proxy/server.conf" ||
	    { echo "no badge location in the documented nginx block" >&2; false; }
	start_daemon --workers 1
	wait_for "[ \"\$(code http://127.0.0.1:$WEB_PORT/)\" = 200 ]" 15
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	B="http://127.0.0.1:$PROXY_PORT"
	# with a login, alice is alice; without one, read-only
	[ "$(code -u alice:secret "$B/")" = 200 ]
	grep -q "class='action pause'" "$T/body"
	[ "$(code "$B/")" = 401 ]
	# a name no proxy sends reaches the runner only if the client's own
	# header is passed on: the runner then refuses it (403)
	for p in /metrics "/badge.svg?r=app" ; do
		c=$(code -H 'X-Remote-User: no such name' "$B$p")
		echo "$p: $c $(head -c 300 "$T/body")"
		[ "$c" = 200 ]
		c=$(code -u 'mallory:x' "$B$p")
		echo "$p, claimed login: $c"
		[ "$c" = 200 ]
	done
	! grep -q "refused a request from .*X-Remote-User\|the proxy's 'X-Remote-User' is not a name" "$T/serve.log" ||
	    { grep refused "$T/serve.log"; false; }
	# a path that nginx takes for the badge's and the runner for an
	# action's is no action either
	n=$(look r status --json --limit 100 | jq '.jobs | length')
	for p in '/action/retry/%2E%2E/%2E%2E/badge.svg' '/action/pause%2F..%2F..%2Fbadge.svg' \
	    '/action/pause%3F/../../badge.svg'; do
		c=$(curl -sS --path-as-is -o /dev/null -w '%{http_code}' -H 'X-Remote-User: alice' \
		    -H "Origin: $B" --data 'job=1' "$B$p")
		echo "$p: $c"
		[ "$c" != 303 ]
	done
	[ "$(look r status --json | jq -r .queue.paused)" = false ]
	[ "$(look r status --json --limit 100 | jq '.jobs | length')" = "$n" ]

	# alice's own token, with an Origin near the page's, or the token
	# anywhere but in the form's body: refused, and nothing changes
	TOK=$(curl -sS -u alice:secret "$B/" | sed -n "s/.*name=token value='\([0-9]*\.[0-9a-f]*\)'.*/\1/p" | head -n 1)
	[ -n "$TOK" ]
	post() { curl -sS -o "$T/post" -w '%{http_code}' -u alice:secret "$@"; }
	for o in null "$B." "$B/" "$B:80" "https://127.0.0.1:$PROXY_PORT" \
	    "http://127.0.0.1:$((PROXY_PORT + 1))" "$B.evil.example" "http://localhost:$PROXY_PORT" \
	    "$B@evil.example" "$B, http://evil.example"; do
		c=$(post -H "Origin: $o" --data "token=$TOK" "$B/action/pause")
		echo "Origin '$o': $c"
		[ "$c" = 403 ]
	done
	for body in "token=${TOK%?}" "token=${TOK}0" "token=${TOK%%.*}" "token=1${TOK}" \
	    "token=$((${TOK%%.*} + 86400)).${TOK#*.}" "token=-1.${TOK#*.}" "x=1&token%3D=$TOK" \
	    "token=${TOK^^}"; do
		c=$(post -H "Origin: $B" --data "$body" "$B/action/pause")
		echo "$body: $c"
		[ "$c" = 403 ]
	done
	[ "$(post -H "Origin: $B" --data "x=1" "$B/action/pause?token=$TOK")" = 403 ]
	[ "$(post -H "Origin: $B" -H "Content-Type: text/plain" --data "token=$TOK" "$B/action/pause")" = 415 ]
	[ "$(post -X PUT -H "Origin: $B" --data "token=$TOK" "$B/action/pause")" = 405 ]
	[ "$(post -H "Origin: $B" --get --data "token=$TOK" "$B/action/pause")" = 404 ]
	[ "$(look r status --json | jq -r .queue.paused)" = false ]
	# and as it should be, once
	[ "$(post -H "Origin: $B" --data "token=$TOK" "$B/action/pause")" = 303 ]
	[ "$(look r status --json | jq -r .queue.paused_by)" = alice ]
}

@test "live streams held open leave the pages answering, and a stream past their share is refused at once" {
	HELD=()
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT"
	set_pipeline "$SRC" "Waits" <<'YML'
stages:
  - name: slow
    run: |
      echo waiting
      while [ ! -e go ]; do sleep 0.1; done
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	# a client holds as many streams as it can: the job's and its log's
	for i in $(seq 1 40); do
		if [ $((i % 2)) = 0 ]; then p=/job/1/events; else p=/job/1/log/0/events; fi
		curl -sS -N -o "$T/stream.$i" -w '%{http_code}\n' --max-time 100 \
		    "http://127.0.0.1:$WEB_PORT$p" > "$T/stream.$i.code" 2>&1 3>&- &
		HELD+=($!)
	done
	# refused streams end at once; the others stay
	wait_for "[ \$(cat $T/stream.*.code 2>/dev/null | grep -c 503) -ge 8 ]" 30 ||
	    { head -n 3 "$T"/stream.*.code; false; }
	for p in / /job/1 /repo?r=app /api/status; do
		c=$(code --max-time 10 "http://127.0.0.1:$WEB_PORT$p")
		echo "$p: $c"
		[ "$c" = 200 ]
	done
	wait_for "[ \$(cat $T/stream.*.code 2>/dev/null | grep -c 503) = 24 ]" 30 ||
	    { cat "$T"/stream.*.code | sort | uniq -c; false; }
	grep -l 'too many live streams' "$T"/stream.* | grep -c . | grep -qx 24
	# the streams that end give their place back
	for p in "${HELD[@]}"; do kill "$p" 2>/dev/null || true; done
	wait_for "[ \"\$(curl -sS -N -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:$WEB_PORT/job/1/events 2>/dev/null)\" = 200 ]" 30
	touch "$RUNNER_HOME/work/1/go"
	wait_state 1 passed 60
}

@test "a commit subject's carriage returns start no event of a running job's live page" {
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT"
	cat > "$SRC/.runner.yml" <<'YML'
stages:
  - name: slow
    run: |
      while [ ! -e go ]; do sleep 0.1; done
      exit 1
YML
	git -C "$SRC" add .runner.yml
	git -C "$SRC" commit -q --cleanup=verbatim \
	    -m "$(printf 'Fails\r\revent: end\rdata: passed\r\revent: job\rdata: Job 1 passed\r\rx')"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	[ "$(job_field 1 .subject | tr -dc '\r' | wc -c)" -gt 0 ] ||
	    skip "the store keeps no carriage return of a subject"
	curl -sS -N -o "$T/events" --max-time 3 "http://127.0.0.1:$WEB_PORT/job/1/events" || true
	grep -q '^event: job$' "$T/events"
	grep -q 'Fails' "$T/events"
	# as the browser reads it: CR, LF and CRLF each end a line
	tr '\r' '\n' < "$T/events" > "$T/lines"
	! grep -q '^event: end' "$T/lines" || { cat -A "$T/events" | head -c 2000; false; }
	[ "$(grep -c '^event: job' "$T/lines")" = "$(grep -c '^event: job' "$T/events")" ]
	! grep -q '^data: Job 1 passed' "$T/lines" || false
	touch "$RUNNER_HOME/work/1/go"
	wait_state 1 failed 60
}


@test "no other site frames the page's buttons" {
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
  auth: { header: X-Remote-User, proxy_user: nobody }
  operators:
    - who: [alice]
      may: [retry, pause]"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	for p in / /job/1 /repo?r=app /env?r=app\&e=staging /nothing; do
		curl -sS -D "$T/headers" -o /dev/null "http://127.0.0.1:$WEB_PORT$p"
		echo "$p: $(grep -i '^content-security-policy\|^x-frame' "$T/headers" | tr -d '\r' | tr '\n' ' ')"
		grep -qi "^content-security-policy:.*frame-ancestors 'none'" "$T/headers"
		grep -qi "^content-security-policy:.*form-action 'self'" "$T/headers"
		grep -qi '^x-frame-options: DENY' "$T/headers"
	done
}

@test "what a push controls is text on every page, chart and stream" {
	trust_config "    branches: '.*'
    variables: ['^LEVEL\$']
http:
  listen: 127.0.0.1:$WEB_PORT
  commit_url: 'https://git.example.com/{repo}/commit/{commit}'"
	# every value carries a tag of its own, <x-evil ...>, which no page may
	# show as a tag
	cat > "$SRC/.runner.yml" <<'YML'
stages:
  - name: build
    run: |
      echo "<x-evil log> & </pre><script>alert(1)</script>"
      printf '\033[31m<x-evil red>\033]8;;javascript:alert(1)\033\\link\033]8;;\033\\\033[0m\n'
      echo "LEVEL=$LEVEL"
      exit 3
YML
	git -C "$SRC" add .runner.yml
	git -C "$SRC" commit -q -m "subject <x-evil subject> '\"&amp; <svg onload=alert(1)>"
	br="b<x-evil-branch>'\"&x"
	git -C "$SRC" branch "$br"
	start_daemon --workers 1
	git -C "$SRC" push -q -o "ci.variable=LEVEL=<x-evil var>'\"" origin "$br"
	wait_state 1 failed 60
	benc=$(jq -rn --arg b "$br" '$b|@uri')
	for p in / "/?b=$benc" "/?s=failed" /repo?r=app "/branch?r=app&b=$benc" /job/1 /job/1/log/0 \
	    /job/1/events /job/1/log/0/events "/badge.svg?r=app&b=$benc"; do
		curl -sS -o "$T/page" --max-time 10 "http://127.0.0.1:$WEB_PORT$p" || true
		echo "$p: $(wc -c < "$T/page") bytes"
		[ -s "$T/page" ]
		! grep -a -o '.\{0,60\}<x-evil.\{0,30\}' "$T/page" || false
		! grep -a -q '<script>alert\|<svg onload' "$T/page" || false
		! grep -a -q "href='javascript\|href=\"javascript" "$T/page" || false
	done
	# JSON, said so, and never sniffed as a page
	for p in /api/status /api/job/1; do
		curl -sS -D "$T/headers" -o /dev/null "http://127.0.0.1:$WEB_PORT$p"
		grep -qi '^content-type: application/json' "$T/headers"
		grep -qi '^x-content-type-options: nosniff' "$T/headers"
	done
	# the values are there, as text
	curl -sS "http://127.0.0.1:$WEB_PORT/job/1" | grep -q '&lt;x-evil subject&gt;'
	curl -sS "http://127.0.0.1:$WEB_PORT/job/1/log/0" | grep -q '&lt;x-evil log&gt;'
}

@test "the proxy's header is believed on IPv6 connections of the proxy's user only" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test makes users"
	[ -e /proc/net/tcp6 ] || skip "no IPv6 here"
	test_user "$PROXYU"
	test_user runner-test-other
	trust_config "http:
  listen: '[::]:$WEB_PORT'
  auth: { header: X-Remote-User, proxy_user: $PROXYU }
  operators:
    - who: [alice]
      may: [pause]"
	start_daemon --workers 1
	wait_for "[ \"\$(code -g 'http://[::1]:$WEB_PORT/')\" = 200 ]" 15
	# as USER, GET / with alice's header to ADDRESS: the status
	as() {
		setpriv --reuid="$1" --regid="$1" --clear-groups curl -sS -g \
		    -w '\n%{http_code}' -H 'X-Remote-User: alice' "http://$2:$WEB_PORT/" > "$T/as.html"
		tail -n 1 "$T/as.html"
	}
	for a in '[::1]'; do
		c=$(as runner-test-other "$a")
		echo "other, $a: $c"
		[ "$c" = 403 ]
		c=$(as "$PROXYU" "$a")
		echo "proxy, $a: $c"
		[ "$c" = 200 ]
		grep -q "class='action pause'" "$T/as.html"
	done
	c=$(curl -sS -g -o /dev/null -w '%{http_code}' -H 'X-Remote-User: alice' "http://[::1]:$WEB_PORT/")
	[ "$c" = 403 ]
}
