#!/usr/bin/env bats
# A repository's name is fixed when the runner first sees it: a second
# app.git added later gets a longer name and never renames the first in
# status, badges, /metrics, --repo or runner run. Automatic deployments
# come only from the branches auto_deploy names: a feature branch builds,
# and staging keeps serving develop's build; status, show and the page say
# which branch and commit an environment serves.

load lib

setup() {
	setup_env
	WEB_PORT=$(free_port)
}
teardown() { teardown_env; }

get() { http_body "$WEB_PORT" "$1"; }
web_up() { wait_for "get / | grep -q '<html'" 15; }

# a pipeline that builds an artifact and deploys it to each ENV named
# (nothing listens: the deploy command only says so)
pipeline() {
	{
		printf 'stages:\n  - name: build\n    run: mkdir -p dist && echo v > dist/v\n'
		printf '    artifacts: [dist/**]\nenvironments:\n'
		for e in "$@"; do
			printf '  %s:\n    deploy: echo deployed to %s\n' "$e" "$e"
		done
	} | set_pipeline "$SRC" "${PIPELINE_SUBJECT:-The pipeline}"
}

# nothing queued or running
settled() {
	wait_for "[ \"\$(r status --json --limit 100 | jq '[.jobs[] | select(.state == \"queued\" or .state == \"running\")] | length')\" = 0 ]" "${1:-60}"
}

# the id of the newest job of REF (refs/heads/...) of kind KIND
job_of() {
	r status --json --limit 100 | jq -r --arg r "$1" --arg k "${2:-build}" \
	    '[.jobs[] | select(.ref == $r and .kind == $k) | .id] | max // empty'
}

@test "a second app.git never renames the first: status, badges, metrics and --repo" {
	mkdir -p "$T/a" "$T/b"
	make_repo a/app
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$WEB_PORT" > "$RUNNER_HOME/runner.yml"
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/a/app.git"
	pipeline staging
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	settled
	d=$(last_job deploy staging)
	[ "$(job_state "$d")" = healthy ]
	# alone, it is "app"
	[ "$(job_field 1 .repo_name)" = app ]
	get "/badge.svg?r=app&b=develop" | grep -q '<title>develop: passed</title>'
	get /metrics > "$T/metrics1"
	grep -q '^runner_job_duration_seconds_count{repo="app",kind="build"} 1$' "$T/metrics1" ||
	    { cat "$T/metrics1"; false; }

	# the second app.git: its build fails, which the first's badge and
	# metrics must never show
	make_repo b/app
	git -C "$SRC" checkout -q -b other
	set_pipeline "$SRC" "Fails" <<'YML'
stages:
  - name: build
    run: exit 3
YML
	git -C "$SRC" push -q "$T/b/app.git" other:develop
	settled
	b=$(r status --json --limit 100 | jq -r '[.jobs[] | select(.repo | endswith("/b/app.git")) | .id] | max')
	[ "$(job_state "$b")" = failed ]

	# status names them apart, the first as before
	run r status
	[ "$status" -eq 0 ]
	grep -Eq '^ +#1 +passed +app develop ' <<<"$output" || { echo "$output"; false; }
	grep -Eq "^ +#$b +failed +b/app develop " <<<"$output" || { echo "$output"; false; }
	grep -Eq '^ +app +staging +healthy' <<<"$output" || { echo "$output"; false; }
	! grep -q 'a/app' <<<"$output" || { echo "$output"; false; }
	[ "$(job_field 1 .repo_name)" = app ]
	[ "$(job_field "$b" .repo_name)" = b/app ]
	[ "$(r status --json | jq -r '.environments[0].repo_name')" = app ]
	# the names are the store's: a restarted daemon and a fresh process
	# keep them
	stop_daemon
	start_daemon --workers 1
	web_up
	# badges: the first's URL still means the first
	get "/badge.svg?r=app&b=develop" | grep -q '<title>develop: passed</title>'
	get "/badge.svg?r=app&e=staging" | grep -q '<title>staging: healthy</title>'
	get "/badge.svg?r=b/app&b=develop" | grep -q '<title>develop: failed</title>'
	get "/repo?r=app" | grep -q "href='/job/1'"
	! get "/repo?r=app" | grep -q "href='/job/$b'" || false
	# metrics: the first's labels did not change
	get /metrics > "$T/metrics2"
	grep -q '^runner_job_duration_seconds_count{repo="app",kind="build"} 1$' "$T/metrics2" ||
	    { cat "$T/metrics2"; false; }
	grep -q '^runner_job_duration_seconds_count{repo="b/app",kind="build"} 1$' "$T/metrics2" ||
	    { cat "$T/metrics2"; false; }
	! grep -q 'repo="a/app"' "$T/metrics2" || false
	diff <(grep 'repo="app"' "$T/metrics1" | grep -v _sum) \
	    <(grep 'repo="app"' "$T/metrics2" | grep -v _sum)

	# --repo: the name status shows, the path, a suffix only one has
	for name in app "$T/a/app.git" a/app; do
		run r releases --repo "$name" staging
		[ "$status" -eq 0 ] || { echo "--repo $name: $output"; false; }
		[[ "$output" == "* #$d "*" develop "* ]] || { echo "$output"; false; }
	done
	run r releases --repo b/app staging
	[ "$status" -eq 1 ]
	[[ "$output" == *"environment 'staging' has never been deployed from $T/b/app.git"* ]]
	# unknown: the known names; ambiguous: refused, not guessed
	run r releases --repo nope staging
	[ "$status" -eq 1 ]
	[[ "$output" == *"no repository 'nope'; known are 'app' ($T/a/app.git), 'b/app' ($T/b/app.git)"* ]] ||
	    { echo "$output"; false; }
	run r releases --repo app.git staging
	[ "$status" -eq 1 ]
	[[ "$output" == *"'app.git' could be any of 2 repositories"* ]] || { echo "$output"; false; }
	run r rollback --repo nope staging
	[ "$status" -eq 1 ]
	[[ "$output" == *"no repository 'nope'; known are"* ]]
	# runner run: a path, else the name status shows
	run r run app develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(job_field "$(last_job build)" .repo)" = "$T/a/app.git" ]
	run r run b/app develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(job_field "$(last_job build)" .repo)" = "$T/b/app.git" ]
	run r run nope develop
	[ "$status" -eq 1 ]
	[[ "$output" == *"no repository 'nope'; known are 'app' ($T/a/app.git), 'b/app' ($T/b/app.git)"* ]] ||
	    { echo "$output"; false; }
}

