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
	/* what a failed check got, for its page */
	rec.body = !*ok && r.body[0] ? r.body : NULL;
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The 95th percentile (nearest rank) of `n` values; sorts them. */
static int64_t p95_i64(int64_t *v, size_t n)
{
	size_t k = (size_t)ceil(0.95 * (double)n);

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	return v[k ? k - 1 : 0];
}

/*
 * A limit on CPU or memory over the window: the samples in a row above
 * it fail the deployment at VERIFY_OVER of them (a lone spike, a
 * start-up, is forgiven), or, in a window of fewer samples, when all
 * are above it.
 */
#define VERIFY_OVER 3
/* The most samples the figures keep for the chart: beyond, every
 * other is dropped and the stride doubles. */
#define SERIES_MAX 240

struct resource {
	double limit;		/* 0: none */
	double *v;		/* every sample */
	size_t n;
	size_t over;		/* above the limit in a row */
	int failed;
	double peak, p95;
};

static void resource_add(struct resource *r, double x)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = x;
	r->over = r->limit > 0 && x > r->limit ? r->over + 1 : 0;
	if (r->over >= VERIFY_OVER)
		r->failed = 1;
}

static void resource_end(struct resource *r)
{
	double *c;
	size_t k = (size_t)ceil(0.95 * (double)r->n);

	if (!r->n)
		return;
	if (r->over == r->n && r->limit > 0)
		r->failed = 1;
	c = xmalloc(r->n * sizeof(*c));
	memcpy(c, r->v, r->n * sizeof(*c));
	qsort(c, r->n, sizeof(*c), cmp_double);
	r->peak = c[r->n - 1];
	r->p95 = c[k ? k - 1 : 0];
	free(c);
}

/* One point of the chart: ms into the window, the p95 latency and the
 * error rate so far, CPU % and memory bytes (-1: not measured). */
struct point {
	int64_t t, p95;
	double rate, cpu;
	int64_t mem;
};

struct series {
	struct point *p;
	size_t n, stride, seen;
};

static void series_add(struct series *s, const struct point *pt)
{
	if (!s->stride)
		s->stride = 1;
	if (s->seen++ % s->stride)
		return;
	if (s->n == SERIES_MAX) {
		for (size_t i = 0; i < SERIES_MAX / 2; i++)
			s->p[i] = s->p[2 * i];
		s->n = SERIES_MAX / 2;
		s->stride *= 2;
		if ((s->seen - 1) % s->stride)
			return;
	}
	if (!s->p)
		s->p = xcalloc(SERIES_MAX, sizeof(*s->p));
	s->p[s->n++] = *pt;
}

static void json_number(struct json *w, const char *fmt, double x)
{
	char num[64];

	if (x < 0) {
		json_null(w, NULL);
		return;
	}
	snprintf(num, sizeof(num), fmt, x);
	json_raw(w, NULL, num);
}

/* The figures' "samples": one array per measure, of the same length. */
static void series_json(struct json *w, const struct series *s)
{
	json_obj(w, "samples");
	json_arr(w, "t_ms");
	for (size_t i = 0; i < s->n; i++)
		json_number(w, "%.0f", (double)s->p[i].t);
	json_end(w);
	json_arr(w, "p95_ms");
	for (size_t i = 0; i < s->n; i++)
		json_number(w, "%.0f", (double)s->p[i].p95);
	json_end(w);
	json_arr(w, "error_rate");
	for (size_t i = 0; i < s->n; i++)
		json_number(w, "%.4f", s->p[i].rate);
	json_end(w);
	json_arr(w, "cpu");
	for (size_t i = 0; i < s->n; i++)
		json_number(w, "%.1f", s->p[i].cpu);
	json_end(w);
	json_arr(w, "memory");
	for (size_t i = 0; i < s->n; i++)
		json_number(w, "%.0f", (double)s->p[i].mem);
	json_end(w);
	json_end(w);
}

/* A size for the log: "12.5 MB". */
static char *bytes(double n)
{
	struct sbuf sb = SBUF_INIT;

	format_bytes(&sb, (int64_t)n);
	return sbuf_detach(&sb);
}

/* The verification window: poll the http checks and sample the CPU and
 * memory every interval, then judge. */
