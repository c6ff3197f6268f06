#!/usr/bin/env bats
# The checkout a job makes, compared with git's own over a corpus: line
# endings and ident from .gitattributes, symbolic links (relative,
# dangling, to a folder), executable bits, a submodule entry, unicode and
# odd names, deep folders, an empty tree; and the names git refuses
# (".git" in its NTFS and HFS+ disguises, a .gitmodules link) refused.
# A checkout over the workspace of another commit (as a worker makes
# its next build's) is the same as git's of the new commit.

load lib

setup() {
	setup_env
	: "${RUNNER_BENCH:?set by meson: the benchmark helper}"
}
teardown() { teardown_env; }

# What a tree looks like: each path (not .git) with its type, the
# executable bit of files, the sha256 of contents or a link's target.
describe() {
	(cd "$1" && find . -path ./.git -prune -o -mindepth 1 -print0 | sort -z |
	    while IFS= read -r -d '' p; do
		if [ -L "$p" ]; then printf '%q link %s\n' "$p" "$(readlink "$p")"
		elif [ -d "$p" ]; then printf '%q dir\n' "$p"
		elif [ -x "$p" ]; then printf '%q exec %s\n' "$p" "$(sha256sum < "$p" | cut -c1-16)"
		else printf '%q file %s\n' "$p" "$(sha256sum < "$p" | cut -c1-16)"
		fi
	    done)
}

# same_as_git COMMIT [over]: our checkout of COMMIT equals git's, and git
# sees it clean; with "over", made over what $T/ours holds.
same_as_git() {
	rm -rf "$T/git"
	if [ "${2:-}" = over ]; then
		"$RUNNER_BENCH" checkout-over "$T/corpus.git" "$1" "$T/ours" >/dev/null
	else
		rm -rf "$T/ours"
		"$RUNNER_BENCH" checkout "$T/corpus.git" "$1" "$T/ours" >/dev/null
	fi
	git clone -q --no-checkout "$T/corpus.git" "$T/git"
	git -C "$T/git" checkout -q "$1"
	diff <(describe "$T/git") <(describe "$T/ours")
	[ -z "$(git -C "$T/ours" status --porcelain)" ]
}

corpus() {
	local d="$T/corpus"
	git init -q -b develop "$d"
	mkdir -p "$d/deep/a/b/c/d/e/f" "$d/dir with space" "$d/uni"
	printf 'one\ntwo\n' > "$d/deep/a/b/c/d/e/f/leaf.txt"
	printf 'x\n' > "$d/dir with space/file name.txt"
	printf 'café\n' > "$d/uni/été-日本.txt"
	printf 'nl\n' > "$d/uni/new
line"
	printf 'esc\n' > "$d/uni/$(printf 'e\033[1m')"
	printf '#!/bin/sh\necho run\n' > "$d/tool.sh" && chmod +x "$d/tool.sh"
	ln -s deep/a/b/c/d/e/f/leaf.txt "$d/link-file"
	ln -s deep/a "$d/link-dir"
	ln -s does/not/exist "$d/link-dangling"
	head -c 3000 /dev/urandom > "$d/blob.bin"
	git -C "$d" add -A
	# a submodule entry (a gitlink): git makes an empty folder
	git -C "$d" update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,sub
	git -C "$d" commit -q -m "plain tree"
	PLAIN=$(git -C "$d" rev-parse HEAD)
	printf '*.txt eol=crlf\n*.bin -text\nid.c ident\n' > "$d/.gitattributes"
	printf 'int x; /* $Id$ */\n' > "$d/id.c"
	printf 'a\nb\n' > "$d/crlf.txt"
	git -C "$d" add -A
	git -C "$d" commit -q -m "with attributes"
	ATTRS=$(git -C "$d" rev-parse HEAD)
	git -C "$d" rm -q -r --cached .
	git -C "$d" commit -q --allow-empty -m "empty tree"
	EMPTY=$(git -C "$d" rev-parse HEAD)
	# folders become files and files folders, a link a folder
	git -C "$d" checkout -q "$PLAIN" -- .
	git -C "$d" rm -q -r --cached deep tool.sh link-dir
	rm -rf "$d/deep" "$d/tool.sh" "$d/link-dir"
	printf 'now a file\n' > "$d/deep"
	mkdir -p "$d/tool.sh/in" "$d/link-dir"
	printf 'x\n' > "$d/tool.sh/in/f"
	printf 'y\n' > "$d/link-dir/g"
	git -C "$d" add -A
	git -C "$d" commit -q -m "shapes swapped"
	SWAPPED=$(git -C "$d" rev-parse HEAD)
	git clone -q --bare "$d" "$T/corpus.git"
}

# hostile COMMIT-MESSAGE PATH [link]: a commit whose tree holds PATH (made
# with git's plumbing: git would not add it from a work tree)
hostile() {
	local blob tree mode=100644 name=$2
	blob=$(printf 'x\n' | git -C "$T/corpus.git" hash-object -w --stdin)
	[ "${3:-}" = link ] && mode=120000
	tree=$(printf '%s blob %s\t%s\n' "$mode" "$blob" "$name" | git -C "$T/corpus.git" mktree)
	git -C "$T/corpus.git" commit-tree -m "$1" "$tree"
}

@test "a checkout is the one git makes: plain, with .gitattributes, empty" {
	corpus
	same_as_git "$PLAIN"
	same_as_git "$ATTRS"
	grep -q $'a\r$' "$T/ours/crlf.txt"		# eol=crlf was applied
	grep -q '\$Id: [0-9a-f]* \$' "$T/ours/id.c"	# and ident
	same_as_git "$EMPTY"
}

@test "a checkout over another commit's workspace is the one git makes" {
	corpus
	local from to
	for from in "$PLAIN" "$ATTRS" "$EMPTY" "$SWAPPED"; do
		for to in "$PLAIN" "$ATTRS" "$EMPTY" "$SWAPPED"; do
			same_as_git "$from"
			# what a stage may leave: changes, new files, git's own
			printf 'junk\n' >> "$T/ours/blob.bin" 2>/dev/null || true
			mkdir -p "$T/ours/new/er" "$T/ours/.git/hooks"
			touch "$T/ours/new/er/f" "$T/ours/.git/hooks/post-checkout"
			chmod 4755 "$T/ours/tool.sh" 2>/dev/null || true
			same_as_git "$to" over
			# and .git as a new checkout's
			rm -rf "$T/new"
			"$RUNNER_BENCH" checkout "$T/corpus.git" "$to" "$T/new" >/dev/null
			diff <(cd "$T/new/.git" && find . -printf '%M %P\n' | sort) \
			    <(cd "$T/ours/.git" && find . -printf '%M %P\n' | sort)
		done
	done
}

@test "names git refuses are refused, and nothing is written outside" {
	corpus
	for name in .GIT .git. '.git ' git~1 GIT~1 '.git::$INDEX_ALLOCATION' \
	    $'.g\u200cit' $'.git\ufeff'; do
		c=$(hostile "bad $name" "$name")
		rm -rf "$T/ours"
		run "$RUNNER_BENCH" checkout "$T/corpus.git" "$c" "$T/ours"
		[ "$status" -ne 0 ]
		[[ "$output" == *"refusing the path"* ]]
	done
	c=$(hostile "a .gitmodules link" .gitmodules link)
	rm -rf "$T/ours"
	run "$RUNNER_BENCH" checkout "$T/corpus.git" "$c" "$T/ours"
	[ "$status" -ne 0 ]
	[[ "$output" == *"refusing the path '.gitmodules' in the commit: a symbolic link"* ]]
}
