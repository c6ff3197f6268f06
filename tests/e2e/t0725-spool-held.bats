#!/usr/bin/env bats
# No push is lost between the hook and the daemon. Under gitolite's
# default UMASK 0077 a daemon that is not root cannot read the
# repositories: the push is held in the spool, shown with its reason and
# fix by status (also while the daemon is stopped), status --json,
# doctor and /metrics, said once on the log, and queued by itself once
# the group bits are fixed. A hook that cannot write the spool says so
# with the fix and never that the push will be found (also over smart
# HTTP, from a fcgiwrap not restarted for the group); pre-receive
# refuses such a push. A spool entry written by another member of the
# group puts no command into the fix root pastes, nor a line into the
# reason; one naming a folder that is not its writer's is refused, and a
# held one's fix changes modes as its writer, through no link of its.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users"
	git_user
}
teardown() { teardown_env; }

# gitolite3 as Debian sets it up (UMASK 0077), its admin clone in
# $T/admin, pushes through gitolite-shell as sshd runs it for a key.
gitolite_0077() {
	start_gitolite "$GIT_USER"
	gitolite_conf 'repo app
    RW+ develop = admin' >/dev/null
}

# The daemon as a user of this test's own, already in the git user's
# group as docs/operations.md says (a user of its own: other tests'
# daemon user must not get the group), and a home it made.
gsvc_home() {
	local i=0
	svc_home runner-test-gsvc
	while ! id -nG "$SVC" | grep -qw "$GIT_USER" && [ $i -lt 100 ]; do
		usermod -aG "$GIT_USER" "$SVC" 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
}

held() {
	r status --json | jq -r "$1"
}

@test "gitolite UMASK 0077: the push is held with the fix, shown everywhere, then queued by itself" {
	gitolite_0077
	gsvc_home
	repo="$GL/repositories/app.git"
	[ "$(stat -c %a "$GL/repositories")" = 700 ]
	"$RUNNER" install-hook "$repo" >/dev/null
	port=$(free_port)
	printf 'http:\n  listen: 127.0.0.1:%s\n' "$port" >> "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	src=$(make_clone app)
	git -C "$src" remote set-url origin admin@gl:app
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	# the pusher hears that it is held, and why, never a job number
	[[ "$output" == *"runner: NOTHING IS QUEUED YET for this push: the runner cannot take it now: the runner's user '$SVC' cannot read repository '$repo'"* ]] || { echo "$output"; false; }
	[[ "$output" != *"queued job"* ]]
	wait_for "[ \"\$(held .spool.held)\" = 1 ]" 20
	first=$(git -C "$src" rev-parse HEAD)
	# status: the count, its age, the reason and the exact fix
	fix="runuser -u $GIT_USER -- chmod g+x '$GL/repositories' && runuser -u $GIT_USER -- chmod -R g+rX '$repo'"
	run r status
	[[ "$output" == *"HELD: 1 push the daemon cannot queue now (oldest "* ]]
	[[ "$output" == *"the runner's user '$SVC' cannot read repository '$repo': it may not enter '$GL/repositories' (mode 0700, group '$GIT_USER')"* ]]
	[[ "$output" == *"UMASK => 0027"* ]]
	[[ "$output" == *"fix: $fix"* ]]
	[ "$(held '.spool.held_reasons[0].fix')" = "$fix" ]
	[ "$(held '.spool.held_reasons[0].count')" = 1 ]
	[ "$(held '.spool.held_oldest_ms')" -gt 0 ]
	[ "$(held '.jobs | length')" = 0 ]
	# doctor: a problem, with the same fix
	run r doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL  spool: 1 push held for "*"cannot read repository '$repo'"* ]]
	[[ "$output" == *"fix: $fix"* ]]
	# the web page and /metrics
	wait_for "http_body $port /metrics | grep -qx 'runner_spool_held_pushes 1'" 15
	http_body "$port" / > "$T/page"
	grep -q "held: 1 push the daemon cannot queue now, for .*cannot read repository &#39;$repo&#39;" "$T/page" ||
	    { grep held "$T/page"; false; }
	grep -q "fix: <code>runuser -u $GIT_USER -- chmod g+x &#39;$GL/repositories&#39;" "$T/page" ||
	    { grep held "$T/page"; false; }
	# said once on the log, not at every look
	[ "$(grep -c 'error: spool: push .* held: ' "$T/serve.log")" = 1 ]

	# with the daemon stopped, status reads the spool itself
	stop_daemon
	git -C "$src" commit -q --allow-empty -m "Second, while the runner is stopped"
	git -C "$src" push -q origin develop 2>/dev/null
	second=$(git -C "$src" rev-parse HEAD)
	run r status
	[[ "$output" == *"daemon: not running"* ]]
	[[ "$output" == *"spool: 1 push waiting for the daemon (oldest "*"they are queued when it starts"* ]]
	[[ "$output" == *"HELD: 1 push the daemon cannot queue now (oldest "*" ago): the runner's user '$SVC' cannot read repository '$repo'"* ]] || { echo "$output"; false; }
	[[ "$output" == *"fix: $fix"* ]]
	[ "$(held .spool.waiting) $(held .spool.held)" = "1 1" ]
	[ "$(held .spool.waiting_oldest_ms)" -gt 0 ]
	# started again: the new push is held too, the old one not said again
	start_svc_daemon
	wait_for "[ \"\$(held .spool.held) \$(held .spool.waiting)\" = '2 0' ]" 20
	[ "$(grep -c 'error: spool: push .* held: ' "$T/serve.log")" = 2 ]

	# the printed fix, as root: both pushes are queued by themselves
	sh -c "$(held '.spool.held_reasons[0].fix')"
	wait_for "[ \"\$(held '[.jobs[] | select(.kind == \"build\")] | length')\" = 2 ]" 30
	[ "$(held '[.jobs[] | select(.kind == "build") | .commit] | sort | join(" ")')" = \
	    "$(printf '%s\n' "$first" "$second" | sort | tr '\n' ' ' | sed 's/ $//')" ]
	[ "$(held .spool.held) $(held .spool.waiting) $(held .spool.refused)" = "0 0 0" ]
	[ -z "$(ls -A "$RUNNER_HOME/spool/held")" ]
	grep -q "held push .* taken" "$T/serve.log"
	last=$(last_job build)
	wait_state "$last" passed 90 || { r log "$last" build >&2; false; }
	run r doctor
	[[ "$output" == *"ok    spool: "* ]]
	wait_for "http_body $port /metrics | grep -qx 'runner_spool_held_pushes 0'" 15
}

