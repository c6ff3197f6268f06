#!/usr/bin/env bats
# A worker checks each build out over the workspace its last build left
# (work/.pool/N): the next build must find what a new checkout holds,
# whatever the last one's stage did to it (files changed, added, made
# set-uid, a folder swapped for a link, a FIFO, extended attributes, an
# inode flag, hooks and config in .git), and the files that could stay
# are the same files (what makes it cheap). With the defaults: as root,
# the worker's build user in bubblewrap.

load lib

setup() { setup_env; }
teardown() { teardown_env; }

@test "a build checked out over the last one's workspace finds a new checkout" {
	empty_source app
	mkdir -p "$SRC/src/deep"
	echo one > "$SRC/src/deep/file"
	printf '#!/bin/sh\necho tool\n' > "$SRC/tool.sh"
	chmod +x "$SRC/tool.sh"
	echo keep > "$SRC/untouched"
	git -C "$SRC" add -A
	# `look` shows what a stage finds; `spoil` leaves what it can
	set_pipeline "$SRC" "A tree, and a stage that spoils it" <<'YML'
stages:
  - name: inode
    run: stat -c %i untouched
  - name: look
    run: |
      git status --porcelain --ignored
      find . -path ./.git/objects/info/alternates -o -printf '%M %u %g %s %P\n' | sort
      cat src/deep/file .git/config .git/HEAD
      python3 -c 'import os; print(sorted((p, os.listxattr(p, follow_symlinks=False)) for p in [".", "tool.sh", "untouched", "src", ".git", ".git/config"]))'
      lsattr -d . tool.sh src .git 2>&1 | cut -c1-22
  - name: spoil
    run: |
      echo junk >> src/deep/file
      chmod 4755 tool.sh
      echo extra > extra.txt
      mkdir -p new/dir && touch new/dir/f
      mkfifo fifo
      mv src/deep src/away && ln -s /etc src/deep
      python3 -c 'import os; [os.setxattr(p, "user.evil", b"1") for p in (".", "tool.sh", "src")]'
      chattr +d tool.sh src || true
      mkdir -p .git/hooks
      printf '#!/bin/sh\necho HOOK RAN\n' > .git/hooks/post-checkout
      chmod +x .git/hooks/post-checkout
      printf '[core]\n\tfsmonitor = echo FSMONITOR RAN\n' >> .git/config
      echo '*' > .git/info-exclude
      echo "$RUNNER_COMMIT" > .git/refs/evil
YML
	git -C "$SRC" push -q origin develop
	start_daemon --workers 1
	wait_state 1 passed
	git -C "$SRC" commit -q --allow-empty -m "Again"
	git -C "$SRC" push -q origin develop
	wait_state 2 passed
	# the workspace it kept, and the job's own while it ran
	[ -d "$RUNNER_HOME/work/.pool/0" ]
	[ ! -e "$RUNNER_HOME/work/2" ]
	r log 1 look > "$T/look.1"
	r log 2 look | sed "s/$(git -C "$SRC" rev-parse HEAD)/$(git -C "$SRC" rev-parse HEAD~1)/" > "$T/look.2"
	if ! diff "$T/look.1" "$T/look.2"; then
		echo "the second build found another workspace than the first" >&2
		false
	fi
	! grep -q "RAN" "$T/look.2" || false
	grep -q "^-rwx" "$T/look.2"		# tool.sh, not set-uid
	[ "$(r log 1 inode)" = "$(r log 2 inode)" ]
	if [ "$(id -u)" = 0 ]; then
		grep -q " runner-build-0 runner-build-0 .* untouched$" "$T/look.2"
	fi
}

@test "a workspace its last build left too deep to empty is set aside: the next builds check out afresh" {
	# systemd's default soft limit of descriptors, which the unit keeps:
	# emptying a tree takes one a level
	ulimit -n 1024
	empty_source app
	set_pipeline "$SRC" "Too deep to empty" <<'YML'
stages:
  - name: deep
    run: mkdir -p "$(printf 'd/%.0s' $(seq 1 1200))"
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 60 || { r show 1; false; }
	set_pipeline "$SRC" "After it" <<'YML'
stages:
  - name: after
    run: test ! -e d && echo fresh
YML
	git -C "$SRC" push -q origin develop
	wait_state 2 passed 60 || { r show 2; cat "$T/serve.log"; false; }
	grep -q "job #2: the workspace kept from the last build cannot be reused" "$T/serve.log"
	[[ "$(r log 2 after)" == *fresh* ]]
	# and the worker's pool is whole again
	git -C "$SRC" commit -q --allow-empty -m again
	git -C "$SRC" push -q origin develop
	wait_state 3 passed 60 || { r show 3; false; }
	[ "$(grep -c "cannot be reused" "$T/serve.log")" = 1 ]
}
