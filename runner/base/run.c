/*
 * Starting child processes. Everything the child needs (the program's
 * path, bwrap's arguments, the descriptors it keeps) is prepared before
 * vfork(): the child borrows the parent's memory until it execs, so it
 * only makes system calls, and writes a failed step's errno into the
 * parent's memory, which the parent reads once it runs again (as
 * posix_spawn does). A fork would first copy the page tables of a worker
 * that maps libgit2, libcurl and libarchive.
 *
 * A sandboxed child's environment never reaches bwrap's: bwrap runs with
 * PATH and LANG, and reads --clearenv and a --setenv per variable from a
 * memfd (--args) that only it can read, so that a loader variable from a
 * push (LD_PRELOAD, LD_AUDIT, GCONV_PATH) runs nothing on the host, and a
 * secret is in neither its /proc/PID/environ nor its command line.
 *
 * The user switch uses the raw system calls: glibc's setuid() would try to
 * change the credentials of every thread of the (shared) parent. The
 * users themselves, and running a function as one, are users.c's.
 */
#include "run.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAPTURE_MAX (1024 * 1024)

static char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C", NULL
};

/* The program's absolute path: argv[0] itself, or found in PATH. */
static char *find_program(const char *name, char *const *envp)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

	if (strchr(name, '/'))
		return xstrdup(name);
	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	while (*path) {
		size_t n = strcspn(path, ":");
		char *p = xasprintf("%.*s/%s", (int)n, n ? path : ".", name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
		path += n + (path[n] == ':');
	}
	return NULL;
}

struct argv_buf {
	const char **v;
	size_t n;
};

