#!/usr/bin/env bats
# M-of-N approvals of a release (runner.yml environments: production:
# approvals: N): signed tags RELEASE+approved.NAME by trusted keys, the
# release tag's signer counting as one; counted by key at the moment the
# deployment decides, so a key taken out of allowed_signers withdraws its
# approvals; refused at pre-receive when they do not verify; a held
# release shown by status, the web page and an approval_needed
# notification; the hook of the git server's user has the daemon judge
# its approvals.

load lib

# The sample app built and healthy in staging; three trusted SSH keys
# (alice, bob, carol) and one that is not (mallory); production needs
# $1 approvals; notifications of every event go to an HTTP sink.
approvals_setup() {
	setup_env
	for k in alice bob carol; do make_ssh_signer $k; done
	make_ssh_signer mallory untrusted
	[ "${2:-}" != gpg ] || make_gpg_signer
	start_sink http hook
	WEB_PORT=$(free_port)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
environments:
  production:
    approvals: $1
notify:
  - name: audit
    webhook: http://127.0.0.1:$SINK_PORT/hook
    on: [approval_needed, deployed]"
	make_repo app
	r install-hook --pre-receive "$T/app.git"
	SRC=$(make_clone app)
	start_daemon --workers 2
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
}

teardown() {
	[ -z "${AGENT_PID:-}" ] || kill "$AGENT_PID" 2>/dev/null || true
	teardown_env
}

# approve NAME KEY [COMMIT]: the signed tag v1.0.0+approved.NAME by KEY, of
# COMMIT (default: what v1.0.0 is of), pushed; prints what the push said.
approve() {
	local c=${3:-v1.0.0^{commit\}}
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/$2.pub" \
	    tag -s "v1.0.0+approved.$1" -m "Approved by $1" "$c"
	git -C "$SRC" push origin "refs/tags/v1.0.0+approved.$1" 2>&1
}

