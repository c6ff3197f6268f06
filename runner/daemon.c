/*
 * Supervisor and workers. Signals reach both through signalfd, so every
 * reaction happens in a poll() loop. A worker that dies has its job put
 * back in the queue; a supervisor that dies takes its workers with it
 * (PR_SET_PDEATHSIG), and the next start recovers their jobs.
 */
#include "daemon.h"
#include "checkout.h"
#include "config.h"
#include "hook.h"
#include "job.h"
#include "notify.h"
#include "stage.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

struct worker {
	pid_t pid;
	int wake_w;	/* supervisor's end of the worker's wake pipe */
};

struct sup {
	const char *home;
	const struct config *conf;
	struct worker *w;
	int nworkers;
	struct worker notifier;	/* delivers notifications */
	int sigfd, sock, lockfd;
	int stopping;
	struct store *store;	/* opened on demand, closed before fork */
	int64_t spool_retry_at;	/* the spool could not be read: when again */
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
	sbuf_addf(&sb, "%s runner[%d]: ", ts, (int)getpid());
	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	sbuf_addch(&sb, '\n');
	write_all(2, sb.buf, sb.len);
	sbuf_release(&sb);
}

static struct store *sup_store(struct sup *s)
{
	if (!s->store && store_open(s->home, STORE_OPEN, &s->store) < 0) {
		logmsg("warning: %s", error_last());
		s->store = NULL;
	}
	return s->store;
}

/* Make sure nothing of the stages of jobs being recovered is left. */
static void recover(struct sup *s, pid_t worker)
{
	struct store *st = sup_store(s);
	pid_t *pgids;
	size_t n;

	if (!st)
		return;
	if (store_recover(st, worker, &pgids, &n) < 0) {
		logmsg("warning: cannot recover jobs: %s", error_last());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (pgids[i] > 1 && kill(-pgids[i], SIGKILL) == 0)
			logmsg("killed leftover process group %d", (int)pgids[i]);
	free(pgids);
}

/* Queue the pushes the hook saved in the spool when the store was busy,
 * missing or read-only; if it still cannot, try again in a second. */
static void ingest_spool(struct sup *s)
{
	struct store *st = sup_store(s);
	int n = -1;

	if (st) {	/* a locked store must not hold the supervisor up */
		store_busy_timeout(st, 200);
		n = hook_spool_ingest(s->home, st);
		store_busy_timeout(st, 10000);
	}
	if (n < 0) {
		if (st)
			logmsg("warning: cannot queue the spooled pushes: %s; "
			    "trying again in 1s", error_last());
		s->spool_retry_at = mono_ms() + 1000;
		return;
	}
	s->spool_retry_at = 0;
	if (n > 0)
		logmsg("queued %d job%s from the spool", n, n == 1 ? "" : "s");
}

/* ---- worker ---- */

struct conf_watch {
	struct config *conf;
	struct timespec mtime;
	off_t size;
};

struct wstate {
	struct store *store;
	int sigfd, wake_r;
	int stopping;
	int64_t job;
	const char *home;
	struct conf_watch cw;		/* reloaded when runner.yml changes */
};

/*
 * Edits to runner.yml take effect for the next job (or notification): a
 * stat each time, a parse only when the file changed. A file that no
 * longer parses is reported and the last good configuration kept.
 */
static void reload_config(const char *home, struct conf_watch *cw)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE);
	struct stat st;
	struct config *c = NULL;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (st.st_mtim.tv_sec == cw->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == cw->mtime.tv_nsec &&
	    st.st_size == cw->size) {
		free(path);
		return;
	}
	cw->mtime = st.st_mtim;
	cw->size = st.st_size;
	if (config_load(home, &c) < 0) {
		logmsg("warning: %s; keeping the configuration loaded before",
		    error_last());
	} else {
		if (cw->conf)
			logmsg("reloaded %s", path);
		config_free(cw->conf);
		cw->conf = c;
	}
	free(path);
}

