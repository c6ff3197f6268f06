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
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT"
}
teardown() { teardown_env; }

get() { http_body "$WEB_PORT" "$1"; }
status_of() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$WEB_PORT"
	printf '%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "${2:-GET}" "$1" >&$fd
	head -n 1 <&$fd | cut -d' ' -f2
	exec {fd}<&-
}
web_up() { wait_for "[ \"\$(status_of /)\" = 200 ]" 15; }

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