# as_git_started_before: the git user's process from before it was given
# the home's group (fcgiwrap not restarted): its uid, none of its groups.
as_git_started_before() {
	setpriv --reuid="$GIT_USER" --regid="$GIT_USER" --clear-groups \
	    env -u RUNNER_STORE HOME="$T/githome" GIT_CONFIG_NOSYSTEM=1 "$@"
}

@test "a hook that cannot write the spool says so with the fix; pre-receive refuses the push" {
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	SRC=$(make_clone app)
	chown -R "$GIT_USER:" "$SRC"
	start_daemon --workers 1
	run as_git_started_before git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: ERROR: NOTHING WAS QUEUED for this push: cannot write '$RUNNER_HOME/spool': this process of user '$GIT_USER' started before '$GIT_USER' was added to group"* ]]
	[[ "$output" == *"runner: fix: restart what runs git as '$GIT_USER'"* ]]
	[[ "$output" != *"finds the push"* ]]
	[[ "$output" != *"handed"* ]]
	[ "$(r status --json | jq '.jobs | length')" = 0 ]
	# with the pre-receive hook, such a push is refused while it can be
	"$RUNNER" install-hook --pre-receive "$T/app.git" >/dev/null
	before=$(git --git-dir="$T/app.git" rev-parse develop)
	as_git git -C "$SRC" commit -q --allow-empty -m "Refused until the hook can hand it over"
	run as_git_started_before git -C "$SRC" push origin develop
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing the push: the runner would never see it: cannot write '$RUNNER_HOME/spool'"* ]]
	[[ "$output" == *"runner: fix: restart what runs git as '$GIT_USER'"* ]]
	[ "$(git --git-dir="$T/app.git" rev-parse develop)" = "$before" ]
	# the fix applied (a process with the group): handed over and run
	run as_git git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	wait_for "[ -n \"\$(last_job build)\" ]" 20
	wait_state "$(last_job build)" passed 60
}

