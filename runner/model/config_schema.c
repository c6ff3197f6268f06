/*
 * The schema of runner.yml's top level (schema.h): the daemon's own
 * settings, limits, disk, retention, schedules, the web page, this host,
 * and the checks that involve several keys. Repositories, environments
 * and secrets are in config_repos.c, notification targets in
 * config_notify.c.
 */
#include "config.h"
#include "config_int.h"
#include "cron.h"
#include "schema.h"
#include "util.h"
#include "ynode.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>


static const struct sfield config_limit_fields[] = {
	{ .key = "processes", .kind = S_INT, FIELD(struct run_limits, processes),
	    .min = 1, .max = LONG_MAX, .def = "4096",
	    .doc = "processes of the stage's user (RLIMIT_NPROC; not applied "
	    "to root)" },
	{ .key = "memory", .kind = S_SIZE, FIELD(struct run_limits, memory),
	    .doc = "address space of each process (RLIMIT_AS), like `8G`" },
	{ .key = "file_size", .kind = S_SIZE,
	    FIELD(struct run_limits, file_size), .def = "8G",
	    .doc = "largest file a process may write (RLIMIT_FSIZE); "
	    "environment commands too (a backup larger than this needs a "
	    "larger one)" },
	{ .key = "open_files", .kind = S_INT,
	    FIELD(struct run_limits, open_files), .min = 1, .max = LONG_MAX,
	    .doc = "open descriptors per process (RLIMIT_NOFILE)" },
	SFIELD_END
};
static const struct schema config_limits_schema = {
	.name = "limits", .fields = config_limit_fields, .rel = REL_IN,
	.doc = "The rlimits of every stage that sets none.",
};

/* What one job may take of the home's disk: runner.yml's, and a
 * pipeline's, which can only narrow them. */
static const struct sfield config_disk_fields[] = {
	{ .key = "workspace", .kind = S_SIZE,
	    FIELD(struct disk_limits, workspace), .min = 1 << 20, .def = "20G",
	    .doc = "a build's workspace at most, measured every few seconds "
	    "while a stage runs; past it the stage is killed and fails" },
	{ .key = "logs", .kind = S_SIZE, FIELD(struct disk_limits, logs),
	    .min = 4096, .def = "256M",
	    .doc = "all the logs of one job together; past it a stage's "
	    "output is dropped, with a note (`log_cap` bounds each stage's)" },
	{ .key = "artifacts", .kind = S_SIZE,
	    FIELD(struct disk_limits, artifacts), .min = 4096, .def = "2G",
	    .doc = "a build's artifact archive at most; past it the job fails "
	    "and nothing is kept" },
	SFIELD_END
};
static const struct schema config_disk_schema = {
	.name = "disk", .fields = config_disk_fields, .rel = REL_IN,
	.doc = "What one job may take of the home's disk. A pipeline's own "
	    "`disk` can only narrow these.",
};
static const struct sfield pipeline_disk_fields[] = {
	{ .key = "workspace", .kind = S_SIZE,
	    FIELD(struct disk_limits, workspace), .min = 1 << 20,
	    .def = "(runner.yml's)", .doc = "the workspace at most" },
	{ .key = "logs", .kind = S_SIZE, FIELD(struct disk_limits, logs),
	    .min = 4096, .def = "(runner.yml's)",
	    .doc = "all the job's logs together" },
	{ .key = "artifacts", .kind = S_SIZE,
	    FIELD(struct disk_limits, artifacts), .min = 4096,
	    .def = "(runner.yml's)", .doc = "the artifact archive at most" },
	SFIELD_END
};
const struct schema pipeline_disk_schema = {
	.name = "disk", .fields = pipeline_disk_fields, .rel = REL_IN,
};

int config_name_valid(const char *s)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* A count of deployments: a number, or "all" (0). */
static int deploy_count(const struct ynode *v, int64_t *out)
{
	long n;

	if (v->type == YNODE_SCALAR && v->plain == 1 && !strcmp(v->value,
	    "all")) {
		*out = 0;
		return 1;
	}
	if (!ynode_uint(v, &n) || n < 1 || n > INT32_MAX)
		return 0;
	*out = n;
	return 1;
}

/* retention: deployments: a count for every environment, or a mapping
 * of environments to counts (those not named keep every deployment). */
