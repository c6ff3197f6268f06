#!/usr/bin/env bats
# A release deploys the build the release process verified in staging:
# the newest healthy staging deployment's build of the tagged commit, made
# without push variables. A develop pusher who rebuilds the release commit
# with variables (which every script of the build reads) cannot get that
# rebuild to production, however recent it is; the choice and its reason
# are recorded.

load lib

setup() {
	setup_env
	make_ssh_signer release
	trust_config "    variables: [LEVEL]"
	make_repo app
	SRC=$(make_clone app)
	# the build says what it was built with, and so does the release
	sed -i 's|^      - ls -l dist$|      - echo "${LEVEL:-plain}" > dist/LEVEL|' "$SRC/.runner.yml"
	grep -q 'dist/LEVEL' "$SRC/.runner.yml"
	git -C "$SRC" commit -qam "say the level"
	start_daemon --workers 2
}
teardown() { teardown_env; }

# push ARGS...: push develop with ARGS; print the build it queued once it
# passed and staging deployed it healthy
push_staged() {
	local out b
	out=$(git -C "$SRC" push "$@" origin develop 2>&1)
	b=$(echo "$out" | sed -n 's/.*queued job #\([0-9]*\) for.*/\1/p')
	[ -n "$b" ] || { echo "$out" >&2; return 1; }
	wait_state "$b" passed 60 >&2
	wait_for "[ -n \"\$(look r status --json --limit 1000 | jq '.jobs[] | select(.kind == \"deploy\" and .job == $b) | .id')\" ]" 30 >&2
	d=$(look r status --json --limit 1000 | jq '.jobs[] | select(.kind == "deploy" and .job == '"$b"') | .id')
	[ "$(wait_deploy "$d" 60)" = healthy ] >&2
	echo "$b $d"
}

@test "a rebuild of the release commit with push variables never reaches production" {
	read -r b1 d1 < <(push_staged)
	git -C "$SRC" commit -q --allow-empty -m "Release candidate"
	read -r good good_d < <(push_staged)
	# the attacker: develop back two commits (a push of the same old and
	# new heads is the same push), then the release commit again with a
	# variable, staged last
	git -C "$SRC" push -q -f origin HEAD~2:develop
	wait_for "[ \"\$(last_job build)\" -gt $good ]" 30
	wait_state "$(last_job build)" passed 60
	read -r evil evil_d < <(push_staged -o ci.variable=LEVEL=evil)
	[ "$(job_field "$evil" .variables.LEVEL)" = evil ]
	[ "$evil_d" -gt "$good_d" ]
	# the release manager signs the commit staging showed
	ssh_tag "$SRC" v1.0.0 release
	prod=$(push_tag v1.0.0)
	[ "$(wait_deploy "$prod" 90)" = healthy ]
	[ "$(job_field "$prod" .job)" = "$good" ]
	[ "$(cat "$(job_field "$prod" .release_dir)/dist/LEVEL")" = plain ]
	# the choice and its reason, recorded and shown
	r log "$prod" "release build" | grep -qx "build #$good: its staging deployment #$good_d was healthy, the newest of commit $(git -C "$SRC" rev-parse --short=7 HEAD); passed over, for their push variables (runner.yml release_variables): #$evil"
	r show "$prod" | grep -q "release build"
	grep -q "job #$prod: release v1.0.0 signed by .* deploys build #$good" "$T/serve.log"
}

@test "only a build with variables was staged: the release is refused, unless runner.yml allows it" {
	read -r evil evil_d < <(push_staged -o ci.variable=LEVEL=evil)
	ssh_tag "$SRC" v1.0.0 release
	prod=$(push_tag v1.0.0)
	[ "$(wait_deploy "$prod" 60)" = rejected ]
	[ "$(job_field "$prod" .error)" = "commit $(git -C "$SRC" rev-parse --short=7 HEAD) of tag 'v1.0.0' has no healthy staging deployment of a build without push variables (require_staging); passed over, for their push variables (runner.yml release_variables): #$evil" ]
	# the operator decides that variables are fine for releases
	trust_config "    variables: [LEVEL]
    release_variables: true"
	ssh_tag "$SRC" v1.0.1 release
	prod=$(push_tag v1.0.1)
	[ "$(wait_deploy "$prod" 90)" = healthy ]
	[ "$(job_field "$prod" .job)" = "$evil" ]
	[ "$(cat "$(job_field "$prod" .release_dir)/dist/LEVEL")" = evil ]
}

# The sha of a tag's object in the bare repository.
tag_object() {
	git -C "$T/app.git" rev-parse "refs/tags/$1"
}

