#!/usr/bin/env bats
# runner doctor and runner status judge as the daemon's user, whoever runs
# them: in each documented install (a root daemon with the repositories of
# the git server's account; the daemon as a user of its own with them; the
# daemon as a user of its own with gitolite3), after a push over ssh that
# ran, doctor finds no problem and no warning and status no warning, run
# as root and as the runner's user. Each seeded fault is a FAIL, as root
# and as the runner's user, whose printed fix (root's to paste, the
# runner's user's saying "as root:") makes doctor clean again.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts sshd"
}
teardown() { teardown_env; }

# doctor_clean [AS...]: doctor, run with the command prefix AS (nothing:
# as root), exits 0 with no problem and no warning; status has no warning.
doctor_clean() {
	run "$@" "$RUNNER" doctor
	[ "$status" -eq 0 ] || { echo "doctor as ${1:-root}:"; echo "$output"; false; }
	[[ "$output" == *"0 problems, 0 warnings"* ]] || { echo "doctor as ${1:-root}:"; echo "$output"; false; }
	run "$@" "$RUNNER" status
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" != *"warning"* ]] || { echo "status as ${1:-root}:"; echo "$output"; false; }
	[ "$("$@" "$RUNNER" status --json | jq '.warnings | length')" = 0 ]
}

# as_svc CMD...: CMD as the daemon's own user, with its home
as_svc() {
	svc "$@"
}

# ssh_repo: the bare repository $T/srv/app.git of the server's account
# (sshd's $SSH_USER), the runner's hook installed by root, and a clone of
# the sample app pushing to it over ssh ($SRC).
ssh_repo() {
	SSH_USER=runner-test-ssh
	start_sshd "$SSH_USER"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$SSH_USER:" "$T/srv/app.git"
	run "$RUNNER" install-hook "$T/srv/app.git"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin "$SSH_URL$T/srv/app.git"
}

# signers FILE OWNER: an allowed signers file the runner's user keeps
signers() {
	make_ssh_signer release
	[ "$1" = "$T/allowed_signers" ] || mv "$T/allowed_signers" "$1"
	chown "$2" "$1"
	chmod 0644 "$1"
}

