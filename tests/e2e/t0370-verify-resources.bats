#!/usr/bin/env bats
# The verification window measures the CPU and memory of what a
# deployment runs: a release whose service burns a core is rolled back
# for its CPU, one that grows past the memory limit for its memory, a
# calm one passes; each records its peak and p95, `runner show` prints
# them and the job page draws them. The numbers come from the services
# the deploy command left running (their pid namespace), or from the
# application's Prometheus endpoint when runner.yml names one.
#
# The service is a real HTTP server (python3) the deploy command
# detaches, serving /health and its own /metrics. The limits hold on a
# busy machine: a busy loop may get half a core, a sleeping server next
# to nothing.

load lib

# app.py PORT MODE STATE_DIR: calm, burn (a child process in a busy
# loop), spin (a busy thread: the process's own CPU seconds grow) or grow
# (8 MB more every 100 ms, up to 320 MB)
write_app() {
	cat > "$SRC/app.py" <<'PY'
import http.server, os, subprocess, sys, threading, time

if sys.argv[1] == 'burner':
    while True:
        pass
port, mode, state = int(sys.argv[1]), sys.argv[2], sys.argv[3]
hog = []

def spin():
    while True:
        pass

def grow():
    for _ in range(40):
        hog.append(b'x' * (8 << 20))
        time.sleep(0.1)

if mode == 'burn':
    subprocess.Popen([sys.executable, os.path.abspath(__file__), 'burner'])
elif mode == 'spin':
    threading.Thread(target=spin, daemon=True).start()
elif mode == 'grow':
    threading.Thread(target=grow, daemon=True).start()

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/metrics':
            t = os.times()
            with open('/proc/self/statm') as f:
                rss = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
            body = ('# HELP app_cpu_seconds_total CPU time.\n'
                    '# TYPE app_cpu_seconds_total counter\n'
                    'app_cpu_seconds_total{mode="user",x="a}b"} %f\n'
                    'app_cpu_seconds_total{mode="system"} %f\n'
                    'app_cpu_seconds_total_other 99999\n'
                    '# TYPE app_memory_bytes gauge\n'
                    'app_memory_bytes %d\n' % (t.user, t.system, rss))
        else:
            body = 'ok\n'
        body = body.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), H)
open(os.path.join(state, 'ready'), 'w').close()
srv.serve_forever()
PY
}