static enum stage_event worker_event(void *arg)
{
	struct wstate *ws = arg;
	struct signalfd_siginfo si;
	enum stage_event ev = STAGE_EV_NONE;

	while (read(ws->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			ws->stopping = 1;
			if (ev == STAGE_EV_NONE)
				ev = STAGE_EV_SHUTDOWN;
		} else if (si.ssi_signo == SIGUSR1 && ws->job &&
		    store_cancel_requested(ws->store, ws->job)) {
			ev = STAGE_EV_CANCEL;
		}
	}
	if (ws->stopping && ev == STAGE_EV_NONE)
		ev = STAGE_EV_SHUTDOWN;
	return ev;
}

static void drain_fd(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int worker_main(const char *home, const struct config *conf,
    int wake_r, pid_t parent)
{
	struct wstate ws = { .wake_r = wake_r, .home = home };
	struct job_ctx ctx = {
		.home = home, .conf = conf, .on_event = worker_event,
		.arg = &ws, .stopping = &ws.stopping,
	};
	sigset_t mask;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	stage_become_subreaper();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGCHLD);
	ws.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (store_open(home, STORE_OPEN, &ws.store) < 0) {
		logmsg("worker: %s", error_last());
		return 1;
	}
	ctx.store = ws.store;
	ctx.event_fd = ws.sigfd;
	store_relax(ws.store);
	checkout_global_init();

	while (!ws.stopping) {
		struct job *job = NULL;
		reload_config(home, &ws.cw);
		if (ws.cw.conf)
			ctx.conf = ws.cw.conf;
		int rc = store_claim(ws.store, getpid(), ctx.conf->supersede, &job);

		if (rc == 0) {
			logmsg("job #%lld: started (%s %.7s, attempt %d)",
			    (long long)job->id, job->ref, job->commit,
			    job->attempt);
			ws.job = job->id;
			int64_t t0 = mono_ms();
			if (job_run(&ctx, job) < 0)
				logmsg("job #%lld: cannot record: %s",
				    (long long)job->id, error_last());
			ws.job = 0;
			struct job *done = NULL;
			if (store_job_get(ws.store, job->id, &done) == 0)
				logmsg("job #%lld: %s in %lldms%s%s",
				    (long long)done->id, done->state,
				    (long long)(mono_ms() - t0),
				    done->error ? ": " : "",
				    done->error ? done->error : "");
			job_free(done);
			job_free(job);
			hook_wake(home, "notify");	/* its event is recorded */
			continue;
		}
		struct pollfd pfd[2] = {
			{ ws.sigfd, POLLIN, 0 }, { wake_r, POLLIN, 0 },
		};
		if (rc != ERR_NOTFOUND)
			logmsg("worker: cannot claim a job: %s", error_last());
		/* After a store error, try again in a second. */
		if (poll(pfd, 2, rc == ERR_NOTFOUND ? -1 : 1000) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[0].revents)
			worker_event(&ws);
		if (pfd[1].revents)
			drain_fd(wake_r);
	}
	store_close(ws.store);
	config_free(ws.cw.conf);
	close(ws.sigfd);
	return 0;
}

/* ---- notifier ---- */

struct nstate {
	int sigfd;
	int stopping;
};

static int notifier_stopping(void *arg)
{
	struct nstate *ns = arg;
	struct signalfd_siginfo si;

	while (read(ns->sigfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			ns->stopping = 1;
	return ns->stopping;
}

static void log_attempt(const struct notification *x)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "notification #%lld (job #%lld %s) to '%s': %s",
	    (long long)x->id, (long long)x->job_id, x->event, x->target,
	    x->state);
	if (!strcmp(x->state, "pending")) {
		sbuf_adds(&sb, ", next attempt in ");
		format_duration(&sb, x->next_ms - now_ms());
	}
	if (x->error)
		sbuf_addf(&sb, ": %s", x->error);
	logmsg("%s", sb.buf);
	sbuf_release(&sb);
}

