/*
 * runner.yml: defaults first, then what the file sets, checked key by key
 * with the same position-carrying messages as the pipeline file.
 */
#include "config.h"
#include "cron.h"
#include "envvar.h"
#include "refmatch.h"
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


const char config_template[] =
"# runner configuration. Every key is optional; shown are the defaults.\n"
"\n"
"# Worker processes running jobs at once (default: the number of cores).\n"
"# workers: 2\n"
"\n"
"# Timeout of a stage that sets none in .runner.yml.\n"
"# default_timeout: 30m\n"
"\n"
"# After a stage's timeout or a cancel: SIGTERM, this long, then SIGKILL.\n"
"# kill_grace: 5s\n"
"\n"
"# On SIGTERM the daemon lets running stages finish for this long.\n"
"# shutdown_grace: 30s\n"
"\n"
"# A worker (or the notifier) with nothing to do for this long since its\n"
"# last work leaves; the daemon starts one again when work comes. 0: they\n"
"# stay.\n"
"# idle_exit: 60s\n"
"\n"
"# A queued job is recorded 'superseded', not run, when a newer push to\n"
"# the same branch of the same repository has been queued.\n"
"# supersede: true\n"
"\n"
"# Keep each job's workspace after it ends (for debugging).\n"
"# keep_workspaces: false\n"
"\n"
"# PATH given to stages.\n"
"# path: /usr/local/bin:/usr/bin:/bin\n"
"\n"
"# Resource limits of stages that set none (setrlimit). processes is\n"
"# per user, and Linux does not apply it to root. memory (address space,\n"
"# like 8G) and open_files have no default: a stage keeps the daemon's.\n"
"# limits: { processes: 4096, file_size: 8G }\n"
"\n"
"# Bytes of each stage's log kept; output past it is dropped, with a note.\n"
"# log_cap: 64M\n"
"\n"
"# What one job may take of the home's disk: its workspace (measured\n"
"# every few seconds; more fails the stage), all its logs together (more\n"
"# is dropped, with a note), its artifact archive (more fails the job).\n"
"# A pipeline's own 'disk' can only narrow these.\n"
"# disk: { workspace: 20G, logs: 256M, artifacts: 2G }\n"
"\n"
"# Who runs code from repositories when the daemon runs as root: never\n"
"# root, never the runner's own user. Each worker runs its build stages\n"
"# as a user of its own, this name and its number (runner-build-0,\n"
"# runner-build-1...), so that limits per user (processes) count per\n"
"# job; this user runs the commands of environments without a user of\n"
"# their own (staging). 'runner init' as root creates them all.\n"
"# build_user: runner-build\n"
"# Who runs the commands of environments that need a signed release tag\n"
"# (production), and so the services they start: another user, so that\n"
"# code from develop cannot signal, trace or read them.\n"
"# release_user: runner-release\n"
"\n"
"# Repository code runs under bubblewrap: the system read-only, only its\n"
"# workspace (and an environment's own folders) writable, nothing of this\n"
"# home, no other repository. A repository can narrow this, never widen\n"
"# it; a 'repos' entry may say isolate: false for a repository you trust.\n"
"# isolate: true\n"
"# network: true               # false: builds get no network\n"
"\n"
"# Run repository code (and every environment's commands) as the runner's\n"
"# own user, root when the daemon runs as root: still under bubblewrap,\n"
"# unconfined only where isolate is false too. Only for a server whose\n"
"# every pusher you trust ('runner status' warns about it).\n"
"# trust_repositories: false\n"
"\n"
"# What the commands of an environment may use, besides its release\n"
"# (read-only) and its state folder: the user they run as, paths they may\n"
"# write. production always requires a signed release tag.\n"
"# environments:\n"
"#   production:\n"
"#     user: app-prod\n"
"#     paths: [/srv/app-prod]\n"
"#     requires: signed-tag\n"
"\n"
"# Which branches of which repository start a job (pcre2 on the branch\n"
"# name), and how releases are trusted. A repository not listed uses the\n"
"# defaults shown.\n"
"# repos:\n"
"#   - path: /srv/git/store-erp.git\n"
"#     branches: '^develop$'\n"
"#     release_tags: '^v\\d+\\.\\d+\\.\\d+$'  # tags that promote to production\n"
"#     allowed_signers: /srv/runner/allowed_signers  # SSH, ssh-keygen -Y format\n"
"#     gpg_keyring: /srv/runner/release-keys.gpg     # OpenPGP public keys\n"
"#     auto_deploy: {staging: '^develop$'}  # environment: the branches whose\n"
"#                                  # passed builds deploy there\n"
"#     require_staging: true        # production only after a healthy staging\n"
"#     isolate: true                # false: this repository's code unconfined\n"
"#     variables: [LEVEL]           # what git push -o ci.variable= may set (none)\n"
"\n"
"# Values that environments may require (require_env) and stages may be\n"
"# given: a value, or {file: PATH} (keep the values in files only the\n"
"# runner's user reads: this file is readable by the hook's group). A\n"
"# scope says where one may be used; masking in logs is a convenience,\n"
"# the scope is the boundary.\n"
"# secrets:\n"
"#   DATABASE_URL: { file: /srv/runner/secrets/database-url }\n"
"#   PROD_TOKEN: { file: /srv/runner/secrets/prod-token,\n"
"#                 environments: [production], refs: '^refs/tags/v',\n"
"#                 repos: '^/srv/git/store-erp\\.git$' }\n"
"\n"
"# Where failures, deployments and rollbacks are announced (docs/notify.md).\n"
"# Events: job_passed job_failed job_fixed job_error deployed deploy_failed\n"
"# production_failed rolled_back rejected, or all.\n"
"# notify:\n"
"#   - name: team\n"
"#     slack: https://hooks.slack.com/services/T000/B000/XXXX\n"
"#     on: [job_failed, job_fixed, deployed, rolled_back, rejected]\n"
"#   - name: oncall\n"
"#     pagerduty: { routing_key: R0UTINGKEY }\n"
"#     on: [production_failed, rolled_back]\n"
"#   - name: mail\n"
"#     email: { smtp: 'smtp://mail.internal:25', from: runner@example.com,\n"
"#              to: [dev@example.com] }\n"
"#   - name: audit\n"
"#     webhook: { url: 'https://audit.internal/runner', secret: s3cret }\n"
"#     on: [all]\n"
"#     repos: '^store-erp$'        # pcre2 on the repository's name\n"
"#     retries: 6                  # after the first attempt\n"
"#     backoff: 2s                 # doubling per retry\n"
"\n"
"# What 'runner gc' (and the daemon, every interval) removes. Queued and\n"
"# running jobs, what serves, served before it or is under way in every\n"
"# environment, rollback targets, release-tag deployments, the builds\n"
"# kept deployments came from and jobs with notifications not yet\n"
"# delivered always stay.\n"
"# retention:\n"
"#   builds: 100                  # ended builds kept per repository and branch\n"
"#   build_age: 180d              # older builds go too (0: no limit)\n"
"#   logs: 90d                    # logs of older jobs go, records stay\n"
"#   artifacts: 30d               # artifacts of older builds go\n"
"#   workspaces: 1d               # kept workspaces (keep_workspaces) go\n"
"#   releases: 5                  # release folders kept per environment\n"
"#   deployments: all             # deployment records kept per environment:\n"
"#                                # a number, or {staging: 20} for those named\n"
"#   interval: 1h                 # how often the daemon collects\n"
"\n"
"# The read-only web page (overview, jobs, live logs, badges, /api/,\n"
"# /metrics), served by a process of its own that the daemon starts.\n"
"# Keep it on 127.0.0.1 behind a proxy that authenticates (docs/operations.md).\n"
"# http:\n"
"#   listen: 127.0.0.1:8080\n"
"#   base_url: https://ci.example.com   # notifications and pushes link to job pages\n"
"\n"
"# This machine as a build host: a job it claims stays its own while its\n"
"# workers send heartbeats; after 'lease' without one it runs elsewhere.\n"
"# host:\n"
"#   name: build1                 # default: the machine's host name\n"
"#   labels: [linux, amd64]\n"
"#   lease: 30s\n"
"#   # on a machine that shares only the store (store: postgresql://...):\n"
"#   # where it fetches the repositories from\n"
"#   sources:\n"
"#     - path: /srv/git\n"
"#       url: ssh://git@git.example.com/srv/git\n";

