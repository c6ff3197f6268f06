# Shared helpers of the end-to-end tests. Each test gets its own temporary
# directory holding the runner home, bare repositories, clones and the
# daemon's socket, so tests run in parallel. Waiting is always on a
# condition with a timeout, never a fixed sleep.

: "${RUNNER_BIN_DIR:?set by meson: the folder with runner and runner-hook}"
: "${SOURCE_ROOT:?set by meson: the source folder of the project}"

RUNNER="$RUNNER_BIN_DIR/runner"
FIXTURE="$SOURCE_ROOT/fixtures/sample-app"

# A TCP port on 127.0.0.1 that nothing listens on now.
# A TCP port on 127.0.0.1 nobody listens on, for this test alone: below
# the kernel's ephemeral range (no outgoing connection takes it
# meanwhile), and reserved against the tests running beside this one
# until teardown_env.
free_port() {
	local p low
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	[ "$low" -gt 21000 ] || low=61000
	mkdir -p -m 1777 /tmp/runner-test-ports
	while :; do
		p=$((20000 + RANDOM % (low - 20000)))
		mkdir /tmp/runner-test-ports/$p 2>/dev/null || continue
		echo "$p" >> "$T/.ports"
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

setup_env() {
	# Short paths: a unix socket path must fit in 108 bytes.
	T=$(mktemp -d /tmp/rt.XXXXXX)
	# As root, each test gets a tmpfs of its own: creating thousands of
	# files (checkouts, workspaces) is I/O the tests do not need to wait
	# for. The benchmark measures on the real disk.
	if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4g,mode=0711 tmpfs "$T" 2>/dev/null; then
		T_MOUNTED=1
	else
		T_MOUNTED=
	fi
	export RUNNER_HOME="$T/home"
	export HOME="$T/user"
	mkdir -p "$HOME"
	# files a confined stage may look at (it sees the system read-only,
	# not the test's folder): "$MARK-NAME"
	mkdir -p -m 0755 /var/tmp/runner-test-markers
	MARK="/var/tmp/runner-test-markers/${T##*/}"
	export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
	export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
	export GIT_CONFIG_NOSYSTEM=1
	git config --global init.defaultBranch develop
	git config --global advice.detachedHead false
	# workspaces and repositories of other users (the build user, the git
	# user) are looked at as root
	git config --global safe.directory "*"
	DAEMON_PID=
	STAGING_PORT=$(free_port)
	PROD_PORT=$(free_port)
	while [ "$PROD_PORT" = "$STAGING_PORT" ]; do PROD_PORT=$(free_port); done
	# the e2e-pg suite: the store is a schema of its own on the tests'
	# PostgreSQL server (tests/helpers/pg.sh), for every process of the
	# test, the hook inside git push too
	if [ "${RUNNER_TEST_STORE:-}" = pg ]; then
		RUNNER_STORE=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" schema "$RUNNER_TEST_PG")
		export RUNNER_STORE
	fi
	"$RUNNER" init >/dev/null
}

teardown_env() {
	local sanitizer=0
	# a setup that failed before it made the test's folder: nothing to
	# end, and an empty pattern below would match every process
	[ -n "${T:-}" ] || return 0
	stop_daemon
	stop_git_servers
	# anything a test started that is still around dies with the test
	pkill -KILL -f "$T" 2>/dev/null || true
	pkill -KILL -f "/var/tmp/runner-test-markers/${T##*/}-" 2>/dev/null || true
	rm -f "/var/tmp/runner-test-markers/${T##*/}-"*
	[ ! -f "$T/.ports" ] || (cd /tmp/runner-test-ports && xargs -r rmdir < "$T/.ports" 2>/dev/null) || true
	# a sanitizer report from the daemon fails the test that caused it
	if [ -f "$T/serve.log" ] &&
	    grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/serve.log"; then
		cat "$T/serve.log" >&2
		sanitizer=1
	fi
	if [ -n "${T_MOUNTED:-}" ]; then
		umount -R -l "$T" 2>/dev/null
		rmdir "$T"
	else
		rm -rf "$T"
	fi
	[ $sanitizer -eq 0 ]
}

# runner with the test's home
r() {
	"$RUNNER" "$@"
}

# Wait SECONDS without starting a process: a read that times out on a
# FIFO nobody writes to. Polls add up: sleep(1) and date(1) cost a fork
# and an exec each, CPU the code under test needs.
nap() {
	if [ -z "${NAP_FD:-}" ]; then
		local f="$T/.nap.$BASHPID"
		if ! { mkfifo "$f" && exec {NAP_FD}<>"$f"; }; then
			NAP_FD=
			sleep "$1"
			return 0
		fi
		rm -f "$f"
	fi
	read -r -t "$1" -u "$NAP_FD" _ || true
}

# look CMD...: run a command of the harness's own, which reads what the
# code under test did (a wait's condition, a job's state or field): under
# the sanitizers it skips the leak check at exit, about 50 ms of CPU for
# each runner it starts, or runs the unsanitized runner RUNNER_LOOK names
# (a sanitized runner costs about 75 ms of CPU just to start and end).
# The commands a test runs to try the CLI (`run r ...`), the daemon, its
# workers and the hook stay the build's own.
look() {
	# RUNNER_LOOK: a runner of the same source built without the
	# sanitizers (tests/check.sh names the plain build's), for these
	# reads only; r and the helpers below see it through this local
	local RUNNER=${RUNNER_LOOK:-$RUNNER}
	ASAN_OPTIONS="${ASAN_OPTIONS-}${ASAN_OPTIONS:+:}detect_leaks=0" "$@"
}

# Poll a condition (a shell command) for up to $2 seconds: every 20 ms at
# first, then less often (conditions that run the CLI cost CPU the daemon
# under test needs, most of all under the sanitizers).
wait_for() {
	local cond=$1 timeout=${2:-20} i=0 start now
	start=${EPOCHREALTIME/./}
	while ! look eval "$cond" >/dev/null 2>&1; do
		now=${EPOCHREALTIME/./}
		if [ $(((now - start) / 1000)) -ge $((timeout * 1000)) ]; then
			echo "timed out after ${timeout}s waiting for: $cond" >&2
			dump_state >&2
			return 1
		fi
		# each look may start a runner (under the sanitizers, or
		# opening a PostgreSQL connection, tens of ms of CPU), so a
		# long wait looks less often
		i=$((i + 1))
		if [ $i -lt 10 ]; then nap 0.02
		elif [ $i -lt 40 ]; then nap 0.05
		elif [ $i -lt 100 ]; then nap 0.1
		else nap 0.25
		fi
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

# env_dir KIND NAME ENV: HOME/KIND/FOLDER/ENV for repository NAME (kind
# state or backups), FOLDER being the repository's name and 16 hex digits
# of the sha256 of its real path.
env_dir() {
	local p
	p=$(realpath "$T/$2.git")
	printf '%s/%s/%s-%s/%s' "$RUNNER_HOME" "$1" "${2##*/}" \
	    "$(printf %s "$p" | sha256sum | cut -c1-16)" "$3"
}

# make_clone NAME: a clone of repository NAME holding the sample app, its
# staging and production ports replaced by free ones ($STAGING_PORT,
# $PROD_PORT) so that tests running at once do not meet.
make_clone() {
	local dir="$T/src-$1"
	cp -r "$FIXTURE" "$dir"
	sed -i "s/127.0.0.1:6502/127.0.0.1:$STAGING_PORT/; s/127.0.0.1:6503/127.0.0.1:$PROD_PORT/" \
	    "$dir/.runner.yml"
	git -C "$dir" init -q -b develop
	git -C "$dir" remote add origin "$T/$1.git"
	git -C "$dir" add -A
	git -C "$dir" commit -q -m "Initial store back end"
	echo "$dir"
}

# empty_source NAME: the bare repository NAME with the hook, and an empty
# clone of it in $SRC (branch develop) to commit pipelines into.
empty_source() {
	make_repo "$1"
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/$1.git"
}

# push_waiting_job DAEMON-ARGS: job 1, pushed from $SRC, whose one stage
# writes "start" to $T/runs, waits until $T/go exists (2 minutes at most)
# and writes "end"; the daemon started with DAEMON-ARGS, and the stage
# started.
push_waiting_job() {
	set_pipeline "$SRC" "Waits for a sign" <<YML
stages:
  - name: slow
    run: |
      echo start >> $T/runs
      i=0; while [ ! -e $T/go ] && [ \$i -lt 1200 ]; do sleep 0.1; i=\$((i+1)); done
      echo end >> $T/runs
YML
	start_daemon "$@"
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(grep -c start $T/runs 2>/dev/null)\" = 1 ]" 30
}

# set_pipeline DIR: replace DIR's .runner.yml with stdin and commit it.
set_pipeline() {
	cat > "$1/.runner.yml"
	git -C "$1" add .runner.yml
	git -C "$1" commit -q -m "${2:-Change the pipeline}"
}

start_daemon() {
	# fd 3 is bats' own: a background process holding it stalls bats
	"$RUNNER" serve "$@" >>"$T/serve.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for "[ -S '$RUNNER_HOME/runner.sock' ] && grep -q 'serving' '$T/serve.log'" 10
}

# Is PID still this test's daemon? A daemon that ended by itself leaves its
# pid free for another process, such as the daemon of a test running in
# parallel: signalling it would stop someone else's.
own_daemon() {
	[ -n "${1:-}" ] && tr '\0' '\n' 2>/dev/null < "/proc/$1/environ" |
	    grep -qxF "RUNNER_HOME=$RUNNER_HOME"
}

stop_daemon() {
	if own_daemon "${DAEMON_PID:-}"; then
		# children a test froze (freeze_when) could not finish
		pkill -CONT -P "$DAEMON_PID" 2>/dev/null || true
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait_for "! own_daemon $DAEMON_PID" 30 ||
		    { own_daemon "$DAEMON_PID" && kill -KILL "$DAEMON_PID"; }
	fi
	DAEMON_PID=
}

# job_field ID JQ-EXPR
job_field() {
	look r show --json "$1" | jq -r "$2"
}

# the state from the first line of 'runner show' ("job #ID  STATE"): a
# wait asks often, and jq takes 30-40 ms of CPU to start
job_state() {
	local out
	out=$(look r show "$1") || return 1
	out=${out%%$'\n'*}
	echo "${out##* }"
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
# find exactly the processes this test started. Prints its path. It lives
# outside $T: a confined stage sees the system, not the test's folder (the
# folder of the repository is hidden from it).
make_sleeper() {
	cp "$(command -v sleep)" "$MARK-sleep"
	echo "$MARK-sleep"
}

# host_stages: runner.yml trusts the repositories and does not confine
# them, so that stages and environment commands run as the daemon's user
# on the host. For tests about something else (crashes, load, timing)
# whose stages leave marks in the test's folder; call it after writing
# runner.yml.
host_stages() {
	printf 'trust_repositories: true\nisolate: false\n' >> "$RUNNER_HOME/runner.yml"
}

# deploy_state ID: state of a deployment, waiting until it has ended.
wait_deploy() {
	wait_for "case \"\$(job_state $1)\" in queued|running) false;; *) true;; esac" "${2:-60}"
	job_state "$1"
}

# The newest job of a kind (build or deploy) and environment, as an id.
last_job() {
	look r status --json --limit 1000 | jq -r --arg k "$1" --arg e "${2:-}" \
	    '[.jobs[] | select(.kind == $k and ($e == "" or .env == $e)) | .id] | max // empty'
}

# GET a URL on 127.0.0.1 and print the body as it arrives (bash only: no
# curl needed): bash reads the headers a byte at a time, so cat gets the
# body whole, and passes it on as it comes (a live log's events).
http_body() {
	local port=$1 path=$2 fd req line
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
	printf -v req 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path"
	printf '%s' "$req" >&$fd
	while IFS= read -r line <&$fd && [ -n "${line%$'\r'}" ]; do :; done
	cat <&$fd
	exec {fd}<&-
}

# web_status PATH [METHOD]: the status code of the test's web page
# (127.0.0.1:$WEB_PORT) for PATH; web_up: waits until it answers
web_status() {
	local fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$WEB_PORT" || return 1
	printf '%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "${2:-GET}" "$1" >&$fd
	head -n 1 <&$fd | cut -d' ' -f2
	exec {fd}<&-
}
web_up() { wait_for "[ \"\$(web_status /)\" = 200 ]" 15; }

# An SSH signing key $T/keys/NAME and, unless "untrusted", a line for it
# in $T/allowed_signers (namespace git, optional extra options).
make_ssh_signer() {
	local name=$1 opts=${2:-}
	mkdir -p "$T/keys"
	ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$T/keys/$name"
	if [ "$opts" != untrusted ]; then
		echo "$name@example.com namespaces=\"git\"${opts:+,$opts} $(cut -d' ' -f1,2 "$T/keys/$name.pub")" \
		    >> "$T/allowed_signers"
	fi
}

# ssh_tag DIR NAME KEY [MESSAGE]: an annotated tag signed with SSH key KEY.
ssh_tag() {
	git -C "$1" -c gpg.format=ssh -c user.signingkey="$T/keys/$3.pub" \
	    tag -s "$2" -m "${4:-Release $2}"
}

# An OpenPGP key in its own GNUPGHOME; its public key in $T/release-keys.gpg.
make_gpg_signer() {
	export GNUPGHOME="$T/gnupg"
	mkdir -p -m 700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key \
	    "Release Manager <release@example.com>" ed25519 sign 1y 2>/dev/null
	gpg --batch --export > "$T/release-keys.gpg"
}

# The runner.yml of a repository that trusts the test's keys (those the
# test made: serve refuses to start with a signers file it cannot read).
trust_config() {
	{
		echo "repos:"
		echo "  - path: $T/app.git"
		if [ -e "$T/allowed_signers" ]; then
			echo "    allowed_signers: $T/allowed_signers"
		fi
		if [ -e "$T/release-keys.gpg" ]; then
			echo "    gpg_keyring: $T/release-keys.gpg"
		fi
		echo "${1:-}"
	} > "$RUNNER_HOME/runner.yml"
}

# start_sink http|smtp NAME [ARGS]: a receiver of notifications (tests/
# helpers/sink.c) storing what arrives in $T/sink-NAME; sets SINK_PORT.
start_sink() {
	local kind=$1 name=$2
	shift 2
	mkdir -p "$T/sink-$name"
	rm -f "$T/sink-$name/port"
	"$RUNNER_SINK" "$kind" "$T/sink-$name" "$@" >>"$T/sink-$name.log" 2>&1 3>&- &
	wait_for "[ -s '$T/sink-$name/port' ]" 10
	SINK_PORT=$(cat "$T/sink-$name/port")
}

# stop_sink NAME: the receiver goes away (its port answers nothing).
stop_sink() {
	pkill -KILL -f "runner-sink [a-z]* $T/sink-$1( |\$)" || true
	wait_for "! pgrep -f 'runner-sink [a-z]* $T/sink-$1( |\$)'" 10
}

# How many requests (or mails) sink NAME has received.
sink_count() {
	ls "$T/sink-$1" | grep -cE '^[0-9]+\.(body|mail)$' || true
}

# The notifications of job ID as "target:event:state" lines.
notifications_of() {
	r show --json "$1" | jq -r '.notifications[] | "\(.target):\(.event):\(.state)"'
}

# How many rounds a crash test runs: 20; under the sanitizers 5 (the same
# paths, several times slower), so that .ci/run stays within its time.
crash_rounds() {
	if [ -n "${RUNNER_SANITIZED:-}" ]; then
		echo "# sanitized build: 5 rounds (20 in the plain build)" >&3
		echo 5
	else
		echo 20
	fi
}

# freeze_when COND TIMEOUT [DELAY]: once COND holds (and DELAY seconds
# more, to spread the kill point), SIGSTOP the daemon's children (the
# worker and the notifier), so that a kill_daemon that follows finds the
# job exactly there. The children are listed first, so stopping them is
# the only step between the condition and the freeze.
freeze_when() {
	local children start now
	children=$(pgrep -P "$DAEMON_PID" | tr '\n' ' ')
	# every 5 ms, without wait_for's slowing down: the moment to catch
	# may be short, and the conditions are looks at files
	start=${EPOCHREALTIME/./}
	until eval "$1" >/dev/null 2>&1; do
		now=${EPOCHREALTIME/./}
		if [ $(((now - start) / 1000)) -ge $(($2 * 1000)) ]; then
			echo "timed out after ${2}s waiting for: $1" >&2
			dump_state >&2
			return 1
		fi
		nap 0.005
	done
	[ -z "${3:-}" ] || sleep "$3"
	kill -STOP $children
}

# SIGKILL the daemon (its workers die with it) and wait until it is gone.
kill_daemon() {
	own_daemon "$DAEMON_PID"
	kill -KILL "$DAEMON_PID"
	wait_for "! own_daemon $DAEMON_PID" 10
	DAEMON_PID=
}

# Start the daemon again and wait until this start is serving.
restart_daemon() {
	local n
	n=$(grep -c 'serving' "$T/serve.log" 2>/dev/null || true)
	"$RUNNER" serve "$@" >>"$T/serve.log" 2>&1 3>&- &
	DAEMON_PID=$!
	wait_for "[ \$(grep -c 'serving' '$T/serve.log') -gt ${n:-0} ]" 15
}

# db SQL: the store through the sqlite3 program, waiting for a lock as the
# runner does; or through psql on PostgreSQL. Columns are separated by |.
db() {
	if [ -n "${RUNNER_STORE:-}" ]; then
		psql -X -q -At -v ON_ERROR_STOP=1 "$RUNNER_STORE" -c "$1"
	else
		sqlite3 -cmd '.timeout 10000' "$RUNNER_HOME/runner.db" "$@"
	fi
}

# told [JOB...]: every job's end is told: the notifier has routed every
# event and no notification waits, but those of the JOBs named (gc keeps a
# job whose end is not told yet, and the notifier writes in batches)
told() {
	local but=0 j
	for j in "$@"; do but="$but,$j"; done
	wait_for "[ \"\$(db \"SELECT (SELECT count(*) FROM events WHERE routed = 0 AND job_id NOT IN ($but)) + (SELECT count(*) FROM notifications WHERE state = 'pending' AND job_id NOT IN ($but))\")\" = 0 ]" 30
}

# The store reads whole: SQLite checks its file; PostgreSQL checks its
# own pages, and answers.
store_intact() {
	if [ -n "${RUNNER_STORE:-}" ]; then
		[ "$(db 'SELECT count(*) >= 0 FROM jobs')" = t ]
	else
		[ "$(db 'PRAGMA integrity_check')" = ok ]
	fi
}

# sqlite_only WHY: skip a test that is about SQLite's file, with the
# reason in the report, in the e2e-pg suite.
sqlite_only() {
	if [ -n "${RUNNER_STORE:-}" ]; then
		skip "SQLite's file: $*"
	fi
}

# The store is sound and every job is recorded once.
store_sound() {
	store_intact &&
	[ "$(db 'SELECT count(*) - count(DISTINCT dedup) FROM jobs WHERE dedup IS NOT NULL')" = 0 ]
}

# Every recorded artifact (of job $1, or all) exists whole: its sha256 is
# the recorded one.
artifacts_whole() {
	local path sha
	while IFS='|' read -r path sha; do
		[ "$(sha256sum "$path" | cut -d' ' -f1)" = "$sha" ] || return 1
	done < <(db "SELECT path, sha256 FROM artifacts ${1:+WHERE job_id = $1}")
}

# The set-up of the release-tag tests: signers trusted, the sample app
# pushed, built and healthy in staging.
release_setup() {
	setup_env
	make_ssh_signer release
	make_gpg_signer
	trust_config
	make_repo app
	SRC=$(make_clone app)
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
}

# push_tag TAG: push it and print the id of the release it queued.
push_tag() {
	local out
	out=$(git -C "$SRC" push origin "refs/tags/$1" 2>&1)
	echo "$out" | sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p'
}

# test_user NAME: a unix user of the tests (root only). One name for every
# test: useradd takes a lock on /etc/passwd, so tests starting at once try
# again until the user exists.
test_user() {
	local i=0
	while ! id "$1" >/dev/null 2>&1 && [ $i -lt 100 ]; do
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$1" 2>/dev/null || sleep 0.1
		i=$((i + 1))
	done
	id "$1" >/dev/null
}

# git_user: a unix user standing for the git server's (git, gitolite3,
# www-data), who owns bare repositories and runs their hooks; root only.
git_user() {
	GIT_USER=runner-test-git
	test_user "$GIT_USER"
	mkdir -p "$T/githome"
	chown "$GIT_USER:" "$T/githome"
}

# as_user USER HOME CMD...: run CMD as USER, with its groups as a new
# login session of that user gets them.
as_user() {
	local user=$1 home=$2
	shift 2
	# another user knows nothing of the store but what runner.yml
	# (mode 0600) would tell it
	setpriv --reuid="$user" --regid="$user" --init-groups \
	    env -u RUNNER_STORE HOME="$home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=Tester \
	    GIT_AUTHOR_EMAIL=tester@example.com GIT_COMMITTER_NAME=Tester \
	    GIT_COMMITTER_EMAIL=tester@example.com "$@"
}

# as_git CMD...: run CMD as the git user.
as_git() {
	as_user "$GIT_USER" "$T/githome" "$@"
}

# For a file's setup_file and teardown_file: a PostgreSQL server of the
# file's own (tests/helpers/pg.sh), its folder in $PGDIR, its URL in
# $PGURL; each test takes a schema of it.
pg_server_start() {
	PGDIR=$(mktemp -d /tmp/rt.pg.XXXXXX)
	PGURL=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" start "$PGDIR")
	export PGDIR PGURL
}
pg_server_stop() {
	bash "$SOURCE_ROOT/tests/helpers/pg.sh" stop "$PGDIR"
	rm -rf "$PGDIR"
}
# pg_setup_env: setup_env for a file that names its PostgreSQL store in
# runner.yml, as an operator does: no RUNNER_STORE, no runner.db, and a
# schema of its own on the file's server in STORE_URL
pg_setup_env() {
	setup_env
	unset RUNNER_STORE
	rm -f "$RUNNER_HOME"/runner.db*
	STORE_URL=$(bash "$SOURCE_ROOT/tests/helpers/pg.sh" schema "$PGURL")
}

# svc_home [USER]: the daemon as a user of its own (USER, by default
# runner-test-svc; $SVC), with
# its folder $S ($S/user its HOME) and a home it made ($RUNNER_HOME); svc
# runs a command as that user. Root only.
svc_home() {
	SVC=${1:-runner-test-svc}
	test_user "$SVC"
	S="$T/svc"
	mkdir -p "$S/user"
	chown -R "$SVC:" "$S"
	export RUNNER_HOME="$S/home"
	svc "$RUNNER" init >/dev/null
}
svc() {
	as_user "$SVC" "$S/user" RUNNER_HOME="$RUNNER_HOME" \
	    ${RUNNER_STORE:+RUNNER_STORE="$RUNNER_STORE"} "$@"
}

# start_svc_daemon [ARGS...]: the daemon as the service user $SVC, as the
# unit starts it (one worker unless ARGS say otherwise); $DAEMON_PID is
# this test's daemon (another test's may run as the same user).
start_svc_daemon() {
	local n p
	n=$(grep -c 'serving' "$T/serve.log" 2>/dev/null || true)
	DAEMON_PID=
	svc "$RUNNER" serve --workers 1 "$@" >>"$T/serve.log" 2>&1 3>&- &
	wait_for "[ \$(grep -c 'serving' '$T/serve.log') -gt ${n:-0} ]" 15
	for p in $(pgrep -u "$SVC" -f "runner serve"); do
		own_daemon "$p" && DAEMON_PID=$p
	done
	[ -n "$DAEMON_PID" ]
}

# server_user NAME: a unix user standing for a git server's account that
# sshd logs in (git over ssh): a shell, and a home sshd can enter (root's,
# read-only to it). Root only.
server_user() {
	local i=0 home=/var/lib/runner-test-users/$1
	mkdir -p -m 0755 "$home"
	while ! id "$1" >/dev/null 2>&1 && [ $i -lt 100 ]; do
		useradd --system --user-group --no-create-home --home-dir "$home" \
		    --shell /bin/sh "$1" 2>/dev/null || sleep 0.1
		i=$((i + 1))
	done
	id "$1" >/dev/null
}

# start_sshd USER: an sshd of the test's own on 127.0.0.1:$SSHD_PORT that
# lets USER (made by server_user) in with keys the test makes, and tells a
# session how it was let in (ExposeAuthInfo: $SSH_USER_AUTH), as a git
# server's sshd does. The key $SSH_KEY is authorized; ssh_key makes more.
# git reaches it as $SSH_URL/PATH (an absolute path), with the command in
# $GIT_SSH_COMMAND, exported. Root only.
start_sshd() {
	local user=$1 d="$T/sshd"
	server_user "$user"
	mkdir -p -m 0755 /run/sshd "$d"
	ssh-keygen -q -t ed25519 -N '' -C host -f "$d/host_key"
	: > "$d/authorized_keys"
	chmod 0644 "$d/authorized_keys"
	SSHD_PORT=$(free_port)
	cat > "$d/sshd_config" <<CONF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
AllowUsers $user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
StrictModes no
ExposeAuthInfo yes
AcceptEnv GIT_PROTOCOL
LogLevel VERBOSE
CONF
	/usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" 3>&- ||
	    { cat "$d/sshd.log" >&2; return 1; }
	wait_for "[ -s '$d/sshd.pid' ] && (exec 3<>/dev/tcp/127.0.0.1/$SSHD_PORT) 2>/dev/null" 10 ||
	    { cat "$d/sshd.log" >&2; return 1; }
	SSH_KEY=$(ssh_key pusher)
	SSH_URL="ssh://$user@127.0.0.1:$SSHD_PORT"
	GIT_SSH_COMMAND=$(ssh_command "$SSH_KEY")
	export GIT_SSH_COMMAND
}

# ssh_key NAME: a new key authorized by the test's sshd; prints its path.
ssh_key() {
	local k="$T/sshd/key-$1"
	ssh-keygen -q -t ed25519 -N '' -C "$1@test" -f "$k"
	cat "$k.pub" >> "$T/sshd/authorized_keys"
	echo "$k"
}

# ssh_command KEY: the ssh command line that reaches the test's sshd with
# KEY, for GIT_SSH_COMMAND.
ssh_command() {
	echo "ssh -i $1 -o IdentitiesOnly=yes -o BatchMode=yes" \
	    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" \
	    "-o LogLevel=ERROR"
}

# doc_block NAME [TEST]: the lines of the code block that
# docs/operations.md marks "<!-- TEST: NAME -->" (TEST: t0728), as
# written there.
doc_block() {
	awk -v m="<!-- ${2:-t0728}: $1 -->" '
	    $0 == m { f = 1; next }
	    f == 1 && /^```/ { f = 2; next }
	    f == 2 && /^```/ { exit }
	    f == 2 { print }' "$SOURCE_ROOT/docs/operations.md"
}

# start_git_http USER ROOT: smart HTTP as docs/operations.md sets it up:
# nginx on 127.0.0.1:$HTTP_PORT with the documented location of git
# http-backend (basic authentication, REMOTE_USER, the response not
# buffered, so that what the hook prints reaches the pusher as it is
# printed), fcgiwrap and git http-backend as USER, the repositories under
# ROOT at $HTTP_URL/PATH (PATH relative to ROOT), pushing as 'alice'
# (password 'secret'). http_user adds users. Root only.
start_git_http() {
	local user=$1 root=$2 d="$T/http"
	mkdir -p -m 0755 "$d" "$d/tmp"
	chown "$user:" "$d/tmp"
	: > "$d/htpasswd"
	http_user alice secret
	HTTP_PORT=$(free_port)
	HTTP_USER=$user
	doc_block nginx | sed -e "s#/etc/nginx/git.htpasswd#$d/htpasswd#" \
	    -e "s#include fastcgi_params#include /etc/nginx/fastcgi_params#" \
	    -e "s#/srv/git#$root#" -e "s#/run/fcgiwrap.socket#$d/tmp/fcgi.sock#" \
	    > "$d/location.conf"
	grep -q fastcgi_pass "$d/location.conf" ||
	    { echo "no nginx block in docs/operations.md" >&2; return 1; }
	printf 'server {\n\tlisten 127.0.0.1:%s;\n\tclient_max_body_size 0;\n\tinclude %s;\n}\n' \
	    "$HTTP_PORT" "$d/location.conf" > "$d/server.conf"
	start_fcgiwrap || return 1
	run_nginx "$d" "$user" "$HTTP_PORT" || return 1
	HTTP_URL="http://alice:secret@127.0.0.1:$HTTP_PORT/git"
}

# start_fcgiwrap: fcgiwrap as the web server's user ($HTTP_USER), as its
# socket unit starts it: with that user's groups as they are now. Again
# after a restart_fcgiwrap.
start_fcgiwrap() {
	local d="$T/http"
	rm -f "$d/tmp/fcgi.sock"
	setpriv --reuid="$HTTP_USER" --regid="$HTTP_USER" --init-groups env -i \
	    /usr/sbin/fcgiwrap -c 2 -s "unix:$d/tmp/fcgi.sock" \
	    </dev/null >>"$d/fcgiwrap.log" 2>&1 3>&- &
	HTTP_FCGI_PID=$!
	wait_for "[ -S '$d/tmp/fcgi.sock' ]" 10 || { cat "$d/fcgiwrap.log" >&2; return 1; }
}
restart_fcgiwrap() {
	kill "$HTTP_FCGI_PID" 2>/dev/null || true
	wait "$HTTP_FCGI_PID" 2>/dev/null || true
	start_fcgiwrap
}

# http_user NAME PASSWORD: one more user the test's web server lets in.
http_user() {
	printf '%s:%s\n' "$1" "$(openssl passwd -apr1 "$2")" >> "$T/http/htpasswd"
}

# run_nginx DIR USER PORT [CONNECTIONS]: nginx as USER serving
# DIR/server.conf (server blocks) on 127.0.0.1:PORT, its logs and
# temporary files in DIR; ended by stop_git_servers
run_nginx() {
	local d=$1 user=$2 port=$3
	mkdir -p "$d/tmp"
	chown "$user:" "$d/tmp"
	cat > "$d/nginx.conf" <<CONF
user $user;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections ${4:-64}; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/tmp/body;
	fastcgi_temp_path $d/tmp/fastcgi;
	proxy_temp_path $d/tmp/proxy;
	uwsgi_temp_path $d/tmp/uwsgi;
	scgi_temp_path $d/tmp/scgi;
	include $d/server.conf;
}
CONF
	/usr/sbin/nginx -c "$d/nginx.conf" -e "$d/error.log" 3>&- ||
	    { cat "$d/error.log" >&2; return 1; }
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null" 10 ||
	    { cat "$d/error.log" >&2; return 1; }
}

# web_proxy DIR USER PORT WEB_PORT [CONNECTIONS]: the documented nginx in
# front of the web page ("<!-- t0905: nginx -->") as USER on
# 127.0.0.1:PORT, proxying to the page on WEB_PORT, its users those of
# DIR/htpasswd, Prometheus' address made this machine's
web_proxy() {
	local d=$1
	doc_block nginx t0905 |
	    sed -e "s#listen 443 ssl;#listen 127.0.0.1:$3;#" \
	    -e '/ssl_certificate/d' -e '/server_name/d' \
	    -e "s#allow 10.0.0.5;#allow 127.0.0.1;#" \
	    -e "s#/etc/nginx/runner.htpasswd#$d/htpasswd#" \
	    -e "s#127.0.0.1:8080#127.0.0.1:$4#" > "$d/server.conf"
	grep -q 'proxy_set_header X-Remote-User $remote_user' "$d/server.conf" ||
	    { echo "no nginx block with X-Remote-User in docs/operations.md" >&2; return 1; }
	run_nginx "$d" "$2" "$3" "${5:-64}"
}

# stop_git_servers: end the test's sshd, nginx servers and fcgiwrap
# (teardown). nginx's master is waited for: killed with the test's
# processes instead, it would leave its worker behind.
stop_git_servers() {
	local f p
	for f in "$T/sshd/sshd.pid" "$T"/*/nginx.pid; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for f in "$T"/*/nginx.pid; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		wait_for "! kill -0 $p 2>/dev/null" 10 || true
	done
	[ -n "${HTTP_FCGI_PID:-}" ] && kill "$HTTP_FCGI_PID" 2>/dev/null
	return 0
}

# start_gitolite USER [UMASK]: Debian's gitolite3 as USER in $GL ($T/gl,
# or the folder $GL names already: one outside /tmp, which a stage sees),
# as its package sets it up (UMASK 0077, or UMASK), with its admin clone
# in $T/admin; git reaches it as admin@gl:REPO through gitolite-shell run
# as USER, as sshd runs it for admin's key ($GIT_SSH_COMMAND). Root only.
start_gitolite() {
	local user=$1
	command -v gitolite >/dev/null || skip "gitolite3 is not installed (tests/deps.sh installs it)"
	GL="${GL:-$T/gl}"
	mkdir "$GL"
	chown "$user:" "$GL"
	setpriv --reuid="$user" --regid="$user" --init-groups \
	    env -u RUNNER_STORE HOME="$GL" gitolite setup -a admin >/dev/null 2>&1
	grep -q 'UMASK *=> *0077' "$GL/.gitolite.rc"
	[ -z "${2:-}" ] || sed -i "s/UMASK *=> *0077/UMASK => $2/" "$GL/.gitolite.rc"
	cat > "$T/fake-ssh" <<SH
#!/bin/sh
user=\${1%@*}
shift
exec setpriv --reuid=$user --regid=$user --init-groups \
    env -u RUNNER_STORE HOME="$GL" SSH_CONNECTION="127.0.0.1 40000 127.0.0.1 22" \
    SSH_ORIGINAL_COMMAND="\$*" /usr/share/gitolite3/gitolite-shell "\$user"
SH
	chmod +x "$T/fake-ssh"
	export GIT_SSH_COMMAND="$T/fake-ssh" GIT_SSH_VARIANT=simple
	git clone -q admin@gl:gitolite-admin "$T/admin"
}

# gitolite_conf TEXT: append to gitolite.conf and push it (gitolite
# creates the repositories it names and rewrites their hooks).
gitolite_conf() {
	printf '%s\n' "$1" >> "$T/admin/conf/gitolite.conf"
	git -C "$T/admin" commit -q -am "conf"
	git -C "$T/admin" push -q origin HEAD 2>&1
}
