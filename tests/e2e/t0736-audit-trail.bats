#!/usr/bin/env bats
# Every job records who caused it and every release the key that signed
# its tag. The unix user is the kernel's (the hook's real uid, a spool
# file's owner); GL_USER, REMOTE_USER and SSH_USER_AUTH are only what that
# user says, shown beside its name, cleaned. Pushes over the test's own
# sshd (ExposeAuthInfo) and nginx + git http-backend record the key and
# the web server's user. show, --json, the web page and notifications say
# it all.

load lib

setup() {
	setup_env
	# the test's own shell may have come in over ssh: a push by path
	# says nothing of it
	unset SSH_CONNECTION SSH_CLIENT SSH_USER_AUTH GL_USER REMOTE_USER
}
teardown() { teardown_env; }

passing_pipeline() {
	set_pipeline "$1" "${2:-Build}" <<'YML'
stages:
  - name: unit
    run: echo ok
YML
}

# by ID: the "by:" line of runner show, without its label.
by() {
	look r show "$1" | sed -n 's/^by:       //p'
}

# pushed ID: the four audit fields as "by|via|as|key".
pushed() {
	job_field "$1" '"\(.pushed_by)|\(.pushed_via)|\(.pushed_as)|\(.pushed_key)"'
}

@test "a push by path is its unix user's; a GL_USER or REMOTE_USER it sets is shown as its claim" {
	me=$(id -un)
	empty_source app
	passing_pipeline "$SRC"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	[ "$(pushed 1)" = "$me|unix|$me|null" ]
	[ "$(by 1)" = "$me" ]

	# a claim is the pusher's own, labelled, beside its real name
	git -C "$SRC" commit -q --allow-empty -m second
	GL_USER=mallory git -C "$SRC" push -q origin develop
	wait_state 2 passed
	[ "$(pushed 2)" = "mallory|gitolite|$me|null" ]
	[ "$(by 2)" = "mallory (gitolite, as $me)" ]
	git -C "$SRC" commit -q --allow-empty -m third
	REMOTE_USER=carol git -C "$SRC" push -q origin develop
	wait_state 3 passed
	[ "$(by 3)" = "carol (http, as $me)" ]

	# a name that would pass for the words around it, or move a
	# terminal's cursor, is cleaned before it is kept
	git -C "$SRC" commit -q --allow-empty -m fourth
	GL_USER=$'bob (gitolite, as gitolite3)\e[2K' git -C "$SRC" push -q origin develop
	wait_state 4 passed
	[ "$(job_field 4 .pushed_by)" = 'bob??gitolite??as?gitolite3???2K' ]
	[ "$(by 4)" = "bob??gitolite??as?gitolite3???2K (gitolite, as $me)" ]
	db "select pushed_by from jobs where id = 4" | grep -qv $'\e'
	long=$(printf 'x%.0s' $(seq 1 300))
	git -C "$SRC" commit -q --allow-empty -m fifth
	REMOTE_USER=$long git -C "$SRC" push -q origin develop
	wait_state 5 passed
	[ "$(job_field 5 .pushed_by | wc -c)" -eq 101 ]

	# by hand: the command's user; a retry is whoever retried it
	run r run "$T/app.git" develop
	[ "$status" -eq 0 ]
	[ "$(by 6)" = "$me (by hand)" ]
	r retry 1 >/dev/null
	[ "$(pushed 7)" = "$me|cli|$me|null" ]
}