static void push(struct argv_buf *a, const char *s)
{
	a->v = xrealloc(a->v, (a->n + 2) * sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

/* Is `path` below one of the other hidden paths? Then hiding that one
 * hides it. */
static int hidden_below(const char *const *hide, const char *path)
{
	for (const char *const *h = hide; h && *h; h++) {
		size_t n = strlen(*h);
		if (*h != path && !strncmp(path, *h, n) &&
		    (path[n] == '/' || (n == 1 && **h == '/')) && strcmp(path, *h))
			return 1;
	}
	return 0;
}

/*
 * bwrap's arguments, then the child's own. `env_fd` is the descriptor
 * number (as text) bwrap reads the environment's arguments from,
 * `seccomp_fd` that of the filter, or NULL.
 */
static void sandbox_argv(const struct run_sandbox *sb, const char *cwd,
    const char *const *argv, const char *env_fd, const char *seccomp_fd,
    const char *status_fd, struct argv_buf *a)
{
	struct stat st;

	push(a, "bwrap");
	push(a, "--args");
	push(a, env_fd);
	if (!sb->pid_ns || !sb->keep_ns)
		push(a, "--die-with-parent");
	if (status_fd) {
		push(a, "--json-status-fd");
		push(a, status_fd);
	}
	push(a, "--unshare-user");
	push(a, "--disable-userns");
	push(a, "--unshare-ipc");
	push(a, "--unshare-uts");
	push(a, "--unshare-cgroup-try");
	/*
	 * A session without a terminal, so nothing can push input into
	 * one: with its own pid namespace, a new session inside too.
	 * Without one, the session child_main makes for bwrap is the
	 * sandbox's: a session inside would take the command's processes
	 * out of the group the stage ends when its shell exits (a plain
	 * `app &` would survive it).
	 */
	if (sb->pid_ns) {
		push(a, "--new-session");
		push(a, "--unshare-pid");
	}
	if (!sb->network)
		push(a, "--unshare-net");
	push(a, "--ro-bind");
	push(a, "/");
	push(a, "/");
	push(a, "--dev");
	push(a, "/dev");
	if (sb->pid_ns) {
		push(a, "--proc");
		push(a, "/proc");
	}
	push(a, "--tmpfs");
	push(a, "/tmp");
	for (const char *const *h = sb->hide; h && *h; h++) {
		if (stat(*h, &st) < 0 || hidden_below(sb->hide, *h))
			continue;
		if (S_ISDIR(st.st_mode)) {
			push(a, "--tmpfs");
			push(a, *h);
		} else {
			push(a, "--ro-bind");
			push(a, "/dev/null");
			push(a, *h);
		}
	}
	for (const char *const *p = sb->ro; p && *p; p++) {
		push(a, "--ro-bind");
		push(a, *p);
		push(a, *p);
	}
	for (const char *const *p = sb->rw; p && *p; p++) {
		push(a, "--bind");
		push(a, *p);
		push(a, *p);
	}
	/* the empty folders over what is hidden cannot be written either;
	 * only now: the binds above made their mount points in them */
	for (const char *const *h = sb->hide; h && *h; h++) {
		if (stat(*h, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !hidden_below(sb->hide, *h)) {
			push(a, "--remount-ro");
			push(a, *h);
		}
	}
	if (cwd) {
		push(a, "--chdir");
		push(a, cwd);
	}
	if (seccomp_fd) {
		push(a, "--seccomp");
		push(a, seccomp_fd);
	}
	push(a, "--");
	for (const char *const *p = argv; *p; p++)
		push(a, *p);
}

enum step { STEP_NONE, STEP_SESSION, STEP_USER, STEP_LIMITS, STEP_FDS,
	STEP_CWD, STEP_EXEC };

static const char *const step_names[] = {
	"", "a session", "the user switch", "resource limits",
	"descriptors", "the working folder", "exec",
};

struct shared {
	volatile int err;
	volatile enum step step;
};

/* Descriptors a child may keep: the caller's, then the sandbox's (the
 * environment's arguments, the seccomp filter, its status). */
#define KEEP_ALL (CHILD_KEEP_MAX + 3)

static __attribute__((noreturn)) void child_main(const struct child *c,
    const char *prog, const char *const *argv, char *const *envp,
    int devnull, const int *keep, int nkeep, struct shared *sh)
{
	sigset_t none;
	int fds[3 + KEEP_ALL];
	int base = 3 + nkeep;
	/* a sandbox without a pid namespace of its own has no session of
	 * its own inside (sandbox_argv): it gets ours */
	int new_session = c->setsid || (c->sandbox && !c->sandbox->pid_ns);

	fds[0] = c->in >= 0 ? c->in : devnull;
	fds[1] = c->out >= 0 ? c->out : devnull;
	fds[2] = c->err >= 0 ? c->err : c->out >= 0 ? c->out : devnull;
	for (int i = 0; i < nkeep; i++)
		fds[3 + i] = keep[i];
	sh->step = STEP_SESSION;
	if (new_session ? setsid() < 0 : c->pgroup && setpgid(0, 0) < 0)
		goto fail;
	if (c->pdeathsig)
		prctl(PR_SET_PDEATHSIG, c->pdeathsig);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, sig == SIGPIPE && c->ignore_sigpipe ? SIG_IGN :
		    SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sh->step = STEP_USER;
	if (c->user && (syscall(SYS_setgroups, (size_t)c->user->ngroups,
	    c->user->groups) < 0 || syscall(SYS_setresgid, c->user->gid,
	    c->user->gid, c->user->gid) < 0 || syscall(SYS_setresuid,
	    c->user->uid, c->user->uid, c->user->uid) < 0))
		goto fail;
	sh->step = STEP_LIMITS;
	if (c->limits) {
		const struct { int res; int64_t v; } lims[] = {
			{ RLIMIT_NPROC, c->limits->processes },
			{ RLIMIT_AS, c->limits->memory },
			{ RLIMIT_FSIZE, c->limits->file_size },
			{ RLIMIT_NOFILE, c->limits->open_files },
		};
		for (size_t i = 0; i < sizeof(lims) / sizeof(*lims); i++) {
			struct rlimit rl = { (rlim_t)lims[i].v, (rlim_t)lims[i].v };
			if (lims[i].v > 0 && setrlimit(lims[i].res, &rl) < 0)
				goto fail;
		}
	}
	sh->step = STEP_FDS;
	/* fds[i] becomes descriptor i. Any of them may sit where another
	 * goes: all are moved above the last place first, so that no dup2
	 * closes one still to be placed. */
	for (int i = 0; i < base; i++)
		if (fds[i] < base &&
		    (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, base)) < 0)
			goto fail;
	for (int i = 0; i < base; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	/* Our own descriptors are close-on-exec; this also drops any that
	 * whoever started us left open. */
	close_range((unsigned)base, ~0U, 0);
	sh->step = STEP_CWD;
	if (c->cwd && !c->sandbox && chdir(c->cwd) < 0)
		goto fail;
	sh->step = STEP_EXEC;
	execve(prog, (char *const *)argv, envp);
fail:
	sh->err = errno ? errno : EINVAL;
	_exit(127);
}

/* vfork in a frame of its own: nothing of child_start's is live across
 * it. */
static __attribute__((noinline)) pid_t spawn(const struct child *c,
    const char *prog, const char *const *argv, char *const *envp,
    int devnull, const int *keep, int nkeep, struct shared *sh)
{
	pid_t pid = vfork();

	if (pid == 0)
		child_main(c, prog, argv, envp, devnull, keep, nkeep, sh);
	return pid;
}

/* A memfd holding `len` bytes of `data`, to be read from its start; -1
 * with errno if it cannot be made. */
static int memfd_holding(const char *name, const void *data, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC), e;

	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * bwrap's arguments that set the child's environment inside the sandbox
 * and nowhere else: --clearenv, then --setenv NAME VALUE for each
 * variable, NUL-separated as --args reads them. An entry without a name
 * cannot be set (setenv refuses it, and bwrap would stop): it is left
 * out, as execve would have passed it to no one who reads it.
 */
static void sandbox_env_args(char *const *envp, struct sbuf *out)
{
	static const char clear[] = "--clearenv", set[] = "--setenv";

	sbuf_add(out, clear, sizeof(clear));
	for (char *const *e = envp; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		sbuf_add(out, set, sizeof(set));
		sbuf_add(out, *e, (size_t)(eq - *e));
		sbuf_addch(out, '\0');
		sbuf_add(out, eq + 1, strlen(eq + 1) + 1);
	}
}

/*
 * The sandbox's descriptors, after the caller's in `keep`: the
 * environment's arguments and the seccomp filter, each in a memfd of its
 * own (bwrap reads each to its end and closes it), their numbers in the
 * child as text in `nums`; bwrap's arguments in `a`.
 */
static int sandbox_prepare(const struct child *c, char *const *envp,
    int *keep, int *nkeep, int *own, char nums[3][16], struct argv_buf *a)
{
	const struct run_sandbox *sb = c->sandbox;
	struct sbuf env = SBUF_INIT;
	int fd;

	sandbox_env_args(envp, &env);
	fd = memfd_holding("bwrap-env", env.buf, env.len);
	sbuf_release(&env);
	if (fd < 0)
		return error_set(-1, "cannot start '%s': cannot hand its "
		    "environment to the sandbox: %s", c->argv[0],
		    strerror(errno));
	own[0] = keep[*nkeep] = fd;
	snprintf(nums[0], 16, "%d", 3 + (*nkeep)++);
	if (sb->seccomp) {
		fd = memfd_holding("bwrap-seccomp", sb->seccomp,
		    sb->seccomp_len);
		if (fd < 0)
			return error_set(-1, "cannot start '%s': cannot hand "
			    "the seccomp filter to the sandbox: %s",
			    c->argv[0], strerror(errno));
		own[1] = keep[*nkeep] = fd;
		snprintf(nums[1], 16, "%d", 3 + (*nkeep)++);
	}
	/* the caller's, which it closes */
	if (sb->status_fd > 0) {
		keep[*nkeep] = sb->status_fd;
		snprintf(nums[2], 16, "%d", 3 + (*nkeep)++);
	}
	sandbox_argv(sb, c->cwd, c->argv, nums[0], sb->seccomp ? nums[1] :
	    NULL, sb->status_fd > 0 ? nums[2] : NULL, a);
	return 0;
}

int child_start(struct child *c)
{
	struct argv_buf a = { 0 };
	const char *const *argv = c->argv;
	char *const *envp = c->envp ? c->envp : default_env;
	struct shared sh = { 0, STEP_NONE };
	char *prog = NULL, nums[3][16];
	int keep[KEEP_ALL], nkeep = 0, own[2] = { -1, -1 };
	int devnull = -1, error = 0, status;
	pid_t pid;

	c->pid = -1;
	if (c->nkeep < 0 || c->nkeep > CHILD_KEEP_MAX)
		return error_set(ERR_INVALID, "cannot start '%s': %d "
		    "descriptors to keep, at most %d", c->argv[0], c->nkeep,
		    CHILD_KEEP_MAX);
	for (int i = 0; i < c->nkeep; i++)
		keep[nkeep++] = c->keep[i];
	if (c->sandbox) {
		if ((error = sandbox_prepare(c, envp, keep, &nkeep, own,
		    nums, &a)) < 0)
			goto out;
		argv = a.v;
		/* the child's environment is set inside the sandbox only */
		envp = default_env;
		prog = xstrdup(BWRAP_PATH);
	} else if (!(prog = find_program(c->prog ? c->prog : c->argv[0],
	    envp))) {
		return error_set(ERR_NOTFOUND, "cannot run '%s': not found in "
		    "PATH (is it installed?)", c->argv[0]);
	}
	if (c->in < 0 || c->out < 0 || c->err < 0) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0) {
			error = error_set(-1, "cannot open /dev/null: %s",
			    strerror(errno));
			goto out;
		}
	}
	pid = spawn(c, prog, argv, envp, devnull, keep, nkeep, &sh);
	if (pid < 0) {
		error = error_set(-1, "cannot start '%s': %s", c->argv[0],
		    strerror(errno));
		goto out;
	}
	if (sh.err) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		error = error_set(sh.err == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot start '%s': %s%s%s%s failed: %s%s", c->sandbox ?
		    BWRAP_PATH : prog, step_names[sh.step],
		    sh.step == STEP_CWD && c->cwd ? " '" : "",
		    sh.step == STEP_CWD && c->cwd ? c->cwd : "",
		    sh.step == STEP_CWD && c->cwd ? "'" : "", strerror(sh.err),
		    c->sandbox && sh.err == ENOENT ? " (the sandbox needs "
		    "bubblewrap: apt-get install bubblewrap)" : "");
		goto out;
	}
	c->pid = pid;
out:
	if (devnull >= 0)
		close(devnull);
	for (int i = 0; i < 2; i++)
		if (own[i] >= 0)
			close(own[i]);
	free(a.v);
	free(prog);
	return error;
}

