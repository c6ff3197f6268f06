/*
 * The sandbox's seccomp filter, built with libseccomp: it knows each
 * architecture's system call numbers and argument layout, and writes the
 * architecture check that a filter written by hand gets wrong (a 32-bit
 * call from a 64-bit process, x32). Everything not in the table is
 * allowed: the sandbox's namespaces and the build user confine the rest;
 * the table removes what a build has no use for and kernel exploits do.
 */
#include "syscall_filter.h"
#include "util.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* clone(2)'s flags are its first argument, but on s390 its second. */
#if defined(__s390__) || defined(__s390x__) || defined(__CRIS__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

#define ANY -1, 0, 0
/* ioctl's request is an int to the kernel: the upper half of the register
 * must not matter, or it would slip past an equality */
#define IOCTL_IS(req) 1, 0xffffffffu, (req)

static const struct syscall_rule rules[] = {
	{ "ptrace", EPERM, ANY,
	  "reads and changes other processes: those of the same user outside "
	  "the sandbox when it has no pid namespace (deploy commands)" },
	{ "process_vm_readv", EPERM, ANY,
	  "reads another process's memory, as ptrace does" },
	{ "process_vm_writev", EPERM, ANY,
	  "writes another process's memory, as ptrace does" },
	{ "keyctl", EPERM, ANY,
	  "the kernel keyrings are not namespaced: the user's keys outside "
	  "the sandbox" },
	{ "add_key", EPERM, ANY, "adds to the kernel keyrings" },
	{ "request_key", EPERM, ANY, "reads the kernel keyrings" },
	{ "kexec_load", EPERM, ANY, "loads a new kernel" },
	{ "kexec_file_load", EPERM, ANY, "loads a new kernel" },
	{ "init_module", EPERM, ANY, "loads kernel code" },
	{ "finit_module", EPERM, ANY, "loads kernel code" },
	{ "delete_module", EPERM, ANY, "unloads kernel code" },
	{ "userfaultfd", EPERM, ANY,
	  "stops the kernel on a page fault at will: what kernel exploits "
	  "use to win races" },
	{ "perf_event_open", EPERM, ANY,
	  "kernel and hardware events: side channels, and many kernel bugs" },
	{ "bpf", EPERM, ANY, "programs run in the kernel" },
	{ "unshare", EPERM, 0, CLONE_NEWUSER, CLONE_NEWUSER,
	  "a new user namespace: root in it reaches kernel code that is "
	  "otherwise root's only" },
	{ "clone", EPERM, CLONE_FLAGS_ARG, CLONE_NEWUSER, CLONE_NEWUSER,
	  "a new user namespace, as unshare" },
	{ "clone3", ENOSYS, ANY,
	  "its flags are in memory, where a filter cannot look; ENOSYS makes "
	  "the C library fall back to clone" },
	{ "setns", EPERM, ANY, "joins another namespace" },
	{ "ioctl", EPERM, IOCTL_IS(TIOCSTI),
	  "TIOCSTI pushes input into a terminal, to be run as its owner" },
	{ "ioctl", EPERM, IOCTL_IS(TIOCLINUX),
	  "TIOCLINUX can paste into a virtual console, as TIOCSTI" },
};

const struct syscall_rule *syscall_filter_rules(size_t *n)
{
	*n = sizeof(rules) / sizeof(*rules);
	return rules;
}

/* The whole of descriptor `fd` from its start, into `out`. */
static int read_all(int fd, struct sbuf *out)
{
	char buf[4096];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		sbuf_add(out, buf, (size_t)n);
	}
	return 0;
}

static int build(struct sbuf *out)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd = -1, rc, error = -1;

	if (!ctx)
		return error_set(-1, "cannot build the sandbox's seccomp filter: "
		    "libseccomp cannot start one");
	/* a call of another architecture (int 0x80 on x86_64, x32) is not
	 * checked by the rules: it ends the process */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0) {
		error = error_set(-1, "cannot build the sandbox's seccomp filter: "
		    "the action for other architectures: %s", strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++) {
		const struct syscall_rule *r = &rules[i];
		int nr = seccomp_syscall_resolve_name(r->name);
		struct scmp_arg_cmp cmp = SCMP_CMP((unsigned)(r->arg < 0 ? 0 :
		    r->arg), SCMP_CMP_MASKED_EQ, r->mask, r->value);

		if (nr == __NR_SCMP_ERROR) {
			error = error_set(-1, "cannot build the sandbox's seccomp "
			    "filter: libseccomp knows no system call '%s'",
			    r->name);
			goto out;
		}
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO((uint16_t)r->err),
		    nr, r->arg < 0 ? 0 : 1, &cmp);
		if (rc < 0) {
			error = error_set(-1, "cannot build the sandbox's seccomp "
			    "filter: the rule for '%s': %s", r->name,
			    strerror(-rc));
			goto out;
		}
	}
	if ((fd = memfd_create("seccomp-bpf", MFD_CLOEXEC)) < 0 ||
	    (rc = seccomp_export_bpf(ctx, fd)) < 0 || read_all(fd, out) < 0) {
		error = error_set(-1, "cannot build the sandbox's seccomp filter: "
		    "cannot export it: %s", strerror(fd < 0 || rc >= 0 ? errno :
		    -rc));
		goto out;
	}
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return error;
}

int syscall_filter_bpf(const void **out, size_t *len)
{
	static struct sbuf bpf = SBUF_INIT;
	int error;

	if (!bpf.len) {
		sbuf_reset(&bpf);
		if ((error = build(&bpf)) < 0) {
			sbuf_release(&bpf);
			return error;
		}
	}
	*out = bpf.buf;
	*len = bpf.len;
	return 0;
}