static int read_deployments(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct retention *rt = obj;
	int64_t n;

	if (deploy_count(v, &rt->deployments))
		return 0;
	if (v->type != YNODE_MAP)
		return schema_error(r, v, "must be a number from 1 to %ld, 'all', "
		    "or environments and numbers like {staging: 20}",
		    (long)INT32_MAX);
	rt->deployments_of = xcalloc(v->n / 2 + 1, sizeof(*rt->deployments_of));
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct ynode *k = v->items[i], *x = v->items[i + 1];
		if (!config_name_valid(k->value))
			return error_set(ERR_INVALID, "%s:%zu:%zu: bad environment "
			    "name '%s' in 'deployments' of %s (use a-z, 0-9, '_' "
			    "and '-', at most 64)", r->file, k->line, k->col,
			    k->value, r->what);
		if (!deploy_count(x, &n))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'deployments' of "
			    "'%s' in %s must be a number from 1 to %ld, or 'all'",
			    r->file, x->line, x->col, k->value, r->what,
			    (long)INT32_MAX);
		rt->deployments_of[rt->ndeployments_of].env = xstrdup(k->value);
		rt->deployments_of[rt->ndeployments_of++].n = n;
	}
	return 0;
}

int64_t retention_deployments(const struct retention *r, const char *env)
{
	if (!r->ndeployments_of)
		return r->deployments;
	for (size_t i = 0; i < r->ndeployments_of; i++)
		if (env && !strcmp(r->deployments_of[i].env, env))
			return r->deployments_of[i].n;
	return 0;
}

/* What `runner gc` (and the daemon, every `interval`) removes. */
static const struct sfield retention_fields[] = {
	{ .key = "builds", .kind = S_INT, FIELD(struct retention, builds),
	    .min = 1, .max = INT32_MAX, .def = "100",
	    .doc = "ended builds kept per repository and branch, newest first; "
	    "older ones go, record, logs, artifact and workspace" },
	{ .key = "build_age", .kind = S_DURATION,
	    FIELD(struct retention, build_age_ms), .def = "180d",
	    .doc = "ended builds older than this go too (0: no limit)" },
	{ .key = "logs", .kind = S_DURATION, FIELD(struct retention, logs_ms),
	    .def = "90d", .doc = "logs of jobs that ended longer ago go; the "
	    "record stays (0: kept as long as the job)" },
	{ .key = "artifacts", .kind = S_DURATION,
	    FIELD(struct retention, artifacts_ms), .def = "30d",
	    .doc = "artifacts of builds that ended longer ago go, except what "
	    "a kept release came from (0: kept as long as the build)" },
	{ .key = "workspaces", .kind = S_DURATION,
	    FIELD(struct retention, workspaces_ms), .def = "1d",
	    .doc = "workspaces kept by `keep_workspaces` go after this" },
	{ .key = "releases", .kind = S_INT, FIELD(struct retention, releases),
	    .min = 2, .max = INT32_MAX, .def = "5",
	    .doc = "release folders (and their backups) kept per repository "
	    "and environment, newest first; the current and previous release "
	    "always stay" },
	{ .key = "deployments", .kind = S_CUSTOM, .read = read_deployments,
	    .def = "all",
	    .type_doc = "number, 1 to 2147483647, or `all`; or a mapping of "
	    "environments to those",
	    .doc = "ended deployment records kept per repository and "
	    "environment, newest first: `20` for every environment, "
	    "`{staging: 20}` for the environments named (the others keep "
	    "all); older ones go, record, logs, checks, release folder and "
	    "backup, except those that always stay (above)" },
	{ .key = "interval", .kind = S_DURATION,
	    FIELD(struct retention, interval_ms), .def = "1h",
	    .doc = "how often the daemon collects (0: only `runner gc`)" },
	SFIELD_END
};
static const struct schema retention_schema = {
	.name = "retention", .fields = retention_fields, .rel = REL_IN,
	.doc = "What `runner gc` keeps. Never removed: queued and running "
	    "jobs; in every environment, the deployment that serves, the one "
	    "it replaced, the latest and one under way; what a kept "
	    "deployment rolled back to; deployments of release tags; the "
	    "builds kept deployments came from; jobs with notifications not "
	    "yet delivered. Without `deployments`, every deployment record "
	    "stays.",
};

/* A schedule: its cron expression must parse, its branch be a plain
 * branch name. */
static int check_schedule(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct schedule *sc = obj;
	const struct ynode *v = ynode_get(map, "cron");
	char *why = NULL;
	int error = 0;

	if (sc->cron && cron_parse(sc->cron, &sc->when, &why) < 0)
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'cron' in %s: %s",
		    r->file, v ? v->line : map->line, v ? v->col : map->col,
		    r->what, why);
	free(why);
	v = ynode_get(map, "branch");
	if (!error && sc->branch && (strstr(sc->branch, "..") ||
	    strpbrk(sc->branch, " ~^:?*[\\") || sc->branch[0] == '/' ||
	    sc->branch[0] == '-'))
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'branch' in %s: "
		    "'%s' is not a branch name", r->file, v ? v->line : 0,
		    v ? v->col : 0, r->what, sc->branch);
	return error;
}

