/*
 * What the verification window measures besides its checks: the CPU and
 * memory of what the environment runs, from the sharpest source there
 * is (docs/operations.md, "Resources in the verification window"):
 *
 *   - runner.yml's `metrics` of the environment: its Prometheus endpoint,
 *     a counter of CPU seconds and a gauge of bytes;
 *   - runner.yml's `cgroup` (or `unit`: system.slice/UNIT): cgroup v2's
 *     cpu.stat usage_usec and memory.current, cpu.max and memory.max the
 *     bases of the percentages;
 *   - the services its deploy command left running on this host (their
 *     pid namespaces, stages/deploy/services.c): /proc/PID/stat of each
 *     process in them;
 *   - else the whole host: /proc/stat and /proc/meminfo.
 *
 * The processes of a session are the pusher's code: nothing of theirs is
 * followed. /proc is walked from one descriptor, each process's folder
 * opened beneath it without following links, its files read through that
 * folder (which pins the process), its name never parsed.
 */
#include "deploy_int.h"
#include "config.h"
#include "curl_lib.h"
#include "envs.h"
#include "step.h"
#include "peer.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define PROM_MAX_BYTES (4 * 1024 * 1024)
#define PROM_TIMEOUT_MS 5000
#define USAGE_CPU_MIN_MS 250

/* The file `name` beneath folder `dirfd`, read whole (small files of
 * the kernel's), never through a link. */
static int read_at(int dirfd, const char *name, size_t max, struct sbuf *out)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	int error;

	sbuf_reset(out);
	if (fd < 0)
		return error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot open '%s': %s", name, strerror(errno));
	error = read_fd(fd, name, max, out);
	close(fd);
	return error;
}

/* The number after `key` (at a line's start) in `text`, or -1. */
static int64_t field_of(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, key, n) && (p[n] == ' ' || p[n] == ':' ||
		    p[n] == '\t'))
			return strtoll(p + n + 1 + strspn(p + n + 1, " \t"), NULL, 10);
	return -1;
}

/* The host's memory, in bytes: its total and what is in use (not
 * available). */
static int host_memory(int64_t *total, int64_t *used)
{
	struct sbuf b = SBUF_INIT;
	int64_t t, a;
	int error = read_file("/proc/meminfo", 64 * 1024, &b);

	if (error == 0) {
		t = field_of(b.buf, "MemTotal:");
		a = field_of(b.buf, "MemAvailable:");
		if (t <= 0 || a < 0)
			error = error_set(-1, "/proc/meminfo has no MemTotal or "
			    "MemAvailable");
		else {
			*total = t * 1024;
			if (used)
				*used = (t - (a < t ? a : t)) * 1024;
		}
	}
	sbuf_release(&b);
	return error;
}

/* ---- a session: the processes of some pid namespaces ---- */

static int in_session(const struct usage *u, uint64_t ns)
{
	for (size_t i = 0; i < u->nns; i++)
		if (u->ns[i] == ns)
			return 1;
	return 0;
}

/* CPU ticks (its own and its reaped children's) and resident bytes of
 * every process in the session's namespaces. */