@test "a spooled push is its file's owner's, whatever the entry and its environment say" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	git init -q --bare "$T/app.git"
	chown -R "$GIT_USER:" "$T/app.git"
	"$RUNNER" install-hook "$T/app.git" >/dev/null
	SRC="$T/src"
	git init -q -b develop "$SRC"
	git -C "$SRC" remote add origin "$T/app.git"
	passing_pipeline "$SRC"
	chown -R "$GIT_USER:" "$SRC"
	start_daemon --workers 1

	# the git user says it is gitolite's mallory, and brings the key of
	# a file that is not its own (root's): the name is its claim, the
	# key is not believed
	ssh-keygen -q -t ed25519 -N '' -C other -f "$T/other"
	printf 'publickey %s\n' "$(cut -d' ' -f1,2 "$T/other.pub")" > "$T/auth-root"
	chmod 0644 "$T/auth-root"
	run as_git env GL_USER=mallory SSH_USER_AUTH="$T/auth-root" \
	    git -C "$SRC" push origin develop
	[ "$status" -eq 0 ]
	[[ "$output" == *"handed 1 update"* ]]
	wait_state 1 passed 60
	[ "$(pushed 1)" = "mallory|gitolite|$GIT_USER|null" ]
	[ "$(by 1)" = "mallory (gitolite, as $GIT_USER)" ]

	# its own sshd file: the key is recorded as its claim, named as
	# ssh-keygen names it
	cp "$T/auth-root" "$T/auth-git"
	chown "$GIT_USER:" "$T/auth-git"
	fp=$(ssh-keygen -lf "$T/other.pub" | cut -d' ' -f2)
	as_git git -C "$SRC" commit -q --allow-empty -m second
	as_git env SSH_USER_AUTH="$T/auth-git" git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job build)\" = 2 ]" 30
	wait_state 2 passed 60
	[ "$(pushed 2)" = "$GIT_USER|ssh|$GIT_USER|$fp" ]
	[ "$(by 2)" = "$GIT_USER (ssh, key $fp)" ]

	# a spool entry written by hand that says it came from root, by
	# hand, with a forged key: the daemon takes the name from the file's
	# owner and believes none of the rest
	as_git git -C "$SRC" commit -q --allow-empty -m third
	c=$(git -C "$SRC" rev-parse HEAD)
	as_git git -C "$SRC" push -q -o ci.skip origin develop
	old=$(git -C "$SRC" rev-parse HEAD~1)
	as_git sh -c 'printf "%s\0%s\0%s\0%s\0\0%s\0" "$1" refs/heads/develop "$2" "$3" \
	    "$(printf "via=cli\nby=root\nkey=SHA256:forged\n")" > "$4/spool/.by-hand" &&
	    mv "$4/spool/.by-hand" "$4/spool/by-hand.push"' \
	    sh "$T/app.git" "$old" "$c" "$RUNNER_HOME"
	wait_for "[ \"\$(last_job build)\" = 3 ]" 30
	[ "$(pushed 3)" = "$GIT_USER|unix|$GIT_USER|null" ]
	[ "$(by 3)" = "$GIT_USER" ]
}

# server_repo USER: the bare repository $T/srv/app.git owned by USER with
# the runner's hook, and a clone of the sample app ($SRC).
server_repo() {
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$1:" "$T/srv/app.git"
	"$RUNNER" install-hook "$T/srv/app.git" >/dev/null
	SRC=$(make_clone app)
}

@test "a push over ssh records the account and the key sshd let in, as ssh-keygen names it" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts sshd"
	[ -x /usr/sbin/sshd ] || skip "sshd is not installed (tests/deps.sh installs it)"
	start_sshd runner-test-ssh
	server_repo runner-test-ssh
	git -C "$SRC" remote set-url origin "$SSH_URL$T/srv/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/sshd/sshd.log"; false; }
	wait_state 1 passed 60
	fp=$(ssh-keygen -lf "$SSH_KEY.pub" | cut -d' ' -f2)
	[ "$(pushed 1)" = "runner-test-ssh|ssh|runner-test-ssh|$fp" ]
	[ "$(by 1)" = "runner-test-ssh (ssh, key $fp)" ]

	# another key of the same account: the key of this push
	other=$(ssh_key other)
	git -C "$SRC" commit -q --allow-empty -m second
	GIT_SSH_COMMAND=$(ssh_command "$other") git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job build)\" != 1 ]" 30
	id=$(last_job build)
	fp2=$(ssh-keygen -lf "$other.pub" | cut -d' ' -f2)
	[ "$fp2" != "$fp" ]
	[ "$(job_field "$id" .pushed_key)" = "$fp2" ]
	# the staging deployment it queued is the same push's
	wait_for "[ -n \"\$(r status --json | jq -r '.jobs[] | select(.kind == \"deploy\" and .job == $id) | .id')\" ]" 60
	staging=$(r status --json | jq -r ".jobs[] | select(.kind == \"deploy\" and .job == $id) | .id")
	[ "$(pushed "$staging")" = "runner-test-ssh|ssh|runner-test-ssh|$fp2" ]
}