static const struct sfield schedule_fields[] = {
	{ .key = "name", .kind = S_STR, FIELD(struct schedule, name),
	    .flags = S_REQUIRED | S_NONEMPTY, .doc = "how status and the jobs "
	    "name it (`schedule NAME` asked for them)" },
	{ .key = "repo", .kind = S_STR, FIELD(struct schedule, repo),
	    .flags = S_REQUIRED | S_ABSOLUTE, .doc = "the bare repository" },
	{ .key = "branch", .kind = S_STR, FIELD(struct schedule, branch),
	    .flags = S_REQUIRED | S_NONEMPTY,
	    .doc = "whose head is built" },
	{ .key = "cron", .kind = S_STR, FIELD(struct schedule, cron),
	    .flags = S_REQUIRED | S_NONEMPTY,
	    .doc = "when, as cron says it (local time): `MIN HOUR DOM MONTH "
	    "DOW`, like `0 3 * * 1-5`" },
	{ .key = "skip_built", .kind = S_BOOL,
	    FIELD(struct schedule, skip_built), .def = "false",
	    .doc = "no build when the head already has one" },
	SFIELD_END
};
static const struct schema schedule_schema = {
	.name = "schedules", .fields = schedule_fields, .rel = REL_OF,
	.size = sizeof(struct schedule),
	.line_at = SLINE(struct schedule, line),
	.entry = "a 'schedules' entry", .what = "schedule '%s'",
	.name_key = "name", .check = check_schedule,
	.doc = "Builds of a branch's head at set times. A time missed while "
	    "the daemon was down is run once when it starts.",
};

/* The web page (runner-web). */
static const struct sfield http_fields[] = {
	{ .key = "listen", .kind = S_STR, FIELD(struct http_conf, listen),
	    .def = "(none: no web page)",
	    .doc = "`HOST:PORT` the daemon's web process serves on, like "
	    "`127.0.0.1:8080`; put it behind a proxy for anything wider "
	    "([operations.md](operations.md#the-web-page))" },
	{ .key = "base_url", .kind = S_STR, FIELD(struct http_conf, base_url),
	    .flags = S_URL, .choices = "http https", .def = "(none)",
	    .doc = "the page's address as people reach it, like "
	    "`https://ci.example.com`: notifications and the output of "
	    "pushes link to jobs there" },
	{ .key = "commit_url", .kind = S_STR, FIELD(struct http_conf,
	    commit_url), .flags = S_URL, .choices = "http https",
	    .def = "(none: commits are not linked)",
	    .doc = "a commit in the team's git web view, like "
	    "`https://git.example.com/{repo}/commit/{commit}` (cgit, gitweb, "
	    "Gitea, Forgejo): job pages link their commit there; `{repo}` is "
	    "the repository's short name and `{commit}` the commit's id, "
	    "both escaped, and they may stand only in the path" },
	{ .key = "auth", .kind = S_MAP, FIELD(struct http_conf, auth),
	    .sub = &http_auth_schema, .def = "(none: the page is read-only)",
	    .doc = "the reverse proxy that authenticates people, and the "
	    "header it names them in: actions on the page "
	    "([operations.md](operations.md#actions-on-the-web-page))" },
	{ .key = "operators", .kind = S_LIST, FIELD(struct http_conf, operators),
	    COUNT(struct http_conf, noperators), .sub = &web_operator_schema,
	    .def = "(none: no one acts)",
	    .doc = "who may do what from the page, by name or unix group, per "
	    "action and environment" },
	SFIELD_END
};

/* commit_url: {repo} and {commit} alone, and only in the path, where a
 * repository's name cannot change which host the link goes to. */
static int check_http(const struct sread *r, const struct ynode *map,
    void *obj)
{
	const struct http_conf *h = obj;
	const struct ynode *v = ynode_get(map, "commit_url");
	const char *u = h->commit_url, *host, *path;
	const char *why = NULL;

	if (!u)
		return 0;
	host = strstr(u, "://");
	host = host ? host + 3 : u;
	path = strchr(host, '/');
	for (const char *p = u; *p && !why; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			why = "must not contain spaces or control characters";
		else if (*p == '}')
			why = "has a '}' without its '{'";
		else if (*p != '{')
			continue;
		else if (strncmp(p, "{repo}", 6) && strncmp(p, "{commit}", 8))
			why = "knows only the placeholders {repo} and {commit}";
		else if (!path || p < path)
			why = "may have {repo} and {commit} only in its path, "
			    "after the host";
		else
			p = strchr(p, '}');
	}
	if (!why && !strstr(u, "{commit}"))
		why = "must have {commit}, like "
		    "'https://git.example.com/{repo}/commit/{commit}'";
	if (!why)
		return 0;
	return error_set(ERR_INVALID, "%s:%zu:%zu: 'commit_url' in %s %s",
	    r->file, v ? v->line : map->line, v ? v->col : map->col, r->what,
	    why);
}

