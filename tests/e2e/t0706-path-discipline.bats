#!/usr/bin/env bats
# Privileged code never follows a path that another user can write, tried
# as that user: a build-user process racing root's hand-over of a checkout
# (a folder swapped for a link to the home), a hook-group member planting
# a link in the spool, an environment's user planting a link at the next
# backup's folder, the git user planting links where install-hook writes,
# or a link that dresses its repository up as gitolite's, whose rc file
# root would run, or a tag of its repository that is a link to a file of
# root's, which a root daemon's checkout would copy into the workspace, or
# packs of a repository of root's linked into its own and one of their
# commits named in a spool entry, which a root daemon would build.
# Each attempt is refused or harmless, and what the link points at keeps
# its owner and its bytes.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon switches users, the attacker is another one"
}
teardown() { teardown_env; }

# The home and what the runner keeps in it are still root's (the runner's
# user here), every file of logs/, releases/, spool/ and artifacts/ too.
home_is_roots() {
	local bad
	bad=$(find "$RUNNER_HOME" -maxdepth 1 ! -user root
	    find "$RUNNER_HOME/logs" "$RUNNER_HOME/releases" "$RUNNER_HOME/spool" \
	        "$RUNNER_HOME/artifacts" ! -user root)
	if [ -n "$bad" ]; then
		echo "no longer root's:" >&2
		ls -ld $bad >&2
		return 1
	fi
}

# A commit that keeps the hand-over of its checkout busy: a chain of 50
# folders deep/c/c/..., at its bottom 12,000 files and a folder 'a' whose
# files are named like the home's (runner.yml, runner.db).
many_files_commit() {
	/usr/bin/python3 - "$SRC" <<'PY'
import os, sys
bottom = os.path.join(sys.argv[1], "deep", *["c"] * 50)
os.makedirs(os.path.join(bottom, "a"))
for name in ("runner.yml", "runner.db"):
    open(os.path.join(bottom, "a", name), "w").write("x\n")
for i in range(12000):
    open(os.path.join(bottom, "f%05d" % i), "w").close()
PY
	git -C "$SRC" add -A
	git -C "$SRC" commit -q -m "Many files"
}

# The racer, as the build user of the one worker, runner-build-0 (any
# process of it on the host: a stage of an 'isolate: false' repository,
# a process one of its builds left behind): it builds a
# folder of its own holding the same 12,000 names and 'a', a link to the
# home; then, whenever the bottom of a workspace's chain has become its
# own, it swaps the folder above for a link to that folder, so that root,
# giving the rest of the tree away by path, would go through it into the
# home. It writes "saw ID" for each workspace it found, "swapped ID" for
# each it got to.
start_racer() {
	mkdir "$T/attacker"
	chown runner-build-0: "$T/attacker"
	as_user runner-build-0 "$T/attacker" /usr/bin/python3 - "$RUNNER_HOME" \
	    "$T/attacker" "$1" <<'PY' 3>&- &
import os, sys, time
home, own, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
mirror = os.path.join(own, "mirror")
os.mkdir(mirror)
for i in range(12000):
    open(os.path.join(mirror, "f%05d" % i), "w").close()
os.symlink(home, os.path.join(mirror, "a"))
log = open(os.path.join(own, "racer.log"), "a", buffering=1)
log.write("ready\n")
uid = os.getuid()
above = os.path.join("deep", *["c"] * 49)
bottom = os.path.join(above, "c")
done, saw = set(), set()
end = time.time() + seconds
while time.time() < end and not os.path.exists(os.path.join(own, "stop")):
    for i in range(1, 64):
        if i in done:
            continue
        ws = "%s/work/%d" % (home, i)
        try:
            st = os.lstat(os.path.join(ws, bottom))
            if i not in saw:
                saw.add(i)
                log.write("saw %d\n" % i)
            if st.st_uid != uid:
                continue
            os.rename(os.path.join(ws, bottom), os.path.join(ws, above, "c.old"))
            os.symlink(mirror, os.path.join(ws, bottom))
        except OSError:
            continue
        done.add(i)
        log.write("swapped %d\n" % i)
PY
	RACER_PID=$!
	wait_for "grep -q ready '$T/attacker/racer.log'" 60
}

