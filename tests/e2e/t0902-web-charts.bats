#!/usr/bin/env bats
# The web page's charts, phones, finding things and accessibility, on a
# real daemon running real pushes: each chart (a job's stage timeline, a
# branch's trend of build durations, an environment's history of what
# served) is valid SVG with one mark per stage, build or release; at
# 400 px no page scrolls sideways; the overview and history pages filter
# by repository, branch, state and person and page through history; bad
# query parameters get a 400 that names them; axe-core finds no serious
# or critical violation on any page. Screenshots are kept in
# BUILD/meson-logs/screenshots/.

load lib

BROWSER="$SOURCE_ROOT/tests/helpers/browser.py"
SVGCHECK="$SOURCE_ROOT/tests/helpers/svgcheck.py"

setup() {
	setup_env
	WEB_PORT=$(free_port)
	SHOTS="$BUILD_ROOT/meson-logs/screenshots"
	mkdir -p "$SHOTS"
	make_repo app
	SRC=$(make_clone app)
	# every branch builds (develop alone deploys)
	trust_config "    branches: '.*'
http:
  listen: 127.0.0.1:$WEB_PORT"
}
teardown() { teardown_env; }

# get PATH: the page's body. A connection closed without an answer (met
# rarely, under load, in this and other tests of the page) is said and
# tried again, twice at most; every page here has a body.
get() {
	local out try
	for try in 1 2 3; do
		out=$(http_body "$WEB_PORT" "$1")
		[ -z "$out" ] || break
		echo "$1: the connection closed without an answer (try $try)" >&2
	done
	printf '%s\n' "$out"
}

# push_build N: commit and push to develop; wait for build N to end
push_build() {
	git -C "$SRC" commit -q --allow-empty -m "change $1"
	git -C "$SRC" push -q origin develop
	wait_for "case \"\$(job_state $1)\" in queued|running|'') false;; *) true;; esac" 90
}

@test "each chart is valid SVG with one mark per stage, build and release" {
	start_daemon --workers 1
	web_up
	push_build 1
	[ "$(job_state 1)" = passed ]
	d1=$(last_job deploy staging)
	[ "$(wait_deploy "$d1")" = healthy ]
	b2=$((d1 + 1))
	push_build "$b2"
	[ "$(job_state "$b2")" = passed ]
	wait_for "[ \"\$(last_job deploy staging)\" != $d1 ]" 30
	d2=$(last_job deploy staging)
	[ "$(wait_deploy "$d2")" = healthy ]
	# a build that fails: a red bar in the trend, and no deployment
	b3=$((d2 + 1))
	set_pipeline "$SRC" "Fails" <<'YML'
stages:
  - name: unit
    run: "true"
  - name: broken
    run: exit 3
YML
	git -C "$SRC" push -q origin develop
	wait_for "case \"\$(job_state $b3)\" in queued|running|'') false;; *) true;; esac" 90
	[ "$(job_state "$b3")" = failed ]

	get /job/1 > "$T/job.html"
	"$SVGCHECK" "$T/job.html" stage-chart 3 stage
	"$SVGCHECK" "$T/job.html" stage-chart 3 passed
	get "/job/$b3" > "$T/failed.html"
	"$SVGCHECK" "$T/failed.html" stage-chart 2 stage
	"$SVGCHECK" "$T/failed.html" stage-chart 1 failed
	# a deployment's steps
	get "/job/$d2" > "$T/deploy.html"
	n=$(job_field "$d2" '[.stages[] | select(.duration_ms != null)] | length')
	"$SVGCHECK" "$T/deploy.html" stage-chart "$n" stage

	get "/branch?r=app&b=develop" > "$T/branch.html"
	"$SVGCHECK" "$T/branch.html" trend-chart 3 build
	"$SVGCHECK" "$T/branch.html" trend-chart 2 passed
	"$SVGCHECK" "$T/branch.html" trend-chart 1 failed

	get "/env?r=app&e=staging" > "$T/env.html"
	"$SVGCHECK" "$T/env.html" served-chart 2 release
	"$SVGCHECK" "$T/env.html" served-chart 1 serving
	grep -q "<title>#$d2 " "$T/env.html"
}