@test "an abandoned release tag cannot come back, replayed or moved through another object" {
	read -r b1 d1 < <(push_staged)
	# v1.1.0 pushed with its commit, before any build of it: rejected
	git -C "$SRC" commit -q --allow-empty -m "Release 1.1.0"
	ssh_tag "$SRC" v1.1.0 release
	abandoned=$(push_tag v1.1.0)
	[ "$(wait_deploy "$abandoned" 60)" = rejected ]
	signed=$(tag_object v1.1.0)
	# the release manager fixes it and releases v1.1.1 instead (its
	# signature dated earlier, so that only the order the runner saw the
	# tags in tells the two apart)
	git -C "$SRC" commit -q --allow-empty -m "Fix for 1.1.1"
	read -r b2 d2 < <(push_staged)
	GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" ssh_tag "$SRC" v1.1.1 release
	good=$(push_tag v1.1.1)
	[ "$(wait_deploy "$good" 90)" = healthy ]
	# replayed: the same signed object pushed again under its name is the
	# same push, which stays rejected
	git -C "$SRC" push -q origin :refs/tags/v1.1.0
	out=$(git -C "$SRC" push origin refs/tags/v1.1.0 2>&1)
	[[ "$out" == *"already queued release #$abandoned for v1.1.0"* ]]
	[ "$(job_state "$abandoned")" = rejected ]
	# retried: the tag was first pushed before the serving release
	replay=$(r retry "$abandoned" | sed -n 's/^queued deployment #\([0-9]*\).*/\1/p')
	[ -n "$replay" ]
	[ "$(wait_deploy "$replay" 60)" = rejected ]
	[ "$(job_field "$replay" .error)" = "tag 'v1.1.0' was first pushed before release #$good, which serves production now, was queued; releases only go forward (going back is 'runner rollback production')" ]
	# moved through an object of the attacker's, then back
	git -C "$SRC" tag -f -a v1.1.0 -m "mine" HEAD >/dev/null
	git -C "$SRC" push -q -f origin refs/tags/v1.1.0 2>/dev/null
	git -C "$SRC" tag -f v1.1.0 "$signed" >/dev/null
	out=$(git -C "$SRC" push -f origin refs/tags/v1.1.0 2>&1)
	[ "$(tag_object v1.1.0)" = "$signed" ]
	back=$(echo "$out" | sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p')
	[ -n "$back" ]
	[ "$(wait_deploy "$back" 60)" = rejected ]
	[[ "$(job_field "$back" .error)" == "tag 'v1.1.0' pointed at another object before (release #"*"); a release tag is never moved: tag a new version" ]]
	# production still serves v1.1.1
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | "\(.state) \(.release)"')" = "healthy $good" ]
	# and no production deployment ran but v1.1.1's
	[ "$(r status --json --limit 1000 | jq '[.jobs[] | select(.env == "production" and .state != "rejected")] | length')" = 1 ]
}

@test "a release tag signed before the serving one is refused, though the runner never saw it" {
	first=$(git -C "$SRC" rev-parse HEAD)
	# v0.8.0, signed long ago, reached the repository before the runner
	# watched it: no hook ever saw it
	GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" ssh_tag "$SRC" v0.8.0 release
	git -C "$T/app.git" fetch -q "$SRC" refs/tags/v0.8.0:refs/tags/v0.8.0
	read -r b1 d1 < <(push_staged)
	git -C "$SRC" commit -q --allow-empty -m "Release 0.9.0"
	read -r b2 d2 < <(push_staged)
	ssh_tag "$SRC" v0.9.0 release
	serving=$(push_tag v0.9.0)
	[ "$(wait_deploy "$serving" 90)" = healthy ]
	# the attacker stages the old commit again, then deletes and pushes
	# the old tag, which the store has never seen
	git -C "$SRC" push -q -f origin "$first:refs/heads/develop"
	wait_for "[ \"\$(last_job deploy staging)\" -gt $d2 ]" 60
	[ "$(wait_deploy "$(last_job deploy staging)" 90)" = healthy ]
	git -C "$SRC" push -q origin :refs/tags/v0.8.0
	old=$(push_tag v0.8.0)
	[ -n "$old" ]
	[ "$(wait_deploy "$old" 60)" = rejected ]
	[ "$(job_field "$old" .error)" = "tag 'v0.8.0' was signed before 'v0.9.0', which serves production now (release #$serving); releases only go forward (going back is 'runner rollback production')" ]
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | .release')" = "$serving" ]
}
