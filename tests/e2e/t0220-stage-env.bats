#!/usr/bin/env bats
# What a stage sees: a clean environment with the RUNNER_ variables, stdin
# from /dev/null, only descriptors 0-2, and a real git work tree (clean to
# `git status`, links, modes and .gitattributes conversions as git writes
# them), run by the build user in its sandbox. It writes what it sees into
# its .git folder (out of `git status`'s sight), kept after the job.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a stage gets a clean environment, no extra descriptors, a work tree" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" tag -a v0.9.0 -m "old release"
	mkdir -p "$src/deep/er"
	printf 'one\ntwo\n' > "$src/deep/er/notes.txt"
	echo '*.txt eol=crlf' > "$src/.gitattributes"
	ln -s deep/er/notes.txt "$src/link"
	printf '#!/bin/sh\necho run\n' > "$src/tool.sh" && chmod +x "$src/tool.sh"
	git -C "$src" add -A && git -C "$src" commit -q -m "tree shapes"
	set_pipeline "$src" <<'YML'
stages:
  - name: env
    env: { EXTRA: "from pipeline" }
    run:
      - o=.git/seen; mkdir $o
      - env | sort > $o/env
      - ls /proc/self/fd > $o/fds
      - cat > $o/stdin
      - git describe --tags > $o/describe
      - git log --oneline | wc -l > $o/log
      - pwd > $o/pwd
      - git status --porcelain > $o/status
      - readlink link > $o/link
      - ./tool.sh > $o/tool
      - od -c deep/er/notes.txt > $o/notes
      - id -un > $o/user
YML
	echo "keep_workspaces: true" >> "$RUNNER_HOME/runner.yml"
	git -C "$src" push -q origin develop v0.9.0
	LEAK_ME=secret start_daemon --workers 1
	wait_state 1 passed
	o="$RUNNER_HOME/work/1/.git/seen"
	if [ "$(id -u)" = 0 ]; then
		# the user of the one worker
		[ "$(cat "$o/user")" = runner-build-0 ]
	fi

	grep -qx "RUNNER_JOB=1" "$o/env"
	grep -qx "RUNNER_REF=refs/heads/develop" "$o/env"
	grep -qx "RUNNER_BRANCH=develop" "$o/env"
	grep -qx "RUNNER_COMMIT=$(git -C "$src" rev-parse HEAD)" "$o/env"
	grep -qx "RUNNER_STAGE=env" "$o/env"
	grep -qx "RUNNER_REPO=$T/app.git" "$o/env"
	grep -qx "CI=true" "$o/env"
	grep -qx "EXTRA=from pipeline" "$o/env"
	grep -q "^RUNNER_WORKSPACE=$RUNNER_HOME/work/1$" "$o/env"
	! grep -q "LEAK_ME" "$o/env" || false
	! grep -q "^GIT_" "$o/env" || false
	! grep -q "^RUNNER_HOME" "$o/env" || false
	# 0, 1, 2 and the one ls opened to list them
	[ "$(sort -n "$o/fds" | tr '\n' ' ')" = "0 1 2 3 " ]
	[ ! -s "$o/stdin" ]
	[[ "$(cat "$o/describe")" == v0.9.0-2-g* ]]
	[ "$(cat "$o/log")" -eq 3 ]
	[ "$(cat "$o/pwd")" = "$RUNNER_HOME/work/1" ]
	[ ! -s "$o/status" ]
	[ "$(cat "$o/link")" = deep/er/notes.txt ]
	[ "$(cat "$o/tool")" = run ]
	grep -q 'o  \\r  \\n' "$o/notes"
}

@test "keep_workspaces keeps the work tree after the job" {
	echo "keep_workspaces: true" > "$RUNNER_HOME/runner.yml"
	make_repo app
	src=$(make_clone app)
	git -C "$src" push -q origin develop
	start_daemon --workers 1
	wait_state 1 passed
	[ -x "$RUNNER_HOME/work/1/src/store.sh" ]
	[ "$(git -C "$RUNNER_HOME/work/1" rev-parse HEAD)" = "$(git -C "$src" rev-parse HEAD)" ]
	[ -z "$(git -C "$RUNNER_HOME/work/1" status --porcelain -- src)" ]
}
