/*
 * The schema of what runner.yml says of repositories: each repository's
 * patterns, signers and automatic deployments (`repos`), what an
 * environment's commands may use (`environments`), and the secrets
 * stages and environments may be given (`secrets`).
 */
#include "config.h"
#include "config_int.h"
#include "envvar.h"
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

const struct schema repo_schema = {
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
	if (!!g->unit + !!g->cgroup + !!g->metrics_url > 1)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s names more than one "
		    "of 'unit', 'cgroup' and 'metrics' (the verification window "
		    "measures one)", r->file, map->line, map->col, r->what);
	x = ynode_get(map, "runs_on");
	for (size_t j = 0; j < g->nruns_on; j++)
		if (!label_valid(g->runs_on[j]))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'runs_on' of %s: "
			    "bad host label '%s' (lowercase letters, digits, '.', "
			    "'_' and '-', like deploy)", r->file, x->line, x->col,
			    r->what, g->runs_on[j]);
	return 0;
}

/* `metrics: URL`, or `metrics: {url, cpu, memory}` */
static const struct sfield metrics_fields[] = {
	{ .key = "url", .kind = S_STR, FIELD(struct env_grant, metrics_url),
	    .flags = S_REQUIRED | S_URL, .choices = "http https",
	    .doc = "the application's Prometheus endpoint (text format)" },
	{ .key = "cpu", .kind = S_STR, FIELD(struct env_grant, metrics_cpu),
	    .flags = S_NONEMPTY, .def = "process_cpu_seconds_total",
	    .doc = "a counter of CPU seconds: its rate is the CPU use" },
	{ .key = "memory", .kind = S_STR,
	    FIELD(struct env_grant, metrics_memory), .flags = S_NONEMPTY,
	    .def = "process_resident_memory_bytes",
	    .doc = "a gauge of bytes in memory" },
	SFIELD_END
};
static const struct schema metrics_schema = {
	.name = "metrics", .fields = metrics_fields, .rel = REL_OF,
	.doc = "An environment's `metrics`: a URL alone, or a mapping.",
};

static int series_valid(const char *s)
{
	if (!s)
		return 1;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == '_' || *p == ':' || (p > s && *p >= '0' && *p <= '9')))
			return 0;
	return *s != '\0';
}

static int read_metrics(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_grant *g = obj;
	struct sread nr = *r;
	struct sfield f = metrics_fields[0];
	int error;

	if (v->type == YNODE_SCALAR) {
		f.key = "metrics";
		nr.field = &f;
		error = schema_read_field(&nr, v, obj);
	} else {
		if ((error = ynode_want(r->file, v, YNODE_MAP, "metrics",
		    r->what)) < 0)
			return error;
		error = schema_read(r->file, v, &metrics_schema, r->what, obj);
	}
	if (error < 0)
		return error;
	if (!g->metrics_cpu)
		g->metrics_cpu = xstrdup("process_cpu_seconds_total");
	if (!g->metrics_memory)
		g->metrics_memory = xstrdup("process_resident_memory_bytes");
	if (!series_valid(g->metrics_cpu) || !series_valid(g->metrics_memory))
		return schema_error(r, v, "names a series that is no Prometheus "
		    "metric name (letters, digits, '_' and ':')");
	return 0;
}

static int read_cgroup(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_grant *g = obj;
	const char *p;
	int error;

	if ((error = ynode_want(r->file, v, YNODE_SCALAR, "cgroup",
	    r->what)) < 0)
		return error;
	p = v->value;
	if (!strncmp(p, "/sys/fs/cgroup/", 15))
		p += 15;
	if (!*p || *p == '/' || strstr(p, "..") || strstr(p, "//"))
		return schema_error(r, v, "must be a cgroup folder under "
		    "/sys/fs/cgroup, like /sys/fs/cgroup/system.slice/app.service, "
		    "without '..'");
	free(g->cgroup);
	g->cgroup = xstrdup(p);
	return 0;
}

static int read_unit(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_grant *g = obj;
	const char *p;
	int error;

	if ((error = ynode_want(r->file, v, YNODE_SCALAR, "unit",
	    r->what)) < 0)
		return error;
	for (p = v->value; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_-.@:\\", *p)))
			break;
	if (*p || !*v->value || v->value[0] == '.')
		return schema_error(r, v, "must be a systemd unit name, like "
		    "app.service");
	free(g->unit);
	g->unit = strchr(v->value, '.') ? xstrdup(v->value) :
	    xasprintf("%s.service", v->value);
	return 0;
}

static void grant_release(void *elem)
{
	struct env_grant *g = elem;

	free(g->cgroup);
	free(g->unit);
	free(g->metrics_url);
	free(g->metrics_cpu);
	free(g->metrics_memory);
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
	{ .key = "unit", .kind = S_CUSTOM, .read = read_unit,
	    .type_doc = "systemd unit", .def = "(none)",
	    .doc = "the system unit serving it: the verification window "
	    "measures the CPU and memory of its cgroup (`system.slice/UNIT`)" },
	{ .key = "cgroup", .kind = S_CUSTOM, .read = read_cgroup,
	    .type_doc = "path", .def = "(none)",
	    .doc = "or the cgroup v2 folder it runs in, under /sys/fs/cgroup" },
	{ .key = "metrics", .kind = S_CUSTOM, .read = read_metrics,
	    .type_doc = "URL or mapping", .def = "(none)",
	    .doc = "or the application's Prometheus endpoint, with the series "
	    "of its CPU seconds and memory bytes ([operations.md](operations."
	    "md#resources-in-the-verification-window))" },
	{ .key = "approvals", .kind = S_INT, FIELD(struct env_grant, approvals),
	    .min = 1, .max = 100, .def = "1",
	    .doc = "distinct trusted keys that must approve a release tag's "
	    "commit before it deploys here, the tag's own signer counting as "
	    "one; the others approve with signed tags `RELEASE+approved.NAME` "
	    "([operations.md](operations.md#approvals))" },
	SFIELD_END
};
const struct schema grant_schema = {
	.name = "environments", .fields = grant_fields, .rel = REL_OF,
	.size = sizeof(struct env_grant),
	.name_off = offsetof(struct env_grant, name),
	.line_at = SLINE(struct env_grant, line),
	.what = "environment '%s'", .check = check_grant,
	.free = grant_release,
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
const struct schema secret_schema = {
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

int read_secrets(const struct sread *r, const struct ynode *n,
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
