#!/usr/bin/env bats
# The install layout: `meson install` into a temporary folder, then the
# installed programs run end to end (init, install-hook, serve, push,
# status, gc), the man pages render without warnings and hold every
# command, the completion loads in bash, the unit file passes
# systemd-analyze verify, and the sysusers/tmpfiles snippets apply.

load lib

setup() {
	setup_env
	DEST="$T/inst"
	meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$DEST" \
	    >"$T/install.log" 2>&1 || { cat "$T/install.log"; false; }
	PREFIX=$(meson introspect --buildoptions "$BUILD_ROOT" |
	    jq -r '.[] | select(.name == "prefix") | .value')
	P="$DEST$PREFIX"
}
teardown() { teardown_env; }

@test "meson install puts runner in bin/ and its helpers, pages, unit and completion where they belong" {
	[ -x "$P/bin/runner" ]
	[ "$(ls "$P/bin")" = runner ]
	[ -x "$P/libexec/runner/runner-worker" ]
	[ -x "$P/libexec/runner/runner-hook" ]
	[ -x "$P/libexec/runner/runner-web" ]
	for f in share/man/man1/runner.1 share/man/man5/runner.yml.5 \
	    share/man/man5/runner-pipeline.5 lib/systemd/system/runner.service \
	    lib/sysusers.d/runner.conf lib/tmpfiles.d/runner.conf \
	    share/bash-completion/completions/runner \
	    share/zsh/vendor-completions/_runner \
	    share/doc/runner/runner.yml.sample share/doc/runner/operations.md; do
		[ -s "$P/$f" ] || { echo "missing: $f"; false; }
	done
	version=$(sed -n "s/^  version : '\(.*\)',$/\1/p" "$SOURCE_ROOT/meson.build")
	[ -n "$version" ]
	[ "$("$P/bin/runner" --version)" = "runner $version" ]
	# the sample is what init writes, and it parses
	"$P/bin/runner" init --home "$T/h2" >/dev/null
	cmp "$P/share/doc/runner/runner.yml.sample" "$T/h2/runner.yml"
}

@test "the installed programs run a push end to end, and gc" {
	export RUNNER="$P/bin/runner"
	"$RUNNER" init >/dev/null
	make_repo app
	# the hook the installed runner wrote runs the installed runner-hook
	grep -qF "$(realpath "$P/libexec/runner/runner-hook")" "$T/app.git/hooks/post-receive"
	SRC=$(make_clone app)
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60
	run "$RUNNER" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"#1"*passed* ]]
	# a command runner-worker serves, through the installed runner
	run "$RUNNER" artifacts 1
	[ "$status" -eq 0 ]
	[[ "$output" == *.tar.zst* || "$output" == *dist* ]]
	run "$RUNNER" gc
	[ "$status" -eq 0 ]
	[[ "$output" == *"freed"* ]]
	run "$RUNNER" status
	[[ "$output" == *"disk: "* ]]
}

@test "man pages render without warnings and name every command and key" {
	for page in man1/runner.1 man5/runner.yml.5 man5/runner-pipeline.5; do
		out=$(MANWIDTH=80 man --warnings -l "$P/share/man/$page" 2>"$T/warn")
		[ ! -s "$T/warn" ] || { echo "$page:"; cat "$T/warn"; false; }
		[ -n "$out" ]
	done
	page=$(MANWIDTH=200 man -l "$P/share/man/man1/runner.1" 2>/dev/null)
	for cmd in $("$P/bin/runner" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
		grep -q "runner $cmd" <<<"$page" || { echo "no command $cmd"; false; }
	done
	grep -q -- "--dry-run" <<<"$page"
	page=$(MANWIDTH=200 man -l "$P/share/man/man5/runner.yml.5" 2>/dev/null)
	for key in retention interval build_user release_user environments; do
		grep -qw "$key" <<<"$page" || { echo "no key $key"; false; }
	done
	page=$(MANWIDTH=200 man -l "$P/share/man/man5/runner-pipeline.5" 2>/dev/null)
	grep -qw stages <<<"$page"
	grep -qw artifacts <<<"$page"
}

@test "the bash completion loads and completes commands and options" {
	out=$(PATH="$P/bin:$PATH" bash -c '
		source "$1"
		COMP_WORDS=(runner st); COMP_CWORD=1; _runner; echo "${COMPREPLY[*]}"
		COMP_WORDS=(runner gc --d); COMP_CWORD=2; _runner; echo "${COMPREPLY[*]}"
		COMP_WORDS=(runner serve --l); COMP_CWORD=2; _runner; echo "${COMPREPLY[*]}"
		complete -p runner' _ "$P/share/bash-completion/completions/runner")
	[ "$(sed -n 1p <<<"$out")" = status ]
	[ "$(sed -n 2p <<<"$out")" = --dry-run ]
	[ "$(sed -n 3p <<<"$out")" = --log-file ]
	[ "$(sed -n 4p <<<"$out")" = "complete -F _runner runner" ]
}

@test "the unit passes systemd-analyze verify; sysusers and tmpfiles make the user and home" {
	unit="$P/lib/systemd/system/runner.service"
	grep -qx "ExecStart=$PREFIX/bin/runner serve --home /var/lib/runner" "$unit"
	# a reload checks runner.yml first, and signals only if it is good
	[ "$(grep ^ExecReload= "$unit")" = "ExecReload=$PREFIX/bin/runner check --config --home /var/lib/runner
ExecReload=/bin/kill -HUP \$MAINPID" ]
	grep -qx "NoNewPrivileges=yes" "$unit"
	grep -qx "ReadWritePaths=/var/lib/runner" "$unit"
	# verified where its programs are (installed under $DEST here)
	sed "s#$PREFIX/bin/runner#$P/bin/runner#g" "$unit" > "$T/runner.service"
	run systemd-analyze verify --man=no "$T/runner.service"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ -z "$output" ] || { echo "$output"; false; }
	mkdir -p "$T/root/etc"
	systemd-sysusers --root="$T/root" "$P/lib/sysusers.d/runner.conf" 2>/dev/null
	grep -q "^runner:x:[0-9]*:[0-9]*:.*:/var/lib/runner:" "$T/root/etc/passwd"
	systemd-tmpfiles --root="$T/root" --create "$P/lib/tmpfiles.d/runner.conf" 2>/dev/null || true
	[ "$(stat -c %a "$T/root/var/lib/runner")" = 2711 ]
}
