#!/usr/bin/env bats
# Control from the git push command line (git push -o, turned on by
# install-hook), [skip ci] in the pushed head's message, and builds run by
# hand with variables (runner run).

load lib

setup() {
	setup_env
	empty_source app
	set_pipeline "$SRC" "first" <<'YML'
stages:
  - name: show
    run: echo "FOO=${FOO:-unset} BAR=${BAR:-unset} RUNNER_JOB=$RUNNER_JOB"
YML
	# the variables a push may set are the server's to name
	allow_variables "[FOO, BAR]"
	start_daemon --workers 1
}

# allow_variables LIST [BRANCHES]: runner.yml lets pushes to app set LIST.
allow_variables() {
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '${2:-^develop\$}'
    variables: $1
YML
}
teardown() { teardown_env; }

@test "install-hook turns push options on" {
	[ "$(git config --file "$T/app.git/config" receive.advertisePushOptions)" = true ]
}

@test "ci.skip: no job; an unknown ci option is warned about; other tools' options are left alone" {
	run git -C "$SRC" push -o ci.skip -o ci.nonsense -o review=yes origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: ci.skip: no job for this push"* ]]
	[[ "$output" == *"unknown push option 'ci.nonsense' ignored"* ]]
	[[ "$output" != *"review=yes"* ]]
	[ "$(r status --json | jq '.jobs | length')" = 0 ]
	git -C "$SRC" commit -q --allow-empty -m "next"
	run git -C "$SRC" push -o ci.nonsense origin develop
	[[ "$output" == *"unknown push option 'ci.nonsense' ignored"* ]]
	[[ "$output" == *"queued job #1"* ]]
	wait_state 1 passed 30
}

@test "ci.variable reaches the stages and show; bad ones are refused with a reason" {
	run git -C "$SRC" push -o ci.variable=FOO=hello -o 'ci.variable=BAR=two words' \
	    -o ci.variable=RUNNER_JOB=9 -o ci.variable=1X=y -o ci.variable=novalue origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"push option 'ci.variable=RUNNER_JOB=9' ignored: RUNNER_ names are the runner's own"* ]]
	[[ "$output" == *"push option 'ci.variable=1X=y' ignored: the name must be"* ]]
	[[ "$output" == *"push option 'ci.variable=novalue' ignored: not NAME=VALUE"* ]]
	wait_state 1 passed 30
	r log 1 show | grep -qx "FOO=hello BAR=two words RUNNER_JOB=1"
	[ "$(job_field 1 '.variables | to_entries | map("\(.key)=\(.value)") | join(",")')" = "FOO=hello,BAR=two words" ]
	r show 1 | grep -qx "variable: FOO=hello"
	# a retry keeps them
	r retry 1 >/dev/null
	wait_state 2 passed 30
	r log 2 show | grep -q "FOO=hello"
}

@test "a variable runner.yml does not list is refused, and names the loader or a shell reads never pass" {
	# no list: no variable at all, which is the default
	allow_variables "[]"
	run git -C "$SRC" push -o ci.variable=FOO=hello origin develop
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"runner: warning: variable 'FOO' refused: runner.yml lets no push set variables of '$T/app.git' (list the names under 'variables' of its 'repos' entry)"* ]]
	wait_state 1 passed 30
	r log 1 show | grep -qx "FOO=unset BAR=unset RUNNER_JOB=1"
	[ "$(job_field 1 '.variables | length')" = 0 ]
	# a pattern that matches everything still lets no start-up name by
	allow_variables "['[A-Z_]+', 'FEATURE_.*']"
	git -C "$SRC" commit -q --allow-empty -m next
	run git -C "$SRC" push -o ci.variable=LD_PRELOAD=/tmp/x.so -o ci.variable=BASH_ENV=/tmp/x \
	    -o ci.variable=ENV=/tmp/x -o ci.variable=GCONV_PATH=/tmp -o ci.variable=GIT_SSH_COMMAND=x \
	    -o ci.variable=TMPDIR=/tmp/x -o ci.variable=LD_AUDIT=/tmp/x.so -o ci.variable=FOO=kept origin develop
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"push option 'ci.variable=LD_PRELOAD=/tmp/x.so' ignored: the dynamic loader reads it before any program runs"* ]]
	[[ "$output" == *"push option 'ci.variable=BASH_ENV=/tmp/x' ignored: bash runs the file it names before a script"* ]]
	for v in ENV GCONV_PATH GIT_SSH_COMMAND TMPDIR LD_AUDIT; do
		[[ "$output" == *"push option 'ci.variable=$v="*"' ignored: "* ]]
	done
	wait_state 2 passed 30
	[ "$(job_field 2 '.variables | to_entries | map("\(.key)=\(.value)") | join(",")')" = "FOO=kept" ]
	# a name outside the list
	allow_variables "[FOO]"
	git -C "$SRC" commit -q --allow-empty -m third
	run git -C "$SRC" push -o ci.variable=BAR=no -o ci.variable=FOO=yes origin develop
	[[ "$output" == *"variable 'BAR' refused: runner.yml's 'variables' of '$T/app.git' (FOO) do not name it"* ]]
	wait_state 3 passed 30
	r log 3 show | grep -qx "FOO=yes BAR=unset RUNNER_JOB=3"
	# runner run --var: the same list, an error
	run r run "$T/app.git" develop --var BAR=x
	[ "$status" -eq 1 ]
	[[ "$output" == *"variable 'BAR' refused: runner.yml's 'variables' of '$T/app.git' (FOO) do not name it"* ]]
	run r run "$T/app.git" develop --var LD_PRELOAD=/tmp/x.so
	[ "$status" -eq 2 ]
	[[ "$output" == *"the dynamic loader reads it before any program runs"* ]]
	[ "$(r status --json | jq '.jobs | length')" = 3 ]
}

