#!/usr/bin/env bats
# Nothing a push controls reaches a process outside the sandbox. A
# commit carries a shared object whose constructor leaves a mark when it
# runs as the build user (or, as in t0730, the daemon's own user) in the
# host's mount namespace, and names it in its stages' env: as
# LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH (as the libcap bwrap loads),
# GCONV_PATH, BASH_ENV and ENV. No mark may appear, and each stage's log
# shows the object ran inside. While a stage and a deploy command hold,
# no process but their own has a pushed value or a secret in its
# environment or command line. From inside: only descriptors 0-2, no
# user namespace, no ptrace, keyctl or TIOCSTI (the seccomp filter).

load lib

setup() {
	setup_env
	[ "$(id -u)" = 0 ] || skip "needs root: the daemon switches users"
	SLEEPER=$(make_sleeper)
	# where a probe that ran outside leaves its mark (the build user may
	# write it; inside the sandbox it is read-only, as all of /var/tmp)
	OUT="$MARK-outside"
	mkdir -m 1777 "$OUT"
	HOST_MNT=$(stat -L -c %i /proc/self/ns/mnt)
	HOST_USERNS=$(stat -L -c %i /proc/self/ns/user)
	# the values no process outside the sandbox may hold
	PUSHED="pushed-value-$RANDOM$RANDOM"
	SECRET="secret-value-$RANDOM$RANDOM"
	printf '%s\n%s\n' "$PUSHED" "$SECRET" > "$T/needles"
}
teardown() {
	rm -rf "$OUT"
	teardown_env
}

# probes DIR UID [UID2]: compile into DIR the shared object (DIR/probe.so,
# and as DIR/lib/libcap.so.2 and a gconv module), its shell twin for
# BASH_ENV and ENV, and sysprobe, which tries from inside what the seccomp
# filter refuses. A probe that runs outside the sandbox as UID (or UID2)
# leaves its mark.
probes() {
	local dir=$1 uid=$2 uid2=${3:-$2}
	cat > "$T/probe.c" <<C
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((constructor)) static void probe(void)
{
	struct stat st;
	char path[512], cmd[256];
	ssize_t n = 0;
	int fd;

	if ((getuid() == $uid || getuid() == $uid2) &&
	    stat("/proc/self/ns/mnt", &st) == 0 &&
	    st.st_ino == ${HOST_MNT}u) {
		if ((fd = open("/proc/self/cmdline", O_RDONLY)) >= 0) {
			n = read(fd, cmd, sizeof(cmd));
			close(fd);
		}
		snprintf(path, sizeof(path), "$OUT/so-%d", (int)getpid());
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
			(void)!write(fd, cmd, n > 0 ? (size_t)n : 0);
			close(fd);
		}
	} else {
		static const char m[] = "preload-inside\n";
		(void)!write(2, m, sizeof(m) - 1);
	}
}

/* as an audit library (LD_AUDIT) */
unsigned int la_version(unsigned int v) { return v; }
/* as the libcap that bwrap links */
int cap_from_name(const char *name, void *value) { (void)name; (void)value; return -1; }
C
	gcc -shared -fPIC -o "$dir/probe.so" "$T/probe.c"
	mkdir -p "$dir/lib" "$dir/gconv"
	cp "$dir/probe.so" "$dir/lib/libcap.so.2"
	cp "$dir/probe.so" "$dir/gconv/probe.so"
	printf 'module EVIL// INTERNAL probe 1\nmodule INTERNAL EVIL// probe 1\n' \
	    > "$dir/gconv/gconv-modules"
	cat > "$dir/probe.sh" <<SH
if { [ "\$(id -u)" = $uid ] || [ "\$(id -u)" = $uid2 ]; } && [ "\$(stat -L -c %i /proc/self/ns/mnt)" = $HOST_MNT ]; then
	echo "\$0" > "$OUT/sh-\$\$"
else
	echo preload-inside >&2
fi
SH
	cat > "$T/sysprobe.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rc)
{
	printf("%s %s\n", what, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(void)
{
	char c = 'x';
	int m, s;

	report("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	report("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */,
	    -3 /* the session's */, 0));
	report("userns", unshare(CLONE_NEWUSER));
	/* a terminal of our own, our controlling one: the kernel lets us
	 * push input into it; the filter does not */
	setsid();
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 ||
	    (s = open(ptsname(m), O_RDWR)) < 0) {
		printf("tiocsti no-terminal %s\n", strerrorname_np(errno));
		return 0;
	}
	report("tiocsti", ioctl(s, TIOCSTI, &c));
	return 0;
}
C
	gcc -o "$dir/sysprobe" "$T/sysprobe.c"
}

