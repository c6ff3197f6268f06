#!/usr/bin/env bats
# Production by signed tag: only a valid signature by an allowed signer on
# a tested commit with a healthy staging deploys, the very same artifact;
# everything else is rejected with its reason and production is unchanged.

load lib

setup() { release_setup; }
teardown() { teardown_env; }

@test "an SSH-signed tag by an allowed key deploys the build's artifact to production" {
	ssh_tag "$SRC" v1.0.0 release "Release 1.0.0: stock reports"
	id=$(push_tag v1.0.0)
	[ -n "$id" ]
	[ "$(wait_deploy "$id" 90)" = healthy ]
	[ "$(job_field "$id" .env)" = production ]
	[ "$(job_field "$id" .tag)" = v1.0.0 ]
	[ "$(job_field "$id" .tag_object)" = "$(git -C "$SRC" rev-parse v1.0.0)" ]
	[ "$(job_field "$id" .commit)" = "$(git -C "$SRC" rev-parse 'v1.0.0^{commit}')" ]
	[ "$(job_field "$id" .job)" = 1 ]
	# the very same bytes as the develop build's artifact
	sha=$(job_field 1 '.artifacts[0].sha256')
	run r log "$id" extract
	[[ "$output" == *"(sha256 $sha)"* ]]
	diff -r "$RUNNER_HOME/releases/staging/$(last_job deploy staging)/dist" \
	    "$RUNNER_HOME/releases/production/$id/dist"
	# backup ran before the deploy, the verification window measured
	[ "$(job_field "$id" '[.stages[].name] | join(",")')" = "release build,extract,backup,deploy,check /api/health,check /health,verify" ]
	[ "$(job_field "$id" .verify.errors)" = 0 ]
	[ "$(job_field "$id" .verify.requests)" -gt 5 ]
	# release notes: the tag message first, then the commits
	[[ "$(job_field "$id" .notes)" == "Release 1.0.0: stock reports"*"- Initial store back end"* ]]
	run r show "$id"
	[[ "$output" == *"release notes:"*"Release 1.0.0"* ]]
	http_body "$PROD_PORT" /health | grep -qx ok
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | "\(.state) \(.tag) \(.release)"')" = "healthy v1.0.0 $id" ]
	# pushing the same tag again queues nothing new
	git -C "$SRC" push -q origin :refs/tags/v1.0.0
	run git -C "$SRC" push origin refs/tags/v1.0.0
	[[ "$output" == *"already queued release #$id for v1.0.0"* ]]
	# a tag moved by force to a new tag object is refused
	git -C "$SRC" tag -d v1.0.0 >/dev/null
	ssh_tag "$SRC" v1.0.0 release "Release 1.0.0 again"
	git -C "$SRC" push -q -f origin refs/tags/v1.0.0 2>"$T/out"
	id2=$(sed -n 's/.*queued release #\([0-9]*\) for.*/\1/p' "$T/out")
	[ "$id2" -gt "$id" ]
	[ "$(wait_deploy "$id2")" = rejected ]
	[[ "$(job_field "$id2" .error)" == "tag 'v1.0.0' was already deployed by deployment #$id"* ]]
	[ "$(r status --json | jq -r '.environments[] | select(.name == "production") | .release')" = "$id" ]
}

@test "an OpenPGP-signed tag from the server keyring deploys to production" {
	git -C "$SRC" -c user.signingkey=release@example.com tag -s v2.0.0 -m "Release 2.0.0"
	id=$(push_tag v2.0.0)
	[ "$(wait_deploy "$id" 90)" = healthy ]
	http_body "$PROD_PORT" /api/health | grep -q '"status":"ok"'
}

@test "an OpenPGP user id holding gpg's status words names its own key, not the one it quotes" {
	rel=$(gpg --batch --with-colons --list-keys release@example.com |
	    awk -F: '$1 == "fpr" { print $10; exit }')
	# a trusted key whose user id quotes another key's status line
	gpg --batch --quiet --passphrase '' --quick-gen-key \
	    "Eve [GNUPG:] VALIDSIG $rel 2026-01-01 1 0 4 0 22 8 00 $rel" ed25519 sign 1y 2>/dev/null
	gpg --batch --export > "$T/release-keys.gpg"
	eve=$(gpg --batch --with-colons --list-keys Eve | awk -F: '$1 == "fpr" { print $10; exit }')
	[ -n "$eve" ]
	[ "$eve" != "$rel" ]
	git -C "$SRC" -c user.signingkey="$eve!" tag -s v2.1.0 -m "Release 2.1.0"
	id=$(push_tag v2.1.0)
	[ "$(wait_deploy "$id" 90)" = healthy ] || { r show "$id"; false; }
	[[ "$(job_field "$id" .signer)" == *"(OpenPGP key $eve)" ]] ||
	    { job_field "$id" .signer; false; }
}

