#!/usr/bin/env bats
# A commit of 100,000 files is checked out and built in bounded time (a
# file of its own: it is the slowest hostile repository).

load lib

setup() {
	setup_env
	empty_source app
}
teardown() { teardown_env; }

@test "a commit of 100,000 files is checked out and built" {
	# generated with fast-import: 100k small files in 100 folders (20k
	# under the sanitizers: the same code, several times slower)
	folders=100
	if [ -n "${RUNNER_SANITIZED:-}" ]; then
		folders=20
		echo "# sanitized build: $((folders * 1000)) files (100,000 in the plain build)" >&3
	fi
	{
		echo "commit refs/heads/develop"
		echo "committer Tester <t@example.com> 1700000000 +0000"
		echo "data 9"; echo "100k file"
		for d in $(seq 0 $((folders - 1))); do
			for f in $(seq 0 999); do
				printf 'M 644 inline d%d/f%d\ndata 2\nx\n' "$d" "$f"
			done
		done
		echo "M 644 inline .runner.yml"
		body='stages: [ { name: count, run: "find d* -type f | wc -l" } ]'
		echo "data ${#body}"; echo "$body"
	} | git -C "$SRC" fast-import --quiet
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed 240
	[[ "$(r log 1 count)" == *"$((folders * 1000))"* ]]
}