@test "runner.yml that lists a start-up name is an error naming the line" {
	allow_variables "[FOO, LD_PRELOAD]"
	git -C "$SRC" commit -q --allow-empty -m next
	run git -C "$SRC" push -o ci.variable=FOO=x origin develop
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" == *"runner.yml:4:"*"variable 'LD_PRELOAD' in 'variables' of '$T/app.git' can never come from a push: the dynamic loader reads it before any program runs"* ]]
	run r doctor
	[[ "$output" == *"variable 'LD_PRELOAD' in 'variables'"* ]]
}

@test "a variable runner.yml stopped allowing after the push: the build runs nothing" {
	stop_daemon
	git -C "$SRC" push -q -o ci.variable=FOO=early origin develop
	allow_variables "[BAR]"
	start_daemon --workers 1
	wait_state 1 error 30
	[ "$(job_field 1 .error)" = "variable 'FOO' refused: runner.yml's 'variables' of '$T/app.git' (BAR) do not name it; nothing ran" ]
	[ ! -e "$(job_field 1 '.stages[0].log')" ] || ! grep -q FOO "$(job_field 1 '.stages[0].log')" || false
}

@test "a branch name as long as git takes gets its job" {
	allow_variables "[]" '^release/.*$'
	local seg long longer
	seg=$(printf 'a%.0s' $(seq 1 200))
	# 1,027 bytes of ref, then 2,834: components of 200, as git's files
	# backend needs each to fit a file name
	long="release/$seg/$seg/$seg/$seg/$seg/xyz"
	longer="release/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/$seg/x"
	run git -C "$SRC" push origin "develop:refs/heads/$long" "develop:refs/heads/$longer"
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "$output" != *"malformed"* ]]
	[[ "$output" == *"queued job #1 for $long"* ]]
	[[ "$output" == *"queued job #2 for $longer"* ]]
	wait_state 1 passed 30
	wait_state 2 passed 30
	[ "$(job_field 1 .ref)" = "refs/heads/$long" ]
	[ "$(job_field 1 .ref | tr -d '\n' | wc -c)" -eq 1027 ]
	[ "$(job_field 2 .ref)" = "refs/heads/$longer" ]
	[ ${#longer} -gt 2800 ]
}

@test "[skip ci] in the head's message: the job ends canceled, saying why" {
	git -C "$SRC" commit -q --allow-empty -m "Docs only [skip ci]"
	git -C "$SRC" push -q origin develop
	wait_state 1 canceled 30
	[ "$(job_field 1 .error)" = "skipped: the commit message says [skip ci]" ]
	[ "$(job_field 1 '.stages | length')" = 0 ]
}

@test "runner run queues a build of a branch's head by hand, with variables" {
	git -C "$SRC" push -q -o ci.skip origin develop
	git -C "$SRC" commit -q --allow-empty -m "Feature [skip ci]"
	git -C "$SRC" push -q -o ci.skip origin develop:feature
	run r run "$T/app.git" feature --var FOO=manual --var BAR=x=y
	[ "$status" -eq 0 ]
	[[ "$output" == "queued job #1 for feature "*" (by hand, by "*")" ]]
	wait_state 1 passed 30
	r log 1 show | grep -q "FOO=manual BAR=x=y"
	[ "$(job_field 1 .requested_by)" = "$(id -un)" ]
	[ "$(job_field 1 .ref)" = refs/heads/feature ]
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
	# by hand again: a new job, not a duplicate of the first
	r run "$T/app.git" refs/heads/feature >/dev/null
	wait_state 2 passed 30
	run r run "$T/app.git" nosuch
	[ "$status" -eq 1 ]
	[[ "$output" == *"no branch or tag 'nosuch'"* ]]
	run r run "$T/app.git" feature --var RUNNER_X=1
	[ "$status" -eq 2 ]
	[[ "$output" == *"RUNNER_ names are the runner's own"* ]]
	run r run --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: runner run"* ]]
}

@test "a feature branch runs only its stages; develop also builds and deploys" {
	allow_variables "[FOO, BAR]" '^(develop|feature/.*)$'
	set_pipeline "$SRC" "branch pipelines" <<'YML'
stages:
  - name: unit
    run: echo unit
  - name: lint
    run: echo lint
    except: '^docs/'
  - name: build
    run: mkdir -p dist && echo v > dist/v
    artifacts: [dist/**]
    only: '^develop$'
environments:
  staging:
    deploy: echo deployed
YML
	git -C "$SRC" push -q origin develop:feature/x
	wait_state 1 passed 30
	[ "$(job_field 1 '[.stages[] | "\(.name):\(.state)"] | join(",")')" = "unit:passed,lint:passed,build:skipped" ]
	[ "$(job_field 1 '.stages[2].error')" = "not for feature/x (only/except)" ]
	[ "$(job_field 1 '.artifacts | length')" = 0 ]
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 30
	[ "$(job_field 2 '[.stages[] | .state] | join(",")')" = "passed,passed,passed" ]
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	# the feature branch queued no deployment
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.kind == "deploy")] | length')" = 1 ]
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.kind == "deploy")][0].job')" = 2 ]
	run r check "$SRC/.runner.yml"
	[ "$status" -eq 0 ]
	printf 'stages:\n  - name: a\n    run: "true"\n    only: "("\n' > "$T/bad.yml"
	run r check "$T/bad.yml"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.yml:4:"*"only"* ]]
}

@test "ci.wait: the push shows each stage, the result and the deployment's" {
	set_pipeline "$SRC" "deploys" <<'YML'
stages:
  - name: unit
    run: echo unit
  - name: build
    run: mkdir -p dist && echo v > dist/v
    artifacts: [dist/**]
environments:
  staging:
    deploy: echo deployed
YML
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ]
	for line in "runner: queued job #1 for develop" \
	    "runner: waiting for the job (ci.wait; Ctrl-C stops the waiting, not the job)" \
	    "runner: #1 unit passed in " \
	    "runner: #1 build passed in " "runner: job #1 passed in " \
	    "runner: deployment #2 to staging healthy in "; do
		[[ "$output" == *"$line"* ]] || { echo "missing: $line"; echo "$output"; false; }
	done
	[ "$(grep -c 'runner: job #1 passed' <<<"$output")" = 1 ]
	[ "$(job_state 1)" = passed ]
}

@test "ci.wait interrupted: the push ends, the job goes on; a timeout stops the waiting" {
	set_pipeline "$SRC" "slow" <<'YML'
stages:
  - name: slow
    run: while [ ! -e go ]; do sleep 0.02; done
YML
	git -C "$SRC" push -o ci.wait origin develop >"$T/push.out" 2>&1 3>&- &
	push=$!
	wait_for "grep -q 'runner: #1 slow started' '$T/push.out'" 30
	# the pusher gives up (a background job of this shell ignores SIGINT)
	kill -TERM "$push"
	wait "$push" || true
	touch "$RUNNER_HOME/work/1/go"
	wait_state 1 passed 30
	wait_for "! pgrep -f 'runner-hook post-receive $RUNNER_HOME' >/dev/null" 10
	# wait_timeout
	echo "wait_timeout: 1s" >> "$RUNNER_HOME/runner.yml"
	git -C "$SRC" commit -q --allow-empty -m again
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: stopped waiting after 1.0s (runner.yml wait_timeout); the jobs go on"* ]]
	[ "$(job_state 2)" = running ]
	touch "$RUNNER_HOME/work/2/go"
	wait_state 2 passed 30
}
