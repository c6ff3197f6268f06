/*
 * The seccomp filter of the sandbox: system calls that builds and deploy
 * commands do not need and that reach into the kernel or other processes
 * (tracing, keyrings, kexec, modules, userfaultfd, perf, bpf, new user
 * namespaces, pushing input into a terminal) fail with EPERM; a system
 * call of another architecture kills the process. bwrap loads it last,
 * just before it execs the stage (--seccomp), so bwrap's own set-up is not
 * bound by it. It lives here, not in runner/base, so that only what runs
 * stages links libseccomp.
 */
#ifndef RUNNER_SYSCALL_FILTER_H
#define RUNNER_SYSCALL_FILTER_H

#include <stddef.h>
#include <stdint.h>

/* One rule: system call `name` (as libseccomp names it) fails with
 * `err`; with `arg` >= 0 only when (argument arg & mask) == value. */
struct syscall_rule {
	const char *name;
	int err;
	int arg;
	uint64_t mask;
	uint64_t value;
	const char *why;	/* for docs/operations.md and the tests */
};

/* The rules, in one table; *n is their number. */
const struct syscall_rule *syscall_filter_rules(size_t *n);

/*
 * The filter as classic BPF (struct sock_filter[]), as bwrap's --seccomp
 * reads it: built on the first call, the same bytes after (owned here;
 * one thread: the worker's). Returns 0, or -1 with why it could not be
 * built: then nothing may run unfiltered.
 */
int syscall_filter_bpf(const void **out, size_t *len);

#endif
