#!/usr/bin/env bats
# Actions on the web page, behind nginx as docs/operations.md sets it up
# (the block marked for this test, basic authentication with an htpasswd
# made by openssl, X-Remote-User): an operator retries, runs with
# variables, deploys to staging, rolls back, cancels, pauses and resumes,
# and the job records who did it; a click in headless chromium does the
# same. Refused: a request with the header from anyone but the proxy's
# user (root's curl, another user's), a POST without a token, with
# another person's, with a foreign Origin or none, an action runner.yml
# does not give the person, production but by rollback. A GET never
# changes anything, and without http: auth the page stays read-only;
# auth turned on by a reload takes actions without a restart.
# Screenshots are kept in BUILD/meson-logs/screenshots/.

load lib

BROWSER="$SOURCE_ROOT/tests/helpers/browser.py"
PROXYU=runner-test-proxy
OTHERU=runner-test-other
OPSU=runner-test-ops1
OPSG=runner-test-ops

setup() {
	setup_env
	WEB_PORT=$(free_port)
	SHOTS="$BUILD_ROOT/meson-logs/screenshots"
	mkdir -p "$SHOTS"
	make_repo app
	SRC=$(make_clone app)
}
teardown() { teardown_env; }

# the runner.yml of the test: operators alice (staging), bob (pause
# only), the group $OPSG (rollbacks); LEVEL is a variable runs may set
actions_config() {
	trust_config "    variables: ['^LEVEL\$']
http:
  listen: 127.0.0.1:$WEB_PORT
  base_url: http://127.0.0.1:$PROXY_PORT
  auth: { header: X-Remote-User, proxy_user: $PROXYU }
  operators:
    - who: [alice]
      may: [retry, cancel, run, deploy, pause, resume]
      environments: [staging]
    - who: [bob]
      may: [pause]
    - who: ['@$OPSG']
      may: [rollback]
      environments: [staging, production]"
}

# start_proxy: nginx as $PROXYU with the documented server block, on
# 127.0.0.1:$PROXY_PORT, users alice, bob and $OPSU (password secret)
start_proxy() {
	local d="$T/proxy" u
	mkdir -p -m 0755 "$d"
	: > "$d/htpasswd"
	for u in alice bob "$OPSU"; do
		printf '%s:%s\n' "$u" "$(openssl passwd -apr1 secret)" >> "$d/htpasswd"
	done
	chmod 0644 "$d/htpasswd"
	web_proxy "$d" "$PROXYU" "$PROXY_PORT" "$WEB_PORT"
}

BASE() { echo "http://127.0.0.1:$PROXY_PORT"; }
# via USER PATH [CURL ARGS]: through the proxy as USER (password secret)
via() {
	local u=$1 p=$2
	shift 2
	curl -sS -u "$u:secret" "$@" "$(BASE)$p"
}
# post USER ACTION BODY: the status of a POST through the proxy (and
# where it leads), from the page's own Origin, or $ORIGIN ("": none)
post() {
	curl -sS -o "$T/post.html" -w '%{http_code} %{redirect_url}' -u "$1:secret" \
	    -H "Origin: ${ORIGIN-$(BASE)}" --data "$3" "$(BASE)/action/$2" |
	    sed 's#//[^/@]*@#//#'
}
# direct [CURL ARGS] PATH: to the page itself, not through the proxy
direct() {
	local p=${*: -1}
	curl -sS -o "$T/direct.html" -w '%{http_code}' "${@:1:$#-1}" "http://127.0.0.1:$WEB_PORT$p"
}
# token USER PATH: the token of USER's forms on PATH
token() {
	via "$1" "$2" | sed -n "s/.*name=token value='\\([0-9]*\\.[0-9a-f]*\\)'.*/\\1/p" | head -n 1
}
jobs_count() { look r status --json --limit 1000 | jq '.jobs | length'; }
builds_count() { look r status --json --limit 1000 | jq '[.jobs[] | select(.kind == "build")] | length'; }
web_up() { wait_for "[ \"\$(direct /)\" = 200 ]" 15; }

