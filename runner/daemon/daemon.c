/*
 * Supervisor and workers. Signals reach both through signalfd, so every
 * reaction happens in a poll() loop. A worker that dies has its job put
 * back in the queue; a supervisor that dies takes its workers with it
 * (PR_SET_PDEATHSIG), and the next start recovers their jobs.
 * This file is the loop: the lock, the sockets, the spool, runner.yml
 * read again, the look for work. The workers are pool.c's, the other
 * children children.c's, the heartbeat and recovery leases.c's, the
 * schedules schedules.c's; the state they share, struct sup,
 * daemon_int.h's.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "admin.h"
#include "ask.h"
#include "config.h"
#include "home.h"
#include "hook.h"
#include "spool.h"
#include "run.h"
#include "running.h"
#include "store.h"
#include "jobs.h"
#include "repos.h"
#include "reserve.h"
#include "util.h"
#include "wake.h"
#include "watch.h"

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

void sup_drop_connections(struct sup *s)
{
	store_close(s->store);
	s->store = NULL;
	store_close(s->listen);
	s->listen = NULL;
}


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
	sup_wake_workers(s);
	return s->listen_fd;
}

/*
 * SIGHUP: runner.yml read again (the workers see it change themselves),
 * the log file opened again (after logrotate), the workers told. A
 * runner.yml with a mistake is said here, once; everything else (the
 * workers, the web page, the CLI) falls back on the copy of the last one
 * loaded (config_load_kept) and shows the mistake as a warning.
 */
/*
 * The repositories runner.yml names, those that are there, get their
 * short names (repos.h) before the spool's first look: a repository of
 * another member of the hooks' group, spooled before a configured one
 * first pushes, must not take the name its badges, metrics labels and
 * --repo are made with. A name is never taken back, so a path that is
 * not there (a mistake, corrected later) names nothing.
 */
static void name_configured(struct sup *s)
{
	struct store *st = sup_store(s);

	for (size_t i = 0; st && i < s->conf->nrepos; i++) {
		const char *path = s->conf->repos[i].path;
		char *real = path ? realpath(path, NULL) : NULL;
		int error = real && !strcmp(real, path) ?
		    store_repo_record(st, path, NULL) : 0;
		free(real);
		if (error < 0) {
			log_line("warning: cannot name repository '%s': %s", path,
			    error_last());
			break;
		}
	}
}

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
			s->kids.gc_at = c->retention.interval_ms > 0 ? mono_ms() +
			    c->retention.interval_ms : 0;
		s->sched_at = mono_ms();	/* the schedules as they are now */
		name_configured(s);
		/* the web page where runner.yml says now (its reap starts
		 * it again) */
		if (s->kids.web_pid > 0 && (!c->http.listen || !s->kids.web_listen ||
		    strcmp(c->http.listen, s->kids.web_listen)))
			kill(s->kids.web_pid, SIGTERM);
		else if (!s->kids.web_pid && c->http.listen)
			s->kids.web_at = mono_ms();
	}
	for (int i = 0; i < s->pool.nworkers; i++)
		if (s->pool.w[i].pid > 0)
			kill(s->pool.w[i].pid, SIGHUP);
	if (s->pool.notifier.pid > 0)
		kill(s->pool.notifier.pid, SIGHUP);
}


struct store *sup_store(struct sup *s)
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
	if (s->spool.conf && st.st_mtim.tv_sec == s->spool.conf_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == s->spool.conf_mtime.tv_nsec &&
	    st.st_size == s->spool.conf_size)
		return s->spool.conf;
	if (config_load_kept(s->home, &c, &why) < 0) {
		error_clear();
		return s->conf;
	}
	free(why);
	config_free(s->spool.conf);
	s->spool.conf = c;
	s->spool.conf_mtime = st.st_mtim;
	s->spool.conf_size = st.st_size;
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
	size_t held = s->spool.held;
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
		if (st && !s->spool.said++)
			log_line("warning: cannot queue the spooled pushes: %s; "
			    "trying again every second", error_last());
		s->spool.retry_at = mono_ms() + 1000;
		return n;
	}
	if (s->spool.said)
		log_line("the spooled pushes can be queued again");
	s->spool.said = 0;
	s->spool.retry_at = 0;
	s->spool.held = held;
	if (!held)
		s->spool.held_retry_at = 0;
	else if (retry_held || !s->spool.held_retry_at)
		s->spool.held_retry_at = mono_ms() + SPOOL_HELD_RETRY_MS;
	if (n > 0)
		log_line("queued %d job%s from the spool", n, n == 1 ? "" : "s");
	return n;
}


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
	s->look.reserve_at = missing || s->look.watch.fd < 0 ? mono_ms() + 1000 : 0;
}

/* What the watch said: a look within a second of the last one, a look
 * at the reserves now. */
