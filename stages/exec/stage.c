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
#include <limits.h>
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
		size_t n;
		int status;

		/* no child at all, alive or not (of any thread): nothing to
		 * look for in /proc */
		if (waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD)
			return;
		n = list_children(&kids);
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

/* The stage's shell, as one child of the run-command module. */
static int start_stage(const struct stage_spec *spec,
    const struct run_sandbox *sandbox, int out_fd, pid_t *pid)
{
	const char *const argv[] = { "/bin/sh", "-e", "-c", spec->script,
	    NULL };
	struct child c = {
		.argv = argv, .envp = spec->envp, .cwd = spec->cwd,
		.in = -1, .out = out_fd, .err = out_fd,
		.setsid = 1, .pdeathsig = SIGKILL,
		.user = spec->user, .sandbox = sandbox,
		.limits = &spec->limits,
	};
	int rc = child_start(&c);

	*pid = c.pid;
	return rc;
}

int stage_spawn(const struct stage_spec *spec, int out_fd, pid_t *pid)
{
	return start_stage(spec, spec->sandbox, out_fd, pid);
}

/* How long the group of a command that may detach services is given to
 * empty itself after its shell exited. */
#define DETACH_WAIT_MS 2000

/* Does process group `pgid` still have a member? */
static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

/*
 * Wait for the processes of group `pgid` to leave it (a service calling
 * setsid) or end, polling; what is still in it after DETACH_WAIT_MS gets
 * SIGTERM, and SIGKILL after `grace_ms`.
 */
static void end_group_when_left(pid_t pgid, int64_t grace_ms)
{
	int64_t until = mono_ms() + DETACH_WAIT_MS;
	int ms = 1;

	while (group_alive(pgid) && mono_ms() < until) {
		poll(NULL, 0, ms);
		if (ms < 20)
			ms *= 2;
	}
	if (!group_alive(pgid))
		return;
	kill(-pgid, SIGTERM);
	until = mono_ms() + grace_ms;
	while (group_alive(pgid) && mono_ms() < until)
		poll(NULL, 0, 10);
}

/*
 * bwrap's status of a sandbox whose namespace outlives the command: its
 * first line names the namespace's init ("child-pid") and the namespace
 * ("pid-namespace"). Read what is there; once both are known, tell
 * on_sandbox, once.
 */
struct ns_status {
	int fd;			/* -1 when not asked for, or read to its end */
	struct sbuf text;
	int told;
	pid_t init;
};

static long long json_number(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	if (!p)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	return *p >= '0' && *p <= '9' ? strtoll(p, NULL, 10) : -1;
}