/*
 * Routes the events workers record and delivers their notifications, one
 * at a time, away from the workers: a slow or dead endpoint never holds up
 * a stage. Woken by the supervisor when a job ends; otherwise it sleeps
 * until the next retry is due.
 */
static int notifier_main(const char *home, const struct config *conf,
    int wake_r, pid_t parent)
{
	struct nstate ns = { 0 };
	struct conf_watch cw = { 0 };
	struct store *st = NULL;
	sigset_t mask;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ns.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (store_open(home, STORE_OPEN, &st) < 0) {
		logmsg("notifier: %s", error_last());
		return 1;
	}
	while (!notifier_stopping(&ns)) {
		struct notification *x = NULL;
		int64_t wait = -1;
		int rc;

		reload_config(home, &cw);
		if (cw.conf)
			conf = cw.conf;
		if (notify_route(st, conf) < 0) {
			logmsg("notifier: cannot route events: %s", error_last());
			wait = 1000;
		}
		rc = store_notif_next(st, &x);
		if (rc == 0 && x->next_ms <= now_ms()) {
			if (notify_attempt(st, conf, x, notifier_stopping, &ns) < 0)
				logmsg("notifier: cannot record a delivery: %s",
				    error_last());
			else if (!ns.stopping)
				log_attempt(x);
			notif_free(x);
			continue;
		}
		if (rc == 0 && (wait < 0 || x->next_ms - now_ms() < wait))
			wait = x->next_ms - now_ms();
		else if (rc < 0 && rc != ERR_NOTFOUND) {
			logmsg("notifier: %s", error_last());
			wait = 1000;
		}
		notif_free(x);
		struct pollfd pfd[2] = {
			{ ns.sigfd, POLLIN, 0 }, { wake_r, POLLIN, 0 },
		};
		if (poll(pfd, 2, wait > 3600000 ? 3600000 : (int)wait) < 0 &&
		    errno != EINTR)
			break;
		if (pfd[1].revents)
			drain_fd(wake_r);
	}
	store_close(st);
	config_free(cw.conf);
	close(ns.sigfd);
	return 0;
}

/* ---- supervisor ---- */

typedef int child_main(const char *home, const struct config *conf,
    int wake_r, pid_t parent);

static void close_wake_pipes(struct sup *s)
{
	for (int j = 0; j < s->nworkers; j++)
		if (s->w[j].wake_w >= 0)
			close(s->w[j].wake_w);
	if (s->notifier.wake_w >= 0)
		close(s->notifier.wake_w);
}

/* Fork a worker or the notifier into slot `w`, with its wake pipe. */
static int spawn(struct sup *s, struct worker *w, child_main *fn)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	store_close(s->store);	/* never share a connection across fork */
	s->store = NULL;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return error_set(-1, "cannot fork a worker: %s", strerror(errno));
	}
	if (pid == 0) {
		pid_t parent = getppid();
		close(fds[1]);
		close(s->sigfd);
		close(s->sock);
		close_wake_pipes(s);
		int rc = fn(s->home, s->conf, fds[0], parent);
		close(fds[0]);
		exit(rc);
	}
	close(fds[0]);
	w->pid = pid;
	w->wake_w = fds[1];
	return 0;
}

static int spawn_worker(struct sup *s, int i)
{
	return spawn(s, &s->w[i], worker_main);
}

static void wake_notifier(struct sup *s)
{
	if (s->notifier.wake_w >= 0)
		(void)!write(s->notifier.wake_w, "n", 1);
}

static void wake_workers(struct sup *s)
{
	for (int i = 0; i < s->nworkers; i++)
		if (s->w[i].wake_w >= 0)
			(void)!write(s->w[i].wake_w, "w", 1);
}