/* ---- the schema of runner.yml (schema.h) ---- */

#define FIELD(type, m) .off = offsetof(type, m)
#define COUNT(type, m) .count_off = offsetof(type, m)

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
	SFIELD_END
};
static const struct schema http_schema = {
	.name = "http", .fields = http_fields, .rel = REL_IN,
	.doc = "The read-only web page: the overview, jobs, live logs, "
	    "environments, badges, `/api/` and `/metrics`.",
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

static void auto_deploy_free(struct repo_conf *rc)
{
	strv_free(rc->auto_deploy);
	strv_free(rc->auto_deploy_branches);
	rc->auto_deploy = rc->auto_deploy_branches = NULL;
	rc->nauto_deploy = 0;
}

/*
 * auto_deploy: a list of environments, each taking the builds of
 * DEFAULT_BRANCHES (what the list always meant for the default
 * `branches`), or a mapping of each environment to a pattern of the
 * branches whose passed builds it takes.
 */
static int read_auto_deploy(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct repo_conf *rc = obj;
	const char *of = rc->path ? rc->path : r->what;
	size_t n;
	int error;

	auto_deploy_free(rc);
	for (size_t i = 0; v->type == YNODE_SEQ && i < v->n; i++)
		if (v->items[i]->type != YNODE_SCALAR)
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'auto_deploy' of "
			    "'%s': a list names environments (each takes the builds "
			    "of '" DEFAULT_BRANCHES "'); to name the branches, write "
			    "a mapping, like auto_deploy: {staging: '^develop$'}",
			    r->file, v->items[i]->line, v->items[i]->col, of);
	if (v->type != YNODE_MAP) {
		if ((error = ynode_strv(r->file, v, r->field->key, r->what,
		    &rc->auto_deploy, &rc->nauto_deploy)) < 0)
			return error;
		rc->auto_deploy_branches = xcalloc(rc->nauto_deploy + 1,
		    sizeof(char *));
		for (size_t i = 0; i < rc->nauto_deploy; i++)
			rc->auto_deploy_branches[i] = xstrdup(DEFAULT_BRANCHES);
		return 0;
	}
	n = v->n / 2;
	rc->auto_deploy = xcalloc(n + 1, sizeof(char *));
	rc->auto_deploy_branches = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const struct ynode *k = v->items[2 * i], *p = v->items[2 * i + 1];
		pcre2_code *re;
		PCRE2_SIZE off;
		int code;

		if (k->type != YNODE_SCALAR || !*k->value)
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'auto_deploy' of "
			    "'%s': each key must be an environment's name",
			    r->file, k->line, k->col, of);
		if (p->type != YNODE_SCALAR || !*p->value)
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'auto_deploy' of "
			    "'%s': environment '%s' takes one pattern of the "
			    "branches whose builds it deploys, like '^develop$' or "
			    "'^(develop|main)$'", r->file, p->line, p->col, of,
			    k->value);
		if (!(re = pcre2_compile((PCRE2_SPTR)p->value,
		    PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL))) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			return error_set(ERR_INVALID, "%s:%zu:%zu: bad pattern '%s' "
			    "for environment '%s' in 'auto_deploy' of '%s': %s at "
			    "offset %zu", r->file, p->line, p->col, p->value,
			    k->value, of, (const char *)msg, (size_t)off);
		}
		pcre2_code_free(re);
		rc->auto_deploy[i] = xstrdup(k->value);
		rc->auto_deploy_branches[i] = xstrdup(p->value);
		rc->nauto_deploy = i + 1;
	}
	return 0;
}

static void repo_conf_release(void *elem)
{
	auto_deploy_free(elem);
}

static const struct sfield repo_fields[] = {
	{ .key = "path", .kind = S_STR, FIELD(struct repo_conf, path),
	    .flags = S_REQUIRED | S_ABSOLUTE,
	    .doc = "the bare repository" },
	{ .key = "branches", .kind = S_PATTERN,
	    FIELD(struct repo_conf, branches), .def = DEFAULT_BRANCHES,
	    .doc = "branches whose pushes run the pipeline" },
	{ .key = "release_tags", .kind = S_PATTERN,
	    FIELD(struct repo_conf, release_tags), .def = DEFAULT_RELEASE_TAGS,
	    .doc = "tags that deploy to production" },
	{ .key = "allowed_signers", .kind = S_STR,
	    FIELD(struct repo_conf, allowed_signers), .flags = S_ABSOLUTE,
	    .doc = "SSH keys that may sign a release tag (`ssh-keygen -Y` "
	    "format)" },
	{ .key = "gpg_keyring", .kind = S_STR,
	    FIELD(struct repo_conf, gpg_keyring), .flags = S_ABSOLUTE,
	    .doc = "OpenPGP public keys that may sign a release tag" },
	{ .key = "auto_deploy", .kind = S_CUSTOM, .read = read_auto_deploy,
	    .def = "(`{staging: '" DEFAULT_BRANCHES "'}`)",
	    .type_doc = "list of environments, or mapping of environment to "
	    "pcre2 pattern",
	    .doc = "environments a passed build deploys itself to, and from "
	    "which branches: `{staging: '^develop$', review: '^feature/'}`; a "
	    "list `[staging]` takes builds of `" DEFAULT_BRANCHES "` only, "
	    "whatever `branches` builds; `[]`: none "
	    "([pipeline.md](pipeline.md#environments))" },
	{ .key = "require_staging", .kind = S_BOOL,
	    FIELD(struct repo_conf, require_staging), .def = "true",
	    .doc = "production only for a commit healthy in staging" },
	{ .key = "max_running", .kind = S_INT,
	    FIELD(struct repo_conf, max_running), .min = 1, .max = 4096,
	    .def = "(runner.yml's)",
	    .doc = "builds of this repository that run at once" },
	{ .key = "release_variables", .kind = S_BOOL,
	    FIELD(struct repo_conf, release_variables), .def = "false",
	    .doc = "a release tag may deploy a build whose push (or run by "
	    "hand) had variables; by default it takes the newest healthy "
	    "staged build that had none" },
	{ .key = "notes", .kind = S_BOOL, FIELD(struct repo_conf, notes),
	    .def = "true",
	    .doc = "record each ended build and deployment as a git note of "
	    "its commit under `refs/notes/runner`" },
	{ .key = "isolate", .kind = S_TRISTATE,
	    FIELD(struct repo_conf, isolate), .def = "(runner.yml's)",
	    .doc = "this repository's code under bubblewrap" },
	{ .key = "network", .kind = S_TRISTATE,
	    FIELD(struct repo_conf, network), .def = "(runner.yml's)",
	    .doc = "and with the network" },
	{ .key = "variables", .kind = S_STRV,
	    FIELD(struct repo_conf, variables),
	    COUNT(struct repo_conf, nvariables), .def = "(none)",
	    .type_doc = "list of patterns",
	    .doc = "the variables a push (`git push -o ci.variable=NAME=VALUE`) "
	    "or `runner run --var` may give this repository's builds: each a "
	    "pcre2 pattern on the whole name, like `LEVEL` or `FEATURE_.*`; "
	    "names the loader, glibc, a shell, git or an interpreter read at "
	    "start-up (`LD_*`, `BASH_ENV`, `GIT_*`...) are refused even when "
	    "listed" },
	SFIELD_END
};

