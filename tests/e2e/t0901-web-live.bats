#!/usr/bin/env bats
# The web page live and at a glance, in a real browser (headless chromium,
# driven step by step by tests/helpers/browser_steps.py while the test
# pushes and the stages wait on files it creates): a running job's page
# changes its stages and state without a reload and ends on the final
# state; a live log opens at its end and follows it until the reader
# scrolls up, and a button takes it back; a failed job shows the failing
# stage's last 30 lines in colour; a failed deployment its failing check
# with status, latency and the start of the body; a refused release is on
# its environment's page with the reason; the commit links to the git web
# view of runner.yml's commit_url, escaped. Screenshots are kept in
# BUILD/meson-logs/screenshots/.

load lib

STEPS="$SOURCE_ROOT/tests/helpers/browser_steps.py"

setup() {
	setup_env
	WEB_PORT=$(free_port)
	SHOTS="$BUILD_ROOT/meson-logs/screenshots"
	mkdir -p "$SHOTS"
}
teardown() { teardown_env; }

web_config() {
	printf 'http:\n  listen: 127.0.0.1:%s\n%s\n' "$WEB_PORT" "${1:-}" \
	    > "$RUNNER_HOME/runner.yml"
}
web_up() { wait_for "http_body $WEB_PORT /api/status | grep -q jobs" 15; }
shot() { echo "$SHOTS/t0901-${BATS_TEST_NUMBER}-$1.png"; }
# steps URL: the steps on stdin, against the page at URL
steps() { "$STEPS" "http://127.0.0.1:$WEB_PORT$1"; }
# The text of a state cell of stage $1 on a job's page, as JavaScript.
stage_is() {
	echo "(document.querySelector('#stages tr[data-stage=\"$1\"] .state')||{}).textContent == '$2'"
}
# metric_is NAME VALUE: a command whose success says the page's /metrics
# has NAME VALUE
metric_is() {
	echo "curl -s http://127.0.0.1:$WEB_PORT/metrics | grep -qx '$1 $2'"
}
# the page fits a 400 px phone: no horizontal scrolling of the page
FITS='document.documentElement.scrollWidth <= window.innerWidth'
AT_END='window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 4'

@test "a running job's page changes its stages without a reload and ends on the final state, with what failed" {
	empty_source app
	set_pipeline "$SRC" "Waits, then fails" <<'YML'
stages:
  - name: one
    run: |
      echo waiting
      while [ ! -e go ]; do sleep 0.02; done
  - name: two
    run: |
      for i in $(seq 1 100); do printf '\033[31mline %d\033[0m\n' $i; done
      exit 3
YML
	web_config
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	steps /job/1 <<EOF || { dump_state; false; }
wait 20 $(stage_is one running)
check document.getElementById('job-live').dataset.events == '/job/1/events'
check $(stage_is two pending) || !document.querySelector('#stages tr[data-stage="two"]')
eval window.loadedOnce = 1
until 10 $(metric_is runner_web_live_jobs 1)
shot $(shot running)
sh touch '$RUNNER_HOME/work/1/go'
wait 30 $(stage_is one passed)
wait 30 $(stage_is two failed)
wait 10 document.getElementById('job-state').textContent == 'failed'
wait 10 document.getElementById('job-live').dataset.ended == 'failed'
check window.loadedOnce === 1
check !document.getElementById('job-live').dataset.events
wait 5 document.getElementById('failed-log')
check document.querySelector('#failed-log span.f1')
eval window.lines = document.getElementById('failed-log').textContent.replace(/\n\$/, '').split('\n')
check window.lines.length == 30
check window.lines[0] == 'line 71' && window.lines[29] == 'line 100'
check document.querySelector('#failed a[href="/job/1/log/1"]')
shot $(shot failed)
dom $T/job.html
size 400 800
check $FITS
shot $(shot failed-phone)
EOF
	wait_state 1 failed 10
	# the stream ended with the job
	wait_for "http_body $WEB_PORT /metrics | grep -qx 'runner_web_live_jobs 0'" 10
	# the same page loaded anew, without script: plain HTML
	http_body "$WEB_PORT" /job/1 > "$T/plain.html"
	grep -q "<pre class=log id=failed-log><span class=' f1'>line 71" "$T/plain.html" ||
	    { grep -A3 failed-log "$T/plain.html"; false; }
	[ "$(sed -n '/id=failed-log/,/<\/pre>/p' "$T/plain.html" | grep -c 'line [0-9]')" = 30 ]
	! grep -q "data-events" "$T/plain.html" || false
}

@test "a live log opens at its end and follows it until the reader scrolls up; the button follows again" {
	empty_source app
	set_pipeline "$SRC" "Writes in three parts" <<'YML'
stages:
  - name: chatty
    run: |
      for i in $(seq 1 200); do echo "first $i"; done
      while [ ! -e more ]; do sleep 0.02; done
      for i in $(seq 1 200); do echo "second $i"; done
      while [ ! -e more2 ]; do sleep 0.02; done
      for i in $(seq 1 200); do echo "third $i"; done
      while [ ! -e end ]; do sleep 0.02; done
YML
	web_config
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	wait_for "grep -q 'first 200' '$(job_field 1 '.stages[0].log')'" 10
	w=$RUNNER_HOME/work/1
	steps /job/1/log/0 <<EOF || { dump_state; false; }
wait 10 document.getElementById('log').textContent.includes('first 200')
wait 5 $AT_END
check document.getElementById('follow').hidden
sh touch '$w/more'
wait 20 document.getElementById('log').textContent.includes('second 200')
wait 5 $AT_END
shot $(shot following)
eval window.scrollTo(0, 0)
wait 5 !document.getElementById('follow').hidden
sh touch '$w/more2'
wait 20 document.getElementById('log').textContent.includes('third 200')
check window.scrollY == 0
shot $(shot scrolled-up)
eval document.getElementById('follow').click()
wait 5 $AT_END
check document.getElementById('follow').hidden
size 400 800
check $FITS
sh touch '$w/end'
wait 20 document.getElementById('stage-state').textContent == 'passed'
EOF
	wait_state 1 passed 10
}

