/*
 * The stage runner. It waits on the shell's pidfd, not on output EOF: a
 * background process that keeps the log pipe open must not keep the stage
 * alive. When the shell ends, its process group is killed and any
 * descendant that escaped it (setsid, double fork) is found through the
 * subreaper and killed too.
 */
#include "stage.h"
#include "mask.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536
#define BWRAP "/usr/bin/bwrap"

void stage_become_subreaper(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Children of this process, from /proc (needs no bookkeeping). */
static size_t list_children(pid_t **out)
{
	struct sbuf path = SBUF_INIT, buf = SBUF_INIT;
	pid_t *v = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	sbuf_addf(&path, "/proc/%d/task", (int)getpid());
	d = opendir(path.buf);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct sbuf f = SBUF_INIT;
		sbuf_addf(&f, "%s/%s/children", path.buf, de->d_name);
		sbuf_reset(&buf);
		if (read_file(f.buf, 1 << 20, &buf) == 0) {
			char *p = buf.buf, *end;
			for (;;) {
				long pid = strtol(p, &end, 10);
				if (end == p)
					break;
				v = xrealloc(v, (n + 1) * sizeof(*v));
				v[n++] = (pid_t)pid;
				p = end;
			}
		}
		sbuf_release(&f);
	}
	if (d)
		closedir(d);
	sbuf_release(&path);
	sbuf_release(&buf);
	*out = v;
	return n;
}

void stage_sweep_children(void)
{
	/* Killing a parent reparents its children here: go round until none
	 * is left (bounded, in case something forks faster than we kill). */
	for (int round = 0; round < 1000; round++) {
		pid_t *kids;
		size_t n = list_children(&kids);
		int status;

		for (size_t i = 0; i < n; i++) {
			kill(-kids[i], SIGKILL);
			kill(kids[i], SIGKILL);
		}
		for (size_t i = 0; i < n; i++)
			while (waitpid(kids[i], &status, 0) < 0 && errno == EINTR)
				;
		free(kids);
		/* reap anything else that is already a zombie */
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		if (!n)
			return;
	}
}

static __attribute__((noreturn)) void child_exec(
    const struct stage_spec *spec, int out_fd, int err_fd)
{
	sigset_t all;
	int devnull;

	const struct { int res; int64_t v; } lims[] = {
		{ RLIMIT_NPROC, spec->limits.processes },
		{ RLIMIT_AS, spec->limits.memory },
		{ RLIMIT_FSIZE, spec->limits.file_size },
		{ RLIMIT_NOFILE, spec->limits.open_files },
	};

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (size_t i = 0; i < sizeof(lims) / sizeof(*lims); i++) {
		struct rlimit rl = { (rlim_t)lims[i].v, (rlim_t)lims[i].v };
		if (lims[i].v > 0 && setrlimit(lims[i].res, &rl) < 0)
			goto fail;
	}
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(out_fd, 2) < 0 || chdir(spec->cwd) < 0)
		goto fail;
	/* Our own descriptors are close-on-exec; this also drops any the
	 * daemon inherited from whoever started it. err_fd must survive
	 * until exec, which closes it. */
	if (err_fd > 3)
		close_range(3, (unsigned)err_fd - 1, 0);
	close_range((unsigned)err_fd + 1, ~0U, 0);
	if (spec->isolate) {
		const char *argv[64];
		int n = 0;
		argv[n++] = "bwrap";
		argv[n++] = "--die-with-parent";
		argv[n++] = "--new-session";
		argv[n++] = "--unshare-pid";
		argv[n++] = "--unshare-ipc";
		argv[n++] = "--unshare-uts";
		argv[n++] = "--unshare-cgroup-try";
		if (!spec->network)
			argv[n++] = "--unshare-net";
		argv[n++] = "--ro-bind";
		argv[n++] = "/";
		argv[n++] = "/";
		argv[n++] = "--dev";
		argv[n++] = "/dev";
		argv[n++] = "--proc";
		argv[n++] = "/proc";
		argv[n++] = "--tmpfs";
		argv[n++] = "/tmp";
		for (const char *const *h = spec->hide; h && *h && n < 40; h++) {
			argv[n++] = "--tmpfs";
			argv[n++] = *h;
		}
		argv[n++] = "--bind";
		argv[n++] = spec->cwd;
		argv[n++] = spec->cwd;
		argv[n++] = "--chdir";
		argv[n++] = spec->cwd;
		argv[n++] = "--";
		argv[n++] = "/bin/sh";
		argv[n++] = "-e";
		argv[n++] = "-c";
		argv[n++] = spec->script;
		argv[n] = NULL;
		execve(BWRAP, (char *const *)argv, spec->envp);
		goto fail;
	}
	char *const argv[] = { "sh", "-e", "-c", (char *)spec->script, NULL };
	execve("/bin/sh", argv, spec->envp);
