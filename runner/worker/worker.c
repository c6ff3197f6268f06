/*
 * The daemon's children: workers, which claim jobs and run them, and the
 * notifier, which routes and delivers notifications. They run in
 * runner-worker, which the supervisor starts: the supervisor itself never
 * maps libgit2, libcurl or libarchive.
 */
#include "checkout.h"
#include "config.h"
#include "build.h"
#include "deploy.h"
#include "home.h"
#include "notes.h"
#include "notify.h"
#include "run.h"
#include "stage.h"
#include "step.h"
#include "store.h"
#include "hosts.h"
#include "jobs.h"
#include "outbox.h"
#include "provenance.h"
#include "util.h"
#include "wake.h"
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* A build, or a deployment: two kinds of job over the same steps. */
static int run_job(struct job_ctx *ctx, struct job *job)
{
	/* a build settles before its first stage (build_run): its checkout
	 * goes on while the last job's end is written to disk */
	if (job->kind == KIND_DEPLOY) {
		int error = store_settle(ctx->store);	/* its claim on disk */
		return error < 0 ? error : deploy_run(ctx, job);
	}
	return build_run(ctx, job);
}

/* ---- workers ---- */
struct conf_watch {
	struct config *conf;
	struct timespec mtime;
	off_t size;
};

/*
 * The heartbeat: a thread with a connection of its own renews the lease
 * of the job the worker runs every third of the lease. When the store
 * says the job is no longer the worker's, or no renewal has succeeded
 * for two thirds of the lease (the link is cut, or the worker was
 * frozen), the job is lost: the worker stops the stage, and the store
 * refuses whatever it would still record (the fence). A timer says so
 * (SIGUSR2) when the thread is stuck in a renewal or a connection that
 * does not answer; the thread says so when the store answers no.
 */
struct beat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *home;
	char *url;		/* the store's, as the worker opened it */
	int started, quit;
	/* the job held, under the lock */
	int64_t job;
	int attempt;
	char *host;
	int64_t lease_ms;
	atomic_int lost;
	atomic_int full;	/* the store said its disk is full */
	/* the start of the last renewal that succeeded, and the lease, for
	 * the worker's thread; the timer that fires when it is too old */
	atomic_llong last_ok;
	atomic_llong lease;
	timer_t timer;
	int timer_ok;
};

/* Fire SIGUSR2 `ms` from now (0: never). */
static void beat_arm(struct beat *b, int64_t ms)
{
	struct itimerspec t = { 0 };

	if (!b->timer_ok)
		return;
	if (ms > 0) {
		t.it_value.tv_sec = ms / 1000;
		t.it_value.tv_nsec = (ms % 1000) * 1000000;
	}
	timer_settime(b->timer, 0, &t, NULL);
}

/* Has the job gone two thirds of its lease without a renewal? */
static int beat_overdue(struct beat *b)
{
	int64_t lease = atomic_load(&b->lease);

	return lease > 0 && mono_ms() - atomic_load(&b->last_ok) >=
	    lease * 2 / 3;
}

struct wstate {
	struct store *store;
	int sigfd, wake_r;
	int stopping;
	int64_t job;
	const char *home;
	struct conf_watch cw;		/* reloaded when runner.yml changes */
	struct beat beat;
	struct job_ctx *ctx;
};

