/*
 * One deployment, start to end. A deployment that must not happen ends
 * 'rejected' and touches nothing; one that happened ends 'healthy',
 * 'failed' or 'rolled_back', and the environment's record says which
 * release serves now.
 */
#include "deploy.h"
#include "artifact.h"
#include "check.h"
#include "checkout.h"
#include "config.h"
#include "manifest.h"
#include "pipeline.h"
#include "run.h"
#include "step.h"
#include "store.h"
#include "envs.h"
#include "audit.h"
#include "tagsig.h"
#include "util.h"
#include "json.h"
#include "peer.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct deploy {
	struct job_ctx *ctx;
	struct job *job;
	char *repo;		/* where this host reads the repository */
	const struct repo_conf *rc;
	struct pipeline *pl;
	const struct env_def *env;
	struct job *source;	/* the build deployed */
	struct job *prev;	/* the release serving before, if any */
	char *ws;
	char *tmp;
	char *state_dir;	/* the environment's own, kept across releases */
	/* HOME/backups/REPO/ENV/ID: where this deployment's backup command
	 * saves the data of the release serving before it */
	char *backup_dir;
	/* the backup a restore puts back: the one taken when the release
	 * being returned to stopped serving; NULL if there is none */
	char *restore_dir;
	struct run_user grant_user;	/* runner.yml's user for it, if any */
	const struct run_user *user;	/* who runs its commands */
	enum job_state state;	/* the outcome; JOB_RUNNING: none yet */
	char *error;
	char *host;		/* this host's name, for its services */
	int answered;		/* an http check of it got its answer */
	/* said in the log of the next command: the services ended */
	struct sbuf ended;
};

/* Record the outcome and its reason (taken over); the first one stands. */
static void set_outcome(struct deploy *d, enum job_state state, char *error)
{
	if (d->state != JOB_RUNNING) {
		free(error);
		return;
	}
	d->state = state;
	d->error = error;
}