static int session_read(struct usage *u, double *cpu_s, int64_t *mem)
{
	static long hz, page;
	struct sbuf b = SBUF_INIT;
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int64_t ticks = 0, pages = 0;
	struct dirent *e;
	DIR *d;

	if (!hz) {
		hz = sysconf(_SC_CLK_TCK);
		page = sysconf(_SC_PAGESIZE);
	}
	if (procfd < 0 || !(d = fdopendir(dup(procfd)))) {
		if (procfd >= 0)
			close(procfd);
		return error_set(-1, "cannot read /proc: %s", strerror(errno));
	}
	while ((e = readdir(d))) {
		char link[64];
		ssize_t n;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		int pfd = openat(procfd, e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			continue;
		n = readlinkat(pfd, "ns/pid", link, sizeof(link) - 1);
		if (n > 5 && (link[n] = '\0', !strncmp(link, "pid:[", 5)) &&
		    in_session(u, strtoull(link + 5, NULL, 10)) &&
		    read_at(pfd, "stat", 4096, &b) == 0) {
			/* after "pid (comm) ": state is field 3; utime,
			 * stime, cutime, cstime 14 to 17, rss 24 */
			const char *p = strrchr(b.buf, ')');
			int64_t f[25] = { 0 };
			int field = 2;
			while (p && *p && field < 24) {
				p = strchr(p, ' ');
				if (!p)
					break;
				f[++field] = strtoll(++p, NULL, 10);
			}
			if (field == 24) {
				ticks += f[14] + f[15] + f[16] + f[17];
				pages += f[24];
			}
		}
		close(pfd);
	}
	closedir(d);
	close(procfd);
	sbuf_release(&b);
	*cpu_s = (double)ticks / (double)hz;
	*mem = pages * page;
	return 0;
}

/* The pid namespaces of the services this environment's deployments
 * left running on this host, that this process can look into. */
static int session_open(struct deploy *d, struct usage *u)
{
	struct service *v = NULL;
	size_t n = 0;
	int rc = store_services(d->ctx->store, d->job->repo, d->job->env, &v,
	    &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint64_t ns;
		if (strcmp(v[i].host, d->host) || !deploy_service_alive(&v[i]) ||
		    proc_pidns((pid_t)v[i].pid, &ns) < 0 || ns != v[i].pidns)
			continue;
		u->ns = xrealloc(u->ns, (u->nns + 1) * sizeof(*u->ns));
		u->ns[u->nns++] = ns;
		if (!u->what)
			u->what = xasprintf("the services deployment #%lld left "
			    "running (pid %lld and all in its namespace)",
			    (long long)v[i].job, (long long)v[i].pid);
	}
	services_free(v, n);
	return rc;
}

/* ---- a cgroup v2 folder ---- */

static int cgroup_open(struct usage *u, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS,
	};
	int root = open(CGROUP_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct sbuf b = SBUF_INIT;

	if (root < 0)
		return error_set(-1, "cannot open %s: %s", CGROUP_ROOT,
		    strerror(errno));
	u->cgfd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	close(root);
	if (u->cgfd < 0)
		return error_set(-1, "cannot open cgroup %s/%s: %s", CGROUP_ROOT,
		    rel, strerror(errno));
	if (read_at(u->cgfd, "cpu.stat", 64 * 1024, &b) < 0 ||
	    field_of(b.buf, "usage_usec") < 0) {
		sbuf_release(&b);
		return error_set(-1, "%s/%s is no cgroup v2 folder (no cpu.stat "
		    "usage_usec)", CGROUP_ROOT, rel);
	}
	u->what = xasprintf("cgroup %s/%s", CGROUP_ROOT, rel);
	/* "QUOTA PERIOD": 100 % is the whole quota; "max": one CPU */
	if (read_at(u->cgfd, "cpu.max", 256, &b) == 0 && b.buf[0] >= '0' &&
	    b.buf[0] <= '9') {
		char *end;
		double q = strtod(b.buf, &end), p = strtod(end, NULL);
		if (q > 0 && p > 0)
			u->cpus = q / p;
	}
	if (read_at(u->cgfd, "memory.max", 256, &b) == 0 && b.buf[0] >= '0' &&
	    b.buf[0] <= '9' && strtoll(b.buf, NULL, 10) < u->mem_total)
		u->mem_total = strtoll(b.buf, NULL, 10);
	sbuf_release(&b);
	return 0;
}

/* Resident bytes of the processes in the cgroup, when the memory
 * controller is not enabled in it (no memory.current). */
static int64_t cgroup_procs_rss(struct usage *u)
{
	static long page;
	struct sbuf b = SBUF_INIT, st = SBUF_INIT;
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int64_t pages = 0;

	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (procfd >= 0 && read_at(u->cgfd, "cgroup.procs", 1024 * 1024,
	    &b) == 0) {
		for (char *p = b.buf; *p; p += strcspn(p, "\n"), p += !!*p) {
			char name[24];
			long pid = strtol(p, NULL, 10);
			if (pid <= 0)
				continue;
			snprintf(name, sizeof(name), "%ld", pid);
			int pfd = openat(procfd, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (pfd < 0)
				continue;
			if (read_at(pfd, "statm", 4096, &st) == 0) {
				const char *q = strchr(st.buf, ' ');
				pages += q ? strtoll(q + 1, NULL, 10) : 0;
			}
			close(pfd);
		}
	}
	if (procfd >= 0)
		close(procfd);
	sbuf_release(&b);
	sbuf_release(&st);
	return pages * page;
}

static int cgroup_read(struct usage *u, double *cpu_s, int64_t *mem)
{
	struct sbuf b = SBUF_INIT;
	int64_t usec;
	int error;

	if ((error = read_at(u->cgfd, "cpu.stat", 64 * 1024, &b)) < 0 ||
	    (usec = field_of(b.buf, "usage_usec")) < 0) {
		sbuf_release(&b);
		return error < 0 ? error : error_set(-1, "%s: no usage_usec in "
		    "cpu.stat", u->what);
	}
	*cpu_s = (double)usec / 1e6;
	if (read_at(u->cgfd, "memory.current", 256, &b) == 0)
		*mem = strtoll(b.buf, NULL, 10);
	else
		*mem = cgroup_procs_rss(u);
	sbuf_release(&b);
	return 0;
}

/* ---- the host ---- */

/* /proc/stat's first line: busy and all ticks of every CPU. */
static int host_read(double *busy, double *all, int64_t *mem)
{
	struct sbuf b = SBUF_INIT;
	int error = read_file("/proc/stat", 1024 * 1024, &b);
	int64_t total = 0;

	if (error == 0 && strncmp(b.buf, "cpu ", 4))
		error = error_set(-1, "/proc/stat does not start with 'cpu '");
	if (error == 0) {
		/* user nice system idle iowait irq softirq steal: guest
		 * time is in user's already */
		char *p = b.buf + 4;
		double f[8] = { 0 };
		for (int i = 0; i < 8; i++)
			f[i] = strtod(p, &p);
		*all = 0;
		for (int i = 0; i < 8; i++)
			*all += f[i];
		*busy = *all - f[3] - f[4];
		error = host_memory(&total, mem);
	}
	sbuf_release(&b);
	return error;
}

/* ---- a Prometheus endpoint ---- */

static size_t keep_body(char *p, size_t size, size_t n, void *arg)
{
	struct sbuf *b = arg;

	if (b->len + size * n > PROM_MAX_BYTES)
		return 0;
	sbuf_add(b, p, size * n);
	return size * n;
}

/*
 * The sum over every label set of series `name` in the text exposition
 * format `text`: "name value [timestamp]" or "name{labels} value ...",
 * comments and other series skipped. 0, or ERR_NOTFOUND when no line
 * has it.
 */
int usage_prom_value(const char *text, const char *name, double *out)
{
	size_t n = strlen(name);
	int found = 0;

	*out = 0;
	for (const char *p = text; *p; p += strcspn(p, "\n"), p += !!*p) {
		const char *v = p + n;
		if (*p == '#' || strncmp(p, name, n) || (*v != ' ' &&
		    *v != '\t' && *v != '{'))
			continue;
		if (*v == '{') {
			/* a label value may hold '}' inside its quotes */
			int quoted = 0;
			for (v++; *v && *v != '\n' && (quoted || *v != '}'); v++)
				if (*v == '\\' && quoted && v[1] && v[1] != '\n')
					v++;
				else if (*v == '"')
					quoted = !quoted;
			if (*v != '}')
				continue;
			v++;
		}
		/* the value is on the series' own line (strtod would skip
		 * a newline to the next one's) */
		v += strspn(v, " \t");
		if (*v == '\n' || !*v)
			continue;
		char *end;
		double x = strtod(v, &end);
		if (end == v || isnan(x))
			continue;
		/* the application's number: an infinity (or one past a
		 * double's range) would reach the window's figures */
		if (isinf(x) || !isfinite(*out + x)) {
			*out = 0;
			return error_set(ERR_INVALID, isinf(x) ? "series '%s' is "
			    "infinite, not a number of it" : "series '%s' adds up "
			    "past what a double holds", name);
		}
		*out += x;
		found = 1;
	}
	return found ? 0 : error_set(ERR_NOTFOUND, "no series '%s'", name);
}

static int prom_read(struct usage *u, double *cpu_s, int64_t *mem)
{
	struct sbuf body = SBUF_INIT;
	long status = 0;
	double m;
	int error = 0;
	CURL *c;

	if (curl_lib_load() < 0)
		return -1;
	if (!(c = curl_easy_init()))
		return error_set(-1, "cannot start libcurl");
	curl_easy_setopt(c, CURLOPT_URL, u->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)PROM_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)PROM_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "runner-verify/1");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		error = error_set(-1, "GET %s: %s", u->url, curl_easy_strerror(rc));
	else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status),
	    status != 200)
		error = error_set(-1, "GET %s: status %ld", u->url, status);
	else if (usage_prom_value(body.buf, u->cpu_series, cpu_s) < 0 ||
	    usage_prom_value(body.buf, u->mem_series, &m) < 0)
		error = error_set(-1, "GET %s: %s", u->url, error_last());
	/* a counter of seconds and a gauge of bytes are never negative;
	 * bytes past what the figures hold are none either */
	else if (!(*cpu_s >= 0 && *cpu_s < 0x1p53))
		error = error_set(-1, "GET %s: counter '%s' (%g) is no count of "
		    "CPU seconds", u->url, u->cpu_series, *cpu_s);
	else if (!(m >= 0 && m < 0x1p62))
		error = error_set(-1, "GET %s: gauge '%s' (%g) is no size in "
		    "bytes", u->url, u->mem_series, m);
	else
		*mem = (int64_t)m;
	curl_easy_cleanup(c);
	sbuf_release(&body);
	return error;
}

