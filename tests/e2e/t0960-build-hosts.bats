#!/usr/bin/env bats
# Build hosts on other machines: they share only the PostgreSQL store
# with the git server. Each host (a daemon with a home of its own, in a
# mount namespace where the git server's repository is hidden) fetches
# the pushed commits over git's own transport (git daemon, git://) into
# its cache, runs the stages, and sends its logs and artifacts through
# the store: `runner log` on the git server shows a log written
# elsewhere, also while it is being written, and the git server deploys
# an artifact built elsewhere; its web page shows the end of a failed
# log that came through the store.

load lib

setup_file() { pg_server_start; }
teardown_file() { pg_server_stop; }

setup() {
	pg_setup_env
	GIT_PORT=$(free_port)
	while [ "$GIT_PORT" = "$STAGING_PORT" ] || [ "$GIT_PORT" = "$PROD_PORT" ]; do
		GIT_PORT=$(free_port)
	done
	WEB_PORT=$(free_port)
	while [ "$WEB_PORT" = "$STAGING_PORT" ] || [ "$WEB_PORT" = "$PROD_PORT" ] ||
	    [ "$WEB_PORT" = "$GIT_PORT" ]; do
		WEB_PORT=$(free_port)
	done
	# runner.yml's notify section of every host (the test that wants one)
	NOTIFY=
	# the git server: the repositories, the hook, deployments only
	cat > "$RUNNER_HOME/runner.yml" <<YML
store: '$STORE_URL'
supersede: false
host:
  name: git
  labels: [deploy]
  builds: false
repos:
  - path: $T/app.git
    branches: '^(develop|b[0-9]+)\$'
environments:
  staging:
    runs_on: [deploy]
http:
  listen: 127.0.0.1:$WEB_PORT
YML
	host_stages
	r init >/dev/null
	make_repo app
	# git's own daemon serves the repositories under $T, read-only
	git daemon --reuseaddr --export-all --base-path="$T" --listen=127.0.0.1 \
	    --port="$GIT_PORT" --pid-file="$T/git-daemon.pid" "$T" \
	    >"$T/git-daemon.log" 2>&1 3>&- &
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$GIT_PORT) 2>/dev/null" 10
	HOST_PIDS=()
	mkdir "$T/hosts"
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/app.git"
}
teardown() {
	for p in "${HOST_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${HOST_PIDS[@]}"; do
		wait_for "! kill -0 $p 2>/dev/null" 30 || kill -KILL "$p" 2>/dev/null || true
	done
	[ ! -f "$T/git-daemon.pid" ] || kill "$(cat "$T/git-daemon.pid")" 2>/dev/null || true
	teardown_env
}

# start_server: the git server's daemon, in a mount namespace where the
# build hosts' folders ($T/hosts) are an empty folder
start_server() {
	unshare --mount --propagation private sh -c \
	    'mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"' _ \
	    "$T/hosts" "$RUNNER" serve --workers 1 >>"$T/serve.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for "[ -S '$RUNNER_HOME/runner.sock' ] && grep -q 'serving' '$T/serve.log'" 10
}

