#!/usr/bin/env bats
# Retention of deployment history: with `deployments` set for staging, a
# branch that deploys every build keeps the newest deployments, what
# serves, what served before it, what a kept rollback returned to and
# the deployments of release tags, with the builds they came from; the
# rest goes, record and files, so that `builds` bounds the branch.
# `runner rollback` still works afterwards, and without `deployments`
# nothing of the history goes.

load lib

setup() {
	setup_env
	make_repo app
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
retention:
  builds: 3
  releases: 2
  deployments: { staging: 3 }
  interval: 0
YML
	# what is measured here is the collection, not confinement
	host_stages
	git init -q -b develop "$T/src"
	git -C "$T/src" remote add origin "$T/app.git"
}
teardown() { teardown_env; }

# the pipeline of the next commit; DEPLOY: the staging deploy command
pipeline() {
	date +%s%N > "$T/src/stamp"
	git -C "$T/src" add stamp
	set_pipeline "$T/src" "$2" <<YML
stages:
  - name: build
    run: mkdir -p dist && git rev-parse HEAD > dist/commit
    artifacts: [dist/**]
environments:
  staging:
    backup: echo kept > "\$RUNNER_BACKUP_DIR/data"
    deploy: $1
YML
}

# push_deploy DEPLOY STATE: a commit whose staging deploy command is
# DEPLOY, pushed; waits until its deployment ended, in STATE (or one of
# STATE|STATE...)
push_deploy() {
	local n
	n=$(db "SELECT count(*) FROM jobs WHERE kind = 'deploy'")
	pipeline "$1" "push $((n + 1))"
	git -C "$T/src" push -q origin develop
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE kind = 'deploy' AND state NOT IN ('queued', 'running')\") -eq $((n + 1)) ]" 90
	local d
	d=$(db "SELECT max(id) FROM jobs WHERE kind = 'deploy'")
	[[ "|$2|" == *"|$(job_state "$d")|"* ]] || { r show "$d"; false; }
}

# rollback ARGS...: runner rollback staging ARGS, waited for; prints its id
rollback() {
	r rollback "$@" staging >/dev/null
	local d
	d=$(db "SELECT max(id) FROM jobs WHERE kind = 'deploy'")
	[ "$(wait_deploy "$d")" = healthy ] || { r show "$d" >&2; false; }
	echo "$d"
}

record() { [ "$(db "SELECT count(*) FROM jobs WHERE id = $1")" = "$2" ] || { echo "record of #$1: expected $2"; r show "$1"; false; }; }
gone() { [ ! -e "$1" ] || { echo "still there: $1"; false; }; }
kept() { [ -e "$1" ] || { echo "removed: $1"; false; }; }
build_of() { db "SELECT source_job FROM jobs WHERE id = $1"; }

# no row refers to a job that is not there
references_whole() {
	local q n
	for q in "jobs d WHERE d.source_job IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = d.source_job)" \
	    "jobs d WHERE d.previous IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = d.previous)" \
	    "jobs d WHERE d.rollback_to IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = d.rollback_to)" \
	    "jobs d WHERE d.retry_of IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = d.retry_of)" \
	    "environments e WHERE NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = coalesce(e.release, e.last))" \
	    "stages s WHERE NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = s.job_id)" \
	    "checks s WHERE NOT EXISTS (SELECT 1 FROM jobs b WHERE b.id = s.job_id)"; do
		n=$(db "SELECT count(*) FROM $q")
		[ "$n" = 0 ] || { echo "dangling: $q ($n)"; false; }
	done
}

@test "deployments: N keeps the newest, what serves and served, rollback targets and tags" {
	H=$RUNNER_HOME
	start_daemon --workers 2
	# six healthy deployments, d[0]..d[5]
	for i in 1 2 3 4 5 6; do push_deploy "echo deployed" healthy; done
	d=($(db "SELECT id FROM jobs WHERE kind = 'deploy' ORDER BY id"))
	[ ${#d[@]} -eq 6 ]
	# back to the second by hand: it serves now, d[5] served before it
	rb=$(rollback --to "${d[1]}")
	[ "$(db "SELECT rollback_to FROM jobs WHERE id = $rb")" = "${d[1]}" ]
	# three builds whose deployments fail: the newest three deployments
	# are failures, older than them what serves and what served before
	for i in 1 2 3; do push_deploy "exit 3" "failed|rolled_back"; done
	f=($(db "SELECT id FROM jobs WHERE kind = 'deploy' AND id > $rb ORDER BY id"))
	[ ${#f[@]} -eq 3 ]
	[ "$(db "SELECT release FROM environments WHERE name = 'staging'")" = "$rb" ]
	# the fourth was a release tag's
	db "UPDATE jobs SET tag = 'v0.4' WHERE id = ${d[3]}"
	builds=($(db "SELECT id FROM jobs WHERE kind = 'build' ORDER BY id"))
	[ ${#builds[@]} -eq 9 ]
	backups=$(dirname "$(env_dir backups app staging)/x")
	for j in "${d[@]}" "$rb" "${f[@]}"; do kept "$H/logs/$j"; done
	kept "$H/releases/staging/${d[0]}"; kept "$backups/${d[0]}"

	# a dry run names what gc removes, and removes nothing
	told
	r gc --dry-run --verbose > "$T/dry"
	grep -q '^deployments  *3 records' "$T/dry" || { cat "$T/dry"; false; }
	grep -q '^builds  *3 records' "$T/dry" || { cat "$T/dry"; false; }
	record "${d[0]}" 1
	r gc --verbose > "$T/gc"
	grep -q '^deployments  *3 records' "$T/gc" || { cat "$T/gc"; false; }
	diff <(sed -n '/^\//p' "$T/dry" | sort) <(sed -n '/^\//p' "$T/gc" | sort)

	# gone whole: d[0], d[2], d[4] (records, stages, checks, logs,
	# release folders, backups) and the builds only they held
	for j in "${d[0]}" "${d[2]}" "${d[4]}"; do
		record "$j" 0
		[ "$(db "SELECT count(*) FROM stages WHERE job_id = $j")" = 0 ]
		[ "$(db "SELECT count(*) FROM checks WHERE job_id = $j")" = 0 ]
		gone "$H/logs/$j"; gone "$H/releases/staging/$j"; gone "$backups/$j"
	done
	for k in 0 2 4; do
		record "${builds[$k]}" 0; gone "$H/logs/${builds[$k]}"
		gone "$H/artifacts/${builds[$k]}.tar.zst"
	done
	# kept: the newest three (failures), what serves (the rollback), what
	# served before it (d[5]), what the rollback returned to (d[1]), the
	# tag's (d[3]); and every build one of them came from
	for j in "${f[@]}" "$rb" "${d[5]}" "${d[1]}" "${d[3]}"; do
		record "$j" 1; kept "$H/logs/$j"
		record "$(build_of "$j")" 1
	done
	[ "$(build_of "$rb")" = "${builds[1]}" ]
	# release folders: the newest two, what serves and what served before
	kept "$H/releases/staging/$rb"; kept "$H/releases/staging/${d[5]}"
	kept "$H/releases/staging/${f[2]}"; kept "$H/releases/staging/${f[1]}"
	gone "$H/releases/staging/${f[0]}"; gone "$H/releases/staging/${d[1]}"
	kept "$backups/$rb"; kept "$backups/${d[5]}"
	# the artifacts of the builds of kept releases
	kept "$H/artifacts/${builds[1]}.tar.zst"; kept "$H/artifacts/${builds[5]}.tar.zst"
	# builds: 3 bounds the branch now, besides the builds kept deployments
	# came from
	[ "$(db "SELECT count(*) FROM jobs WHERE kind = 'build'")" -eq 6 ]
	# the kept deployments forget the removed ones they replaced
	[ -z "$(db "SELECT previous FROM jobs WHERE id = ${d[5]}")" ]
	[ "$(db "SELECT previous FROM jobs WHERE id = $rb")" = "${d[5]}" ]
	references_whole
	if [ -z "${RUNNER_STORE:-}" ]; then
		[ -z "$(db 'PRAGMA foreign_key_check')" ]
	fi
	store_intact

	# rollback still works: back to what served before
	run r rollback --to "${d[2]}" staging
	[ "$status" -eq 1 ]
	[[ "$output" == *"#${d[2]}"* ]] || { echo "$output"; false; }
	rb2=$(rollback)
	[ "$(db "SELECT rollback_to FROM jobs WHERE id = $rb2")" = "${d[5]}" ]
	[ "$(build_of "$rb2")" = "${builds[5]}" ]
	[ "$(cat "$H/releases/staging/$rb2/dist/commit")" = "$(db "SELECT commit_id FROM jobs WHERE id = ${d[5]}")" ]

	# again: the oldest failure goes; the rollback that served before
	# stays, and so does what it returned to (a chain of rollbacks)
	told
	r gc > "$T/gc2"
	grep -q '^deployments  *1 records' "$T/gc2" || { cat "$T/gc2"; false; }
	record "${f[0]}" 0
	for j in "$rb2" "$rb" "${d[5]}" "${d[1]}" "${d[3]}" "${f[1]}" "${f[2]}"; do record "$j" 1; done
	references_whole
	store_intact
	run r status
	[ "$status" -eq 0 ]
}

@test "without deployments, the history stays; deployments: 1 for every environment" {
	sed -i '/deployments:/d' "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	for i in 1 2 3 4 5; do push_deploy "echo deployed" healthy; done
	told
	r gc > "$T/gc"
	grep -q '^deployments  *0 records' "$T/gc" || { cat "$T/gc"; false; }
	[ "$(db "SELECT count(*) FROM jobs WHERE kind = 'deploy'")" -eq 5 ]
	[ "$(db "SELECT count(*) FROM jobs WHERE kind = 'build'")" -eq 5 ]

	# one for every environment: what serves and what served before stay
	sed -i 's/^  interval: 0/  deployments: 1\n  interval: 0/' "$RUNNER_HOME/runner.yml"
	r check --config >/dev/null
	told
	r gc > "$T/gc"
	grep -q '^deployments  *3 records' "$T/gc" || { cat "$T/gc"; false; }
	d=($(db "SELECT id FROM jobs WHERE kind = 'deploy' ORDER BY id"))
	[ ${#d[@]} -eq 2 ]
	[ "$(db "SELECT release FROM environments")" = "${d[1]}" ]
	[ "$(db "SELECT count(*) FROM jobs WHERE kind = 'build'")" -eq 3 ]
	references_whole

	# a bad value: its line and column
	sed -i 's/^  deployments: 1/  deployments: {staging: 0}/' "$RUNNER_HOME/runner.yml"
	run r check --config
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:6:26: 'deployments' of 'staging' in 'retention' of runner.yml must be a number from 1 to 2147483647, or 'all'"* ]] ||
	    { echo "$output"; false; }
}
