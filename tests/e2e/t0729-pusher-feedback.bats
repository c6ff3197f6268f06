#!/usr/bin/env bats
# Feedback for every pusher, whoever the hook runs as. A hook whose user
# cannot read the store (the git server's account over ssh, the web
# server's user over smart HTTP, gitolite3) hands its push to the spool
# and asks the daemon over ask.sock: it prints the job numbers (and
# links, with base_url), follows the jobs under -o ci.wait as the
# runner's own user does, shows a failed job's excerpt and a line that
# stands out, says why a push is held, and has its release tags judged at
# pre-receive by the daemon, which reads runner.yml and the signers it
# cannot. A daemon that is down costs the push nothing but the answer; a
# client on the socket that is not an honest hook learns nothing, and the
# daemon keeps serving.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users"
	git_user
}
teardown() { teardown_env; }

# The bare repository $T/srv/app.git owned by USER (default the git
# user) with the hook (and pre-receive with "pre"), and a clone of the
# sample app in $SRC that USER owns too.
server_repo() {
	local user=${1:-$GIT_USER}
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$user:" "$T/srv/app.git"
	"$RUNNER" install-hook ${2:+--pre-receive} "$T/srv/app.git" >/dev/null
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin "$T/srv/app.git"
	chown -R "$GIT_USER:" "$SRC"
}

# git_signs KEY TAG: the git user tags $SRC's head, signed with the test's
# SSH key KEY (make_ssh_signer), which it is given a copy of.
git_signs() {
	cp "$T/keys/$1" "$T/keys/$1.pub" "$T/githome/"
	chown "$GIT_USER:" "$T/githome/$1" "$T/githome/$1.pub"
	as_git git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/githome/$1.pub" \
	    tag -s "$2" -m "Release $2"
}

# A pipeline of one stage that prints 30 numbered lines and fails.
failing_pipeline() {
	set_pipeline "$SRC" "fails" <<'YML'
stages:
  - name: unit
    run: |
      for i in $(seq 1 30); do echo "output line $i"; done
      printf '\033[31mred\033[0m at the end\n'
      exit 3
YML
	chown -R "$GIT_USER:" "$SRC"
}