/* ---- the source, and its samples ---- */

int usage_open(struct deploy *d, struct usage *u)
{
	const struct env_grant *g = config_env(d->ctx->conf, d->job->env);
	char *rel = NULL;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	u->cgfd = -1;
	u->cpus = 1;
	if (host_memory(&u->mem_total, NULL) < 0)
		return -1;
	if (g && g->metrics_url) {
		u->kind = USAGE_PROMETHEUS;
		u->url = g->metrics_url;
		u->cpu_series = g->metrics_cpu;
		u->mem_series = g->metrics_memory;
		u->what = xasprintf("%s (%s, %s)", g->metrics_url, g->metrics_cpu,
		    g->metrics_memory);
		return 0;
	}
	if (g && (g->cgroup || g->unit)) {
		u->kind = USAGE_CGROUP;
		rel = g->cgroup ? xstrdup(g->cgroup) :
		    xasprintf("system.slice/%s", g->unit);
		rc = cgroup_open(u, rel);
		free(rel);
		return rc;
	}
	u->kind = USAGE_SESSION;
	if ((rc = session_open(d, u)) < 0 || u->nns)
		return rc;
	u->kind = USAGE_HOST;
	u->cpus = 0;
	u->what = xstrdup("the host (no services of the deployment to measure)");
	return 0;
}