# pipeline WINDOW LIMITS: staging serves app.py in the mode of file
# `mode`, verified for WINDOW with LIMITS (max_cpu, max_memory)
pipeline() {
	set_pipeline "$SRC" "Serve app.py, verified for $1" <<YML
stages:
  - name: build
    run: mkdir -p dist && cp app.py mode dist/
    artifacts: [dist/**]
environments:
  staging:
    url: http://127.0.0.1:$STAGING_PORT
    deploy: |
      rm -f "\$RUNNER_STATE_DIR/ready"
      setsid -f python3 "\$RUNNER_RELEASE_DIR/dist/app.py" $STAGING_PORT "\$(cat "\$RUNNER_RELEASE_DIR/dist/mode")" "\$RUNNER_STATE_DIR" >/dev/null 2>&1 </dev/null
      i=0; until [ -e "\$RUNNER_STATE_DIR/ready" ] || [ \$i -ge 1200 ]; do sleep 0.05; i=\$((i + 1)); done
    checks: [ { http: /health } ]
    verify: { window: $1, interval: 500ms, max_latency: 3s, $2 }
YML
}

setup() {
	setup_env
	empty_source app
	write_app
}
teardown() {
	if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
		echo 1 > "$CG/cgroup.kill" 2>/dev/null ||
		    xargs -r kill -KILL < "$CG/cgroup.procs" 2>/dev/null || true
		wait_for "rmdir '$CG'" 10 || true
	fi
	teardown_env
}

# release MODE: commit app.py in MODE and push; prints the id of the
# staging deployment it made once that has ended
release() {
	local before
	before=$(last_job deploy staging)
	echo "$1" > "$SRC/mode"
	git -C "$SRC" add app.py mode
	git -C "$SRC" commit -q -m "The app, $1"
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job deploy staging)\" != '$before' ]" 60
	d=$(last_job deploy staging)
	wait_deploy "$d" 120 >/dev/null
	echo "$d"
}

# says DEPLOY STATE: the deployment ended in STATE, or what it saw
says() {
	local st
	st=$(job_state "$1")
	[ "$st" = "$2" ] || { r show "$1"; r log "$1" verify; false; }
}

@test "a calm release passes and records its CPU and memory; one that burns a core is rolled back for its CPU" {
	pipeline 4s "max_cpu: 20%, max_memory: 200MB"
	start_daemon --workers 2
	d1=$(release calm)
	says "$d1" healthy
	# measured: the services of the deployment, sampled each interval
	[[ "$(job_field "$d1" .verify.source)" == *"services deployment #$d1 left running"* ]]
	[ "$(job_field "$d1" .verify.cpu.ok)" = true ]
	[ "$(job_field "$d1" .verify.cpu.max)" = 20 ]
	[ "$(job_field "$d1" '.verify.cpu.samples')" -ge 5 ]
	# a sleeping python server: little CPU, some memory, less than 200 MB
	jq -e '.verify.cpu.peak < 20 and .verify.cpu.p95 <= .verify.cpu.peak' \
	    <(r show --json "$d1") >/dev/null || { r show --json "$d1"; false; }
	jq -e '.verify.memory.peak > 4000000 and .verify.memory.peak < 209715200 and .verify.memory.max == 209715200' \
	    <(r show --json "$d1") >/dev/null
	# one point per sample, of each measure
	n=$(job_field "$d1" '.verify.samples.t_ms | length')
	[ "$n" -ge 5 ]
	[ "$(job_field "$d1" '[.verify.samples[] | length] | unique | length')" = 1 ]
	run r show "$d1"
	[[ "$output" == *"cpu:      peak "*"%, p95 "*"% (at most 20%)"* ]]
	[[ "$output" == *"memory:   peak "*"MB, p95 "*"MB (at most 200.0 MB)"* ]]

	d2=$(release burn)
	says "$d2" rolled_back
	[ "$(job_field "$d2" .verify.cpu.ok)" = false ]
	[ "$(job_field "$d2" .verify.memory.ok)" = true ]
	jq -e '.verify.cpu.peak > 20' <(r show --json "$d2") >/dev/null
	[[ "$(job_field "$d2" .error)" == "verification failed: CPU "*"above 20% for 3 samples in a row"* ]]
	# the calm release serves again
	[ "$(curl -s "http://127.0.0.1:$STAGING_PORT/health")" = ok ]
	run r show "$d2"
	[[ "$output" == *"cpu:      peak "*"failed"* ]]
}

@test "a release that grows past the memory limit is rolled back for its memory" {
	pipeline 8s "max_memory: 120MB"
	start_daemon --workers 2
	d1=$(release calm)
	says "$d1" healthy
	[ "$(job_field "$d1" .verify.memory.ok)" = true ]
	d2=$(release grow)
	says "$d2" rolled_back
	[ "$(job_field "$d2" .verify.memory.ok)" = false ]
	jq -e '.verify.memory.peak > 125829120' <(r show --json "$d2") >/dev/null
	[[ "$(job_field "$d2" .error)" == "verification failed: memory "*"above 120.0 MB for 3 samples in a row"* ]]
	# no CPU limit: measured, not judged
	[ "$(job_field "$d2" .verify.cpu.max)" = null ]
}

@test "the application's Prometheus endpoint, named in runner.yml, drives a CPU rollback" {
	pipeline 4s "max_cpu: 20%, max_memory: 80%"
	cat >> "$RUNNER_HOME/runner.yml" <<YML
environments:
  staging:
    metrics:
      url: http://127.0.0.1:$STAGING_PORT/metrics
      cpu: app_cpu_seconds_total
      memory: app_memory_bytes
YML
	start_daemon --workers 2
	d1=$(release calm)
	says "$d1" healthy
	[ "$(job_field "$d1" .verify.source)" = "http://127.0.0.1:$STAGING_PORT/metrics (app_cpu_seconds_total, app_memory_bytes)" ]
	# 80% of this host's memory
	total=$(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)
	r show --json "$d1" | jq -e --argjson total "$total" \
	    '.verify.memory.max <= $total * 0.8 and .verify.memory.max >= $total * 0.79' >/dev/null
	jq -e '.verify.memory.peak > 4000000' <(r show --json "$d1") >/dev/null
	d2=$(release spin)
	says "$d2" rolled_back
	[[ "$(job_field "$d2" .error)" == "verification failed: CPU "*"of http://127.0.0.1:$STAGING_PORT/metrics"* ]]
}

@test "runner.yml's cgroup: the CPU and memory of what runs in it are measured" {
	local v2
	v2=$(findmnt -t cgroup2 -n -o TARGET | head -1)
	[ -n "$v2" ] && [ "$(id -u)" = 0 ] || skip "needs root and a cgroup v2 hierarchy"
	CG="$v2/${T##*/}"
	mkdir "$CG" || skip "cannot make a cgroup under $v2"
	set_pipeline "$SRC" "Served by the test, in a cgroup" <<YML
stages:
  - name: build
    run: mkdir -p dist && echo built > dist/built
    artifacts: [dist/**]
environments:
  staging:
    url: http://127.0.0.1:$STAGING_PORT
    deploy: "true"
    checks: [ { http: /health } ]
    verify: { window: 20s, interval: 500ms, max_latency: 3s, max_cpu: 20%, max_memory: 1G }
YML
	printf 'environments:\n  staging:\n    cgroup: %s\n    serve_users: [%s]\n' \
	    "$CG" "$(id -un)" >> "$RUNNER_HOME/runner.yml"
	# the service, the test's own, in the cgroup, with a child that
	# burns a core
	mkdir -p "$T/svc"
	sh -c 'echo $$ > "$1/cgroup.procs" && exec python3 "$2" "$3" burn "$4"' _ \
	    "$CG" "$SRC/app.py" "$STAGING_PORT" "$T/svc" >/dev/null 2>&1 3>&- &
	wait_for "[ -e '$T/svc/ready' ]" 30
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 60
	d=$(last_job deploy staging)
	wait_deploy "$d" 120 >/dev/null
	says "$d" failed
	[ "$(job_field "$d" .verify.source)" = "cgroup $CG" ]
	[[ "$(job_field "$d" .error)" == "verification failed: CPU "*"above 20% for 3 samples in a row"*"of cgroup $CG" ]]
	# its two processes' memory (memory.current, or their RSS where the
	# memory controller is not enabled)
	jq -e '.verify.memory.peak > 8000000 and .verify.memory.ok' \
	    <(r show --json "$d") >/dev/null || { r show --json "$d"; false; }
}

@test "the job page draws the verification window: valid SVG, one point per sample, the limits" {
	pipeline 3s "max_cpu: 90%, max_memory: 500MB"
	WEB=$(free_port)
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$WEB" >> "$RUNNER_HOME/runner.yml"
	start_daemon --workers 2
	d1=$(release calm)
	says "$d1" healthy
	# the points of each line: its samples that hold a value (the CPU
	# has none for the first, at the window's start)
	n=$(job_field "$d1" '[.verify.samples | (.p95_ms, .error_rate, .cpu, .memory) | map(select(. != null)) | length] | join(",")')
	http_body "$WEB" "/job/$d1" > "$T/page.html"
	# an svg with role=img, a title and a text alternative: a line of
	# samples for each of the four measures
	python3 "$SOURCE_ROOT/tests/helpers/svgcheck.py" "$T/page.html" verify 4 series
	python3 - "$T/page.html" "$n" <<'PY'
import re, sys
import xml.etree.ElementTree as ET
page, n = open(sys.argv[1]).read(), [int(x) for x in sys.argv[2].split(',')]
svg = re.search(r"<svg[^>]*\bid='verify'.*?</svg>", page, re.S).group(0)
assert '<script' not in svg and 'style=' not in svg
ns = {'s': 'http://www.w3.org/2000/svg'}
root = ET.fromstring(svg)
lines = [l for l in root.iter('{http://www.w3.org/2000/svg}polyline')
         if 'series' in l.get('class').split()]
assert len(lines) == 4, "%d lines" % len(lines)
for l, want in zip(lines, n):
    pts = l.get('points').split()
    assert len(pts) == want, "%s: %d points, %d samples" % (l.get('class'), len(pts), want)
    assert want >= 4, n
limits = root.findall(".//s:polyline[@class='limit']", ns)
assert len(limits) == 4, "%d limits" % len(limits)
text = ''.join(root.itertext())
for word in ('latency p95', 'error rate', 'CPU', 'memory', 'limit 90 %', 'limit 500 MB'):
    assert word in text, word
PY
}

@test "max_cpu and max_memory are percentages or sizes, and runner.yml's sources are checked" {
	for bad in "max_cpu: 80" "max_cpu: -5%" "max_memory: 180%" "max_memory: lots"; do
		pipeline 3s "$bad"
		run r check "$SRC/.runner.yml"
		[ "$status" -ne 0 ]
		[[ "$output" == *".runner.yml:"*":"*"'${bad%%:*}'"* ]] || { echo "$bad: $output"; false; }
	done
	pipeline 3s "max_cpu: 150%, max_memory: 256MB"
	r check "$SRC/.runner.yml"
	for bad in "metrics: ftp://x/metrics" "metrics: { url: http://x/m, cpu: 'a b' }" \
	    "cgroup: /sys/fs/cgroup/../etc" "unit: 'a/b'"; do
		printf 'environments:\n  staging:\n    %s\n' "$bad" > "$RUNNER_HOME/runner.yml"
		run r check --config
		[ "$status" -ne 0 ]
		[[ "$output" == *"runner.yml:3:"* ]] || { echo "$bad: $output"; false; }
	done
	printf 'environments:\n  staging:\n    unit: app\n    metrics: http://x/m\n' > "$RUNNER_HOME/runner.yml"
	run r check --config
	[[ "$output" == *"more than one of 'unit', 'cgroup' and 'metrics'"* ]]
}
