#!/usr/bin/env bats
# What a stage sees: a clean environment with the RUNNER_ variables, stdin
# from /dev/null, only descriptors 0-2, and a real git work tree (clean to
# `git status`, links, modes and .gitattributes conversions as git writes
# them).

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
	set_pipeline "$src" <<YML
stages:
  - name: env
    env: { EXTRA: "from pipeline" }
    run:
      - env | sort > $T/env
      - ls /proc/self/fd > $T/fds
      - cat > $T/stdin
      - git describe --tags > $T/describe
      - git log --oneline | wc -l > $T/log
      - pwd > $T/pwd
      - git status --porcelain > $T/status
      - readlink link > $T/link
      - ./tool.sh > $T/tool
      - od -c deep/er/notes.txt > $T/notes
YML
	git -C "$src" push -q origin develop v0.9.0
	LEAK_ME=secret start_daemon --workers 1
	wait_state 1 passed

	grep -qx "RUNNER_JOB=1" "$T/env"
	grep -qx "RUNNER_REF=refs/heads/develop" "$T/env"
	grep -qx "RUNNER_BRANCH=develop" "$T/env"
	grep -qx "RUNNER_COMMIT=$(git -C "$src" rev-parse HEAD)" "$T/env"
	grep -qx "RUNNER_STAGE=env" "$T/env"
	grep -qx "RUNNER_REPO=$T/app.git" "$T/env"
	grep -qx "CI=true" "$T/env"
	grep -qx "EXTRA=from pipeline" "$T/env"
	grep -q "^RUNNER_WORKSPACE=$RUNNER_HOME/work/1$" "$T/env"
	! grep -q "LEAK_ME" "$T/env"
	! grep -q "^GIT_" "$T/env"
	! grep -q "^RUNNER_HOME" "$T/env"
	# 0, 1, 2 and the one ls opened to list them
	[ "$(sort -n "$T/fds" | tr '\n' ' ')" = "0 1 2 3 " ]
	[ ! -s "$T/stdin" ]
	[[ "$(cat "$T/describe")" == v0.9.0-2-g* ]]
	[ "$(cat "$T/log")" -eq 3 ]
	[ "$(cat "$T/pwd")" = "$RUNNER_HOME/work/1" ]
	[ ! -s "$T/status" ]
	[ "$(cat "$T/link")" = deep/er/notes.txt ]
	[ "$(cat "$T/tool")" = run ]
	grep -q 'o  \\r  \\n' "$T/notes"
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
