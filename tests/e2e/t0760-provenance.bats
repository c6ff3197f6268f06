#!/usr/bin/env bats
# Signed provenance: a real push builds an artifact whose DSSE envelope,
# signed with the home's ed25519 key, runner verify and securesystemslib
# (an implementation we did not write) both verify; a swapped artifact
# and an edited provenance are refused by runner verify and at deploy
# time, with the reason.

load lib

setup() {
	setup_env
	make_ssh_signer release
	WEB_PORT=$(free_port)
	start_sink http slack
	make_repo app
	SRC=$(make_clone app)
	trust_config "http:
  listen: 127.0.0.1:$WEB_PORT
notify:
  - name: team
    slack: http://127.0.0.1:$SINK_PORT/services/T000/B000/XXXX
    on: [deployed, deploy_failed, production_failed]"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	DEP=$(last_job deploy staging)
	[ "$(wait_deploy "$DEP")" = healthy ] || { r show "$DEP"; false; }
	ART=$(job_field 1 '.artifacts[0].path')
}
teardown() { teardown_env; }

# securesystemslib's ed25519 verification of the DSSE pre-authentication
# encoding of envelope $1 with the PEM public key $2 (Debian's python3,
# with its python3-securesystemslib)
ssl_verify() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.serialization import (
    Encoding, PublicFormat, load_pem_public_key)
from securesystemslib.signer import Signature, SSlibKey

env = json.loads(open(sys.argv[1]).readline())
raw = load_pem_public_key(open(sys.argv[2], "rb").read()).public_bytes(
    Encoding.Raw, PublicFormat.Raw)
key = SSlibKey(hashlib.sha256(raw).hexdigest(), "ed25519", "ed25519",
               {"public": raw.hex()})
payload = base64.b64decode(env["payload"])
ptype = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
sig = env["signatures"][0]
assert sig["keyid"] == key.keyid, (sig["keyid"], key.keyid)
key.verify_signature(Signature(sig["keyid"], base64.b64decode(sig["sig"]).hex()), pae)
print("securesystemslib verified", key.keyid)
PY
}

# runner deploy 1 staging: the id of the deployment it queued
deploy_by_hand() {
	r deploy 1 staging | sed -n 's/^queued deployment #\([0-9]*\) .*/\1/p'
}

# the statement inside envelope $1
statement() {
	head -n1 "$1" | jq -r .payload | base64 -d
}

