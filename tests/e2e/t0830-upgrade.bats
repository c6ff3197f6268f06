#!/usr/bin/env bats
# A store made by each earlier schema version is brought up to date by
# whoever opens it first, safely when several pushes (each a hook that
# opens the store) and a status arrive at once; nothing stored is lost,
# and the daemon then runs what was queued.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a store of every earlier schema version upgrades under concurrent pushes" {
	sqlite_only "stores of earlier versions are SQLite files (t0950 upgrades a PostgreSQL one)"
	latest=$(sqlite3 "$RUNNER_HOME/runner.db" 'PRAGMA user_version')
	[ "$latest" -ge 7 ]
	for v in $(seq 1 $((latest - 1))); do
		export RUNNER_HOME="$T/home$v"
		"$RUNNER" init >/dev/null
		rm -f "$RUNNER_HOME/runner.db" "$RUNNER_HOME/runner.db-wal" "$RUNNER_HOME/runner.db-shm"
		"$RUNNER_OLDSTORE" "$RUNNER_HOME" "$v"
		chmod 0600 "$RUNNER_HOME/runner.db"
		[ "$(db 'PRAGMA user_version')" = "$v" ]
		git init -q --bare "$T/app$v.git"
		"$RUNNER" install-hook "$T/app$v.git" >/dev/null
		printf 'repos:\n  - path: %s\n    branches: ^develop\n' "$T/app$v.git" \
		    > "$RUNNER_HOME/runner.yml"
		src="$T/src$v"
		git init -q -b develop "$src"
		git -C "$src" remote add origin "$T/app$v.git"
		echo "$v" > "$src/v"
		git -C "$src" add v
		git -C "$src" commit -q -m "v$v"
		# six pushes (six hooks) and a status at the same moment
		pids=()
		for b in 1 2 3 4 5 6; do
			git -C "$src" push -q origin "develop:refs/heads/develop$b" 2>"$T/push$v.$b" &
			pids+=($!)
		done
		r status >"$T/status$v" 2>&1 &
		pids+=($!)
		for p in "${pids[@]}"; do wait "$p" || { cat "$T"/push$v.* "$T/status$v"; false; }; done
		! grep -q 'warning\|error' "$T"/push$v.* || { cat "$T"/push$v.*; false; }
		[ "$(db 'PRAGMA user_version')" = "$latest" ]
		[ "$(db 'PRAGMA integrity_check')" = ok ]
		# the old job is there, as it was, and its repository has the
		# name it was shown with; the new one has its own
		[ "$(job_field 1 '.state + " " + .repo + " " + .stages[0].name')" = "passed /old.git unit" ]
		[ "$(db "SELECT name FROM repos WHERE path = '/old.git'")" = old ]
		[ "$(db "SELECT name FROM repos WHERE path = '$T/app$v.git'")" = "app$v" ]
		# every push queued its job
		run r status --json --limit 100
		[ "$status" -eq 0 ]
		[ "$(jq '[.jobs[] | select(.state == "queued")] | length' <<<"$output")" -eq 6 ]
	done
}

@test "the daemon upgrades the store it serves, and runs the pushes queued into it" {
	sqlite_only "stores of earlier versions are SQLite files (t0950 upgrades a PostgreSQL one)"
	rm -f "$RUNNER_HOME/runner.db" "$RUNNER_HOME/runner.db-wal" "$RUNNER_HOME/runner.db-shm"
	"$RUNNER_OLDSTORE" "$RUNNER_HOME" 1
	chmod 0600 "$RUNNER_HOME/runner.db"
	make_repo app
	SRC=$(make_clone app)
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 60
	[ "$(job_state 1)" = passed ]
	RUNNER_HOME="$T/fresh" "$RUNNER" init >/dev/null
	[ "$(db 'PRAGMA user_version')" = "$(sqlite3 "$T/fresh/runner.db" 'PRAGMA user_version')" ]
}