# start_host NAME [SOURCE_URL]: a build host with a home of its own
# ($T/hosts/NAME) that fetches from SOURCE_URL (default: the git daemon),
# in a mount namespace where $T/app.git is an empty folder
start_host() {
	local name=$1 url=${2:-git://127.0.0.1:$GIT_PORT/} home="$T/hosts/$1"
	mkdir -m 0700 "$home"
	cat > "$home/runner.yml" <<YML
store: '$STORE_URL'
trust_repositories: true
isolate: false
supersede: false
host:
  name: $name
  labels: [linux]
  sources:
    - path: $T
      url: $url
environments:
  staging:
    runs_on: [deploy]
$NOTIFY
YML
	"$RUNNER" init --home "$home" >/dev/null
	RUNNER_HOME=$home unshare --mount --propagation private sh -c \
	    'mount -t tmpfs -o size=1m tmpfs "$1" && shift && exec "$@"' _ \
	    "$T/app.git" "$RUNNER" serve --workers 2 >>"$T/serve-$name.log" 2>&1 3>&- &
	HOST_PIDS+=($!)
	wait_for "grep -q 'serving' '$T/serve-$name.log'" 10
}

# all_passed N: jobs 1..N passed
all_passed() {
	[ "$(psql -X -q -At "$STORE_URL" -c "SELECT count(*) FROM jobs WHERE state = 'passed'")" = "$1" ]
}

@test "200 jobs over two hosts that fetch over git://: each runs once, logs on the git server" {
	set_pipeline "$SRC" "One stage" <<YML
stages:
  - name: unit
    run: |
      [ ! -e $T/app.git/HEAD ] || { echo "the git server's repository is visible"; exit 1; }
      echo "job \$RUNNER_JOB at commit \$(cat .commit)"
      echo "\$RUNNER_JOB" >> $T/runs
  - name: quiet
    run: "true"
YML
	# 200 branches, each on a commit of its own, in one push
	for i in $(seq 1 200); do
		echo "$i" > "$SRC/.commit"
		git -C "$SRC" add .commit
		git -C "$SRC" commit -q -m "Commit $i"
		git -C "$SRC" branch "b$i"
	done
	# every host's notifier may send what a job's end announces
	start_sink http hook
	NOTIFY="notify:
  - name: hook
    webhook: http://127.0.0.1:$SINK_PORT/runner
    on: [job_passed]"
	echo "$NOTIFY" >> "$RUNNER_HOME/runner.yml"
	start_server
	start_host hostA
	start_host hostB
	git -C "$SRC" push -q origin 'refs/heads/b*'
	wait_for "all_passed 200" 240
	# once each
	[ "$(wc -l < "$T/runs")" = 200 ]
	# and announced once each, by whichever of the three hosts' notifiers
	# took the notification first
	wait_for "[ \"\$(psql -X -q -At '$STORE_URL' -c \"SELECT count(*) FROM notifications WHERE state = 'delivered'\")\" = 200 ]" 120
	[ "$(sink_count hook)" = 200 ] || { echo "$(sink_count hook) deliveries"; false; }
	[ "$(cat "$T"/sink-hook/*.body | jq -r .job.id | sort -u | wc -l)" = 200 ]
	[ "$(sort -u "$T/runs" | wc -l)" = 200 ]
	[ "$(psql -X -q -At "$STORE_URL" -c "SELECT count(*) FROM jobs WHERE attempt <> 1")" = 0 ]
	# on both build hosts, none on the git server (builds: false)
	hosts=$(psql -X -q -At "$STORE_URL" -c "SELECT DISTINCT host FROM jobs ORDER BY host" | tr '\n' ' ')
	[ "$hosts" = "hostA hostB " ]
	# each fetched into its cache, over git://
	for h in hostA hostB; do
		cache=$(ls -d "$T/hosts/$h/cache/sources/"*app.git)
		git --git-dir="$cache" cat-file -e "$(git -C "$SRC" rev-parse b200)"
	done
	# runner gc on a host: the cache of a repository with jobs stays
	# (collected by git); that of one the store has no job of goes
	stale="$T/hosts/hostA/cache/sources/%2Fgone%2Fold.git"
	git init -q --bare "$stale"
	run "$RUNNER" gc --home "$T/hosts/hostA"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"sources          1 caches"* ]]
	[ ! -e "$stale" ]
	git --git-dir="$(ls -d "$T/hosts/hostA/cache/sources/"*app.git)" \
	    cat-file -e "$(git -C "$SRC" rev-parse b200)"
	# the git server shows a log written on another host, from the store
	for id in 1 100 200; do
		h=$(job_field "$id" .host)
		[ ! -e "$RUNNER_HOME/logs/$id" ]
		run r log "$id" unit
		[ "$status" -eq 0 ]
		[[ "$output" == "job $id at "* ]]
		[ -e "$T/hosts/$h/logs/$id" ]
		# a stage that printed nothing has an empty log, not none
		run r log "$id" quiet
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}

