#!/usr/bin/env bats
# Hostile repositories are refused or handled, each with a clear message,
# in bounded time: symlinks out of the workspace, crafted archives, huge,
# deep or self-referencing pipeline files, backtracking trigger patterns,
# and file names with newlines and bad UTF-8 (100,000 files: t0545).

load lib

setup() {
	setup_env
	empty_source app
}
teardown() { teardown_env; }

@test "an artifact symlink out of the workspace is refused" {
	set_pipeline "$SRC" "Leak" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && echo ok > dist/app && ln -s /etc/passwd dist/leak
    artifacts: [dist/**]
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 failed
	[ "$(job_field 1 .error)" = "artifacts of stage 'build': artifact 'dist/leak' is a symlink to '/etc/passwd', outside the workspace: refused" ]
	[ "$(job_field 1 '.artifacts | length')" = 0 ]
}

@test "crafted archives are refused by artifacts --extract and by deploy" {
	set_pipeline "$SRC" "Build" <<'YML'
stages:
  - name: build
    run: mkdir -p dist && echo ok > dist/app
    artifacts: [dist/**]
environments:
  staging:
    deploy: "true"
YML
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    auto_deploy: []
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	art=$(job_field 1 '.artifacts[0].path')
	# swapped behind the runner's back: the recorded sha256 catches it
	mkdir -p "$T/craft/in"
	echo evil > "$T/craft/in/evil"
	tar -C "$T/craft/in" -cf - --transform 's,^,../../,' evil | zstd -q > "$T/craft/dotdot.tar.zst"
	cp "$T/craft/dotdot.tar.zst" "$art"
	run r artifacts --extract "$T/out1" 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"the artifact was changed"* ]]
	# recorded too (a store edited by hand): the entries are refused
	db "UPDATE artifacts SET sha256 = '$(sha256sum "$art" | cut -d' ' -f1)'"
	run r artifacts --extract "$T/out1" 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"refusing entry '../../evil': absolute or '..' path"* ]]
	# neither where the entry points (out1/../../evil) nor one level up
	[ ! -e "$T/out1/../../evil" ]
	[ ! -e "$T/evil" ]
	run r deploy 1 staging
	[ "$status" -eq 0 ]
	id=$(echo "$output" | sed -n 's/^queued deployment #\([0-9]*\).*/\1/p')
	[ "$(wait_deploy "$id")" = failed ]
	# and the deployment, by the provenance the build signed: its
	# subject's digest is not the archive's (the store's was edited)
	echo "deployment's error: $(job_field "$id" .error)"
	[[ "$(job_field "$id" .error)" == *"provenance"* ]]
	[ ! -e "$RUNNER_HOME/releases/evil" ]
	[ ! -e "$RUNNER_HOME/evil" ]
	# an absolute path
	tar -C "$T/craft/in" -cPf - --transform "s,^,$T/abs-," evil | zstd -q > "$art"
	db "UPDATE artifacts SET sha256 = '$(sha256sum "$art" | cut -d' ' -f1)'"
	run r artifacts --extract "$T/out2" 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"absolute or '..' path"* ]]
	[ ! -e "$T/abs-evil" ]
}

@test "huge, deep and alias-bomb pipeline files fail fast with the reason" {
	start_daemon --workers 1
	# 50 MB (a comment line: git stores it small, the runner reads 1 MB)
	{ echo "stages: [ { name: x, run: 'true' } ]"; printf '#'
	  head -c 50000000 /dev/zero | tr '\0' a; echo; } > "$SRC/.runner.yml"
	git -C "$SRC" add .runner.yml && git -C "$SRC" commit -q -m "Huge"
	git -C "$SRC" push -q origin develop
	wait_state 1 error 60
	[ "$(job_field 1 .error)" = ".runner.yml: file is larger than 1048576 bytes" ]
	# 200 levels deep
	nest=$(for i in $(seq 200); do printf '['; done; for i in $(seq 200); do printf ']'; done)
	printf 'stages: %s\n' "$nest" > "$SRC/.runner.yml"
	git -C "$SRC" commit -q -am "Deep"
	git -C "$SRC" push -q origin develop
	wait_state 2 error
	[ "$(job_field 2 .error)" = ".runner.yml:1:73: nesting deeper than 64 levels" ] ||
	    { job_field 2 .error; false; }
	# billion laughs
	cat > "$SRC/.runner.yml" <<'YML'
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
stages: [*d]
YML
	git -C "$SRC" commit -q -am "Laughs"
	git -C "$SRC" push -q origin develop
	wait_state 3 error
	[ "$(job_field 3 .error)" = ".runner.yml:2:8: YAML aliases are not supported" ]
}

@test "a trigger pattern that backtracks catastrophically is cut off; the push goes through" {
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    branches: '^(a+)+\$'
YML
	set_pipeline "$SRC" "First" <<'YML'
stages:
  - name: x
    run: "true"
YML
	name=$(printf 'a%.0s' $(seq 40))b
	start=$(date +%s%N)
	run git -C "$SRC" push origin "develop:refs/heads/$name"
	took=$((($(date +%s%N) - start) / 1000000))
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner: warning: pattern '^(a+)+\$' hit its match limit"* ]] ||
	    { echo "$output"; false; }
	[ "$took" -lt 10000 ]
	[ "$(r status --json | jq '.jobs | length')" = 0 ]
}

@test "file names with newlines and invalid UTF-8 are archived and shown escaped" {
	mkdir -p "$SRC/dist"
	echo one > "$SRC/dist/new"$'\n'"line.txt"
	echo two > "$SRC/dist/bad"$'\xff'".txt"
	echo three > "$SRC/dist/esc"$'\033'"[2J.txt"
	set_pipeline "$SRC" $'Odd names \033]0;title\a' <<'YML'
stages:
  - name: build
    run: ls dist
    artifacts: [dist/**]
YML
	git -C "$SRC" add -A && git -C "$SRC" commit -q -m "Odd files"
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed
	[ "$(job_field 1 '.artifacts[0].files')" = 3 ]
	r artifacts --extract "$T/out" 1
	[ "$(cat "$T/out/dist/new"$'\n'"line.txt")" = one ]
	[ "$(cat "$T/out/dist/bad"$'\xff'".txt")" = two ]
	# terminal escapes are shown escaped, the raw log keeps the bytes
	out=$(r log 1 build)
	[[ "$out" == *'esc\x1b[2J.txt'* ]]
	[[ "$out" == *'bad\xff.txt'* ]]
	r log --raw 1 build | grep -q $'esc\033\\[2J.txt'
	# git quotes such names in its own output, so the stage's log is what
	# it printed; the commit subject is escaped in status and show
	[[ "$(r status)" != *$'\033'* ]]
	[[ "$(r show 1)" != *$'\033'* ]]
}