# The body of the webhook sink's notification of EVENT, once it arrived.
sink_event() {
	local f
	for f in "$T"/sink-hook/*.body; do
		[ -e "$f" ] || continue
		if [ "$(jq -r .event "$f")" = "$1" ]; then
			cat "$f"
			return 0
		fi
	done
	return 1
}

@test "2 of 3: the tag alone waits, the second key deploys, one key counts once" {
	approvals_setup 2
	ssh_tag "$SRC" v1.0.0 alice
	id=$(push_tag v1.0.0)
	[ -n "$id" ]
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "waiting for approvals: 1 of 2 approvals: alice@example.com; 1 more needed" ] ||
	    { r show "$id"; false; }
	# nothing deployed
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
	run r status
	[[ "$output" == *"Releases waiting for approval:"*"v1.0.0 of app to production (deployment #$id): 1 of 2 approvals: alice@example.com; 1 more needed"* ]] ||
	    { echo "$output"; false; }
	[ "$(r status --json | jq -r '.pending_releases[0] | "\(.tag) \(.have) \(.need) \(.more)"')" = "v1.0.0 1 2 1" ]
	# so does the web page's overview
	wait_for "http_body $WEB_PORT / | grep -q 'Waiting for approval'" 20
	page=$(http_body "$WEB_PORT" /)
	[[ "$page" == *"<code>v1.0.0</code>"*"1 of 2 approvals: alice@example.com; 1 more needed"* ]] ||
	    { echo "$page"; false; }
	# the notification names who approved and how many are needed
	wait_for "sink_event approval_needed" 30
	body=$(sink_event approval_needed)
	[[ "$(jq -r .summary <<<"$body")" == *"1 of 2 approvals: alice@example.com; 1 more needed"* ]] ||
	    { echo "$body"; false; }

	# alice approving again with her own key: still one key
	run approve alice-again alice
	[ "$status" -eq 0 ]
	again=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ -n "$again" ] || { echo "$output"; false; }
	[ "$(wait_deploy "$again")" = rejected ]
	[ "$(job_field "$again" .error)" = "waiting for approvals: 1 of 2 approvals: alice@example.com; 1 more needed" ]
	r log "$again" approvals | grep -q "tag 'v1.0.0+approved.alice-again': alice@example.com (ssh key SHA256:.*) approved already (a key counts once)" ||
	    { r log "$again" approvals; false; }
	[ "$(r status --json | jq -r '[.pending_releases[] | .job] | join(" ")')" = "$again" ]

	# carol approving another commit is refused at push time
	git -C "$SRC" commit -q --allow-empty -m "Not the release"
	run approve carol carol HEAD
	[ "$status" -ne 0 ]
	[[ "$output" == *"runner: refusing approval tag 'v1.0.0+approved.carol': approval tag 'v1.0.0+approved.carol' points at commit $(git -C "$SRC" rev-parse --short=7 HEAD), but release tag 'v1.0.0' is of commit $(git -C "$SRC" rev-parse --short=7 v1.0.0^{commit})"* ]] ||
	    { echo "$output"; false; }
	! git -C "$T/app.git" rev-parse -q --verify "refs/tags/v1.0.0+approved.carol" || false

	# bob's approval is the second key: the release deploys
	run approve bob bob
	[ "$status" -eq 0 ]
	dep=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ -n "$dep" ] || { echo "$output"; false; }
	[ "$(wait_deploy "$dep" 90)" = healthy ] || { r show "$dep"; false; }
	[ "$(job_field "$dep" .tag)" = v1.0.0 ]
	[ "$(job_field "$dep" .ref)" = refs/tags/v1.0.0 ]
	[ "$(job_field "$dep" .commit)" = "$(git -C "$SRC" rev-parse v1.0.0^{commit})" ]
	[ "$(job_field "$dep" '.approvals | "\(.have) \(.need)"')" = "2 2" ]
	[ "$(job_field "$dep" '.approvals.approvers | length')" = 2 ]
	job_field "$dep" '.approvals.approvers[0]' | grep -q "^alice@example.com (ssh key SHA256:"
	job_field "$dep" '.approvals.approvers[1]' | grep -q "^bob@example.com (ssh key SHA256:.*(tag 'v1.0.0+approved.bob')"
	run r show "$dep"
	[[ "$output" == *"approved: 2 of 2 approvals: alice@example.com, bob@example.com"* ]] || { echo "$output"; false; }
	run r releases production
	[[ "$output" == *"#$dep "*"healthy"*"v1.0.0"*"approved: alice@example.com, bob@example.com (2 of 2)"* ]] || { echo "$output"; false; }
	# no longer pending; the job page names the approvers
	[ "$(r status --json | jq '.pending_releases | length')" = 0 ]
	page=$(http_body "$WEB_PORT" "/job/$dep")
	[[ "$page" == *"<h2>Approvals</h2>"*"2 of 2 approvals: alice@example.com, bob@example.com"*"<li>bob@example.com (ssh key SHA256:"* ]] ||
	    { echo "$page"; false; }
	[[ "$(http_body "$WEB_PORT" /)" != *"Waiting for approval"* ]]
	wait_for "sink_event deployed" 30
}

@test "a key taken out of allowed_signers no longer counts" {
	approvals_setup 3 gpg
	ssh_tag "$SRC" v1.0.0 alice
	id=$(push_tag v1.0.0)
	[ "$(wait_deploy "$id")" = rejected ]
	run approve bob bob
	[ "$status" -eq 0 ]
	held=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ "$(wait_deploy "$held")" = rejected ]
	[ "$(job_field "$held" .error)" = "waiting for approvals: 2 of 3 approvals: alice@example.com, bob@example.com; 1 more needed" ]
	# bob's key is revoked before the deciding approval
	sed -i '/^bob@example.com /d' "$T/allowed_signers"
	run approve carol carol
	[ "$status" -eq 0 ]
	dep=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ "$(wait_deploy "$dep")" = rejected ]
	[ "$(job_field "$dep" .error)" = "waiting for approvals: 2 of 3 approvals: alice@example.com, carol@example.com; 1 more needed" ] ||
	    { r show "$dep"; false; }
	r log "$dep" approvals | grep -q "v1.0.0+approved.bob.*not by an allowed signer" ||
	    { r log "$dep" approvals; false; }
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
	# an OpenPGP key of the keyring approves, as operations.md says: the
	# third key, and it deploys
	git -C "$SRC" -c user.signingkey=release@example.com \
	    tag -s v1.0.0+approved.release -m "Approved: v1.0.0" 'v1.0.0^{commit}'
	id=$(push_tag "v1.0.0+approved.release")
	[ "$(wait_deploy "$id" 90)" = healthy ] || { r show "$id"; false; }
	[ "$(job_field "$id" '.approvals | "\(.have) \(.need)"')" = "3 3" ]
	job_field "$id" '.approvals.approvers[2]' | grep -q "^Release Manager <release@example.com> (OpenPGP key [0-9A-F]*) (tag 'v1.0.0+approved.release')"
	# bob's approval, not counted, is not among them
	! job_field "$id" '.approvals.approvers[]' | grep -q bob || false
}

@test "an OpenPGP key approving with two of its signing subkeys counts once" {
	approvals_setup 2 gpg
	# one certificate, one person: its primary key and a second signing
	# subkey, both in the keyring
	primary=$(gpg --batch --with-colons --list-keys release@example.com |
	    awk -F: '$1 == "fpr" { print $10; exit }')
	gpg --batch --quiet --passphrase '' --quick-add-key "$primary" ed25519 sign 1y
	gpg --batch --export > "$T/release-keys.gpg"
	sub=$(gpg --batch --with-colons --list-keys release@example.com |
	    awk -F: '$1 == "fpr" { f = $10 } END { print f }')
	[ -n "$primary" ]
	[ -n "$sub" ]
	[ "$primary" != "$sub" ]
	git -C "$SRC" -c user.signingkey="$primary!" tag -s v1.0.0 -m "Release v1.0.0"
	id=$(push_tag v1.0.0)
	[ "$(wait_deploy "$id")" = rejected ]
	git -C "$SRC" -c user.signingkey="$sub!" \
	    tag -s v1.0.0+approved.again -m "Approved: v1.0.0" 'v1.0.0^{commit}'
	# pre-receive takes it (it verifies), the deployment counts one key
	run git -C "$SRC" push origin refs/tags/v1.0.0+approved.again
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	dep=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ -n "$dep" ] || { echo "$output"; false; }
	[ "$(wait_deploy "$dep")" = rejected ] || { r show "$dep"; false; }
	[ "$(job_field "$dep" .error)" = "waiting for approvals: 1 of 2 approvals: Release Manager <release@example.com>; 1 more needed" ] ||
	    { r show "$dep"; false; }
	r log "$dep" approvals | grep -q "tag 'v1.0.0+approved.again': .*(OpenPGP key $primary) approved already (a key counts once)" ||
	    { r log "$dep" approvals; false; }
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
}

@test "one SSH key under two certificates of a trusted CA counts once" {
	approvals_setup 2
	# allowed_signers trusts a CA for dave, who has one key, certified twice
	ssh-keygen -q -t ed25519 -N '' -C ca -f "$T/keys/ca"
	echo "dave@example.com cert-authority,namespaces=\"git\" $(cut -d' ' -f1,2 "$T/keys/ca.pub")" \
	    >> "$T/allowed_signers"
	ssh-keygen -q -t ed25519 -N '' -C dave -f "$T/keys/dave"
	eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
	AGENT_PID=$SSH_AGENT_PID
	for n in 1 2; do
		ssh-keygen -q -s "$T/keys/ca" -I "dave-$n" -n dave@example.com -z "$n" \
		    "$T/keys/dave.pub"
		cp "$T/keys/dave-cert.pub" "$T/keys/dave-cert$n.pub"
		ssh-add -q "$T/keys/dave" 2>/dev/null
	done
	[ "$(ssh-keygen -lf "$T/keys/dave-cert1.pub" | cut -d' ' -f2)" = "$(ssh-keygen -lf "$T/keys/dave.pub" | cut -d' ' -f2)" ]
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/dave-cert1.pub" \
	    tag -s v1.0.0 -m "Release v1.0.0"
	id=$(push_tag v1.0.0)
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "waiting for approvals: 1 of 2 approvals: dave@example.com; 1 more needed" ] ||
	    { r show "$id"; false; }
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/dave-cert2.pub" \
	    tag -s v1.0.0+approved.again -m "Approved: v1.0.0" 'v1.0.0^{commit}'
	run git -C "$SRC" push origin refs/tags/v1.0.0+approved.again
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	dep=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ -n "$dep" ] || { echo "$output"; false; }
	[ "$(wait_deploy "$dep")" = rejected ] || { r show "$dep"; false; }
	[ "$(job_field "$dep" .error)" = "waiting for approvals: 1 of 2 approvals: dave@example.com; 1 more needed" ] ||
	    { r show "$dep"; false; }
	# known by the key's own fingerprint, as ssh-keygen -l names it
	fp=$(ssh-keygen -lf "$T/keys/dave.pub" | cut -d' ' -f2)
	r log "$dep" approvals | grep -qF "tag 'v1.0.0+approved.again': dave@example.com (ssh key $fp) approved already (a key counts once)" ||
	    { r log "$dep" approvals; false; }
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
}

@test "pre-receive refuses approvals that do not verify, with the reason" {
	approvals_setup 2
	ssh_tag "$SRC" v1.0.0 alice
	id=$(push_tag v1.0.0)
	[ "$(wait_deploy "$id")" = rejected ]
	c=$(git -C "$SRC" rev-parse v1.0.0^{commit})
	# unsigned, lightweight, an untrusted key, badly signed, no release
	git -C "$SRC" tag -a "v1.0.0+approved.unsigned" -m "trust me" "$c"
	git -C "$SRC" tag "v1.0.0+approved.light" "$c"
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/mallory.pub" \
	    tag -s "v1.0.0+approved.mallory" -m "Approved" "$c"
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/bob.pub" \
	    tag -s "v1.0.0+approved.forged" -m "Approved by bob" "$c"
	git -C "$SRC" cat-file tag "v1.0.0+approved.forged" |
	    sed 's/^Approved by bob$/Approved by bob, and more/' |
	    git -C "$SRC" mktag > "$T/forged"
	git -C "$SRC" update-ref "refs/tags/v1.0.0+approved.forged" "$(cat "$T/forged")"
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/bob.pub" \
	    tag -s "v9.9.9+approved.bob" -m "Approved" "$c"
	declare -A want=(
		[v1.0.0+approved.unsigned]="approval tag 'v1.0.0+approved.unsigned' is not signed"
		[v1.0.0+approved.light]="'v1.0.0+approved.light' is a lightweight tag"
		[v1.0.0+approved.mallory]="approval tag 'v1.0.0+approved.mallory': signature is not by an allowed signer"
		[v1.0.0+approved.forged]="approval tag 'v1.0.0+approved.forged': bad SSH signature by 'bob@example.com'"
		[v9.9.9+approved.bob]="approval tag 'v9.9.9+approved.bob': there is no release tag 'v9.9.9' to approve"
	)
	for t in "${!want[@]}"; do
		run git -C "$SRC" push origin "refs/tags/$t"
		[ "$status" -ne 0 ] || { echo "$t: $output"; false; }
		[[ "$output" == *"runner: refusing approval tag '$t': "*"${want[$t]}"* ]] ||
		    { echo "$t: $output"; false; }
		! git -C "$T/app.git" rev-parse -q --verify "refs/tags/$t" || false
	done
	[ "$(r status --json | jq '.pending_releases | length')" = 1 ]
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
	# a release and its approval in one push: the approval is judged
	# against the pushed release, and the release's deployment counts it
	ssh_tag "$SRC" v1.0.1 alice
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/bob.pub" \
	    tag -s "v1.0.1+approved.bob" -m "Approved" "$c"
	run git -C "$SRC" push origin refs/tags/v1.0.1 "refs/tags/v1.0.1+approved.bob"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(grep -c "queued release" <<<"$output")" = 1 ] || { echo "$output"; false; }
	dep=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$output")
	[ "$(wait_deploy "$dep" 90)" = healthy ] || { r show "$dep"; false; }
	[ "$(job_field "$dep" '.approvals | "\(.have) \(.need)"')" = "2 2" ]
	# v1.0.0, older, is no longer pending
	[ "$(r status --json | jq '.pending_releases | length')" = 0 ]
}

@test "a develop pusher without the pre-receive hook reaches nothing through approval tags" {
	approvals_setup 2
	rm -f "$T/app.git/hooks/pre-receive"
	ssh_tag "$SRC" v1.0.0 alice
	id=$(push_tag v1.0.0)
	[ "$(wait_deploy "$id")" = rejected ]
	c=$(git -C "$SRC" rev-parse v1.0.0^{commit})
	# approvals that do not verify are taken by git but count for nothing
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/mallory.pub" \
	    tag -s "v1.0.0+approved.mallory" -m "Approved" "$c"
	id=$(push_tag "v1.0.0+approved.mallory")
	[ -n "$id" ]
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "waiting for approvals: 1 of 2 approvals: alice@example.com; 1 more needed" ]
	r log "$id" approvals | grep -q "v1.0.0+approved.mallory': signature is not by an allowed signer"
	# an approval with a trusted key of another commit counts for nothing
	git -C "$SRC" commit -q --allow-empty -m "Other"
	git -C "$SRC" push -q origin develop
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/bob.pub" \
	    tag -s "v1.0.0+approved.bob" -m "Approved" HEAD
	id=$(push_tag "v1.0.0+approved.bob")
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "waiting for approvals: 1 of 2 approvals: alice@example.com; 1 more needed" ]
	r log "$id" approvals | grep -q "approves commit $(git -C "$SRC" rev-parse --short=7 HEAD), not the release's"
	# a tag whose name holds the mark is never a release, even where
	# release_tags would match it
	sed -i "s|^repos:|repos:|; s|^  - path: $T/app.git|  - path: $T/app.git\n    release_tags: '^v'|" "$RUNNER_HOME/runner.yml"
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/alice.pub" \
	    tag -s "v2+approved.x" -m "Looks like a release" HEAD
	out=$(git -C "$SRC" push origin "refs/tags/v2+approved.x" 2>&1)
	id=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' <<<"$out")
	# the hook reads runner.yml itself: an approval of release 'v2'
	[ -n "$id" ] || { echo "$out"; false; }
	[ "$(wait_deploy "$id")" = rejected ]
	[[ "$(job_field "$id" .error)" == *"there is no release tag 'v2'"* ]] || { r show "$id"; false; }
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
	[ ! -d "$RUNNER_HOME/releases/production" ]
}

@test "the hook of the git server's user has its approvals judged by the daemon" {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	for k in alice bob; do make_ssh_signer $k; done
	make_ssh_signer mallory untrusted
	chmod 0600 "$T/allowed_signers"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$GIT_USER:" "$T/srv/app.git"
	r install-hook --pre-receive "$T/srv/app.git" >/dev/null
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin "$T/srv/app.git"
	chown -R "$GIT_USER:" "$SRC"
	cp "$T"/keys/* "$T/githome/"
	chown "$GIT_USER:" "$T"/githome/*
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/srv/app.git
    allowed_signers: $T/allowed_signers
environments:
  production:
    approvals: 2
YML
	! as_git test -r "$T/allowed_signers" || false
	start_daemon --workers 2
	as_git git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	# signs: KEY TAG [COMMIT]: a tag the git user signs with the test's key
	signs() {
		as_git git -C "$SRC" -c gpg.format=ssh \
		    -c user.signingkey="$T/githome/$1.pub" tag -s "$2" -m "$2" "${3:-HEAD}"
	}
	signs alice v1.0.0
	run as_git git -C "$SRC" push origin v1.0.0
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	id=$(last_job deploy production)
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "waiting for approvals: 1 of 2 approvals: alice@example.com; 1 more needed" ]
	# refused by the daemon, with the reason
	signs mallory "v1.0.0+approved.mallory"
	as_git git -C "$SRC" commit -q --allow-empty -m "Not the release"
	signs bob "v1.0.0+approved.bob-other"
	signs bob "v9.9.9+approved.bob"
	declare -A want=(
		[v1.0.0+approved.mallory]="approval tag 'v1.0.0+approved.mallory': signature is not by an allowed signer"
		[v1.0.0+approved.bob-other]="approval tag 'v1.0.0+approved.bob-other' points at commit $(git -C "$SRC" rev-parse --short=7 HEAD), but release tag 'v1.0.0' is of commit $(git -C "$SRC" rev-parse --short=7 v1.0.0^{commit})"
		[v9.9.9+approved.bob]="approval tag 'v9.9.9+approved.bob': there is no release tag 'v9.9.9' to approve"
	)
	for t in "${!want[@]}"; do
		run as_git git -C "$SRC" push origin "refs/tags/$t"
		[ "$status" -ne 0 ] || { echo "$t: $output"; false; }
		[[ "$output" == *"runner: refusing approval tag '$t': ${want[$t]}"* ]] ||
		    { echo "$t: $output"; false; }
		! git --git-dir="$T/srv/app.git" rev-parse -q --verify "refs/tags/$t" || false
	done
	# bob's approval of the release is taken, and it deploys
	signs bob "v1.0.0+approved.bob" "v1.0.0^{commit}"
	run as_git git -C "$SRC" push origin "refs/tags/v1.0.0+approved.bob"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	wait_for "[ \"\$(last_job deploy production)\" != $id ]" 30
	dep=$(last_job deploy production)
	[ "$(wait_deploy "$dep" 90)" = healthy ] || { r show "$dep"; false; }
	[ "$(job_field "$dep" '.approvals | "\(.have) \(.need) \(.approvers | length)"')" = "2 2 2" ]
}

@test "a root daemon judging the git server user's approval reads its repository with that user's rights only" {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the test creates the git user"
	git_user
	make_ssh_signer bob
	chmod 0600 "$T/allowed_signers"
	mkdir -p -m 0755 "$T/srv"
	git init -q --bare "$T/srv/app.git"
	chown -R "$GIT_USER:" "$T/srv/app.git"
	r install-hook --pre-receive "$T/srv/app.git" >/dev/null
	SRC=$(make_clone app)
	git -C "$SRC" remote set-url origin "$T/srv/app.git"
	chown -R "$GIT_USER:" "$SRC"
	cp "$T"/keys/* "$T/githome/"
	chown "$GIT_USER:" "$T"/githome/*
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/srv/app.git
    allowed_signers: $T/allowed_signers
environments:
  production:
    approvals: 2
YML
	# a repository of root's that no one else may read
	mkdir -m 0700 "$T/secret"
	git init -q --bare "$T/secret/s.git"
	git init -q -b main "$T/secret/w"
	git -C "$T/secret/w" commit -q --allow-empty -m "root's own"
	git -C "$T/secret/w" push -q "$T/secret/s.git" main
	secret=$(git -C "$T/secret/w" rev-parse --short=7 HEAD)
	start_daemon --workers 1
	# the git user, who owns its repository, borrows root's objects and
	# makes its release tag a link to root's branch
	as_git sh -c 'echo "$1/objects" > "$2/objects/info/alternates" &&
	    mkdir -p "$2/refs/tags" && ln -s "$1/refs/heads/main" "$2/refs/tags/v9.9.9"' \
	    _ "$T/secret/s.git" "$T/srv/app.git"
	as_git git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/githome/bob.pub" \
	    tag -s "v9.9.9+approved.bob" -m approved HEAD
	run as_git git -C "$SRC" push origin "refs/tags/v9.9.9+approved.bob"
	[ "$status" -ne 0 ] || { echo "$output"; false; }
	# judged as the git user would: no release tag there, and nothing
	# of root's repository said
	[[ "$output" != *"$secret"* ]] || { echo "$output"; false; }
	[[ "$output" == *"runner: refusing approval tag 'v9.9.9+approved.bob': approval tag 'v9.9.9+approved.bob': there is no release tag 'v9.9.9' to approve"* ]] ||
	    { echo "$output"; false; }
}
