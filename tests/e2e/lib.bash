# Shared helpers of the end-to-end tests. Each test gets its own temporary
# directory holding the runner home, bare repositories, clones and the
# daemon's socket, so tests run in parallel. Waiting is always on a
# condition with a timeout, never a fixed sleep.

: "${RUNNER_BIN_DIR:?set by meson: the folder with runner and runner-hook}"
: "${SOURCE_ROOT:?set by meson: the source folder of the project}"

RUNNER="$RUNNER_BIN_DIR/runner"
FIXTURE="$SOURCE_ROOT/fixtures/sample-app"

setup_env() {
	# Short paths: a unix socket path must fit in 108 bytes.
	T=$(mktemp -d /tmp/rt.XXXXXX)
	export RUNNER_HOME="$T/home"
	export HOME="$T/user"
	mkdir -p "$HOME"
	export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
	export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
	export GIT_CONFIG_NOSYSTEM=1
	git config --global init.defaultBranch develop
	git config --global advice.detachedHead false
	DAEMON_PID=
	"$RUNNER" init >/dev/null
}

teardown_env() {
	local sanitizer=0
	stop_daemon
	# anything a test started that is still around dies with the test
	pkill -KILL -f "$T" 2>/dev/null || true
	# a sanitizer report from the daemon fails the test that caused it
	if [ -f "$T/serve.log" ] &&
	    grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/serve.log"; then
		cat "$T/serve.log" >&2
		sanitizer=1
	fi
	rm -rf "$T"
	[ $sanitizer -eq 0 ]
}

# runner with the test's home
r() {
	"$RUNNER" "$@"
}

# Poll a condition (a shell command) every 20 ms for up to $2 seconds.
wait_for() {
	local cond=$1 timeout=${2:-20} i=0 n
	n=$((timeout * 50))
	while ! eval "$cond" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge $n ]; then
			echo "timed out after ${timeout}s waiting for: $cond" >&2
			dump_state >&2
			return 1
		fi
		sleep 0.02
	done
}

dump_state() {
	echo "--- runner status ---"
	"$RUNNER" status 2>&1 || true
	if [ -f "$T/serve.log" ]; then
		echo "--- daemon log ---"
		cat "$T/serve.log"
	fi
}

# make_repo NAME: a bare repository with the hook installed.
make_repo() {
	git init -q --bare "$T/$1.git"
	"$RUNNER" install-hook "$T/$1.git" >/dev/null
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# make_clone NAME: a clone of repository NAME holding the sample app, its
# staging and production ports replaced by free ones ($STAGING_PORT,
# $PROD_PORT) so that tests running at once do not meet.
make_clone() {
	local dir="$T/src-$1"
	cp -r "$FIXTURE" "$dir"
	: "${STAGING_PORT:=$(free_port)}"
	: "${PROD_PORT:=$(free_port)}"
	export STAGING_PORT PROD_PORT
	sed -i "s/127.0.0.1:6502/127.0.0.1:$STAGING_PORT/; s/127.0.0.1:6503/127.0.0.1:$PROD_PORT/" \
	    "$dir/.runner.yml"
	git -C "$dir" init -q -b develop
	git -C "$dir" remote add origin "$T/$1.git"
	git -C "$dir" add -A
	git -C "$dir" commit -q -m "Initial store back end"
	echo "$dir"
}

# set_pipeline DIR: replace DIR's .runner.yml with stdin and commit it.
set_pipeline() {
	cat > "$1/.runner.yml"
	git -C "$1" add .runner.yml
	git -C "$1" commit -q -m "${2:-Change the pipeline}"
}

start_daemon() {
	"$RUNNER" serve "$@" >>"$T/serve.log" 2>&1 &
	DAEMON_PID=$!
	wait_for "[ -S '$RUNNER_HOME/runner.sock' ] && grep -q 'serving' '$T/serve.log'" 10
}

stop_daemon() {
	if [ -n "${DAEMON_PID:-}" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait_for "! kill -0 $DAEMON_PID" 30 || kill -KILL "$DAEMON_PID"
	fi
	DAEMON_PID=
}

# job_field ID JQ-EXPR
job_field() {
	"$RUNNER" show --json "$1" | jq -r "$2"
}

job_state() {
	job_field "$1" .state
}

# wait_state ID STATE [TIMEOUT]
wait_state() {
	wait_for "[ \"\$(job_state $1)\" = '$2' ]" "${3:-30}"
}

# Fail unless no process with MARKER in its command line is alive.
assert_no_process() {
	if pgrep -f "$1" >/dev/null; then
		echo "processes still alive for '$1':" >&2
		pgrep -af "$1" >&2
		return 1
	fi
}

# A copy of sleep(1) whose path is unique to the test, so that pgrep can
# find exactly the processes this test started. Prints its path.
make_sleeper() {
	cp "$(command -v sleep)" "$T/marker-sleep"
	echo "$T/marker-sleep"
}
