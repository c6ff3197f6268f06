#!/usr/bin/env bats
# PostgreSQL with a standby, as docs/operations.md (sizing) sets it up:
# a primary this file starts, a standby made with pg_basebackup that
# streams from it (synchronous: a commit is on both before it returns),
# and the runner pointed at both through a libpq multi-host URL with
# target_session_attrs=read-write. Under load the primary is stopped at
# once (as a crash would) and the standby promoted: the daemon and its
# workers connect to the new primary by themselves, and every job runs
# exactly once (0 lost, 0 run twice).

load lib

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# as the servers' owner (initdb refuses root: pg.sh runs them as postgres)
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

setup_file() {
	export PG_DURABLE=1
	PRIMARY=$(mktemp -d /tmp/rt.pg.XXXXXX)
	STANDBY=$(mktemp -d /tmp/rt.pg.XXXXXX)
	export PRIMARY STANDBY
	PGURL=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PRIMARY")
	export PGURL
	chmod 0755 "$STANDBY"
	[ "$(id -u)" != 0 ] || chown postgres: "$STANDBY"
	# the standby: the primary's files as of now, then its WAL as it is
	# written (-R: standby.signal and primary_conninfo)
	as_pg "$PGBIN/pg_basebackup" -D "$STANDBY/data" -h "$PRIMARY" -U runner \
	    -X stream -R -c fast
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$STANDBY" >/dev/null
	# synchronous: the primary's commits wait for the standby's flush
	psql -X -q "$PGURL" -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
	    -c "SELECT pg_reload_conf()" >/dev/null
}
teardown_file() {
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PRIMARY"
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$STANDBY"
	rm -rf "$PRIMARY" "$STANDBY"
}

setup() {
	setup_env
	unset RUNNER_STORE
	rm -f "$RUNNER_HOME"/runner.db*
	# both servers; libpq takes the one that accepts writes
	BOTH="postgresql:///runner?host=$PRIMARY,$STANDBY&user=runner&target_session_attrs=read-write"
	STORE_URL=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" schema "$BOTH")
	cat > "$RUNNER_HOME/runner.yml" <<YML
store: '$STORE_URL'
supersede: false
repos:
  - path: $T/app.git
    branches: '^b[0-9]+\$'
YML
	host_stages
	r init >/dev/null
	make_repo app
	SRC=$(make_clone app)
}
teardown() { teardown_env; }

pgq() { psql -X -q -At "$STORE_URL" -c "$1"; }

@test "the primary stopped and the standby promoted under load: 0 lost, 0 run twice" {
	# the standby streams, synchronously
	[ "$(psql -X -q -At "$PGURL" -c "SELECT sync_state FROM pg_stat_replication")" = sync ]
	set_pipeline "$SRC" "Takes a moment" <<YML
stages:
  - name: unit
    run: |
      echo "\$RUNNER_JOB" >> $T/runs
      sleep 0.3
YML
	n=40
	for i in $(seq 1 $n); do
		echo "$i" > "$SRC/n"
		git -C "$SRC" add n
		git -C "$SRC" commit -q -m "Commit $i"
		git -C "$SRC" branch "b$i"
	done
	start_daemon --workers 4
	git -C "$SRC" push -q origin 'refs/heads/b*'
	wait_for "[ \"\$(pgq \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" -ge 8 ]" 60
	# the failover, with jobs running: the primary dies at once; the
	# standby, which has every commit, is promoted
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PRIMARY"
	as_pg "$PGBIN/pg_ctl" -D "$STANDBY/data" -w promote >/dev/null
	wait_for "[ \"\$(pgq \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" = $n ]" 120 ||
	    { pgq "SELECT id, state, attempt, error FROM jobs WHERE state <> 'passed'"; cat "$T/serve.log"; false; }
	# every job ran once. (A claim whose answer the failover took, the
	# server having committed it, waits for its lease and runs as
	# attempt 2: once all the same; rare, and said here)
	[ "$(wc -l < "$T/runs")" = "$n" ] || { sort "$T/runs" | uniq -d; cat "$T/serve.log"; false; }
	[ "$(sort -u "$T/runs" | wc -l)" = "$n" ]
	[ "$(pgq "SELECT count(*) FROM jobs")" = "$n" ]
	pgq "SELECT 'attempt ' || attempt || ': job #' || id FROM jobs WHERE attempt <> 1"
	# the daemon carries on on the new primary: one more push runs
	echo more > "$SRC/n"
	git -C "$SRC" commit -q -am "One more"
	git -C "$SRC" push -q origin HEAD:refs/heads/b999
	wait_for "[ \"\$(pgq \"SELECT count(*) FROM jobs WHERE state = 'passed'\")\" = $((n + 1)) ]" 60
	# it reconnected by itself, and said so no more than it had to
	grep -c 'warning' "$T/serve.log" || true
}