static const struct schema http_schema = {
	.name = "http", .fields = http_fields, .rel = REL_IN,
	.check = check_http,
	.doc = "The web page: the overview, jobs, live logs, environments, "
	    "badges, `/api/` and `/metrics`; read-only unless `auth` and "
	    "`operators` say who may act.",
};

/* Where a build host fetches repositories from. */
static const struct sfield source_fields[] = {
	{ .key = "path", .kind = S_STR, FIELD(struct host_source, path),
	    .flags = S_REQUIRED | S_ABSOLUTE, .doc = "a folder of repositories "
	    "on the git server, like `/srv/git`, or one repository" },
	{ .key = "url", .kind = S_STR, FIELD(struct host_source, url),
	    .flags = S_REQUIRED | S_URL, .choices = "ssh git http https file",
	    .doc = "where git fetches them: the repository `PATH/app.git` "
	    "from `URL/app.git`, like `ssh://git@git.example.com/srv/git`" },
	SFIELD_END
};
static const struct schema source_schema = {
	.name = "sources", .fields = source_fields, .rel = REL_IN,
	.size = sizeof(struct host_source),
	.line_at = SLINE(struct host_source, line),
	.entry = "a 'sources' entry", .what = "source '%s'",
	.name_key = "path",
	.doc = "Where a build host that does not see the git server's "
	    "repositories fetches them.",
};

/* This machine as a build host. */
static const struct sfield host_fields[] = {
	{ .key = "name", .kind = S_STR, FIELD(struct host_conf, name),
	    .def = "(the machine's host name)",
	    .doc = "what `runner status` and `runner drain` call this host" },
	{ .key = "labels", .kind = S_STRV, FIELD(struct host_conf, labels),
	    COUNT(struct host_conf, nlabels), .def = "(none)",
	    .doc = "what it offers (`linux`, `arm64`, `deploy`), shown with it" },
	{ .key = "builds", .kind = S_BOOL, FIELD(struct host_conf, builds),
	    .def = "true", .doc = "`false`: only deployments run here, never "
	    "a build, whatever a pushed pipeline's `runs_on` asks for (a "
	    "host that can reach production)" },
	{ .key = "lease", .kind = S_DURATION, FIELD(struct host_conf, lease_ms),
	    .min = 2000, .def = "30s",
	    .doc = "how long a job stays this host's without a heartbeat "
	    "(sent every third of it); then it runs again elsewhere, or a "
	    "deployment ends `interrupted`" },
	{ .key = "sources", .kind = S_LIST, FIELD(struct host_conf, sources),
	    COUNT(struct host_conf, nsources), .sub = &source_schema,
	    .def = "(none: the repositories are on this machine)",
	    .doc = "for a host that shares only the store: where it fetches "
	    "repositories (over git's transports, into `cache/sources/`); "
	    "it then sends its logs and artifacts through the store "
	    "([operations.md](operations.md#build-hosts-on-other-machines))" },
	SFIELD_END
};
static const struct schema host_schema = {
	.name = "host", .fields = host_fields, .rel = REL_IN,
	.doc = "This machine as a build host: its name, its labels, and the "
	    "lease of the jobs it claims.",
};

/* A stage's limits: what it does not set is runner.yml's. */
static const struct sfield stage_limit_fields[] = {
	{ .key = "processes", .kind = S_INT, FIELD(struct run_limits, processes),
	    .min = 1, .max = LONG_MAX, .def = "(runner.yml's)",
	    .doc = "RLIMIT_NPROC" },
	{ .key = "memory", .kind = S_SIZE, FIELD(struct run_limits, memory),
	    .def = "(runner.yml's)", .doc = "RLIMIT_AS, like `512M`" },
	{ .key = "file_size", .kind = S_SIZE,
	    FIELD(struct run_limits, file_size), .def = "(runner.yml's)",
	    .doc = "RLIMIT_FSIZE" },
	{ .key = "open_files", .kind = S_INT,
	    FIELD(struct run_limits, open_files), .min = 1, .max = LONG_MAX,
	    .def = "(runner.yml's)", .doc = "RLIMIT_NOFILE" },
	SFIELD_END
};
const struct schema stage_limits_schema = {
	.name = "limits", .fields = stage_limit_fields, .rel = REL_IN,
};