@test "a build-user process racing the hand-over of a checkout never gets the home" {
	empty_source app
	many_files_commit
	set_pipeline "$SRC" "Builds" <<'YML'
stages:
  - name: build
    run: "true"
YML
	start_racer 90
	start_daemon --workers 1
	local round=0 end=$((SECONDS + 45)) state
	while [ $round -lt 6 ] && [ $SECONDS -lt $end ]; do
		round=$((round + 1))
		echo "$round" > "$SRC/round"
		git -C "$SRC" add round
		git -C "$SRC" commit -q -m "Round $round"
		git -C "$SRC" push -q origin develop
		wait_for "case \"\$(job_state $round)\" in passed|failed|error) true;; *) false;; esac" 60
		state=$(job_state $round)
		# a job the race broke says why; none runs on a home given away
		if [ "$state" != passed ]; then
			job_field $round .error >&2
			[[ "$(job_field $round .error)" == "checkout failed: "* ]]
		fi
		home_is_roots || { cat "$T/attacker/racer.log" >&2; false; }
	done
	touch "$T/attacker/stop"
	echo "# $round rounds; the racer saw $(grep -c '^saw ' "$T/attacker/racer.log") workspaces, swapped a folder in $(grep -c '^swapped ' "$T/attacker/racer.log") (once the tree was its own)" >&3
	# the race ran: the racer was watching the workspaces
	grep -q '^saw ' "$T/attacker/racer.log"
	[ "$(stat -c %U "$RUNNER_HOME/runner.yml")" = root ]
}

# A bare repository of the git user (group 'runner' through install-hook)
# with a pipeline that passes, and its clone in $SRC, the git user's too.
git_owned_app() {
	git_user
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/app.git"
	printf 'stages:\n  - name: build\n    run: "true"\n' > "$SRC/.runner.yml"
	git -C "$SRC" add .runner.yml
	git -C "$SRC" commit -q -m "A pipeline"
	chown -R "$GIT_USER:" "$SRC"
}

@test "the spool reads what it opened: a planted link, a FIFO, another's repository and another spelling are refused and kept" {
	git_owned_app
	# root's own repository, which the git user may not build
	make_repo other
	head=$(git -C "$SRC" rev-parse HEAD)
	# a file root owns whose bytes the attacker chose (a log a stage
	# wrote): one push of root's repository, as the spool holds it
	printf '%s\0refs/heads/develop\0%s\0%s\0\0\0' "$T/other.git" \
	    0000000000000000000000000000000000000000 "$head" > "$T/victim.log"
	chmod 0600 "$T/victim.log"
	before=$(stat -c '%U %a %s' "$T/victim.log")
	start_daemon --workers 1
	as_git ln -s "$T/victim.log" "$RUNNER_HOME/spool/1.000000001.1.push"
	as_git mkfifo "$RUNNER_HOME/spool/1.000000002.1.push"
	# a file of its own naming root's repository
	as_git sh -c "printf '%s\\0refs/heads/develop\\0%s\\0%s\\0\\0\\0' '$T/other.git' \
	    0000000000000000000000000000000000000000 $head > '$T/githome/record'"
	as_git mv "$T/githome/record" "$RUNNER_HOME/spool/1.000000003.1.push"
	# its own repository, spelt another way: it would pass the owner's
	# check as app and match runner.yml as what the spelling says
	as_git sh -c "printf '%s\\0refs/heads/develop\\0%s\\0%s\\0\\0\\0' '$T/other.git/../app.git' \
	    0000000000000000000000000000000000000000 $head > '$T/githome/record'"
	as_git mv "$T/githome/record" "$RUNNER_HOME/spool/1.000000004.1.push"
	wait_for "[ \$(grep -c 'spool: refused' '$T/serve.log') -ge 4 ]" 30
	grep -q "spool: refused '$RUNNER_HOME/spool/1.000000004.1.push': it names repository '$T/other.git/../app.git', which is not that repository's real path; moved to refused/" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/1.000000001.1.push': it is a symbolic link; moved to refused/ for the operator" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/1.000000002.1.push': it is not a regular file; moved to refused/" "$T/serve.log"
	grep -q "spool: refused '$RUNNER_HOME/spool/1.000000003.1.push': it names repository '$T/other.git', which its owner (uid $(id -u "$GIT_USER")) does not own; moved to refused/" "$T/serve.log"
	# kept for the operator where the hook's group cannot reach them
	[ -L "$RUNNER_HOME/spool/refused/1.000000001.1.push" ]
	[ -p "$RUNNER_HOME/spool/refused/1.000000002.1.push" ]
	[ -f "$RUNNER_HOME/spool/refused/1.000000003.1.push" ]
	[ -f "$RUNNER_HOME/spool/refused/1.000000004.1.push" ]
	[ "$(stat -c '%U %a' "$RUNNER_HOME/spool/refused")" = "root 2700" ]
	! as_git ls "$RUNNER_HOME/spool/refused" || false
	[ "$(stat -c '%U %a %s' "$T/victim.log")" = "$before" ]
	# no job, and each is said once: nothing is read again
	[ "$(r status --json --limit 100 | jq '.jobs | length')" = 0 ]
	as_git git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	[ "$(job_field 1 .repo)" = "$T/app.git" ]
	[ "$(grep -c 'spool: refused' "$T/serve.log")" = 4 ]
	[ "$(r status --json --limit 100 | jq '.jobs | length')" = 1 ]
}

