#!/bin/bash
# A PostgreSQL server of the tests' own: Debian's binaries, a data folder
# and a socket folder under DIR, no TCP port, trust for the local user.
#   pg.sh start DIR    start it (made the first time); print the URL of
#                      its database "runner"
#   pg.sh stop DIR     stop it
#   pg.sh schema URL   make a schema of its own for one test; print the
#                      URL that uses it (each test's store is apart, and
#                      tests run in parallel on one server)
#   pg.sh run CMD...   run CMD with RUNNER_TEST_PG set to a server's URL:
#                      the one already set, or one started for CMD alone
# As root the server runs as the user postgres (initdb refuses root).
# PG_PORT=N PG_NET=CIDR: it also listens on TCP port N of every address,
# and lets CIDR in (trust: a test server).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "pg.sh: no PostgreSQL server; install Debian's postgresql" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ] &&
	    as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		echo "postgresql:///runner?host=$dir&user=runner${PG_PORT:+&port=$PG_PORT}"
		return
	fi
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	local new=
	if [ ! -d "$dir/data" ]; then
		new=1
		as_owner "$bin/initdb" -D "$dir/data" -A trust -U runner -E UTF8 \
		    --no-sync >"$dir/initdb.log" 2>&1 ||
		    { cat "$dir/initdb.log" >&2; exit 1; }
		[ -z "${PG_NET:-}" ] ||
		    echo "host all all $PG_NET trust" >> "$dir/data/pg_hba.conf"
	fi
	local listen="-c listen_addresses="
	[ -z "${PG_PORT:-}" ] || listen="-c listen_addresses='*' -p $PG_PORT"
	# no fsync: a test server, thrown away with its folder; the
	# benchmark's (PG_DURABLE=1) syncs as SQLite does
	local sync="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ -z "${PG_DURABLE:-}" ] || sync=
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	    -o "-k $dir $listen $sync \
	    -c max_connections=300 -c shared_buffers=32MB" start >/dev/null ||
	    { cat "$dir/server.log" >&2; exit 1; }
	chmod 755 "$dir"
	[ -z "$new" ] || "$bin/createdb" -h "$dir" ${PG_PORT:+-p $PG_PORT} -U runner runner
	echo "postgresql:///runner?host=$dir&user=runner${PG_PORT:+&port=$PG_PORT}"
}

stop() {
	as_owner "$bin/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
}

schema() {
	local url=$1 name
	name=t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	psql -q -X -v ON_ERROR_STOP=1 "$url" -c "CREATE SCHEMA $name" >/dev/null
	echo "$url&options=-csearch_path%3D$name"
}

case ${1:-} in
start) start "$2" ;;
stop) stop "$2" ;;
schema) schema "$2" ;;
run)
	shift
	if [ -n "${RUNNER_TEST_PG:-}" ]; then
		exec "$@"
	fi
	dir=$(mktemp -d /tmp/rt.pg.XXXXXX)
	trap 'stop "$dir"; rm -rf "$dir"' EXIT
	RUNNER_TEST_PG=$(start "$dir")
	export RUNNER_TEST_PG
	"$@"
	;;
*) echo "usage: pg.sh start DIR | stop DIR | schema URL | run CMD..." >&2; exit 2 ;;
esac
