#!/usr/bin/env bats
# Environments move forward only: a build of an older push that finishes
# after a newer push was deployed does not deploy over it; its deployment
# is recorded superseded, naming the newer one. A deploy by hand of an
# older build still deploys.

load lib

setup() {
	setup_env
	empty_source app
	printf 'A\n' > "$SRC/version"
	touch "$SRC/slow"
	git -C "$SRC" add version slow
	set_pipeline "$SRC" "A: slow to build" <<YML
stages:
  - name: build
    run: |
      if [ -e slow ]; then while [ ! -e "$MARK-go" ]; do sleep 0.05; done; fi
      mkdir -p dist && cp version dist/
    artifacts: [dist/**]
environments:
  staging:
    deploy: cp "\$RUNNER_RELEASE_DIR/dist/version" "\$RUNNER_STATE_DIR/serving"
YML
}
teardown() { teardown_env; }

@test "a slow build of an older push finishing last does not deploy; the newest commit serves" {
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(r show --json 1 | jq -r '.stages[0].state')\" = running ]" 30
	printf 'B\n' > "$SRC/version"
	git -C "$SRC" rm -q slow
	git -C "$SRC" commit -qam "B: fast"
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	d=$(last_job deploy staging)
	[ "$(wait_deploy "$d")" = healthy ]
	[ "$(cat "$(env_dir state app staging)/serving")" = B ]
	touch "$MARK-go"
	wait_state 1 passed
	wait_for "[ \"\$(last_job deploy staging)\" != $d ]" 30
	old=$(last_job deploy staging)
	[ "$(wait_deploy "$old")" = superseded ]
	[ "$(job_field "$old" .error)" = "superseded by deployment #$d of a newer push" ]
	[ "$(job_field "$old" .job)" = 1 ]
	[ "$(cat "$(env_dir state app staging)/serving")" = B ]
	[ "$(r status --json | jq -r '.environments[0].release')" = "$d" ]
	# by hand, the older build deploys: someone asked for it
	run r deploy 1 staging
	[ "$status" -eq 0 ]
	h=$(last_job deploy staging)
	[ "$(wait_deploy "$h")" = healthy ]
	[ "$(job_field "$h" .requested_by)" = "$(id -un)" ]
	[ "$(cat "$(env_dir state app staging)/serving")" = A ]
}