@test "runner log -f on the git server follows a stage running on another host" {
	set_pipeline "$SRC" "Waits" <<YML
stages:
  - name: slow
    run: |
      echo first line
      i=0; while [ ! -e $T/go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
      echo second line
YML
	start_server
	start_host hostA
	git -C "$SRC" push -q origin develop
	wait_state 1 running 60
	r log -f 1 > "$T/followed" 2>&1 &
	follower=$!
	# the web page's live log too (its process does not see the host's
	# home): Server-Sent Events until the stage ends. A claimed job has
	# no stage yet while the host fetches its sources: ask for the
	# stream once the stage runs
	wait_for "http_body $WEB_PORT / | grep -q ." 15
	wait_for "[ \"\$(job_field 1 '.stages[0].state')\" = running ]" 60
	http_body "$WEB_PORT" /job/1/log/0/events > "$T/events" 2>&1 &
	events=$!
	# the first line arrives while the stage still runs
	wait_for "grep -q 'first line' '$T/followed'" 20
	wait_for "grep -q '^data: first line' '$T/events'" 20 ||
	    { sed 's/<[^>]*>/ /g' "$T/events" >&2; false; }
	! grep -q 'second line' "$T/followed" "$T/events" || false
	touch "$T/go"
	wait_for "! kill -0 $follower 2>/dev/null" 30
	wait "$follower"
	grep -q 'second line' "$T/followed"
	wait_for "! kill -0 $events 2>/dev/null" 30
	grep -q '^data: second line' "$T/events"
	grep -qx 'event: end' "$T/events"
	[ "$(job_state 1)" = passed ]
	[ "$(job_field 1 .host)" = hostA ]
	[ ! -e "$RUNNER_HOME/logs/1" ]
}

@test "the git server deploys to staging what a build host built" {
	rm -rf "$SRC"
	SRC=$(make_clone app)
	start_server
	start_host hostA
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 120
	[ "$(job_field 1 .host)" = hostA ]
	dep=$(last_job deploy staging)
	[ -n "$dep" ]
	[ "$(wait_deploy "$dep" 90)" = healthy ]
	[ "$(job_field "$dep" .host)" = git ]
	# built on host A, whose files the git server does not see: fetched
	# from the store, checked against its sha256
	[ ! -e "$RUNNER_HOME/logs/1" ]
	sha=$(job_field 1 '.artifacts[0].sha256')
	[ "$(sha256sum "$RUNNER_HOME/artifacts/1.tar.zst" | cut -d' ' -f1)" = "$sha" ]
	[ "$(sha256sum "$T/hosts/hostA/artifacts/1.tar.zst" | cut -d' ' -f1)" = "$sha" ]
	http_body "$STAGING_PORT" /api/health | grep -q '"version"'
	# runner artifacts on the git server extracts it too
	r artifacts 1 -x "$T/extracted" >/dev/null
	[ -d "$T/extracted/dist" ]
	# and its web page (which does not see the hosts' homes either)
	# serves the log and the artifact from the store
	http_body "$WEB_PORT" /job/1/log/0/raw | grep -q .
	[ "$(http_body "$WEB_PORT" /job/1/log/0/raw | sha256sum)" = \
	    "$(sha256sum < "$(job_field 1 '.stages[0].log')")" ]
	[ "$(http_body "$WEB_PORT" /job/1/artifact | sha256sum | cut -d' ' -f1)" = "$sha" ]
}

@test "the git server's page shows what failed on another host, from the last chunks of its log" {
	set_pipeline "$SRC" "Fails" <<'YML'
stages:
  - name: unit
    run: |
      for i in $(seq 1 100); do printf '\033[32mline %d\033[0m\n' $i; done
      exit 5
YML
	start_server
	start_host hostA
	git -C "$SRC" push -q origin develop
	wait_state 1 failed 60
	[ "$(job_field 1 .host)" = hostA ]
	[ ! -e "$RUNNER_HOME/logs/1" ]
	wait_for "http_body $WEB_PORT /job/1 | grep -q failed-log" 15
	http_body "$WEB_PORT" /job/1 > "$T/job.html"
	sed -n '/id=failed-log/,/<\/pre>/p' "$T/job.html" | grep -oE 'line [0-9]+' > "$T/lines"
	[ "$(cat "$T/lines")" = "$(seq 71 100 | sed 's/^/line /')" ] ||
	    { cat "$T/lines"; false; }
	grep -q "<pre class=log id=failed-log><span class=' f2'>line 71" "$T/job.html"
}

@test "a host that cannot fetch: the job ends in error, naming the URL and why" {
	set_pipeline "$SRC" "One stage" <<YML
stages:
  - name: unit
    run: true
YML
	dead=$(free_port)
	start_host hostA "git://127.0.0.1:$dead/"
	git -C "$SRC" push -q origin develop
	wait_for "case \"\$(job_state 1)\" in error|failed) true;; *) false;; esac" 60
	run job_field 1 .error
	[[ "$output" == *"cannot fetch from git://127.0.0.1:$dead/app.git: "* ]]
}