static void signal_cancels(struct sup *s)
{
	struct store *st = sup_store(s);
	pid_t *pids;
	size_t n;

	if (!st || store_cancel_workers(st, &pids, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < s->nworkers; j++)
			if (s->w[j].pid == pids[i])
				kill(pids[i], SIGUSR1);
	free(pids);
}

static void on_datagrams(struct sup *s)
{
	char buf[64];
	int wake = 0, cancel = 0, notify = 0;
	ssize_t n;

	while ((n = recv(s->sock, buf, sizeof(buf) - 1, 0)) >= 0) {
		buf[n] = '\0';
		if (!strcmp(buf, "cancel"))
			cancel = 1;
		else if (!strcmp(buf, "notify"))
			notify = 1;
		else
			wake = 1;
	}
	if (cancel)
		signal_cancels(s);
	if (wake) {
		ingest_spool(s);
		wake_workers(s);
	}
	if (notify)
		wake_notifier(s);
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->notifier.pid) {
			s->notifier.pid = 0;
			close(s->notifier.wake_w);
			s->notifier.wake_w = -1;
			if (s->stopping)
				continue;
			logmsg("notifier %d died (%s %d); starting another",
			    (int)pid, WIFSIGNALED(status) ? "signal" : "exit code",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			if (spawn(s, &s->notifier, notifier_main) < 0)
				logmsg("warning: %s", error_last());
			continue;
		}
		for (int i = 0; i < s->nworkers; i++) {
			if (s->w[i].pid != pid)
				continue;
			s->w[i].pid = 0;
			close(s->w[i].wake_w);
			s->w[i].wake_w = -1;
			if (s->stopping)
				break;
			logmsg("worker %d died (%s %d); its job goes back to the "
			    "queue", (int)pid, WIFSIGNALED(status) ? "signal" :
			    "exit code", WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			recover(s, pid);
			if (spawn_worker(s, i) < 0)
				logmsg("warning: %s", error_last());
			wake_workers(s);
			wake_notifier(s);	/* recovery may end deployments */
			break;
		}
	}
}

static int alive(const struct sup *s)
{
	int n = 0;

	for (int i = 0; i < s->nworkers; i++)
		n += s->w[i].pid > 0;
	return n + (s->notifier.pid > 0);
}

static int take_lock(struct sup *s)
{
	char *path = xasprintf("%s/%s", s->home, LOCK_FILE);
	char pid[32];
	int error = 0;

	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		error = error_set(-1, "cannot open '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	/* A daemon that was just killed may take a moment to let go. */
	for (int i = 0; flock(s->lockfd, LOCK_EX | LOCK_NB) < 0; i++) {
		if (errno != EWOULDBLOCK || i == 50) {
			error = error_set(ERR_BUSY, "another daemon is serving '%s' "
			    "(pid %d)", s->home, daemon_pid(s->home));
			goto out;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(s->lockfd, 0) < 0 || pwrite(s->lockfd, pid, (size_t)n,
	    0) != n)
		error = error_set(-1, "cannot write '%s': %s", path,
		    strerror(errno));
out:
	free(path);
	return error;
}

int daemon_pid(const char *home)
{
	char *path = xasprintf("%s/%s", home, LOCK_FILE);
	struct sbuf buf = SBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC), pid = 0;

	if (fd >= 0) {
		if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK &&
		    read_file(path, 64, &buf) == 0)
			pid = atoi(buf.buf);
		close(fd);
	}
	sbuf_release(&buf);
	free(path);
	return pid;
}

static int bind_socket(struct sup *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", s->home,
	    SOCKET_FILE);

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return error_set(ERR_INVALID, "home '%s' is too long for a unix "
		    "socket path (at most %zu bytes)", s->home,
		    sizeof(sa.sun_path) - sizeof(SOCKET_FILE) - 1);
	unlink(sa.sun_path);
	s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->sock < 0 || bind(s->sock, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0)
		return error_set(-1, "cannot bind '%s': %s", sa.sun_path,
		    strerror(errno));
	return 0;
}