@test "two new app.git pushed at the same moment get two names, and both pushes queue" {
	mkdir -p "$T/a" "$T/b"
	make_repo a/app
	make_repo b/app
	SRC="$T/src"
	git init -q -b develop "$SRC"
	pipeline
	git -C "$SRC" push -q "$T/a/app.git" develop 2>"$T/push-a" &
	pa=$!
	git -C "$SRC" push -q "$T/b/app.git" develop 2>"$T/push-b" &
	pb=$!
	wait "$pa" || { cat "$T/push-a"; false; }
	wait "$pb" || { cat "$T/push-b"; false; }
	run r status --json
	[ "$(jq '.jobs | length' <<<"$output")" = 2 ]
	names=$(jq -r '.jobs[].repo_name' <<<"$output" | sort | tr '\n' ' ')
	[[ "$names" == "a/app app " || "$names" == "app b/app " ]] || { echo "$output"; false; }
}

@test "a feature branch builds but never replaces what staging serves" {
	empty_source app
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '^(develop|feature/.*)\$'
http:
  listen: 127.0.0.1:$WEB_PORT
YML
	pipeline staging
	start_daemon --workers 1
	web_up
	git -C "$SRC" push -q origin develop
	dev=$(git -C "$SRC" rev-parse develop)
	wait_state 1 passed 60
	settled
	d=$(last_job deploy staging)
	[ "$(job_state "$d")" = healthy ]
	git -C "$SRC" checkout -q -b feature/x
	git -C "$SRC" commit -q --allow-empty -m "A feature"
	git -C "$SRC" push -q origin feature/x
	wait_for "[ -n \"\$(job_of refs/heads/feature/x)\" ]" 10
	f=$(job_of refs/heads/feature/x)
	wait_state "$f" passed 60
	settled
	# it built, and deployed nowhere: staging serves develop's build
	[ "$(last_job deploy staging)" = "$d" ]
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.kind == "deploy")] | length')" = 1 ]
	run r status --json
	[ "$(jq -r '.environments[0] | "\(.release) \(.commit) \(.branch) \(.job)"' <<<"$output")" = "$d $dev develop 1" ]
	# status, show and the page say which branch and commit serve
	run r status
	[[ "$output" == *"staging     healthy     release #$d ${dev:0:7} from develop (build #1)"* ]] ||
	    { echo "$output"; false; }
	run r show "$d"
	[[ "$output" == *"branch:   develop"* ]] || { echo "$output"; false; }
	[[ "$output" == *"serves:   staging now (release #$d, ${dev:0:7} from develop)"* ]]
	run r show 1
	[[ "$output" == *"serves:   staging now (release #$d, ${dev:0:7} from develop)"* ]]
	run r show "$f"
	! [[ "$output" == *"serves:"* ]] || { echo "$output"; false; }
	[ "$(job_field "$f" '.branch + " " + (.serves | length | tostring)')" = "feature/x 0" ]
	[ "$(job_field 1 '.serves[0].environment + " " + (.serves[0].release | tostring)')" = "staging $d" ]
	[ "$(job_field "$d" .branch)" = develop ]
	get / | grep -q "<code>${dev:0:7}</code> <span class=branch>develop</span>"
	get "/env?r=app&e=staging" | grep -q "<td>develop</td>"
	get "/job/$d" | grep -q "of branch <span class=branch>develop</span>"
}