static void reject(struct deploy *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reject(struct deploy *d, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	set_outcome(d, JOB_REJECTED, sbuf_detach(&sb));
}

/*
 * Wait `ms` between check attempts or verification rounds, watching the
 * worker's events: a cancel ends the deployment 'canceled', the daemon
 * stopping ends it 'interrupted', at once. Returns 0 after the whole
 * wait, 1 when the deployment was ended so.
 */
static int wait_ms(struct deploy *d, int64_t ms)
{
	struct job_ctx *ctx = d->ctx;
	int64_t end = mono_ms() + ms;

	for (;;) {
		enum stage_event ev = STAGE_EV_NONE;
		int64_t left = end - mono_ms();
		struct pollfd p = { ctx->event_fd, POLLIN, 0 };

		if (ctx->stopping && *ctx->stopping)
			ev = STAGE_EV_SHUTDOWN;
		else if (left <= 0)
			return 0;
		else if (poll(&p, ctx->event_fd >= 0, (int)left) > 0 &&
		    ctx->on_event)
			ev = ctx->on_event(ctx->arg);
		if (ev == STAGE_EV_CANCEL) {
			set_outcome(d, JOB_CANCELED, xstrdup("canceled while the "
			    "deployment waited for its checks"));
			return 1;
		}
		if (ev == STAGE_EV_SHUTDOWN) {
			set_outcome(d, JOB_INTERRUPTED, xstrdup("the daemon stopped "
			    "while the deployment waited for its checks"));
			return 1;
		}
	}
}

/* A step that is not a command (gates, verification): a stage row with a
 * log holding `text`, started at `started` (ms; 0: now). */
static int record_step(struct deploy *d, const char *name, int ok,
    const char *error, const char *text, int64_t started)
{
	struct store *st = d->ctx->store;
	char *log;
	int idx, rc;

	if ((rc = store_stage_count(st, d->job->id, &idx)) < 0)
		return rc;
	log = job_log_path(d->ctx->home, d->job->id, idx, name);
	write_file_atomic(log, text, strlen(text), 0644);
	if ((rc = store_stage_add(st, d->job->id, idx, name, log)) == 0 &&
	    (rc = job_ship_log(d->ctx, d->job->id, idx, log)) == 0 &&
	    (rc = store_stage_start(st, d->job->id, idx, 0, started)) == 0)
		rc = store_stage_end(st, d->job->id, idx, ok ? STEP_PASSED :
		    STEP_FAILED, -1, error);
	free(log);
	return rc;
}

static int on_services(void *arg, pid_t init, uint64_t pidns);

/*
 * Run a command of the environment in workspace `ws` for `release`, with
 * the RUNNER_ variables of a deployment. Deploy, backup and restore may
 * leave services running (detached into their own session); checks may
 * not.
 */
static int run_cmd(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, int64_t timeout_ms,
    int keep_detached, char **err)
{
	char id[32], *prev_dir = NULL;
	const struct env_grant *g = config_env(d->ctx->conf, d->env->name);
	const char *ro[4] = { release->release_dir, NULL, NULL, NULL };
	const char **rw = xcalloc(3 + (g ? g->npaths : 0), sizeof(*rw));
	struct job_step st = {
		.name = name, .what = name, .script = script, .cwd = ws,
		.secrets = d->env->secrets,
		.timeout_ms = timeout_ms, .keep_detached = keep_detached,
		.env_name = d->env->name, .ro = ro, .rw = rw, .user = d->user,
		.isolate = config_isolate(d->ctx->conf, d->job->repo),
		.network = 1,
		.on_services = keep_detached ? on_services : NULL,
		.services_arg = d,
		.preamble = keep_detached && d->ended.len ? d->ended.buf : NULL,
	};
	char *envv[11] = { 0 };
	int n = 0, rc;

	/* its own release (and the one before, for a rollback) read-only;
	 * its state folder and what runner.yml grants it writable */
	rw[0] = d->state_dir;
	rw[1] = d->backup_dir;
	for (size_t i = 0; g && i < g->npaths; i++)
		rw[i + 2] = g->paths[i];

	snprintf(id, sizeof(id), "%lld", (long long)release->id);
	envv[n++] = xasprintf("RUNNER_ENV=%s", d->env->name);
	envv[n++] = xasprintf("RUNNER_RELEASE_DIR=%s", release->release_dir);
	envv[n++] = xasprintf("RUNNER_RELEASE_ID=%s", id);
	envv[n++] = xasprintf("RUNNER_URL=%s", d->env->url ? d->env->url : "");
	envv[n++] = xasprintf("RUNNER_DEPLOY_COMMIT=%s", release->commit);
	if (release->tag)
		envv[n++] = xasprintf("RUNNER_TAG=%s", release->tag);
	if (d->prev && d->prev != release && d->prev->release_dir)
		prev_dir = d->prev->release_dir;
	envv[n++] = xasprintf("RUNNER_PREVIOUS_RELEASE_DIR=%s",
	    prev_dir ? prev_dir : "");
	envv[n++] = xasprintf("RUNNER_STATE_DIR=%s", d->state_dir);
	envv[n++] = xasprintf("RUNNER_BACKUP_DIR=%s", d->backup_dir);
	envv[n++] = xasprintf("RUNNER_RESTORE_DIR=%s", d->restore_dir ?
	    d->restore_dir : "");
	/* the release before (a rollback's) and the backup to restore,
	 * read-only */
	int nro = 1;
	if (prev_dir)
		ro[nro++] = prev_dir;
	if (d->restore_dir)
		ro[nro++] = d->restore_dir;
	st.env = envv;
	rc = job_step(d->ctx, d->job, &st, err);
	if (keep_detached)
		sbuf_reset(&d->ended);
	for (int i = 0; i < n; i++)
		free(envv[i]);
	free(rw);
	return rc;
}

static int command(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, char **err)
{
	return run_cmd(d, name, script, ws, release, d->env->timeout_ms, 1, err);
}

/* A command's pid namespace is up: record its init, whose end ends all
 * the command leaves running in it. */
static int on_services(void *arg, pid_t init, uint64_t pidns)
{
	struct deploy *d = arg;
	struct service svc = { .host = d->host, .pid = init, .pidns = pidns,
	    .job = d->job->id };

	if (proc_started(init, &svc.started) < 0)
		return 0;	/* gone already: nothing stays */
	return store_service_add(d->ctx->store, d->job->repo, d->job->env, &svc);
}

/* Is recorded service `svc` still the process it was? */
static int service_alive(const struct service *svc)
{
	int64_t started;
	uint64_t ns;

	return proc_started((pid_t)svc->pid, &started) == 0 &&
	    started == svc->started && (proc_pidns((pid_t)svc->pid, &ns) < 0 ||
	    ns == svc->pidns);
}

/* How long the end of a service's namespace is waited for. */
#define SERVICE_END_MS 10000

/* End service `svc`: SIGKILL its namespace's init, which takes all in
 * the namespace with it, and wait for it. 0 (ended, or gone), or -1 with
 * why. */
static int service_end(const struct service *svc)
{
	int fd = pidfd_open((pid_t)svc->pid, 0), rc = 0;

	if (fd < 0)
		return 0;
	/* the pidfd holds this process: checked after it is opened, the
	 * signal cannot reach a later one with its pid */
	if (!service_alive(svc)) {
		close(fd);
		return 0;
	}
	if (pidfd_send_signal(fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		rc = error_set(-1, "cannot end pid %lld: %s",
		    (long long)svc->pid, strerror(errno));
	else {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t until = mono_ms() + SERVICE_END_MS;
		int n;
		while ((n = poll(&p, 1, (int)(until - mono_ms()))) < 0 &&
		    errno == EINTR && mono_ms() < until)
			;
		if (n <= 0)
			rc = error_set(-1, "pid %lld did not end within %ds",
			    (long long)svc->pid, SERVICE_END_MS / 1000);
	}
	close(fd);
	return rc;
}

/*
 * End what the environment's earlier commands left running on this
 * host, before its next deploy command: nothing a deployment started
 * outlives the one that replaces it. What runs on another host is left
 * to that host's next deployment. Said in d->ended, for the log of the
 * command that follows. Returns 0, or a negative code when the store
 * failed; *why (caller frees) says which service could not be ended.
 */
static int end_services(struct deploy *d, char **why)
{
	struct service *v = NULL;
	size_t n = 0;
	int rc;

	*why = NULL;
	if ((rc = store_services(d->ctx->store, d->job->repo, d->job->env, &v,
	    &n)) < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(v[i].host, d->host))
			continue;
		int alive = service_alive(&v[i]);
		if (alive && service_end(&v[i]) < 0) {
			*why = xasprintf("cannot end the services deployment "
			    "#%lld left running: %s", (long long)v[i].job,
			    error_last());
			break;
		}
		if (alive)
			sbuf_addf(&d->ended, "[runner: ended the services "
			    "deployment #%lld left running (pid %lld and all in "
			    "its namespace)]\n", (long long)v[i].job,
			    (long long)v[i].pid);
		rc = store_service_del(d->ctx->store, d->job->repo, d->job->env,
		    &v[i]);
	}
	services_free(v, n);
	return rc;
}

/* The name of user `uid`, or its number. Caller frees. */
static char *user_name(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		return xstrdup(res->pw_name);
	return xasprintf("uid %u", (unsigned)uid);
}

/*
 * Before its checks count: is the environment's url, when it is on this
 * machine, served by the environment? Every socket listening on its port
 * (on the url's address or a wildcard one) must be held by a process in
 * a namespace this repository's deployments of the environment started
 * (recorded, still running, on this host), or belong to a user
 * runner.yml's serve_users names for it. A user alone never counts
 * otherwise: release_user and the build users run every repository's
 * commands. Nothing listening, once a check was answered, does not pass
 * either: the answer came from someone who left. A foreign listener
 * fails the deployment, named. Only the processes of the environment's
 * own namespaces are searched for a holder; naming a foreign one's is
 * bounded in time.
 */
#define ENDPOINT_MAX 16
#define HOLDER_BUDGET_MS 2000
static int endpoint_check(struct deploy *d, int *ok)
{
	const struct env_grant *g = config_env(d->ctx->conf, d->job->env);
	const char *url = g && g->url ? g->url : d->env->url;
	struct listener l[ENDPOINT_MAX];
	struct service *v = NULL;
	size_t nv = 0;
	char *host = NULL, *why = NULL;
	long port;
	int n, rc = 0;
	int64_t started = now_ms();

	if (!url || url_host_port(url, &host, &port) < 0 || port <= 0 ||
	    port > 65535 || peer_host_local(host) != 1) {
		free(host);
		return 0;
	}
	/* a repository runner.yml lets run unconfined starts its services
	 * on the host, where no namespace of its is recorded: trusted */
	if (!job_confined(d->ctx, config_isolate(d->ctx->conf, d->job->repo)))
		goto out;
	if ((n = peer_listeners(host, (unsigned)port, l, ENDPOINT_MAX)) < 0 ||
	    (rc = store_services(d->ctx->store, d->job->repo, d->job->env, &v,
	    &nv)) < 0)
		goto out;
	if (n == 0 && d->answered)
		why = xasprintf("nothing listens on port %ld of this machine, "
		    "though the checks of environment '%s' were answered there: "
		    "who answered is gone", port, d->job->env);
	else if (n > ENDPOINT_MAX)
		why = xasprintf("%d sockets listen on port %ld of this machine, "
		    "more than the %d whose owners the runner looks at", n,
		    port, ENDPOINT_MAX);
	for (int i = 0; i < n && !why; i++) {
		int owned = 0;
		for (size_t k = 0; g && k < g->nserve_users && !owned; k++) {
			struct passwd pw, *res = NULL;
			char buf[1024];
			owned = getpwnam_r(g->serve_users[k], &pw, buf, sizeof(buf),
			    &res) == 0 && res && pw.pw_uid == l[i].uid;
		}
		for (size_t k = 0; k < nv && !owned; k++)
			owned = !strcmp(v[k].host, d->host) &&
			    service_alive(&v[k]) &&
			    peer_ns_holder(v[k].pidns, l[i].inode) > 0;
		if (owned)
			continue;
		pid_t holder = peer_holder(l[i].uid, l[i].inode,
		    HOLDER_BUDGET_MS);
		char *who = user_name(l[i].uid), *pid = holder > 0 ?
		    xasprintf("pid %d", (int)holder) : xstrdup("pid unknown");
		why = xasprintf("port %ld (%s) is served by %s, %s, not by "
		    "environment '%s' (the services its deployments started%s)",
		    port, l[i].addr, who, pid, d->job->env, g &&
		    g->nserve_users ? ", or runner.yml's serve_users" : "");
		free(who);
		free(pid);
	}
	if (why) {
		struct check_rec rec = { .name = "listener", .ok = 0,
		    .error = why };
		*ok = 0;
		if ((rc = store_check_add(d->ctx->store, d->job->id, &rec)) == 0) {
			char *text = xasprintf("%s\n", why);
			rc = record_step(d, "check listener", 0, why, text, started);
			free(text);
		}
		set_outcome(d, JOB_FAILED, why);
	}
out:
	services_free(v, nv);
	free(host);
	return rc;
}

/* Is HOST:PORT `hp` the same as `host` and `port`? */
static int same_host_port(const char *hp, const char *host, long port)
{
	const char *colon = strrchr(hp, ':');
	size_t n = colon ? (size_t)(colon - hp) : 0;

	if (!colon || strtol(colon + 1, NULL, 10) != port)
		return 0;
	if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']') {
		hp++;
		n -= 2;
	}
	return n == strlen(host) && !strncasecmp(hp, host, n);
}

/*
 * May the pipeline's http check of `url` be made? The pipeline is the
 * repository's, and the request is the worker's: it may reach only the
 * environment's own url (its host and port) and what runner.yml's
 * check_hosts adds, never the web page's port, so that a push cannot use
 * checks to probe the services of this machine. NULL, or why not (the
 * caller frees it).
 */
static char *check_refused(struct deploy *d, const char *url)
{
	const struct env_grant *g = config_env(d->ctx->conf, d->env->name);
	const char *listen = d->ctx->conf->http.listen;
	char *host = NULL, *own = NULL, *why = NULL;
	long port, own_port = 0;

	if (url_host_port(url, &host, &port) < 0)
		return xstrdup(error_last());
	if (listen && strrchr(listen, ':')) {
		/* the web page: on this machine by name, or on any name when
		 * it listens on every address */
		const char *colon = strrchr(listen, ':');
		const char *lh = listen;
		size_t ln = (size_t)(colon - listen);
		if (ln >= 2 && lh[0] == '[' && lh[ln - 1] == ']') {
			lh++;
			ln -= 2;
		}
		char *lhost = xstrndup(lh, ln);
		int any = !*lhost || host_is_local(lhost) ||
		    !strcmp(lhost, "[::]") || !strcmp(lhost, "*");
		int here = any || host_is_local(host) ||
		    same_host_port(listen, host, port);
		free(lhost);
		if (strtol(colon + 1, NULL, 10) == port && here) {
			why = xasprintf("refused: port %ld is the runner's web "
			    "page, which checks never reach", port);
			goto out;
		}
	}
	/* runner.yml's url, when it pins one, else the pipeline's */
	const char *own_url = g && g->url ? g->url : d->env->url;
	if (own_url && url_host_port(own_url, &own, &own_port) == 0 &&
	    !strcmp(own, host) && own_port == port)
		goto out;
	for (size_t i = 0; g && i < g->ncheck_hosts; i++)
		if (same_host_port(g->check_hosts[i], host, port))
			goto out;
	if (own)
		why = xasprintf("refused: the http checks of environment '%s' "
		    "reach only its url's host and port (%s:%ld%s), and what "
		    "runner.yml's 'check_hosts' of the environment allows",
		    d->env->name, own, own_port, g && g->url ? ", pinned by "
		    "runner.yml" : "");
	else
		why = xasprintf("refused: environment '%s' has no url, and "
		    "runner.yml's 'check_hosts' of the environment does not "
		    "name %s:%ld", d->env->name, host, port);
out:
	free(host);
	free(own);
	return why;
}

/* An HTTP check with its retries; records the last attempt. */
static int http_check(struct deploy *d, const struct check_def *c, int *ok)
{
	char *url = url_join(d->env->url, c->http);
	struct check_rec rec = { .name = c->http };
	struct http_result r = { 0 };
	struct sbuf err = SBUF_INIT;
	char *refused = check_refused(d, url);
	int rc;

	int64_t started = now_ms();

	*ok = 0;
	if (refused)
		sbuf_addf(&err, "GET %s: %s", url, refused);
	free(refused);
	for (long attempt = 0; !err.len && attempt <= c->retries; attempt++) {
		if (attempt && wait_ms(d, 500))
			break;
		sbuf_reset(&err);
		if (http_get(url, c->max_latency_ms + 5000, &r) < 0) {
			sbuf_addf(&err, "GET %s: %s", url, r.error);
			continue;
		}
		if (r.status != c->expect) {
			sbuf_addf(&err, "GET %s: status %ld, expected %ld", url,
			    r.status, c->expect);
			continue;
		}
		if (r.latency_ms > c->max_latency_ms) {
			sbuf_addf(&err, "GET %s: %lldms, more than %lldms", url,
			    (long long)r.latency_ms, (long long)c->max_latency_ms);
			continue;
		}
		*ok = 1;
		d->answered = 1;
		break;
	}
	rec.status = (int)r.status;
	rec.latency_ms = r.latency_ms;
	rec.ok = *ok;
	rec.error = *ok ? NULL : err.buf;
	rc = store_check_add(d->ctx->store, d->job->id, &rec);
	if (rc == 0) {
		struct sbuf text = SBUF_INIT;
		sbuf_addf(&text, "GET %s\nstatus %ld, %lldms\n%s%s", url,
		    r.status, (long long)r.latency_ms, *ok ? "ok" : err.buf,
		    "\n");
		char *name = xasprintf("check %s", c->http);
		rc = record_step(d, name, *ok, *ok ? NULL : err.buf, text.buf,
		    started);
		free(name);
		sbuf_release(&text);
	}
	if (!*ok)
		set_outcome(d, JOB_FAILED, xasprintf("check %s failed: %s", c->http,
		    err.buf));
	sbuf_release(&err);
	free(url);
	return rc;
}

/* All checks of the environment for `release`, in order; stops at the
 * first failure. */
static int run_checks(struct deploy *d, const char *ws,
    const struct job *release, int *ok)
{
	int rc = 0;

	*ok = 1;
	for (size_t i = 0; i < d->env->nchecks && *ok; i++) {
		const struct check_def *c = &d->env->checks[i];
		if (c->http) {
			rc = http_check(d, c, ok);
		} else {
			char *err = NULL;
			char *name = xasprintf("check %.*s", (int)strcspn(c->run,
			    " \n"), c->run);
			rc = run_cmd(d, name, c->run, ws, release, c->timeout_ms, 0,
			    &err);
			free(name);
			if (err) {
				*ok = 0;
				set_outcome(d, JOB_FAILED, err);
			}
		}
		if (rc < 0)
			return rc;
	}
	if (*ok)
		rc = endpoint_check(d, ok);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The verification window: poll the http checks, then judge. */
static int verify(struct deploy *d, int *ok)
{
	const struct verify_def *v = &d->env->verify;
	int64_t end = mono_ms() + v->window_ms, *lat = NULL, started = now_ms();
	size_t n = 0, errors = 0;
	struct sbuf text = SBUF_INIT, fig = SBUF_INIT;
	struct json w;
	int rc;

	while (mono_ms() < end || n == 0) {
		int64_t round = mono_ms();
		for (size_t i = 0; i < d->env->nchecks; i++) {
			const struct check_def *c = &d->env->checks[i];
			struct http_result r;
			if (!c->http)
				continue;
			char *url = url_join(d->env->url, c->http);
			char *refused = check_refused(d, url);
			/* the checks before refused it already, and failed */
			if (refused) {
				free(refused);
				free(url);
				continue;
			}
			int got = http_get(url, v->max_latency_ms + 5000, &r) == 0;
			int bad = !got || r.status != c->expect;
			lat = xrealloc(lat, (n + 1) * sizeof(*lat));
			lat[n++] = got ? r.latency_ms : v->max_latency_ms + 5000;
			errors += bad;
			if (bad)
				sbuf_addf(&text, "GET %s: %s\n", url, got ?
				    "unexpected status" : r.error);
			free(url);
		}
		int64_t left = v->interval_ms - (mono_ms() - round);
		if (mono_ms() + left >= end)
			break;
		if (left > 0 && wait_ms(d, left))
			break;
	}
	int64_t p95 = 0;
	if (lat) {	/* NULL without a request (n 0) */
		qsort(lat, n, sizeof(*lat), cmp_i64);
		size_t k = (size_t)ceil(0.95 * (double)n);
		p95 = lat[k ? k - 1 : 0];
	}
	double rate = n ? (double)errors / (double)n : 1;
	*ok = rate <= v->max_error_rate && p95 <= v->max_latency_ms;
	json_init(&w, &fig);
	json_obj(&w, NULL);
	json_int(&w, "window_ms", v->window_ms);
	json_int(&w, "requests", (int64_t)n);
	json_int(&w, "errors", (int64_t)errors);
	json_double(&w, "error_rate", rate);
	json_int(&w, "p95_ms", p95);
	json_double(&w, "max_error_rate", v->max_error_rate);
	json_int(&w, "max_latency_ms", v->max_latency_ms);
	json_bool(&w, "ok", *ok);
	json_end(&w);
	free(d->job->figures);
	d->job->figures = xstrdup(fig.buf);
	sbuf_addf(&text, "%zu requests, %zu errors (%.3f%%, at most %.3f%%), "
	    "p95 %lldms (at most %lldms)\n", n, errors, rate * 100,
	    v->max_error_rate * 100, (long long)p95,
	    (long long)v->max_latency_ms);
	char *why = *ok ? NULL : xasprintf("verification failed: error rate "
	    "%.3f%% (at most %.3f%%), p95 %lldms (at most %lldms) over %zu "
	    "requests", rate * 100, v->max_error_rate * 100, (long long)p95,
	    (long long)v->max_latency_ms, n);
	rc = record_step(d, "verify", *ok, why, text.buf, started);
	if (rc == 0)
		rc = store_deploy_resolve(d->ctx->store, d->job);
	if (why)
		set_outcome(d, JOB_FAILED, why);
	free(lat);
	sbuf_release(&text);
	sbuf_release(&fig);
	return rc;
}

/*
 * Make the release folder `dir`, HOME/releases/ENV/ID, closed (0700): its
 * files are written and sealed (release_seal) before anyone but the
 * runner may enter it, so nobody can open one of them for writing in
 * between. HOME/releases/ENV is passed through by the environment's user
 * (0711, whatever the daemon's umask). Both are the runner's, in folders
 * only it can write.
 */
static int release_folder(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char *parent = xstrndup(dir, (size_t)(slash - dir));
	int pfd = -1, fd = -1, rc = 0;

	if ((rc = mkdir_p(parent, 0711)) < 0)
		goto out;
	if ((pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fchmod(pfd, 0711) < 0) {
		rc = error_set(-1, "cannot make '%s': %s", parent,
		    strerror(errno));
		goto out;
	}
	if ((mkdirat(pfd, slash + 1, 0700) < 0 && errno != EEXIST) ||
	    (fd = openat(pfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fchmod(fd, 0700) < 0)
		rc = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot make "
		    "'%s': %s", dir, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(parent);
	return rc;
}

/*
 * Extract the artifact of `build` into `rel`'s release folder, read-only to the
 * environment's user, and store its manifest; records the step. Returns
 * 0, 1 when it failed (*why says why; the caller frees it), or a negative
 * code when the store failed.
 */
static int extract_release(struct deploy *d, const struct job *build,
    const struct job *rel, char **why)
{
	const struct artifact_rec *a = &build->artifacts[0];
	struct sbuf manifest = SBUF_INIT;
	int rc = 0;
	char *text, *local = NULL;

	*why = NULL;
	rm_rf(rel->release_dir);
	if (release_folder(rel->release_dir) < 0) {
		*why = xasprintf("release: %s", error_last());
		rc = record_step(d, "extract", 0, *why, *why, 0);
		return rc < 0 ? rc : 1;
	}
	/* the very bytes the build recorded, or nothing */
	if (artifact_local(d->ctx->store, d->ctx->home, build->id, a->path,
	    a->sha256, &local) < 0 ||
	    artifact_extract(local, rel->release_dir, a->sha256) < 0 ||
	    release_seal(rel->release_dir, d->user ? d->user->gid :
	    (gid_t)-1, &manifest) < 0) {
		*why = xasprintf("release: %s", error_last());
		rc = record_step(d, "extract", 0, *why, *why, 0);
		rc = rc < 0 ? rc : 1;
		goto out;
	}
	if ((rc = store_manifest_set(d->ctx->store, rel->id, manifest.buf)) < 0)
		goto out;
	text = xasprintf("extracted %s (sha256 %s) into %s, read-only; %zu "
	    "files in its manifest\n", a->path, a->sha256, rel->release_dir,
	    manifest_count(manifest.buf));
	rc = record_step(d, "extract", 1, NULL, text, 0);
	free(text);
out:
	free(local);
	sbuf_release(&manifest);
	return rc;
}

/* Where a release's files are extracted. */
static char *release_dir(const struct deploy *d)
{
	return xasprintf("%s/releases/%s/%lld", d->ctx->home, d->env->name,
	    (long long)d->job->id);
}

/* The pipeline of `commit`, and a checkout of it at `ws`. */
static int prepare(struct deploy *d, const char *commit, const char *ws,
    struct pipeline **pl)
{
	struct source *src = NULL;
	int error;

	if ((error = source_open(d->repo, commit, &src)) < 0 ||
	    (error = source_pipeline(src, pl)) < 0)
		goto out;
	rm_rf(ws);
	error = source_checkout(src, ws);
out:
	source_free(src);
	return error;
}

/* The gates: the pre-deployment checklist of the environment. */
static void gates(struct deploy *d, const char *ws)
{
	const struct env_def *e = d->env;
	struct sbuf text = SBUF_INIT;
	char *why = NULL;

	for (size_t i = 0; i < e->nrequire_env && !why; i++)
		if (!config_secret(d->ctx->conf, e->require_env[i]))
			why = xasprintf("gate require_env: '%s' is not set in "
			    "runner.yml (secrets)", e->require_env[i]);
	if (!why && e->require_changelog) {
		struct sbuf log = SBUF_INIT;
		char *path = xasprintf("%s/%s", ws, e->require_changelog);
		const char *tag = d->job->tag;
		if (!tag)
			why = xasprintf("gate require_changelog: needs a release "
			    "tag to know the version");
		else if (read_file(path, 16 * 1024 * 1024, &log) < 0)
			why = xasprintf("gate require_changelog: no '%s' at commit "
			    "%.7s", e->require_changelog, d->job->commit);
		else if (!strstr(log.buf, tag) && !(tag[0] == 'v' &&
		    strstr(log.buf, tag + 1)))
			why = xasprintf("gate require_changelog: '%s' does not "
			    "mention %s", e->require_changelog, tag);
		sbuf_release(&log);
		free(path);
	}
	if (!why && e->require_tls_days) {
		long days = 0;
		if (tls_days_left(e->url, &days) < 0)
			why = xasprintf("gate require_tls_days: %s", error_last());
		else if (days < e->require_tls_days)
			why = xasprintf("gate require_tls_days: the certificate of "
			    "%s expires in %ld days, less than %ld", e->url, days,
			    e->require_tls_days);
		else
			sbuf_addf(&text, "certificate valid %ld more days\n", days);
	}
	if (!e->nrequire_env && !e->require_changelog && !e->require_tls_days)
		return;
	sbuf_adds(&text, why ? why : "all gates passed");
	sbuf_addch(&text, '\n');
	record_step(d, "gates", !why, why, text.buf, 0);
	if (why)
		reject(d, "%s", why);
	free(why);
	sbuf_release(&text);
}

/* ", passed over: #3, #5 (...)" for the builds of `commit` that had
 * variables, when a release may not take them. */
static void passed_over(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *commit, struct sbuf *sb)
{
	int64_t *ids = NULL;
	size_t n = 0;

	if (rc->release_variables ||
	    store_builds_with_variables(st, repo, commit, &ids, &n) < 0 || !n)
		goto out;
	sbuf_adds(sb, "; passed over, for their push variables (runner.yml "
	    "release_variables):");
	for (size_t i = 0; i < n; i++)
		sbuf_addf(sb, "%s #%lld", i ? "," : "", (long long)ids[i]);
out:
	free(ids);
}

/*
 * Release tags only go forward. Refused: a tag name that has pointed at
 * another object; a tag object first pushed before the release now
 * serving `env` was queued (an abandoned release, brought back); a tag
 * signed before the serving one, whether or not the runner saw it pushed
 * (a tag made before the runner watched the repository, deleted and
 * pushed again: the tagger's date is part of what was signed). Going back
 * is 'runner rollback', by a person, recorded. NULL, or why (the caller
 * frees it).
 */
static char *tag_goes_back(struct store *st, const char *repo,
    const char *env, const struct release_tag *t, int64_t except)
{
	struct env_rec *e = NULL;
	const struct job *cur;
	int64_t moved, seen, serving_at = 0;
	char *why = NULL;

	if ((moved = store_tag_moved(st, repo, t->name, t->object)) < 0)
		return xasprintf("cannot check that tag '%s' never moved: %s",
		    t->name, error_last());
	if (moved)
		return xasprintf("tag '%s' pointed at another object before "
		    "(release #%lld); a release tag is never moved: tag a new "
		    "version", t->name, (long long)moved);
	if (store_env_get(st, repo, env, &e) < 0 || !e || !(cur = e->current) ||
	    cur->id == except)
		goto out;
	seen = store_tag_first_seen(st, repo, t->object);
	if (seen < 0)
		why = xasprintf("cannot check when tag '%s' was first pushed: "
		    "%s", t->name, error_last());
	else if (seen && seen < cur->created_ms)
		why = xasprintf("tag '%s' was first pushed before release #%lld, "
		    "which serves %s now, was queued; releases only go forward "
		    "(going back is 'runner rollback %s')", t->name,
		    (long long)e->release, env, env);
	/* a serving tag whose object is gone cannot be compared */
	else if (t->tagged_at && cur->tag_object && t->gitdir &&
	    tag_time(t->gitdir, cur->tag_object, &serving_at) == 0 &&
	    t->tagged_at < serving_at)
		why = xasprintf("tag '%s' was signed before '%s', which serves "
		    "%s now (release #%lld); releases only go forward (going "
		    "back is 'runner rollback %s')", t->name, cur->tag ?
		    cur->tag : "?", env, (long long)e->release, env);
out:
	env_rec_free(e);
	error_clear();
	return why;
}

char *release_refusal(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *env, const struct release_tag *t,
    int64_t except, int64_t *build, char **choice)
{
	const char *tag = t->name, *tag_object = t->object, *commit = t->commit;
	int vars = rc->release_variables, staging = !strcmp(env, "staging");
	struct sbuf sb = SBUF_INIT;
	char *why;
	struct job *dep = NULL;
	int64_t other, staged;

	*build = 0;
	if (choice)
		*choice = NULL;
	if ((other = store_tag_deployed(st, repo, tag, tag_object, except)) < 0)
		return xasprintf("cannot check that tag '%s' was not deployed "
		    "before: %s", tag, error_last());
	if (other)
		return xasprintf("tag '%s' was already deployed by deployment "
		    "#%lld; a release tag deploys once", tag, (long long)other);
	if ((why = tag_goes_back(st, repo, env, t, except)))
		return why;
	if ((other = store_passed_build(st, repo, commit, 1)) < 0)
		return xasprintf("cannot look for a passed build of commit "
		    "%.7s: %s", commit, error_last());
	if (!other)
		return xasprintf("commit %.7s of tag '%s' has no passed build with "
		    "an artifact (push it to a branch that builds first)", commit,
		    tag);
	/* the build the release process verified: the newest one staging
	 * was healthy with; a rebuild by another push with variables never
	 * stands in for it */
	staged = staging ? 0 : store_staged_build(st, repo, commit, vars);
	if (staged < 0)
		return xasprintf("cannot look for a staging deployment of commit "
		    "%.7s: %s", commit, error_last());
	if (staged && store_job_get(st, staged, &dep) == 0 && dep->source_job) {
		*build = dep->source_job;
		sbuf_addf(&sb, "build #%lld: its staging deployment #%lld was "
		    "healthy, the newest of commit %.7s", (long long)*build,
		    (long long)staged, commit);
	} else if (rc->require_staging && !staging) {
		int64_t any = store_healthy_deploy(st, repo, "staging", commit);
		sbuf_addf(&sb, "commit %.7s of tag '%s' has no healthy staging "
		    "deployment%s (require_staging)", commit, tag, any > 0 ?
		    " of a build without push variables" : "");
		passed_over(st, rc, repo, commit, &sb);
		job_free(dep);
		return sbuf_detach(&sb);
	} else if ((*build = store_passed_build(st, repo, commit, vars)) < 0) {
		*build = 0;
		job_free(dep);
		sbuf_release(&sb);
		return xasprintf("cannot look for a passed build of commit "
		    "%.7s: %s", commit, error_last());
	} else if (*build) {
		sbuf_addf(&sb, "build #%lld: the newest passed build of commit "
		    "%.7s%s", (long long)*build, commit, staging ? "" :
		    " (require_staging: false)");
	} else {
		sbuf_addf(&sb, "commit %.7s of tag '%s' has no passed build with "
		    "an artifact and without push variables (push it to a branch "
		    "that builds first)", commit, tag);
		passed_over(st, rc, repo, commit, &sb);
		job_free(dep);
		return sbuf_detach(&sb);
	}
	job_free(dep);
	passed_over(st, rc, repo, commit, &sb);
	if (choice)
		*choice = sbuf_detach(&sb);
	sbuf_release(&sb);
	return NULL;
}

/* Where the release comes from; rejects what may not be deployed. */
static void resolve(struct deploy *d)
{
	struct job *job = d->job;
	struct store *st = d->ctx->store;
	struct tag_info ti;
	int64_t src_id = job->source_job;
	char *why;

	if (job->tag) {
		if (tag_verify(d->repo, NULL, job->tag, job->commit, d->rc,
		    d->tmp, &ti) < 0) {
			reject(d, "%s", error_last());
			return;
		}
		/* the key that signed it, for the audit trail */
		free(job->signer);
		job->signer = tag_info_signer(&ti);
		if (store_job_signer(st, job->id, job->signer) < 0)
			log_line("warning: job #%lld: %s", (long long)job->id,
			    error_last());
		free(job->tag_object);
		job->tag_object = job->commit;
		job->commit = ti.commit;
		ti.commit = NULL;
		free(job->notes);
		job->notes = ti.message;
		ti.message = NULL;
		const struct release_tag rt = { job->tag, job->tag_object,
		    job->commit, ti.tagged_at, d->repo };
		tag_info_release(&ti);
		char *choice = NULL;
		if ((why = release_refusal(st, d->rc, job->repo, job->env, &rt,
		    job->id, &src_id, &choice))) {
			set_outcome(d, JOB_REJECTED, why);
			return;
		}
		/* which build, and why: shown by runner show as a step */
		char *text = xasprintf("%s\n", choice);
		record_step(d, "release build", 1, NULL, text, 0);
		log_line("job #%lld: release %s signed by %s deploys %s",
		    (long long)job->id, job->tag, job->signer, choice);
		free(text);
		free(choice);
	}
	if (job->rollback_to) {
		struct job *r = NULL;
		if (store_job_get(st, job->rollback_to, &r) < 0 || !r->release_dir ||
		    strcmp(r->env ? r->env : "", job->env)) {
			reject(d, "release #%lld is not a release of '%s'",
			    (long long)job->rollback_to, job->env);
			job_free(r);
			return;
		}
		free(job->commit);
		job->commit = xstrdup(r->commit);
		free(job->release_dir);
		job->release_dir = xstrdup(r->release_dir);
		src_id = r->source_job;
		job_free(r);
	}
	job->source_job = src_id;
	if (!src_id || store_job_get(st, src_id, &d->source) < 0 ||
	    !d->source->nartifacts) {
		reject(d, "no passed build with an artifact to deploy");
		return;
	}
	if (d->source->state != JOB_PASSED)
		reject(d, "build #%lld is %s, not passed", (long long)src_id,
		    job_state_name(d->source->state));
}

/*
 * Roll back to d->prev, the release that served before. When it ran to
 * its checks it records the outcome, rolled_back (*recorded = 1); when it
 * could not, it only adds why to d->error. Returns 0, or a negative code
 * when the store failed.
 */
static int rollback(struct deploy *d, int *recorded)
{
	struct pipeline *ppl = NULL;
	const struct env_def *penv;
	char *pws = xasprintf("%s-previous", d->ws), *err = NULL;
	const struct env_def *cur = d->env;
	int ok, rc = 0;

	*recorded = 0;
	if ((rc = store_job_phase(d->ctx->store, d->job->id, "rollback")) < 0)
		return rc;
	struct job *src = NULL;
	char *bad = NULL;
	if (prepare(d, d->prev->commit, pws, &ppl) < 0 ||
	    !(penv = pipeline_env(ppl, d->env->name)) ||
	    job_give(pws, d->user) < 0 ||
	    store_job_get(d->ctx->store, d->prev->source_job, &src) < 0 ||
	    (!src->nartifacts && error_set(ERR_NOTFOUND, "build #%lld has no "
	    "artifact", (long long)src->id)) ||
	    (rc = extract_release(d, src, d->prev, &bad))) {
		/* the previous release is extracted again from its archive:
		 * files changed since it served are not deployed again */
		char *why = xasprintf("%s; rollback to release #%lld impossible: %s",
		    d->error, (long long)d->prev->id, bad ? bad : error_last());
		free(d->error);
		d->error = why;
		free(bad);
		job_free(src);
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	job_free(src);
	/* The previous release's own deploy command and checks. */
	d->env = penv;
	char *name = xasprintf("rollback to #%lld", (long long)d->prev->id);
	/* what the failed deployment left running ends first */
	rc = end_services(d, &err);
	if (rc == 0 && !err)
		rc = command(d, name, penv->deploy, pws, d->prev, &err);
	free(name);
	if (rc == 0 && !err && cur->restore) {
		/* the data as the previous release left it: this deployment's
		 * own backup, taken before it deployed */
		free(d->restore_dir);
		d->restore_dir = xstrdup(d->backup_dir);
		rc = command(d, "restore", cur->restore, d->ws, d->prev, &err);
	}
	d->env = cur;
	if (rc < 0)
		goto out;
	if (err) {
		char *why = xasprintf("%s; the rollback failed too: %s", d->error,
		    err);
		free(d->error);
		d->error = why;
		goto out;
	}
	/* The outcome is decided (set_outcome keeps it); the checks only
	 * tell whether the environment is healthy again. */
	d->env = penv;
	rc = run_checks(d, pws, d->prev, &ok);
	d->env = cur;
	if (rc < 0)
		goto out;
	rc = store_deploy_end(d->ctx->store, d->job, JOB_ROLLED_BACK, d->error,
	    ok ? ENV_HEALTHY : ENV_FAILED, d->prev->id);
	*recorded = rc == 0;
out:
	if (!d->ctx->conf->keep_workspaces)
		rm_rf(pws);
	free(pws);
	free(err);
	pipeline_free(ppl);
	return rc;
}

/* Who runs the environment's commands (only when the daemon switches
 * users): runner.yml's user for it, else the release user for an
 * environment that needs a signed tag, else the build user. */
static int env_user(struct deploy *d)
{
	const struct config *c = d->ctx->conf;
	const struct env_grant *g = config_env(c, d->job->env);
	const char *name = g && g->user ? g->user :
	    config_env_signed(c, d->job->env) ? c->release_user : NULL;

	if (!name || !d->ctx->user)
		return 0;
	if (run_user_lookup(name, &d->grant_user) < 0)
		return error_set(ERR_INVALID, "environment '%s': %s (runner.yml "
		    "%s)", d->job->env, error_last(), g && g->user ?
		    "environments: user" : "release_user");
	if (d->grant_user.uid == 0 || d->grant_user.uid == geteuid())
		return error_set(ERR_INVALID, "environment '%s': user '%s' is "
		    "root or the runner's own user; its commands run as a user "
		    "of their own", d->job->env, name);
	d->user = &d->grant_user;
	return 0;
}

/*
 * The name of a repository's folders under HOME/state and HOME/backups:
 * its last path component without ".git", then 16 hex digits of the
 * sha256 of its whole path, so that two repositories named alike in
 * different folders never share one (their commands would read and write
 * each other's state).
 */
static char *repo_folder(const char *repo)
{
	char *base = repo_base_name(repo), *out;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[17];

	EVP_Digest(repo, strlen(repo), md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	out = xasprintf("%s-%s", base, hex);
	free(base);
	return out;
}

/*
 * Homes of runner 0.1 named the folders after the last path component
 * alone. Such a folder moves to its repository's own name when no other
 * repository with that component has had a deployment (it can only be
 * this one's); otherwise whose it was is unknown, and it stays for the
 * operator (`runner doctor` names it).
 */
static void adopt_old_folder(struct deploy *d, const char *kind,
			     const char *name)
{
	char *base = repo_base_name(d->job->repo);
	char *old, *new;
	char **v;
	size_t n, same = 0;
	struct stat st;

	old = xasprintf("%s/%s/%s", d->ctx->home, kind, base);
	new = xasprintf("%s/%s/%s", d->ctx->home, kind, name);
	if (lstat(old, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    lstat(new, &st) == 0 ||
	    store_repos(d->ctx->store, 1, &v, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char *b = repo_base_name(v[i]);
		same += !strcmp(b, base);
		free(b);
	}
	strv_free_n(v, n);
	if (same == 1 && rename(old, new) == 0)
		log_line("moved %s to %s (its repository's own name)", old,
		    new);
out:
	free(base);
	free(old);
	free(new);
}

/* One folder of a path under the home that own_dirs() makes: its mode,
 * whether an existing one is given that mode again (the daemon's umask
 * takes the search bits away), and whether it is given to the user of
 * the environment's commands. */
struct dir_step {
	const char *name;
	mode_t mode;
	int fix_mode;
	int give;
};

/*
 * Make or open the folders of `steps` under the home, each from its
 * parent's descriptor and never through a link (O_NOFOLLOW|O_DIRECTORY),
 * and change mode and owner on the descriptor. A folder that exists in
 * a folder another user can write (this environment's backups, which
 * its user owns) must be a folder of the runner's or of that user: a
 * link, or anything else that user put at the name, is refused, and
 * nothing is changed through it. The path made is in *path.
 */
static int own_dirs(struct deploy *d, const struct dir_step *steps,
    size_t n, char **path)
{
	const struct run_user *u = d->user;
	struct sbuf p = SBUF_INIT;
	struct stat up, st;
	int fd = -1, rc = 0;

	sbuf_adds(&p, d->ctx->home);
	if ((fd = open(p.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &up) < 0) {
		rc = error_set(-1, "cannot open '%s': %s", p.buf, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct dir_step *s = &steps[i];
		int made, next;

		sbuf_addf(&p, "/%s", s->name);
		made = mkdirat(fd, s->name, s->mode) == 0;
		if (!made && errno != EEXIST) {
			rc = error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot "
			    "create '%s': %s", p.buf, strerror(errno));
			goto out;
		}
		next = openat(fd, s->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0) {
			int e = errno;
			rc = error_set(-1, fstatat(fd, s->name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) ?
			    "'%s' is a symbolic link: refused, nothing was changed "
			    "through it (remove it)" : "cannot open '%s' as a "
			    "folder: %s", p.buf, strerror(e));
			goto out;
		}
		close(fd);
		fd = next;
		if (fstat(fd, &st) < 0) {
			rc = error_set(-1, "cannot read '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		/* who else could have put it there: the parent's owner, or
		 * anyone its mode lets write */
		if (!made && (up.st_uid != geteuid() || (up.st_mode & 022)) &&
		    st.st_uid != geteuid() && !(u && st.st_uid == u->uid)) {
			rc = error_set(-1, "'%s' belongs to uid %d, neither the "
			    "runner's nor the environment's user: refused",
			    p.buf, (int)st.st_uid);
			goto out;
		}
		if ((made || s->fix_mode) && fchmod(fd, s->mode) < 0) {
			rc = error_set(-1, "cannot set the mode of '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		if (s->give && u && fchown(fd, u->uid, u->gid) < 0) {
			rc = error_set(-1, "cannot give '%s' to user '%s': %s", p.buf,
			    u->name, strerror(errno));
			goto out;
		}
		if (s->give && u && fstat(fd, &st) < 0) {
			rc = error_set(-1, "cannot read '%s': %s", p.buf,
			    strerror(errno));
			goto out;
		}
		up = st;
	}
	*path = sbuf_detach(&p);
out:
	if (fd >= 0)
		close(fd);
	sbuf_release(&p);
	return rc;
}

/* The environment's state folder, kept across deployments, owned by the
 * user of its commands: HOME/state/REPO/ENV; and beside it the folder of
 * this deployment's backup, HOME/backups/REPO/ENV/ID. The folders above
 * them are the runner's, mode 0711: the user passes through them. */
static int state_dir(struct deploy *d)
{
	char *name = repo_folder(d->job->repo);
	char id[32];
	int rc;

	adopt_old_folder(d, "state", name);
	adopt_old_folder(d, "backups", name);
	snprintf(id, sizeof(id), "%lld", (long long)d->job->id);
	const struct dir_step state[] = {
		{ "state", 0711, 0, 0 },
		{ name, 0711, 1, 0 },
		{ d->env->name, 0700, 0, 1 },
	};
	const struct dir_step backup[] = {
		{ "backups", 0711, 0, 0 },
		{ name, 0711, 1, 0 },
		{ d->env->name, 0711, 1, 1 },
		{ id, 0700, 0, 1 },
	};
	rc = own_dirs(d, state, sizeof(state) / sizeof(*state), &d->state_dir);
	if (rc == 0)
		rc = own_dirs(d, backup, sizeof(backup) / sizeof(*backup),
		    &d->backup_dir);
	free(name);
	return rc;
}

/*
 * The steps of a deployment, in order. Each returns 0 (having set the
 * outcome with set_outcome() or reject() when the deployment must stop)
 * or a negative code when the store failed. A step that stops the
 * deployment before `touches` is set has changed nothing the environment
 * serves: its record stays as it was. From the first step that touches
 * it on, a failure is the environment's (recorded failed) and rolls back
 * to the release that served before, when there is one.
 */
static int step_setup(struct deploy *d)
{
	if (job_logs_dir(d->ctx, d->job) < 0 || mkdir_p(d->tmp, 0700) < 0)
		set_outcome(d, JOB_FAILED, xstrdup(error_last()));
	else if (env_user(d) < 0)
		reject(d, "%s", error_last());
	return 0;
}

static int step_resolve(struct deploy *d)
{
	resolve(d);
	return 0;
}

/* The commit's pipeline, its environment, and whether it needs a tag. */
static int step_pipeline(struct deploy *d)
{
	struct job *job = d->job;

	if (prepare(d, job->commit, d->ws, &d->pl) < 0) {
		set_outcome(d, JOB_REJECTED, xasprintf("commit %.7s: %s",
		    job->commit, error_last()));
		return 0;
	}
	if (!(d->env = pipeline_env(d->pl, job->env))) {
		reject(d, "no environment '%s' in .runner.yml of commit %.7s",
		    job->env, job->commit);
		return 0;
	}
	if ((d->env->signed_tag || config_env_signed(d->ctx->conf, job->env)) &&
	    !job->tag && !job->forced_by && !job->rollback_to)
		reject(d, "environment '%s' requires a signed release tag (or "
		    "'runner deploy --force')", job->env);
	return 0;
}

static int step_gates(struct deploy *d)
{
	gates(d, d->ws);
	if (d->state == JOB_RUNNING && (job_give(d->ws, d->user) < 0 ||
	    state_dir(d) < 0))
		set_outcome(d, JOB_FAILED, xstrdup(error_last()));
	return 0;
}

/* What serves now (what a failure rolls back to), the release notes, the
 * release extracted, and the deployment recorded as under way. */
static int step_release(struct deploy *d)
{
	struct job *job = d->job;
	struct env_rec *er = NULL;
	struct source *src = NULL;
	char *why;
	int rc;

	if (store_env_get(d->ctx->store, job->repo, job->env, &er) == 0 &&
	    er->current && er->current->release_dir &&
	    er->current->id != job->id) {
		d->prev = er->current;
		er->current = NULL;
		job->previous = d->prev->id;
	}
	env_rec_free(er);
	if (job->tag || !strcmp(job->env, "production")) {
		struct sbuf notes = SBUF_INIT;
		if (job->notes && *job->notes)
			sbuf_addf(&notes, "%s\n\n", job->notes);
		release_notes(job->repo, d->prev ? d->prev->commit : NULL,
		    job->commit, d->prev ? 1000 : 20, &notes);
		free(job->notes);
		job->notes = sbuf_detach(&notes);
	}
	/* Every deployment, a rollback by hand too, extracts the very bytes
	 * the build recorded into a release of its own: files changed in an
	 * older release are never deployed again. */
	free(job->release_dir);
	job->release_dir = release_dir(d);
	if ((rc = extract_release(d, d->source, job, &why)) < 0)
		return rc;
	if (rc > 0) {
		set_outcome(d, JOB_FAILED, why);
		return 0;
	}
	if (source_open(d->repo, job->commit, &src) == 0) {
		free(job->subject);
		job->subject = xstrdup(source_subject(src));
	}
	source_free(src);
	if ((rc = store_deploy_resolve(d->ctx->store, job)) < 0)
		return rc;
	return store_env_deploying(d->ctx->store, job->repo, job->env, job->id);
}

/* Run the environment's command `name` (when it has one); a failure is
 * the outcome, `suffix` added to its reason. */
static int step_command(struct deploy *d, const char *name,
    const char *script, const char *suffix)
{
	char *err = NULL;
	int rc;

	if (!script)
		return 0;
	if ((rc = command(d, name, script, d->ws, d->job, &err)) < 0)
		return rc;
	if (err) {
		set_outcome(d, JOB_FAILED, xasprintf("%s%s", err, suffix));
		free(err);
	}
	return 0;
}

/* The backup folder of deployment `id` of this environment, if it holds
 * anything. Caller frees. */
static char *backup_dir_of(const struct deploy *d, int64_t id)
{
	char *dir = xstrdup(d->backup_dir);
	char *slash = strrchr(dir, '/');
	char *path;

	*slash = '\0';
	path = xasprintf("%s/%lld", dir, (long long)id);
	free(dir);
	if (access(path, X_OK) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* step_command(), once what the deployments (and commands) before left
 * running has ended; one that cannot be ended fails the deployment. */
static int step_command_alone(struct deploy *d, const char *name,
    const char *script, const char *suffix)
{
	char *why = NULL;
	int rc = end_services(d, &why);

	if (why)
		set_outcome(d, JOB_FAILED, why);
	if (rc < 0 || why)
		return rc;
	return step_command(d, name, script, suffix);
}

/* Every deployment, a rollback by hand too, backs up what serves before
 * it touches anything. What the deployments before left running ends
 * first, before any command of this one runs: a service that lived on
 * could otherwise keep every later deployment from its deploy step (by
 * breaking the backup) and outlive them all. A backup that needs a
 * service of the environment starts what it needs itself. */
static int step_backup(struct deploy *d)
{
	return step_command_alone(d, "backup", d->env->backup, "; nothing "
	    "was deployed");
}

/* What the backup left running ends first. */
static int step_deploy(struct deploy *d)
{
	return step_command_alone(d, "deploy", d->env->deploy, "");
}

/* A rollback by hand restores the backup taken when the release it
 * returns to stopped serving. */
static int step_restore(struct deploy *d)
{
	int64_t by;

	if (!d->job->rollback_to)
		return 0;
	if ((by = store_replaced_by(d->ctx->store, d->job->repo, d->job->env,
	    d->job->rollback_to)) < 0)
		return (int)by;
	if (by)
		d->restore_dir = backup_dir_of(d, by);
	return step_command(d, "restore", d->env->restore, "");
}

static int step_checks(struct deploy *d)
{
	int ok;

	return run_checks(d, d->ws, d->job, &ok);
}

static int step_verify(struct deploy *d)
{
	int ok;

	int rc = d->env->verify.set ? verify(d, &ok) : 0;

	/* and who serves it at the window's end */
	if (rc == 0 && d->env->verify.set && d->state == JOB_RUNNING)
		rc = endpoint_check(d, &ok);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(struct deploy *d);
	int touches;	/* the environment, from this step on */
} steps[] = {
	/* name: the phase `runner status` shows while it runs */
	{ "preparing", step_setup, 0 },
	{ "resolving", step_resolve, 0 },
	{ "checkout", step_pipeline, 0 },
	{ "gates", step_gates, 0 },
	{ "extract", step_release, 0 },
	{ "backup", step_backup, 0 },
	{ "deploy", step_deploy, 1 },
	{ "restore", step_restore, 1 },
	{ "checks", step_checks, 1 },
	{ "verify", step_verify, 1 },
};

int deploy_run(struct job_ctx *ctx, struct job *job)
{
	struct deploy d = { .ctx = ctx, .job = job, .state = JOB_RUNNING };
	int rc = 0, touched = 0;

	d.rc = config_repo(ctx->conf, job->repo);
	d.ws = job_workspace_path(ctx->home, job->id);
	d.tmp = xasprintf("%s/tmp", ctx->home);
	d.user = ctx->user;
	d.host = config_host_name(ctx->conf);
	d.ended = (struct sbuf)SBUF_INIT;
	{
		/* its environment's host, by label */
		const struct env_grant *g = job->env ?
		    config_env(ctx->conf, job->env) : NULL;
		if (g && job_hand_on(ctx, job, (const char *const *)g->runs_on,
		    g->nruns_on, "its environment's deployments run", &rc))
			goto out;
	}
	if (job_source(ctx, job, &d.repo) < 0)
		set_outcome(&d, JOB_FAILED, xasprintf("sources: %s",
		    error_last()));
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps) &&
	    d.state == JOB_RUNNING; i++) {
		touched = steps[i].touches;
		if ((rc = store_job_phase(ctx->store, job->id,
		    steps[i].name)) < 0 || (rc = steps[i].run(&d)) < 0)
			goto out;
	}
	if (d.state == JOB_RUNNING) {
		rc = store_deploy_end(ctx->store, job, JOB_HEALTHY, NULL,
		    ENV_HEALTHY, job->id);
	} else if (!touched) {
		/* Nothing was deployed: the environment's record stays. */
		if (!job->commit ||
		    (rc = store_deploy_resolve(ctx->store, job)) == 0)
			rc = store_deploy_end(ctx->store, job, d.state, d.error,
			    ENV_UNCHANGED, 0);
	} else {
		int recorded = 0;
		if (d.state == JOB_FAILED && d.prev && !job->rollback_to)
			rc = rollback(&d, &recorded);
		if (rc == 0 && !recorded)
			rc = store_deploy_end(ctx->store, job, d.state, d.error,
			    ENV_FAILED, 0);
	}
out:
	if (d.ws && !ctx->conf->keep_workspaces)
		rm_rf(d.ws);
	free(d.ws);
	free(d.repo);
	free(d.tmp);
	free(d.state_dir);
	free(d.backup_dir);
	free(d.restore_dir);
	free(d.host);
	sbuf_release(&d.ended);
	run_user_release(&d.grant_user);
	free(d.error);
	job_free(d.source);
	job_free(d.prev);
	pipeline_free(d.pl);
	return rc;
}
