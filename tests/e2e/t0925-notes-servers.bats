#!/usr/bin/env bats
# Git notes in a multi-user install: the repositories are the git server's
# account's, pushed to over ssh. A root daemon has each note written at
# once by a helper that becomes the repository's owner (not as root, and
# reading no configuration of root's HOME); a daemon running as its own
# user, which may not write the repository, leaves the notes for the hook,
# which writes them at the next push. Either way a clone fetches
# refs/notes/runner and git log --notes=runner shows the results; the log
# says once, not per job, who writes them, and doctor says it too. A
# repository's owner cannot hold the notifier with what it plants in the
# repository, nor a pusher make the writer read a note pushed huge.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts sshd"
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed (tests/deps.sh installs it)"
	SSH_USER=runner-test-ssh
}
teardown() { teardown_env; }

# ssh_repo: $T/srv/app.git of the server's account, the hook installed by
# root, a clone of a two-stage app pushing to it over ssh ($SRC).
ssh_repo() {
	start_sshd "$SSH_USER"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$SSH_USER:" "$T/srv/app.git"
	run "$RUNNER" install-hook "$T/srv/app.git"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$SSH_URL$T/srv/app.git"
	set_pipeline "$SRC" "first" <<'YML'
stages:
  - name: unit
    run: echo unit
  - name: lint
    run: echo lint
YML
}

# clone_notes: a fresh clone, its notes fetched over ssh; prints git log
# --notes=runner.
clone_notes() {
	rm -rf "$T/clone"
	git clone -q "$SSH_URL$T/srv/app.git" "$T/clone"
	git -C "$T/clone" fetch -q origin refs/notes/runner:refs/notes/runner
	git -C "$T/clone" log --notes=runner develop
}

@test "a root daemon has the note written at once, as the repository's owner" {
	ssh_repo
	# as systemd starts it: root's HOME, which the owner may not enter
	HOME=/root start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	c1=$(git -C "$SRC" rev-parse HEAD)
	wait_state 1 passed 60
	wait_for "clone_notes | grep -q 'runner: build #1 passed on develop'" 30
	clone_notes | grep -q "^    runner: build #1 passed on develop in "
	clone_notes | grep -q "^      unit  *passed "
	# written as the owner: no file of the repository is root's
	[ -z "$(find "$T/srv/app.git" -not -user "$SSH_USER")" ] ||
	    { find "$T/srv/app.git" -not -user "$SSH_USER" -ls; false; }
	[ "$(git --git-dir="$T/srv/app.git" log -1 --format=%an refs/notes/runner)" = runner ]
	# nothing waits in the home, nothing was said about notes
	[ -z "$(find "$RUNNER_HOME/notes" -type f)" ]
	! grep -i "note" "$T/serve.log" || false
	run r doctor
	[[ "$output" == *"ok    notes $T/srv/app.git: the daemon has them written as the repository's owner '$SSH_USER'"* ]] ||
	    { echo "$output"; false; }
}

