/*
 * Supervisor and workers. Signals reach both through signalfd, so every
 * reaction happens in a poll() loop. A worker that dies has its job put
 * back in the queue; a supervisor that dies takes its workers with it
 * (PR_SET_PDEATHSIG), and the next start recovers their jobs.
 */
#include "daemon.h"
#include "admin.h"
#include "ask.h"
#include "config.h"
#include "home.h"
#include "hook.h"
#include "spool.h"
#include "run.h"
#include "running.h"
#include "store.h"
#include "hosts.h"
#include "jobs.h"
#include "notebox.h"
#include "outbox.h"
#include "reserve.h"
#include "util.h"
#include "wake.h"
#include "watch.h"
#include "who.h"

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

struct worker {
	pid_t pid;
	int wake_w;	/* supervisor's end of the worker's wake pipe */
	int64_t started;	/* mono ms */
	int64_t respawn_at;	/* a child that died at once: start again then */
};

/* A child that dies within this long of its start is started again only
 * after as long: a broken install must not become a fork loop. */
#define RESPAWN_MS 1000

/* A child answering a hook (answer.c): killed if it outlives the longest
 * answer, runner.yml's wait_timeout and ASK_KILL_MS more. */
#define ASK_KILL_MS 60000
struct asker {
	pid_t pid;
	uid_t uid;		/* who connected */
	int64_t kill_at;	/* mono ms */
};

