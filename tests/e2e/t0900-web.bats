#!/usr/bin/env bats
# The web page of a real daemon running real pushes, looked at in a real
# browser (headless chromium, driven by tests/helpers/browser.py): the
# overview, a job, an environment, a live log whose new output appears
# while the stage runs, a 64 MiB log; badges are SVG; /metrics parses with
# Prometheus' own parser and agrees with runner status --json; the page is
# read-only; notifications link to it. Screenshots are kept in
# BUILD/meson-logs/screenshots/.

load lib

BROWSER="$SOURCE_ROOT/tests/helpers/browser.py"

setup() {
	setup_env
	WEB_PORT=$(free_port)
	SHOTS="$BUILD_ROOT/meson-logs/screenshots"
	mkdir -p "$SHOTS"
	make_repo app
	SRC=$(make_clone app)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
  base_url: http://ci.example.test/
log_cap: 80M"
}
teardown() { teardown_env; }

# get PATH: the body (web_status, lib.bash: the status code)
get() { http_body "$WEB_PORT" "$1"; }
# browse NAME URL CONDITION: the rendered DOM in $T/NAME.html, a
# screenshot in $SHOTS
browse() {
	"$BROWSER" --timeout "${4:-20}" --screenshot "$SHOTS/${BATS_TEST_NUMBER}-$1.png" \
	    "http://127.0.0.1:$WEB_PORT$2" "$3" > "$T/$1.html"
}

@test "the overview, a job and an environment, rendered by a browser" {
	start_daemon --workers 2
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	# the overview: the environment serves deployment $d
	browse overview / "document.querySelector('#environments tr.env .state.healthy')"
	grep -q "data-job=\"1\"" "$T/overview.html"
	grep -q "<a href=\"/job/$d\">#$d</a>" "$T/overview.html"
	grep -q 'id="daemon">daemon: <span class="state passed">running' "$T/overview.html"
	# a job: its stages, as show --json has them, and its artifact
	browse job /job/1 "document.querySelectorAll('#stages tr.stage').length == 3"
	for s in unit lint build; do
		grep -q "<tr class=\"stage\" data-stage=\"$s\"><td><a href=\"/job/1/log/[0-9]\">$s</a></td><td class=\"state passed\">passed</td><td>0</td>" "$T/job.html"
	done
	grep -q "$(job_field 1 '.artifacts[0].sha256')" "$T/job.html"
	get /job/1/artifact > "$T/a.tar.zst"
	[ "$(sha256sum < "$T/a.tar.zst" | cut -d' ' -f1)" = "$(job_field 1 '.artifacts[0].sha256')" ]
	# the environment: its releases, which one serves, the checks
	browse env "/env?r=app&e=staging" "document.querySelector('#releases tr.serving')"
	grep -q "<tr class=\"serving\"><td><a href=\"/job/$d\">#$d</a> <b>serving</b>" "$T/env.html"
	grep -q 'id="env-state" class="state healthy"' "$T/env.html"
	grep -q '/api/health' "$T/env.html"
	# the JSON has the shapes of the CLI's
	[ "$(get /api/job/1 | jq -S 'del(.notifications)')" = "$(r show --json 1 | jq -S 'del(.notifications)')" ]
	[ "$(get /api/status | jq '[.jobs[].id]')" = "$(r status --json | jq '[.jobs[].id]')" ]
	[ "$(get /api/status | jq '.environments[0].release')" = "$d" ]
	# read-only, and on 127.0.0.1
	[ "$(web_status / POST)" = 405 ]
	[ "$(web_status /job/1 DELETE)" = 405 ]
	ss -ltn | grep -q "127.0.0.1:$WEB_PORT "
	# a repository's and a branch's history
	get "/repo?r=app" | grep -qF "href='/branch?r=app&amp;b=develop'"
	get "/branch?r=app&b=develop" | grep -q "data-job='1'"
	[ "$(web_status /job/99999)" = 404 ]
}