@test "over smart HTTP before fcgiwrap is restarted for the group: the push says nothing was queued, with the fix; pre-receive refuses it" {
	[ -x /usr/sbin/nginx ] && [ -x /usr/sbin/fcgiwrap ] || skip "nginx or fcgiwrap is not installed (tests/deps.sh installs them)"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$GIT_USER:" "$T/srv/app.git"
	start_git_http "$GIT_USER" "$T/srv"
	# fcgiwrap as it runs when it started before install-hook gave its
	# user the home's group: that user's uid, none of the group
	kill "$HTTP_FCGI_PID"
	wait "$HTTP_FCGI_PID" 2>/dev/null || true
	rm -f "$T/http/tmp/fcgi.sock"
	setpriv --reuid="$GIT_USER" --regid="$GIT_USER" --clear-groups env -i \
	    /usr/sbin/fcgiwrap -c 2 -s "unix:$T/http/tmp/fcgi.sock" \
	    </dev/null >>"$T/http/fcgiwrap.log" 2>&1 3>&- &
	HTTP_FCGI_PID=$!
	wait_for "[ -S '$T/http/tmp/fcgi.sock' ]" 10
	"$RUNNER" install-hook "$T/srv/app.git" >/dev/null
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin "$HTTP_URL/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/http/error.log"; false; }
	[[ "$output" == *"runner: ERROR: NOTHING WAS QUEUED for this push: cannot write '$RUNNER_HOME/spool': this process of user '$GIT_USER' started before '$GIT_USER' was added to group"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: fix: restart what runs git as '$GIT_USER' (fcgiwrap or the web server for smart HTTP"* ]] || { echo "$output"; false; }
	# nothing says that it will be found (what was seen: "Permission
	# denied; nothing queued, the push itself is fine", then "it finds
	# the push within a second")
	[[ "$output" != *"finds the push"* && "$output" != *"handed"* ]] || { echo "$output"; false; }
	[ "$(r status --json | jq '.jobs | length')" = 0 ]
	# with the pre-receive hook, such a push is refused while it can be
	"$RUNNER" install-hook --pre-receive "$T/srv/app.git" >/dev/null
	before=$(git --git-dir="$T/srv/app.git" rev-parse develop)
	git -C "$SRC" commit -q --allow-empty -m "Refused until fcgiwrap is restarted"
	run git -C "$SRC" push origin develop
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing the push: the runner would never see it: cannot write '$RUNNER_HOME/spool'"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: fix: restart what runs git as '$GIT_USER' (fcgiwrap"* ]]
	[ "$(git --git-dir="$T/srv/app.git" rev-parse develop)" = "$before" ]
	# the printed fix: fcgiwrap restarted, the push is handed over and
	# its job runs
	restart_fcgiwrap
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"runner: handed 1 update to the runner"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: queued job #1 for develop"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	[ "$(job_field 1 .commit)" = "$(git -C "$SRC" rev-parse HEAD)" ]
}

# spool_entry NAME REPO REF OLD NEW: a spool entry written by hand by the
# git user, a member of the home's group, as another member could.
spool_entry() {
	as_git sh -c 'printf "%s\0%s\0%s\0%s\0\0\0" "$2" "$3" "$4" "$5" > "$6/spool/.$1" &&
	    mv "$6/spool/.$1" "$6/spool/$1.push"' _ "$@" "$RUNNER_HOME"
}

@test "a spool entry puts no command into the fix it is held with, nor a line into the reason" {
	gsvc_home
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	start_svc_daemon
	zero=0000000000000000000000000000000000000000
	one=1111111111111111111111111111111111111111
	# a folder of the writer's that the daemon may not enter, in the
	# home's group: the fix is one command to paste, without a usermod
	closed="$T/githome/closed"
	as_git mkdir -m 0700 "$closed"
	chgrp "$(id -gn "$SVC")" "$closed"
	repo="$closed/x'; touch pwned; '.git"
	spool_entry 1 "$repo" refs/heads/develop "$zero" "$one"
	wait_for "[ \"\$(held .spool.held)\" = 1 ]" 20
	fix=$(held '.spool.held_reasons[0].fix')
	[ "$fix" = "runuser -u $GIT_USER -- chmod g+x '$closed' && runuser -u $GIT_USER -- chmod -R g+rX '$closed/x'\\''; touch pwned; '\\''.git'" ] ||
	    { echo "fix: $fix"; false; }
	# pasted as root, it changes modes and runs nothing else
	(cd "$T" && sh -c "$fix") 2>/dev/null || true
	[ ! -e "$T/pwned" ]
	[ "$(stat -c %a "$closed")" = 710 ]

	# a newline (the reason and its fix are lines), a terminal's escape,
	# a ref or commit ids that git would not have pushed: refused
	spool_entry 2 "$closed/a
chmod 777 \$HOME #.git" refs/heads/develop "$zero" "$one"
	spool_entry 3 "$closed/b$(printf '\033')[2J.git" refs/heads/develop "$zero" "$one"
	spool_entry 4 "$T/app.git" "refs/heads/develop$(printf '\033')]0;x" "$zero" "$one"
	spool_entry 5 "$T/app.git" refs/heads/develop "$zero" HEAD
	wait_for "[ \"\$(held .spool.refused)\" = 4 ]" 20
	grep -q "spool: refused '$RUNNER_HOME/spool/2.push': its repository path has a control character" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/3.push': its repository path has a control character" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/4.push': it names a ref that git would not have pushed" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/5.push': its commit ids are not 40 or 64 hex digits" "$T/serve.log"
	[ "$(held .spool.held)" = 1 ]
	[ "$(held '.jobs | length')" = 0 ]
	# doctor shows what it says, never a terminal's control sequence
	run r doctor
	[[ "$output" != *$'\033'* ]] || { echo "$output" | cat -v; false; }
}