@test "without http: auth the page stays read-only, and a person's header changes nothing" {
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT"
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	[ "$(direct -X POST -d job=1 /action/retry)" = 405 ]
	[ "$(direct -X POST -H 'X-Remote-User: alice' -d job=1 /action/retry)" = 405 ]
	[ "$(direct -H 'X-Remote-User: alice' /job/1)" = 200 ]
	! grep -q 'method=post' "$T/direct.html" || false
	[ "$(direct /)" = 200 ]
	! grep -q 'method=post' "$T/direct.html" || false
	[ "$(jobs_count)" = "$(look r status --json --limit 1000 | jq '.jobs | length')" ]
	[ ! -e "$RUNNER_HOME/web.secret" ]
}

@test "http: auth turned on by a reload: actions without a restart" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test makes users and runs nginx as one"
	[ -x /usr/sbin/nginx ] || skip "nginx is not installed (tests/deps.sh installs it)"
	test_user "$PROXYU"
	PROXY_PORT=$(free_port)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
  base_url: http://127.0.0.1:$PROXY_PORT"
	start_proxy
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	! via alice /job/1 | grep -q 'method=post' || false
	[ ! -e "$RUNNER_HOME/web.secret" ]
	actions_config
	kill -HUP "$DAEMON_PID"
	wait_for "via alice /job/1 | grep -q \"class='action retry'\"" 15
	[ "$(stat -c %a "$RUNNER_HOME/web.secret")" = 600 ]
	TOK=$(token alice /job/1)
	out=$(post alice retry "job=1&token=$TOK")
	echo "retry: $out"
	[[ "$out" == "303 "* ]]
	wait_for "[ \"\$(builds_count)\" = 2 ]" 15
}

@test "runner.yml's operators and auth: mistakes named by file, line and field" {
	for y in "http: { operators: [ { who: [alice], may: [retry] } ] }" \
	    "http: { auth: { proxy_user: www-data }, operators: [ { who: [alice], may: [reboot] } ] }" \
	    "http: { auth: { proxy_user: www-data }, operators: [ { who: [alice], may: [deploy], environments: [production] } ] }" \
	    "http: { auth: { proxy_user: www-data }, operators: [ { who: [alice], may: [deploy] } ] }" \
	    "http: { auth: { proxy_user: runner-build } }" \
	    "http: { auth: { proxy_user: www-data, header: 'Origin' } }" \
	    "http: { auth: { proxy_user: www-data }, operators: [ { who: ['al ice'], may: [retry] } ] }"; do
		printf '%s\n' "$y" > "$T/bad.yml"
		run r check --config "$T/bad.yml"
		echo "$y: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"bad.yml:1:"* ]]
	done
	run r check --config "$T/bad.yml"
	[[ "$output" == *"'who'"* ]]
	printf '%s\n' "http: { auth: { proxy_user: www-data }, operators: [ { who: [alice], may: [deploy], environments: [production] } ] }" > "$T/bad.yml"
	run r check --config "$T/bad.yml"
	[[ "$output" == *"requires a signed release tag"* ]]
	printf '%s\n' "http: { auth: { proxy_user: www-data }, operators: [ { who: [alice, '@ops'], may: [retry, rollback], environments: [staging, production] } ] }" > "$T/good.yml"
	r check --config "$T/good.yml"
}

