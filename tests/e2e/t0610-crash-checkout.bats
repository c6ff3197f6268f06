#!/usr/bin/env bats
# The daemon SIGKILLed during a checkout, 20 times at varied points (once
# 2, 3, ... 21 of the tree's 60 files exist, the worker frozen there with
# SIGSTOP so the point is exact): each job is re-run to completion and
# recorded once, the store stays sound. Each push renames the 60 files
# (the same contents): the checkout over the workspace the worker kept
# from the last build removes the old names and writes the new ones, so
# that it takes as long as a new checkout and is stopped as one.

load lib

setup() {
	setup_env
	empty_source app
	mkdir -p "$SRC/tree"
	git -C "$SRC" config core.compression 0	# random data: do not try
	for f in $(seq 10 69); do
		head -c 524288 /dev/urandom > "$SRC/tree/r0-f$f"
	done
	git -C "$SRC" add tree
	set_pipeline "$SRC" "30 MB in 60 files" <<'YML'
stages:
  - name: count
    run: test "$(find tree -type f | wc -l)" = 60
YML
}
teardown() { teardown_env; }

@test "SIGKILLs (20 rounds) during checkout: every job re-run to completion, once" {
	rounds=$(crash_rounds)
	start_daemon --workers 1
	hits=0
	for i in $(seq 1 "$rounds"); do
		for f in $(seq 10 69); do
			git -C "$SRC" mv "tree/r$((i - 1))-f$f" "tree/r$i-f$f"
		done
		git -C "$SRC" commit -q -m "Push $i"
		git -C "$SRC" push -q origin develop
		ws="$RUNNER_HOME/work/$i"
		at=$((i + 1))
		# the checkout stops right here (a look that starts no process)
		freeze_when "n=('$ws'/tree/r$i-*); [ -e \"\${n[0]}\" ] && [ \${#n[@]} -ge $at ]" 30
		# still checking out; on a busy machine the stop can come after
		# the last file, and that round kills a stage (the count of hits
		# below still asks for half)
		[ "$(job_field "$i" '.stages[0].state')" != pending ] || hits=$((hits + 1))
		kill_daemon
		restart_daemon --workers 1
		wait_state "$i" passed 60
		[ "$(job_field "$i" .attempt)" -ge 2 ]
		store_sound
	done
	echo "$rounds rounds, $hits killed during the checkout"
	[ $((hits * 2)) -ge "$rounds" ]
	[ "$(r status --json --limit 100 | jq '.jobs | length')" = "$rounds" ]
	[ "$(r status --json --limit 100 | jq '[.jobs[] | select(.state == "passed")] | length')" = "$rounds" ]
}