@test "a spooled push prints its job numbers, with a link under base_url" {
	server_repo
	printf 'repos:\n  - path: %s\nhttp:\n  base_url: https://ci.example.com/\n' \
	    "$T/srv/app.git" > "$RUNNER_HOME/runner.yml"
	! as_git test -r "$RUNNER_HOME/runner.yml" || false
	start_daemon --workers 1
	run as_git git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	c=$(git -C "$SRC" rev-parse --short=7 HEAD)
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: queued job #1 for develop $c: https://ci.example.com/job/1"* ]] || { echo "$output"; false; }
	[[ "$output" != *"runner status"* ]]
	# a branch runner.yml does not build: said, no job
	run as_git git -C "$SRC" push origin develop:refs/heads/feature
	[[ "$output" == *"runner: no job for this push: runner.yml's branches and release_tags for this repository match none of its refs"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	# the runner's own user gets the same line
	make_repo own
	own=$(make_clone own)
	printf 'repos:\n  - path: %s\nhttp:\n  base_url: https://ci.example.com\n' \
	    "$T/own.git" > "$RUNNER_HOME/runner.yml"
	run git -C "$own" push origin develop
	[[ "$output" == *"runner: queued job #"*" for develop $(git -C "$own" rev-parse --short=7 HEAD): https://ci.example.com/job/"* ]] || { echo "$output"; false; }
}

@test "a daemon that is down: the push succeeds at once with the old message, and is queued later" {
	server_repo "" pre
	start=${EPOCHREALTIME/./}
	run as_git git -C "$SRC" push -o ci.wait origin develop
	took=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: the runner's daemon is not running: no job number yet: it queues the push when it starts; ci.wait cannot follow it"* ]] || { echo "$output"; false; }
	echo "# the push took $took ms" >&3
	[ "$took" -lt 10000 ]
	# pre-receive cannot ask either: a tag is taken, and said so
	as_git git -C "$SRC" tag v0.1
	run as_git git -C "$SRC" push origin v0.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: warning: cannot ask the runner's daemon to check the pushed tags (the daemon is not running): they are taken now"* ]] || { echo "$output"; false; }
	start_daemon --workers 1
	wait_state 1 passed 60
}

@test "ci.wait over ssh: the stages, the result and staging's deployment, as for the runner's own user" {
	start_sshd runner-test-ssh
	server_repo runner-test-ssh
	chown -R root: "$SRC"
	git -C "$SRC" remote set-url origin "$SSH_URL$T/srv/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/sshd/sshd.log"; false; }
	for line in "runner: handed 1 update to the runner" \
	    "runner: queued job #1 for develop" \
	    "runner: waiting for the job (ci.wait; Ctrl-C stops the waiting, not the job)" \
	    "runner: #1 unit passed in " \
	    "runner: #1 build passed in " "runner: job #1 passed in " \
	    "runner: deployment #2 to staging healthy in "; do
		[[ "$output" == *"$line"* ]] || { echo "missing: $line"; echo "$output"; false; }
	done
	[ "$(job_state 1)" = passed ]
	grep -q "Accepted publickey for runner-test-ssh" "$T/sshd/sshd.log"
}

@test "ci.wait over smart HTTP: a failing build ends with its log's last 20 lines and a line that stands out" {
	server_repo
	chown -R root: "$SRC"
	failing_pipeline
	chown -R root: "$SRC"
	printf 'repos:\n  - path: %s\nhttp:\n  base_url: https://ci.example.com\n' \
	    "$T/srv/app.git" > "$RUNNER_HOME/runner.yml"
	start_git_http "$GIT_USER" "$T/srv"
	git -C "$SRC" remote set-url origin "$HTTP_URL/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/http/error.log"; false; }
	echo "$output"
	[[ "$output" == *"runner: #1 unit failed in "*" (exit code 3)"* ]]
	[[ "$output" == *"runner: the last lines of the log of stage 'unit' (job #1):"* ]]
	# 20 lines: 13 to 30, the coloured one without its escapes, and the
	# runner's own last line
	[[ "$output" != *"runner: | output line 12"* ]]
	for i in 13 20 30; do
		[[ "$output" == *"runner: | output line $i"* ]]
	done
	[[ "$output" == *"runner: | red at the end"* ]]
	[[ "$output" == *"runner: | [runner: stage 'unit' failed with exit code 3]"* ]]
	[ "$(grep -c 'runner: | ' <<<"$output")" = 20 ]
	# the end stands out
	last=$(grep '^remote: runner: \|^runner: ' <<<"$output" | tail -n 2)
	[[ "$last" == *"runner: ==== FAILED: job #1, stage 'unit' failed (exit code 3) ===="* ]] || { echo "$last"; false; }
	[[ "$last" == *"runner: see https://ci.example.com/job/1"* ]]
	[ "$(job_state 1)" = failed ]
}

@test "ci.wait over smart HTTP streams: a stage's start reaches the pusher while it runs" {
	server_repo
	chown -R root: "$SRC"
	set_pipeline "$SRC" "slow" <<'YML'
stages:
  - name: slow
    run: while [ ! -e go ]; do sleep 0.02; done
YML
	start_git_http "$GIT_USER" "$T/srv"
	git -C "$SRC" remote set-url origin "$HTTP_URL/app.git"
	start_daemon --workers 1
	git -C "$SRC" push -o ci.wait origin develop >"$T/push.out" 2>&1 3>&- &
	push=$!
	# through nginx and fcgiwrap as the stage runs, not when the push ends
	wait_for "grep -q 'runner: #1 slow started' '$T/push.out'" 30 ||
	    { cat "$T/push.out"; tail -20 "$T/http/error.log"; false; }
	kill -0 "$push"
	[ "$(job_state 1)" = running ]
	touch "$RUNNER_HOME/work/1/go"
	wait "$push"
	grep -q "runner: #1 slow passed in " "$T/push.out"
	grep -q "runner: job #1 passed in " "$T/push.out" || { cat "$T/push.out"; false; }
}

