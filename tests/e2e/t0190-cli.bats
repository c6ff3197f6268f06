#!/usr/bin/env bats
# The CLI: --help on every command, documented exit codes, clear errors.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "every command has --help and exits 0 with it" {
	run r --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Exit codes:"* ]]
	for cmd in $(r --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} /^$/ && on {on = 0}'); do
		run r "$cmd" --help
		[ "$status" -eq 0 ] || { echo "$cmd --help: $status"; false; }
		[[ "$output" == "usage: runner $cmd"* ]] || { echo "$cmd: $output"; false; }
	done
	[ "$(r --help | grep -c '^  [a-z]')" -ge 10 ]
}

@test "usage errors exit 2, failures exit 1" {
	run r
	[ "$status" -eq 2 ]
	run r frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown command 'frobnicate'"* ]]
	run r status --bogus
	[ "$status" -eq 2 ]
	run r show
	[ "$status" -eq 2 ]
	run r show 42
	[ "$status" -eq 1 ]
	[[ "$output" == *"no job #42"* ]]
	run r serve --workers 0
	[ "$status" -eq 2 ]
	RUNNER_STORE= run "$RUNNER" status --home "$T/none"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot open store '$T/none/runner.db'"*"run 'runner init' first"* ]]
}

@test "without runner-worker beside it, runner says so and still serves the light commands" {
	mkdir "$T/bin"
	cp "$RUNNER" "$RUNNER_BIN_DIR/runner-hook" "$T/bin/"
	run "$T/bin/runner" status
	[ "$status" -eq 0 ]
	# check reads a file: runner itself does it
	printf 'stages:\n  - name: unit\n    run: make\n' > "$T/p.yml"
	run "$T/bin/runner" check "$T/p.yml"
	[ "$status" -eq 0 ]
	run "$T/bin/runner" notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot run $T/bin/runner-worker (it is installed in libexec/runner, or beside 'runner')"* ]]
	run "$T/bin/runner" serve --workers 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot find $T/bin/runner-worker"* ]]
	[ ! -e "$RUNNER_HOME/runner.sock" ]
}

@test "init is idempotent and keeps an edited runner.yml" {
	echo "workers: 1" > "$RUNNER_HOME/runner.yml"
	run r init
	[ "$status" -eq 0 ]
	[ "$(cat "$RUNNER_HOME/runner.yml")" = "workers: 1" ]
	run "$RUNNER" init --home "$T/fresh"
	[ "$status" -eq 0 ]
	grep -q '^# workers: 2' "$T/fresh/runner.yml"
	# (e2e-pg: the store is the server's)
	[ -n "${RUNNER_STORE:-}" ] || [ -f "$T/fresh/runner.db" ]
}

@test "a bad runner.yml stops serve with file, line and field" {
	printf 'workers: 2\ndefault_timeout: soon\n' > "$RUNNER_HOME/runner.yml"
	run r serve
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:2:18: bad 'default_timeout' 'soon'"* ]]
	# no timeout at all is not what a 0 means
	printf 'default_timeout: 0\n' > "$RUNNER_HOME/runner.yml"
	run r serve
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:1:18: 'default_timeout' must be at least 1.0s"* ]]
	# a signers file that is not there stops serve, not the first release
	printf 'repos:\n  - path: %s/app.git\n    allowed_signers: %s/none\n' "$T" "$T" > "$RUNNER_HOME/runner.yml"
	run r serve
	[ "$status" -eq 1 ]
	[[ "$output" == *"runner.yml:2: 'allowed_signers' of $T/app.git: cannot read '$T/none': No such file or directory"* ]]
	[ ! -e "$RUNNER_HOME/runner.sock" ]
}

@test "job numbers are read exactly" {
	for arg in 99999999999999999999 0 12x '#'; do
		run r show "$arg"
		[ "$status" -eq 2 ]
		[[ "$output" == *"'$arg' is not a job number"* ]]
	done
}

@test "a second daemon on the same home is refused" {
	start_daemon --workers 1
	run timeout 20 "$RUNNER" serve --workers 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"another daemon is serving"*"(pid $DAEMON_PID)"* ]]
}

@test "status and show escape terminal control sequences from pushes" {
	make_repo app
	src=$(make_clone app)
	git -C "$src" commit -q --allow-empty -m "$(printf 'evil \033]0;pwned\007 \033[2J subject')"
	git -C "$src" push -q origin develop
	start_daemon --workers 1
	wait_state 1 passed
	run r status
	[[ "$output" == *'evil \x1b]0;pwned\x07 \x1b[2J subject'* ]]
	[[ "$output" != *$'\033]0'* ]]
	run r show 1
	[[ "$output" == *'\x1b[2J'* ]]
	[ "$(job_field 1 .subject)" = "$(printf 'evil \033]0;pwned\007 \033[2J subject')" ]
}