static void *beat_main(void *arg)
{
	struct beat *b = arg;
	struct store *st = NULL;
	int64_t last_ok = mono_ms();

	pthread_mutex_lock(&b->lock);
	while (!b->quit) {
		struct timespec until;
		int64_t job = b->job, period = b->lease_ms / 3;
		int64_t give_up = last_ok + b->lease_ms * 2 / 3 - mono_ms();
		int held = 1;

		if (!job) {
			pthread_cond_wait(&b->cond, &b->lock);
			last_ok = mono_ms();
			continue;
		}
		/* wake to renew, or to give up in time */
		if (give_up < period)
			period = give_up > 0 ? give_up : 0;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += period / 1000;
		until.tv_nsec += (period % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&b->cond, &b->lock, &until) == 0 ||
		    b->job != job || b->quit) {
			if (b->job != job)
				last_ok = mono_ms();
			continue;
		}
		/* two thirds of a lease without a renewal (frozen, or cut off
		 * from the store): give the job up before the lease ends and
		 * another host may take it; the last third is the margin for
		 * the clocks of the hosts and for this stage's end */
		if (mono_ms() - last_ok >= b->lease_ms * 2 / 3) {
			held = 0;
		} else {
			int attempt = b->attempt;
			char *host = xstrdup(b->host);
			int64_t lease = b->lease_ms, sent = mono_ms();
			int rc;
			pthread_mutex_unlock(&b->lock);
			if (!st && store_open(b->home, b->url, STORE_OPEN,
			    &st) < 0)
				st = NULL;
			if (st)
				store_busy_timeout(st, (int)(lease / 3));
			rc = st ? store_lease_renew(st, job, attempt, getpid(),
			    host, lease) : -1;
			if (rc < 0)
				log_line("job #%lld: cannot renew its lease: %s",
				    (long long)job, error_last());
			free(host);
			pthread_mutex_lock(&b->lock);
			/* the lease runs from the renewal's start */
			if (rc > 0 && b->job == job) {
				last_ok = sent;
				atomic_store(&b->last_ok, sent);
				beat_arm(b, sent + lease * 2 / 3 - mono_ms());
			}
			held = rc != 0 && b->job == job;
			/* a full disk is not a cut link: the job ends failed here
			 * (the worker is told), not queued again to fill it again */
			if (rc == ERR_NOSPACE && b->job == job &&
			    !atomic_exchange(&b->full, 1))
				kill(getpid(), SIGUSR2);
			if (b->job != job)
				continue;
		}
		if (!held) {
			b->job = 0;
			atomic_store(&b->lost, 1);
			kill(getpid(), SIGUSR2);
		}
	}
	pthread_mutex_unlock(&b->lock);
	store_close(st);
	error_clear();
	return NULL;
}

/* The worker holds `job` now (NULL: none). */
static void beat_hold(struct beat *b, const struct job *job, const char *host,
    int64_t lease_ms)
{
	if (!b->started) {
		pthread_mutex_init(&b->lock, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&b->cond, &ca);
		pthread_condattr_destroy(&ca);
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL,
			.sigev_signo = SIGUSR2 };
		b->timer_ok = timer_create(CLOCK_MONOTONIC, &ev, &b->timer) == 0;
		if (pthread_create(&b->thread, NULL, beat_main, b) != 0) {
			log_line("worker: cannot start the heartbeat: the job's "
			    "lease is not renewed");
			return;
		}
		b->started = 1;
	}
	pthread_mutex_lock(&b->lock);
	free(b->host);
	b->host = job ? xstrdup(host) : NULL;
	b->job = job ? job->id : 0;
	b->attempt = job ? job->attempt : 0;
	b->lease_ms = lease_ms;
	atomic_store(&b->lost, 0);
	atomic_store(&b->full, 0);
	atomic_store(&b->last_ok, mono_ms());
	atomic_store(&b->lease, job ? lease_ms : 0);
	beat_arm(b, job ? lease_ms * 2 / 3 : 0);
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

/* The worker's side: lost by the thread's word, or by the timer's. */
static int beat_lost(struct beat *b)
{
	if (!atomic_load(&b->lost) && !beat_overdue(b))
		return 0;
	pthread_mutex_lock(&b->lock);
	b->job = 0;
	atomic_store(&b->lost, 1);
	atomic_store(&b->lease, 0);
	pthread_mutex_unlock(&b->lock);
	return 1;
}

static void beat_stop(struct beat *b)
{
	if (!b->started)
		return;
	pthread_mutex_lock(&b->lock);
	b->quit = 1;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	if (b->timer_ok)
		timer_delete(b->timer);
	b->timer_ok = 0;
	free(b->host);
	b->host = NULL;
	b->started = 0;
}