/* Users of their own, never root, and not one for both. */
static int check_config(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct config *c = obj;

	if (c->store && !config_store_url_valid(c->store)) {
		const struct ynode *v = ynode_get(map, "store");
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'store' must be a "
		    "postgresql:// URL (like postgresql://runner@db.example/"
		    "runner), or unset for SQLite in the home", r->file,
		    v->line, v->col);
	}
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "release_user" : "build_user";
		const char *u = i ? c->release_user : c->build_user;
		const struct ynode *v = ynode_get(map, key);
		if (v && (!*u || !strcmp(u, "root") || !strcmp(u, "0")))
			return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' must be a "
			    "user of its own, never root", r->file, v->line,
			    v->col, key);
	}
	for (size_t i = 0; i < c->nschedules; i++)
		for (size_t k = 0; k < i; k++)
			if (!strcmp(c->schedules[i].name, c->schedules[k].name))
				return error_set(ERR_INVALID, "%s:%zu: two schedules are "
				    "named '%s' (lines %zu and %zu)", r->file,
				    c->schedules[i].line, c->schedules[i].name,
				    c->schedules[k].line, c->schedules[i].line);
	if (c->http.listen) {
		const char *l = c->http.listen, *colon = strrchr(l, ':');
		const char *port = colon ? colon + 1 : l;
		long n = strspn(port, "0123456789") == strlen(port) && *port ?
		    strtol(port, NULL, 10) : 0;
		const struct ynode *h = ynode_get(map, "http");
		const struct ynode *v = h ? ynode_get(h, "listen") : NULL;
		if (n < 1 || n > 65535 || colon == l)
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'listen' in "
			    "'http' must be HOST:PORT (like 127.0.0.1:8080) or a "
			    "port, not '%s'", r->file, v ? v->line : 0, v ? v->col :
			    0, l);
	}
	if (config_web_check(r, map, c) < 0)
		return ERR_INVALID;
	if (!strcmp(c->build_user, c->release_user) ||
	    config_worker_user(c, c->release_user))
		return error_set(ERR_INVALID, "%s: 'release_user' is '%s', %s: "
		    "code from develop would share a user with production's "
		    "commands and services", r->file, c->release_user,
		    strcmp(c->build_user, c->release_user) ? "the user of one "
		    "of build_user's workers" : "as is 'build_user'");
	for (size_t i = 0; i < c->nenvs; i++)
		for (size_t k = 0; k < c->envs[i].nserve_users; k++) {
			const char *u = c->envs[i].serve_users[k];
			if (strcmp(u, c->build_user) && !config_worker_user(c, u))
				continue;
			return error_set(ERR_INVALID, "%s:%zu: 'serve_users' of "
			    "environment '%s' names '%s', who runs code from "
			    "develop: any push could serve the environment's "
			    "port", r->file, c->envs[i].line, c->envs[i].name, u);
		}
	for (size_t i = 0; i < c->nenvs; i++)
		if (c->envs[i].user && config_worker_user(c, c->envs[i].user))
			return error_set(ERR_INVALID, "%s: 'user' of environment "
			    "'%s' is '%s', the user of one of build_user's workers: "
			    "the builds of that worker would share a user with the "
			    "environment's commands and services", r->file,
			    c->envs[i].name, c->envs[i].user);
	return 0;
}