@test "a push's artifact has signed provenance that runner verify and securesystemslib verify" {
	# the key: the daemon's user's alone; its public half published
	[ "$(stat -c %a "$RUNNER_HOME/provenance.key")" = 600 ]
	[ "$(stat -c %u "$RUNNER_HOME/provenance.key")" = "$(id -u)" ]
	grep -q "BEGIN PUBLIC KEY" "$RUNNER_HOME/provenance.pub"
	# doctor says when the key is readable by others, and how to fix it
	chmod 0640 "$RUNNER_HOME/provenance.key"
	run r doctor
	echo "$output"
	[[ "$output" == *"'$RUNNER_HOME/provenance.key' is mode 0640, wider than 0600"*"chmod 0600 '$RUNNER_HOME/provenance.key'"* ]]
	chmod 0600 "$RUNNER_HOME/provenance.key"
	env="$ART.intoto.jsonl"
	[ -f "$env" ]
	[ "$(head -n1 "$env" | jq -r .payloadType)" = application/vnd.in-toto+json ]
	statement "$env" > "$T/st.json"
	jq . "$T/st.json" >&2
	[ "$(jq -r ._type "$T/st.json")" = https://in-toto.io/Statement/v1 ]
	[ "$(jq -r .predicateType "$T/st.json")" = https://slsa.dev/provenance/v1 ]
	[ "$(jq -r '.subject[0].digest.sha256' "$T/st.json")" = "$(sha256sum "$ART" | cut -d' ' -f1)" ]
	p=.predicate.buildDefinition.externalParameters
	[ "$(jq -r "$p.commit" "$T/st.json")" = "$(git -C "$SRC" rev-parse HEAD)" ]
	[ "$(jq -r "$p.ref" "$T/st.json")" = refs/heads/develop ]
	[ "$(jq -r "$p.repository" "$T/st.json")" = "$(job_field 1 .repo)" ]
	[ "$(jq -r "$p.pipeline.digest.sha256" "$T/st.json")" = "$(git -C "$SRC" show HEAD:.runner.yml | sha256sum | cut -d' ' -f1)" ]
	[ "$(jq -r '.predicate.buildDefinition.resolvedDependencies[0].digest.gitCommit' "$T/st.json")" = "$(git -C "$SRC" rev-parse HEAD)" ]
	[ "$(jq -r .predicate.runDetails.metadata.invocationId "$T/st.json")" = 1 ]
	[ "$(jq -r .predicate.runDetails.builder.version.runner "$T/st.json")" = "$(r --version | cut -d' ' -f2)" ]
	[ "$(jq -r .predicate.buildDefinition.internalParameters.host "$T/st.json")" != null ]
	# the stage logs' digests
	log0=$(job_field 1 '.stages[0].log')
	[ "$(jq -r '.predicate.runDetails.byproducts[0].digest.sha256' "$T/st.json")" = "$(sha256sum "$log0" | cut -d' ' -f1)" ]

	run r verify 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"signature    verified"*"subject      verified"*"commit       verified"*"repository   verified"*"provenance verified"* ]]
	# the artifact file itself, its provenance beside it
	run r verify "$ART"
	echo "$output"
	[ "$status" -eq 0 ]
	run r verify --key "$RUNNER_HOME/provenance.pub" 1
	[ "$status" -eq 0 ]
	# a deployment: of the build it deployed
	run r verify "$DEP"
	[ "$status" -eq 0 ]

	# an implementation we did not write
	run ssl_verify "$env" "$RUNNER_HOME/provenance.pub"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"securesystemslib verified"* ]]

	# and openssl, as docs/provenance.md shows a third party
	(
		cd "$T"
		cp "$env" "$ART" "$RUNNER_HOME/provenance.pub" .
		env=${env##*/}
		type=$(head -n1 $env | jq -r .payloadType)
		head -n1 $env | jq -r .payload | base64 -d > payload.json
		head -n1 $env | jq -r '.signatures[0].sig' | base64 -d > sig.bin
		{ printf 'DSSEv1 %d %s %d ' ${#type} "$type" $(stat -c %s payload.json); cat payload.json; } > pae.bin
		openssl pkeyutl -verify -pubin -inkey provenance.pub -rawin -in pae.bin -sigfile sig.bin
		[ "$(jq -r '.subject[0].digest.sha256' payload.json)" = "$(sha256sum 1.tar.zst | cut -d' ' -f1)" ]
		# the key as securesystemslib describes it
		hex=$(openssl pkey -pubin -in provenance.pub -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
		[ "$(printf "$(echo "$hex" | sed 's/../\\x&/g')" | sha256sum | cut -d' ' -f1)" = "$(head -n1 $env | jq -r '.signatures[0].keyid')" ]
	)

	# a wrong key fails
	openssl genpkey -algorithm ed25519 -out "$T/other.key"
	openssl pkey -in "$T/other.key" -pubout -out "$T/other.pub"
	run r verify --key "$T/other.pub" 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"signature    MISMATCH"*"NOT VERIFIED"* ]]
	run ssl_verify "$env" "$T/other.pub"
	[ "$status" -ne 0 ]

	# the deployment checked it, and says so
	[[ "$(job_field "$DEP" .provenance)" == "verified: build #1, sha256 $(sha256sum "$ART" | cut -d' ' -f1)"* ]]
	run r show "$DEP"
	[[ "$output" == *"provenance verified (build #1"* ]]
	run r log "$DEP" extract
	[[ "$output" == *"subject      verified"*"provenance verified"*"extracted"* ]]
	run r show 1
	[[ "$output" == *"provenance signed: $ART.intoto.jsonl"* ]]
	# the job's web page and the release's notification say so too
	wait_for "http_body $WEB_PORT /job/$DEP | grep -q 'provenance verified'" 30
	http_body "$WEB_PORT" "/job/$DEP" | grep -q "<th>provenance</th><td id=job-provenance>provenance verified (build #1, sha256 "
	wait_for "[ \$(sink_count slack) -ge 1 ]" 30
	jq -r .text "$T/sink-slack/1.body" | grep -q "^provenance verified (build #1, sha256 "

	# the commit's git note carries the envelope whole, and the check
	c=$(git -C "$SRC" rev-parse HEAD)
	repo=$(job_field 1 .repo)
	wait_for "git --git-dir='$repo' notes --ref=runner show $c 2>/dev/null | grep -q 'deployment #$DEP to staging healthy'" 30
	note=$(git --git-dir="$repo" notes --ref=runner show "$c")
	echo "$note" | cut -c1-200
	[ "$(echo "$note" | sed -n 's/^  provenance {/{/p')" = "$(head -n1 "$env")" ]
	echo "$note" | grep -q "^  provenance verified (build #1"

	# usage
	run r verify
	[ "$status" -eq 2 ]
	run r verify --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit codes"* ]]
}

@test "a swapped artifact and an edited provenance are refused by verify and at deploy time" {
	cp "$ART" "$T/art.orig"
	# another archive in the artifact's place
	mkdir -p "$T/evil/dist" && echo evil > "$T/evil/dist/index.html"
	tar --zstd -cf "$ART" -C "$T/evil" dist
	run r verify 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"subject      MISMATCH"*"NOT VERIFIED"* ]]
	dep=$(deploy_by_hand)
	[ "$(wait_deploy "$dep")" = failed ] || { r show "$dep"; false; }
	run r show "$dep"
	echo "$output"
	[[ "$output" == *"the artifact was changed"* ]]
	cp "$T/art.orig" "$ART"

	# an edited statement: another commit, the signature kept
	env="$ART.intoto.jsonl"
	cp "$env" "$T/env.orig"
	other=$(statement "$env" | jq -c '.predicate.buildDefinition.externalParameters.commit = "0000000000000000000000000000000000000000"' | base64 -w0)
	head -n1 "$T/env.orig" | jq -c --arg p "$other" '.payload = $p' > "$env"
	run r verify 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"signature    MISMATCH"*"NOT VERIFIED"* ]]
	run ssl_verify "$env" "$RUNNER_HOME/provenance.pub"
	[ "$status" -ne 0 ]
	dep=$(deploy_by_hand)
	[ "$(wait_deploy "$dep")" = failed ] || { r show "$dep"; false; }
	run r show "$dep"
	echo "$output"
	[[ "$output" == *"provenance ($env) does not verify: the signature does not verify"* ]]
	[[ "$(job_field "$dep" .provenance)" == "refused: "* ]]
	# the store's copy edited the same way is refused as well
	cp "$env" "$T/env.edited"
	cp "$T/env.orig" "$env"
	db "UPDATE artifacts SET provenance = '$(cat "$T/env.edited")' WHERE job_id = 1"
	run r verify 1
	[ "$status" -eq 1 ]
	dep=$(deploy_by_hand)
	[ "$(wait_deploy "$dep")" = failed ] || { r show "$dep"; false; }
	run r show "$dep"
	[[ "$output" == *"provenance (the store's) does not verify"* ]]
	# the genuine ones deploy again
	db "UPDATE artifacts SET provenance = '$(head -n1 "$T/env.orig")' WHERE job_id = 1"
	dep=$(deploy_by_hand)
	[ "$(wait_deploy "$dep")" = healthy ] || { r show "$dep"; false; }
}