/* A repository's `variables`: each compiles, and a name written out (not
 * a pattern) is not one no push may set. */
static int check_variables(const struct sread *r, const struct ynode *map,
    const struct repo_conf *rc)
{
	const struct ynode *list = ynode_get(map, "variables");

	for (size_t i = 0; i < rc->nvariables; i++) {
		const char *v = rc->variables[i], *why;
		const struct ynode *at = list && i < list->n ? list->items[i] :
		    map;
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)v,
		    PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);

		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			return error_set(ERR_INVALID, "%s:%zu:%zu: bad pattern "
			    "'%s' in 'variables' of '%s': %s at offset %zu",
			    r->file, at->line, at->col, v, rc->path,
			    (const char *)msg, (size_t)off);
		}
		pcre2_code_free(re);
		if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_") == strlen(v) && (why = envvar_reserved(v)))
			return error_set(ERR_INVALID, "%s:%zu:%zu: variable '%s' in "
			    "'variables' of '%s' can never come from a push: %s "
			    "(set it in the pipeline's env: instead)", r->file,
			    at->line, at->col, v, rc->path, why);
	}
	return 0;
}

/* A path as written, without trailing slashes. */
static int check_repo(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct repo_conf *rc = obj;
	size_t n = strlen(rc->path);

	while (n > 1 && rc->path[n - 1] == '/')
		rc->path[--n] = '\0';
	/* not given: staging from develop */
	if (!ynode_get(map, "auto_deploy")) {
		auto_deploy_free(rc);
		rc->auto_deploy = xcalloc(2, sizeof(char *));
		rc->auto_deploy_branches = xcalloc(2, sizeof(char *));
		rc->auto_deploy[0] = xstrdup("staging");
		rc->auto_deploy_branches[0] = xstrdup(DEFAULT_BRANCHES);
		rc->nauto_deploy = 1;
	}
	return check_variables(r, map, rc);
}

static const struct schema repo_schema = {
	.name = "repos", .fields = repo_fields, .rel = REL_TERSE,
	.size = sizeof(struct repo_conf),
	.line_at = SLINE(struct repo_conf, line),
	.entry = "a 'repos' entry", .check = check_repo,
	.free = repo_conf_release,
	.doc = "One entry per bare repository; one that is not listed "
	    "triggers on `" DEFAULT_BRANCHES "` with the defaults below.",
};

static int check_grant(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct env_grant *g = obj;
	const struct ynode *x = ynode_get(map, "paths");

	for (size_t j = 0; j < g->npaths; j++)
		if (g->paths[j][0] != '/' || strstr(g->paths[j], ".."))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'paths' of %s: "
			    "'%s' must be an absolute path without '..'", r->file,
			    x->line, x->col, r->what, g->paths[j]);
	g->signed_tag = g->signed_tag == 1;
	x = ynode_get(map, "runs_on");
	for (size_t j = 0; j < g->nruns_on; j++)
		if (!label_valid(g->runs_on[j]))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'runs_on' of %s: "
			    "bad host label '%s' (lowercase letters, digits, '.', "
			    "'_' and '-', like deploy)", r->file, x->line, x->col,
			    r->what, g->runs_on[j]);
	return 0;
}

static const struct sfield grant_fields[] = {
	{ .key = "user", .kind = S_STR, FIELD(struct env_grant, user),
	    .def = "(build_user; release_user for signed-tag environments)",
	    .doc = "who runs its commands (the daemon as root)" },
	{ .key = "paths", .kind = S_STRV, FIELD(struct env_grant, paths),
	    COUNT(struct env_grant, npaths),
	    .doc = "absolute folders its commands may write" },
	{ .key = "requires", .kind = S_CHOICE,
	    FIELD(struct env_grant, signed_tag), .choices = "signed-tag",
	    .doc = "a verified release tag (production always)" },
	{ .key = "runs_on", .kind = S_STRV, FIELD(struct env_grant, runs_on),
	    COUNT(struct env_grant, nruns_on), .def = "(any host)",
	    .doc = "labels the host of its deployments must have (`host: "
	    "labels`), like `deploy`" },
	{ .key = "url", .kind = S_STR, FIELD(struct env_grant, url),
	    .flags = S_URL, .choices = "http https",
	    .def = "(the pipeline's)",
	    .doc = "the environment's URL as the server knows it: its `http` "
	    "checks then reach its host and port only, whatever the "
	    "pipeline's `url` says" },
	{ .key = "check_hosts", .kind = S_STRV,
	    FIELD(struct env_grant, check_hosts),
	    COUNT(struct env_grant, ncheck_hosts),
	    .def = "(only the host and port of its `url`)",
	    .type_doc = "list of HOST:PORT",
	    .doc = "what the pipeline's `http` checks of this environment may "
	    "reach besides its `url`'s host and port; never the web page's "
	    "port" },
	{ .key = "serve_users", .kind = S_STRV,
	    FIELD(struct env_grant, serve_users),
	    COUNT(struct env_grant, nserve_users),
	    .def = "(none: only the services its deployments started)",
	    .doc = "users whose listening sockets on its `url`'s port on this "
	    "machine count as the environment's (a proxy in front of it, a "
	    "service the system runs); never a build user" },
	SFIELD_END
};
static const struct schema grant_schema = {
	.name = "environments", .fields = grant_fields, .rel = REL_OF,
	.size = sizeof(struct env_grant),
	.name_off = offsetof(struct env_grant, name),
	.line_at = SLINE(struct env_grant, line),
	.what = "environment '%s'", .check = check_grant,
	.doc = "What the commands of an environment may use, besides their "
	    "release and state folder.",
};

