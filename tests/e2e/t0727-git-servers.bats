#!/usr/bin/env bats
# The git servers a team runs, started by the test: pushes over ssh (sshd,
# the server's account owning the repositories) and over smart HTTP (nginx,
# fcgiwrap and git http-backend as the web server's user) run the hook as
# those users, which hand the updates to the daemon through the spool; the
# jobs run and pass, and nothing is left in the spool. The daemon is root:
# a clone fetches each job's git note, which it had written as the
# repository's owner, and doctor finds nothing wrong.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts sshd and nginx"
	for c in /usr/sbin/sshd /usr/sbin/nginx /usr/sbin/fcgiwrap; do
		[ -x "$c" ] || skip "$c is not installed (tests/deps.sh installs it)"
	done
}
teardown() { teardown_env; }

# server_repo USER NAME: a bare repository NAME.git under $T/srv owned by
# USER with the runner's hook, and a clone of the sample app ($SRC).
server_repo() {
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/$2.git"
	chown -R "$1:" "$T/srv/$2.git"
	run "$RUNNER" install-hook "$T/srv/$2.git"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	SRC=$(make_clone "$2")
}

# spooled: the pushes waiting in the spool
spooled() {
	find "$RUNNER_HOME/spool" -maxdepth 1 -type f ! -name '.*'
}

# clone_notes URL: a fresh clone of URL, its notes fetched as the docs
# say; prints git log --notes=runner.
clone_notes() {
	rm -rf "$T/clone"
	git clone -q "$1" "$T/clone"
	git -C "$T/clone" fetch -q origin refs/notes/runner:refs/notes/runner
	git -C "$T/clone" log --notes=runner
}

# notes_and_doctor URL OWNER: job 1's note in a clone of URL, written as
# OWNER; doctor as root clean
notes_and_doctor() {
	wait_for "clone_notes '$1' | grep -q '^    runner: build #1 passed on develop in '" 30 ||
	    { clone_notes "$1"; false; }
	[ -z "$(find "$T/srv/app.git" -not -user "$2")" ] ||
	    { find "$T/srv/app.git" -not -user "$2" -ls; false; }
	run r doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"ok    notes $T/srv/app.git: the daemon has them written as the repository's owner '$2'"* ]] ||
	    { echo "$output"; false; }
	[[ "$output" == *"0 problems, 0 warnings"* ]] || { echo "$output"; false; }
}

@test "a push over ssh runs the hook as the server's account and its job passes" {
	start_sshd runner-test-ssh
	server_repo runner-test-ssh app
	git -C "$SRC" remote set-url origin "$SSH_URL$T/srv/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/sshd/sshd.log"; false; }
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	[ "$(job_field 1 .repo)" = "$T/srv/app.git" ]
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
	[ -z "$(spooled)" ]
	# the session was the server account's, let in by the test's key
	grep -q "Accepted publickey for runner-test-ssh" "$T/sshd/sshd.log"
	notes_and_doctor "$SSH_URL$T/srv/app.git" runner-test-ssh
}

@test "a push over smart HTTP runs the hook as the web server's user and its job passes" {
	git_user
	server_repo "$GIT_USER" app
	start_git_http "$GIT_USER" "$T/srv"
	git -C "$SRC" remote set-url origin "$HTTP_URL/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/http/error.log"; false; }
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	[ "$(job_field 1 .repo)" = "$T/srv/app.git" ]
	[ -z "$(spooled)" ]
	# nginx let alice in: the push was authenticated
	grep -q '"POST /git/app.git/git-receive-pack HTTP/1.1" 200' "$T/http/access.log" || { cat "$T/http/access.log"; false; }
	grep -q ' alice ' "$T/http/access.log"
	notes_and_doctor "$HTTP_URL/app.git" "$GIT_USER"
}