@test "a build made before provenance deploys to staging with a warning" {
	db "UPDATE artifacts SET provenance = NULL WHERE job_id = 1"
	rm "$ART.intoto.jsonl"
	run r verify 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"has no provenance"* ]]
	dep=$(deploy_by_hand)
	[ "$(wait_deploy "$dep")" = healthy ] || { r show "$dep"; false; }
	[[ "$(job_field "$dep" .provenance)" == "none: build #1 was made before"* ]]
	run r show "$dep"
	[[ "$output" == *"provenance missing"* ]]
}

@test "production refuses a build made before provenance, with the reason" {
	db "UPDATE artifacts SET provenance = NULL WHERE job_id = 1"
	rm "$ART.intoto.jsonl"
	ssh_tag "$SRC" v1.0.0 release
	id=$(push_tag v1.0.0)
	[ -n "$id" ]
	[ "$(wait_deploy "$id" 90)" = failed ] || { r show "$id"; false; }
	run r show "$id"
	echo "$output"
	[[ "$output" == *"build #1 has none (it was made before the runner signed its builds), and environment 'production' deploys signed builds only: build the commit again (runner retry 1)"* ]]
	[[ "$(job_field "$id" .provenance)" == "refused: "* ]]
	# nothing of it was extracted
	[ ! -e "$RUNNER_HOME/releases/production/$id/dist" ]
}