# ids PATH: the jobs a page lists, one a line, in order
ids() { get "$1" | grep -o "data-job='[0-9]*'" | grep -o '[0-9]*'; }
# expect_ids PATH SQL: the page lists what the SQL selects, newest first
expect_ids() {
	local got want
	got=$(ids "$1" | tr '\n' ' ')
	want=$(db "$2 ORDER BY id DESC" | tr '\n' ' ')
	[ "$got" = "$want" ] || { echo "$1: listed [$got], expected [$want]"; get "$1" | head -c 3000; false; }
}
# refused PATH STATUS TEXT: the page answers STATUS, its message saying TEXT
# (one request: its status line, then its body). A connection closed
# without a word (seen under load on PostgreSQL, rarely) is said and
# tried again, twice at most.
refused() {
	local fd st body line try
	for try in 1 2 3; do
		exec {fd}<>"/dev/tcp/127.0.0.1/$WEB_PORT"
		printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&$fd
		st= body=
		IFS= read -r st <&$fd || true
		while IFS= read -r line <&$fd && [ -n "${line%$'\r'}" ]; do :; done
		body=$(cat <&$fd)
		exec {fd}<&-
		[ -z "$st" ] || break
		echo "$1: the connection closed without an answer (try $try)"
	done
	st=$(echo "$st" | cut -d' ' -f2)
	[ "$st" = "$2" ] && [[ "$body" == *"$3"* ]] || { echo "$1: $st $body"; false; }
}

@test "the overview and history filter by repository, branch, state and person, and page through history" {
	start_daemon --workers 2
	web_up
	# alice's build and its deployment (which records her too)
	GL_USER=alice git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	# bob's feature branch with a quick pipeline, and his failing build
	git -C "$SRC" checkout -q -b feature/x
	set_pipeline "$SRC" "Quick" <<'YML'
stages:
  - name: quick
    run: "true"
YML
	REMOTE_USER=bob git -C "$SRC" push -q origin feature/x
	f=$((d + 1))
	wait_state "$f" passed 60
	git -C "$SRC" checkout -q develop
	set_pipeline "$SRC" "Fails" <<'YML'
stages:
  - name: broken
    run: exit 3
YML
	REMOTE_USER=bob git -C "$SRC" push -q origin develop
	b=$((f + 1))
	wait_state "$b" failed 60
	# carol's 22 branches: more than a page of the overview
	refs=()
	for i in $(seq 22); do refs+=("feature/x:refs/heads/c$i"); done
	GL_USER=carol git -C "$SRC" push -q origin "${refs[@]}"
	wait_for "[ \"\$(db \"SELECT count(*) FROM jobs WHERE pushed_by = 'carol' AND state = 'passed'\")\" = 22 ]" 120
	[ "$(db "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")" = 0 ]

	expect_ids "/?p=alice" "SELECT id FROM jobs WHERE pushed_by = 'alice'"
	[ "$(ids "/?p=alice" | wc -l)" = 2 ]
	expect_ids "/?s=failed" "SELECT id FROM jobs WHERE state = 'failed'"
	[ "$(ids "/?s=failed")" = "$b" ]
	expect_ids "/?r=app&b=feature/x" "SELECT id FROM jobs WHERE ref = 'refs/heads/feature/x'"
	[ "$(ids "/?r=app&b=feature/x")" = "$f" ]
	expect_ids "/?b=c7&s=passed&p=carol" "SELECT id FROM jobs WHERE ref = 'refs/heads/c7'"
	expect_ids "/branch?r=app&b=develop&p=bob" "SELECT id FROM jobs WHERE id = $b"
	expect_ids "/branch?r=app&b=develop&s=passed" "SELECT id FROM jobs WHERE ref = 'refs/heads/develop' AND state = 'passed'"
	expect_ids "/repo?r=app&p=carol&s=passed" "SELECT id FROM jobs WHERE pushed_by = 'carol'"
	expect_ids "/repo?r=app&b=c3" "SELECT id FROM jobs WHERE ref = 'refs/heads/c3'"
	# the form shows the filters it was given
	get "/?p=carol&s=passed" > "$T/filtered.html"
	grep -q "<option value='passed' selected>passed</option>" "$T/filtered.html"
	grep -q "name=p size=10 value='carol'" "$T/filtered.html"

	# paging: 20 of carol's, then the 2 older, the filter kept in the link
	get "/?p=carol" > "$T/page1.html"
	[ "$(grep -o "data-job='[0-9]*'" "$T/page1.html" | wc -l)" = 20 ]
	next=$(grep -o "href='/?p=carol&amp;before=[0-9]*'>older" "$T/page1.html" | sed "s/href='//; s/'>older//; s/&amp;/\\&/g")
	[ -n "$next" ] || { grep -o "<nav.*</nav>" "$T/page1.html"; false; }
	get "$next" > "$T/page2.html"
	! grep -q ">older</a>" "$T/page2.html" || false
	grep -q "href='/?p=carol'>newest</a>" "$T/page2.html"
	all=$( { grep -o "data-job='[0-9]*'" "$T/page1.html"; grep -o "data-job='[0-9]*'" "$T/page2.html"; } | grep -o '[0-9]*' | tr '\n' ' ')
	want=$(db "SELECT id FROM jobs WHERE pushed_by = 'carol' ORDER BY id DESC" | tr '\n' ' ')
	[ "$all" = "$want" ] || { echo "pages [$all], expected [$want]"; false; }
	# a repository's history pages by 50: before= alone
	expect_ids "/repo?r=app&before=$f" "SELECT id FROM jobs WHERE id < $f"

	# what the page cannot take: 400, naming the parameter
	refused "/?s=bogus" 400 "unknown state 'bogus' in 's' (one of queued, running"
	refused "/?before=abc" 400 "'before' must be a job number"
	refused "/?before=0" 400 "'before' must be a job number"
	refused "/repo?r=app&before=-3" 400 "'before' must be a job number"
	refused "/?zzz=1" 400 "unknown query parameter 'zzz'"
	refused "/?r=nosuch" 400 "no repository 'nosuch' ('r')"
	refused "/branch?r=app&b=a..b" 400 "'b' is not a branch name"
	refused "/?p=%01x" 400 "'p' is not a person's name"
	refused "/repo?r=nosuch" 404 "no repository &#39;nosuch&#39;"
	refused "/branch?r=app" 404 "no such branch"
	[ "$(web_status "/?r=&b=&s=&p=")" = 200 ]
}