@test "an operator acts through nginx with basic auth; everyone else is refused" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test makes users and runs nginx as one"
	[ -x /usr/sbin/nginx ] || skip "nginx is not installed (tests/deps.sh installs it)"
	test_user "$PROXYU"
	test_user "$OTHERU"
	test_user "$OPSU"
	getent group "$OPSG" >/dev/null || groupadd -f "$OPSG"
	id -nG "$OPSU" | grep -qw "$OPSG" || gpasswd -a "$OPSU" "$OPSG" >/dev/null
	PROXY_PORT=$(free_port)
	actions_config
	start_proxy
	start_daemon --workers 2
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	[ "$(stat -c '%a %U' "$RUNNER_HOME/web.secret")" = "600 $(stat -c %U "$RUNNER_HOME")" ]

	# straight to the page, nobody: read-only
	[ "$(direct /job/1)" = 200 ]
	! grep -q 'method=post' "$T/direct.html" || false
	# through the proxy, alice: her forms, her name
	via alice /job/1 > "$T/job1.html"
	grep -q "class='action retry'" "$T/job1.html"
	grep -q "class='action run'" "$T/job1.html"
	grep -q "<option value='staging'>staging</option>" "$T/job1.html"
	! grep -q "value='production'" "$T/job1.html" || false
	grep -q '<p class=actor>as alice</p>' "$T/job1.html"
	# bob may pause only; nobody at all, nothing
	! via bob /job/1 | grep -q 'method=post' || false
	via bob / | grep -q "class='action pause'"
	TOK=$(token alice /job/1)
	BOBTOK=$(token bob /)
	[ -n "$TOK" ]
	[ -n "$BOBTOK" ]
	n=$(jobs_count)

	# the header from anyone but the proxy's user: refused, GET or POST
	[ "$(direct -H 'X-Remote-User: alice' /job/1)" = 403 ]
	[ "$(direct -H 'X-Remote-User: alice' -H "Origin: $(BASE)" \
	    --data "job=1&token=$TOK" /action/retry)" = 403 ]
	code=$(setpriv --reuid="$OTHERU" --regid="$OTHERU" --clear-groups \
	    curl -sS -o /dev/null -w '%{http_code}' -H 'X-Remote-User: alice' \
	    -H "Origin: $(BASE)" --data "job=1&token=$TOK" \
	    "http://127.0.0.1:$WEB_PORT/action/retry")
	[ "$code" = 403 ]
	uid=$(id -u "$OTHERU")
	wait_for "grep -q \"(uid $uid): it sends 'X-Remote-User' but is not the proxy's user '$PROXYU'\" '$T/serve.log'" 5
	[ "$(grep -c "(uid $uid): it sends 'X-Remote-User'" "$T/serve.log")" = 1 ]
	# without the proxy's person, a token, with another's, from another
	# site or from none
	[ "$(direct -H "Origin: $(BASE)" --data "job=1&token=$TOK" /action/retry)" = 403 ]
	[ "$(post alice retry "job=1")" = "403 " ]
	[ "$(post alice retry "job=1&token=$BOBTOK")" = "403 " ]
	bent=${TOK%?}$([ "${TOK: -1}" = 0 ] && echo 1 || echo 0)
	[ "$(post alice retry "job=1&token=$bent")" = "403 " ]
	[ "$(ORIGIN=http://evil.example post alice retry "job=1&token=$TOK")" = "403 " ]
	[ "$(ORIGIN="http://127.0.0.1:$WEB_PORT" post alice retry "job=1&token=$TOK")" = "403 " ]
	[ "$(ORIGIN= post alice retry "job=1&token=$TOK")" = "403 " ]
	grep -q 'not sent from this page' "$T/post.html"
	[ "$(post bob retry "job=1&token=$BOBTOK")" = "403 " ]
	# a GET never changes anything, whatever it carries
	via alice "/action/retry?job=1&token=$TOK" -o /dev/null
	via alice "/job/1/retry?token=$TOK" -o /dev/null
	[ "$(jobs_count)" = "$n" ]

	# retry: queued, recorded as alice through the proxy
	out=$(post alice retry "job=1&token=$TOK")
	[[ "$out" == "303 $(BASE)/job/"* ]]
	r1=${out##*/}
	[ "$(job_field "$r1" .pushed_by)" = alice ]
	[ "$(job_field "$r1" .pushed_via)" = "web page" ]
	[ "$(job_field "$r1" .pushed_as)" = "$PROXYU" ]
	[ "$(job_field "$r1" .requested_by)" = alice ]
	[ "$(job_field "$r1" .retry_of)" = 1 ]
	wait_state "$r1" passed 60
	via alice "/job/$r1" | grep -q "<td id=job-by>alice (web page, as $PROXYU)</td>"

	# run with variables: as runner run --var, the same rules
	[ "$(post alice run "job=1&token=$TOK&vars=LD_PRELOAD%3D%2Ftmp%2Fx")" = "400 " ]
	[ "$(post alice run "job=1&token=$TOK&vars=OTHER%3D1")" = "400 " ]
	grep -q "OTHER" "$T/post.html"
	out=$(post alice run "job=1&token=$TOK&vars=LEVEL%3Dfull%0D%0A")
	[[ "$out" == "303 "* ]]
	r2=${out##*/}
	[ "$(job_field "$r2" .variables.LEVEL)" = full ]
	[ "$(job_field "$r2" .pushed_by)" = alice ]

	# deploy to staging; never production, which changes by rollback only
	[ "$(post alice deploy "job=1&env=production&token=$TOK")" = "403 " ]
	grep -q 'production' "$T/post.html"
	out=$(post alice deploy "job=1&env=staging&token=$TOK")
	[[ "$out" == "303 "* ]]
	d2=${out##*/}
	[ "$(job_field "$d2" .env)" = staging ]
	[ "$(job_field "$d2" .pushed_by)" = alice ]
	[ "$(wait_deploy "$d2")" = healthy ]
	# rollback: not alice's, not production for her; the ops group's
	[ "$(post alice rollback "repo=app&env=staging&token=$TOK")" = "403 " ]
	[ "$(post alice rollback "repo=app&env=production&token=$TOK")" = "403 " ]
	OPSTOK=$(token "$OPSU" "/env?r=app&e=staging")
	[ -n "$OPSTOK" ]
	via "$OPSU" "/env?r=app&e=staging" | grep -q "class='action rollback'"
	[ "$(post "$OPSU" rollback "repo=app&env=staging&token=$TOK")" = "403 " ]
	out=$(post "$OPSU" rollback "repo=app&env=staging&token=$OPSTOK")
	[[ "$out" == "303 "* ]]
	rb=${out##*/}
	via "$OPSU" "/job/$rb" | grep -q "a rollback to <a href='/job/[0-9]*'>"
	[ "$(job_field "$rb" .pushed_by)" = "$OPSU" ]
	[ "$(wait_deploy "$rb")" = healthy ]

	# pause, cancel a job the paused queue holds, resume
	[ "$(post alice pause "token=$TOK")" = "303 $(BASE)/" ]
	[ "$(look r status --json | jq -r .queue.paused_by)" = alice ]
	out=$(post alice retry "job=1&token=$TOK")
	q=${out##*/}
	[ "$(job_state "$q")" = queued ]
	via alice "/job/$q" | grep -q "class='action cancel'"
	[ "$(post alice cancel "job=$q&token=$TOK")" = "303 $(BASE)/job/$q" ]
	[ "$(job_state "$q")" = canceled ]
	[ "$(job_field "$q" .canceled_by)" = "alice (web page, as $PROXYU)" ]
	via alice "/job/$q" | grep -q "<td id=job-canceled-by>alice (web page, as $PROXYU)</td>"
	grep -q "web: alice (as $PROXYU) canceled job #$q" "$T/serve.log"
	[ "$(post alice resume "token=$TOK")" = "303 $(BASE)/" ]
	[ "$(look r status --json | jq -r .queue.paused)" = false ]

	# in a real browser, through the proxy: a click on Retry, once
	n=$(builds_count)
	"$BROWSER" --timeout 30 --screenshot "$SHOTS/${BATS_TEST_NUMBER}-retry.png" \
	    "http://alice:secret@127.0.0.1:$PROXY_PORT/job/1" \
	    "location.pathname == '/job/1' ? (window.clicked || (window.clicked = 1, document.querySelector('form.retry button').click()), false) : !!document.getElementById('job-by')" \
	    > "$T/clicked.html" || { cat "$T/clicked.html"; false; }
	grep -q "alice (web page, as $PROXYU)" "$T/clicked.html"
	[ "$(builds_count)" = $((n + 1)) ]
	# the pages with their forms fit a phone, and axe-core finds nothing
	# serious on them
	AXE=$(bash "$SOURCE_ROOT/tests/helpers/axe.sh" "$BUILD_ROOT")
	bad=0
	for page in "job alice /job/1" "queue alice /" "env $OPSU /env?r=app&e=staging"; do
		read -r name who url <<< "$page"
		for width in 400 1280; do
			rc=0
			"$BROWSER" --timeout 20 --width "$width" --fits --axe "$AXE" \
			    --screenshot "$SHOTS/t0905-$name-$width.png" \
			    "http://$who:secret@127.0.0.1:$PROXY_PORT$url" \
			    "!!document.getElementById('actions')" > "$T/$name.html" 2> "$T/$name.err" || rc=$?
			if [ "$rc" != 0 ]; then
				echo "$url as $who at $width px: exit $rc"
				cat "$T/$name.err"
				bad=1
			fi
		done
	done
	[ "$bad" = 0 ]
}