int child_finish(struct child *c)
{
	int status = 0;

	if (c->pid <= 0)
		return -1;
	while (waitpid(c->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	c->pid = -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The child outlived its time: killed with its process group, reaped. */
static int capture_late(struct child *c, int64_t timeout_ms)
{
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
	child_finish(c);
	return error_set(ERR_TIMEOUT, "'%s' did not finish within %lldms",
	    c->argv[0], (long long)timeout_ms);
}

/*
 * Its outputs are closed: the child has ended, or closed them and goes
 * on (a child started as another user may be stopped or traced by that
 * user). Wait for its end until `deadline`, not longer.
 */
static int capture_end(struct child *c, int64_t deadline, int64_t timeout_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	int rc = -1;

	for (;;) {
		int status;
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			c->pid = -1;
			rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) :
			    WEXITSTATUS(status);
			break;
		}
		if (r < 0 && errno != EINTR)
			break;
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			rc = capture_late(c, timeout_ms);
			break;
		}
		/* without pidfds (before Linux 5.3): a look every 10 ms */
		struct pollfd p = { pfd, POLLIN, 0 };
		poll(pfd >= 0 ? &p : NULL, pfd >= 0, pfd >= 0 ? (int)left :
		    (int)(left < 10 ? left : 10));
	}
	if (pfd >= 0)
		close(pfd);
	return rc;
}