/* ---- secrets: NAME: VALUE, or NAME: {value|file, scope} ---- */

static int read_secret_file(const struct sread *r, const struct ynode *f,
    void *obj)
{
	struct secret *sc = obj;
	struct sbuf buf = SBUF_INIT;

	if (f->type != YNODE_SCALAR || f->value[0] != '/')
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'file' of secret '%s' "
		    "must be an absolute path", r->file, f->line, f->col,
		    sc->name);
	if (read_file(f->value, 1024 * 1024, &buf) < 0) {
		sbuf_release(&buf);
		return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s': cannot "
		    "read '%s'", r->file, f->line, f->col, sc->name, f->value);
	}
	while (buf.len && buf.buf[buf.len - 1] == '\n')
		buf.buf[--buf.len] = '\0';
	free(sc->value);
	sc->value = sbuf_detach(&buf);
	free(sc->file);
	sc->file = xstrdup(f->value);
	return 0;
}

static int check_secret(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct secret *sc = obj;

	if (!!ynode_get(map, "value") == !!ynode_get(map, "file"))
		return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s' needs "
		    "exactly one of 'value' and 'file'", r->file, map->line,
		    map->col, sc->name);
	return 0;
}

static const struct sfield secret_fields[] = {
	{ .key = "value", .kind = S_STR, FIELD(struct secret, value),
	    .flags = S_SECRET, .doc = "the value itself" },
	{ .key = "file", .kind = S_CUSTOM, .read = read_secret_file,
	    .type_doc = "absolute path",
	    .doc = "read when runner.yml is loaded (a trailing newline is "
	    "dropped); keep it mode 0600" },
	{ .key = "environments", .kind = S_STRV, FIELD(struct secret, envs),
	    COUNT(struct secret, nenvs),
	    .def = "(any; with a list, build stages never)",
	    .doc = "commands of these environments only" },
	{ .key = "refs", .kind = S_PATTERN, FIELD(struct secret, refs),
	    .def = "(any)", .doc = "on the job's ref (`refs/tags/v1.2.3`)" },
	{ .key = "repos", .kind = S_PATTERN, FIELD(struct secret, repos),
	    .def = "(any)", .doc = "on the repository's path" },
	SFIELD_END
};
static const struct schema secret_schema = {
	.name = "secrets", .fields = secret_fields, .rel = REL_OF,
	.check = check_secret,
	.doc = "`NAME: VALUE`, or `NAME:` a mapping; a name must be a "
	    "variable name.",
};

/* A secret's name is given as a variable: it must be one. */
static int valid_var_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int read_secrets(const struct sread *r, const struct ynode *n,
    void *obj)
{
	struct config *c = obj;
	int error;

	if ((error = ynode_want(r->file, n, YNODE_MAP, "secrets",
	    "runner.yml")) < 0)
		return error;
	c->secrets = xcalloc(n->n / 2 + 1, sizeof(*c->secrets));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->items[i], *v = n->items[i + 1];
		struct secret *sc = &c->secrets[c->nsecrets++];
		char what[160];

		sc->name = xstrdup(k->value);
		if (!valid_var_name(k->value))
			return error_set(ERR_INVALID, "%s:%zu:%zu: secret name '%s' "
			    "is not a variable name (letters, digits and _, not "
			    "starting with a digit)", r->file, k->line, k->col,
			    k->value);
		if (v->type == YNODE_SCALAR && v->plain != 2) {
			sc->value = xstrdup(v->value);
			continue;
		}
		if (v->type != YNODE_MAP)
			return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s' must "
			    "be a string or {file: PATH} (with environments, refs "
			    "or repos to scope it)", r->file, v->line, v->col,
			    k->value);
		snprintf(what, sizeof(what), "secret '%s'", k->value);
		if ((error = schema_read(r->file, v, &secret_schema, what,
		    sc)) < 0)
			return error;
	}
	return 0;
}

/* ---- notify: one entry per target ---- */

static const char *const service_keys[] = {
	[NOTIFY_SLACK] = "slack", [NOTIFY_PAGERDUTY] = "pagerduty",
	[NOTIFY_EMAIL] = "email", [NOTIFY_WEBHOOK] = "webhook",
};

/* Is `url` a URL of one of `schemes`? Values may be secret (tokens in
 * URLs): messages name the field, never the value. */
static int check_url(const char *file, const struct ynode *n,
    const char *key, const char *what, const char *schemes, const char *url)
{
	if (url_scheme_in(url, schemes))
		return 0;
	return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be a URL "
	    "(scheme one of: %s)", file, n->line, n->col, key, what, schemes);
}

static const struct sfield pagerduty_fields[] = {
	{ .key = "routing_key", .kind = S_STR,
	    FIELD(struct notify_target, secret),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET,
	    .doc = "the integration's key" },
	{ .key = "url", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .def = "https://events.pagerduty.com/v2/enqueue",
	    .doc = "the Events API v2 endpoint" },
	SFIELD_END
};
static const struct schema pagerduty_schema = {
	.name = "pagerduty", .fields = pagerduty_fields, .rel = REL_OF,
};

static const struct sfield email_fields[] = {
	{ .key = "smtp", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .doc = "`smtp://HOST:PORT` or `smtps://HOST:PORT` (`user:password@` "
	    "allowed)" },
	{ .key = "from", .kind = S_STR, FIELD(struct notify_target, from),
	    .flags = S_REQUIRED | S_NONEMPTY, .doc = "the sender" },
	{ .key = "to", .kind = S_STRV, FIELD(struct notify_target, to),
	    COUNT(struct notify_target, nto), .flags = S_REQUIRED,
	    .doc = "the recipients" },
	{ .key = "username", .kind = S_STR,
	    FIELD(struct notify_target, username),
	    .flags = S_NONEMPTY | S_SECRET, .doc = "SMTP login" },
	{ .key = "password", .kind = S_STR,
	    FIELD(struct notify_target, password),
	    .flags = S_NONEMPTY | S_SECRET, .doc = "SMTP login" },
	{ .key = "starttls", .kind = S_CHOICE,
	    FIELD(struct notify_target, starttls_optional),
	    .choices = "required optional", .def = "required",
	    .doc = "with a login, an `smtp://` server must offer STARTTLS unless "
	    "`optional`, so a password never travels in clear by accident" },
	SFIELD_END
};
static const struct schema email_schema = {
	.name = "email", .fields = email_fields, .rel = REL_OF,
};

static const struct sfield webhook_fields[] = {
	{ .key = "url", .kind = S_STR, FIELD(struct notify_target, url),
	    .flags = S_REQUIRED | S_NONEMPTY | S_SECRET, .type_doc = "URL",
	    .doc = "where events are POSTed" },
	{ .key = "secret", .kind = S_STR, FIELD(struct notify_target, secret),
	    .flags = S_NONEMPTY | S_SECRET,
	    .doc = "key of the `X-Runner-Signature` HMAC-SHA256" },
	SFIELD_END
};
static const struct schema webhook_schema = {
	.name = "webhook", .fields = webhook_fields, .rel = REL_OF,
};