fail:;
	int e = errno;
	write_all(err_fd, &e, sizeof(e));
	_exit(127);
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

struct child_args {
	const struct stage_spec *spec;
	int out_fd, err_fd;
};

static int child_start(void *arg)
{
	struct child_args *a = arg;

	child_exec(a->spec, a->out_fd, a->err_fd);
	return 127;
}

/*
 * Start the stage's process the way posix_spawn does: the child borrows
 * the worker's memory (on a stack of its own) until it execs, and the
 * worker waits for that. A fork would first copy the page tables of a
 * worker that maps libgit2, libcurl and libarchive, and then take a fault
 * on every page either side writes. child_exec makes only system calls.
 */
static pid_t spawn_stage(const struct stage_spec *spec, int out_fd,
    int err_fd)
{
	static char *stack;
	const size_t size = 256 * 1024;
	struct child_args a = { spec, out_fd, err_fd };

	if (!stack) {
		void *p = SANITIZED ? MAP_FAILED : mmap(NULL, size, PROT_READ |
		    PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED) {		/* then a plain fork */
			pid_t pid = fork();
			if (pid == 0)
				child_exec(spec, out_fd, err_fd);
			return pid;
		}
		stack = p;
	}
	return clone(child_start, stack + size, CLONE_VM | CLONE_VFORK |
	    SIGCHLD, &a);
}

struct logger {
	const struct stage_spec *spec;
	struct stage_result *res;
	struct sbuf filtered;
};

static void log_write(struct logger *lg, const char *data, size_t n)
{
	const struct stage_spec *spec = lg->spec;
	struct stage_result *res = lg->res;

	if (spec->mask) {
		sbuf_reset(&lg->filtered);
		if (data)
			masker_feed(spec->mask, data, n, &lg->filtered);
		else
			masker_flush(spec->mask, &lg->filtered);
		data = lg->filtered.buf;
		n = lg->filtered.len;
	}
	if (!n)
		return;
	if (res->capped || res->log_errno)
		return;
	if (spec->log_cap && res->log_bytes + n > spec->log_cap) {
		char note[128];
		n = (size_t)(spec->log_cap - res->log_bytes);
		res->capped = 1;
		if (n && write_all(spec->log_fd, data, n) < 0)
			res->log_errno = errno;
		int len = snprintf(note, sizeof(note), "\n[runner: log capped at "
		    "%llu bytes; further output dropped]\n",
		    (unsigned long long)spec->log_cap);
		write_all(spec->log_fd, note, (size_t)len);
		res->log_bytes += n;
		return;
	}
	if (write_all(spec->log_fd, data, n) < 0)
		res->log_errno = errno;
	res->log_bytes += n;
}

/* Read one chunk: 1 if data came, 0 at EOF, -1 if nothing is there now. */
static int drain(struct logger *lg, int fd, char *buf)
{
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -1 : 0;
		if (n == 0)
			return 0;
		log_write(lg, buf, (size_t)n);
		return 1;
	}
}