static void ns_status_read(struct ns_status *ns, const struct stage_spec *spec)
{
	char buf[512];
	ssize_t n;

	while (ns->fd >= 0 && (n = read(ns->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			n = 0;
		}
		if (n == 0 || ns->text.len > 4096) {
			close(ns->fd);
			ns->fd = -1;
			break;
		}
		sbuf_add(&ns->text, buf, (size_t)n);
	}
	if (ns->told || !ns->text.len || !strchr(ns->text.buf, '}'))
		return;
	long long pid = json_number(ns->text.buf, "\"child-pid\"");
	long long pidns = json_number(ns->text.buf, "\"pid-namespace\"");
	if (pid > 1 && pidns > 0) {
		ns->told = 1;
		ns->init = (pid_t)pid;
		if (spec->on_sandbox)
			spec->on_sandbox(ns->init, (uint64_t)pidns, spec->arg);
	}
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
	struct ns_status ns = { -1, SBUF_INIT, 0, 0 };
	struct run_sandbox sb;
	const struct run_sandbox *sandbox = spec->sandbox;
	int outp[2], stp[2] = { -1, -1 }, pidfd = -1, status = 0;
	int keep_ns = sandbox && sandbox->pid_ns && sandbox->keep_ns;
	int64_t start = mono_ms(), deadline = 0, kill_at = 0, shut_at = 0;
	char *buf = NULL;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(outp, O_CLOEXEC) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	/* a namespace that outlives the command: bwrap names its init */
	if (keep_ns) {
		if (pipe2(stp, O_CLOEXEC) < 0) {
			close(outp[0]);
			close(outp[1]);
			return error_set(-1, "cannot create a pipe: %s",
			    strerror(errno));
		}
		sb = *sandbox;
		sb.status_fd = stp[1];
		sandbox = &sb;
		ns.fd = stp[0];
		fcntl(ns.fd, F_SETFL, O_NONBLOCK);
	}
	if (start_stage(spec, sandbox, outp[1], &pid) < 0) {
		close(outp[0]);
		close(outp[1]);
		if (stp[0] >= 0) {
			close(stp[0]);
			close(stp[1]);
		}
		out->end = STAGE_SPAWN_FAILED;
		out->exit_code = 127;
		return -1;
	}
	close(outp[1]);
	if (stp[1] >= 0)
		close(stp[1]);
	if (spec->on_start)
		spec->on_start(pid, spec->arg);
	pidfd = pidfd_open(pid, 0);
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	buf = xmalloc(CHUNK);
	if (spec->timeout_ms)
		deadline = start + spec->timeout_ms;
	out->end = STAGE_EXITED;

	int out_open = 1;
	int64_t tick_at = spec->on_tick && spec->tick_ms > 0 ?
	    mono_ms() + spec->tick_ms : 0;
	for (;;) {
		struct pollfd pfd[4] = {
			{ pidfd, POLLIN, 0 },
			{ out_open ? outp[0] : -1, POLLIN, 0 },
			{ spec->event_fd, POLLIN, 0 },
			{ ns.fd, POLLIN, 0 },
		};
		int64_t next = deadline_min(deadline_min(deadline_min(deadline,
		    kill_at), shut_at), tick_at);
		int64_t now = mono_ms();
		int wait = !next ? -1 : next <= now ? 0 : next - now > INT_MAX ?
		    INT_MAX : (int)(next - now);

		if (pidfd < 0 && (wait < 0 || wait > 50))
			wait = 50;	/* no pidfd (old kernel): check the pid */
		if (poll(pfd, 4, wait) < 0 && errno != EINTR) {
			/* it cannot be watched: never reported passed, never
			 * left unreaped; its log says why it was killed */
			char why[160];
			int n = snprintf(why, sizeof(why), "\nrunner: the stage "
			    "could not be watched (poll: %s); it was killed\n",
			    strerror(errno));
			log_write(&lg, why, n > 0 && (size_t)n < sizeof(why) ?
			    (size_t)n : sizeof(why) - 1);
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		if (pfd[1].revents && drain(&lg, outp[0], buf) == 0)
			out_open = 0;
		if (pfd[3].revents)
			ns_status_read(&ns, spec);
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
		if (tick_at && now >= tick_at) {
			spec->on_tick(spec->arg);
			tick_at = mono_ms() + spec->tick_ms;
		}
	}
	ns_status_read(&ns, spec);
	if (ns.init > 0 && out->end != STAGE_EXITED)
		/* timed out, canceled, interrupted: the namespace and all
		 * in it end with its init */
		kill(ns.init, SIGKILL);
	/* The shell is gone: nothing of its group may stay. A command that
	 * detaches a service (setsid -f, a double fork, daemon(3)) has it
	 * leave the group on its own, but maybe not yet: on a loaded machine
	 * the child of `setsid -f` may still be in the group when the shell
	 * has exited. So such a command's group gets DETACH_WAIT_MS to empty
	 * itself before what stays in it is ended. In a namespace of its
	 * own that outlives it, the group is bwrap and the namespace's init,
	 * which holds the services: the command's own processes are in a
	 * session inside. */
	if (!keep_ns || out->end != STAGE_EXITED) {
		if (spec->keep_detached && out->end == STAGE_EXITED)
			end_group_when_left(pid, spec->kill_grace_ms);
		kill(-pid, SIGKILL);
	}
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
	if (ns.fd >= 0)
		close(ns.fd);
	sbuf_release(&ns.text);
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