@test "a daemon as its own user leaves the notes for the hook, which writes them at the next push" {
	svc_home
	ssh_repo
	start_svc_daemon
	git -C "$SRC" push -q origin develop
	c1=$(git -C "$SRC" rev-parse HEAD)
	wait_state 1 passed 60
	# the note waits for the hook, the runner's user's alone: the hook
	# asks the daemon for it
	wait_for "[ -n \"\$(find '$RUNNER_HOME/notes' -type f -name $c1)\" ]" 30
	f=$(find "$RUNNER_HOME/notes" -type f -name "$c1")
	[ "$(stat -c '%a %U' "$f")" = "600 $SVC" ]
	[ "$(stat -c '%a' "$RUNNER_HOME/notes") $(stat -c '%a' "${f%/*}")" = "700 700" ]
	grep -q "^runner: build #1 passed on develop" "$f"
	run r doctor
	[[ "$output" == *"ok    notes $T/srv/app.git: its hook writes them at each push, as '$SSH_USER' (the daemon's user '$SVC' may not write the repository); 1 waits for the next push"* ]] ||
	    { echo "$output"; false; }
	# the next push writes it, as the repository's owner
	git -C "$SRC" commit -q --allow-empty -m second
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" != *"warning"* ]] || { echo "$output"; false; }
	clone_notes | grep -q "runner: build #1 passed on develop"
	[ -z "$(find "$T/srv/app.git" -not -user "$SSH_USER")" ] ||
	    { find "$T/srv/app.git" -not -user "$SSH_USER" -ls; false; }
	# once job 2 has ended, the daemon sees note 1 in place and drops it;
	# note 2 waits for the push after
	wait_state 2 passed 60
	c2=$(git -C "$SRC" rev-parse HEAD)
	wait_for "[ -z \"\$(find '$RUNNER_HOME/notes' -type f -name $c1)\" ]" 30
	wait_for "[ -n \"\$(find '$RUNNER_HOME/notes' -type f -name $c2)\" ]" 30
	git -C "$SRC" commit -q --allow-empty -m third
	git -C "$SRC" push -q origin develop
	clone_notes | grep -q "runner: build #2 passed on develop"
	# said once on the log, not per job; no warning, no error
	wait_state 3 passed 60
	[ "$(grep -c "git notes of '$T/srv/app.git' are left for its hook" "$T/serve.log")" = 1 ] ||
	    { cat "$T/serve.log"; false; }
	! grep -E "warning|error" "$T/serve.log" || false
	run r doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run svc "$RUNNER" doctor
	[ "$status" -eq 0 ] || { echo "$output"; false; }

	# a notes folder the runner's user may not open: doctor says why with
	# a fix that works, status warns, the push's output says it too
	chmod 0 "$RUNNER_HOME/notes"
	git -C "$SRC" commit -q --allow-empty -m fourth
	run git -C "$SRC" push origin develop
	[[ "$output" == *"runner: warning: git notes: cannot open '$RUNNER_HOME/notes/"*"Permission denied"* ]] ||
	    { echo "$output"; false; }
	wait_state 4 passed 60
	wait_for "r doctor | grep -q '^FAIL  notes $T/srv/app.git: '" 30
	run r doctor
	[[ "$output" == *"FAIL  notes $T/srv/app.git: cannot open '$RUNNER_HOME/notes': Permission denied"* ]] ||
	    { echo "$output"; false; }
	r status | grep -q "warning: git notes of '$T/srv/app.git' are not written: cannot open"
	fix=$(r doctor --json | jq -r '.checks[] | select(.status == "problem") | .fix')
	[ "$fix" = "chmod 700 '$RUNNER_HOME/notes' && find '$RUNNER_HOME/notes' -mindepth 1 -maxdepth 1 -type d -exec chmod 700 {} +" ]
	PATH="$RUNNER_BIN_DIR:$PATH" sh -c "$fix" >/dev/null
	git -C "$SRC" commit -q --allow-empty -m fifth
	git -C "$SRC" push -q origin develop
	wait_state 5 passed 60
	wait_for "r doctor" 30
	# what waited while the folder was closed is written by the next push
	clone_notes | grep -q "runner: build #3 passed on develop"
	[ "$(grep -c "git notes of '$T/srv/app.git' are left for its hook" "$T/serve.log")" = 1 ]
	[ "$(grep -c "error: git notes of '$T/srv/app.git'" "$T/serve.log")" = 1 ]
}

@test "a repository's owner cannot hold the notifier with a FIFO where its notes are read" {
	svc_home
	MAL=runner-test-mal
	test_user "$MAL"
	mkdir -p -m 0755 "$T/m" "$T/mhome"
	chown "$MAL:" "$T/m" "$T/mhome"
	mal() { as_user "$MAL" "$T/mhome" "$@"; }
	start_sink http hook
	cat > "$RUNNER_HOME/runner.yml" <<YML
notify:
  - name: hook
    webhook: http://127.0.0.1:$SINK_PORT/x
    on: [job_passed]
YML
	# a local user's repository with the hook, pushed to by path; the
	# build waits for a sign
	mal git init -q --bare "$T/m/app.git"
	"$RUNNER" install-hook "$T/m/app.git" >/dev/null
	mal git init -q -b develop "$T/m/src"
	cat > "$T/m/src/.runner.yml" <<YML
stages:
  - name: unit
    run: |
      i=0; while [ ! -e $MARK-go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
YML
	chown "$MAL:" "$T/m/src/.runner.yml"
	mal git -C "$T/m/src" add -A
	mal git -C "$T/m/src" commit -q -m one
	start_svc_daemon
	mal git -C "$T/m/src" push -q "$T/m/app.git" develop
	wait_state 1 running 60
	# while it runs, the owner plants a FIFO where the notes are read:
	# the notifier reads them in no process of its own, and the look it
	# has made is bounded
	mal mkdir -p "$T/m/app.git/refs/notes"
	mal mkfifo "$T/m/app.git/refs/notes/runner"
	touch "$MARK-go"
	wait_state 1 passed 60
	wait_for "[ \$(sink_count hook) -ge 1 ]" 40 || { cat "$T/serve.log"; false; }
	# the notifier goes on: the next job's notification too
	mal rm "$T/m/app.git/refs/notes/runner"
	mal git -C "$T/m/src" commit -q --allow-empty -m two
	mal git -C "$T/m/src" push -q "$T/m/app.git" develop
	wait_state 2 passed 60
	wait_for "[ \$(sink_count hook) -ge 2 ]" 40 || { cat "$T/serve.log"; false; }
}

@test "jobs that end together: a note per commit, one writer for all of an owner's repositories, no CA bundle read" {
	command -v strace >/dev/null || skip "needs strace (tests/deps.sh installs it)"
	git_user
	for name in one two; do
		git init -q --bare "$T/$name.git"
		chown -R "$GIT_USER:" "$T/$name.git"
		"$RUNNER" install-hook "$T/$name.git" >/dev/null
	done
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/one.git
    branches: '.*'
YML
	SRC="$T/src"
	git init -q -b develop "$SRC"
	set_pipeline "$SRC" "one" <<'YML'
stages:
  - name: unit
    run: "true"
YML
	chown -R "$GIT_USER:" "$SRC"
	start_daemon --workers 2
	wait_for "pgrep -P $DAEMON_PID -f ' notifier ' >/dev/null" 10
	notifier=$(pgrep -P "$DAEMON_PID" -f ' notifier ')
	# the notifier stopped: the events of the jobs wait for it
	kill -STOP "$notifier"
	as_git git -C "$SRC" push -q "$T/one.git" develop develop:a develop:b
	as_git git -C "$SRC" push -q "$T/two.git" develop
	wait_for "[ \$(db \"SELECT count(*) FROM jobs WHERE state = 'passed'\") -eq 4 ]" 60 ||
	    { r status; false; }
	timeout 60 strace -qq -f -e trace=execve,openat -o "$T/notifier.trace" -p "$notifier" &
	tracer=$!
	wait_for "[ \"\$(awk '/^TracerPid/ { print \$2 }' /proc/$notifier/status)\" != 0 ]" 10
	kill -CONT "$notifier"
	c=$(git -C "$SRC" rev-parse develop)
	note() { as_git git --git-dir="$T/$1.git" notes --ref=runner show "$c"; }
	wait_for "note two | grep -q 'passed on develop'" 30
	wait_for "[ \$(note one | grep -c '^runner: build #[0-9]* passed') -eq 3 ]" 30 ||
	    { note one; false; }
	kill "$tracer"; wait "$tracer" || true
	# the three jobs of the commit are one note, written once; one
	# writer, as the repositories' owner, wrote both repositories
	[ "$(git --git-dir="$T/one.git" rev-list --count refs/notes/runner)" = 1 ] ||
	    { git --git-dir="$T/one.git" log refs/notes/runner; false; }
	[ "$(grep -c 'execve(.*notes-write' "$T/notifier.trace")" = 1 ] ||
	    { grep execve "$T/notifier.trace"; false; }
	# which read no CA certificates: libgit2 makes no TLS connection
	# here, and the bundle took more CPU than the notes
	! grep -E '/etc/ssl|ca-certificates' "$T/notifier.trace" || false
	[ -z "$(find "$T/one.git" "$T/two.git" -not -user "$GIT_USER")" ] ||
	    { find "$T/one.git" "$T/two.git" -not -user "$GIT_USER" -ls; false; }
}

@test "a note a pusher made huge is never read whole: the hook's writer replaces it within a few MB" {
	svc_home
	MAL=runner-test-mal
	test_user "$MAL"
	mkdir -p -m 0755 "$T/m" "$T/mhome"
	chown "$MAL:" "$T/m" "$T/mhome"
	mal() { as_user "$MAL" "$T/mhome" "$@"; }
	mal git init -q --bare "$T/m/app.git"
	"$RUNNER" install-hook "$T/m/app.git" >/dev/null
	mal git init -q -b develop "$T/m/src"
	printf 'stages:\n  - name: unit\n    run: echo unit\n' > "$T/m/src/.runner.yml"
	chown "$MAL:" "$T/m/src/.runner.yml"
	mal git -C "$T/m/src" add -A
	mal git -C "$T/m/src" commit -q -m one
	c1=$(git -C "$T/m/src" rev-parse HEAD)
	start_svc_daemon
	mal git -C "$T/m/src" push -q "$T/m/app.git" develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(find '$RUNNER_HOME/notes' -type f -name $c1)\" ]" 30
	# whoever may push may push refs/notes/runner: a note of 256 MB of
	# zeros, 250 KB once compressed, for the commit whose note waits (made
	# in place, as the push would leave it)
	blob=$(head -c 268435456 /dev/zero | mal git --git-dir="$T/m/app.git" hash-object -w --stdin)
	mal git --git-dir="$T/m/app.git" notes --ref=runner add -f -C "$blob" "$c1"
	# the next push, its hook and the writer it starts bounded to 200 MB
	# of address space: the huge note is not read, it is replaced
	mal git -C "$T/m/src" commit -q --allow-empty -m two
	# (not under AddressSanitizer, which reserves terabytes of address
	# space for its shadow memory: the note is still replaced there)
	push_bounded() {
		ldd "$RUNNER" | grep -q libasan || ulimit -v 200000
		mal git -C "$T/m/src" push "$T/m/app.git" develop
	}
	run push_bounded
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" != *"warning"* ]] || { echo "$output"; false; }
	note=$(git --git-dir="$T/m/app.git" notes --ref=runner show "$c1")
	[[ "$note" == "runner: build #1 passed on develop"* ]] || { echo "$note" | head -c 300; false; }
}

@test "the notes waiting for a repository are read by no other member of the hooks' group" {
	git_user
	# the daemon as a user of this test's own, in the git user's group
	# (as for gitolite, docs/operations.md)
	svc_home runner-test-nsvc
	i=0
	while ! id -nG "$SVC" | grep -qw "$GIT_USER" && [ $i -lt 100 ]; do
		usermod -aG "$GIT_USER" "$SVC" 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
	EVE=runner-test-eve
	test_user "$EVE"
	# the git user's repository, in a folder the daemon's user enters by
	# that group and nobody else does
	mkdir -m 0750 "$T/private"
	chown "$GIT_USER:$GIT_USER" "$T/private"
	as_git git init -q --bare "$T/private/app.git"
	"$RUNNER" install-hook "$T/private/app.git" >/dev/null
	as_git git init -q -b develop "$T/githome/src"
	printf 'stages:\n  - name: secret-stage\n    run: "true"\n' > "$T/githome/src/.runner.yml"
	chown "$GIT_USER:" "$T/githome/src/.runner.yml"
	as_git git -C "$T/githome/src" add -A
	as_git git -C "$T/githome/src" commit -q -m one
	c1=$(git -C "$T/githome/src" rev-parse HEAD)
	# eve, another user whose repository has the hook: in the home's group
	mkdir -m 0755 "$T/e"
	chown "$EVE:" "$T/e"
	as_user "$EVE" "$T/e" git init -q --bare "$T/e/eve.git"
	"$RUNNER" install-hook "$T/e/eve.git" >/dev/null
	id -nG "$EVE" | grep -qw "$(stat -c %G "$RUNNER_HOME")"
	start_svc_daemon
	as_git git -C "$T/githome/src" push -q "$T/private/app.git" develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(find '$RUNNER_HOME/notes' -type f -name $c1)\" ]" 30
	# eve may not look at the repository, and tries every folder name of
	# the notes: its device is hers, its inode a number
	! as_user "$EVE" "$T/e" stat "$T/private/app.git" >/dev/null 2>&1 || false
	run as_user "$EVE" "$T/e" /usr/bin/python3 - "$RUNNER_HOME/notes" "$T/e/eve.git" <<'PY'
import os, sys
top, mine = sys.argv[1], os.stat(sys.argv[2])
for ino in range(1, mine.st_ino + 100000):
    d = "%s/%x-%x" % (top, mine.st_dev, ino)
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for n in names:
        try:
            print(open(os.path.join(d, n)).read())
        except OSError as e:
            print("cannot read %s: %s" % (n, e))
PY
	[[ "$output" != *"secret-stage"* ]] || { echo "eve read: $output"; false; }
	# the git user's next push still writes it, as its own user
	as_git git -C "$T/githome/src" commit -q --allow-empty -m two
	run as_git git -C "$T/githome/src" push "$T/private/app.git" develop
	[ "$status" -eq 0 ]
	[[ "$output" != *"warning"* ]] || { echo "$output"; false; }
	as_git git --git-dir="$T/private/app.git" notes --ref=runner show "$c1" | grep -q "secret-stage"
}