@test "a running stage's output appears in the page while it runs" {
	set_pipeline "$SRC" live <<YML
stages:
  - name: live
    run: |
      echo first-line
      while [ ! -e go ]; do sleep 0.02; done
      printf '\\033[31mLIVE-LINE\\033[0m <b>not a tag</b>\\n'
      while [ ! -e end ]; do sleep 0.02; done
      echo last-line
YML
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 30
	wait_for "get /job/1/log/0 | grep -q first-line" 10
	! get /job/1/log/0 | grep -q LIVE-LINE || false
	browse live /job/1/log/0 "document.getElementById('log').textContent.includes('last-line') && document.getElementById('stage-state').textContent == 'passed'" 40 &
	bpid=$!
	# the browser follows the log (an open event stream), then the stage
	# writes what the page must show without being loaded again
	wait_for "get /metrics | grep -qx 'runner_web_live_logs 1'" 20
	# the stage waits for files in its workspace
	touch "$RUNNER_HOME/work/1/go"
	wait_for "grep -q LIVE-LINE '$(job_field 1 '.stages[0].log')'" 10
	touch "$RUNNER_HOME/work/1/end"
	wait "$bpid" || { cat "$T/live.html"; false; }
	grep -q '<span class=" f1">LIVE-LINE</span> &lt;b&gt;not a tag&lt;/b&gt;' "$T/live.html"
	grep -q 'first-line' "$T/live.html"
	wait_state 1 passed 30
}

@test "a 64 MiB log opens as fast as a small one, and the whole file is a link away" {
	set_pipeline "$SRC" big <<'YML'
stages:
  - name: big
    run: yes 'a line of a big log, written again and again to make it large' | head -c 67108864
YML
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 120
	log=$(job_field 1 '.stages[0].log')
	[ "$(stat -c %s "$log")" -ge 67108864 ]
	start=$EPOCHREALTIME
	get /job/1/log/0 > "$T/big.html"
	took=$(echo "$EPOCHREALTIME - $start" | bc)
	echo "log page: $took s, $(stat -c %s "$T/big.html") bytes"
	[ "$(echo "$took < 2" | bc)" = 1 ]
	[ "$(stat -c %s "$T/big.html")" -lt 400000 ]
	grep -q 'id="tail"\|id=tail' "$T/big.html"
	grep -q "href='/job/1/log/0/raw'" "$T/big.html"
	browse big /job/1/log/0 "document.getElementById('log').textContent.length > 100000" 15
	[ "$(get /job/1/log/0/raw | wc -c)" = "$(stat -c %s "$log")" ]
}