@test "a home without a key gets one when the daemon starts; the old key's builds still verify" {
	old=$(head -n1 "$ART.intoto.jsonl" | jq -r '.signatures[0].keyid')
	stop_daemon
	rm "$RUNNER_HOME/provenance.key" "$RUNNER_HOME/provenance.pub"
	start_daemon --workers 1
	wait_for "[ -s '$RUNNER_HOME/provenance.pub' ]" 30
	[ "$(stat -c %a "$RUNNER_HOME/provenance.key")" = 600 ]
	grep -q "made the provenance key $RUNNER_HOME/provenance.key" "$T/serve.log"
	git -C "$SRC" commit -q --allow-empty -m second
	git -C "$SRC" push -q origin develop
	b=$(last_job build)
	wait_state "$b" passed
	new=$(head -n1 "$(job_field "$b" '.artifacts[0].path').intoto.jsonl" | jq -r '.signatures[0].keyid')
	[ "$new" != "$old" ]
	run r verify "$b"
	[ "$status" -eq 0 ]
	# the store kept the key that signed build #1
	run r verify 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"signature    verified: ed25519 key $old"* ]]
	# unless the operator withdraws it
	db "DELETE FROM provenance_keys WHERE keyid = '$old'"
	run r verify 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"signed by key $old, which is neither this home's"* ]]
}

@test "production rolls back to a release that served before provenance, with a warning" {
	ssh_tag "$SRC" v1.0.0 release
	p1=$(push_tag v1.0.0)
	[ "$(wait_deploy "$p1" 90)" = healthy ] || { r show "$p1"; false; }
	# build #1 as a runner before provenance left it
	db "UPDATE artifacts SET provenance = NULL WHERE job_id = 1"
	rm "$ART.intoto.jsonl"
	git -C "$SRC" commit -q --allow-empty -m "Second release"
	git -C "$SRC" push -q origin develop
	b=$(last_job build)
	wait_state "$b" passed
	wait_for "[ \"\$(last_job deploy staging)\" != $DEP ]" 30
	[ "$(wait_deploy "$(last_job deploy staging)")" = healthy ]
	ssh_tag "$SRC" v1.1.0 release
	p2=$(push_tag v1.1.0)
	[ "$(wait_deploy "$p2" 90)" = healthy ] || { r show "$p2"; false; }
	[[ "$(job_field "$p2" .provenance)" == "verified: build #$b, "* ]]
	# back to v1.0.0, which served before: not refused
	back=$(r rollback production | sed -n 's/^queued deployment #\([0-9]*\):.*/\1/p')
	[ -n "$back" ]
	[ "$(wait_deploy "$back" 90)" = healthy ] || { r show "$back"; false; }
	[[ "$(job_field "$back" .provenance)" == "none: build #1 was made before"* ]]
	run r log "$back" extract
	[[ "$output" == *"warning: none: build #1 was made before the runner signed its builds (deployed with a warning)"* ]]
}