@test "a spool entry naming a folder its writer does not own is refused; a held one's fix follows no link of the writer's" {
	gsvc_home
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	start_svc_daemon
	zero=0000000000000000000000000000000000000000
	one=1111111111111111111111111111111111111111
	# root's folder, which the daemon may not enter either
	mkdir -m 0700 "$T/rootonly" "$T/rootonly/x.git"
	echo secret > "$T/rootonly/x.git/key"
	chmod 0600 "$T/rootonly/x.git/key"
	# a push of a repository there: its fix would give the daemon's user
	# root's group and open root's folder; nothing says it is the
	# writer's, so it is refused, not held
	spool_entry 1 "$T/rootonly/x.git" refs/heads/develop "$zero" "$one"
	# the same through '..' from a folder of the writer's own
	closed="$T/githome/closed"
	as_git mkdir -m 0700 "$closed"
	spool_entry 2 "$closed/../../rootonly/x.git" refs/heads/develop "$zero" "$one"
	wait_for "[ \"\$(held .spool.refused)\" = 2 ]" 20 || { r status; cat "$T/serve.log"; false; }
	grep -q "spool: refused '$RUNNER_HOME/spool/1.push': it names repository '$T/rootonly/x.git', which the runner's user '$SVC' may not reach: '$T/rootonly' is not its writer's" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/2.push': it names repository '$closed/../../rootonly/x.git', which is not a real path" "$T/serve.log"
	[ "$(held .spool.held)" = 0 ]
	# a folder of the writer's own holding a link to root's: held, and
	# the fix, pasted as root, changes nothing the link leads to
	as_git ln -s "$T/rootonly" "$closed/l"
	spool_entry 3 "$closed/l/x.git" refs/heads/develop "$zero" "$one"
	wait_for "[ \"\$(held .spool.held)\" = 1 ]" 20 || { r status; cat "$T/serve.log"; false; }
	fix=$(held '.spool.held_reasons[0].fix')
	echo "fix: $fix" >&2
	# (usermod recorded, not run: the test's users are shared)
	(cd "$T" && sh -c "usermod() { echo \"\$*\" >> '$T/usermod'; }; $fix") || true
	[ "$(stat -c '%a %U' "$T/rootonly")" = "700 root" ]
	[ "$(stat -c '%a %U' "$T/rootonly/x.git")" = "700 root" ]
	[ "$(stat -c '%a %U' "$T/rootonly/x.git/key")" = "600 root" ]
	[ ! -e "$T/usermod" ] || ! grep -qw root "$T/usermod" || false
}