@test "a push over smart HTTP records the web server's REMOTE_USER, as the web server's user" {
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates users and starts nginx"
	for c in /usr/sbin/nginx /usr/sbin/fcgiwrap; do
		[ -x "$c" ] || skip "$c is not installed (tests/deps.sh installs it)"
	done
	git_user
	server_repo "$GIT_USER"
	start_git_http "$GIT_USER" "$T/srv"
	git -C "$SRC" remote set-url origin "$HTTP_URL/app.git"
	start_daemon --workers 1
	run git -C "$SRC" push origin develop
	[ "$status" -eq 0 ] || { echo "$output"; tail -20 "$T/http/error.log"; false; }
	wait_state 1 passed 60
	[ "$(pushed 1)" = "alice|http|$GIT_USER|null" ]
	[ "$(by 1)" = "alice (http, as $GIT_USER)" ]

	http_user bob hunter2
	git -C "$SRC" commit -q --allow-empty -m second
	git -C "$SRC" push -q "http://bob:hunter2@127.0.0.1:$HTTP_PORT/git/app.git" develop
	wait_for "[ \"\$(last_job build)\" != 1 ]" 30
	[ "$(by "$(last_job build)")" = "bob (http, as $GIT_USER)" ]
}

# received JQ-FILTER: the first request body the sink "hook" received
# that the filter holds for.
received() {
	local f
	for f in "$T"/sink-hook/*.body; do
		if jq -e "$1" "$f" >/dev/null 2>&1; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# release_with MORE: the release set-up with runner.yml's repository
# entry followed by MORE; the sample app built and healthy in staging.
release_with() {
	make_ssh_signer release
	make_gpg_signer
	trust_config "$1"
	make_repo app
	SRC=$(make_clone app)
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
}

@test "a release records the key that signed its tag; show, the page and notifications say who" {
	me=$(id -un)
	WEB_PORT=$(free_port)
	start_sink http hook
	release_with "http:
  listen: 127.0.0.1:$WEB_PORT
notify:
  - name: hook
    webhook: http://127.0.0.1:$SINK_PORT/hook
    on: [deployed]
  - name: chat
    slack: http://127.0.0.1:$SINK_PORT/slack
    on: [deployed]"
	# the staging deployment is the push's: its pusher's
	staging=$(last_job deploy staging)
	[ "$(by "$staging")" = "$me" ]

	ssh_tag "$SRC" v1.0.0 release
	id=$(GL_USER=rm push_tag v1.0.0)
	[ "$(wait_deploy "$id" 90)" = healthy ]
	fp=$(ssh-keygen -lf "$T/keys/release.pub" | cut -d' ' -f2)
	signer="release@example.com (ssh key $fp)"
	[ "$(job_field "$id" .signer)" = "$signer" ]
	[ "$(db "select signer from jobs where id = $id")" = "$signer" ]
	look r show "$id" | grep -qxF "signed:   by $signer"
	[ "$(by "$id")" = "rm (gitolite, as $me)" ]
	grep -qF "release v1.0.0 signed by $signer deploys" "$T/serve.log"

	# the page
	page=$(http_body "$WEB_PORT" "/job/$id")
	[[ "$page" == *"<td id=job-by>rm (gitolite, as $me)</td>"* ]]
	[[ "$page" == *"signed by <span id=job-signer>release@example.com (ssh key $fp)</span>"* ]]

	# the notifications: the webhook's job, the chat's text
	wait_for "received '.job.id == $id' && received '(.text // \"\") | test(\"#$id is healthy\")'" 30
	hook=$(received ".job.id == $id")
	[ "$(jq -r .job.signer "$hook")" = "$signer" ]
	[ "$(jq -r '.job | "\(.pushed_by)|\(.pushed_via)|\(.pushed_as)"' "$hook")" = "rm|gitolite|$me" ]
	text=$(jq -r .text "$(received "(.text // \"\") | test(\"#$id is healthy\")")")
	[[ "$text" == *"by: rm (gitolite, as $me)"* ]] || { echo "$text"; false; }
	[[ "$text" == *"signed by: $signer"* ]] || { echo "$text"; false; }

	# an OpenPGP signature: the key's user id and fingerprint
	git -C "$SRC" commit -q --allow-empty -m "Second release"
	git -C "$SRC" push -q origin develop
	wait_for "[ \"\$(last_job build)\" != 1 ]" 30
	wait_state "$(last_job build)" passed 60
	wait_for "[ \"\$(last_job deploy staging)\" != $staging ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	git -C "$SRC" -c user.signingkey=release@example.com tag -s v1.1.0 -m "Release v1.1.0"
	id=$(push_tag v1.1.0)
	[ "$(wait_deploy "$id" 90)" = healthy ]
	fpr=$(gpg --with-colons --fingerprint release@example.com | awk -F: '$1 == "fpr" { print $10; exit }')
	[ "$(job_field "$id" .signer)" = "Release Manager <release@example.com> (OpenPGP key $fpr)" ]
}
