/*
 * The checks of a deployment: that its endpoint is served by the
 * environment, its HTTP checks, each refused where it would reach what
 * it must not, and the verification after it (the error rate of its
 * checks over a window).
 */
#include "deploy_int.h"
#include "artifact.h"
#include "check.h"
#include "config.h"
#include "pipeline.h"
#include "run.h"
#include "step.h"
#include "envs.h"
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
int deploy_endpoint_check(struct deploy *d, int *ok)
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
			    deploy_service_alive(&v[k]) &&
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
			rc = deploy_record_step(d, "check listener", 0, why, text, started);
			free(text);
		}
		deploy_set_outcome(d, JOB_FAILED, why);
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
		if (attempt && deploy_wait_ms(d, 500))
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
		rc = deploy_record_step(d, name, *ok, *ok ? NULL : err.buf, text.buf,
		    started);
		free(name);
		sbuf_release(&text);
	}
	if (!*ok)
		deploy_set_outcome(d, JOB_FAILED, xasprintf("check %s failed: %s", c->http,
		    err.buf));
	sbuf_release(&err);
	free(url);
	return rc;
}

/* All checks of the environment for `release`, in order; stops at the
 * first failure. */
int deploy_run_checks(struct deploy *d, const char *ws,
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
			rc = deploy_run_cmd(d, name, c->run, ws, release, c->timeout_ms, 0,
			    &err);
			free(name);
			if (err) {
				*ok = 0;
				deploy_set_outcome(d, JOB_FAILED, err);
			}
		}
		if (rc < 0)
			return rc;
	}
	if (*ok)
		rc = deploy_endpoint_check(d, ok);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The verification window: poll the http checks, then judge. */
int deploy_verify(struct deploy *d, int *ok)
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
		if (left > 0 && deploy_wait_ms(d, left))
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
	rc = deploy_record_step(d, "verify", *ok, why, text.buf, started);
	if (rc == 0)
		rc = store_deploy_resolve(d->ctx->store, d->job);
	if (why)
		deploy_set_outcome(d, JOB_FAILED, why);
	free(lat);
	sbuf_release(&text);
	sbuf_release(&fig);
	return rc;
}