@test "a tag signed by an unknown key is refused at pre-receive, with the reason, by the daemon" {
	server_repo "" pre
	make_ssh_signer release
	make_ssh_signer stranger untrusted
	chmod 0600 "$T/allowed_signers"
	{
		echo "repos:"
		echo "  - path: $T/srv/app.git"
		echo "    allowed_signers: $T/allowed_signers"
	} > "$RUNNER_HOME/runner.yml"
	# the hook's user reads neither runner.yml nor the signers
	! as_git test -r "$RUNNER_HOME/runner.yml" || false
	! as_git test -r "$T/allowed_signers" || false
	start_daemon --workers 2
	as_git git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	# signed by a key the server does not trust
	git_signs stranger v1.0.0
	run as_git git -C "$SRC" push origin v1.0.0
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing release tag 'v1.0.0': tag 'v1.0.0': signature is not by an allowed signer"* ]] || { echo "$output"; false; }
	[[ "$output" == *"[remote rejected] v1.0.0 -> v1.0.0 (pre-receive hook declined)"* ]] || { echo "$output"; false; }
	! git --git-dir="$T/srv/app.git" rev-parse -q --verify refs/tags/v1.0.0 || false
	# a lightweight one too
	as_git git -C "$SRC" tag v1.0.1
	run as_git git -C "$SRC" push origin v1.0.1
	[ "$status" -ne 0 ]
	[[ "$output" == *"'v1.0.1' is a lightweight tag"* ]] || { echo "$output"; false; }
	# five tags of 900 KB each in one push: the tag objects a push may
	# send come to 4 MiB, so the fifth is refused as too large, unread
	head -c 921600 /dev/zero | tr '\0' 'x' | fold -w 72 > "$T/big.msg"
	chmod 0644 "$T/big.msg"
	for i in 1 2 3 4 5; do
		as_git git -C "$SRC" tag -a -F "$T/big.msg" "v2.0.$i"
	done
	run as_git git -C "$SRC" push origin v2.0.1 v2.0.2 v2.0.3 v2.0.4 v2.0.5
	[ "$status" -ne 0 ]
	[ "$(grep -c "runner: refusing release tag 'v2.0.[1-4]': tag 'v2.0.[1-4]' is not signed" <<<"$output")" = 4 ] || { echo "$output"; false; }
	[[ "$output" == *"runner: refusing release tag 'v2.0.5': tag 'v2.0.5': the tag object is larger than 1048576 bytes, or than what is left of the 4194304 bytes all the tag objects of a push may have"* ]] || { echo "$output"; false; }
	# signed by the trusted key: taken, and its release queued
	git_signs release v1.0.2
	run as_git git -C "$SRC" push origin v1.0.2
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"runner: queued release #"*" for v1.0.2 "*" (production)"* ]] || { echo "$output"; false; }
	# a tag that is no release is not the daemon's to judge
	as_git git -C "$SRC" tag note-1
	run as_git git -C "$SRC" push origin note-1
	[ "$status" -eq 0 ]
	[[ "$output" != *"refusing"* ]]
}