struct sup {
	const char *home;
	struct watch watch;	/* the store's and the spool's files */
	int64_t look_at;	/* mono ms: when to look for work no datagram
				 * announced; 0: when the watch says */
	int64_t looked_at;	/* ... when it last looked */
	int seen;		/* WATCH_* bits the watch said since */
	int look_again;		/* the last look found a change */
	int64_t reserve_at;	/* mono ms: when to look at the reserves;
				 * 0: when the watch says one was used */
	const struct config *conf;
	struct worker *w;
	int nworkers;
	struct worker notifier;	/* delivers notifications */
	int sigfd, sock, lockfd;
	int ask;		/* ask.sock: hooks' questions, or -1 */
	struct asker askers[ASK_MAX];
	int64_t ask_window;	/* mono ms: the second being counted */
	int ask_taken;		/* connections taken in it */
	struct ask_user { uid_t uid; int n; } ask_took[ASK_RATE]; /* by user */
	int ask_users;		/* entries of ask_took */
	int64_t ask_paused;	/* out of descriptors: not before then */
	int stopping;
	struct store *store;	/* opened on demand, closed before fork */
	int shared;		/* the store is PostgreSQL's */
	struct store *listen;	/* there: told of queued jobs; opened on
				 * demand, closed before fork */
	int listen_fd;
	int64_t listen_at;	/* when to try to listen again */
	int64_t spool_retry_at;	/* the spool could not be read: when again */
	int spool_said;		/* ... and the log said so */
	size_t held;		/* pushes held in spool/held/ */
	int64_t held_retry_at;	/* when to try them again; 0: none held */
	char *worker_prog;	/* runner-worker, beside runner */
	struct config *reloaded;	/* runner.yml as SIGHUP read it again */
	/* runner.yml as it is now, for the spool (spool_conf), and the
	 * file's size and time when it was read */
	struct config *spool_conf;
	struct timespec spool_conf_mtime;
	off_t spool_conf_size;
	const char *log_file;	/* --log-file: reopened on SIGHUP */
	pid_t gc_pid;		/* `runner gc` running, or 0 */
	int64_t gc_at;		/* mono ms: when to collect next; 0 never */
	int64_t sched_at;	/* mono ms: when to look at the schedules */
	pid_t web_pid;		/* runner-web, or 0 */
	int64_t web_at;		/* mono ms: when to start it (again); 0 no */
	int64_t web_started;
	char *web_listen;	/* what it was started with */
	int64_t beat_at;	/* mono ms: the host's heartbeat, leases; 0:
				 * none due (SQLite, no worker alive) */
	int64_t started_ms;
	int reserve_said;	/* the reserve could not be made: said once */
};

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
static pid_t sup_child(const char *prog, const char *const *argv,
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
static void start_web(struct sup *s)
{
	const char *argv[] = { WEB_PROGRAM, "web", "--home", s->home, NULL };
	char *prog, parent[48];
	pid_t pid = -1;

	s->web_at = 0;
	if (s->web_pid > 0 || s->stopping || !s->conf->http.listen)
		return;
	prog = run_sibling(WEB_PROGRAM);
	snprintf(parent, sizeof(parent), "RUNNER_WEB_PARENT=%d", (int)getpid());
	if (prog)
		pid = sup_child(prog, argv, parent, -1, SIGTERM, 0);
	if (pid < 0) {
		log_line("warning: cannot start the web page: %s",
		    prog ? error_last() : "runner-web not found");
		/* as one that died at once: again in a moment */
		s->web_at = mono_ms() + RESPAWN_MS;
	} else {
		s->web_pid = pid;
		s->web_started = mono_ms();
		free(s->web_listen);
		s->web_listen = xstrdup(s->conf->http.listen);
	}
	free(prog);
}


static void drop_connections(struct sup *s)
{
	store_close(s->store);
	s->store = NULL;
	store_close(s->listen);
	s->listen = NULL;
}

static void wake_workers(struct sup *s);

/*
 * The descriptor that says another host queued a job (PostgreSQL's
 * LISTEN), or -1: SQLite, or the server cannot be reached (tried again
 * in a second). Listening anew may have missed a word: the workers look.
 */
static int listen_fd(struct sup *s)
{
	if (s->listen)
		return s->listen_fd;
	if (!s->shared || s->stopping || mono_ms() < s->listen_at)
		return -1;
	s->listen_at = mono_ms() + 1000;
	if (store_open(s->home, s->conf->store, STORE_OPEN, &s->listen) < 0 ||
	    (s->listen_fd = store_listen(s->listen)) < 0) {
		store_close(s->listen);
		s->listen = NULL;
		return -1;
	}
	wake_workers(s);
	return s->listen_fd;
}

/* Collect what retention lets go in a child of its own (`runner gc
 * --quiet`: a line in this log when it freed something); the supervisor
 * only starts it and reaps it. */
static void start_gc(struct sup *s)
{
	const char *argv[] = { "runner", "gc", "--home", s->home, "--quiet",
	    NULL };
	char *self;
	pid_t pid;

	s->gc_at = s->conf->retention.interval_ms > 0 ? mono_ms() +
	    s->conf->retention.interval_ms : 0;
	if (s->gc_pid > 0 || s->stopping ||
	    !(self = realpath("/proc/self/exe", NULL)))
		return;
	drop_connections(s);	/* not shared with the child */
	pid = sup_child(self, argv, NULL, -1, SIGTERM, 1);
	if (pid < 0)
		log_line("warning: cannot start the collection: %s",
		    error_last());
	else
		s->gc_pid = pid;
	free(self);
}

/*
 * SIGHUP: runner.yml read again (the workers see it change themselves),
 * the log file opened again (after logrotate), the workers told. A
 * runner.yml with a mistake is said here, once; everything else (the
 * workers, the web page, the CLI) falls back on the copy of the last one
 * loaded (config_load_kept) and shows the mistake as a warning.
 */
static void reload(struct sup *s)
{
	struct config *c = NULL;
	int64_t old_interval = s->conf->retention.interval_ms;
	int rc;

	if (s->log_file && log_reopen(s->log_file) < 0)
		log_line("warning: %s", error_last());
	if ((rc = config_load_keep(s->home, &c)) < 0) {
		log_line("warning: reload failed: %s; keeping the configuration "
		    "loaded before (correct the file, 'runner check --config' "
		    "names the line, then reload)", error_last());
	} else {
		if (rc > 0)
			log_line("warning: cannot keep a copy of %s: %s", CONFIG_FILE,
			    error_last());
		config_free(s->reloaded);
		s->reloaded = c;
		s->conf = c;
		log_line("reloaded %s/%s", s->home, CONFIG_FILE);
		if (c->retention.interval_ms != old_interval)
			s->gc_at = c->retention.interval_ms > 0 ? mono_ms() +
			    c->retention.interval_ms : 0;
		s->sched_at = mono_ms();	/* the schedules as they are now */
		/* the web page where runner.yml says now (its reap starts
		 * it again) */
		if (s->web_pid > 0 && (!c->http.listen || !s->web_listen ||
		    strcmp(c->http.listen, s->web_listen)))
			kill(s->web_pid, SIGTERM);
		else if (!s->web_pid && c->http.listen)
			s->web_at = mono_ms();
	}
	for (int i = 0; i < s->nworkers; i++)
		if (s->w[i].pid > 0)
			kill(s->w[i].pid, SIGHUP);
	if (s->notifier.pid > 0)
		kill(s->notifier.pid, SIGHUP);
}


static struct store *sup_store(struct sup *s)
{
	if (!s->store && store_open(s->home, s->conf->store, STORE_OPEN,
	    &s->store) < 0) {
		log_line("warning: %s", error_last());
		s->store = NULL;
	}
	/* a server gone: the next round tries again, the loop goes on */
	if (s->store)
		store_server_wait(s->store, 0);
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
	char *host = config_host_name(s->conf);
	int rc = store_recover(st, worker, host, &pgids, &n);

	/* a full disk: the store's reserve was released for this */
	if (rc == ERR_NOSPACE)
		rc = store_recover(st, worker, host, &pgids, &n);
	free(host);
	if (rc < 0) {
		log_line("warning: cannot recover jobs: %s", error_last());
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (pgids[i] > 1 && kill(-pgids[i], SIGKILL) == 0)
			log_line("killed leftover process group %d", (int)pgids[i]);
	free(pgids);
}

static void wake_workers(struct sup *s);

/*
 * Every third of the lease: this host says it is alive (status shows it,
 * and the store counts its workers in the shares of a claim), and jobs
 * whose lease ended, on any host, are taken back. The stages of this
 * host's (a worker frozen with its stage) are killed first: nothing of
 * the lost attempt may run beside the next.
 *
 * On SQLite every job is this host's, held by a worker alive: with none
 * alive there is nothing to take back, and the beats stop (beat_at 0),
 * so that an idle daemon writes nothing; the next worker started beats
 * first (spawn).
 */
static void host_beat(struct sup *s)
{
	struct store *st = sup_store(s);
	char *host = config_host_name(s->conf);
	char *labels = config_host_labels(s->conf);
	struct expired *x = NULL;
	pid_t *pgids = NULL;
	size_t nx = 0, np = 0;

	s->beat_at = mono_ms() + s->conf->host.lease_ms / 3;
	if (!st)
		goto out;
	if (store_host_beat(st, host, labels, s->nworkers, s->started_ms) < 0)
		log_line("warning: cannot record this host's heartbeat: %s",
		    error_last());
	if (store_leases_expire(st, 0, host, &x, &nx, &pgids,
	    &np) < 0) {
		log_line("warning: cannot take back jobs whose lease ended: %s",
		    error_last());
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		if (pgids[i] > 1 && kill(-pgids[i], SIGKILL) == 0)
			log_line("killed process group %d of a job whose lease "
			    "ended", (int)pgids[i]);
	for (size_t i = 0; i < nx; i++)
		log_line("job #%lld: the lease of host '%s' ended without a "
		    "heartbeat: %s", (long long)x[i].id, x[i].host ? x[i].host :
		    "?", x[i].deploy ? "the deployment is interrupted, not "
		    "re-run" : "back in the queue, to run again");
	if (nx)
		wake_workers(s);
out:
	expired_free(x, nx);
	free(pgids);
	free(labels);
	free(host);
}

/*
 * The triggers the spool's pushes are matched against: runner.yml as it
 * is now, read again when it changed, as the hook reads it (the runner's
 * own hook matched a spooled push against the file then; an edit since
 * the daemon started must not drop it). A file with a mistake gives the
 * configuration the daemon loaded.
 */
static const struct config *spool_conf(struct sup *s)
{
	char *path = xasprintf("%s/%s", s->home, CONFIG_FILE);
	struct config *c = NULL;
	char *why = NULL;
	struct stat st;

	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	free(path);
	if (s->spool_conf && st.st_mtim.tv_sec == s->spool_conf_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->spool_conf_mtime.tv_nsec &&
	    st.st_size == s->spool_conf_size)
		return s->spool_conf;
	if (config_load_kept(s->home, &c, &why) < 0) {
		error_clear();
		return s->conf;
	}
	free(why);
	config_free(s->spool_conf);
	s->spool_conf = c;
	s->spool_conf_mtime = st.st_mtim;
	s->spool_conf_size = st.st_size;
	return c;
}

/* Queue the pushes the hook saved in the spool when the store was busy,
 * missing or read-only; if it still cannot, try again in a second (said
 * once, and once more when it can again). With `retry_held`, the pushes
 * held for a repository the daemon could not read are tried too; while
 * some are held, that happens every SPOOL_HELD_RETRY_MS. */
static int ingest_spool(struct sup *s, int retry_held)
{
	struct store *st = sup_store(s);
	size_t held = s->held;
	int n = -1;

	if (st) {
		/* a locked SQLite must not hold the supervisor up (PostgreSQL
		 * locks rows, which a push's jobs share with no one; the two
		 * settings would be two round trips a push) */
		if (store_is_sqlite(st))
			store_busy_timeout(st, 200);
		n = hook_spool_ingest(s->home, spool_conf(s), st, retry_held,
		    &held);
		if (store_is_sqlite(st))
			store_busy_timeout(st, 10000);
	} else if (s->shared) {
		/* the hooks that wait hear why at once */
		hook_spool_unqueued(s->home, error_last());
	}
	if (n < 0) {
		if (st && !s->spool_said++)
			log_line("warning: cannot queue the spooled pushes: %s; "
			    "trying again every second", error_last());
		s->spool_retry_at = mono_ms() + 1000;
		return n;
	}
	if (s->spool_said)
		log_line("the spooled pushes can be queued again");
	s->spool_said = 0;
	s->spool_retry_at = 0;
	s->held = held;
	if (!held)
		s->held_retry_at = 0;
	else if (retry_held || !s->held_retry_at)
		s->held_retry_at = mono_ms() + SPOOL_HELD_RETRY_MS;
	if (n > 0)
		log_line("queued %d job%s from the spool", n, n == 1 ? "" : "s");
	return n;
}

static void ensure_notifier(struct sup *s, int always);

/*
 * The home's reserves (reserve.h): one that a full disk used is made
 * again once the disk has room for it. Looked at when the watch says one
 * was removed (without inotify, each second), and then each second while
 * one is missing.
 */
static void keep_reserves(struct sup *s)
{
	int missing = 0, n = reserve_keep(s->home, &missing);

	if (n > 0) {
		log_line("set aside the home's reserve%s on its file system, for "
		    "a disk that builds fill", n == 1 ? "" : "s");
		s->reserve_said = 0;
	} else if (n < 0 && !s->reserve_said++) {
		log_line("warning: %s", error_last());
	}
	s->reserve_at = missing || s->watch.fd < 0 ? mono_ms() + 1000 : 0;
}

/* What the watch said: a look within a second of the last one, a look
 * at the reserves now. */
static void heed(struct sup *s, int what)
{
	if (what & WATCH_RESERVE)
		s->reserve_at = mono_ms();
	s->seen |= what & (WATCH_STORE | WATCH_SPOOL);
	if ((s->seen || s->watch.fd < 0) && !s->look_at)
		s->look_at = s->looked_at + 1000 > mono_ms() ? s->looked_at +
		    1000 : mono_ms();
}

/*
 * Work may arrive without a datagram: a hook whose user may not write to
 * the socket, a datagram lost. The watch (watch.h) says when the store or
 * the spool was written; the look that follows, at most one a second,
 * queues what the spool holds and wakes the workers if the queue holds a
 * job (the notifier if something waits to be sent), so that neither a
 * reader of the store nor the supervisor's own heartbeat wakes anyone.
 * A look that found a write is followed by one more a second later: the
 * commit it saw may not have been visible yet (written, not yet synced).
 * Idle, nothing is written, and nobody looks.
 */
static void look_for_work(struct sup *s)
{
	int what;

	if (s->watch.fd >= 0)
		heed(s, watch_read(&s->watch));
	else
		heed(s, watch_changed(&s->watch, s->home));
	what = s->seen;
	s->seen = 0;
	if (what & WATCH_SPOOL)
		ingest_spool(s, 0);
	if (what || s->look_again) {
		struct store *st = sup_store(s);
		/* the store cannot say: the workers look */
		if (!st || store_queued(st) != 0)
			wake_workers(s);
		ensure_notifier(s, 0);
	}
	s->look_again = what != 0;
	s->looked_at = mono_ms();
	s->look_at = s->look_again || s->watch.fd < 0 ? s->looked_at + 1000 :
	    0;
}

/* ---- supervisor ---- */

static void close_wake_pipes(struct sup *s)
{
	for (int j = 0; j < s->nworkers; j++)
		if (s->w[j].wake_w >= 0)
			close(s->w[j].wake_w);
	if (s->notifier.wake_w >= 0)
		close(s->notifier.wake_w);
}

/*
 * Start a worker or the notifier in slot `w`: runner-worker ROLE HOME
 * PARENT SLOT (the notifier's is -1), with the read end of its wake pipe
 * as descriptor 3.
 */
static int spawn(struct sup *s, struct worker *w, const char *role)
{
	char ppid[32], slot[16];
	/* a worker's number: the build user its stages run as */
	const char *argv[] = { WORKER_PROGRAM, role, s->home, ppid, slot,
	    NULL };
	int fds[2];
	pid_t pid;

	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	snprintf(slot, sizeof(slot), "%d", w == &s->notifier ? -1 :
	    (int)(w - s->w));
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return error_set(-1, "cannot create a pipe: %s", strerror(errno));
	/* the beats stopped while no worker was alive: this host is alive
	 * again (its workers count in a claim's shares) before it claims */
	if (w != &s->notifier && !s->beat_at && !s->stopping)
		host_beat(s);
	drop_connections(s);	/* never share a connection across fork */
	/* it dies with the supervisor (PDEATHSIG survives the exec) */
	pid = sup_child(s->worker_prog, argv, NULL, fds[0], SIGKILL, 0);
	close(fds[0]);
	w->started = mono_ms();
	if (pid < 0) {
		/* as a child that died at once: again in a moment, not in a
		 * loop */
		close(fds[1]);
		log_line("cannot run %s: %s", s->worker_prog, error_last());
		w->pid = 0;
		w->wake_w = -1;
		w->respawn_at = w->started + RESPAWN_MS;
		return 0;
	}
	w->pid = pid;
	w->wake_w = fds[1];
	w->respawn_at = 0;
	return 0;
}

/* Start slot `w` again, now or, if it died at once, in a moment. */
static void respawn(struct sup *s, struct worker *w, const char *role)
{
	if (mono_ms() - w->started < RESPAWN_MS) {
		w->respawn_at = mono_ms() + RESPAWN_MS;
		return;
	}
	if (spawn(s, w, role) < 0)
		log_line("warning: %s", error_last());
}

/* Start the children whose moment came; the next such moment, or 0. */
static int64_t respawn_due(struct sup *s)
{
	int64_t next = 0, now = mono_ms();

	for (int i = 0; i <= s->nworkers; i++) {
		struct worker *w = i < s->nworkers ? &s->w[i] : &s->notifier;
		if (!w->respawn_at || w->pid)
			continue;
		if (w->respawn_at <= now && !s->stopping) {
			if (spawn(s, w, i < s->nworkers ? "worker" : "notifier") < 0)
				log_line("warning: %s", error_last());
			continue;
		}
		next = deadline_min(next, w->respawn_at);
	}
	return next;
}

static int spawn_worker(struct sup *s, int i)
{
	return spawn(s, &s->w[i], "worker");
}

/* A slot with no child, and none about to start. */
static int vacant(const struct worker *w)
{
	return !w->pid && !w->respawn_at;
}

/*
 * Workers and the notifier leave when idle (runner.yml idle_exit): start
 * them again for the work there is, a worker per queued job at most.
 */
static void ensure_workers(struct sup *s)
{
	int vacancies = 0;
	int64_t queued;
	struct store *st;

	for (int i = 0; i < s->nworkers; i++)
		vacancies += vacant(&s->w[i]);
	if (!vacancies || s->stopping)
		return;
	st = sup_store(s);
	queued = st ? store_queued(st) : 1;
	if (queued < 0)		/* the store cannot say: one looks */
		queued = 1;
	for (int i = 0; i < s->nworkers && queued > 0; i++) {
		if (!vacant(&s->w[i]))
			continue;
		if (spawn_worker(s, i) < 0)
			log_line("warning: %s", error_last());
		queued--;
	}
}

/* `always`: a worker says an event is recorded; else only if the store
 * holds events or notifications not yet sent. */
static void ensure_notifier(struct sup *s, int always)
{
	struct store *st;

	if (!vacant(&s->notifier) || s->stopping)
		return;
	if (!always && (!(st = sup_store(s)) || store_unsent(st) == 0))
		return;
	if (spawn(s, &s->notifier, "notifier") < 0)
		log_line("warning: %s", error_last());
}

static void wake_notifier(struct sup *s)
{
	ensure_notifier(s, 1);
	if (s->notifier.wake_w >= 0)
		(void)!write(s->notifier.wake_w, "n", 1);
}

static void wake_workers(struct sup *s)
{
	ensure_workers(s);
	for (int i = 0; i < s->nworkers; i++)
		if (s->w[i].wake_w >= 0)
			(void)!write(s->w[i].wake_w, "w", 1);
}

/*
 * The file `name` of folder `dir` (a path below it, each folder reached
 * without a link), read without following a link and only if it is a
 * file of one name (a hard link to a file of ours is no ref): into
 * `out`. ERR_NOTFOUND if it is not there.
 */
static int read_below(int dir, const char *name, size_t max,
    struct sbuf *out)
{
	char *copy = xstrdup(name), *save = NULL, *part, *next;
	int fd = dup(dir), error = 0;
	struct stat st;

	for (part = strtok_r(copy, "/", &save); part && fd >= 0; part = next) {
		next = strtok_r(NULL, "/", &save);
		int sub = openat(fd, part, O_CLOEXEC | O_NOFOLLOW | (next ?
		    O_PATH | O_DIRECTORY : O_RDONLY | O_NONBLOCK | O_NOCTTY));
		close(fd);
		fd = sub;
	}
	if (fd < 0)
		error = error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot read %s without following a link: %s", name,
		    strerror(errno));
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1)
		error = error_set(-1, "%s is not a file of one name", name);
	else
		error = read_fd(fd, name, max, out);
	if (fd >= 0)
		close(fd);
	free(copy);
	return error;
}

/*
 * Ref `ref` of repository `real` (a real path) into `hex`, read from its
 * files by a daemon that is neither root nor the repository's owner: its
 * git would follow a ref that is a link (to a secret file of the
 * runner's, say) with the runner's rights. A loose ref, else
 * packed-refs; no link followed, no FIFO waited on.
 */
static int ref_read_files(const char *real, const char *ref, char *hex)
{
	struct sbuf buf = SBUF_INIT;
	int dir = -1, error;
	size_t rl = strlen(ref), n;

	if ((dir = open(real, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		error = error_set(-1, "cannot open '%s': %s", real,
		    strerror(errno));
		goto out;
	}
	if ((error = read_below(dir, ref, 4096, &buf)) == 0) {
		n = strspn(buf.buf, "0123456789abcdef");
		if ((n == 40 || n == 64) && (!buf.buf[n] || buf.buf[n] == '\n')) {
			memcpy(hex, buf.buf, n);
			hex[n] = '\0';
		} else {
			error = error_set(ERR_NOTFOUND, "%s of '%s' holds no "
			    "object id", ref, real);
		}
		goto out;
	}
	if (error != ERR_NOTFOUND)
		goto out;
	sbuf_reset(&buf);
	if ((error = read_below(dir, "packed-refs", 64 * 1024 * 1024,
	    &buf)) < 0 && error != ERR_NOTFOUND)
		goto out;
	error = ERR_NOTFOUND;
	for (char *line = buf.buf, *nl; line && *line; line = nl) {
		if ((nl = strchr(line, '\n')))
			*nl++ = '\0';
		n = strspn(line, "0123456789abcdef");
		if ((n == 40 || n == 64) && line[n] == ' ' &&
		    !strncmp(line + n + 1, ref, rl) && !line[n + 1 + rl]) {
			memcpy(hex, line, n);
			hex[n] = '\0';
			error = 0;
			break;
		}
	}
	if (error)
		error_set(error, "no %s in '%s' (read without its owner's git: "
		    "loose and packed refs only)", ref, real);
out:
	if (dir >= 0)
		close(dir);
	sbuf_release(&buf);
	return error;
}

/*
 * Read ref `ref` of a schedule's repository `repo` into `hex`. As root,
 * git runs as the repository's owner, never as root in a folder another
 * user may change: what the repository holds (its config's include.path,
 * a ref that is a link to a file of root's, a FIFO) is its owner's
 * doing, and is read with the owner's rights alone. A daemon of its own
 * user runs its git on its own repositories only, and reads another
 * user's ref files itself (ref_read_files). The path used is the real
 * one, each folder on it checked as it is reached.
 */
static int schedule_ref(const char *repo, const char *ref, char *hex)
{
	struct run_user owner = { 0 };
	struct stat st;
	char *real, id[32];
	int root_only, error;

	if (!(real = realpath(repo, NULL)))
		return error_set(-1, "cannot reach '%s': %s", repo,
		    strerror(errno));
	if ((error = notebox_repo_stat(real, &st, &root_only)) < 0)
		goto out;
	if (geteuid() != 0) {
		/* our own: our git; another user's: its files, no link
		 * followed */
		error = st.st_uid == geteuid() ? git_ref_read(real, ref, NULL,
		    hex) : ref_read_files(real, ref, hex);
		goto out;
	}
	if (st.st_uid == 0) {
		if (!root_only)
			error = error_set(-1, "'%s' is root's, but a folder on "
			    "its path may be changed by another user: root "
			    "runs no git there", repo);
		else
			error = git_ref_read(real, ref, NULL, hex);
		goto out;
	}
	snprintf(id, sizeof(id), "%d", (int)st.st_uid);
	if (run_user_lookup(id, &owner) < 0) {
		/* no name: its uid, and the repository's group */
		error_clear();
		owner.name = xstrdup(id);
		owner.uid = st.st_uid;
		owner.gid = st.st_gid;
	}
	error = git_ref_read(real, ref, &owner, hex);
	run_user_release(&owner);
out:
	free(real);
	return error;
}

/* A schedule's build: the branch's head, unless it has one already and
 * the schedule says skip_built. */
static void fire_schedule(struct sup *s, struct store *st,
    const struct schedule *sc)
{
	char hex[65], *ref = xasprintf("refs/heads/%s", sc->branch);
	char *by = xasprintf("schedule %s", sc->name);
	/* the schedule caused it, by the daemon's hand */
	struct who who = { who_clean(sc->name), xstrdup(WHO_SCHEDULE), NULL,
	    who_user_name(getuid()) };
	struct push p = { sc->repo, ref, "0000000000000000000000000000000000000000",
	    hex, NULL, NULL, NULL, by, &who };
	struct enqueued e;

	if (schedule_ref(sc->repo, ref, hex) < 0) {
		log_line("warning: schedule '%s': %s", sc->name, error_last());
		goto out;
	}
	if (sc->skip_built) {
		struct job **v = NULL;
		size_t n = 0, built = 0;
		if (store_jobs_of_commit(st, sc->repo, hex, &v, &n) == 0)
			for (size_t i = 0; i < n; i++)
				built += v[i]->kind == KIND_BUILD;
		jobs_free(v, n);
		if (built) {
			log_line("schedule '%s': %s %.7s was built already", sc->name,
			    sc->branch, hex);
			goto out;
		}
	}
	if (store_enqueue(st, &p, 1, &e) < 0) {
		log_line("warning: schedule '%s': %s", sc->name, error_last());
		goto out;
	}
	log_line("schedule '%s': queued job #%lld for %s %.7s", sc->name,
	    (long long)e.id, sc->branch, hex);
	wake_workers(s);
out:
	free(ref);
	free(by);
	who_release(&who);
}

/*
 * Run the schedules whose time came since they last ran (once, however
 * many times were missed while the daemon was down); a schedule seen for
 * the first time starts from now. When each last ran is kept in the
 * store (settings "schedule:NAME"). Sets when to look again.
 */
static void run_schedules(struct sup *s)
{
	const struct config *c = s->conf;
	struct store *st;
	int64_t now = now_ms(), next = 0;

	s->sched_at = 0;
	if (!c->nschedules || !(st = sup_store(s)))
		return;
	for (size_t i = 0; i < c->nschedules; i++) {
		const struct schedule *sc = &c->schedules[i];
		char *key = xasprintf("schedule:%s", sc->name), *val = NULL;
		int64_t last = 0, due;
		char buf[32];
		if (store_setting_get(st, key, &val, NULL) == 1)
			last = strtoll(val, NULL, 10);
		free(val);
		if (!last || last > now)
			last = now;
		due = (int64_t)cron_next(&sc->when, (time_t)(last / 1000)) * 1000;
		if (due && due <= now) {
			fire_schedule(s, st, sc);
			last = now;
			due = (int64_t)cron_next(&sc->when, (time_t)(now / 1000)) *
			    1000;
		}
		snprintf(buf, sizeof(buf), "%lld", (long long)last);
		if (store_setting_set(st, key, buf) < 0)
			log_line("warning: schedule '%s': %s", sc->name,
			    error_last());
		if (due)
			next = next ? (due < next ? due : next) : due;
		free(key);
	}
	/* look again when the next is due, and at least once a minute (the
	 * clock may be set) */
	int64_t wait = next ? next - now : 60000;
	s->sched_at = mono_ms() + (wait < 1000 ? 1000 : wait > 60000 ? 60000 :
	    wait);
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

/*
 * A hook queued a job (with `poke`; without, it is about to) and the
 * pusher waits for its first stage: the workers that run are told before
 * anything else is done, and when none runs one starts at once, before
 * the store is asked how many jobs wait (ensure_workers, after the
 * spool).
 */
static void poke_workers(struct sup *s, int poke)
{
	int running = 0;

	for (int i = 0; i < s->nworkers; i++)
		if (s->w[i].wake_w >= 0) {
			if (poke)
				(void)!write(s->w[i].wake_w, "w", 1);
			running++;
		}
	for (int i = 0; i < s->nworkers && !running && !s->stopping; i++)
		if (vacant(&s->w[i])) {
			if (spawn_worker(s, i) < 0)
				log_line("warning: %s", error_last());
			running++;
		}
}

static void on_datagrams(struct sup *s)
{
	int got = wake_recv(s->sock);

	/* a hook about to queue a job: a worker starts now if none runs,
	 * while the hook writes the store (WAKE_JOBS pokes it then) */
	if (got & (WAKE_JOBS | WAKE_SOON))
		poke_workers(s, got & WAKE_JOBS);
	if (got & WAKE_CANCEL)
		signal_cancels(s);
	if (got & WAKE_JOBS) {
		/* what the spool queued, and more workers for more jobs */
		if (ingest_spool(s, 0) > 0)
			wake_workers(s);
		else
			ensure_workers(s);
	}
	if (got & WAKE_NOTIFY)
		wake_notifier(s);
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
	drop_connections(s);	/* never share a connection across fork */
	pid = sup_child(s->worker_prog, argv, NULL, fd, SIGKILL, 0);
	if (pid < 0) {
		log_line("warning: cannot answer a hook: %s", error_last());
		ask_refuse(fd);
		return;
	}
	close(fd);
	s->askers[slot] = (struct asker){ pid, uid, mono_ms() +
	    s->conf->wait_timeout_ms + ASK_TAKE_MS + 3 * ASK_REQUEST_MS +
	    ASK_KILL_MS };
}

/*
 * Connections to ask.sock: each is answered by a child of its own, at
 * most ASK_MAX at once, ASK_PER_UID of one user, ASK_RATE new ones a
 * second; any more are told "busy" and closed. Nothing is read from a
 * client here: the supervisor never waits on one.
 */
static void on_ask(struct sup *s)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept4(s->ask, NULL, NULL, SOCK_CLOEXEC |
		    SOCK_NONBLOCK), slot = -1, of_uid = 0, u;
		struct ucred cr = { 0, (uid_t)-1, (gid_t)-1 };
		socklen_t cl = sizeof(cr);
		int64_t now = mono_ms();

		if (fd < 0) {
			/* out of descriptors: the connection waits, and the
			 * socket is not looked at for a second */
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				s->ask_paused = now + 1000;
			return;
		}
		(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
		if (now - s->ask_window >= 1000) {
			s->ask_window = now;
			s->ask_taken = s->ask_users = 0;
		}
		for (int i = 0; i < ASK_MAX; i++) {
			if (!s->askers[i].pid && slot < 0)
				slot = i;
			of_uid += s->askers[i].pid && s->askers[i].uid == cr.uid;
		}
		for (u = 0; u < s->ask_users && s->ask_took[u].uid != cr.uid; u++)
			;
		if (s->stopping || slot < 0 || of_uid >= ASK_PER_UID ||
		    s->ask_taken >= ASK_RATE || (u < s->ask_users &&
		    s->ask_took[u].n >= ASK_RATE_PER_UID)) {
			ask_refuse(fd);
			continue;
		}
		if (u == s->ask_users)	/* room: no more users than taken */
			s->ask_took[s->ask_users++] = (struct ask_user){ cr.uid, 0 };
		s->ask_took[u].n++;
		s->ask_taken++;
		ask_start(s, fd, cr.uid, slot);
	}
}

/* The answers that outlived their bound are ended; the next bound. */
static int64_t ask_overdue(struct sup *s)
{
	int64_t next = 0, now = mono_ms();

	for (int i = 0; i < ASK_MAX; i++) {
		struct asker *a = &s->askers[i];
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
		if (s->askers[i].pid != pid)
			continue;
		s->askers[i].pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			log_line("warning: cannot answer a hook: %s did not run",
			    s->worker_prog);
		return 1;
	}
	return 0;
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int idle = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (ask_reaped(s, pid, status))
			continue;
		if (pid == s->web_pid) {
			s->web_pid = 0;
			if (s->stopping)
				continue;
			if (!idle && !WIFSIGNALED(status))
				log_line("warning: the web page (runner-web) ended "
				    "with exit code %d", WEXITSTATUS(status));
			s->web_at = mono_ms() + (mono_ms() - s->web_started <
			    RESPAWN_MS ? RESPAWN_MS : 0);
			continue;
		}
		if (pid == s->gc_pid) {
			s->gc_pid = 0;
			if (!idle && !s->stopping)
				log_line("warning: the collection (runner gc) ended "
				    "with %s %d", WIFSIGNALED(status) ? "signal" :
				    "exit code", WIFSIGNALED(status) ?
				    WTERMSIG(status) : WEXITSTATUS(status));
			continue;
		}
		if (pid == s->notifier.pid) {
			s->notifier.pid = 0;
			close(s->notifier.wake_w);
			s->notifier.wake_w = -1;
			if (s->stopping)
				continue;
			if (idle) {	/* it had nothing to send */
				ensure_notifier(s, 0);
				continue;
			}
			log_line("notifier %d died (%s %d); starting another",
			    (int)pid, WIFSIGNALED(status) ? "signal" : "exit code",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			respawn(s, &s->notifier, "notifier");
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
			if (idle) {	/* it had nothing to do for idle_exit */
				ensure_workers(s);	/* work that came meanwhile */
				break;
			}
			log_line("worker %d died (%s %d); its job goes back to the "
			    "queue", (int)pid, WIFSIGNALED(status) ? "signal" :
			    "exit code", WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			recover(s, pid);
			respawn(s, &s->w[i], "worker");
			wake_workers(s);
			wake_notifier(s);	/* recovery may end deployments */
			break;
		}
	}
}

/* Send `sig` to every child: the workers, the notifier, the collection,
 * the web page and, with `askers`, those answering hooks. */
static void signal_children(const struct sup *s, int sig, int askers)
{
	pid_t pids[] = { s->notifier.pid, s->gc_pid, s->web_pid };

	for (int i = 0; s->w && i < s->nworkers; i++)
		if (s->w[i].pid > 0)
			kill(s->w[i].pid, sig);
	for (size_t i = 0; i < sizeof(pids) / sizeof(*pids); i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
	for (int i = 0; askers && i < ASK_MAX; i++)
		if (s->askers[i].pid > 0)
			kill(s->askers[i].pid, sig);
}

static int workers_alive(const struct sup *s)
{
	int n = 0;

	for (int i = 0; i < s->nworkers; i++)
		n += s->w[i].pid > 0;
	return n;
}

static int alive(const struct sup *s)
{
	return workers_alive(s) + (s->notifier.pid > 0) + (s->gc_pid > 0) +
	    (s->web_pid > 0);
}

static int take_lock(struct sup *s)
{
	char *path = xasprintf("%s/%s", s->home, LOCK_FILE);
	char pid[32];
	int error = 0;

	s->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd >= 0)
		(void)!fchmod(s->lockfd, 0600);
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

/* The children are runner-worker: find out now, not in a restart loop. */
static int worker_present(struct sup *s)
{
	s->worker_prog = run_sibling(WORKER_PROGRAM);
	if (!s->worker_prog || access(s->worker_prog, X_OK) < 0)
		return error_set(ERR_NOTFOUND, "cannot find %s (it is installed "
		    "in libexec/runner, or beside 'runner')", s->worker_prog ?
		    s->worker_prog : WORKER_PROGRAM);
	return 0;
}

/*
 * As root, each worker runs its build stages as a user of its own
 * (build_user-N): create those that are missing, as 'runner init' does
 * for the workers runner.yml asks for, so that an upgraded install or
 * more workers (serve --workers) need nothing more.
 */
static void log_issue(const struct home_issue *issue, void *arg)
{
	(void)arg;
	log_line("warning: %s; fix: %s", issue->problem, issue->fix);
}

static void log_said(char *line, void *arg)
{
	(void)arg;
	log_line("%s", line);
}

static int worker_users(const struct config *c, int workers)
{
	struct sbuf said = SBUF_INIT;
	int error;

	if (geteuid() != 0 || c->trust_repositories ||
	    !getpwnam(c->build_user))
		return 0;	/* daemon_check_confinement says why */
	error = home_worker_users(c->build_user, workers, &said);
	each_line(said.buf, log_said, NULL);
	sbuf_release(&said);
	return error;
}

/*
 * The users of the workers' build stages (build_user-N), each of its own:
 * not root, not the build or the release user, not the home's owner, not
 * another worker's, and able to reach its workspaces.
 */
static int check_worker_users(const char *home_dir, const struct config *c,
    int workers, const struct run_user *base, const struct run_user *rel)
{
	uid_t *seen = xcalloc((size_t)workers + 1, sizeof(*seen));
	char *work = xasprintf("%s/work", home_dir);
	struct stat home;
	int error = 0;

	if (stat(home_dir, &home) < 0)
		home.st_uid = 0;
	for (int i = 0; i < workers && !error; i++) {
		struct run_user w = { 0 };
		char *name = home_worker_user(c->build_user, i), *cmd = NULL;
		int shared = 0;

		if (run_user_lookup(name, &w) < 0) {
			cmd = home_useradd_command(name, BUILD_USER_COMMENT);
			error = error_set(-1, "the build user of worker %d, '%s', "
			    "does not exist: run 'runner init' or 'runner serve' as "
			    "root, or create it: %s", i, name, cmd);
			goto next;
		}
		for (int k = 0; k < i; k++)
			shared |= seen[k] == w.uid;
		seen[i] = w.uid;
		if (shared || w.uid == 0 || w.uid == base->uid ||
		    w.uid == rel->uid || w.uid == home.st_uid)
			error = error_set(-1, "the build user of worker %d, '%s', is "
			    "root, the build or release user, another worker's or "
			    "the home's owner: each worker's builds need a user of "
			    "their own (runner.yml build_user)", i, name);
		else if (!run_user_can_reach(&w, work, 0))
			error = error_set(-1, "the build user of worker %d, '%s', "
			    "cannot reach '%s', where its workspaces are: every "
			    "folder above the home must be searchable by others "
			    "(chmod o+x)", i, name, work);
next:
		run_user_release(&w);
		free(cmd);
		free(name);
	}
	free(work);
	free(seen);
	return error;
}

/*
 * Repository code must run confined or as a user of its own: as root, the
 * build user and those of the workers must exist (and bubblewrap work for
 * them, where isolation is on); as any other user, bubblewrap must work.
 * Otherwise refuse to serve, unless runner.yml trusts the repositories.
 */
int daemon_check_confinement(const char *home_dir, const struct config *c,
    int workers)
{
	struct run_user u = { 0 };
	struct stat home;
	int error = 0, isolated = c->isolate;
	char *cmd = NULL;

	if (c->trust_repositories) {
		log_line("warning: trust_repositories is true: code from "
		    "repositories runs %s", config_trust_how(c));
		return 0;
	}
	for (size_t i = 0; i < c->nrepos; i++)
		isolated |= c->repos[i].isolate == 1;
	if (geteuid() != 0) {
		if (run_sandbox_works(NULL) < 0)
			return error_set(-1, "code from repositories would run as "
			    "this daemon's own user, unconfined: %s. Install "
			    "bubblewrap (apt-get install bubblewrap) where user "
			    "namespaces are allowed, run the daemon as root with a "
			    "build_user, or set trust_repositories: true in "
			    "runner.yml", error_last());
		return 0;
	}
	struct run_user rel = { 0 };
	for (int i = 0; i < 2; i++) {
		const char *name = i ? c->release_user : c->build_user;
		if (run_user_lookup(name, i ? &rel : &u) < 0) {
			cmd = home_useradd_command(name, i ? RELEASE_USER_COMMENT :
			    BUILD_USER_COMMENT);
			error = error_set(-1, "the %s user '%s' does not exist: run "
			    "'runner init' as root, or create it: %s", i ? "release" :
			    "build", name, cmd);
			goto out;
		}
	}
	if (rel.uid == 0 || rel.uid == u.uid) {
		error = error_set(-1, "the release user '%s' is root or the build "
		    "user: production's commands need a user of their own "
		    "(runner.yml release_user)", c->release_user);
		goto out;
	}
	if (u.uid == 0 || (stat(home_dir, &home) == 0 && home.st_uid == u.uid)) {
		error = error_set(-1, "the build user '%s' is root or owns the "
		    "home: repository code needs a user of its own (runner.yml "
		    "build_user)", c->build_user);
		goto out;
	}
	char *work = xasprintf("%s/work", home_dir);
	int reach = run_user_can_reach(&u, work, 0);
	free(work);
	if (!reach) {
		error = error_set(-1, "the build user '%s' cannot reach '%s/work', "
		    "where its workspaces are: every folder above the home must "
		    "be searchable by others (chmod o+x), and 'runner init' sets "
		    "the home's own modes", c->build_user, home_dir);
		goto out;
	}
	if ((error = check_worker_users(home_dir, c, workers, &u, &rel)) < 0)
		goto out;
	if (isolated && run_sandbox_works(&u) < 0)
		error = error_set(-1, "%s; install bubblewrap (apt-get install "
		    "bubblewrap), or set isolate: false in runner.yml for "
		    "repositories you trust", error_last());
out:
	free(cmd);
	run_user_release(&u);
	run_user_release(&rel);
	return error;
}

int daemon_serve(const char *home, const struct config *conf, int workers,
    const char *log_file)
{
	struct sup s = { .home = home, .conf = conf, .sigfd = -1, .sock = -1,
	    .ask = -1,
	    .listen_fd = -1, .watch = { .fd = -1 },
	    .log_file = log_file,
	    .lockfd = -1, .notifier = { .pid = 0, .wake_w = -1 } };
	sigset_t mask, old;
	int error;
	int64_t kill_at = 0;
	const char *url = NULL;

	if (store_url(conf->store, &url) == 0 && url)
		s.shared = 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);
	s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	/* nothing of the daemon's (its environment, its memory) is readable
	 * through /proc by processes of the same user, sandboxed ones too */
	prctl(PR_SET_DUMPABLE, 0);
	umask(027);
	if ((error = take_lock(&s)) < 0 || (error = worker_present(&s)) < 0 ||
	    (error = worker_users(conf, workers)) < 0 ||
	    (error = daemon_check_confinement(home, conf, workers)) < 0)
		goto out;
	home_audit_each(home, conf, log_issue, NULL);
	if (!sup_store(&s)) {
		error = -1;
		goto out;
	}
	recover(&s, 0);
	s.started_ms = now_ms();
	run_schedules(&s);
	{
		/* stages of a daemon that was killed, however they hid */
		char *prefix = xasprintf("%s/", s.home);
		int n = run_kill_leftovers(prefix);
		if (n)
			log_line("killed %d process%s left by stages of the last "
			    "daemon", n, n == 1 ? "" : "es");
		free(prefix);
	}
	home_prune_pools(home, s.nworkers);
	/* watching before the spool's first look: nothing spooled after it
	 * goes unseen */
	watch_init(&s.watch, home);
	ingest_spool(&s, 1);
	if ((error = s.sock = wake_bind(home)) < 0)
		goto out;
	/* without it hooks of other users only hand pushes over, as before */
	if ((s.ask = ask_bind(home)) < 0)
		log_line("warning: %s: the hooks of other users cannot follow "
		    "their pushes", error_last());
	s.nworkers = workers;
	s.w = xcalloc((size_t)workers, sizeof(*s.w));
	for (int i = 0; i < workers; i++)
		s.w[i].wake_w = -1;
	host_beat(&s);
	for (int i = 0; i < workers; i++)
		if ((error = spawn_worker(&s, i)) < 0)
			goto out;
	if ((error = spawn(&s, &s.notifier, "notifier")) < 0)
		goto out;
	log_line("serving '%s' with %d worker%s", home, workers,
	    workers == 1 ? "" : "s");
	if (conf->retention.interval_ms > 0)
		s.gc_at = mono_ms() + conf->retention.interval_ms;
	start_web(&s);
	keep_reserves(&s);
	if (s.watch.fd < 0)
		s.look_at = mono_ms() + 1000;

	while (!s.stopping || alive(&s)) {
		/* while a look is due the watch's events wait in the kernel,
		 * merged, for the look to read */
		struct pollfd pfd[5] = {
			{ s.sigfd, POLLIN, 0 }, { s.sock, POLLIN, 0 },
			{ listen_fd(&s), POLLIN, 0 },
			{ mono_ms() < s.ask_paused ? -1 : s.ask, POLLIN, 0 },
			{ s.look_at || s.stopping ? -1 : s.watch.fd, POLLIN, 0 },
		};
		int wait = -1;
		int64_t next = deadline_min(kill_at, s.spool_retry_at);
		if (!s.stopping)
			next = deadline_min(deadline_min(next, s.held_retry_at),
			    deadline_min(s.look_at, s.reserve_at));
		next = deadline_min(next, respawn_due(&s));
		next = deadline_min(next, ask_overdue(&s));
		if (s.ask_paused > mono_ms())
			next = deadline_min(next, s.ask_paused);
		if (!s.stopping)
			next = deadline_min(deadline_min(deadline_min(
			    deadline_min(next, s.gc_at), s.web_at), s.sched_at),
			    s.beat_at);
		if (s.shared && !s.listen && !s.stopping)
			next = deadline_min(next, s.listen_at);
		if (next) {
			int64_t left = next - mono_ms();
			wait = left > 0 ? (int)left : 0;
		}
		if (poll(pfd, 5, wait) < 0 && errno != EINTR)
			break;
		if (pfd[3].revents)
			on_ask(&s);
		if (pfd[4].revents)
			heed(&s, watch_read(&s.watch));
		if (pfd[2].revents && s.listen) {
			int heard = store_heard(s.listen);
			if (heard > 0)
				wake_workers(&s);
			else if (heard < 0) {
				log_line("warning: %s", error_last());
				store_close(s.listen);
				s.listen = NULL;
			}
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			while (read(s.sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (si.ssi_signo == SIGHUP) {
					if (!s.stopping)
						reload(&s);
					continue;
				}
				if (!s.stopping) {
					log_line("stopping (%s from pid %d): running "
					    "stages get %lldms to finish",
					    strsignal((int)si.ssi_signo), (int)si.ssi_pid,
					    (long long)s.conf->shutdown_grace_ms);
					s.stopping = 1;
					kill_at = mono_ms() + s.conf->shutdown_grace_ms +
					    2 * s.conf->kill_grace_ms + 5000;
				}
				/* the hooks waiting hear the daemon go, at once */
				signal_children(&s, SIGTERM, 1);
			}
			reap(&s);
		}
		if (pfd[1].revents)
			on_datagrams(&s);
		if (s.spool_retry_at && mono_ms() >= s.spool_retry_at &&
		    !s.stopping) {
			ingest_spool(&s, 1);
			wake_workers(&s);
		} else if (s.held_retry_at && mono_ms() >= s.held_retry_at &&
		    !s.stopping) {
			ingest_spool(&s, 1);
			wake_workers(&s);
		}
		if (!s.stopping && s.look_at && mono_ms() >= s.look_at)
			look_for_work(&s);
		if (!s.stopping && s.reserve_at && mono_ms() >= s.reserve_at)
			keep_reserves(&s);
		if (s.gc_at && mono_ms() >= s.gc_at && !s.stopping)
			start_gc(&s);
		if (!s.stopping && s.beat_at && mono_ms() >= s.beat_at) {
			if (s.shared || workers_alive(&s))
				host_beat(&s);
			else
				s.beat_at = 0;	/* spawn beats again */
		}
		if (s.web_at && mono_ms() >= s.web_at && !s.stopping)
			start_web(&s);
		if (s.sched_at && mono_ms() >= s.sched_at && !s.stopping)
			run_schedules(&s);
		if (kill_at && mono_ms() >= kill_at) {
			signal_children(&s, SIGKILL, 0);
			kill_at = 0;
		}
		/* an idle supervisor holds no SQLite connection (its page
		 * cache and statements): it opens one when there is something
		 * to do, and gives the freed heap back to the system after it.
		 * A PostgreSQL connection is kept: opening one is a connection
		 * to the server and its statements prepared anew, which the
		 * spooled push of a hook waits for (hook.c, hand_to_daemon) */
		if (s.store && store_is_sqlite(s.store)) {
			store_close(s.store);
			s.store = NULL;
			malloc_trim(0);
		}
	}
	log_line("stopped");
	error = 0;
out:
	if (error < 0)
		signal_children(&s, SIGKILL, 0);
	if (s.w)
		close_wake_pipes(&s);
	free(s.w);
	free(s.worker_prog);
	config_free(s.reloaded);
	config_free(s.spool_conf);
	free(s.web_listen);
	if (s.sock >= 0 && error == 0)
		wake_unbind(home, s.sock);
	else if (s.sock >= 0)
		close(s.sock);
	if (s.ask >= 0)
		ask_unbind(home, s.ask);
	for (int i = 0; i < ASK_MAX; i++)
		if (s.askers[i].pid > 0)
			kill(s.askers[i].pid, SIGKILL);
	drop_connections(&s);
	watch_release(&s.watch);
	if (s.lockfd >= 0)
		close(s.lockfd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return error;
}