@test "unsigned, lightweight, untrusted, expired, misnamed, wrong-namespace and non-commit tags are rejected" {
	make_ssh_signer stranger untrusted
	make_ssh_signer retired 'valid-before="20200101"'
	git -C "$SRC" tag -a v1.0.1 -m "unsigned"
	git -C "$SRC" tag v1.0.2
	ssh_tag "$SRC" v1.0.3 stranger
	ssh_tag "$SRC" v1.0.4 retired
	# an SSH signature made for another namespace than git's
	commit=$(git -C "$SRC" rev-parse HEAD)
	printf 'object %s\ntype commit\ntag v1.0.5\ntagger Tester <tester@example.com> 1700000000 +0000\n\nwrong namespace\n' \
	    "$commit" > "$T/payload"
	ssh-keygen -q -Y sign -n file -f "$T/keys/release" "$T/payload"
	cat "$T/payload" "$T/payload.sig" | git -C "$SRC" mktag > "$T/tagid"
	git -C "$SRC" update-ref refs/tags/v1.0.5 "$(cat "$T/tagid")"

	# a signed tag object pushed under another name, and one on a tree
	ssh_tag "$SRC" v1.0.6 release
	git -C "$SRC" update-ref refs/tags/v1.0.7 "$(git -C "$SRC" rev-parse v1.0.6)"
	git -C "$SRC" tag -d v1.0.6 >/dev/null
	git -C "$SRC" -c gpg.format=ssh -c user.signingkey="$T/keys/release.pub" \
	    tag -s v1.0.8 -m "a tree" "HEAD^{tree}"

	declare -A want=(
		[v1.0.1]="tag 'v1.0.1' is not signed"
		[v1.0.2]="'v1.0.2' is a lightweight tag"
		[v1.0.3]="signature is not by an allowed signer"
		[v1.0.4]="signature is not by an allowed signer (unknown key, or one whose validity has ended)"
		[v1.0.5]="bad SSH signature by 'release@example.com'"
		[v1.0.7]="the tag object is named 'v1.0.6' but was pushed as 'v1.0.7'"
		[v1.0.8]="tag 'v1.0.8' points at a tree, not a commit"
	)
	for t in v1.0.1 v1.0.2 v1.0.3 v1.0.4 v1.0.5 v1.0.7 v1.0.8; do
		id=$(push_tag $t)
		[ -n "$id" ]
		[ "$(wait_deploy "$id")" = rejected ]
		[[ "$(job_field "$id" .error)" == *"${want[$t]}"* ]] ||
		    { echo "$t: $(job_field "$id" .error)"; false; }
	done
	[ "$(r status --json | jq '[.environments[] | select(.name == "production")] | length')" -eq 0 ]
	[ ! -d "$RUNNER_HOME/releases/production" ]
	run r status
	[[ "$output" == *"rejected"*"is not signed"* ]]
}

@test "tags signed by expired or revoked OpenPGP keys are rejected" {
	gpg --batch --quiet --passphrase '' --quick-gen-key \
	    "Old <old@example.com>" ed25519 sign seconds=3 2>/dev/null
	gpg --batch --quiet --passphrase '' --quick-gen-key \
	    "Gone <gone@example.com>" ed25519 sign 1y 2>/dev/null
	git -C "$SRC" -c user.signingkey=old@example.com tag -s v4.0.1 -m old
	git -C "$SRC" -c user.signingkey=gone@example.com tag -s v4.0.2 -m gone
	fpr=$(gpg --batch --with-colons --list-keys gone@example.com | awk -F: '/^fpr/ {print $10; exit}')
	sed 's/^:-----BEGIN/-----BEGIN/' "$GNUPGHOME/openpgp-revocs.d/$fpr.rev" > "$T/revoke.asc"
	gpg --batch --quiet --import "$T/revoke.asc" 2>/dev/null
	gpg --batch --export > "$T/release-keys.gpg"
	wait_for "gpg --batch --list-keys old@example.com 2>/dev/null | grep -q expired" 20
	id=$(push_tag v4.0.1)
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "tag 'v4.0.1': signed by an expired OpenPGP key" ]
	id=$(push_tag v4.0.2)
	[ "$(wait_deploy "$id")" = rejected ]
	[ "$(job_field "$id" .error)" = "tag 'v4.0.2': signed by a revoked OpenPGP key" ]
}