static const struct schema *const service_schemas[] = {
	[NOTIFY_SLACK] = NULL, [NOTIFY_PAGERDUTY] = &pagerduty_schema,
	[NOTIFY_EMAIL] = &email_schema, [NOTIFY_WEBHOOK] = &webhook_schema,
};

/* slack, pagerduty, email, webhook: exactly one per entry. */
static int read_service(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct notify_target *t = obj;
	const char *key = r->field->key;
	enum notify_service s = NOTIFY_SLACK;
	int error;

	while (strcmp(service_keys[s], key))
		s++;
	if (t->has_service)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s names more than one "
		    "service ('%s' and '%s')", r->file, v->line, v->col, r->what,
		    service_keys[t->service], key);
	t->has_service = 1;
	t->service = s;
	if (v->type == YNODE_SCALAR &&
	    (s == NOTIFY_SLACK || s == NOTIFY_WEBHOOK)) {
		t->url = xstrdup(v->value);
		return check_url(r->file, v, key, r->what, "https http", t->url);
	}
	if (s == NOTIFY_SLACK || v->type != YNODE_MAP)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be %s",
		    r->file, v->line, v->col, key, r->what,
		    s == NOTIFY_SLACK ? "the webhook URL" :
		    s == NOTIFY_WEBHOOK ? "a URL or {url, secret}" : "a mapping");
	char *what = xasprintf("'%s'", key);
	schema_defaults(service_schemas[s], t);
	if ((error = schema_read(r->file, v, service_schemas[s], what,
	    t)) == 0)
		error = check_url(r->file, v, s == NOTIFY_EMAIL ? "smtp" : "url",
		    what, s == NOTIFY_EMAIL ? "smtp smtps" : "https http", t->url);
	t->starttls_optional = t->starttls_optional == 2;
	free(what);
	return error;
}

static int check_notify(const struct sread *r, const struct ynode *map,
    void *obj)
{
	struct notify_target *t = obj;
	const struct ynode *v = ynode_get(map, "on");

	if (!t->has_service)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s needs one of "
		    "'slack', 'pagerduty', 'email' or 'webhook'", r->file,
		    map->line, map->col, r->what);
	for (size_t i = 0; i < t->non; i++) {
		const char *k = t->on[i];
		if (!strcmp(k, "all") || word_in(NOTIFY_EVENTS, k))
			continue;
		const struct ynode *at = v->type == YNODE_SEQ && i < v->n ?
		    v->items[i] : v;
		return error_set(ERR_INVALID, "%s:%zu:%zu: unknown event '%s' in "
		    "'on' of %s (events: %s, all)", r->file, at->line, at->col,
		    k, r->what, NOTIFY_EVENTS);
	}
	return 0;
}

static void free_notify(void *elem)
{
	struct notify_target *t = elem;

	free(t->url);
	free(t->secret);
	free(t->username);
	free(t->password);
	free(t->from);
	strv_free(t->to);
}

static const struct sfield notify_fields[] = {
	{ .key = "name", .kind = S_STR, FIELD(struct notify_target, name),
	    .flags = S_REQUIRED | S_NONEMPTY,
	    .doc = "unique; used by `runner notify test NAME`, in `status` "
	    "and `show`" },
	{ .key = "slack", .kind = S_CUSTOM, .read = read_service,
	    .type_doc = "URL", .doc = "a Slack incoming webhook" },
	{ .key = "pagerduty", .kind = S_CUSTOM, .read = read_service,
	    .sub = &pagerduty_schema, .type_doc = "mapping",
	    .doc = "PagerDuty Events API v2" },
	{ .key = "email", .kind = S_CUSTOM, .read = read_service,
	    .sub = &email_schema, .type_doc = "mapping", .doc = "SMTP" },
	{ .key = "webhook", .kind = S_CUSTOM, .read = read_service,
	    .sub = &webhook_schema, .type_doc = "URL or mapping",
	    .doc = "a JSON POST; with a `secret` every request is signed" },
	{ .key = "on", .kind = S_STRV, FIELD(struct notify_target, on),
	    COUNT(struct notify_target, non),
	    .def = "[job_failed, job_error, job_fixed, deploy_failed, "
	    "rolled_back, rejected]",
	    .type_doc = "event or list of events",
	    .doc = "the events it hears (`" NOTIFY_EVENTS "`, or `all`)" },
	{ .key = "repos", .kind = S_PATTERN, FIELD(struct notify_target, repos),
	    .def = "(any)", .doc = "only repositories whose path, name (the "
	    "last path component without `.git`) or name as status shows it "
	    "(fixed when the runner first sees it: `b/zlib` for a second "
	    "`zlib`) matches" },
	{ .key = "retries", .kind = S_INT, FIELD(struct notify_target, retries),
	    .min = 0, .max = 100, .def = "6",
	    .doc = "attempts after the first" },
	{ .key = "backoff", .kind = S_DURATION,
	    FIELD(struct notify_target, backoff_ms), .def = "2s",
	    .doc = "the first wait between attempts; it doubles" },
	SFIELD_END
};
static const struct schema notify_schema = {
	.name = "notify", .fields = notify_fields, .rel = REL_OF,
	.size = sizeof(struct notify_target),
	.line_at = SLINE(struct notify_target, line),
	.entry = "a 'notify' entry", .what = "notify '%s'", .name_key = "name",
	.check = check_notify, .free = free_notify,
	.doc = "Where events are announced: one entry per target, with "
	    "exactly one of `slack`, `pagerduty`, `email`, `webhook`.",
};

