/*
 * The supervisor's children other than its workers: each started through
 * child_start() (sup_child), runner-web and `runner gc`, the answerers of
 * the hooks' questions on ask.sock, and the reaping of every child, the
 * workers' included.
 */
#include "daemon_int.h"
#include "admin.h"
#include "ask.h"
#include "config.h"
#include "home.h"
#include "run.h"
#include "jobs.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A descriptor of ours the child gets as its own, if it is open. */
static int inherited(int fd)
{
	return fcntl(fd, F_GETFD) >= 0 ? fd : -1;
}

/*
 * Start a child of the supervisor through child_start(): program `prog`
 * with `argv`, the supervisor's environment (with `var`, NAME=VALUE, set
 * in it, or NULL), its descriptors 0, 1 and 2 (stdout onto stderr with
 * `out_err`), `keep` as descriptor 3 (or -1), SIGPIPE ignored as here,
 * and `deathsig` when the supervisor dies. Its pid, or -1 with the
 * reason in error_last().
 */
pid_t sup_child(const char *prog, const char *const *argv,
    const char *var, int keep, int deathsig, int out_err)
{
	struct child c = { .argv = argv, .prog = prog, .pdeathsig = deathsig,
	    .ignore_sigpipe = 1, .in = inherited(0), .out = inherited(1),
	    .err = inherited(2), .nkeep = keep >= 0 };
	size_t n = 0, len = var ? strcspn(var, "=") + 1 : 0;
	char **env;

	if (out_err)
		c.out = c.err;
	c.keep[0] = keep;
	for (char **e = environ; e && *e; e++)
		n++;
	env = xcalloc(n + 2, sizeof(*env));
	n = 0;
	for (char **e = environ; e && *e; e++)
		if (!var || strncmp(*e, var, len))
			env[n++] = *e;
	if (var)
		env[n++] = (char *)var;
	c.envp = env;
	if (child_start(&c) < 0)
		c.pid = -1;
	free(env);
	return c.pid;
}

/* The web page, when runner.yml has http: listen: runner-web, a process
 * of its own that dies with the supervisor; one that dies is started
 * again (a second later if it died at once). */
void sup_start_web(struct sup *s)
{
	const char *argv[] = { WEB_PROGRAM, "web", "--home", s->home, NULL };
	char *prog, parent[48];
	pid_t pid = -1;

	s->kids.web_at = 0;
	if (s->kids.web_pid > 0 || s->stopping || !s->conf->http.listen)
		return;
	prog = run_sibling(WEB_PROGRAM);
	snprintf(parent, sizeof(parent), "RUNNER_WEB_PARENT=%d", (int)getpid());
	if (prog)
		pid = sup_child(prog, argv, parent, -1, SIGTERM, 0);
	if (pid < 0) {
		log_line("warning: cannot start the web page: %s",
		    prog ? error_last() : "runner-web not found");
		/* as one that died at once: again in a moment */
		s->kids.web_at = mono_ms() + RESPAWN_MS;
	} else {
		s->kids.web_pid = pid;
		s->kids.web_started = mono_ms();
		free(s->kids.web_listen);
		s->kids.web_listen = xstrdup(s->conf->http.listen);
	}
	free(prog);
}

/* Collect what retention lets go in a child of its own (`runner gc
 * --quiet`: a line in this log when it freed something); the supervisor
 * only starts it and reaps it. */
void sup_start_gc(struct sup *s)
{
	const char *argv[] = { "runner", "gc", "--home", s->home, "--quiet",
	    NULL };
	char *self;
	pid_t pid;

	s->kids.gc_at = s->conf->retention.interval_ms > 0 ? mono_ms() +
	    s->conf->retention.interval_ms : 0;
	if (s->kids.gc_pid > 0 || s->stopping ||
	    !(self = realpath("/proc/self/exe", NULL)))
		return;
	pid = sup_child(self, argv, NULL, -1, SIGTERM, 1);
	if (pid < 0)
		log_line("warning: cannot start the collection: %s",
		    error_last());
	else
		s->kids.gc_pid = pid;
	free(self);
}

/* ---- the hooks' questions (ask.h) ---- */

