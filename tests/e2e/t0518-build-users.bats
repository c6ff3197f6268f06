#!/usr/bin/env bats
# Each worker runs its build stages as a user of its own (build_user-N,
# runner-build-0, runner-build-1...), so that what the kernel counts per
# user is counted per job: one repository's stage holding every process
# runner.yml's limits.processes allows (RLIMIT_NPROC) leaves another
# repository's stage, on the other worker, free to start. The daemon
# creates the users of workers that have none (an install from before, or
# serve --workers past runner.yml's), and runner.yml may not give an
# environment's commands the user of a worker.

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon switches to the workers' users"
	for r in app other; do
		git init -q --bare "$T/$r.git"
		"$RUNNER" install-hook "$T/$r.git" >/dev/null
		git init -q -b develop "$T/src-$r"
		git -C "$T/src-$r" remote add origin "$T/$r.git"
	done
}
teardown() {
	touch "$MARK-go"
	teardown_env
}

@test "one repository's stage holding every process of its user leaves another's stage free to start (processes set to 60 in runner.yml)" {
	cat > "$RUNNER_HOME/runner.yml" <<YML
limits: { processes: 60 }
repos:
  - path: $T/app.git
  - path: $T/other.git
YML
	# app forks until its user may fork no more, says so, and holds
	# those processes until the test says go (2 minutes at most)
	set_pipeline "$T/src-app" "Holds every process" <<YML
stages:
  - name: hold
    timeout: 3m
    run: |
      id -un
      python3 - "$MARK-go" <<'PY'
      import os, sys, time
      r, w = os.pipe()
      n = 0
      while n < 1000:
          try:
              pid = os.fork()
          except OSError as e:
              print("fork refused after %d: %s" % (n, e.strerror), flush=True)
              break
          if pid == 0:
              os.close(w)
              os.read(r, 1)
              os._exit(0)
          n += 1
      print("holding %d" % n, flush=True)
      end = time.monotonic() + 120
      while not os.path.exists(sys.argv[1]) and time.monotonic() < end:
          time.sleep(0.05)
      os.close(w)
      while True:
          try:
              os.wait()
          except ChildProcessError:
              break
      PY
YML
	set_pipeline "$T/src-other" "Starts" <<'YML'
stages:
  - name: starts
    run: |
      id -un
      for i in 1 2 3 4 5; do sh -c 'echo child $$' & done
      wait
YML
	start_daemon --workers 2
	git -C "$T/src-app" push -q origin develop
	wait_for "look r log 1 hold | grep -q '^holding'" 60 || { r log 1 hold; false; }
	held=$(look r log 1 hold)
	echo "$held"
	# it met the limit: the user of its worker has no process left to give
	[[ "$held" == *"fork refused after "*"Resource temporarily unavailable"* ]]
	app_user=$(sed -n 1p <<< "$held")
	[[ "$app_user" =~ ^runner-build-[01]$ ]]
	[ "$(pgrep -c -u "$app_user")" -ge 50 ]
	[ "$(stat -c %U "$RUNNER_HOME/work/1")" = "$app_user" ]

	# the other repository's stage starts, sandbox and all, and passes
	git -C "$T/src-other" push -q origin develop
	wait_for "case \$(job_state 2) in passed|failed|error) true;; *) false;; esac" 60
	other=$(r log 2 starts)
	echo "$other"
	[ "$(job_state 2)" = passed ]
	other_user=$(sed -n 1p <<< "$other")
	[[ "$other_user" =~ ^runner-build-[01]$ ]]
	[ "$other_user" != "$app_user" ]
	[ "$(grep -c '^child ' <<< "$other")" = 5 ]
	# while app still held its processes
	[ "$(job_state 1)" = running ]

	touch "$MARK-go"
	wait_state 1 passed 60 || { r log 1 hold; false; }
}

@test "the daemon creates the users of its workers that are missing; doctor names them" {
	# a build user of this test's own: an install from before, with
	# the build user alone, in a group of the git server's (to read
	# repositories) that its workers' users get too
	test_user runner-test-bu
	git_user
	n=0
	until id -Gn runner-test-bu | grep -qw runner-test-git || [ $n -ge 100 ]; do
		usermod -a -G runner-test-git runner-test-bu 2>/dev/null || nap 0.1
		n=$((n + 1))
	done
	for i in 0 1 2; do
		n=0
		while id "runner-test-bu-$i" >/dev/null 2>&1 && [ $n -lt 100 ]; do
			userdel "runner-test-bu-$i" 2>/dev/null || nap 0.1
			n=$((n + 1))
		done
	done
	cat > "$RUNNER_HOME/runner.yml" <<YML
build_user: runner-test-bu
workers: 2
YML
	# doctor says what is missing, and the command that makes it
	run r doctor
	echo "$output"
	[[ "$output" == *"the build user of worker 0, 'runner-test-bu-0', does not exist"*"useradd --system"*"runner-test-bu-0"* ]]

	# a file the git server's group may read, and one the build user's
	# own group may read (inside the sandbox groups show as nogroup:
	# what counts is what the user may open)
	install -m 0640 -g runner-test-git /dev/null "$MARK-git"
	install -m 0640 -g runner-test-bu /dev/null "$MARK-bu"
	set_pipeline "$T/src-app" "Who" <<YML
stages:
  - name: who
    run: |
      id -un
      test -r "$MARK-git" && echo "reads the git server's"
      test -r "$MARK-bu" && echo "reads the build user's" || true
YML
	# more workers than runner.yml's: serve makes each its user
	start_daemon --workers 3
	for i in 0 1 2; do
		grep -q "created user 'runner-test-bu-$i' (runs the build stages of worker $i)" "$T/serve.log"
		id "runner-test-bu-$i" >/dev/null
	done
	git -C "$T/src-app" push -q origin develop
	wait_state 1 passed || { r log 1 who; false; }
	[[ "$(r log 1 who | sed -n 1p)" =~ ^runner-test-bu-[012]$ ]]
	# with the build user's groups, but its own
	log=$(r log 1 who)
	echo "$log"
	[[ "$log" == *"reads the git server's"* ]]
	[[ "$log" != *"reads the build user's"* ]]

	run r doctor
	echo "$output"
	[[ "$output" == *"build stages run as 'runner-test-bu-0' to 'runner-test-bu-1' (a user per worker)"* ]]
}

@test "runner.yml gives no environment nor the release user the user of a worker" {
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
release_user: runner-build-1
YML
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"'release_user' is 'runner-build-1', the user of one of build_user's workers"* ]]
	cat > "$RUNNER_HOME/runner.yml" <<'YML'
environments:
  staging:
    user: runner-build-0
YML
	run r notify list
	[ "$status" -eq 1 ]
	[[ "$output" == *"'user' of environment 'staging' is 'runner-build-0', the user of one of build_user's workers"* ]]
}