@test "a client on ask.sock that is no honest hook learns nothing, and the daemon keeps serving" {
	server_repo
	# another repository with a job, which the git user may not open
	make_repo other
	other=$(make_clone other)
	start_daemon --workers 1
	git -C "$other" push -q origin develop
	wait_state 1 passed 60
	chmod 0700 "$T/other.git"
	secret=$(git -C "$other" rev-parse HEAD)
	[ "$(stat -c '%a %G' "$RUNNER_HOME/ask.sock")" = "660 runner" ]
	as_git /usr/bin/python3 - "$RUNNER_HOME" "$T/srv/app.git" "$T/other.git" "$secret" \
	    >"$T/attack.out" 2>&1 <<'PY' || { cat "$T/attack.out"; false; }
import os, socket, sys, time
home, mine, other, secret = sys.argv[1:5]
path = home + "/ask.sock"
zero = "0" * 40

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s

def answer(s, timeout=20):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except Exception as e:
        out += ("<%s>" % e).encode()
    s.close()
    return out.decode(errors="replace").replace("\n", " | ")

def ask(req, fd=None):
    s = conn()
    if fd is None:
        s.sendall(req.encode("latin-1"))
    else:
        socket.send_fds(s, [req.encode()], [fd])
    return answer(s)

mine_fd = os.open(mine, os.O_RDONLY | os.O_DIRECTORY)
# another repository named, this one's descriptor passed
print("other-path:", ask("runner-ask 1\nrepo %s\nspool 1.1.1.push\nwait\n"
    "update %s %s refs/heads/develop\nend\n" % (other, zero, secret), mine_fd))
print("other-check:", ask("runner-ask 1\nrepo %s\ncheck\n"
    "update %s %s refs/tags/v1.0.0\nend\n" % (other, zero, secret), mine_fd))
# a descriptor of the other repository that needs no right to read it
try:
    p = os.open(other, os.O_PATH | os.O_DIRECTORY)
    print("o-path:", ask("runner-ask 1\nrepo %s\nspool 1.1.1.push\n"
        "update %s %s refs/heads/develop\nend\n" % (other, zero, secret), p))
except OSError as e:
    print("o-path: not opened:", e)
# no descriptor at all
print("no-fd:", ask("runner-ask 1\nrepo %s\nspool 1.1.1.push\nend\n" % other))
# its own repository, asking for the other's push
print("own-repo:", ask("runner-ask 1\nrepo %s\nspool 1.1.1.push\nwait\n"
    "update %s %s refs/heads/develop\nend\n" % (mine, zero, secret), mine_fd))
# garbage, and a request line the protocol does not know
print("garbage:", ask("\x00\xff" * 1000 + "\n"))
print("unknown:", ask("runner-ask 1\nrepo %s\nshow-me /etc/shadow\nend\n" % mine, mine_fd))
# a line without end
s = conn()
t = time.time()
try:
    s.sendall(b"runner-ask 1\nrepo " + b"x" * (8 * 1024 * 1024))
except OSError as e:
    pass
print("huge: %s (%.1fs)" % (answer(s), time.time() - t))
# slow loris: a byte every 0.2 s
s = conn()
t = time.time()
s.sendall(b"runner-ask 1\n")
s.settimeout(0.2)
got = b""
while time.time() - t < 30:
    try:
        s.send(b"r")
    except OSError:
        break
    try:
        b = s.recv(4096)
        if not b:
            break
        got += b
    except socket.timeout:
        pass
    except OSError:	# the daemon let it go (a reset when bytes were unread)
        break
print("slow: %s (%.1fs)" % (got.decode(errors="replace").replace("\n", " | "), time.time() - t))
s.close()
# many connections at once, held open
t = time.time()
socks = [conn() for i in range(100)]
took = time.time() - t
time.sleep(1)
busy = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(64).startswith(b"busy"):
            busy += 1
    except BlockingIOError:
        pass
answering = 0
for pid in os.listdir("/proc"):
    try:
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
    except OSError:
        continue
    if len(cmd) > 2 and cmd[0].endswith(b"runner-worker") and cmd[1] == b"answer" and cmd[2] == home.encode():
        answering += 1
print("flood: %d busy, %d answering (%d s to connect)" % (busy, answering, int(took)))
for s in socks:
    s.close()
PY
	cat "$T/attack.out"
	# nothing of the other repository's job, whatever was asked
	! grep -q "#1\|$secret\|${secret:0:7}\|passed" "$T/attack.out" || false
	grep -q "^other-path: error the descriptor is not repository '$T/other.git' | done" "$T/attack.out"
	grep -q "^other-check: error the descriptor is not repository '$T/other.git' | done" "$T/attack.out"
	grep -q "^o-path: error the descriptor is not a folder opened for reading | done" "$T/attack.out"
	grep -q "^no-fd: error no descriptor of the repository came with the request | done" "$T/attack.out"
	grep -q "^own-repo: say runner: no job for this push" "$T/attack.out"
	grep -q "^garbage: error not a request of this runner" "$T/attack.out"
	grep -q "^unknown: error unknown request line | done" "$T/attack.out"
	grep -q "^huge: error a line longer than 16384 bytes | done" "$T/attack.out"
	# cut off within the request's bound, not held by the trickle
	slow=$(sed -n 's/^slow: .*(\([0-9]*\)\.[0-9]s)$/\1/p' "$T/attack.out")
	grep -q "^slow: error no answer in time | done" "$T/attack.out"
	[ "$slow" -lt 10 ]
	# the flood: at most ASK_RATE_PER_UID (24) of one user taken in a
	# second (ASK_RATE, 32, of all; a busy machine's flood may span
	# more seconds), ASK_PER_UID (48) of one user at once; the rest told
	# busy
	read -r busy answering took < <(sed -n 's/^flood: \([0-9]*\) busy, \([0-9]*\) answering (\([0-9]*\) s to connect)$/\1 \2 \3/p' "$T/attack.out")
	[ "$answering" -le $((24 * (took + 2))) ]
	[ "$answering" -le 48 ]
	[ $((busy + answering)) -ge 95 ]
	grep -q "warning: ask: refused a request of uid $(id -u "$GIT_USER")" "$T/serve.log"
	# the daemon serves on: an honest hook is answered once the flood's
	# connections are gone, and the runner's own pushes run
	own_daemon "$DAEMON_PID"
	wait_for "! pgrep -f 'runner-worker answer $RUNNER_HOME' >/dev/null" 20
	run as_git git -C "$SRC" push origin develop
	id=$(sed -n 's/.*runner: queued job #\([0-9]*\) for develop.*/\1/p' <<<"$output")
	[ -n "$id" ] || { echo "$output"; false; }
	wait_state "$id" passed 60
	chmod 0755 "$T/other.git"
	git -C "$other" commit -q --allow-empty -m more
	run git -C "$other" push origin develop
	id=$(sed -n 's/.*runner: queued job #\([0-9]*\) for develop.*/\1/p' <<<"$output")
	[ -n "$id" ] || { echo "$output"; false; }
	wait_state "$id" passed 60
}