int daemon_serve(const char *home, const struct config *conf, int workers)
{
	struct sup s = { .home = home, .conf = conf, .sigfd = -1, .sock = -1,
	    .lockfd = -1, .notifier = { 0, -1 } };
	sigset_t mask, old;
	int error;
	int64_t kill_at = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if ((error = take_lock(&s)) < 0)
		goto out;
	if (!sup_store(&s)) {
		error = -1;
		goto out;
	}
	recover(&s, 0);
	{
		/* stages of a daemon that was killed, however they hid */
		char *prefix = xasprintf("%s/", s.home);
		int n = stage_kill_leftovers(prefix);
		if (n)
			logmsg("killed %d process%s left by stages of the last "
			    "daemon", n, n == 1 ? "" : "es");
		free(prefix);
	}
	ingest_spool(&s);
	if ((error = bind_socket(&s)) < 0)
		goto out;
	s.nworkers = workers;
	s.w = xcalloc((size_t)workers, sizeof(*s.w));
	for (int i = 0; i < workers; i++)
		s.w[i].wake_w = -1;
	for (int i = 0; i < workers; i++)
		if ((error = spawn_worker(&s, i)) < 0)
			goto out;
	if ((error = spawn(&s, &s.notifier, notifier_main)) < 0)
		goto out;
	logmsg("serving '%s' with %d worker%s", home, workers,
	    workers == 1 ? "" : "s");

	while (!s.stopping || alive(&s)) {
		struct pollfd pfd[2] = {
			{ s.sigfd, POLLIN, 0 }, { s.sock, POLLIN, 0 },
		};
		int wait = -1;
		int64_t next = deadline_min(kill_at, s.spool_retry_at);
		if (next) {
			int64_t left = next - mono_ms();
			wait = left > 0 ? (int)left : 0;
		}
		if (poll(pfd, 2, wait) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(s.sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (si.ssi_signo == SIGHUP)
					continue;	/* nothing to reload yet */
				if (!s.stopping) {
					logmsg("stopping: running stages get %lldms "
					    "to finish", (long long)
					    conf->shutdown_grace_ms);
					s.stopping = 1;
					kill_at = mono_ms() + conf->shutdown_grace_ms +
					    2 * conf->kill_grace_ms + 5000;
				}
				for (int i = 0; i < s.nworkers; i++)
					if (s.w[i].pid > 0)
						kill(s.w[i].pid, SIGTERM);
				if (s.notifier.pid > 0)
					kill(s.notifier.pid, SIGTERM);
			}
			reap(&s);
		}
		if (pfd[1].revents)
			on_datagrams(&s);
		if (s.spool_retry_at && mono_ms() >= s.spool_retry_at &&
		    !s.stopping) {
			ingest_spool(&s);
			wake_workers(&s);
		}
		if (kill_at && mono_ms() >= kill_at) {
			for (int i = 0; i < s.nworkers; i++)
				if (s.w[i].pid > 0)
					kill(s.w[i].pid, SIGKILL);
			if (s.notifier.pid > 0)
				kill(s.notifier.pid, SIGKILL);
			kill_at = 0;
		}
	}
	logmsg("stopped");
	error = 0;
out:
	if (error < 0) {
		for (int i = 0; i < s.nworkers; i++)
			if (s.w && s.w[i].pid > 0)
				kill(s.w[i].pid, SIGKILL);
		if (s.notifier.pid > 0)
			kill(s.notifier.pid, SIGKILL);
	}
	if (s.w)
		close_wake_pipes(&s);
	free(s.w);
	if (s.sock >= 0) {
		char *p = xasprintf("%s/%s", home, SOCKET_FILE);
		if (error == 0)
			unlink(p);
		free(p);
		close(s.sock);
	}
	store_close(s.store);
	if (s.lockfd >= 0)
		close(s.lockfd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return error;
}