# pipeline WS: the stages and the staging deploy command of the attack,
# for a build whose workspace is WS.
pipeline() {
	local ws=$1
	cat <<YML
stages:
  - name: preload
    env: { LD_PRELOAD: $ws/probe.so }
    run: "true"
  - name: audit
    env: { LD_AUDIT: $ws/probe.so }
    run: "true"
  - name: library-path
    env: { LD_LIBRARY_PATH: $ws/lib }
    run: bwrap --version
  - name: gconv
    env: { GCONV_PATH: $ws/gconv }
    run: iconv -f EVIL -t UTF-8 </dev/null || true
  - name: bash-env
    env: { BASH_ENV: $ws/probe.sh }
    run: bash -c true
  - name: sh-env
    env: { ENV: $ws/probe.sh }
    run: sh -i -c true </dev/null
  - name: inside
    run: |
      echo "fds: \$(ls -l /proc/self/fd/ | sed 1d | awk '{ print \$9 "=" \$11 }' | tr '\n' ' ')"
      ./sysprobe
      if unshare -U true 2>/dev/null; then echo "unshare worked"; fi
      if strace -f -o /dev/null true 2>/dev/null; then echo "strace worked"; fi
  - name: hold
    env: { PUSHED_VALUE: $PUSHED }
    secrets: [PROBE_SECRET]
    run: |
      echo holding
      i=0; while [ ! -e "$MARK-go" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
      mkdir -p dist && echo app > dist/app
    artifacts: [dist/**]
environments:
  staging:
    secrets: [PROBE_SECRET]
    deploy: |
      echo "fds: \$(ls -l /proc/self/fd/ | sed 1d | awk '{ print \$9 "=" \$11 }' | tr '\n' ' ')"
      ./sysprobe
      "$SLEEPER" 301 &
      echo holding
      i=0; while [ ! -e "$MARK-go-deploy" ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done
YML
}

# The processes whose environment or command line holds a needle, one
# line each: PID FILE COMM and whether it is in the host's user namespace
# or the sandbox's.
holders() {
	local p f where
	for p in /proc/[0-9]*; do
		for f in environ cmdline; do
			grep -qaF -f "$T/needles" "$p/$f" 2>/dev/null || continue
			where=sandbox
			[ "$(stat -L -c %i "$p/ns/user" 2>/dev/null)" != "$HOST_USERNS" ] ||
			    where=host
			echo "${p#/proc/} $f $(cat "$p/comm" 2>/dev/null) $where"
		done
	done
}

# Only the stage's own processes, inside the sandbox, hold a value; at
# least one does (so that the search can fail). bwrap has its own
# environment and, from outside, holds none.
only_the_stage_holds() {
	local seen
	seen=$(holders)
	echo "holders of a pushed value or a secret:"
	echo "${seen:-(none)}"
	[ -n "$seen" ]
	! grep -v ' sandbox$' <<< "$seen" || false
	! grep ' bwrap ' <<< "$seen" || false
	# and bwrap runs with what it was given, in a pid namespace of its
	# own that ends with its parent (a build stage's) or that the runner
	# tracks (an environment command's, whose services outlive it)
	local c
	for p in $(pgrep -x bwrap); do
		grep -qaF -- "$WS" "/proc/$p/cmdline" 2>/dev/null || continue
		c=$(tr '\0' ' ' < "/proc/$p/cmdline")
		grep -q -- '--unshare-pid' <<< "$c"
		grep -q -- '--die-with-parent' <<< "$c" ||
		    grep -q -- '--json-status-fd' <<< "$c"
		grep -q -- '--seccomp' <<< "$c"
		[ "$(tr '\0' ' ' < "/proc/$p/environ")" = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C " ]
	done
}

# only_stdio LOG: the stage's `ls -l /proc/self/fd` saw 0-2 and its own
# folder, nothing that bwrap or the runner left open.
only_stdio() {
	grep -qE '^fds: 0=/dev/null 1=pipe:\[[0-9]+\] 2=pipe:\[[0-9]+\] 3=/proc/[0-9]+/fd $' <<< "$1"
}

# attack PUSH-CMD...: push the attack, check the build and the deploy.
attack() {
	"$@"
	wait_for "r log 1 hold 2>/dev/null | grep -q holding" 90 ||
	    { r show 1; r log 1 inside; false; }
	only_the_stage_holds
	touch "$MARK-go"
	wait_state 1 passed 60 || { r show 1; r log 1 hold; false; }
	for s in preload audit library-path gconv bash-env sh-env; do
		r log 1 "$s" | grep -q preload-inside ||
		    { echo "stage $s: the probe did not run inside"; r log 1 "$s"; false; }
	done
	log=$(r log 1 inside)
	echo "$log"
	only_stdio "$log"
	[[ "$log" == *"ptrace EPERM"* ]]
	[[ "$log" == *"keyctl EPERM"* ]]
	[[ "$log" == *"userns EPERM"* ]]
	[[ "$log" == *"tiocsti EPERM"* ]]
	[[ "$log" != *"unshare worked"* ]]
	[[ "$log" != *"strace worked"* ]]
	# the staging deploy: no PID namespace of its own, the same filter
	wait_for "[ -n \"\$(last_job deploy staging)\" ]" 30
	dep=$(last_job deploy staging)
	wait_for "r log $dep 2>/dev/null | grep -q holding" 60 || { r show "$dep"; false; }
	WS="$RUNNER_HOME/work/$dep"
	only_the_stage_holds
	touch "$MARK-go-deploy"
	[ "$(wait_deploy "$dep" 60)" = healthy ] || { r show "$dep"; r log "$dep"; false; }
	log=$(r log "$dep")
	only_stdio "$log"
	[[ "$log" == *"ptrace EPERM"* ]]
	[[ "$log" == *"tiocsti EPERM"* ]]
	# what a deploy command left running stays in its pid namespace,
	# not the host's (the next deployment ends it)
	local left
	left=$(pgrep -f "^$SLEEPER 301")
	[ -n "$left" ]
	[ "$(stat -L -c %i "/proc/$left/ns/pid")" != "$(stat -L -c %i /proc/self/ns/pid)" ]
	# and no probe ran outside
	[ -z "$(ls -A "$OUT")" ] || { head "$OUT"/*; false; }
}

@test "daemon as root: a loader variable in env: runs nothing outside the sandbox, no process outside holds a value" {
	empty_source app
	cat > "$RUNNER_HOME/runner.yml" <<YML
secrets:
  PROBE_SECRET: $SECRET
YML
	# build stages run as the worker's user, staging's commands as the
	# build user
	probes "$SRC" "$(id -u runner-build-0)" "$(id -u runner-build)"
	pipeline "$RUNNER_HOME/work/1" > "$SRC/.runner.yml"
	git -C "$SRC" add -A
	git -C "$SRC" commit -q -m "tools"
	WS="$RUNNER_HOME/work/1"
	start_daemon --workers 1
	attack git -C "$SRC" push -q origin develop
}

@test "daemon as its own user: the same" {
	svc_home
	cat > "$RUNNER_HOME/runner.yml" <<YML
secrets:
  PROBE_SECRET: $SECRET
YML
	chown "$SVC:" "$RUNNER_HOME/runner.yml"
	chmod 0600 "$RUNNER_HOME/runner.yml"
	svc git init -q --bare "$S/app.git"
	svc "$RUNNER" install-hook "$S/app.git" >/dev/null
	SRC="$S/src"
	mkdir "$SRC"
	probes "$SRC" "$(id -u "$SVC")"
	pipeline "$RUNNER_HOME/work/1" > "$SRC/.runner.yml"
	chown -R "$SVC:" "$SRC"
	svc git -C "$SRC" init -q -b develop
	svc git -C "$SRC" remote add origin "$S/app.git"
	svc git -C "$SRC" add -A
	svc git -C "$SRC" commit -q -m "tools"
	WS="$RUNNER_HOME/work/1"
	start_svc_daemon
	attack svc git -C "$SRC" push -q origin develop
}

@test "isolate: false: the stage's shell is the first program with its variables, and never gets the daemon's" {
	empty_source app
	cat > "$RUNNER_HOME/runner.yml" <<YML
repos:
  - path: $T/app.git
    isolate: false
YML
	set_pipeline "$SRC" "Unconfined" <<YML
stages:
  - name: host
    env: { PUSHED_VALUE: $PUSHED }
    run: |
      test "\$(id -un)" = runner-build-0
      echo "parent: \$(cat /proc/\$PPID/comm)"
      env | sort
YML
	start_daemon --workers 1
	git -C "$SRC" push -q origin develop
	wait_state 1 passed || { r log 1 host; false; }
	log=$(r log 1 host)
	echo "$log"
	# started by the worker itself, nothing in between
	[[ "$log" == *"parent: runner-worker"* ]]
	[[ "$log" == *"PUSHED_VALUE=$PUSHED"* ]]
	# the daemon's environment (RUNNER_HOME, the test's HOME) is not there
	! grep -q '^RUNNER_HOME=' <<< "$log" || false
	! grep -qF "HOME=$HOME" <<< "$log" || false
}