static void heed(struct sup *s, int what)
{
	if (what & WATCH_RESERVE)
		s->look.reserve_at = mono_ms();
	s->look.seen |= what & (WATCH_STORE | WATCH_SPOOL);
	if ((s->look.seen || s->look.watch.fd < 0) && !s->look.at)
		s->look.at = s->look.looked_at + 1000 > mono_ms() ? s->look.looked_at +
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

	if (s->look.watch.fd >= 0)
		heed(s, watch_read(&s->look.watch));
	else
		heed(s, watch_changed(&s->look.watch, s->home));
	what = s->look.seen;
	s->look.seen = 0;
	if (what & WATCH_SPOOL)
		ingest_spool(s, 0);
	if (what || s->look.again) {
		struct store *st = sup_store(s);
		/* the store cannot say: the workers look */
		if (!st || store_queued(st) != 0)
			sup_wake_workers(s);
		sup_ensure_notifier(s, 0);
	}
	s->look.again = what != 0;
	s->look.looked_at = mono_ms();
	s->look.at = s->look.again || s->look.watch.fd < 0 ? s->look.looked_at + 1000 :
	    0;
}

static void on_datagrams(struct sup *s)
{
	int got = wake_recv(s->sock);

	/* a hook about to queue a job: a worker starts now if none runs,
	 * while the hook writes the store (WAKE_JOBS pokes it then) */
	if (got & (WAKE_JOBS | WAKE_SOON))
		sup_poke_workers(s, got & WAKE_JOBS);
	if (got & WAKE_CANCEL)
		sup_signal_cancels(s);
	if (got & WAKE_JOBS) {
		/* what the spool queued, and more workers for more jobs */
		if (ingest_spool(s, 0) > 0)
			sup_wake_workers(s);
		else
			sup_ensure_workers(s);
	}
	if (got & WAKE_NOTIFY)
		sup_wake_notifier(s);
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
	s->pool.worker_prog = run_sibling(WORKER_PROGRAM);
	if (!s->pool.worker_prog || access(s->pool.worker_prog, X_OK) < 0)
		return error_set(ERR_NOTFOUND, "cannot find %s (it is installed "
		    "in libexec/runner, or beside 'runner')", s->pool.worker_prog ?
		    s->pool.worker_prog : WORKER_PROGRAM);
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
	    .ask = { .fd = -1 },
	    .listen_fd = -1, .look = { .watch = { .fd = -1 } },
	    .log_file = log_file,
	    .lockfd = -1, .pool = { .notifier = { .pid = 0, .wake_w = -1 } } };
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
	{
		char *mark = xasprintf("%s/%s", home, DAEMON_DISK_FAILED);
		struct stat st;
		error = 0;
		if (lstat(mark, &st) == 0)
			error = error_set(-1, "'%s': a write of the store to "
			    "disk failed while the runner served (its log says "
			    "when): check the disk (runner doctor), then remove "
			    "that file to serve again", mark);
		free(mark);
		if (error < 0)
			goto out;
	}
	if ((error = take_lock(&s)) < 0 || (error = worker_present(&s)) < 0 ||
	    (error = worker_users(conf, workers)) < 0 ||
	    (error = daemon_check_confinement(home, conf, workers)) < 0)
		goto out;
	home_audit_each(home, conf, log_issue, NULL);
	if (!sup_store(&s)) {
		error = -1;
		goto out;
	}
	sup_recover(&s, 0);
	s.started_ms = now_ms();
	sup_run_schedules(&s);
	{
		/* stages of a daemon that was killed, however they hid */
		char *prefix = xasprintf("%s/", s.home);
		int n = run_kill_leftovers(prefix);
		if (n)
			log_line("killed %d process%s left by stages of the last "
			    "daemon", n, n == 1 ? "" : "es");
		free(prefix);
	}
	home_prune_pools(home, s.pool.nworkers);
	/* watching before the spool's first look: nothing spooled after it
	 * goes unseen */
	watch_init(&s.look.watch, home);
	name_configured(&s);
	ingest_spool(&s, 1);
	if ((error = s.sock = wake_bind(home)) < 0)
		goto out;
	/* without it hooks of other users only hand pushes over, as before */
	if ((s.ask.fd = ask_bind(home)) < 0)
		log_line("warning: %s: the hooks of other users cannot follow "
		    "their pushes", error_last());
	s.pool.nworkers = workers;
	s.pool.w = xcalloc((size_t)workers, sizeof(*s.pool.w));
	for (int i = 0; i < workers; i++)
		s.pool.w[i].wake_w = -1;
	sup_host_beat(&s);
	for (int i = 0; i < workers; i++)
		if ((error = sup_spawn_worker(&s, i)) < 0)
			goto out;
	if ((error = sup_spawn(&s, &s.pool.notifier, "notifier")) < 0)
		goto out;
	log_line("serving '%s' with %d worker%s", home, workers,
	    workers == 1 ? "" : "s");
	if (conf->retention.interval_ms > 0)
		s.kids.gc_at = mono_ms() + conf->retention.interval_ms;
	sup_start_web(&s);
	keep_reserves(&s);
	if (s.look.watch.fd < 0)
		s.look.at = mono_ms() + 1000;

	while (!s.stopping || sup_alive(&s)) {
		/* while a look is due the watch's events wait in the kernel,
		 * merged, for the look to read */
		struct pollfd pfd[5] = {
			{ s.sigfd, POLLIN, 0 }, { s.sock, POLLIN, 0 },
			{ listen_fd(&s), POLLIN, 0 },
			{ mono_ms() < s.ask.paused ? -1 : s.ask.fd, POLLIN, 0 },
			{ s.look.at || s.stopping ? -1 : s.look.watch.fd, POLLIN, 0 },
		};
		int wait = -1;
		int64_t next = deadline_min(kill_at, s.spool.retry_at);
		if (!s.stopping)
			next = deadline_min(deadline_min(next, s.spool.held_retry_at),
			    deadline_min(s.look.at, s.look.reserve_at));
		next = deadline_min(next, sup_respawn_due(&s));
		next = deadline_min(next, sup_ask_overdue(&s));
		if (s.ask.paused > mono_ms())
			next = deadline_min(next, s.ask.paused);
		if (!s.stopping)
			next = deadline_min(deadline_min(deadline_min(
			    deadline_min(next, s.kids.gc_at), s.kids.web_at), s.sched_at),
			    s.lease.beat_at);
		if (s.shared && !s.listen && !s.stopping)
			next = deadline_min(next, s.listen_at);
		if (next) {
			int64_t left = next - mono_ms();
			wait = left > 0 ? (int)left : 0;
		}
		if (poll(pfd, 5, wait) < 0 && errno != EINTR)
			break;
		if (pfd[3].revents)
			sup_on_ask(&s);
		if (pfd[4].revents)
			heed(&s, watch_read(&s.look.watch));
		if (pfd[2].revents && s.listen) {
			int heard = store_heard(s.listen);
			if (heard > 0)
				sup_wake_workers(&s);
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
				sup_signal_children(&s, SIGTERM, 1);
			}
			sup_reap(&s);
			/* a disk that failed: the stages get their kill
			 * grace, not the shutdown's */
			if (s.disk_failed && !kill_at)
				kill_at = mono_ms() + 2 * s.conf->kill_grace_ms +
				    1000;
		}
		if (pfd[1].revents)
			on_datagrams(&s);
		if (s.spool.retry_at && mono_ms() >= s.spool.retry_at &&
		    !s.stopping) {
			ingest_spool(&s, 1);
			sup_wake_workers(&s);
		} else if (s.spool.held_retry_at && mono_ms() >= s.spool.held_retry_at &&
		    !s.stopping) {
			ingest_spool(&s, 1);
			sup_wake_workers(&s);
		}
		if (!s.stopping && s.look.at && mono_ms() >= s.look.at)
			look_for_work(&s);
		if (!s.stopping && s.look.reserve_at && mono_ms() >= s.look.reserve_at)
			keep_reserves(&s);
		if (s.kids.gc_at && mono_ms() >= s.kids.gc_at && !s.stopping)
			sup_start_gc(&s);
		if (!s.stopping && s.lease.beat_at && mono_ms() >= s.lease.beat_at) {
			if (s.shared || sup_workers_alive(&s))
				sup_host_beat(&s);
			else
				s.lease.beat_at = 0;	/* spawn beats again */
		}
		if (s.kids.web_at && mono_ms() >= s.kids.web_at && !s.stopping)
			sup_start_web(&s);
		if (s.sched_at && mono_ms() >= s.sched_at && !s.stopping)
			sup_run_schedules(&s);
		if (kill_at && mono_ms() >= kill_at) {
			sup_signal_children(&s, SIGKILL, 0);
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
	error = s.disk_failed ? error_set(-1, "a write of the "
	    "store to disk failed (logged above): check the disk, then "
	    "start the runner again") : 0;
out:
	if (error < 0)
		sup_signal_children(&s, SIGKILL, 0);
	if (s.pool.w)
		sup_close_wake_pipes(&s);
	free(s.pool.w);
	free(s.pool.worker_prog);
	config_free(s.reloaded);
	config_free(s.spool.conf);
	free(s.kids.web_listen);
	if (s.sock >= 0 && error == 0)
		wake_unbind(home, s.sock);
	else if (s.sock >= 0)
		close(s.sock);
	if (s.ask.fd >= 0)
		ask_unbind(home, s.ask.fd);
	for (int i = 0; i < ASK_MAX; i++)
		if (s.ask.askers[i].pid > 0)
			kill(s.ask.askers[i].pid, SIGKILL);
	sup_drop_connections(&s);
	watch_release(&s.look.watch);
	if (s.lockfd >= 0)
		close(s.lockfd);
	if (s.sigfd >= 0)
		close(s.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return error;
}