@test "a folder made in a mount namespace of its own, at a renamed repository's path, learns nothing of its jobs" {
	as_git unshare -Urm true 2>/dev/null || skip "no user namespaces for $GIT_USER"
	mkdir -p -m 0755 "$T/srv2"
	git init -q --bare "$T/srv2/other.git"
	"$RUNNER" install-hook "$T/srv2/other.git" >/dev/null
	other=$(make_clone other)
	git -C "$other" remote set-url origin "$T/srv2/other.git"
	set_pipeline "$other" "fails" <<'YML'
stages:
  - name: unit
    run: echo "other's secret log line"; exit 3
YML
	start_daemon --workers 1
	git -C "$other" push -q origin develop
	wait_state 1 failed 60
	c=$(git -C "$other" rev-parse HEAD)
	# the store keeps its jobs by the path it had
	mv "$T/srv2/other.git" "$T/srv2/renamed.git"
	# the git user mounts a folder of its own at that path, where only
	# its namespace sees it; the kernel names it by that path
	cat > "$T/forge.py" <<'PY'
import os, socket, sys
sock, repo, c = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock)
fd = os.open(repo, os.O_RDONLY | os.O_DIRECTORY)
for req in ("spool 1.1.1.push\nwait\n", "check\n"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    socket.send_fds(s, [("runner-ask 1\nrepo %s\n%supdate %s %s "
        "refs/heads/develop\nend\n" % (repo, req, "0" * 40, c)).encode()],
        [fd])
    s.settimeout(30)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    print(req.split()[0] + ": " + out.decode(errors="replace").replace("\n", " | "))
PY
	run as_git unshare -Urm sh -c "mount -t tmpfs forged '$T/srv2' &&
	    mkdir '$T/srv2/other.git' &&
	    /usr/bin/python3 '$T/forge.py' '$RUNNER_HOME/ask.sock' '$T/srv2/other.git' '$c'"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"spool: error the runner cannot see repository '$T/srv2/other.git', so it tells nothing of its jobs | done"* ]]
	[[ "$output" != *"#1"* && "$output" != *"secret"* && "$output" != *"${c:0:7}"* ]]
}

@test "a member of the home's group hears nothing of a repository it may read but does not own" {
	server_repo
	# root's repository, readable by all as git init makes it, with a
	# failing job; the git user (in the home's group) reads its commits
	make_repo other
	other=$(make_clone other)
	set_pipeline "$other" "fails" <<'YML'
stages:
  - name: unit
    run: echo other-repository-log-line; exit 3
YML
	start_daemon --workers 1
	git -C "$other" push -q origin develop
	wait_state 1 failed 60
	[ "$(stat -c %a "$T/other.git")" = 755 ]
	commit=$(as_git git --git-dir="$T/other.git" rev-parse develop)
	# its descriptor, its path and its push (a spool entry that never
	# was): as the honest hook of that repository would ask
	as_git /usr/bin/python3 - "$RUNNER_HOME" "$T/other.git" "$commit" \
	    >"$T/attack.out" 2>&1 <<'PY' || { cat "$T/attack.out"; false; }
import os, socket, sys
home, other, commit = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(home + "/ask.sock")
fd = os.open(other, os.O_RDONLY | os.O_DIRECTORY)
socket.send_fds(s, [("runner-ask 1\nrepo %s\nspool 1.1.1.push\nwait\n"
    "update %s %s refs/heads/develop\nend\n" % (other, "0" * 40, commit)).encode()],
    [fd])
s.settimeout(30)
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode(errors="replace").replace("\n", " | "))
PY
	cat "$T/attack.out"
	! grep -q "other-repository-log-line\|#1\|failed" "$T/attack.out" || false
	grep -q "^error repository '$T/other.git' is not user $(id -u "$GIT_USER")'s | done" "$T/attack.out"
}