/*
 * Edits to runner.yml take effect for the next job (or notification): a
 * stat each time, a parse only when the file changed. A file with a
 * mistake gives the configuration the daemon last loaded.
 */
static void reload_config(const char *home, struct conf_watch *cw)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE);
	struct stat st;
	struct config *c = NULL;
	char *why = NULL;

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
	/* a mistake gives the configuration the daemon last loaded: the
	 * daemon said so, once, and status shows it */
	if (config_load_kept(home, &c, &why) < 0) {
		log_line("warning: %s; %s", error_last(), cw->conf ? "keeping "
		    "the configuration loaded before" : "waiting until it is "
		    "fixed");
	} else {
		if (cw->conf && !why)
			log_line("reloaded %s", path);
		config_free(cw->conf);
		cw->conf = c;
	}
	free(why);
	free(path);
}

/*
 * Open the store runner.yml names, as this process loads it (`cw`); one
 * that does not load names it by its `store:` alone. *url (caller frees)
 * is that `store:`, for the connections of other threads.
 */
static int open_store(const char *home, struct conf_watch *cw,
    struct store **out, char **url)
{
	int error;

	*url = NULL;
	reload_config(home, cw);
	if (cw->conf)
		*url = cw->conf->store ? xstrdup(cw->conf->store) : NULL;
	else if ((error = config_store_url(home, url)) < 0)
		return error;
	return store_open(home, *url, STORE_RELAXED, out);
}

/* Why the job held ends: the store cannot be written, its disk being
 * full. Caller frees. */