static const struct sfield config_fields[] = {
	{ .key = "workers", .kind = S_INT, FIELD(struct config, workers),
	    .min = 1, .max = 256, .def = "(the number of cores)",
	    .doc = "jobs run at once (`serve --workers` overrides)",
	    .sample =
	    "Worker processes running jobs at once (default: the number of cores).",
	    .example = "2" },
	{ .key = "max_running", .kind = S_INT, FIELD(struct config, max_running),
	    .min = 1, .max = 4096,
	    .def = "(all the workers but one, when there is another repository)",
	    .doc = "builds of one repository that run at once, on all hosts "
	    "together; deployments are not counted (a `repos` entry may set "
	    "its own)" },
	{ .key = "default_timeout", .kind = S_DURATION,
	    FIELD(struct config, default_timeout_ms), .min = 1000, .def = "30m",
	    .doc = "timeout of a stage that sets none (a stage always has one)",
	    .sample =
	    "Timeout of a stage that sets none in .runner.yml." },
	{ .key = "max_timeout", .kind = S_DURATION,
	    FIELD(struct config, max_timeout_ms), .min = 1000, .def = "6h",
	    .doc = "no stage, environment command or check runs longer, "
	    "whatever its pipeline's `timeout` says" },
	{ .key = "kill_grace", .kind = S_DURATION,
	    FIELD(struct config, kill_grace_ms), .def = "5s",
	    .doc = "SIGTERM to SIGKILL for a stage being ended",
	    .sample =
	    "After a stage's timeout or a cancel: SIGTERM, this long, then SIGKILL." },
	{ .key = "shutdown_grace", .kind = S_DURATION,
	    FIELD(struct config, shutdown_grace_ms), .def = "30s",
	    .doc = "on SIGTERM, how long running stages may still run",
	    .sample =
	    "On SIGTERM the daemon lets running stages finish for this long." },
	{ .key = "idle_exit", .kind = S_DURATION,
	    FIELD(struct config, idle_exit_ms), .def = "60s",
	    .doc = "a worker or the notifier with nothing to do for this "
	    "long since its last work leaves (0: they stay)",
	    .sample =
	    "A worker (or the notifier) with nothing to do for this long since its\n"
	    "last work leaves; the daemon starts one again when work comes. 0: they\n"
	    "stay." },
	{ .key = "store", .kind = S_STR, FIELD(struct config, store),
	    .doc = "`postgresql://...`: the store is this PostgreSQL database, "
	    "shared by build hosts ([operations.md](operations.md#"
	    "postgresql)); unset: SQLite in the home" },
	{ .key = "wait_timeout", .kind = S_DURATION,
	    FIELD(struct config, wait_timeout_ms), .min = 1000, .def = "10m",
	    .doc = "how long `git push -o ci.wait` follows its jobs" },
	{ .key = "supersede", .kind = S_BOOL, FIELD(struct config, supersede),
	    .def = "true", .doc = "record older queued pushes of a ref "
	    "`superseded`",
	    .sample =
	    "A queued job is recorded 'superseded', not run, when a newer push to\n"
	    "the same branch of the same repository has been queued." },
	{ .key = "keep_workspaces", .kind = S_BOOL,
	    FIELD(struct config, keep_workspaces), .def = "false",
	    .doc = "keep `work/JOB` after the job ends",
	    .sample =
	    "Keep each job's workspace after it ends (for debugging)." },
	{ .key = "path", .kind = S_STR, FIELD(struct config, path_env),
	    .def = "/usr/local/bin:/usr/bin:/bin", .doc = "`PATH` of stages",
	    .sample =
	    "PATH given to stages." },
	{ .key = "repos", .kind = S_LIST, FIELD(struct config, repos),
	    COUNT(struct config, nrepos), .sub = &repo_schema,
	    .doc = "the repositories and what triggers and signs",
	    .sample =
	    "Which branches of which repository start a job (pcre2 on the branch\n"
	    "name), and how releases are trusted. A repository not listed uses the\n"
	    "defaults shown.",
	    .example = "\n"
	    "  - path: /srv/git/store-erp.git\n"
	    "    branches: '^develop$'\n"
	    "    release_tags: '^v\\d+\\.\\d+\\.\\d+$'  # tags that promote to production\n"
	    "    allowed_signers: /srv/runner/allowed_signers  # SSH, ssh-keygen -Y format\n"
	    "    gpg_keyring: /srv/runner/release-keys.gpg     # OpenPGP public keys\n"
	    "    auto_deploy: {staging: '^develop$'}  # environment: the branches whose\n"
	    "                                 # passed builds deploy there\n"
	    "    require_staging: true        # production only after a healthy staging\n"
	    "    isolate: true                # false: this repository's code unconfined\n"
	    "    variables: [LEVEL]           # what git push -o ci.variable= may set (none)" },
	{ .key = "secrets", .kind = S_CUSTOM, .read = read_secrets,
	    .sub = &secret_schema, .type_doc = "mapping of names to secrets",
	    .doc = "given to stages and environments that name them",
	    .sample =
	    "Values that environments may require (require_env) and stages may be\n"
	    "given: a value, or {file: PATH} (keep the values in files only the\n"
	    "runner's user reads: this file is readable by the hook's group). A\n"
	    "scope says where one may be used; masking in logs is a convenience,\n"
	    "the scope is the boundary.",
	    .example = "\n"
	    "  DATABASE_URL: { file: /srv/runner/secrets/database-url }\n"
	    "  PROD_TOKEN: { file: /srv/runner/secrets/prod-token,\n"
	    "                environments: [production], refs: '^refs/tags/v',\n"
	    "                repos: '^/srv/git/store-erp\\.git$' }" },
	{ .key = "notify", .kind = S_CUSTOM, .read = read_notify,
	    .sub = &notify_schema, .type_doc = "list of mappings",
	    .doc = "where events are announced ([notify.md](notify.md))",
	    .sample =
	    "Where failures, deployments and rollbacks are announced (docs/notify.md).\n"
	    "Events: job_passed job_failed job_fixed job_error deployed deploy_failed\n"
	    "production_failed rolled_back rejected approval_needed, or all.",
	    .example = "\n"
	    "  - name: team\n"
	    "    slack: https://hooks.slack.com/services/T000/B000/XXXX\n"
	    "    on: [job_failed, job_fixed, deployed, rolled_back, rejected]\n"
	    "  - name: oncall\n"
	    "    pagerduty: { routing_key: R0UTINGKEY }\n"
	    "    on: [production_failed, rolled_back]\n"
	    "  - name: mail\n"
	    "    email: { smtp: 'smtp://mail.internal:25', from: runner@example.com,\n"
	    "             to: [dev@example.com] }\n"
	    "  - name: audit\n"
	    "    webhook: { url: 'https://audit.internal/runner', secret: s3cret }\n"
	    "    on: [all]\n"
	    "    repos: '^store-erp$'        # pcre2 on the repository's name\n"
	    "    retries: 6                  # after the first attempt\n"
	    "    backoff: 2s                 # doubling per retry" },
	{ .key = "limits", .kind = S_MAP, FIELD(struct config, limits),
	    .sub = &config_limits_schema,
	    .doc = "rlimits of stages that set none",
	    .sample =
	    "Resource limits of stages that set none (setrlimit). processes is\n"
	    "per user, and Linux does not apply it to root. memory (address space,\n"
	    "like 8G) and open_files have no default: a stage keeps the daemon's." },
	{ .key = "schedules", .kind = S_LIST, FIELD(struct config, schedules),
	    COUNT(struct config, nschedules), .sub = &schedule_schema,
	    .doc = "builds at set times ([operations.md](operations.md#"
	    "schedules))" },
	{ .key = "http", .kind = S_MAP, FIELD(struct config, http),
	    .sub = &http_schema,
	    .doc = "the web page ([operations.md](operations.md#the-web-page))",
	    .sample =
	    "The web page (overview, jobs, live logs, badges, /api/, /metrics),\n"
	    "served by a process of its own that the daemon starts. Keep it on\n"
	    "127.0.0.1 behind a proxy that authenticates (docs/operations.md).\n"
	    "Read-only unless auth names that proxy and operators who may act.",
	    .example = "\n"
	    "  listen: 127.0.0.1:8080\n"
	    "  base_url: https://ci.example.com   # notifications and pushes link to job pages\n"
	    "  commit_url: 'https://git.example.com/{repo}/commit/{commit}'   # job pages link their commit\n"
	    "  auth: { header: X-Remote-User, proxy_user: www-data }\n"
	    "  operators:\n"
	    "    - who: [alice, '@ops']            # names the proxy sends, or unix groups\n"
	    "      may: [retry, cancel, run, deploy, pause, resume]\n"
	    "      environments: [staging]         # production: rollback only" },
	{ .key = "host", .kind = S_MAP, FIELD(struct config, host),
	    .sub = &host_schema,
	    .doc = "this machine as a build host ([operations.md](operations."
	    "md#build-hosts-and-leases))",
	    .sample =
	    "This machine as a build host: a job it claims stays its own while its\n"
	    "workers send heartbeats; after 'lease' without one it runs elsewhere.",
	    .example = "\n"
	    "  name: build1                 # default: the machine's host name\n"
	    "  labels: [linux, amd64]\n"
	    "  lease: 30s\n"
	    "  # on a machine that shares only the store (store: postgresql://...):\n"
	    "  # where it fetches the repositories from\n"
	    "  sources:\n"
	    "    - path: /srv/git\n"
	    "      url: ssh://git@git.example.com/srv/git" },
	{ .key = "retention", .kind = S_MAP, FIELD(struct config, retention),
	    .sub = &retention_schema,
	    .doc = "what `runner gc` keeps ([operations.md](operations.md#"
	    "retention))",
	    .sample =
	    "What 'runner gc' (and the daemon, every interval) removes. Queued and\n"
	    "running jobs, what serves, served before it or is under way in every\n"
	    "environment, rollback targets, release-tag deployments, the builds\n"
	    "kept deployments came from and jobs with notifications not yet\n"
	    "delivered always stay.",
	    .example = "\n"
	    "  builds: 100                  # ended builds kept per repository and branch\n"
	    "  build_age: 180d              # older builds go too (0: no limit)\n"
	    "  logs: 90d                    # logs of older jobs go, records stay\n"
	    "  artifacts: 30d               # artifacts of older builds go\n"
	    "  workspaces: 1d               # kept workspaces (keep_workspaces) go\n"
	    "  releases: 5                  # release folders kept per environment\n"
	    "  deployments: all             # deployment records kept per environment:\n"
	    "                               # a number, or {staging: 20} for those named\n"
	    "  interval: 1h                 # how often the daemon collects" },
	{ .key = "log_cap", .kind = S_SIZE, FIELD(struct config, log_cap),
	    .min = 4096, .def = "64M",
	    .doc = "bytes kept of each stage's log; more is dropped, with a "
	    "note",
	    .sample =
	    "Bytes of each stage's log kept; output past it is dropped, with a note." },
	{ .key = "disk", .kind = S_MAP, FIELD(struct config, disk),
	    .sub = &config_disk_schema,
	    .doc = "what one job may take of the home's disk: workspace, logs, "
	    "artifacts",
	    .sample =
	    "What one job may take of the home's disk: its workspace (measured\n"
	    "every few seconds; more fails the stage), all its logs together (more\n"
	    "is dropped, with a note), its artifact archive (more fails the job).\n"
	    "A pipeline's own 'disk' can only narrow these." },
	{ .key = "isolate", .kind = S_BOOL, FIELD(struct config, isolate),
	    .def = "true", .doc = "repository code under bubblewrap; `false`: "
	    "on the host, as the worker's build user (a daemon that is not "
	    "root has none, and confines it anyway unless "
	    "`trust_repositories`)",
	    .sample =
	    "Repository code runs under bubblewrap: the system read-only, only its\n"
	    "workspace (and an environment's own folders) writable, nothing of this\n"
	    "home, no other repository. A repository can narrow this, never widen\n"
	    "it; a 'repos' entry may say isolate: false for a repository you trust." },
	{ .key = "network", .kind = S_BOOL, FIELD(struct config, network),
	    .def = "true", .doc = "and with the network",
	    .sample =
	    "",
	    .example = "true               # false: builds get no network" },
	{ .key = "build_user", .kind = S_STR, FIELD(struct config, build_user),
	    .def = DEFAULT_BUILD_USER,
	    .doc = "who runs repository code when the daemon is root: each "
	    "worker's build stages as this name and its number "
	    "(`runner-build-0`, `runner-build-1`...), the commands of "
	    "environments without a user of their own as this user",
	    .sample =
	    "Who runs code from repositories when the daemon runs as root: never\n"
	    "root, never the runner's own user. Each worker runs its build stages\n"
	    "as a user of its own, this name and its number (runner-build-0,\n"
	    "runner-build-1...), so that limits per user (processes) count per\n"
	    "job; this user runs the commands of environments without a user of\n"
	    "their own (staging). 'runner init' as root creates them all." },
	{ .key = "release_user", .kind = S_STR,
	    FIELD(struct config, release_user), .def = DEFAULT_RELEASE_USER,
	    .doc = "who runs the commands of environments that need a signed "
	    "tag",
	    .sample =
	    "Who runs the commands of environments that need a signed release tag\n"
	    "(production), and so the services they start: another user, so that\n"
	    "code from develop cannot signal, trace or read them." },
	{ .key = "trust_repositories", .kind = S_BOOL,
	    FIELD(struct config, trust_repositories), .def = "false",
	    .doc = "`true`: repository code (build stages, and the commands "
	    "of every environment, production's too) runs as the daemon's own "
	    "user, root when it runs as root, and `serve` starts without the "
	    "build and release users or a working bubblewrap; it stays under "
	    "bubblewrap unless `isolate` is `false` too. Only for a server "
	    "whose every pusher you trust with what that user can read "
	    "([operations.md](operations.md#security-model))",
	    .sample =
	    "Run repository code (and every environment's commands) as the runner's\n"
	    "own user, root when the daemon runs as root: still under bubblewrap,\n"
	    "unconfined only where isolate is false too. Only for a server whose\n"
	    "every pusher you trust ('runner status' warns about it)." },
	{ .key = "environments", .kind = S_DICT, FIELD(struct config, envs),
	    COUNT(struct config, nenvs), .sub = &grant_schema,
	    .doc = "what an environment's commands may use",
	    .sample =
	    "What the commands of an environment may use, besides its release\n"
	    "(read-only) and its state folder: the user they run as, paths they may\n"
	    "write. production always requires a signed release tag.",
	    .example = "\n"
	    "  production:\n"
	    "    user: app-prod\n"
	    "    paths: [/srv/app-prod]\n"
	    "    requires: signed-tag" },
	SFIELD_END
};
const struct schema config_schema = {
	.name = "runner.yml", .fields = config_fields, .rel = REL_TERSE,
	.check = check_config,
};