@test "a root daemon, the repositories the git server's: doctor and status are clean" {
	ssh_repo
	signers "$T/allowed_signers" root
	printf 'repos:\n  - path: %s\n    allowed_signers: %s\n' "$T/srv/app.git" \
	    "$T/allowed_signers" > "$RUNNER_HOME/runner.yml"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[[ "$output" == *"handed 1 update"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	doctor_clean
	run r doctor
	[[ "$output" == *"ok    confinement: build stages run as 'runner-build-0'"* ]]
}

@test "the daemon as its own user, the repositories the git server's: clean as root and as it" {
	svc_home
	ssh_repo
	# the runner's user keeps the signers, as in /var/lib/runner
	signers "$S/allowed_signers" "$SVC"
	printf 'repos:\n  - path: %s\n    allowed_signers: %s\n' "$T/srv/app.git" \
	    "$S/allowed_signers" > "$RUNNER_HOME/runner.yml"
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	run git -C "$SRC" push origin develop
	[[ "$output" == *"handed 1 update"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	doctor_clean
	doctor_clean as_svc
	# root judges the daemon's confinement as the daemon's user, not its own
	run r doctor
	[[ "$output" == *"ok    confinement: repository code runs under bubblewrap (user namespace), as the daemon's user '$SVC'"* ]] ||
	    { echo "$output"; false; }
	[[ "$output" != *"runner-build"* ]]
	# a signers file of another user: the fix doctor prints, as root, works
	chown "$SSH_USER" "$S/allowed_signers"
	run r doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *"'$S/allowed_signers' belongs to uid $(id -u "$SSH_USER"), not to the runner's user '$SVC' or root"* ]]
	fix=$(r doctor --json | jq -r '.checks[] | select(.status == "problem") | .fix')
	[ "$fix" = "chown $SVC '$S/allowed_signers'" ]
	sh -c "$fix"
	doctor_clean
	doctor_clean as_svc
}

@test "the daemon as its own user with gitolite3: clean as root and as it" {
	command -v gitolite >/dev/null || skip "gitolite3 is not installed (tests/deps.sh installs it)"
	git_user
	svc_home runner-test-gsvc
	# as docs/operations.md says: the runner's user in gitolite's group,
	# UMASK 0027, the group's bits on what exists
	i=0
	while ! id -nG "$SVC" | grep -qw "$GIT_USER" && [ $i -lt 100 ]; do
		usermod -aG "$GIT_USER" "$SVC" 2>/dev/null || nap 0.1
		i=$((i + 1))
	done
	start_gitolite "$GIT_USER" 0027
	gitolite_conf 'repo app
    RW+ develop = admin' >/dev/null
	chmod g+x "$GL" "$GL/repositories"
	chmod -R g+rX "$GL/repositories"
	repo="$GL/repositories/app.git"
	"$RUNNER" install-hook "$repo" >/dev/null
	[ "$(stat -c %a "$GL/.gitolite")" = 700 ]
	printf 'repos:\n  - path: %s\n' "$repo" > "$RUNNER_HOME/runner.yml"
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	src=$(make_clone app)
	git -C "$src" remote set-url origin admin@gl:app
	run git -C "$src" push origin develop
	[[ "$output" == *"handed 1 update"* ]] || { echo "$output"; false; }
	wait_state 1 passed 60
	doctor_clean
	doctor_clean as_svc
	# the daemon's user may not look into gitolite's .gitolite (0700), and
	# need not: not checked, and no fix that could not work
	run svc "$RUNNER" doctor
	[[ "$output" == *"ok    repository $repo: not checked: user '$SVC' may not look into $GL/.gitolite/hooks/common"* ]] ||
	    { echo "$output"; false; }
	run r doctor
	[[ "$output" == *"ok    repository $repo: the hook queues its pushes here"* ]] || { echo "$output"; false; }
}

# del_group USER GROUP: USER out of GROUP (/etc/group may be locked by
# another test's useradd)
del_group() {
	local i=0
	while id -nG "$1" | grep -qw "$2" && [ $i -lt 100 ]; do
		gpasswd -d "$1" "$2" >/dev/null 2>&1 || nap 0.1
		i=$((i + 1))
	done
	! id -nG "$1" | grep -qw "$2" || false
}

# fix_of [AS...]: the one fix doctor prints, run as AS (nothing: root)
fix_of() {
	"$@" "$RUNNER" doctor --json | jq -r '.checks[] | select(.status == "problem") | .fix'
}

@test "the daemon as its own user: each seeded fault of a repository FAILs as root and as it, and the printed fix makes it clean" {
	svc_home runner-test-dsvc
	OWNER=runner-test-downer
	test_user "$OWNER"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$OWNER:" "$T/srv/app.git"
	repo="$T/srv/app.git"
	"$RUNNER" install-hook "$repo" >/dev/null
	printf 'repos:\n  - path: %s\n' "$repo" > "$RUNNER_HOME/runner.yml"
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	start_svc_daemon
	doctor_clean
	doctor_clean as_svc
	g=$(stat -c %G "$RUNNER_HOME")
	cmd="runner install-hook --home '$RUNNER_HOME' '$repo'"

	# the hook's user out of the home's group: its pushes would queue
	# nothing, which doctor says, as root and as the daemon's user
	del_group "$OWNER" "$g"
	for as in "" as_svc; do
		run $as "$RUNNER" doctor
		[ "$status" -eq 1 ] || { echo "$output"; false; }
		[[ "$output" == *"FAIL  repository $repo: its hook runs as '$OWNER', who is not in group '$g': its pushes queue nothing"* ]] ||
		    { echo "doctor as ${as:-root}:"; echo "$output"; false; }
	done
	# root may paste its fix; the daemon's user is told that root runs it
	[ "$(fix_of)" = "$cmd" ]
	[ "$(fix_of as_svc)" = "as root: $cmd" ]
	PATH="$RUNNER_BIN_DIR:$PATH" sh -c "$(fix_of)" >/dev/null
	id -nG "$OWNER" | grep -qw "$g"
	doctor_clean
	doctor_clean as_svc

	# the hook not executable: the same, the daemon's user's fix run by
	# root as it says
	chmod -x "$repo/hooks/post-receive"
	run as_svc "$RUNNER" doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAIL  repository $repo: '$repo/hooks/post-receive' is not executable"* ]] ||
	    { echo "$output"; false; }
	fix=$(fix_of as_svc)
	[ "$fix" = "as root: $cmd" ]
	PATH="$RUNNER_BIN_DIR:$PATH" sh -c "${fix#as root: }" >/dev/null
	doctor_clean
	doctor_clean as_svc

	# the home's modes: the fixes the daemon's user is given are its own
	# to run
	chmod 0644 "$RUNNER_HOME/runner.yml"
	chmod 0777 "$RUNNER_HOME/spool"
	run as_svc "$RUNNER" doctor
	[ "$status" -eq 1 ]
	[[ "$output" == *"'$RUNNER_HOME/runner.yml' is mode 0644"* ]] || { echo "$output"; false; }
	[[ "$output" == *"'$RUNNER_HOME/spool' is mode 2777"* ]] || { echo "$output"; false; }
	fix_of as_svc > "$T/fixes"
	[ "$(wc -l < "$T/fixes")" = 2 ]
	while IFS= read -r fix; do
		as_svc sh -c "$fix"
	done < "$T/fixes"
	doctor_clean
	doctor_clean as_svc
}

@test "the fix for a repository's chained hook, pasted by root, changes nothing its owner links to" {
	svc_home runner-test-dsvc
	OWNER=runner-test-downer
	test_user "$OWNER"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	repo="$T/srv/app.git"
	printf '#!/bin/sh\nexit 0\n' > "$repo/hooks/post-receive"
	chmod +x "$repo/hooks/post-receive"
	chown -R "$OWNER:" "$repo"
	"$RUNNER" install-hook "$repo" >/dev/null
	printf 'repos:\n  - path: %s\n' "$repo" > "$RUNNER_HOME/runner.yml"
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	chain="$repo/hooks/post-receive.chained"
	[ -x "$chain" ]
	# the owner puts a link to a file of root's in place of its chained
	# hook: doctor as root says it cannot run, and prints a fix for root
	printf 'secret\n' > "$T/rootfile"
	chmod 0600 "$T/rootfile"
	as_user "$OWNER" "$T" sh -c 'rm -f "$1" && ln -s "$2" "$1"' _ "$chain" "$T/rootfile"
	run "$RUNNER" doctor
	[ "$status" -eq 1 ] || { echo "$output"; false; }
	[[ "$output" == *"FAIL  repository $repo: the chained hook '$chain' is not executable"* ]] || { echo "$output"; false; }
	fix=$(fix_of)
	[ "$fix" = "runuser -u $OWNER -- chmod +x '$chain'" ] || { echo "fix: $fix"; false; }
	# the daemon's user is told the same, for root to run
	[ "$(fix_of as_svc)" = "as root: $fix" ] || { fix_of as_svc; false; }
	sh -c "$fix" 2>/dev/null || true
	[ "$(stat -c '%a %U' "$T/rootfile")" = "600 root" ]
	# the owner's own chained hook, not executable: the same fix works
	as_user "$OWNER" "$T" sh -c 'rm -f "$1" && printf "#!/bin/sh\nexit 0\n" > "$1"' _ "$chain"
	run "$RUNNER" doctor
	[[ "$output" == *"FAIL  repository $repo: the chained hook '$chain' is not executable"* ]] || { echo "$output"; false; }
	sh -c "$(fix_of)"
	[ -x "$chain" ]
	run "$RUNNER" doctor
	[[ "$output" != *"FAIL  repository"* ]] || { echo "$output"; false; }
}