@test "auto_deploy names an environment's branches; a mistake in it is named with its place" {
	empty_source app
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '^(develop|feature/.*)\$'
    auto_deploy: {staging: '^develop\$', review: '^feature/'}
YML
	pipeline staging review
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	settled
	s=$(last_job deploy staging)
	[ "$(job_state "$s")" = healthy ]
	[ -z "$(last_job deploy review)" ]
	git -C "$SRC" checkout -q -b feature/y
	git -C "$SRC" commit -q --allow-empty -m "A feature"
	git -C "$SRC" push -q origin feature/y
	wait_for "[ -n \"\$(last_job deploy review)\" ]" 60
	settled
	rv=$(last_job deploy review)
	[ "$(job_state "$rv")" = healthy ]
	[ "$(last_job deploy staging)" = "$s" ]
	run r status --json
	[ "$(jq -r '.environments[] | "\(.name) \(.branch)"' <<<"$output" | sort | tr '\n' ' ')" = "review feature/y staging develop " ]

	# a bad pattern, checked before a reload: file, line, column
	cat > "$T/bad.yml" <<YML
repos:
  - path: $T/app.git
    auto_deploy:
      staging: '(develop'
YML
	run r check --config "$T/bad.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/bad.yml:4:16: bad pattern '(develop' for environment 'staging' in 'auto_deploy' of '$T/app.git': missing closing parenthesis at offset 8"* ]] ||
	    { echo "$output"; false; }
	# a list beside branches that never build develop deploys nothing:
	# status says so
	printf 'repos:\n  - path: %s\n    branches: ^main$\n    auto_deploy: [staging]\n' "$T/app.git" > "$RUNNER_HOME/runner.yml"
	run r status
	[[ "$output" == *"runner.yml:2: builds of '$T/app.git' never deploy to 'staging' by themselves"* ]] ||
	    { echo "$output"; false; }
}

@test "another user's app.git spooled before runner.yml's app.git first pushes never takes its name" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	mkdir -p "$T/srv"
	make_repo srv/app
	printf 'http:\n  listen: 127.0.0.1:%s\nrepos:\n  - path: %s\n' "$WEB_PORT" \
	    "$T/srv/app.git" > "$RUNNER_HOME/runner.yml"
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/srv/app.git"
	printf 'stages:\n  - name: unit\n    run: "true"\n' | set_pipeline "$SRC"
	# the git user, a member of the hooks' group, with an app.git of its own
	mkdir -p "$T/githome/x"
	chown "$GIT_USER:" "$T/githome/x"
	as_git git init -q --bare "$T/githome/x/app.git"
	"$RUNNER" install-hook "$T/githome/x/app.git" >/dev/null
	cp -r "$SRC" "$T/githome/src"
	chown -R "$GIT_USER:" "$T/githome/src"
	start_daemon --workers 1
	web_up
	# its push comes first: it is named by more than its last part
	as_git git -C "$T/githome/src" push -q "$T/githome/x/app.git" develop
	wait_state 1 passed 60
	[ "$(job_field 1 .repo_name)" = x/app ] || { r status; false; }
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 60
	[ "$(job_field 2 .repo_name)" = app ] || { r status; false; }
	get "/badge.svg?r=app&b=develop" | grep -q '<title>develop: passed</title>'
	get "/repo?r=app" | grep -q "href='/job/2'"
	! get "/repo?r=app" | grep -q "href='/job/1'" || false
}