/* Two entries with one name: the second is refused. */
static int read_notify(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct config *c = obj;
	struct sfield f = *r->field;
	struct sread nr = *r;
	int error;

	f.kind = S_LIST;
	f.off = offsetof(struct config, notify);
	f.count_off = offsetof(struct config, nnotify);
	nr.field = &f;
	if ((error = schema_read_field(&nr, v, obj)) < 0)
		return error;
	for (size_t i = 0; i < c->nnotify; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->notify[j].name, c->notify[i].name))
				return error_set(ERR_INVALID, "%s:%zu:%zu: two "
				    "'notify' entries are named '%s' (lines %zu and "
				    "%zu)", r->file, c->notify[i].line,
				    v->items[i]->col, c->notify[i].name,
				    c->notify[j].line, c->notify[i].line);
	return 0;
}

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
	    .doc = "jobs run at once (`serve --workers` overrides)" },
	{ .key = "max_running", .kind = S_INT, FIELD(struct config, max_running),
	    .min = 1, .max = 4096,
	    .def = "(all the workers but one, when there is another repository)",
	    .doc = "builds of one repository that run at once, on all hosts "
	    "together; deployments are not counted (a `repos` entry may set "
	    "its own)" },
	{ .key = "default_timeout", .kind = S_DURATION,
	    FIELD(struct config, default_timeout_ms), .min = 1000, .def = "30m",
	    .doc = "timeout of a stage that sets none (a stage always has one)" },
	{ .key = "max_timeout", .kind = S_DURATION,
	    FIELD(struct config, max_timeout_ms), .min = 1000, .def = "6h",
	    .doc = "no stage, environment command or check runs longer, "
	    "whatever its pipeline's `timeout` says" },
	{ .key = "kill_grace", .kind = S_DURATION,
	    FIELD(struct config, kill_grace_ms), .def = "5s",
	    .doc = "SIGTERM to SIGKILL for a stage being ended" },
	{ .key = "shutdown_grace", .kind = S_DURATION,
	    FIELD(struct config, shutdown_grace_ms), .def = "30s",
	    .doc = "on SIGTERM, how long running stages may still run" },
	{ .key = "idle_exit", .kind = S_DURATION,
	    FIELD(struct config, idle_exit_ms), .def = "60s",
	    .doc = "a worker or the notifier with nothing to do for this "
	    "long since its last work leaves (0: they stay)" },
	{ .key = "store", .kind = S_STR, FIELD(struct config, store),
	    .doc = "`postgresql://...`: the store is this PostgreSQL database, "
	    "shared by build hosts ([operations.md](operations.md#"
	    "postgresql)); unset: SQLite in the home" },
	{ .key = "wait_timeout", .kind = S_DURATION,
	    FIELD(struct config, wait_timeout_ms), .min = 1000, .def = "10m",
	    .doc = "how long `git push -o ci.wait` follows its jobs" },
	{ .key = "supersede", .kind = S_BOOL, FIELD(struct config, supersede),
	    .def = "true", .doc = "record older queued pushes of a ref "
	    "`superseded`" },
	{ .key = "keep_workspaces", .kind = S_BOOL,
	    FIELD(struct config, keep_workspaces), .def = "false",
	    .doc = "keep `work/JOB` after the job ends" },
	{ .key = "path", .kind = S_STR, FIELD(struct config, path_env),
	    .def = "/usr/local/bin:/usr/bin:/bin", .doc = "`PATH` of stages" },
	{ .key = "repos", .kind = S_LIST, FIELD(struct config, repos),
	    COUNT(struct config, nrepos), .sub = &repo_schema,
	    .doc = "the repositories and what triggers and signs" },
	{ .key = "secrets", .kind = S_CUSTOM, .read = read_secrets,
	    .sub = &secret_schema, .type_doc = "mapping of names to secrets",
	    .doc = "given to stages and environments that name them" },
	{ .key = "notify", .kind = S_CUSTOM, .read = read_notify,
	    .sub = &notify_schema, .type_doc = "list of mappings",
	    .doc = "where events are announced ([notify.md](notify.md))" },
	{ .key = "limits", .kind = S_MAP, FIELD(struct config, limits),
	    .sub = &config_limits_schema,
	    .doc = "rlimits of stages that set none" },
	{ .key = "schedules", .kind = S_LIST, FIELD(struct config, schedules),
	    COUNT(struct config, nschedules), .sub = &schedule_schema,
	    .doc = "builds at set times ([operations.md](operations.md#"
	    "schedules))" },
	{ .key = "http", .kind = S_MAP, FIELD(struct config, http),
	    .sub = &http_schema,
	    .doc = "the web page ([operations.md](operations.md#the-web-page))" },
	{ .key = "host", .kind = S_MAP, FIELD(struct config, host),
	    .sub = &host_schema,
	    .doc = "this machine as a build host ([operations.md](operations."
	    "md#build-hosts-and-leases))" },
	{ .key = "retention", .kind = S_MAP, FIELD(struct config, retention),
	    .sub = &retention_schema,
	    .doc = "what `runner gc` keeps ([operations.md](operations.md#"
	    "retention))" },
	{ .key = "log_cap", .kind = S_SIZE, FIELD(struct config, log_cap),
	    .min = 4096, .def = "64M",
	    .doc = "bytes kept of each stage's log; more is dropped, with a "
	    "note" },
	{ .key = "disk", .kind = S_MAP, FIELD(struct config, disk),
	    .sub = &config_disk_schema,
	    .doc = "what one job may take of the home's disk: workspace, logs, "
	    "artifacts" },
	{ .key = "isolate", .kind = S_BOOL, FIELD(struct config, isolate),
	    .def = "true", .doc = "repository code under bubblewrap; `false`: "
	    "on the host, as the worker's build user (a daemon that is not "
	    "root has none, and confines it anyway unless "
	    "`trust_repositories`)" },
	{ .key = "network", .kind = S_BOOL, FIELD(struct config, network),
	    .def = "true", .doc = "and with the network" },
	{ .key = "build_user", .kind = S_STR, FIELD(struct config, build_user),
	    .def = DEFAULT_BUILD_USER,
	    .doc = "who runs repository code when the daemon is root: each "
	    "worker's build stages as this name and its number "
	    "(`runner-build-0`, `runner-build-1`...), the commands of "
	    "environments without a user of their own as this user" },
	{ .key = "release_user", .kind = S_STR,
	    FIELD(struct config, release_user), .def = DEFAULT_RELEASE_USER,
	    .doc = "who runs the commands of environments that need a signed "
	    "tag" },
	{ .key = "trust_repositories", .kind = S_BOOL,
	    FIELD(struct config, trust_repositories), .def = "false",
	    .doc = "`true`: repository code (build stages, and the commands "
	    "of every environment, production's too) runs as the daemon's own "
	    "user, root when it runs as root, and `serve` starts without the "
	    "build and release users or a working bubblewrap; it stays under "
	    "bubblewrap unless `isolate` is `false` too. Only for a server "
	    "whose every pusher you trust with what that user can read "
	    "([operations.md](operations.md#security-model))" },
	{ .key = "environments", .kind = S_DICT, FIELD(struct config, envs),
	    COUNT(struct config, nenvs), .sub = &grant_schema,
	    .doc = "what an environment's commands may use" },
	SFIELD_END
};
const struct schema config_schema = {
	.name = "runner.yml", .fields = config_fields, .rel = REL_TERSE,
	.check = check_config,
};

int config_parse(const char *file, const char *buf, size_t len,
    struct config **out)
{
	struct config *c = xcalloc(1, sizeof(*c));
	struct ynode *root = NULL;
	int error;

	*out = NULL;
	schema_defaults(&config_schema, c);
	if (len && (error = ynode_parse(file, buf, len, &root)) < 0)
		goto out;
	if (root && root->type != YNODE_MAP) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: must be a mapping, "
		    "not %s", file, root->line, root->col, ynode_type_name(root));
		goto out;
	}
	if (root && (error = schema_read(file, root, &config_schema,
	    "runner.yml", c)) < 0)
		goto out;
	*out = c;
	c = NULL;
	error = 0;
out:
	config_free(c);
	ynode_free(root);
	return error;
}

/* Read and parse `path`, a missing file giving the defaults; what was
 * read is left in `buf`. */
static int load_file(const char *path, struct sbuf *buf, struct config **out)
{
	int error = read_file(path, CONFIG_MAX, buf);

	*out = NULL;
	if (error == ERR_NOTFOUND)
		error = 0;
	if (error == 0)
		error = config_parse(path, buf->buf, buf->len, out);
	return error;
}