@test "a link planted at the next backup's folder is refused, and what it points at keeps its owner" {
	empty_source app
	set_pipeline "$SRC" "Deploys" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && date > dist/built
    artifacts: [dist/**]
environments:
  staging:
    deploy: "true"
    backup: echo saved > "$RUNNER_BACKUP_DIR/data"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	d1=$(last_job deploy staging)
	[ "$(wait_deploy "$d1")" = healthy ] || { r show "$d1" >&2; false; }
	backups=$(env_dir backups app staging)
	[ "$(stat -c %U "$backups")" = runner-build ]
	echo "root's" > "$T/victim"
	chmod 0600 "$T/victim"
	mkdir -m 0700 "$T/victim-dir"
	# the environment's user, at the ids that come next
	for id in $(seq $((d1 + 1)) $((d1 + 6))); do
		as_user runner-build / ln -s "$T/victim" "$backups/$id"
	done
	as_user runner-build / ln -s "$T/victim-dir" "$backups/$((d1 + 7))"
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job deploy staging)\" != $d1 ]" 30
	d2=$(last_job deploy staging)
	[ "$(wait_deploy "$d2")" = failed ] || { r show "$d2" >&2; false; }
	job_field "$d2" .error >&2
	[ "$(job_field "$d2" .error)" = "'$backups/$d2' is a symbolic link: refused, nothing was changed through it (remove it)" ]
	[ "$(stat -c '%U %G %a' "$T/victim")" = "root root 600" ]
	[ "$(cat "$T/victim")" = "root's" ]
	[ "$(stat -c '%U %a' "$T/victim-dir")" = "root 700" ]
	# staging still serves the release before
	[ "$(r status --json | jq -r '.environments[] | select(.name == "staging") | .release')" = "$d1" ]
}

@test "install-hook as root writes a repository of the git user as that user: planted links lead nowhere" {
	git_user
	echo "root's" > "$T/victim"
	chmod 0600 "$T/victim"
	mkdir -m 0755 "$T/rootdir"
	# the git user's repository, links planted where root used to write:
	# at temporary names like the old ones (PATH.tmp.PID), and a hook
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	as_git /usr/bin/python3 - "$T/app.git/hooks/post-receive" "$T/victim" <<'PY'
import os, sys
for pid in range(os.getpid() + 1, os.getpid() + 3000):
    os.symlink(sys.argv[2], "%s.tmp.%d" % (sys.argv[1], pid))
PY
	as_git ln -s "$T/victim" "$T/app.git/hooks/pre-receive"
	run "$RUNNER" install-hook --pre-receive "$T/app.git"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[ "$(stat -c '%U %a' "$T/victim")" = "root 600" ]
	[ "$(cat "$T/victim")" = "root's" ]
	# the hooks are the git user's own files, made without a chown
	for h in post-receive pre-receive; do
		[ "$(stat -c '%U %a' "$T/app.git/hooks/$h")" = "$GIT_USER 755" ]
		grep -q "# runner $h hook" "$T/app.git/hooks/$h"
	done
	# the link that stood at pre-receive is kept as the chained hook
	[ "$(readlink "$T/app.git/hooks/pre-receive.chained")" = "$T/victim" ]
	[ -z "$(find "$T/app.git" -not -user "$GIT_USER")" ] || { find "$T/app.git" -not -user "$GIT_USER" -ls >&2; false; }

	# its config a link to a file of root's: git, run as the git user,
	# cannot write through it, and nothing is chowned
	git init -q --bare "$T/two.git"
	chown -R "$GIT_USER:" "$T/two.git"
	as_git ln -sf "$T/victim" "$T/two.git/config"
	run "$RUNNER" install-hook "$T/two.git"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot turn on push options in '$T/two.git/config'"* ]]
	[ "$(stat -c '%U %a' "$T/victim")" = "root 600" ]
	[ "$(cat "$T/victim")" = "root's" ]

	# a hooks folder swapped for a link to a folder of root's
	git init -q --bare "$T/three.git"
	chown -R "$GIT_USER:" "$T/three.git"
	as_git rm -rf "$T/three.git/hooks"
	as_git ln -s "$T/rootdir" "$T/three.git/hooks"
	run "$RUNNER" install-hook "$T/three.git"
	echo "$output" >&2
	[ "$status" -eq 1 ]
	[ -z "$(ls -A "$T/rootdir")" ]
}

@test "a hooks/update link into a gitolite of the git user's making: install-hook and doctor's fix run nothing of it as root" {
	git_user
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	src=$(make_clone app)
	chown -R "$GIT_USER:" "$src"
	start_daemon --workers 1
	as_git git -C "$src" push -q origin develop
	wait_for "[ -n \"\$(last_job build)\" ]" 30
	stop_daemon
	# the git user, who owns the repository it pushed, makes it look
	# managed by a gitolite of its own: its update hook a link into a
	# gitolite home it owns, with no .gitolite folder yet, and an rc
	# file there (perl, which gitolite runs with 'do')
	as_git rm "$T/app.git/hooks/post-receive"
	as_git ln -s "$T/githome/.gitolite/hooks/common/update" "$T/app.git/hooks/update"
	as_git sh -c "printf 'system(\"id -u >> $MARK-rc\"); 1;\n' > '$T/githome/.gitolite.rc'"
	# doctor as root, then its fix pasted as root
	run r doctor
	echo "$output" >&2
	fix=$(grep -A1 "^FAIL  repository $T/app.git" <<<"$output" | sed -n 's/^      fix: //p')
	[ -n "$fix" ]
	run env PATH="$RUNNER_BIN_DIR:$PATH" sh -c "$fix"
	echo "$output" >&2
	[ ! -e "$MARK-rc" ] || [ "$(cat "$MARK-rc")" != 0 ] || { echo "root ran the git user's .gitolite.rc" >&2; false; }
	[ -z "$(find "$T/githome" -user root)" ] || { find "$T/githome" -user root -ls >&2; false; }
	# the hook is back in the repository's own hooks, the git user's file
	[ "$(stat -c %U "$T/app.git/hooks/post-receive")" = "$GIT_USER" ]
	run r doctor
	[[ "$output" == *"ok    repository $T/app.git"* ]] || { echo "$output"; false; }
	# and install-hook on it by hand, the same
	run "$RUNNER" install-hook "$T/app.git"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ ! -e "$MARK-rc" ] || [ "$(cat "$MARK-rc")" != 0 ] || false
	[ -z "$(find "$T/githome" -user root)" ] || false
}

@test "a root daemon's checkout copies no tag that is a link or a FIFO of the repository's owner into the workspace" {
	git_user
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	# a file of root's alone whose first line reads as an object id
	mkdir -m 0700 "$T/rootonly"
	secret=0123456789abcdef0123456789abcdef01234567
	echo "$secret" > "$T/rootonly/token"
	chmod 0600 "$T/rootonly/token"
	git init -q -b develop "$T/src"
	printf 'stages:\n  - name: unit\n    run: cat .git/packed-refs; git tag -l; git describe --tags\n' > "$T/src/.runner.yml"
	git -C "$T/src" add -A
	git -C "$T/src" commit -q -m one
	git -C "$T/src" tag -a v1 -m v1
	chown -R "$GIT_USER:" "$T/src"
	as_git git -C "$T/src" push -q "$T/app.git" develop v1
	# the owner of the repository makes tags a link to root's file, a
	# FIFO, and a packed-refs that is a link too
	as_git sh -c 'ln -s "$2" "$1/refs/tags/leak" && mkfifo "$1/refs/tags/fifo" &&
	    mkdir -p "$1/refs/tags/deep" && ln -s "$2" "$1/refs/tags/deep/leak2"' \
	    _ "$T/app.git" "$T/rootonly/token"
	start_daemon --workers 1
	wait_state 1 passed 60 || { r log 1 unit; false; }
	r log 1 unit > "$T/log1"
	! grep -q "$secret" "$T/log1" || { cat "$T/log1"; false; }
	# the real tag is there: git describe works in the workspace
	grep -q "refs/tags/v1" "$T/log1" || { cat "$T/log1"; false; }
	grep -qx "v1" "$T/log1" || { cat "$T/log1"; false; }
	# packed-refs a link to root's file (made after the push, which the
	# owner's own git would refuse to take then)
	stop_daemon
	as_git rm -f "$T/app.git/refs/tags/leak" "$T/app.git/refs/tags/fifo" "$T/app.git/refs/tags/deep/leak2"
	as_git git -C "$T/src" commit -q --allow-empty -m two
	as_git git -C "$T/src" push -q "$T/app.git" develop 2>/dev/null
	as_git ln -s "$T/rootonly/token" "$T/app.git/packed-refs"
	printf "%s refs/tags/leak3\n" "$secret" > "$T/rootonly/token"
	start_daemon --workers 1
	# (the owner's own git cannot read its repository now: not built)
	wait_state 2 error 60 || { r show 2; false; }
	r log 2 unit > "$T/log2" 2>&1 || true
	! grep -q "$secret" "$T/log2" || { cat "$T/log2"; false; }
	! r show 2 | grep -q "$secret" || false
	[ "$(stat -c '%a %U' "$T/rootonly/token")" = "600 root" ]
}

# root_secret: $T/secret/w, a repository of root's that no one else may
# read, its pipeline printing what it holds; its commit in $v
root_secret() {
	mkdir -m 0700 "$T/secret"
	git init -q -b develop "$T/secret/w"
	echo "root's secret" > "$T/secret/w/secret.txt"
	printf 'stages:\n  - name: unit\n    run: cat secret.txt\n' > "$T/secret/w/.runner.yml"
	git -C "$T/secret/w" add -A
	git -C "$T/secret/w" commit -q -m secret
	v=$(git -C "$T/secret/w" rev-parse HEAD)
}

@test "a commit of root's whose pack the repository's owner linked into its own is never built for it" {
	git_user
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	root_secret
	git -C "$T/secret/w" repack -a -d -q
	# the git user links root's pack into its repository and spools a
	# push of root's commit (a member of the hooks' group writes the
	# spool; git's receive-pack never sees it)
	for f in "$T"/secret/w/.git/objects/pack/pack-*; do
		as_git ln -s "$f" "$T/app.git/objects/pack/$(basename "$f")"
	done
	zero=0000000000000000000000000000000000000000
	as_git sh -c 'printf "%s\0%s\0%s\0%s\0\0\0" "$2" refs/heads/develop "$3" "$4" > "$1/spool/.e" &&
	    mv "$1/spool/.e" "$1/spool/e.push"' _ "$RUNNER_HOME" "$T/app.git" "$zero" "$v"
	start_daemon --workers 1
	wait_state 1 error 60 || { r show 1; r log 1 unit; false; }
	[[ "$(job_field 1 .error)" == "commit ${v:0:12} is not one that the owner of '$T/app.git' ('$GIT_USER') may read there, so it is not built"* ]] ||
	    { r show 1; false; }
	! r log 1 unit 2>/dev/null | grep -q "root's secret" || false
	! grep -rqs "root's secret" "$RUNNER_HOME/work" || false
}

@test "a repository the owner turns into a link to one of root's after its push is queued is not built from root's" {
	git_user
	mkdir -p "$T/g"
	chown "$GIT_USER:" "$T/g"
	as_git git init -q --bare "$T/g/app.git"
	"$RUNNER" install-hook "$T/g/app.git" >/dev/null
	root_secret
	# the queue held, the git user spools a push of root's commit into its
	# own repository (the spool takes it: the path is its real one, the
	# repository the writer's), then puts a link to root's in its place
	r pause >/dev/null
	start_daemon --workers 1
	zero=0000000000000000000000000000000000000000
	as_git sh -c 'printf "%s\0%s\0%s\0%s\0\0\0" "$2" refs/heads/develop "$3" "$4" > "$1/spool/.e" &&
	    mv "$1/spool/.e" "$1/spool/e.push"' _ "$RUNNER_HOME" "$T/g/app.git" "$zero" "$v"
	wait_for "[ \"\$(job_field 1 .state 2>/dev/null)\" = queued ]" 30 || { r status; cat "$T/serve.log"; false; }
	as_git mv "$T/g/app.git" "$T/g/app.old"
	as_git ln -s "$T/secret/w/.git" "$T/g/app.git"
	r resume >/dev/null
	wait_state 1 error 60 || { r show 1; r log 1 unit; false; }
	[[ "$(job_field 1 .error)" == *"is reached through a link, which root does not follow into a repository"* ]] ||
	    { r show 1; false; }
	! r log 1 unit 2>/dev/null | grep -q "root's secret" || false
	! grep -rqs "root's secret" "$RUNNER_HOME/work" || false
}