int deploy_verify(struct deploy *d, int *ok)
{
	const struct verify_def *v = &d->env->verify;
	int64_t t0 = mono_ms(), end = t0 + v->window_ms, *lat = NULL;
	int64_t started = now_ms();
	size_t n = 0, errors = 0, nfail = 0;
	struct sbuf text = SBUF_INIT, fig = SBUF_INIT, why = SBUF_INIT;
	struct resource cpu = { .limit = v->max_cpu_pct }, mem = { 0 };
	struct series ser = { 0 };
	struct usage u;
	char *sample_err = NULL;
	double c;
	int64_t m;
	struct json w;
	int rc, measured;

	measured = usage_open(d, &u) == 0;
	if (!measured)
		sample_err = xstrdup(error_last());
	else if (usage_sample(&u, &c, &m) < 0)	/* CPU counts from here */
		sample_err = xstrdup(error_last());
	mem.limit = v->max_memory_bytes ? (double)v->max_memory_bytes :
	    v->max_memory_pct > 0 && measured ? v->max_memory_pct / 100 *
	    (double)u.mem_total : 0;
	if (measured)
		sbuf_addf(&text, "CPU and memory of %s\n", u.what);
	while (mono_ms() < end || n == 0) {
		int64_t round = mono_ms();
		for (size_t i = 0; i < d->env->nchecks; i++) {
			const struct check_def *ck = &d->env->checks[i];
			struct http_result r;
			if (!ck->http)
				continue;
			char *url = url_join(d->env->url, ck->http);
			char *refused = check_refused(d, url);
			/* the checks before refused it already, and failed */
			if (refused) {
				free(refused);
				free(url);
				continue;
			}
			int got = http_get(url, v->max_latency_ms + 5000, &r) == 0;
			int bad = !got || r.status != ck->expect;
			lat = xrealloc(lat, (n + 1) * sizeof(*lat));
			lat[n++] = got ? r.latency_ms : v->max_latency_ms + 5000;
			errors += bad;
			if (bad)
				sbuf_addf(&text, "GET %s: %s\n", url, got ?
				    "unexpected status" : r.error);
			free(url);
		}
		struct point pt = { .t = mono_ms() - t0, .cpu = -1, .mem = -1,
		    .rate = n ? (double)errors / (double)n : 0 };
		if (n) {
			int64_t *sorted = xmalloc(n * sizeof(*sorted));
			memcpy(sorted, lat, n * sizeof(*sorted));
			pt.p95 = p95_i64(sorted, n);
			free(sorted);
		}
		if (measured && usage_sample(&u, &c, &m) == 0) {
			if (c >= 0) {
				pt.cpu = c;
				resource_add(&cpu, c);
			}
			pt.mem = m;
			resource_add(&mem, (double)m);
		} else if (measured) {
			nfail++;
			free(sample_err);
			sample_err = xstrdup(error_last());
		}
		series_add(&ser, &pt);
		if (cpu.failed || mem.failed)
			break;
		int64_t left = v->interval_ms - (mono_ms() - round);
		if (mono_ms() + left >= end)
			break;
		if (left > 0 && deploy_wait_ms(d, left))
			break;
	}
	resource_end(&cpu);
	resource_end(&mem);
	int64_t p95 = p95_i64(lat, n);	/* lat NULL without a request */
	double rate = n ? (double)errors / (double)n : 1;
	*ok = rate <= v->max_error_rate && p95 <= v->max_latency_ms;
	if (!*ok)
		sbuf_addf(&why, "error rate %.3f%% (at most %.3f%%), p95 %lldms "
		    "(at most %lldms) over %zu requests", rate * 100,
		    v->max_error_rate * 100, (long long)p95,
		    (long long)v->max_latency_ms, n);
	if (cpu.failed) {
		*ok = 0;
		sbuf_addf(&why, "%sCPU %.1f%% above %g%% for %zu samples in a "
		    "row (peak %.1f%%, p95 %.1f%%) of %s", why.len ? "; " : "",
		    cpu.v[cpu.n - 1], cpu.limit, cpu.over, cpu.peak, cpu.p95,
		    u.what);
	}
	if (mem.failed) {
		char *a = bytes(mem.v[mem.n - 1]), *b = bytes(mem.limit);
		char *pk = bytes(mem.peak);
		*ok = 0;
		sbuf_addf(&why, "%smemory %s above %s for %zu samples in a row "
		    "(peak %s) of %s", why.len ? "; " : "", a, b, mem.over, pk,
		    u.what);
		free(a);
		free(b);
		free(pk);
	}
	if ((cpu.limit > 0 && !cpu.n) || (mem.limit > 0 && !mem.n) ||
	    (!measured && (v->max_cpu_pct > 0 || v->max_memory_pct > 0 ||
	    v->max_memory_bytes))) {
		*ok = 0;
		sbuf_addf(&why, "%sno sample of the CPU and memory: %s",
		    why.len ? "; " : "", sample_err ? sample_err : "none taken");
	}

	json_init(&w, &fig);
	json_obj(&w, NULL);
	json_int(&w, "window_ms", v->window_ms);
	json_int(&w, "requests", (int64_t)n);
	json_int(&w, "errors", (int64_t)errors);
	json_double(&w, "error_rate", rate);
	json_int(&w, "p95_ms", p95);
	json_double(&w, "max_error_rate", v->max_error_rate);
	json_int(&w, "max_latency_ms", v->max_latency_ms);
	if (measured)
		json_string(&w, "source", u.what);
	if (cpu.n || cpu.limit > 0) {
		json_obj(&w, "cpu");
		json_double(&w, "peak", cpu.peak);
		json_double(&w, "p95", cpu.p95);
		if (cpu.limit > 0)
			json_double(&w, "max", cpu.limit);
		json_int(&w, "samples", (int64_t)cpu.n);
		json_bool(&w, "ok", !cpu.failed);
		json_end(&w);
	}
	if (mem.n || mem.limit > 0) {
		json_obj(&w, "memory");
		json_int(&w, "peak", (int64_t)mem.peak);
		json_int(&w, "p95", (int64_t)mem.p95);
		if (mem.limit > 0)
			json_int(&w, "max", (int64_t)mem.limit);
		if (v->max_memory_pct > 0)
			json_double(&w, "max_pct", v->max_memory_pct);
		json_int(&w, "total", u.mem_total);
		json_int(&w, "samples", (int64_t)mem.n);
		json_bool(&w, "ok", !mem.failed);
		json_end(&w);
	}
	series_json(&w, &ser);
	json_bool(&w, "ok", *ok);
	json_end(&w);
	free(d->job->figures);
	d->job->figures = xstrdup(fig.buf);
	sbuf_addf(&text, "%zu requests, %zu errors (%.3f%%, at most %.3f%%), "
	    "p95 %lldms (at most %lldms)\n", n, errors, rate * 100,
	    v->max_error_rate * 100, (long long)p95,
	    (long long)v->max_latency_ms);
	if (cpu.n) {
		sbuf_addf(&text, "CPU: peak %.1f%%, p95 %.1f%%", cpu.peak, cpu.p95);
		if (cpu.limit > 0)
			sbuf_addf(&text, " (at most %g%%)", cpu.limit);
		sbuf_addf(&text, ", %zu samples\n", cpu.n);
	}
	if (mem.n) {
		char *a = bytes(mem.peak), *b = bytes(mem.p95);
		sbuf_addf(&text, "memory: peak %s, p95 %s", a, b);
		free(a);
		free(b);
		if (mem.limit > 0) {
			a = bytes(mem.limit);
			sbuf_addf(&text, " (at most %s)", a);
			free(a);
		}
		sbuf_addf(&text, ", %zu samples\n", mem.n);
	}
	if (nfail)
		sbuf_addf(&text, "%zu samples of the CPU and memory failed, the "
		    "last: %s\n", nfail, sample_err);
	char *reason = *ok ? NULL : xasprintf("verification failed: %s",
	    why.buf);
	rc = deploy_record_step(d, "verify", *ok, reason, text.buf, started);
	if (rc == 0)
		rc = store_deploy_resolve(d->ctx->store, d->job);
	if (reason)
		deploy_set_outcome(d, JOB_FAILED, reason);
	usage_release(&u);
	free(cpu.v);
	free(mem.v);
	free(ser.p);
	free(lat);
	free(sample_err);
	sbuf_release(&text);
	sbuf_release(&fig);
	sbuf_release(&why);
	return rc;
}
