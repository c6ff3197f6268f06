#!/usr/bin/env bats
# Debian's gitolite3 manages the repositories: install-hook puts the
# runner's hook into gitolite's common hooks, pushes through gitolite-shell
# (as sshd runs it for a key) queue and run jobs, recorded as gitolite's
# user's (with its git note, which the root daemon had written as
# gitolite's user, in a clone), gitolite's own update hook still enforces
# its rules, the hook
# survives gitolite rewriting the hooks, and a repository created later
# gets it too. With UMASK 0027 and the runner's user in gitolite's group,
# as documented, a build sees no repository but its own.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	# repositories the build user may read, for git in its stages (the
	# documented set-up; gitolite's default is 0077)
	start_gitolite "$GIT_USER" 0022
	chmod 0755 "$GL/repositories"
}
teardown() {
	rm -rf "${MARK:?}-gl"
	teardown_env
}

# clone_app NAME: a clone of the sample app whose origin is NAME through
# gitolite.
clone_app() {
	local dir
	dir=$(make_clone "$1")
	git -C "$dir" remote set-url origin "admin@gl:$1"
	echo "$dir"
}

@test "gitolite: the runner's hook and gitolite's run, after rewrites and in new repositories" {
	gitolite_conf 'repo app
    RW+ develop = admin'
	[ -L "$GL/repositories/app.git/hooks/update" ]
	run "$RUNNER" install-hook "$GL/repositories/app.git"
	[ "$status" -eq 0 ]
	[[ "$output" == *"installed post-receive hook in gitolite's common hooks '$GL/.gitolite/hooks/common'"* ]]
	[[ "$output" == *"user '$GIT_USER'"*"group 'runner'"* ]]
	# gitolite linked it into the repository
	[ "$(readlink "$GL/repositories/app.git/hooks/post-receive")" = "$GL/.gitolite/hooks/common/post-receive" ]
	start_daemon --workers 1
	src=$(clone_app app)
	run git -C "$src" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	[[ "$output" != *"warning"* ]]
	wait_state 1 passed 60 || { r log 1 build >&2; false; }
	[ "$(job_field 1 .repo)" = "$GL/repositories/app.git" ]
	# who pushed: gitolite's user, as the unix user gitolite runs as
	[ "$(job_field 1 '"\(.pushed_by)|\(.pushed_via)|\(.pushed_as)"')" = "admin|gitolite|$GIT_USER" ]
	r show 1 | grep -qxF "by:       admin (gitolite, as $GIT_USER)"
	# the root daemon has the job's git note written as gitolite's user:
	# a clone through gitolite fetches it
	wait_for "git -C '$src' fetch -q origin refs/notes/runner:refs/notes/runner" 30
	git -C "$src" log --notes=runner -1 develop | grep -q "^    runner: build #1 passed on develop in "
	[ -z "$(find "$GL/repositories/app.git" -not -user "$GIT_USER")" ]
	# gitolite's update hook still decides who may write what
	run git -C "$src" push origin develop:refs/heads/feature
	[ "$status" -ne 0 ]
	[[ "$output" == *"DENIED"* ]]
	# gitolite rewrites every hook; the runner's is still there and runs
	as_git env HOME="$GL" gitolite setup --hooks-only >/dev/null 2>&1
	gitolite_conf 'repo app2
    RW+ develop = admin'
	git -C "$src" commit -q --allow-empty -m "After gitolite rewrote its hooks"
	git -C "$src" push -q origin develop
	wait_for "[ \"\$(last_job build)\" -gt 1 ]" 30
	wait_state "$(last_job build)" passed 60
	# a repository gitolite created later gets the hook by itself
	[ "$(readlink "$GL/repositories/app2.git/hooks/post-receive")" = "$GL/.gitolite/hooks/common/post-receive" ]
	src2=$(clone_app app2)
	run git -C "$src2" push origin develop
	[[ "$output" == *"runner: handed 1 update to the runner"* ]]
	wait_for "[ \"\$(r status --json | jq -r '.jobs[] | select(.repo == \"$GL/repositories/app2.git\" and .kind == \"build\") | .state')\" = passed ]" 60
	# running install-hook again changes nothing and chains nothing
	"$RUNNER" install-hook "$GL/repositories/app.git" >/dev/null
	[ ! -e "$GL/.gitolite/hooks/common/post-receive.chained" ]
	[ ! -e "$GL/repositories/app.git/hooks/post-receive.chained" ]
}

@test "gitolite UMASK 0027, the daemon's user in gitolite's group: a build reads no other repository" {
	# as docs/operations.md sets it up for a daemon of its own user: that
	# user in gitolite's group (a user of this test's own), UMASK 0027,
	# the group's bits on what exists
	svc_home runner-test-gsvc
	i=0
	while ! id -nG "$SVC" | grep -qw "$GIT_USER" && [ $i -lt 100 ]; do
		usermod -aG "$GIT_USER" "$SVC" 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
	# outside /tmp, which a stage sees as a folder of its own: as
	# ~gitolite3 is
	rm -rf "$GL" "$T/admin"
	GL="$MARK-gl"
	start_gitolite "$GIT_USER" 0027
	gitolite_conf 'repo secret
    RW+ = admin
repo team/app
    RW+ develop = admin' >/dev/null
	chmod g+x "$GL" "$GL/repositories"
	chmod -R g+rX "$GL/repositories"
	"$RUNNER" install-hook "$GL/repositories/team/app.git" >/dev/null
	start_svc_daemon
	src="$T/app-src"
	git init -q -b develop "$src"
	cat > "$src/.runner.yml" <<YML
stages:
  - name: look
    run: |
      for f in $GL/repositories/secret.git/config $GL/repositories/gitolite-admin.git/config $GL/.gitolite.rc; do
        if [ -r "\$f" ]; then echo "READ \$f"; fi
      done
      git --git-dir=$GL/repositories/team/app.git rev-parse develop
YML
	git -C "$src" add -A
	git -C "$src" commit -q -m look
	git -C "$src" remote add origin admin@gl:team/app
	git -C "$src" push -q origin develop 2>/dev/null
	wait_state 1 passed 60 || { r log 1 look >&2; false; }
	run r log 1 look
	echo "$output" >&2
	# its own repository it reads, as git in a stage does
	[[ "$output" == *"$(git -C "$src" rev-parse HEAD)"* ]]
	[[ "$output" != *"READ "* ]]
	# nor a build of a repository outside gitolite's (the git server's
	# account's, pushed to over ssh)
	git init -q --bare "$T/plain.git"
	chown -R "$GIT_USER:" "$T/plain.git"
	"$RUNNER" install-hook "$T/plain.git" >/dev/null
	sed -i '/rev-parse/d' "$src/.runner.yml"
	git -C "$src" commit -q -am "look from elsewhere"
	chown -R "$GIT_USER:" "$src"
	as_git git -C "$src" push -q "$T/plain.git" develop 2>/dev/null
	wait_for "[ -n \"\$(r status --json | jq -r '.jobs[] | select(.repo == \"$T/plain.git\" and .state == \"passed\") | .id')\" ]" 60
	id=$(r status --json | jq -r ".jobs[] | select(.repo == \"$T/plain.git\") | .id")
	run r log "$id" look
	[[ "$output" != *"READ "* ]] || { echo "$output"; false; }
}