static char *disk_full(struct wstate *ws)
{
	if (store_is_sqlite(ws->store))
		return xasprintf("the runner's disk is full (home '%s'): the "
		    "job's lease could not be renewed", ws->home);
	return xasprintf("the store's disk is full (%s): the job's lease "
	    "could not be renewed", store_location(ws->store));
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
		} else if (si.ssi_signo == SIGHUP) {
			log_reopen(NULL);	/* the log file rotated */
		} else if (si.ssi_signo == SIGUSR1 && ws->job &&
		    store_cancel_requested(ws->store, ws->job) > 0) {
			ev = STAGE_EV_CANCEL;
		} else if (si.ssi_signo == SIGUSR2 && ws->job &&
		    atomic_load(&ws->beat.full) && !ws->ctx->fail) {
			ws->ctx->fail = disk_full(ws);
			log_line("job #%lld: %s; its stage is killed, its workspace "
			    "removed, and it ends failed", (long long)ws->job,
			    ws->ctx->fail);
			ev = STAGE_EV_CANCEL;
		} else if (si.ssi_signo == SIGUSR2 && ws->job &&
		    beat_lost(&ws->beat)) {
			log_line("job #%lld: this worker lost its lease; stopping "
			    "it (it runs again elsewhere)", (long long)ws->job);
			/* and writing nothing more of it, the lease not yet over
			 * in the store either: it ends there, and the job runs
			 * again, not ends canceled */
			store_fence(ws->store, ws->job, -1, getpid(), NULL);
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

/*
 * The build user of `conf` (slot < 0), or the one worker `slot` runs its
 * build stages as (build_user-SLOT), when the daemon runs as root and
 * does not trust repositories; looked up again only when its name
 * changes. NULL with *missing set (to the name, which the caller frees)
 * when it cannot be found.
 */
static const struct run_user *build_user(const struct config *conf,
    int slot, struct run_user *cache, char **missing)
{
	char *name;

	if (geteuid() != 0 || conf->trust_repositories)
		return NULL;
	name = slot < 0 ? xstrdup(conf->build_user) :
	    home_worker_user(conf->build_user, slot);
	if (cache->name && !strcmp(cache->name, name)) {
		free(name);
		return cache;
	}
	run_user_release(cache);
	if ((slot < 0 ? run_user_lookup(name, cache) :
	    home_worker_lookup(conf->build_user, slot, cache)) < 0 ||
	    cache->uid == 0) {
		run_user_release(cache);
		if (!*missing)
			*missing = name;
		else
			free(name);
		return NULL;
	}
	free(name);
	return cache;
}

/* runner.yml's max_running of `repo`: its own, else the server's; else
 * the store's default (all workers but one, when there is another
 * repository): -1 when runner.yml names another one, 0 to let the store
 * look. */
static int64_t max_running(const char *repo, void *arg)
{
	const struct config *c = arg;
	int64_t v = config_repo(c, repo)->max_running;

	if (v || (v = c->max_running))
		return v;
	for (size_t i = 0; i < c->nrepos; i++)
		if (strcmp(c->repos[i].path, repo))
			return -1;
	return 0;
}

int worker_main(const char *home, int wake_r, pid_t parent, int slot)
{
	struct run_user user = { 0 }, own = { 0 };
	char *missing = NULL;
	int said = 0, status = 0;
	struct wstate ws = { .wake_r = wake_r, .home = home,
	    .beat = { .home = home } };
	char *host = NULL;
	/* idle_exit counts from here: the start, or the end of the last
	 * job; a wake-up that finds nothing to claim does not move it */
	int64_t busy_at = mono_ms();
	struct job_ctx ctx = {
		.home = home, .on_event = worker_event,
		.arg = &ws, .stopping = &ws.stopping, .slot = slot,
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
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigdelset(&mask, SIGCHLD);
	ws.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (open_store(home, &ws.cw, &ws.store, &ws.beat.url) < 0) {
		log_line("worker: %s", error_last());
		free(ws.beat.url);
		config_free(ws.cw.conf);
		return 1;
	}
	ctx.store = ws.store;
	ctx.event_fd = ws.sigfd;
	ws.ctx = &ctx;
	if (store_sync_behind(ws.store) < 0)
		log_line("worker: %s", error_last());
	store_cache_small(ws.store);
	checkout_global_init();
	build_purge_workspaces(home);	/* what a killed worker left */
	{	/* a home made before builds were signed gets its key now */
		int made = 0;
		if (prov_key_make(home, &made) < 0)
			log_line("worker: provenance key: %s (its builds will fail "
			    "until it is fixed)", error_last());
		else if (made)
			log_line("made the provenance key %s/%s (publish %s/%s)",
			    home, PROV_KEY_FILE, home, PROV_PUB_FILE);
		error_clear();
	}

	while (!ws.stopping) {
		struct job *job = NULL;
		reload_config(home, &ws.cw);
		if (!ws.cw.conf) {
			/* runner.yml broke after the daemon started, and this
			 * worker is new: it waits until the file is fixed */
			struct pollfd p = { ws.sigfd, POLLIN, 0 };
			if (poll(&p, 1, 1000) > 0)
				worker_event(&ws);
			continue;
		}
		ctx.conf = ws.cw.conf;
		free(missing);
		missing = NULL;
		ctx.user = build_user(ctx.conf, -1, &user, &missing);
		ctx.build_user = build_user(ctx.conf, slot < 0 ? 0 : slot, &own,
		    &missing);
		free(host);
		host = config_host_name(ctx.conf);
		char *labels = config_host_labels(ctx.conf);
		struct claim_share share = { max_running, (void *)ctx.conf };
		int rc = missing ? -1 : store_claim(ws.store, getpid(), host,
		    labels, ctx.conf->host.lease_ms, ctx.conf->supersede,
		    ctx.conf->host.builds ? CLAIM_ANY : CLAIM_DEPLOYS, &share,
		    &job);
		free(labels);
		if (missing && !said++)
			log_line("worker: build user '%s' is gone: no job runs "
			    "until it is back (runner init creates it)", missing);
		else if (!missing)
			said = 0;

		if (rc == 0) {
			log_line("job #%lld: started (%s %.7s, attempt %d)",
			    (long long)job->id, job->ref, job->commit,
			    job->attempt);
			ws.job = job->id;
			store_fence(ws.store, job->id, job->attempt, getpid(),
			    host);
			beat_hold(&ws.beat, job, host, ctx.conf->host.lease_ms);
			int64_t t0 = mono_ms();
			if (run_job(&ctx, job) < 0)
				log_line("job #%lld: cannot record: %s",
				    (long long)job->id, error_last());
			beat_hold(&ws.beat, NULL, NULL, 0);
			store_fence(ws.store, 0, 0, 0, NULL);
			ws.job = 0;
			free(ctx.fail);
			ctx.fail = NULL;
			/* how it ended: as recorded (a build says), else the
			 * store's record */
			struct job *done = NULL;
			const char *e = ctx.ended_error;
			enum job_state end = ctx.ended_state;
			int known = ctx.ended;
			if (!known && store_job_get(ws.store, job->id,
			    &done) == 0 && done) {
				e = done->error;
				end = done->state;
				known = 1;
			}
			if (known)
				log_line("job #%lld: %s in %lldms%s%s",
				    (long long)job->id, job_state_name(end),
				    (long long)(mono_ms() - t0), e ? ": " : "",
				    e ? e : "");
			job_free(done);
			ctx.ended = 0;
			free(ctx.ended_error);
			ctx.ended_error = NULL;
			job_free(job);
			wake_send(home, WAKE_NOTIFY);	/* its event is recorded */
			busy_at = mono_ms();
			continue;
		}
		/* the store's disk failed a write (its thread's, told at the
		 * next claim): nothing more is recorded or run here, and the
		 * supervisor stops the daemon on this status */
		if (store_failed(ws.store) < 0) {
			log_line("worker: %s", error_last());
			status = STORE_EXIT_DISK;
			break;
		}
		struct pollfd pfd[2] = {
			{ ws.sigfd, POLLIN, 0 }, { wake_r, POLLIN, 0 },
		};
		int64_t idle = ctx.conf->idle_exit_ms;
		if (rc != ERR_NOTFOUND && !missing)
			log_line("worker: cannot claim a job: %s", error_last());
		else if (build_workspaces_discarded())
			build_purge_workspaces(home);	/* nothing else to do */
		/* After a store error, try again in a second; with nothing to
		 * do for idle_exit since the last job, leave: the supervisor
		 * starts a worker again when work comes. */
		int wait = rc != ERR_NOTFOUND ? 1000 : -1;
		int64_t left = busy_at + idle - mono_ms();
		if (rc == ERR_NOTFOUND && idle > 0) {
			if (left <= 0)
				break;
			wait = left < INT32_MAX ? (int)left : INT32_MAX;
		}
		int n = poll(pfd, 2, wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && rc == ERR_NOTFOUND && idle > 0 &&
		    mono_ms() >= busy_at + idle)
			break;
		if (pfd[0].revents)
			worker_event(&ws);
		if (pfd[1].revents)
			drain_fd(wake_r);
	}
	beat_stop(&ws.beat);
	if (status == 0 && store_settle(ws.store) < 0) {  /* its last ones */
		log_line("worker: %s", error_last());
		status = STORE_EXIT_DISK;
	}
	store_close(ws.store);
	free(ws.beat.url);
	config_free(ws.cw.conf);
	free(host);
	run_user_release(&user);
	run_user_release(&own);
	free(missing);
	close(ws.sigfd);
	return status;
}

/* ---- the notifier ---- */

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
		else if (si.ssi_signo == SIGHUP)
			log_reopen(NULL);
	return ns->stopping;
}

static void log_attempt(const struct notification *x)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "notification #%lld (job #%lld %s) to '%s': %s",
	    (long long)x->id, (long long)x->job_id, x->event, x->target,
	    notif_state_name(x->state));
	if (x->state == NOTIF_PENDING) {
		sbuf_adds(&sb, ", next attempt in ");
		format_duration(&sb, x->next_ms - now_ms());
	}
	if (x->error)
		sbuf_addf(&sb, ": %s", x->error);
	log_line("%s", sb.buf);
	sbuf_release(&sb);
}