/* A connection refused at once: "busy", if it fits without waiting. */
static void ask_refuse(int fd)
{
	(void)!send(fd, "busy\n", 5, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/* Answer connection `fd` of `uid` in a child of its own (answer.c), in
 * slot `slot`. */
static void ask_start(struct sup *s, int fd, uid_t uid, int slot)
{
	char ppid[32];
	const char *argv[] = { WORKER_PROGRAM, "answer", s->home, ppid, "-1",
	    NULL };
	pid_t pid;

	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	pid = sup_child(s->pool.worker_prog, argv, NULL, fd, SIGKILL, 0);
	if (pid < 0) {
		log_line("warning: cannot answer a hook: %s", error_last());
		ask_refuse(fd);
		return;
	}
	close(fd);
	s->ask.askers[slot] = (struct asker){ pid, uid, mono_ms() +
	    s->conf->wait_timeout_ms + ASK_TAKE_MS + 3 * ASK_REQUEST_MS +
	    ASK_KILL_MS };
}

/*
 * Connections to ask.sock: each is answered by a child of its own, at
 * most ASK_MAX at once, ASK_PER_UID of one user, ASK_RATE new ones a
 * second; any more are told "busy" and closed. Nothing is read from a
 * client here: the supervisor never waits on one.
 */
void sup_on_ask(struct sup *s)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept4(s->ask.fd, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK), slot = -1, of_uid = 0, u;
		struct ucred cr = { 0, (uid_t)-1, (gid_t)-1 };
		socklen_t cl = sizeof(cr);
		int64_t now = mono_ms();

		if (fd < 0) {
			/* out of descriptors: the connection waits, and the
			 * socket is not looked at for a second */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				s->ask.paused = now + 1000;
			return;
		}
		(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
		if (now - s->ask.window >= 1000) {
			s->ask.window = now;
			s->ask.taken = s->ask.users = 0;
		}
		for (int i = 0; i < ASK_MAX; i++) {
			if (!s->ask.askers[i].pid && slot < 0)
				slot = i;
			of_uid += s->ask.askers[i].pid && s->ask.askers[i].uid == cr.uid;
		}
		for (u = 0; u < s->ask.users && s->ask.took[u].uid != cr.uid; u++)
			;
		if (s->stopping || slot < 0 || of_uid >= ASK_PER_UID ||
		    s->ask.taken >= ASK_RATE || (u < s->ask.users &&
		    s->ask.took[u].n >= ASK_RATE_PER_UID)) {
			ask_refuse(fd);
			continue;
		}
		if (u == s->ask.users)	/* room: no more users than taken */
			s->ask.took[s->ask.users++] = (struct ask_user){ cr.uid, 0 };
		s->ask.took[u].n++;
		s->ask.taken++;
		ask_start(s, fd, cr.uid, slot);
	}
}

/* The answers that outlived their bound are ended; the next bound. */
int64_t sup_ask_overdue(struct sup *s)
{
	int64_t next = 0, now = mono_ms();

	for (int i = 0; i < ASK_MAX; i++) {
		struct asker *a = &s->ask.askers[i];
		if (!a->pid)
			continue;
		if (a->kill_at <= now && a->kill_at) {
			log_line("warning: the answer to a hook of uid %d (pid %d) "
			    "took too long; ended", (int)a->uid, (int)a->pid);
			kill(a->pid, SIGKILL);
			a->kill_at = 0;	/* reaped soon */
		}
		if (a->kill_at)
			next = deadline_min(next, a->kill_at);
	}
	return next;
}

/* Is `pid` an answer's child? Its slot is freed. */
static int ask_reaped(struct sup *s, pid_t pid, int status)
{
	for (int i = 0; i < ASK_MAX; i++) {
		if (s->ask.askers[i].pid != pid)
			continue;
		s->ask.askers[i].pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			log_line("warning: cannot answer a hook: %s did not run",
			    s->pool.worker_prog);
		return 1;
	}
	return 0;
}

/* A worker or the notifier stopped because a write of the store to disk
 * failed (its message logged before): what was committed since may be
 * gone while every reader sees it, so the daemon stops, and does not
 * serve again (a service manager's restart too) until the operator has
 * checked the disk and removed the mark (DAEMON_DISK_FAILED). */
static int disk_failed(struct sup *s, pid_t pid, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != STORE_EXIT_DISK)
		return 0;
	log_line("%d could not write the store to disk: the runner stops, "
	    "and serves again once '%s/%s' is removed", (int)pid, s->home,
	    DAEMON_DISK_FAILED);
	if (!s->disk_failed) {
		char *path = xasprintf("%s/%s", s->home, DAEMON_DISK_FAILED);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0 || dprintf(fd, "a write of the store to disk failed "
		    "(process %d, see the daemon's log): check the disk, then "
		    "remove this file\n", (int)pid) < 0)
			log_line("warning: cannot write '%s': %s", path,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
	}
	s->disk_failed = 1;
	if (!s->stopping) {
		s->stopping = 1;
		sup_signal_children(s, SIGTERM, 1);
	}
	return 1;
}