int child_capture(struct child *c, const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int64_t deadline = mono_ms() + timeout_ms;
	size_t off = 0;
	int rc = -1;

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
	    pipe2(perr, O_CLOEXEC) < 0) {
		rc = error_set(-1, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	c->in = pin[0];
	c->out = pout[1];
	c->err = perr[1];
	if (!c->setsid)
		c->pgroup = 1;
	if ((rc = child_start(c)) < 0)
		goto out;
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	pin[0] = pout[1] = perr[1] = -1;
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	int fds[3] = { pin[1], pout[0], perr[0] };
	struct sbuf *bufs[3] = { NULL, out, err };
	if (!inlen) {
		close(fds[0]);
		fds[0] = pin[1] = -1;
	}
	while (fds[1] >= 0 || fds[2] >= 0) {
		struct pollfd p[3] = {
			{ fds[0], POLLOUT, 0 }, { fds[1], POLLIN, 0 },
			{ fds[2], POLLIN, 0 },
		};
		int64_t left = deadline - mono_ms();
		if (left <= 0 || poll(p, 3, (int)left) == 0) {
			rc = capture_late(c, timeout_ms);
			goto out;
		}
		if (fds[0] >= 0 && p[0].revents) {
			ssize_t n = write(fds[0], in + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = inlen;	/* it stopped reading */
			if (off == inlen) {
				close(fds[0]);
				fds[0] = pin[1] = -1;
			}
		}
		for (int i = 1; i < 3; i++) {
			char chunk[8192];
			if (fds[i] < 0 || !p[i].revents)
				continue;
			ssize_t n = read(fds[i], chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				if (i == 1)
					pout[0] = -1;
				else
					perr[0] = -1;
			} else if (bufs[i] && bufs[i]->len < CAPTURE_MAX) {
				sbuf_add(bufs[i], chunk, (size_t)n);
			}
		}
	}
	rc = capture_end(c, deadline, timeout_ms);
out:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	return rc;
}

int run_helper(const char *const argv[], const char *in, size_t inlen,
    struct sbuf *out, struct sbuf *err, int64_t timeout_ms)
{
	struct child c = { .argv = argv };

	return child_capture(&c, in, inlen, out, err, timeout_ms);
}

int git_ref_read(const char *repo, const char *ref,
    const struct run_user *as, char *hex)
{
	/* that ref exactly (show-ref --verify), never one git guesses from
	 * the name: rev-parse took refs/tags/refs/heads/NAME, which a
	 * pusher may make, for refs/heads/NAME that is not there; and never
	 * an expression (REF^{...}, @{...}); the repository may belong
	 * to another user (safe.directory: from the command line, which git
	 * trusts), whose git it then is (`as`): its configuration
	 * (include.path) and its refs (a link to any file) are read with its
	 * rights, never root's; the environment is PATH and LANG alone */
	const char *const argv[] = { "git", "-c", "safe.directory=*",
	    "--git-dir", repo, "show-ref", "--verify", "--hash", "--", ref,
	    NULL };
	struct child c = { .argv = argv, .user = as };
	struct sbuf out = SBUF_INIT, err = SBUF_INIT;
	int rc = child_capture(&c, NULL, 0, &out, &err, GIT_REF_TIMEOUT_MS);
	size_t n = strspn(out.buf, "0123456789abcdef");

	if (rc >= 0 && (rc != 0 || !(n == 40 || n == 64) ||
	    (out.buf[n] && out.buf[n] != '\n')))
		rc = error_set(ERR_NOTFOUND, "no %s in '%s'", ref, repo);
	else if (rc == 0) {
		memcpy(hex, out.buf, n);
		hex[n] = '\0';
	}
	sbuf_release(&out);
	sbuf_release(&err);
	return rc;
}

int run_sandbox_works(const struct run_user *user)
{
	static const char *const argv[] = { "/bin/true", NULL };
	static const struct run_sandbox sb = { .pid_ns = 1 };
	struct child c = { .argv = argv, .user = user, .sandbox = &sb,
	    .in = -1, .out = -1, .err = -1 };
	struct sbuf err = SBUF_INIT;
	int rc;

	rc = child_capture(&c, NULL, 0, NULL, &err, 10000);
	if (rc > 0) {
		while (err.len && err.buf[err.len - 1] == '\n')
			sbuf_truncate(&err, err.len - 1);
		rc = error_set(-1, "bubblewrap cannot make a sandbox%s%s%s: %s",
		    user ? " as user '" : "", user ? user->name : "",
		    user ? "'" : "", err.len ? err.buf : "it failed");
	}
	sbuf_release(&err);
	return rc < 0 ? rc : 0;
}

#ifndef RUNNER_HELPER_DIR
#define RUNNER_HELPER_DIR "."
#endif

char *run_sibling(const char *name)
{
	char *self = realpath("/proc/self/exe", NULL), *path, *dir, *real;

	if (!self)
		return NULL;
	dir = dirname(self);
	path = xasprintf("%s/%s", dir, name);
	if (access(path, X_OK) < 0) {
		/* installed: in libexecdir/runner, relative to bindir */
		char *alt = RUNNER_HELPER_DIR[0] == '/' ?
		    xasprintf("%s/%s", RUNNER_HELPER_DIR, name) :
		    xasprintf("%s/%s/%s", dir, RUNNER_HELPER_DIR, name);
		if (access(alt, X_OK) == 0 && (real = realpath(alt, NULL))) {
			free(path);
			path = real;
		}
		free(alt);
	}
	free(self);
	return path;
}

/*
 * Ending what is left of the stages of a daemon that was killed: the
 * supervisor calls it, without linking what running stages needs.
 */
int run_kill_leftovers(const char *prefix)
{
	const char key[] = RUN_OWNER_VAR "=";
	size_t plen = strlen(prefix);
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct sbuf env = SBUF_INIT;
	int killed = 0;

	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		char path[64];

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		sbuf_reset(&env);
		if (read_file(path, 1 << 20, &env) < 0)
			continue;
		for (size_t at = 0; at < env.len; at += strlen(env.buf + at) + 1) {
			const char *v = env.buf + at;
			if (!strncmp(v, key, sizeof(key) - 1) &&
			    !strncmp(v + sizeof(key) - 1, prefix, plen)) {
				killed += kill(pid, SIGKILL) == 0;
				break;
			}
		}
	}
	if (d)
		closedir(d);
	sbuf_release(&env);
	return killed;
}