/*
 * Routes the events workers record and delivers their notifications, one
 * at a time, away from the workers: a slow or dead endpoint never holds up
 * a stage. Woken by the supervisor when a job ends; otherwise it sleeps
 * until the next retry is due.
 */
int notifier_main(const char *home, int wake_r, pid_t parent, int slot)
{
	int status = 0;
	const struct config *conf = NULL;
	struct nstate ns = { 0 };
	struct conf_watch cw = { 0 };
	struct store *st = NULL;
	char *url = NULL;
	/* idle_exit counts from the last event routed or notification
	 * pending, not from the last wake-up */
	int64_t busy_at = mono_ms();
	/* after a batch that started a notes writer, the next not before
	 * (held: a wake-up came meanwhile) */
	int64_t route_at = 0;
	int held = 0;
	sigset_t mask;

	(void)slot;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		return 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ns.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (open_store(home, &cw, &st, &url) < 0) {
		log_line("notifier: %s", error_last());
		free(url);
		config_free(cw.conf);
		return 1;
	}
	free(url);
	store_cache_small(st);
	while (!notifier_stopping(&ns)) {
		struct notification *x = NULL;
		int64_t wait = -1;
		int rc, writers = 0;

		reload_config(home, &cw);
		if (!cw.conf) {
			struct pollfd p = { ns.sigfd, POLLIN, 0 };
			poll(&p, 1, 1000);
			continue;
		}
		conf = cw.conf;
		if (held && mono_ms() < route_at) {
			;	/* the events wait for the next batch */
		} else if ((rc = notify_route(st, home, conf, &writers)) < 0 &&
		    store_failed(st) < 0) {
			/* the store's disk failed a write: nothing is told
			 * of what may be lost, and the daemon stops */
			log_line("notifier: %s", error_last());
			status = STORE_EXIT_DISK;
			break;
		} else if (rc < 0) {
			log_line("notifier: cannot route events: %s", error_last());
			/* tried again in a second: a batch held would be due
			 * at once, again and again, while the store is gone */
			held = 0;
			wait = 1000;
		} else {
			if (rc > 0 || writers)
				busy_at = mono_ms();
			if (writers)
				route_at = mono_ms() + NOTES_BATCH_MS;
			held = 0;
			writers = 0;
		}
		int64_t now = now_ms();
		if ((rc = store_notif_take(st, now, now + NOTIFY_TAKEN_MS,
		    &x)) == 0) {
			busy_at = mono_ms();
			if (notify_attempt(st, conf, x, notifier_stopping, &ns) < 0)
				log_line("notifier: cannot record a delivery: %s",
				    error_last());
			else if (!ns.stopping)
				log_attempt(x);
			notif_free(x);
			continue;
		}
		/* none due: when the next one is (or when the one another
		 * notifier sends is free again) */
		if (rc == ERR_NOTFOUND && (rc = store_notif_next(st, &x)) == 0)
			busy_at = mono_ms();
		if (rc == 0 && (wait < 0 || x->next_ms - now_ms() < wait))
			wait = x->next_ms - now_ms();
		else if (rc < 0 && rc != ERR_NOTFOUND) {
			log_line("notifier: %s", error_last());
			wait = 1000;
		}
		notif_free(x);
		struct pollfd pfd[2] = {
			{ ns.sigfd, POLLIN, 0 }, { wake_r, POLLIN, 0 },
		};
		/* events held for the next batch: routed when it is due,
		 * without a look at the store for each wake-up meanwhile */
		if (held && (wait < 0 || route_at - mono_ms() < wait))
			wait = route_at - mono_ms() > 0 ? route_at - mono_ms() : 0;
		/* nothing pending at all: leave after idle_exit; the
		 * supervisor starts the notifier again for the next event */
		int idle = wait < 0 && conf->idle_exit_ms > 0;
		if (idle && (wait = busy_at + conf->idle_exit_ms - mono_ms()) <= 0)
			break;
		int n = poll(pfd, held ? 1 : 2, wait > 3600000 ? 3600000 :
		    (int)wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && idle && mono_ms() >= busy_at + conf->idle_exit_ms)
			break;
		if (!held && pfd[1].revents) {
			drain_fd(wake_r);
			held = mono_ms() < route_at;
		}
	}
	store_close(st);
	config_free(cw.conf);
	close(ns.sigfd);
	return status;
}