void sup_reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int idle = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (ask_reaped(s, pid, status))
			continue;
		if (pid == s->kids.web_pid) {
			s->kids.web_pid = 0;
			if (s->stopping)
				continue;
			if (!idle && !WIFSIGNALED(status))
				log_line("warning: the web page (runner-web) ended "
				    "with exit code %d", WEXITSTATUS(status));
			s->kids.web_at = mono_ms() + (mono_ms() - s->kids.web_started <
			    RESPAWN_MS ? RESPAWN_MS : 0);
			continue;
		}
		if (pid == s->kids.gc_pid) {
			s->kids.gc_pid = 0;
			if (!idle && !s->stopping)
				log_line("warning: the collection (runner gc) ended "
				    "with %s %d", WIFSIGNALED(status) ? "signal" :
				    "exit code", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
			continue;
		}
		if (pid == s->pool.notifier.pid) {
			s->pool.notifier.pid = 0;
			close(s->pool.notifier.wake_w);
			s->pool.notifier.wake_w = -1;
			if (disk_failed(s, pid, status) || s->stopping)
				continue;
			if (idle) {	/* it had nothing to send */
				sup_ensure_notifier(s, 0);
				continue;
			}
			log_line("notifier %d died (%s %d); starting another",
			    (int)pid, WIFSIGNALED(status) ? "signal" : "exit code",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			sup_respawn(s, &s->pool.notifier, "notifier");
			continue;
		}
		for (int i = 0; i < s->pool.nworkers; i++) {
			if (s->pool.w[i].pid != pid)
				continue;
			s->pool.w[i].pid = 0;
			close(s->pool.w[i].wake_w);
			s->pool.w[i].wake_w = -1;
			if (disk_failed(s, pid, status) || s->stopping)
				break;
			if (idle) {	/* it had nothing to do for idle_exit */
				sup_ensure_workers(s);	/* work that came meanwhile */
				break;
			}
			log_line("worker %d died (%s %d); its job goes back to the "
			    "queue", (int)pid, WIFSIGNALED(status) ? "signal" :
			    "exit code", WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			sup_recover(s, pid);
			sup_respawn(s, &s->pool.w[i], "worker");
			sup_wake_workers(s);
			sup_wake_notifier(s);	/* recovery may end deployments */
			break;
		}
	}
}

/* Send `sig` to every child: the workers, the notifier, the collection,
 * the web page and, with `askers`, those answering hooks. */
void sup_signal_children(const struct sup *s, int sig, int askers)
{
	pid_t pids[] = { s->pool.notifier.pid, s->kids.gc_pid, s->kids.web_pid };

	for (int i = 0; s->pool.w && i < s->pool.nworkers; i++)
		if (s->pool.w[i].pid > 0)
			kill(s->pool.w[i].pid, sig);
	for (size_t i = 0; i < sizeof(pids) / sizeof(*pids); i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
	for (int i = 0; askers && i < ASK_MAX; i++)
		if (s->ask.askers[i].pid > 0)
			kill(s->ask.askers[i].pid, sig);
}

int sup_workers_alive(const struct sup *s)
{
	int n = 0;

	for (int i = 0; i < s->pool.nworkers; i++)
		n += s->pool.w[i].pid > 0;
	return n;
}

int sup_alive(const struct sup *s)
{
	return sup_workers_alive(s) + (s->pool.notifier.pid > 0) + (s->kids.gc_pid > 0) +
	    (s->kids.web_pid > 0);
}