int usage_sample(struct usage *u, double *cpu, int64_t *mem)
{
	double busy = 0, all = 0;
	int64_t now = mono_ms();
	int error;

	*cpu = -1;
	switch (u->kind) {
	case USAGE_PROMETHEUS:
		error = prom_read(u, &busy, mem);
		break;
	case USAGE_CGROUP:
		error = cgroup_read(u, &busy, mem);
		break;
	case USAGE_SESSION:
		error = session_read(u, &busy, mem);
		break;
	default:
		error = host_read(&busy, &all, mem);
		break;
	}
	if (error < 0)
		return error;
	/* CPU time comes in clock ticks (10 ms): over a few ms a single
	 * tick would read as a burst. Too soon after the reading before,
	 * the memory is new and the CPU waits for the next sample. */
	if (u->primed && now - u->last_ms < USAGE_CPU_MIN_MS)
		return 0;
	if (u->primed && u->kind == USAGE_HOST) {
		/* the share of every CPU of the host */
		double da = all - u->last_all;
		*cpu = da > 0 ? 100 * (busy - u->last_busy) / da : 0;
	} else if (u->primed && now > u->last_ms) {
		double secs = (double)(now - u->last_ms) / 1000;
		*cpu = 100 * (busy - u->last_busy) / secs / u->cpus;
	}
	if (*cpu < 0 && u->primed)
		*cpu = 0;	/* a process that ended took its time along */
	u->last_busy = busy;
	u->last_all = all;
	u->last_ms = now;
	u->primed = 1;
	return 0;
}

void usage_release(struct usage *u)
{
	if (u->cgfd >= 0)
		close(u->cgfd);
	free(u->ns);
	free(u->what);
	memset(u, 0, sizeof(*u));
	u->cgfd = -1;
}
