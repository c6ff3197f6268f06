#!/usr/bin/env bats
# docs/operations.md's multi-user install, run as written: the blocks it
# marks for this test (<!-- t0728: NAME -->) are read from the docs and
# run line by line, with the test's users, folders and ports put in for
# the documented names. The daemon runs as its own user, as the unit runs
# it; pushes come over ssh (sshd), smart HTTP (nginx as documented,
# fcgiwrap, git http-backend) and gitolite3 with Debian's UMASK 0077. Each
# push's job passes, doctor and status are clean (no problem, no warning,
# run as root and as the runner's user), and a clone fetches the notes.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts sshd and nginx"
	sqlite_only "the documented install keeps its store in the home"
	for c in /usr/sbin/sshd /usr/sbin/nginx /usr/sbin/fcgiwrap; do
		[ -x "$c" ] || skip "$c is not installed (tests/deps.sh installs it)"
	done
	# 'runner' as the docs type it
	export PATH="$RUNNER_BIN_DIR:$PATH"
	# the daemon's user ('runner'): this test's own, since the gitolite
	# steps give it a group
	SVC=runner-test-msvc
	test_user "$SVC"
	S="$T/svc"
	mkdir -p "$S/user"
	chown -R "$SVC:" "$S"
	export RUNNER_HOME="$S/home"
	SRV="$T/srv"
	mkdir -p -m 0755 "$SRV"
	GL="$T/gl"
	GLU=runner-test-gl
	SSHU=runner-test-ssh
	WWW=runner-test-git
}
teardown() { teardown_env; }

# as_test LINE: a documented command line with the test's names.
as_test() {
	printf '%s\n' "$1" | sed -e 's/[[:space:]]\+#.*$//' \
	    -e "s#/var/lib/runner#$RUNNER_HOME#g" -e "s#/srv/git#$SRV#g" \
	    -e "s#~gitolite3#$GL#g" -e "s#/var/lib/gitolite3#$GL#g" \
	    -e "s#-u runner --#-u $SVC --#" -e "s#-u git --#-u $SSHU --#" \
	    -e "s#-u www-data --#-u $WWW --#" \
	    -e "s#-G gitolite3 runner\$#-G $GLU $SVC#"
}

# as_written NAME [DIR]: run the block NAME of the docs, line by line (in
# DIR). What this machine's test cannot do as written it does its way:
# packages are installed already, the users exist (made by the test with
# the documented properties), systemd's units are the test's processes.
as_written() {
	local line cmd i ran=0
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		cmd=$(as_test "$line")
		echo "# $cmd"
		case $cmd in
		'apt-get '* | 'useradd '*) ;;
		*runner-build*) ;;	# a root daemon's build user; this one is not root
		'systemctl enable --now runner' | 'systemctl restart runner')
			stop_daemon
			start_svc_daemon ;;
		'systemctl restart fcgiwrap') restart_fcgiwrap ;;
		'runner doctor '*)
			# held pushes are queued within seconds of a fix
			wait_for "$cmd" 30 || { $cmd; return 1; } ;;
		'usermod '*)
			# /etc/group may be locked by another test's useradd
			i=0
			until eval "$cmd" 2>/dev/null; do
				i=$((i + 1))
				[ $i -lt 100 ] || { eval "$cmd"; return 1; }
				nap 0.1
			done ;;
		*)
			(cd "${2:-.}" && eval "$cmd") ||
			    { echo "failed as written: $line" >&2; return 1; } ;;
		esac
		ran=$((ran + 1))
	done < <(doc_block "$1")
	[ $ran -gt 0 ] || { echo "no block '$1' in docs/operations.md" >&2; return 1; }
}

# push_twice DIR: two pushes of develop; the second's hook writes the
# first job's note (a daemon that is not root leaves it for the hook).
push_twice() {
	run git -C "$1" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60 || { tail -20 "$T/serve.log"; false; }
	echo two >> "$1/README.md"
	git -C "$1" commit -qam two
	run git -C "$1" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	wait_for "[ \"\$(last_job build)\" -ge 2 ]" 30
	wait_state "$(last_job build)" passed 60
}

# notes_as_written DIR: the docs' notes block in the clone DIR shows
# job 1's result.
notes_as_written() {
	run as_written notes "$1"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"build #1 passed"* ]] || { echo "$output"; false; }
}

# all_clean: doctor finds no problem and no warning, and status no
# warning, run as root and as the daemon's user
all_clean() {
	local as
	for as in "" svc; do
		run $as runner doctor --home "$RUNNER_HOME"
		[ "$status" -eq 0 ] && [[ "$output" == *"0 problems, 0 warnings"* ]] ||
		    { echo "doctor as ${as:-root}:"; echo "$output"; false; }
		run $as runner status --home "$RUNNER_HOME"
		[ "$status" -eq 0 ] && [[ "$output" != *"warning"* ]] ||
		    { echo "status as ${as:-root}:"; echo "$output"; false; }
	done
}

@test "as documented: ssh to the git account's repositories, a daemon of its own user" {
	server_user "$SSHU"
	chown "$SSHU:" "$SRV"
	as_written daemon
	as_written ssh
	start_sshd "$SSHU"
	src=$(make_clone store-erp)
	git -C "$src" remote set-url origin "$SSH_URL$SRV/store-erp.git"
	push_twice "$src"
	notes_as_written "$src"
	all_clean
}

@test "as documented: smart HTTP through nginx and fcgiwrap, restarted for the group" {
	git_user
	chown "$WWW:" "$SRV"
	# as on a fresh server: the web server's user is not in the group yet
	# (an earlier run of this test put it there)
	i=0
	while id -nG "$WWW" | grep -qw "$SVC" && [ $i -lt 100 ]; do
		gpasswd -d "$WWW" "$SVC" >/dev/null 2>&1 || nap 0.1
		i=$((i + 1))
	done
	as_written daemon
	# the web server runs before the runner's hook is installed
	start_git_http "$WWW" "$SRV"
	as_written http
	src=$(make_clone store-erp)
	git -C "$src" remote set-url origin "$HTTP_URL/store-erp.git"
	push_twice "$src"
	notes_as_written "$src"
	grep -q ' alice ' "$T/http/access.log"
	all_clean
}

@test "as documented: gitolite3 with Debian's UMASK 0077, held and then queued by the documented fix" {
	test_user "$GLU"
	start_gitolite "$GLU"
	gitolite_conf 'repo store-erp
    RW+ develop = admin' >/dev/null
	as_written daemon
	as_written gitolite
	src=$(make_clone store-erp)
	git -C "$src" remote set-url origin admin@gl:store-erp
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# the daemon cannot read the repository: held, with the fix
	wait_for "[ \"\$(r status --json | jq -r '.spool.held')\" = 1 ]" 30
	run runner doctor --home "$RUNNER_HOME"
	[ "$status" -eq 1 ] && [[ "$output" == *"held"* ]] || { echo "$output"; false; }
	as_written gitolite-fix
	wait_state 1 passed 60
	echo two >> "$src/README.md"
	git -C "$src" commit -qam two
	git -C "$src" push -q origin develop 2>/dev/null
	wait_for "[ \"\$(last_job build)\" -ge 2 ]" 30
	notes_as_written "$src"
	wait_state "$(last_job build)" passed 60
	all_clean
}