@test "ci.wait over ssh interrupted: the push ends, the job goes on; the wait is bounded by wait_timeout" {
	start_sshd runner-test-ssh
	server_repo runner-test-ssh
	chown -R root: "$SRC"
	git -C "$SRC" remote set-url origin "$SSH_URL$T/srv/app.git"
	set_pipeline "$SRC" "slow" <<'YML'
stages:
  - name: slow
    run: while [ ! -e go ]; do sleep 0.02; done
YML
	start_daemon --workers 1
	# in a process group of its own, as a terminal's Ctrl-C finds it
	setsid git -C "$SRC" push -o ci.wait origin develop >"$T/push.out" 2>&1 3>&- &
	push=$!
	wait_for "grep -q 'runner: #1 slow started' '$T/push.out'" 30
	# the pusher gives up (a background job ignores SIGINT): git and
	# ssh go, and sshd's session with them; git keeps the hook's output
	# open, the hook sees the session gone
	kill -TERM -- "-$push"
	wait "$push" || true
	wait_for "! pgrep -f 'runner-hook post-receive $RUNNER_HOME' >/dev/null" 20
	wait_for "! pgrep -f 'runner-worker answer $RUNNER_HOME' >/dev/null" 20
	[ "$(job_state 1)" = running ]
	touch "$RUNNER_HOME/work/1/go"
	wait_state 1 passed 30
	# wait_timeout: the daemon stops following, the hook returns
	echo "wait_timeout: 1s" >> "$RUNNER_HOME/runner.yml"
	git -C "$SRC" commit -q --allow-empty -m again
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: stopped waiting after 1.0s (runner.yml wait_timeout); the jobs go on"* ]] || { echo "$output"; false; }
	[[ "$output" != *"runner status"* ]]
	[ "$(job_state 2)" = running ]
	touch "$RUNNER_HOME/work/2/go"
	wait_state 2 passed 30
}

# gitolite3 as Debian sets it up (UMASK 0077) in $GL, its repository
# app, pushes from $SRC through gitolite-shell as sshd runs it for a key.
gitolite_app() {
	start_gitolite "$GIT_USER"
	gitolite_conf 'repo app
    RW+ = admin' >/dev/null
	"$RUNNER" install-hook "$GL/repositories/app.git" >/dev/null
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin admin@gl:app
}

@test "gitolite3: ci.wait follows the push; one the daemon cannot read yet says so, with the fix" {
	gitolite_app
	set_pipeline "$SRC" "fails" <<'YML'
stages:
  - name: unit
    run: echo gitolite; exit 1
YML
	start_daemon --workers 1
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	for line in "runner: handed 1 update to the runner" "runner: queued job #1 for develop" \
	    "runner: #1 unit failed in " "runner: | gitolite" \
	    "runner: ==== FAILED: job #1, stage 'unit' failed (exit code 1) ===="; do
		[[ "$output" == *"$line"* ]] || { echo "missing: $line"; echo "$output"; false; }
	done
	stop_daemon
	# a daemon of its own user cannot enter gitolite's 0700 folders: held
	svc_home
	"$RUNNER" install-hook "$GL/repositories/app.git" >/dev/null
	start_svc_daemon
	git -C "$SRC" commit -q --allow-empty -m held
	run git -C "$SRC" push -o ci.wait origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: NOTHING IS QUEUED YET for this push: the runner cannot take it now: the runner's user '$SVC' cannot read repository '$GL/repositories/app.git'"* ]] || { echo "$output"; false; }
	[[ "$output" == *"it waits in the runner's spool and is queued by itself once that is fixed; the fix, on the runner's host: "*"chmod g+x '$GL/repositories'"* ]] || { echo "$output"; false; }
	[[ "$output" != *"runner: queued job"* ]]
	# and no word of notes: none wait for a repository it cannot see
	[[ "$output" != *"git notes"* ]] || { echo "$output"; false; }
}