@test "a failed deployment shows its failing check; a refused release is on its environment's page" {
	make_ssh_signer release
	make_repo app
	SRC=$(make_clone app)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT"
	echo broken > "$SRC/config/health"
	git -C "$SRC" commit -q -am "A health that fails"
	start_daemon --workers 2
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	st=$(wait_deploy "$d")
	[ "$st" = failed ] || [ "$st" = rolled_back ] || { dump_state; false; }
	steps "/job/$d" <<EOF || false
wait 10 document.getElementById('failed-check')
check document.querySelector('#failed-check code').textContent == '/api/health'
check document.querySelector('#failed-check .status').textContent == '500'
check /^[0-9]+ms\$/.test(document.querySelector('#failed-check .latency').textContent)
check document.querySelector('#failed-check pre.body').textContent.includes('"status":"failing"')
shot $(shot failed-check)
size 400 800
check $FITS
EOF
	# the excerpt is the store's, bounded
	db "SELECT body FROM checks WHERE job_id = $d AND ok = 0" | grep -q '"status":"failing"'
	[ -z "$(db "SELECT body FROM checks WHERE job_id = $d AND ok = 1")" ]
	# and so do runner show and its JSON
	r show "$d" | grep -qF 'body: {"status":"failing"'
	r show --json "$d" | jq -e '[.checks[] | select(.ok == false) | .body | contains("failing")] | any'
	# a release tag that is not signed: refused, with why, on the page of
	# an environment that never served
	git -C "$SRC" tag -a v1.0.1 -m "unsigned"
	id=$(push_tag v1.0.1)
	[ "$(wait_deploy "$id")" = rejected ]
	steps "/env?r=app&e=production" <<EOF || false
wait 10 document.querySelector('#rejected tr.refused')
check document.querySelector('#rejected tr.refused a').getAttribute('href') == '/job/$id'
check document.querySelector('#rejected tr.refused td:nth-child(2)').textContent == 'v1.0.1'
check document.querySelector('#rejected .why').textContent.includes("tag 'v1.0.1' is not signed")
shot $(shot rejected)
size 400 800
check $FITS
shot $(shot rejected-phone)
EOF
	# and beside the deployments of one that serves
	steps "/env?r=app&e=staging" <<EOF || false
check document.getElementById('rejected') === null
check [...document.querySelectorAll('h2')].some(h => h.textContent == 'Rejected')
EOF
}

@test "the commit links to runner.yml's commit_url, escaped; a bad commit_url is refused with its line" {
	# a repository whose name a link must escape
	name="o'k&x<y>%1"
	make_repo "$name"
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/$name.git"
	set_pipeline "$SRC" <<'YML'
stages:
  - name: build
    run: echo built
YML
	web_config "  commit_url: 'https://git.example.com/{repo}/commit/{commit}'
repos:
  - path: $T/$name.git
    branches: '.*'"
	r check --config >/dev/null
	start_daemon --workers 1
	web_up
	# and a branch whose name a page must escape
	branch="b'\"<i>x"
	git -C "$SRC" push -q origin "develop:refs/heads/$branch"
	wait_state 1 passed 60
	c=$(git -C "$SRC" rev-parse HEAD)
	steps /job/1 <<EOF || false
check document.getElementById('commit-link').getAttribute('href') == 'https://git.example.com/o%27k%26x%3Cy%3E%251/commit/$c'
check document.getElementById('commit-link').textContent == '$c'
check !document.querySelector('y') && !document.querySelector('i')
check document.querySelector('#job code').textContent == 'refs/heads/b\\'"<i>x'
shot $(shot commit-link)
EOF
	http_body "$WEB_PORT" /job/1 | grep -qF "<a id=commit-link href='https://git.example.com/o%27k%26x%3Cy%3E%251/commit/$c'><code>$c</code></a>"
	# what runner.yml may not say, each with its file, line and column
	for bad in "'ftp://git.example.com/{commit}'|must be a URL (scheme one of: http https)" \
	    "'https://{repo}.example.com/{commit}'|may have {repo} and {commit} only in its path" \
	    "'https://git.example.com/{branch}/{commit}'|knows only the placeholders {repo} and {commit}" \
	    "'https://git.example.com/{repo}'|must have {commit}"; do
		printf 'http:\n  listen: 127.0.0.1:%s\n  commit_url: %s\n' "$WEB_PORT" "${bad%%|*}" > "$T/bad.yml"
		run r check --config "$T/bad.yml"
		[ "$status" -eq 1 ]
		[[ "$output" == *"bad.yml:3:15: 'commit_url' in 'http' of runner.yml ${bad#*|}"* ]] ||
		    { echo "$bad: $output"; false; }
	done
}

@test "the overview keeps Recent above the fold at a laptop's size" {
	empty_source app
	set_pipeline "$SRC" <<'YML'
stages:
  - name: build
    run: echo built
YML
	web_config
	start_daemon --workers 1
	web_up
	for i in 1 2 3; do
		git -C "$SRC" commit -q --allow-empty -m "Change $i"
		git -C "$SRC" push -q origin develop
		wait_state "$i" passed 60
	done
	steps / <<EOF || false
size 1280 720
wait 10 document.getElementById('recent')
check document.getElementById('recent').getBoundingClientRect().bottom < window.innerHeight
check document.querySelector('#recent + table tr[data-job]').getBoundingClientRect().bottom < window.innerHeight
shot $(shot overview)
EOF
}