@test "every page fits a 400 px phone without scrolling sideways, and axe-core finds nothing serious" {
	AXE=$(bash "$SOURCE_ROOT/tests/helpers/axe.sh" "$BUILD_ROOT")
	start_daemon --workers 1
	web_up
	git -C "$SRC" commit -q --allow-empty -m "a subject long enough to need more than the width of a phone to be shown on one line"
	push_build 1
	[ "$(job_state 1)" = passed ]
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	set_pipeline "$SRC" "Fails" <<'YML'
stages:
  - name: a-stage-with-a-rather-long-name-that-goes-on
    run: |
      echo 'a line of output far longer than a phone is wide: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
      exit 3
YML
	git -C "$SRC" push -q origin develop
	f=$((d + 1))
	wait_state "$f" failed 60
	bad=0
	for page in "overview /" "job /job/1" "failed /job/$f" "deploy /job/$d" \
	    "log /job/1/log/0" "failedlog /job/$f/log/0" "branch /branch?r=app&b=develop" \
	    "repo /repo?r=app" "env /env?r=app&e=staging" "filtered /?r=app&s=passed" \
	    "missing /job/999999"; do
		name=${page%% *} url=${page#* }
		for width in 400 1280; do
			rc=0
			"$BROWSER" --timeout 20 --width "$width" --fits --axe "$AXE" \
			    --screenshot "$SHOTS/t0902-$name-$width.png" \
			    "http://127.0.0.1:$WEB_PORT$url" > "$T/$name-$width.html" 2> "$T/$name-$width.err" || rc=$?
			if [ "$rc" != 0 ]; then
				echo "$url at $width px: exit $rc"
				cat "$T/$name-$width.err"
				bad=1
			fi
		done
	done
	[ "$bad" = 0 ]
}

# size PATH: the bytes of a page's body
size() { get "$1" | wc -c; }

@test "with 100,000 jobs in the store no page passes 100 KB, and filters and pages still find the right ones" {
	# 100,000 jobs of one repository: every 10th failed, every 50th on
	# branch f, every 1000th pushed by dave, each with a stage
	z=0000000000000000000000000000000000000000
	if [ -n "${RUNNER_STORE:-}" ]; then
		db "INSERT INTO jobs (repo, ref, old_commit, commit_id, state, subject, attempt, created_ms, started_ms, finished_ms, pushed_by)
		SELECT '/srv/git/big.git', CASE WHEN i % 50 = 0 THEN 'refs/heads/f' ELSE 'refs/heads/develop' END, '$z', lpad(to_hex(i), 40, '0'),
		       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'passed' END, 'commit ' || i, 1,
		       1700000000000 + i * 1000, 1700000000000 + i * 1000 + 10, 1700000000000 + i * 1000 + 900,
		       CASE WHEN i % 1000 = 0 THEN 'dave' ELSE 'erin' END
		FROM generate_series(1, 100000) AS i;
		INSERT INTO stages (job_id, idx, name, state, exit_code, log_path, started_ms, finished_ms)
		SELECT id, 0, 'unit', state, 0, '/dev/null', started_ms, finished_ms FROM jobs;
		ANALYZE" >/dev/null
	else
		db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
		INSERT INTO jobs (repo, ref, old_commit, commit_id, state, subject, attempt, created_ms, started_ms, finished_ms, pushed_by)
		SELECT '/srv/git/big.git', CASE WHEN i % 50 = 0 THEN 'refs/heads/f' ELSE 'refs/heads/develop' END, '$z', printf('%040x', i),
		       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'passed' END, 'commit ' || i, 1,
		       1700000000000 + i * 1000, 1700000000000 + i * 1000 + 10, 1700000000000 + i * 1000 + 900,
		       CASE WHEN i % 1000 = 0 THEN 'dave' ELSE 'erin' END
		FROM n;
		INSERT INTO stages (job_id, idx, name, state, exit_code, log_path, started_ms, finished_ms)
		SELECT id, 0, 'unit', state, 0, '/dev/null', started_ms, finished_ms FROM jobs;"
	fi
	[ "$(db 'SELECT count(*) FROM jobs')" = 100000 ]
	start_daemon --workers 1
	web_up
	# how long the overview takes here is the benchmark's to say; printed
	get / >/dev/null
	start=$EPOCHREALTIME
	get / > "$T/over.html"
	echo "overview with 100,000 jobs: $(echo "($EPOCHREALTIME - $start) * 1000" | bc) ms, $(wc -c < "$T/over.html") bytes"
	for p in / "/?p=dave" "/?s=failed&before=50000" /job/100000 /job/1 "/branch?r=big&b=develop" \
	    "/branch?r=big&b=f&s=failed" "/repo?r=big" "/repo?r=big&p=dave&before=3000"; do
		n=$(size "$p")
		echo "$p: $n bytes"
		[ "$n" -gt 1000 ] && [ "$n" -lt 102400 ] || { echo "$p: $n bytes"; false; }
	done
	# the newest that ended, 20 a page
	[ "$(ids / | tr '\n' ' ')" = "$(seq 100000 -1 99981 | tr '\n' ' ')" ]
	# dave's, and the page after them
	[ "$(ids "/?p=dave" | tr '\n' ' ')" = "$(seq 100000 -1000 81000 | tr '\n' ' ')" ]
	get "/?p=dave" | grep -q "href='/?p=dave&amp;before=81000'>older</a>"
	[ "$(ids "/?p=dave&before=81000" | tr '\n' ' ')" = "$(seq 80000 -1000 61000 | tr '\n' ' ')" ]
	[ "$(ids "/?s=failed&before=50000" | tr '\n' ' ')" = "$(seq 49990 -10 49800 | tr '\n' ' ')" ]
	[ "$(ids "/branch?r=big&b=f&s=failed&before=1000" | tr '\n' ' ')" = "$(seq 950 -50 50 | tr '\n' ' ')" ]
	[ "$(ids "/repo?r=big&p=dave&before=3000" | tr '\n' ' ')" = "2000 1000 " ]
	# the branch's trend: its 50 newest builds
	get "/branch?r=big&b=develop" > "$T/branch.html"
	"$SVGCHECK" "$T/branch.html" trend-chart 50 build
}