static int run(const struct stage_spec *spec, struct stage_result *out)
{
	struct logger lg = { spec, out, SBUF_INIT };
	int outp[2], errp[2], pidfd = -1, status = 0, e;
	int64_t start = mono_ms(), deadline = 0, kill_at = 0, shut_at = 0;
	char *buf = NULL;
	pid_t pid;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (pipe2(outp, O_CLOEXEC) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(outp[0]);
		close(outp[1]);
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	}
	pid = spawn_stage(spec, outp[1], errp[1]);
	if (pid < 0) {
		e = errno;
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		out->end = STAGE_SPAWN_FAILED;
		return error_set(-1, "cannot fork: %s", strerror(e));
	}
	close(outp[1]);
	close(errp[1]);
	while ((n = read(errp[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(errp[0]);
	if (n == sizeof(e)) {
		waitpid(pid, &status, 0);
		close(outp[0]);
		out->end = STAGE_SPAWN_FAILED;
		out->exit_code = 127;
		return error_set(-1, "cannot start %s in '%s': %s%s",
		    spec->isolate ? BWRAP : "/bin/sh", spec->cwd, strerror(e),
		    spec->isolate && e == ENOENT ? " (isolate needs bubblewrap: "
		    "apt-get install bubblewrap)" : "");
	}
	if (spec->on_start)
		spec->on_start(pid, spec->arg);
	pidfd = pidfd_open(pid, 0);
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	buf = xmalloc(CHUNK);
	if (spec->timeout_ms)
		deadline = start + spec->timeout_ms;
	out->end = STAGE_EXITED;

	int out_open = 1;
	for (;;) {
		struct pollfd pfd[3] = {
			{ pidfd, POLLIN, 0 },
			{ out_open ? outp[0] : -1, POLLIN, 0 },
			{ spec->event_fd, POLLIN, 0 },
		};
		int64_t next = deadline_min(deadline_min(deadline, kill_at),
		    shut_at);
		int64_t now = mono_ms();
		int wait = next ? (int)(next > now ? next - now : 0) : -1;

		if (pidfd < 0 && (wait < 0 || wait > 50))
			wait = 50;	/* no pidfd (old kernel): check the pid */
		if (poll(pfd, 3, wait) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents && drain(&lg, outp[0], buf) == 0)
			out_open = 0;
		if (pidfd >= 0 ? pfd[0].revents != 0 :
		    waitpid(pid, &status, WNOHANG) == pid) {
			if (pidfd >= 0)
				while (waitpid(pid, &status, 0) < 0 &&
				    errno == EINTR)
					;
			break;
		}
		if (pfd[2].revents && spec->on_event) {
			enum stage_event ev = spec->on_event(spec->arg);
			if (ev == STAGE_EV_CANCEL && out->end == STAGE_EXITED) {
				out->end = STAGE_CANCELED;
				kill(-pid, SIGTERM);
				kill_at = mono_ms() + spec->kill_grace_ms;
			} else if (ev == STAGE_EV_SHUTDOWN && !shut_at) {
				shut_at = mono_ms() + spec->shutdown_grace_ms;
				if (!shut_at)
					shut_at = 1;
			}
		}
		now = mono_ms();
		if (deadline && now >= deadline && out->end == STAGE_EXITED) {
			out->end = STAGE_TIMED_OUT;
			kill(-pid, SIGTERM);
			kill_at = now + spec->kill_grace_ms;
			deadline = 0;
		}
		if (shut_at && now >= shut_at) {
			if (out->end == STAGE_EXITED) {
				out->end = STAGE_INTERRUPTED;
				kill(-pid, SIGTERM);
				kill_at = now + spec->kill_grace_ms;
			}
			shut_at = 0;
		}
		if (kill_at && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = 0;
		}
	}
	/* The shell is gone: nothing of its group may stay. */
	kill(-pid, SIGKILL);
	if (!spec->keep_detached)
		stage_sweep_children();
	if (out_open) {
		/* Whatever is buffered; a detached service holding the pipe
		 * must not keep us here. */
		for (int i = 0; i < 4096 && drain(&lg, outp[0], buf) == 1; i++)
			;
	}
	log_write(&lg, NULL, 0);	/* what masking held back */
	out->duration_ms = mono_ms() - start;
	if (WIFSIGNALED(status))
		out->exit_code = 128 + WTERMSIG(status);
	else
		out->exit_code = WEXITSTATUS(status);
	if (pidfd >= 0)
		close(pidfd);
	close(outp[0]);
	free(buf);
	sbuf_release(&lg.filtered);
	return 0;
}

int stage_run(const struct stage_spec *spec, struct stage_result *out)
{
	int was_subreaper = 0, rc;

	/* A service a deploy detaches (setsid -f) must not be reparented to
	 * this worker, or the next stage's sweep would end it: stop being a
	 * subreaper while such a step runs. */
	prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
	if (spec->keep_detached && was_subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	rc = run(spec, out);
	if (spec->keep_detached && was_subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	return rc;
}
