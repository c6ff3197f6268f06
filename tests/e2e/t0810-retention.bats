#!/usr/bin/env bats
# Retention: over a home with a couple of hundred jobs and several
# releases of an environment, `runner gc` keeps exactly what it must,
# checked file by file, while the daemon runs a job; the daemon collects
# by itself every retention interval; status shows the disk use.

load lib

DAY=86400000

setup() {
	setup_env
	# app: develop builds deploy to staging; lib: every branch builds,
	# nothing deploys
	make_repo app
	make_repo lib
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
  - path: $T/lib.git
    branches: '.*'
    auto_deploy: []
retention:
  builds: 3
  build_age: 180d
  logs: 90d
  artifacts: 30d
  workspaces: 1d
  releases: 2
  interval: 0
YML
	# what is measured here is the collection, not confinement: the
	# stages run on the host, which keeps a couple of hundred builds quick
	host_stages
	for repo in app lib; do
		git init -q -b develop "$T/src-$repo"
		git -C "$T/src-$repo" remote add origin "$T/$repo.git"
		set_pipeline "$T/src-$repo" "$repo 1" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && git rev-parse HEAD > dist/commit 2>/dev/null || date > dist/commit
    artifacts: [dist/**]
environments:
  staging:
    deploy: echo deployed
YML
	done
}
teardown() { teardown_env; }

# ended_ago ID DAYS: job ID ended DAYS days ago (as the store says)
ended_ago() {
	db "UPDATE jobs SET finished_ms = $(( $(date +%s%3N) - $2 * DAY )) WHERE id = $1"
}

# commit_push REPO BRANCH: a new commit on BRANCH, pushed; prints nothing
commit_push() {
	git -C "$T/src-$1" checkout -q -B "$2"
	date +%s%N > "$T/src-$1/stamp"
	git -C "$T/src-$1" add stamp
	git -C "$T/src-$1" commit -q -m "$1 $2 $(date +%s%N)"
	git -C "$T/src-$1" push -q origin "$2"
}

# job_of REPO REF: the ids of REPO's builds of REF, oldest first
jobs_of() {
	db "SELECT id FROM jobs WHERE kind = 'build' AND repo LIKE '%/$1.git' AND ref = 'refs/heads/$2' ORDER BY id"
}

@test "gc keeps exactly what it must, file by file, while a job runs" {
	start_daemon --workers 2
	# four releases of app in staging
	for i in 1 2 3 4; do
		commit_push app develop
		wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE kind = 'deploy' AND state = 'healthy'\") -eq $i ]" 60
	done
	# 100 branches of lib in one push (60 under the sanitizers), and six
	# builds of lib's branch f
	B=100
	[ -z "${RUNNER_SANITIZED:-}" ] || B=60
	git -C "$T/src-lib" checkout -q develop
	refs=()
	for i in $(seq 1 $B); do refs+=("develop:refs/heads/b$(printf %03d $i)"); done
	git -C "$T/src-lib" push -q origin "${refs[@]}"
	# the branches' builds first (on a busy machine they take a while)
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE state IN ('queued','running')\") -eq 0 ]" 240
	for i in 1 2 3 4 5 6; do
		commit_push lib f
		wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE ref = 'refs/heads/f' AND state = 'passed'\") -eq $i ]" 60
	done
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE state IN ('queued','running')\") -eq 0 ]" 120
	[ "$(db "SELECT count(*) FROM jobs")" -ge $((B + 14)) ]

	# ages: b001..b010 ended 200 days ago (beyond build_age), b011..b020
	# 100 days (logs go, records stay), b021..b030 40 days (artifacts go)
	for i in $(seq -w 1 30); do
		id=$(jobs_of lib "b0$i")
		ended_ago "$id" $(( 10#$i <= 10 ? 200 : 10#$i <= 20 ? 100 : 40 ))
	done
	# every build and release of app ended 40 days ago
	db "UPDATE jobs SET finished_ms = $(( $(date +%s%3N) - 40 * DAY )) WHERE repo LIKE '%/app.git'"
	# b005 has a notification not yet delivered: its record stays
	b005=$(jobs_of lib b005)
	ev=$(db "INSERT INTO events (job_id, kind, tags, routed, created_ms) VALUES ($b005, 'failed', '', 1, 0) RETURNING id")
	db "INSERT INTO notifications (event_id, job_id, target, service, event, body, state, next_ms, created_ms)
	    VALUES ($ev, $b005, 'ops', 'webhook', 'failed', '{}', 'pending', $(( $(date +%s%3N) + DAY )), 0)"

	# a job running during the collection
	sleeper=$(make_sleeper)
	git -C "$T/src-lib" checkout -q -B live
	set_pipeline "$T/src-lib" live <<YML
stages:
  - name: wait
    run: $sleeper 3 && mkdir -p dist && echo ok > dist/x
    artifacts: [dist/**]
YML
	git -C "$T/src-lib" push -q origin live
	live=$(jobs_of lib live)
	wait_for "[ -d '$RUNNER_HOME/work/$live' ] && [ \"\$(job_state $live)\" = running ]" 30

	H=$RUNNER_HOME
	deploys=($(db "SELECT id FROM jobs WHERE kind = 'deploy' ORDER BY id"))
	[ ${#deploys[@]} -eq 4 ]
	app_builds=($(jobs_of app develop))
	f=($(jobs_of lib f))
	[ ${#f[@]} -eq 6 ]
	[ -d "$H/releases/staging/${deploys[0]}" ]
	backups=$(dirname "$(env_dir backups app staging)/x")

	# what a dry run names is what gc removes, and a dry run removes
	# nothing; the ends of the jobs that ended are told first (b005's waits)
	told "$b005" "$live"
	r gc --dry-run --verbose > "$T/dry"
	sed -n '/^\//p' "$T/dry" | sort > "$T/dry.paths"
	while read -r p; do [ -e "$p" ] || { echo "dry run removed $p"; false; }; done < "$T/dry.paths"
	r gc --verbose > "$T/gc"
	sed -n '/^\//p' "$T/gc" | sort > "$T/gc.paths"
	diff "$T/dry.paths" "$T/gc.paths"
	grep -q '^freed ' "$T/gc"

	# the running job: untouched, and it ends well
	[ -d "$H/work/$live" ]
	[ -d "$H/logs/$live" ]
	wait_state "$live" passed 30
	[ -s "$H/artifacts/$live.tar.zst" ]

	gone() { [ ! -e "$1" ] || { echo "still there: $1"; false; }; }
	kept() { [ -e "$1" ] || { echo "removed: $1"; false; }; }
	record() { [ "$(db "SELECT count(*) FROM jobs WHERE id = $1")" = "$2" ] || { echo "record of #$1: expected $2"; false; }; }

	# lib b001..b010: older than build_age: all of it gone, but b005
	# (a notification waits) keeps its record
	for i in $(seq -w 1 10); do
		id=$(db "SELECT id FROM jobs WHERE ref = 'refs/heads/b0$i'")
		if [ "$i" = 05 ]; then
			[ "$id" = "$b005" ]; record "$id" 1
		else
			[ -z "$id" ] || { echo "b0$i still recorded"; false; }
		fi
	done
	record "$b005" 1
	gone "$H/logs/$b005"; gone "$H/artifacts/$b005.tar.zst"
	# b011..b020: logs gone, records and (younger than 100d? no: 100 > 30)
	# artifacts gone too; b021..b030: logs kept, artifacts gone; the rest
	# (and every other branch's newest): all kept
	for i in $(seq 11 $B); do
		id=$(jobs_of lib "b$(printf %03d "$i")")
		[ -n "$id" ]; record "$id" 1
		if [ "$i" -le 20 ]; then gone "$H/logs/$id"; gone "$H/artifacts/$id.tar.zst"
		elif [ "$i" -le 30 ]; then kept "$H/logs/$id"; gone "$H/artifacts/$id.tar.zst"
		else kept "$H/logs/$id"; kept "$H/artifacts/$id.tar.zst"
		fi
	done
	# f: the three newest builds stay, the three older go entirely
	for k in 0 1 2; do
		record "${f[$k]}" 0; gone "$H/logs/${f[$k]}"; gone "$H/artifacts/${f[$k]}.tar.zst"
	done
	for k in 3 4 5; do
		record "${f[$k]}" 1; kept "$H/logs/${f[$k]}"; kept "$H/artifacts/${f[$k]}.tar.zst"
	done
	# app: deployment records all stay; the two newest releases (the
	# current one and the one before it) stay with their backups and the
	# artifacts they came from; the two older go, their builds' artifacts
	# too (40 days > 30), the builds' records stay (a deployment came
	# from them)
	for k in 0 1 2 3; do
		d=${deploys[$k]} b=${app_builds[$k]}
		record "$d" 1; record "$b" 1
		[ "$(db "SELECT source_job FROM jobs WHERE id = $d")" = "$b" ]
		if [ $k -le 1 ]; then
			gone "$H/releases/staging/$d"; gone "$backups/$d"; gone "$H/artifacts/$b.tar.zst"
		else
			kept "$H/releases/staging/$d"; kept "$backups/$d"; kept "$H/artifacts/$b.tar.zst"
		fi
	done
	# what the status says of the store is still whole
	run r status
	[ "$status" -eq 0 ]
	[[ "$output" == *"disk: "*"logs "*"artifacts "* ]]
	r rollback staging >/dev/null
	rb=$(last_job deploy staging)
	[ "$(wait_deploy "$rb")" = healthy ]
	[ "$(db "SELECT source_job FROM jobs WHERE id = $rb")" = "${app_builds[2]}" ]
	if [ -z "${RUNNER_STORE:-}" ]; then
		[ "$(sqlite3 "$H/runner.db" 'PRAGMA auto_vacuum')" = 2 ]
	fi
	store_intact
}

@test "the daemon collects every retention interval" {
	sed -i 's/^  interval: .*/  interval: 1s/' "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	for i in 1 2 3 4 5; do
		commit_push lib f
		# the collection may already have removed older builds of f
		wait_state "$(jobs_of lib f | tail -n 1)" passed 60
	done
	wait_for "grep -q 'collected: freed' '$T/serve.log'" 30
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE ref = 'refs/heads/f'\") -eq 3 ]" 30
	run r status --json
	[ "$(jq '.disk.home > 0 and .disk.logs > 0 and .disk.store > 0' <<<"$output")" = true ]
}