@test "a held/ folder another member of the group made first shows none of its words; the fix removes it as its owner" {
	gsvc_home
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	start_svc_daemon
	[ ! -e "$RUNNER_HOME/spool/held" ]
	# the git user writes spool/ (the hook's group): before the daemon
	# ever holds a push it makes held/, with a "held push" whose reason
	# and fix are its own words, for root to paste
	as_git mkdir "$RUNNER_HOME/spool/held"
	as_git sh -c ': > "$1/spool/held/1.push" && printf "%s\n%s\n" \
	    "the runner cannot read its store" "touch $2/pwned" \
	    > "$1/spool/held/1.push.why"' _ "$RUNNER_HOME" "$T"
	fix="runuser -u $GIT_USER -- rm -rf '$RUNNER_HOME/spool/held'"
	for how in root svc; do
		if [ $how = root ]; then run r status; else run svc "$RUNNER" status; fi
		[[ "$output" != *pwned* ]] || { echo "$how: $output"; false; }
		[[ "$output" != *HELD* ]] || { echo "$how: $output"; false; }
		[[ "$output" == *"spool: '$RUNNER_HOME/spool/held' is not the runner's own folder (a folder of uid $(id -u "$GIT_USER"), mode "*"): the daemon can keep no push there, and what is in it is not shown"* ]] ||
		    { echo "$how: $output"; false; }
		[[ "$output" == *"fix: $fix"* ]] || { echo "$how: $output"; false; }
	done
	[ "$(held .spool.held)" = 0 ]
	[ "$(held .spool.error_fix)" = "$fix" ]
	run r doctor
	[ "$status" -eq 1 ]
	[[ "$output" != *pwned* ]] || { echo "$output"; false; }
	[[ "$output" == *"FAIL  spool: '$RUNNER_HOME/spool/held' is not the runner's own folder"* ]] || { echo "$output"; false; }
	[[ "$output" == *"fix: $fix"* ]] || { echo "$output"; false; }
	# a link there instead: not followed, removed as its owner too
	as_git rm -rf "$RUNNER_HOME/spool/held"
	mkdir -m 0700 "$T/rootheld"
	printf 'x\ntouch %s/pwned\n' "$T" > "$T/rootheld/1.push.why"
	: > "$T/rootheld/1.push"
	as_git ln -s "$T/rootheld" "$RUNNER_HOME/spool/held"
	run r status
	[[ "$output" != *pwned* ]] || { echo "$output"; false; }
	[[ "$output" == *"spool: '$RUNNER_HOME/spool/held' is not the runner's own folder (a link of uid"* ]] || { echo "$output"; false; }
	# the printed fix, as root: gone, and doctor clean of it
	sh -c "$(held .spool.error_fix)"
	[ ! -e "$RUNNER_HOME/spool/held" ]
	[ -e "$T/rootheld/1.push" ]
	[ ! -e "$T/pwned" ]
	run r doctor
	[[ "$output" == *"ok    spool: "* ]] || { echo "$output"; false; }
	# taken/, where the daemon answers the runner's own hook: the same
	# (no push of the runner's own user has been answered: none is there)
	[ ! -e "$RUNNER_HOME/spool/taken" ]
	as_git mkdir -m 0777 "$RUNNER_HOME/spool/taken"
	run r doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL  spool: '$RUNNER_HOME/spool/taken' is not the runner's own folder"* ]] || { echo "$output"; false; }
	sh -c "$(held .spool.error_fix)"
	[ ! -e "$RUNNER_HOME/spool/taken" ]
}

@test "a held push's fix gives the daemon's user no group of the writer's choosing, only the writer's own" {
	gsvc_home
	# the writer is in a group that gives more than repositories (as
	# docker or disk would), and puts its folder in that group
	local i=0
	while ! getent group runner-test-power >/dev/null && [ $i -lt 100 ]; do
		groupadd --system runner-test-power 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
	i=0
	while ! id -nG "$GIT_USER" | grep -qw runner-test-power && [ $i -lt 100 ]; do
		usermod -aG runner-test-power "$GIT_USER" 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	start_svc_daemon
	closed="$T/githome/power"
	as_git mkdir -m 0750 "$closed"
	as_git chgrp runner-test-power "$closed"
	as_git git init -q --bare "$closed/x.git"
	as_git chgrp -R runner-test-power "$closed/x.git"
	as_git chmod -R o-rwx "$closed/x.git"
	! id -nG "$SVC" | grep -qw runner-test-power || false
	spool_entry 1 "$closed/x.git" refs/heads/develop \
	    0000000000000000000000000000000000000000 1111111111111111111111111111111111111111
	wait_for "[ \"\$(held .spool.held)\" = 1 ]" 20 || { r status; cat "$T/serve.log"; false; }
	fix=$(held '.spool.held_reasons[0].fix')
	[[ "$fix" != *runner-test-power* ]] || { echo "fix: $fix"; false; }
	[[ "$fix" != *usermod* ]] || { echo "fix: $fix"; false; }
	[ "$fix" = "runuser -u $GIT_USER -- chgrp $GIT_USER '$closed' && runuser -u $GIT_USER -- chgrp -R $GIT_USER '$closed/x.git' && runuser -u $GIT_USER -- chmod g+x '$closed' && runuser -u $GIT_USER -- chmod -R g+rX '$closed/x.git'" ] ||
	    { echo "fix: $fix"; false; }
	# pasted as root, it works: the push is taken (its made-up commit
	# matches nothing it could build, so it is queued or not, never held)
	sh -c "$fix"
	wait_for "[ \"\$(held .spool.held) \$(held .spool.waiting)\" = '0 0' ]" 30 || { r status; cat "$T/serve.log"; false; }
	grep -q "held push .* taken" "$T/serve.log"
}