int config_load(const char *home, struct config **out)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE);
	struct sbuf buf = SBUF_INIT;
	int error = load_file(path, &buf, out);

	sbuf_release(&buf);
	free(path);
	return error;
}

int config_load_keep(const char *home, struct config **out)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE), *real, *kept;
	struct sbuf buf = SBUF_INIT;
	int error = load_file(path, &buf, out);

	if (error == 0 && (error = config_check_files(path, *out)) < 0) {
		config_free(*out);
		*out = NULL;
	}
	if (error < 0)
		goto out;
	/* the very bytes parsed, not the file read again: it may have
	 * changed since; in the home's real folder, as runner init writes
	 * runner.yml (the home may be a link) */
	real = realpath(home, NULL);
	kept = xasprintf("%s/%s", real ? real : home, CONFIG_KEPT_FILE);
	if (write_file_atomic(kept, buf.buf, buf.len, 0600) < 0)
		error = 1;
	free(kept);
	free(real);
out:
	sbuf_release(&buf);
	free(path);
	return error;
}

int config_check_file(const char *path, struct config **out)
{
	struct sbuf buf = SBUF_INIT;
	int error = read_file(path, CONFIG_MAX, &buf);

	*out = NULL;
	if (error == 0 && (error = config_parse(path, buf.buf, buf.len,
	    out)) == 0 && (error = config_check_files(path, *out)) < 0) {
		config_free(*out);
		*out = NULL;
	}
	sbuf_release(&buf);
	return error;
}

int config_load_kept(const char *home, struct config **out, char **warning)
{
	char *kept, *why;
	struct sbuf buf = SBUF_INIT;
	int error;

	*warning = NULL;
	if ((error = config_load(home, out)) == 0)
		return 0;
	why = xstrdup(error_last());
	kept = xasprintf("%s/%s", home, CONFIG_KEPT_FILE);
	/* none kept (the daemon never started), or unreadable like the file
	 * itself: the error is runner.yml's */
	if (read_file(kept, CONFIG_MAX, &buf) < 0 ||
	    config_parse(kept, buf.buf, buf.len, out) < 0) {
		error = error_set(error, "%s", why);
		goto out;
	}
	*warning = xasprintf("%s; the runner keeps the configuration it last "
	    "loaded: correct the file ('runner check --config' names the "
	    "line), then reload the daemon", why);
	error = 0;
out:
	sbuf_release(&buf);
	free(kept);
	free(why);
	return error;
}

char *config_host_name(const struct config *c)
{
	char name[256];

	if (c->host.name)
		return xstrdup(c->host.name);
	if (gethostname(name, sizeof(name)) < 0)
		return xstrdup("localhost");
	name[sizeof(name) - 1] = '\0';
	return xstrdup(name);
}

char *config_host_labels(const struct config *c)
{
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; i < c->host.nlabels; i++)
		sbuf_addf(&sb, "%s%s", i ? "," : "", c->host.labels[i]);
	return sbuf_detach(&sb);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	schema_free(&config_schema, c);
	for (size_t i = 0; i < c->retention.ndeployments_of; i++)
		free(c->retention.deployments_of[i].env);
	free(c->retention.deployments_of);
	for (size_t i = 0; i < c->nsecrets; i++) {
		schema_free(&secret_schema, &c->secrets[i]);
		free(c->secrets[i].name);
		free(c->secrets[i].file);
	}
	free(c->secrets);
	for (size_t i = 0; i < c->nnotify; i++) {
		free_notify(&c->notify[i]);
		schema_free(&notify_schema, &c->notify[i]);
	}
	free(c->notify);
	free(c);
}

int config_store_url_valid(const char *v)
{
	return !strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11);
}

/* The `store` key of runner.yml at `path` (its copy) in *url, NULL when
 * unset; a missing file is ERR_NOTFOUND. Reads only that key. */
static int store_key(const char *path, char **url)
{
	struct sbuf buf = SBUF_INIT;
	struct ynode *root = NULL;
	const struct ynode *v;
	int error;

	*url = NULL;
	if ((error = read_file(path, CONFIG_MAX, &buf)) == 0 && buf.len &&
	    (error = ynode_parse(path, buf.buf, buf.len, &root)) == 0 &&
	    root && root->type == YNODE_MAP && (v = ynode_get(root, "store"))) {
		if (v->type != YNODE_SCALAR || !config_store_url_valid(v->value))
			error = error_set(ERR_INVALID, "%s:%zu:%zu: 'store' must "
			    "be a postgresql:// URL, or unset for SQLite in the "
			    "home", path, v->line, v->col);
		else
			*url = xstrdup(v->value);
	}
	ynode_free(root);
	sbuf_release(&buf);
	return error;
}

int config_store_url(const char *home, char **url)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE), *kept = NULL;
	int error;

	*url = NULL;
	if ((error = store_key(path, url)) == ERR_NOTFOUND) {
		error = 0;
	} else if (error < 0) {
		/* a broken runner.yml keeps the store the daemon last loaded
		 * (config_load_keep), so that it goes on serving */
		kept = xasprintf("%s/%s", home, CONFIG_KEPT_FILE);
		char *why = xstrdup(error_last());
		if (store_key(kept, url) < 0)
			error = error_set(error, "%s", why);
		else
			error = 0;
		free(why);
	}
	free(kept);
	free(path);
	return error;
}

int config_check_files(const char *file, const struct config *c)
{
	for (size_t i = 0; i < c->nrepos; i++) {
		const struct repo_conf *rc = &c->repos[i];
		const char *key[] = { "allowed_signers", "gpg_keyring" };
		const char *path[] = { rc->allowed_signers, rc->gpg_keyring };
		for (int k = 0; k < 2; k++)
			if (path[k] && access(path[k], R_OK) < 0)
				return error_set(ERR_INVALID, "%s:%zu: '%s' of %s: "
				    "cannot read '%s': %s", file, rc->line,
				    key[k], rc->path, path[k], strerror(errno));
	}
	return 0;
}

const struct repo_conf *config_repo(const struct config *c,
    const char *repo_path)
{
	static char *staging[] = { "staging", NULL };
	static char *develop[] = { DEFAULT_BRANCHES, NULL };
	static const struct repo_conf defaults = {
		.branches = DEFAULT_BRANCHES,
		.release_tags = DEFAULT_RELEASE_TAGS,
		.auto_deploy = staging,
		.auto_deploy_branches = develop,
		.nauto_deploy = 1,
		.require_staging = 1,
		.notes = 1,
		.isolate = -1,
		.network = -1,
	};

	for (size_t i = 0; i < c->nrepos; i++)
		if (!strcmp(c->repos[i].path, repo_path))
			return &c->repos[i];
	return &defaults;
}

/* Does pcre2 `pattern` match `subject`, with the ref patterns' bounds
 * (refmatch.h)? A pattern that backtracks past them does not. With
 * `whole`, it must match all of `subject`. */
