/*
 * Unit tests of syscall_filter.c: the filter is built once, every rule
 * is in docs/operations.md, and, loaded into a child of this process as
 * bwrap loads it, each call of the table fails as the table says while
 * what builds use (fork, unshare of other namespaces, ioctl on a
 * terminal's settings) still works; a call of another architecture ends
 * the process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "syscall_filter.h"
#include "util.h"

static const char *docs_path;

static void test_built_once(void **state)
{
	const void *a, *b;
	size_t alen, blen;

	(void)state;
	assert_int_equal(syscall_filter_bpf(&a, &alen), 0);
	assert_int_equal(syscall_filter_bpf(&b, &blen), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(alen, blen);
	assert_true(alen > 0);
	assert_int_equal(alen % sizeof(struct sock_filter), 0);
}

/* Every system call of the table is named in the docs' list. */
static void test_documented(void **state)
{
	struct sbuf doc = SBUF_INIT;
	const struct syscall_rule *r;
	size_t n;

	(void)state;
	assert_int_equal(read_file(docs_path, 1 << 20, &doc), 0);
	r = syscall_filter_rules(&n);
	for (size_t i = 0; i < n; i++) {
		char *want = xasprintf("`%s`", r[i].name);
		if (!strstr(doc.buf, want))
			fail_msg("%s does not name %s", docs_path, want);
		free(want);
	}
	sbuf_release(&doc);
}

/* Load the filter into this process, as bwrap does before exec. */
static void load(void)
{
	const void *bpf;
	size_t len;

	if (syscall_filter_bpf(&bpf, &len) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(100);
	struct sock_fprog prog = { (unsigned short)(len /
	    sizeof(struct sock_filter)), (struct sock_filter *)bpf };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(101);
}

/* In the child: each mismatch is a line on `fd`. */
static void expect(int fd, const char *what, long rc, int err)
{
	char line[256];
	int e = errno;

	if (err ? rc == -1 && e == err : rc >= 0)
		return;
	int n = snprintf(line, sizeof(line), "%s: got %ld (%s), wanted %s\n",
	    what, rc, rc < 0 ? strerror(e) : "ok", err ? strerror(err) : "ok");
	(void)!write(fd, line, (size_t)n);
}

static void checks(int fd)
{
	struct termios t;
	char c = 'x';
	long rc;
	int nul = open("/dev/null", O_RDWR);

	load();
	errno = 0;
	expect(fd, "ptrace", syscall(SYS_ptrace, 0 /* TRACEME */, 0, 0, 0),
	    EPERM);
	expect(fd, "process_vm_readv", syscall(SYS_process_vm_readv,
	    getpid(), NULL, 0, NULL, 0, 0), EPERM);
	expect(fd, "process_vm_writev", syscall(SYS_process_vm_writev,
	    getpid(), NULL, 0, NULL, 0, 0), EPERM);
	expect(fd, "keyctl", syscall(SYS_keyctl, 0, -3, 0), EPERM);
	expect(fd, "add_key", syscall(SYS_add_key, "user", "k", "v", 1, -3),
	    EPERM);
	expect(fd, "request_key", syscall(SYS_request_key, "user", "k",
	    NULL, -3), EPERM);
	expect(fd, "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), EPERM);
	expect(fd, "kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0,
	    NULL, 0), EPERM);
	expect(fd, "init_module", syscall(SYS_init_module, NULL, 0, ""), EPERM);
	expect(fd, "finit_module", syscall(SYS_finit_module, -1, "", 0), EPERM);
	expect(fd, "delete_module", syscall(SYS_delete_module, "x", 0), EPERM);
	expect(fd, "userfaultfd", syscall(SYS_userfaultfd, 0), EPERM);
	expect(fd, "perf_event_open", syscall(SYS_perf_event_open, NULL, 0,
	    -1, -1, 0), EPERM);
	expect(fd, "bpf", syscall(SYS_bpf, 0, NULL, 0), EPERM);
	expect(fd, "unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER), EPERM);
	expect(fd, "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
	    unshare(CLONE_NEWUSER | CLONE_NEWNS), EPERM);
	expect(fd, "clone(CLONE_NEWUSER)", syscall(SYS_clone,
	    CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM);
	expect(fd, "clone3", syscall(SYS_clone3, NULL, 0), ENOSYS);
	expect(fd, "setns", syscall(SYS_setns, -1, 0), EPERM);
	expect(fd, "ioctl(TIOCSTI)", ioctl(nul, TIOCSTI, &c), EPERM);
	expect(fd, "ioctl(TIOCSTI, upper bits set)", syscall(SYS_ioctl, nul,
	    (1UL << 32) | TIOCSTI, &c), EPERM);
	expect(fd, "ioctl(TIOCLINUX)", ioctl(nul, TIOCLINUX, &c), EPERM);
	/* what stays allowed */
	expect(fd, "ioctl(TCGETS) on a file", ioctl(nul, TCGETS, &t), ENOTTY);
	expect(fd, "unshare(0)", unshare(0), 0);
	expect(fd, "getpid", getpid(), 0);
	rc = fork();
	if (rc == 0)
		_exit(7);
	int status = 0;
	if (rc > 0)
		waitpid((pid_t)rc, &status, 0);
	expect(fd, "fork", rc > 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 7 ? 0 : -1, 0);
	close(nul);
}

static void test_denied_in_a_child(void **state)
{
	int p[2], status;
	struct sbuf out = SBUF_INIT;
	char buf[1024];
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		checks(p[1]);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		sbuf_add(&out, buf, (size_t)n);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (out.len)
		fail_msg("%s", out.buf);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sbuf_release(&out);
}

#if defined(__x86_64__)
/* The status of a child that makes one system call of another ABI. */
static int foreign_call(int x32)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		load();
		if (x32) {
			/* getpid through the x32 ABI */
			syscall(0x40000000 | SYS_getpid);
		} else {
			/* getpid (20) through the 32-bit entry */
			long rc = 20;
			__asm__ volatile ("int $0x80" : "+a"(rc) : : "memory");
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void test_other_architectures_end(void **state)
{
	int status;

	(void)state;
	status = foreign_call(0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
	status = foreign_call(1);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}
#endif

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_built_once),
		cmocka_unit_test(test_documented),
		cmocka_unit_test(test_denied_in_a_child),
#if defined(__x86_64__)
		cmocka_unit_test(test_other_architectures_end),
#endif
	};

	docs_path = argc > 1 ? argv[1] : "docs/operations.md";
	return cmocka_run_group_tests(tests, NULL, NULL);
}
