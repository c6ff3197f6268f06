#!/usr/bin/env bats
# Debian's gitolite3 manages the repositories: install-hook puts the
# runner's hook into gitolite's common hooks, pushes through gitolite-shell
# (as sshd runs it for a key) queue and run jobs, recorded as gitolite's
# user's, gitolite's own update hook still enforces its rules, the hook
# survives gitolite rewriting the hooks, and a repository created later
# gets it too.

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
teardown() { teardown_env; }

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