static int pattern_matches(const char *pattern, const char *subject,
    int whole)
{
	struct ref_matcher m;
	char *anchored = whole ? xasprintf("^(?:%s)$", pattern) : NULL;
	int rc = 0;

	if (ref_matcher_init(&m, anchored ? anchored : pattern, NULL) == 0) {
		rc = ref_matcher_match(&m, subject, NULL) == 1;
		ref_matcher_release(&m);
	}
	free(anchored);
	return rc;
}

int config_auto_deploys(const struct repo_conf *rc, size_t i,
    const char *ref)
{
	if (i >= rc->nauto_deploy || !ref || strncmp(ref, "refs/heads/", 11))
		return 0;
	return pattern_matches(rc->auto_deploy_branches[i], ref + 11, 0);
}

int config_builds_branch(const struct repo_conf *rc, const char *name)
{
	return pattern_matches(rc->branches, name, 0);
}

int config_variable_allowed(const struct config *c, const char *repo,
    const char *name, char **why)
{
	const struct repo_conf *rc = config_repo(c, repo);
	const char *reserved = envvar_reserved(name);
	struct sbuf list = SBUF_INIT;

	*why = NULL;
	if (reserved) {
		*why = xasprintf("no push may set it: %s", reserved);
		return 0;
	}
	for (size_t i = 0; i < rc->nvariables; i++) {
		if (pattern_matches(rc->variables[i], name, 1)) {
			sbuf_release(&list);
			return 1;
		}
		sbuf_addf(&list, "%s%s", i ? ", " : "", rc->variables[i]);
	}
	if (!rc->nvariables)
		*why = xasprintf("runner.yml lets no push set variables of "
		    "'%s' (list the names under 'variables' of its 'repos' "
		    "entry)", repo);
	else
		*why = xasprintf("runner.yml's 'variables' of '%s' (%s) do not "
		    "name it", repo, list.buf);
	sbuf_release(&list);
	return 0;
}

size_t config_variables_filter(const struct config *c, const char *repo,
    const char *vars, struct sbuf *kept, struct sbuf *refused)
{
	size_t nrefused = 0;

	for (const char *v = vars, *nl; v && *v; v = nl ? nl + 1 : v +
	    strlen(v)) {
		size_t len, klen;
		char *name, *line, *why = NULL;
		const char *bad;

		nl = strchr(v, '\n');
		len = nl ? (size_t)(nl - v) : strlen(v);
		if (!len)
			continue;
		klen = strcspn(v, "=\n");
		name = xstrndup(v, klen);
		line = xstrndup(v, len);
		/* a reserved name is said as config_variable_allowed() says
		 * it */
		if ((bad = envvar_why(line)) && !envvar_reserved(name))
			why = xstrdup(bad);
		if (!why && config_variable_allowed(c, repo, name, &why)) {
			sbuf_add(kept, v, len);
			sbuf_addch(kept, '\n');
		} else {
			sbuf_addf(refused, "variable '%.64s' refused: %s\n", name,
			    why ? why : "not NAME=VALUE");
			nrefused++;
		}
		free(line);
		free(why);
		free(name);
	}
	return nrefused;
}

const char *config_secret(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nsecrets; i++)
		if (!strcmp(c->secrets[i].name, name))
			return c->secrets[i].value;
	return NULL;
}

const struct secret *config_secret_def(const struct config *c,
    const char *name)
{
	for (size_t i = 0; i < c->nsecrets; i++)
		if (!strcmp(c->secrets[i].name, name))
			return &c->secrets[i];
	return NULL;
}


int secret_allowed(const struct secret *s, const char *env, const char *ref,
    const char *repo, char **why)
{
	int env_ok = !s->nenvs;

	for (size_t i = 0; env && i < s->nenvs; i++)
		env_ok |= !strcmp(s->envs[i], env);
	*why = NULL;
	if (env_ok && (!s->refs || pattern_matches(s->refs, ref ? ref : "",
	    0)) && (!s->repos || pattern_matches(s->repos, repo ? repo : "", 0)))
		return 1;
	struct sbuf sb = SBUF_INIT;
	if (s->nenvs) {
		sbuf_adds(&sb, "environments ");
		for (size_t i = 0; i < s->nenvs; i++)
			sbuf_addf(&sb, "%s%s", i ? ", " : "", s->envs[i]);
	}
	if (s->refs)
		sbuf_addf(&sb, "%srefs '%s'", sb.len ? "; " : "", s->refs);
	if (s->repos)
		sbuf_addf(&sb, "%srepos '%s'", sb.len ? "; " : "", s->repos);
	*why = sbuf_detach(&sb);
	return 0;
}

const struct env_grant *config_env(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nenvs; i++)
		if (!strcmp(c->envs[i].name, name))
			return &c->envs[i];
	return NULL;
}

int config_env_signed(const struct config *c, const char *name)
{
	const struct env_grant *g = config_env(c, name);

	return !strcmp(name, "production") || (g && g->signed_tag);
}

int config_isolate(const struct config *c, const char *repo)
{
	int v = config_repo(c, repo)->isolate;

	return v >= 0 ? v : c->isolate;
}

const char *config_trust_how(const struct config *c)
{
	int other = 0;

	for (size_t i = 0; i < c->nrepos; i++)
		other |= c->repos[i].isolate == !c->isolate;
	if (c->isolate)
		return other ? "as the daemon's own user, under bubblewrap, but "
		    "unconfined for the repositories whose entry says isolate: "
		    "false" : "as the daemon's own user, under bubblewrap "
		    "(isolate: false would run it unconfined)";
	return other ? "as the daemon's own user, unconfined (isolate: false) "
	    "but for the repositories whose entry says isolate: true" :
	    "as the daemon's own user, unconfined (isolate: false)";
}

int config_network(const struct config *c, const char *repo)
{
	int v = config_repo(c, repo)->network;

	return v >= 0 ? v : c->network;
}

int config_workers(const struct config *c)
{
	long n = c->workers ? c->workers : sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int config_worker_user(const struct config *c, const char *name)
{
	size_t n = strlen(c->build_user);

	return !strncmp(name, c->build_user, n) && name[n] == '-' &&
	    name[n + 1] && strspn(name + n + 1, "0123456789") ==
	    strlen(name + n + 1);
}

const char **config_private_files(const struct config *c)
{
	const char **v = xcalloc(c->nsecrets + 2 * c->nrepos + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < c->nsecrets; i++)
		if (c->secrets[i].file)
			v[n++] = c->secrets[i].file;
	for (size_t i = 0; i < c->nrepos; i++) {
		if (c->repos[i].allowed_signers)
			v[n++] = c->repos[i].allowed_signers;
		if (c->repos[i].gpg_keyring)
			v[n++] = c->repos[i].gpg_keyring;
	}
	return v;
}

const struct notify_target *config_notify(const struct config *c,
    const char *name)
{
	for (size_t i = 0; i < c->nnotify; i++)
		if (!strcmp(c->notify[i].name, name))
			return &c->notify[i];
	return NULL;
}

const char *notify_service_name(enum notify_service s)
{
	return service_keys[s];
}