@test "badges are SVG, /metrics parses and agrees with status, notifications link to jobs" {
	start_sink http hook
	cat >> "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: hook
    webhook: { url: 'http://127.0.0.1:$SINK_PORT/hook' }
    on: [all]
YML
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	for q in "r=app&b=develop" "r=app&e=staging"; do
		get "/badge.svg?$q" > "$T/badge.svg"
		/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag == "{http://www.w3.org/2000/svg}svg", r.tag' "$T/badge.svg"
	done
	get "/badge.svg?r=app&b=develop" | grep -q '<title>develop: passed</title>'
	get "/badge.svg?r=app&e=staging" | grep -q '<title>staging: healthy</title>'
	r gc >/dev/null	# measures the disk use /metrics reports
	wait_for "[ \"\$(sink_count hook)\" -ge 2 ]" 30
	get /metrics > "$T/metrics"
	r status --json --limit 1000 > "$T/status.json"
	/usr/bin/python3 - "$T/metrics" "$T/status.json" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fam = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
st = json.load(open(sys.argv[2]))
def one(name, **labels):
    base = name
    for suffix in ("_count", "_sum", "_bucket"):
        if name.endswith(suffix) and name not in fam:
            base = name[:-len(suffix)]
    for s in fam[base].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise SystemExit("no sample %s %s" % (name, labels))
jobs = st["jobs"]
assert one("runner_up") == (1 if st["daemon"]["running"] else 0)
assert one("runner_jobs_queued") == sum(j["state"] == "queued" for j in jobs)
assert one("runner_jobs_running") == sum(j["state"] == "running" for j in jobs)
assert one("runner_jobs", kind="build", state="passed") == sum(j["kind"] == "build" and j["state"] == "passed" for j in jobs)
assert one("runner_deployments", repo="app", environment="staging", state="healthy") == 1
assert one("runner_notifications_pending") == st["notifications"]["pending"]
assert one("runner_notifications_dead") == st["notifications"]["dead"]
assert one("runner_disk_bytes", kind="logs") == st["disk"]["logs"]
assert one("runner_disk_bytes", kind="store") == st["disk"]["store"]
assert fam["runner_stage_duration_seconds"].type == "histogram"
assert one("runner_stage_duration_seconds_count", repo="app", stage="unit") == 1
assert one("runner_job_duration_seconds_count", repo="app", kind="build") == 1
print("metrics agree")
PY
	# the webhook links to the job's page, under base_url
	grep -l '"event":"job_passed"' "$T"/sink-hook/*.body | head -1 | xargs cat | jq -e '.url == "http://ci.example.test/job/1"'
}

@test "runner web serves in the foreground; the daemon starts it again when it dies" {
	P2=$(free_port)
	# a port alone: 127.0.0.1
	"$RUNNER" web --listen "$P2" >"$T/web.log" 2>&1 3>&- &
	wpid=$!
	wait_for "[ -n \"\$(http_body $P2 /api/status)\" ]" 15
	ss -ltn | grep -q "127.0.0.1:$P2 "
	grep -q "web page on http://127.0.0.1:$P2/" "$T/web.log"
	http_body "$P2" /api/status | jq -e '.jobs == []'
	kill "$wpid"
	wait "$wpid" || true
	# port 0: the one the system chose is the one logged
	"$RUNNER" web --listen 127.0.0.1:0 >"$T/web0.log" 2>&1 3>&- &
	wpid=$!
	wait_for "grep -q 'web page on' '$T/web0.log'" 15
	P0=$(sed -n 's|.*web page on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/web0.log")
	[ "${P0:-0}" -gt 0 ] || { cat "$T/web0.log"; false; }
	http_body "$P0" /api/status | jq -e '.jobs == []'
	kill "$wpid"
	wait "$wpid" || true
	run r web --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: runner web"* ]]
	start_daemon --workers 1
	web_up
	old=$(pgrep -f "runner-web web --home $RUNNER_HOME")
	kill -KILL "$old"
	wait_for "[ -n \"\$(pgrep -f 'runner-web web --home $RUNNER_HOME')\" ] && [ \"\$(pgrep -f 'runner-web web --home $RUNNER_HOME')\" != $old ]" 15
	web_up
	stop_daemon
	! pgrep -f "runner-web web --home $RUNNER_HOME" || false
}

# A stage with the network shares this machine's loopback; the page has
# no login, so it must not answer repository code (it would read every
# repository's jobs, logs and artifacts through it).
probe_stage() {
	cat <<YML
stages:
  - name: probe
    run: |
      if curl -sS -m 10 http://127.0.0.1:$WEB_PORT/api/status; then echo LEAKED-CURL; exit 1; fi
      out=\$(bash -c 'exec 3<>/dev/tcp/127.0.0.1/$WEB_PORT && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>&1 || true)
      case "\$out" in *HTTP*|*runner_*) echo LEAKED-TCP; exit 1;; esac
      curl -sS -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:$WEB_PORT/badge.svg || true
      echo; echo probed
YML
}

@test "repository code with the network cannot read the page; the machine's users can" {
	start_daemon --workers 1
	web_up
	probe_stage | set_pipeline "$SRC" "Reads the web page"
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { r log 1 probe >&2; false; }
	log=$(r log 1 probe)
	[[ "$log" == *probed* ]]
	[[ "$log" != *LEAKED* ]]
	[[ "$log" != *'"jobs"'* ]]
	# it was the page that said no, and why
	grep -q "refused a connection from 127.0.0.1 port [0-9]*: it is repository code's (uid $(id -u runner-build-0))" "$T/serve.log"
	# root and other users of the machine still see it
	get /api/status | jq -e '.jobs[0].id == 1'
	test_user runner-test-viewer
	as_user runner-test-viewer "$T" bash -c "exec 3<>/dev/tcp/127.0.0.1/$WEB_PORT; printf 'GET /api/status HTTP/1.0\r\n\r\n' >&3; cat <&3" | grep -q '"jobs"'
}
