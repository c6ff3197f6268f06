/*
 * Schema check of `.runner.yml` over the YAML tree. Every message names the
 * file, line, column and field so a pusher can fix it without guessing.
 */
#include "pipeline.h"
#include "config.h"
#include "schema.h"
#include "util.h"
#include "ynode.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the schema of .runner.yml (schema.h) ---- */

#define FIELD(type, m) .off = offsetof(type, m)
#define COUNT(type, m) .count_off = offsetof(type, m)
#define DURATION_HINT "ms, s, m or h, like 1s"

/* `secrets: [NAME, ...]`: names of runner.yml secrets, like variables. */
static int read_secret_names(const struct sread *r, const struct ynode *v,
    char ***out, size_t *n)
{
	int error = ynode_strv(r->file, v, "secrets", r->what, out, n);

	for (size_t i = 0; error == 0 && i < *n; i++) {
		const char *s = (*out)[i];
		size_t ok = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789_");
		if (!*s || s[ok] || (*s >= '0' && *s <= '9')) {
			const struct ynode *it = v->type == YNODE_SEQ ?
			    v->items[i] : v;
			error = error_set(ERR_INVALID, "%s:%zu:%zu: bad secret "
			    "name '%s' in %s (letters, digits and '_', like "
			    "DEPLOY_TOKEN)", r->file, it->line, it->col, s, r->what);
		}
	}
	return error;
}

static int read_labels(const struct sread *r, const struct ynode *v,
    char ***out, size_t *n)
{
	int error = ynode_strv(r->file, v, "runs_on", r->what, out, n);

	for (size_t i = 0; error == 0 && i < *n; i++) {
		if (!label_valid((*out)[i])) {
			const struct ynode *it = v->type == YNODE_SEQ ?
			    v->items[i] : v;
			error = error_set(ERR_INVALID, "%s:%zu:%zu: bad host label "
			    "'%s' in runs_on of %s (lowercase letters, digits, '.', "
			    "'_' and '-', like arm64)", r->file, it->line, it->col,
			    (*out)[i], r->what);
		}
	}
	return error;
}

static int read_stage_labels(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct stage_def *st = obj;

	return read_labels(r, v, &st->runs_on, &st->nruns_on);
}

static int read_pipeline_labels(const struct sread *r,
    const struct ynode *v, void *obj)
{
	struct pipeline *pl = obj;

	return read_labels(r, v, &pl->runs_on, &pl->nruns_on);
}

const char **pipeline_labels(const struct pipeline *pl, size_t *n)
{
	const char **v = xcalloc(1, sizeof(*v));

	*n = 0;
	for (size_t s = 0; s <= pl->nstages; s++) {
		char **l = s < pl->nstages ? pl->stages[s].runs_on : pl->runs_on;
		size_t nl = s < pl->nstages ? pl->stages[s].nruns_on :
		    pl->nruns_on;
		for (size_t i = 0; i < nl; i++) {
			size_t k = 0;
			while (k < *n && strcmp(v[k], l[i]))
				k++;
			if (k < *n)
				continue;
			v = xrealloc(v, (*n + 2) * sizeof(*v));
			v[(*n)++] = l[i];
			v[*n] = NULL;
		}
	}
	return v;
}

static int read_stage_secrets(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct stage_def *st = obj;

	return read_secret_names(r, v, &st->secrets, &st->nsecrets);
}

static int read_env_secrets(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_def *e = obj;

	return read_secret_names(r, v, &e->secrets, &e->nsecrets);
}

static int read_name(const struct sread *r, const struct ynode *v,
    void *obj)
{
	(void)r;
	(void)v;
	(void)obj;
	return 0;	/* read first, by read_stages */
}

static int read_run(const struct sread *r, const struct ynode *v, void *obj)
{
	struct stage_def *st = obj;
	struct sbuf run = SBUF_INIT;
	char **lines;
	size_t nlines;
	int error;

	if ((error = ynode_strv(r->file, v, "run", r->what, &lines,
	    &nlines)) < 0)
		return error;
	for (size_t i = 0; i < nlines; i++) {
		sbuf_adds(&run, lines[i]);
		sbuf_addch(&run, '\n');
	}
	strv_free(lines);
	if (!nlines || strspn(run.buf, " \t\n") == run.len) {
		sbuf_release(&run);
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'run' of %s is empty",
		    r->file, v->line, v->col, r->what);
	}
	st->run = sbuf_detach(&run);
	return 0;
}

static int read_env(const struct sread *r, const struct ynode *n, void *obj)
{
	struct stage_def *st = obj;
	const char *file = r->file, *what = r->what;
	int error;

	if ((error = ynode_want(file, n, YNODE_MAP, "env", what)) < 0)
		return error;
	st->env = xcalloc(n->n / 2 + 1, sizeof(*st->env));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->items[i], *v = n->items[i + 1];
		const char *c = k->value;
		int ok = *c && !(*c >= '0' && *c <= '9');
		for (; *c; c++)
			if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || *c == '_'))
				ok = 0;
		if (!ok)
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: bad variable name '%s' in 'env' of %s",
			    file, k->line, k->col, k->value, what);
		if (!strncmp(k->value, "RUNNER_", 7))
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: 'env' of %s may not set '%s': RUNNER_ "
			    "variables are the runner's", file, k->line, k->col,
			    what, k->value);
		if (v->type != YNODE_SCALAR || v->plain == 2)
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: value of '%s' in 'env' of %s must be a "
			    "string, not %s", file, v->line, v->col, k->value,
			    what, ynode_type_name(v));
		st->env[st->nenv++] = xasprintf("%s=%s", k->value, v->value);
	}
	return 0;
}

static int read_artifacts(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct stage_def *st = obj;
	int error;

	if ((error = ynode_strv(r->file, v, "artifacts", r->what,
	    &st->artifacts, &st->nartifacts)) < 0)
		return error;
	for (size_t i = 0; i < st->nartifacts; i++) {
		const char *g = st->artifacts[i];
		if (!*g || g[0] == '/' || !strcmp(g, "..") ||
		    !strncmp(g, "../", 3) || strstr(g, "/../") ||
		    (strlen(g) >= 3 && !strcmp(g + strlen(g) - 3, "/.."))) {
			const struct ynode *it = v->type == YNODE_SEQ ?
			    v->items[i] : v;
			return error_set(ERR_INVALID, "%s:%zu:%zu: artifact glob "
			    "'%s' in %s must stay inside the tree (no leading '/', "
			    "no '..')", r->file, it->line, it->col, g, r->what);
		}
	}
	return 0;
}

static const struct sfield stage_fields[] = {
	{ .key = "name", .kind = S_CUSTOM, .read = read_name,
	    .flags = S_REQUIRED, .type_doc = "string",
	    .doc = "lowercase letters, digits, `_` and `-`, at most 64; "
	    "unique" },
	{ .key = "run", .kind = S_CUSTOM, .read = read_run,
	    .flags = S_REQUIRED, .type_doc = "string or list of strings",
	    .aliases = "script command commands cmd steps",
	    .doc = "the script (`/bin/sh -e -c`); list items are joined with "
	    "newlines" },
	{ .key = "timeout", .kind = S_DURATION,
	    FIELD(struct stage_def, timeout_ms), .min = 1,
	    .def = "(runner.yml's `default_timeout`)",
	    .doc = "the stage and everything it started are ended when it is "
	    "reached" },
	{ .key = "env", .kind = S_CUSTOM, .read = read_env,
	    .type_doc = "mapping of strings",
	    .doc = "extra variables; a name is `[A-Za-z_][A-Za-z0-9_]*`, not "
	    "`RUNNER_...`" },
	{ .key = "artifacts", .kind = S_CUSTOM, .read = read_artifacts,
	    .type_doc = "glob or list of globs",
	    .doc = "files archived after the stage passes" },
	{ .key = "secrets", .kind = S_CUSTOM, .read = read_stage_secrets,
	    .type_doc = "name or list of names",
	    .doc = "runner.yml `secrets` given to the stage as variables" },
	{ .key = "limits", .kind = S_MAP, FIELD(struct stage_def, limits),
	    .sub = &stage_limits_schema, .def = "(runner.yml's `limits`)",
	    .doc = "rlimits: `processes`, `memory`, `file_size`, "
	    "`open_files`" },
	{ .key = "isolate", .kind = S_TRISTATE,
	    FIELD(struct stage_def, isolate), .def = "(runner.yml's, true)",
	    .doc = "under bubblewrap; `false` only where runner.yml allows it" },
	{ .key = "network", .kind = S_TRISTATE,
	    FIELD(struct stage_def, network), .def = "(runner.yml's, true)",
	    .doc = "with the network; `true` only where runner.yml allows it" },
	{ .key = "only", .kind = S_PATTERN, FIELD(struct stage_def, only),
	    .def = "(every branch)",
	    .doc = "runs only for branches (or tags) whose name matches "
	    "(pcre2, like `^(develop|release/.*)$`); else `skipped`" },
	{ .key = "except", .kind = S_PATTERN, FIELD(struct stage_def, except),
	    .def = "(none)",
	    .doc = "skipped for branches (or tags) whose name matches" },
	{ .key = "runs_on", .kind = S_CUSTOM, .read = read_stage_labels,
	    .type_doc = "label or list of labels", .def = "(any host)",
	    .doc = "the job runs on a host with these labels (runner.yml "
	    "`host: labels`), with those of the other stages" },
	SFIELD_END
};
static const struct schema stage_schema = {
	.name = "stages", .fields = stage_fields, .rel = REL_IN,
	.doc = "Each entry of `stages`, in the order they run.",
};

static int check_check(const struct sread *r, const struct ynode *n,
    void *obj)
{
	struct check_def *c = obj;

	if (!c->http == !c->run)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s needs exactly one "
		    "of 'http' and 'run'", r->file, n->line, n->col, r->what);
	if (c->http && c->http[0] != '/' && strncmp(c->http, "http://", 7) &&
	    strncmp(c->http, "https://", 8)) {
		const struct ynode *v = ynode_get(n, "http");
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'http' '%s' must be a "
		    "path starting with '/' or an http(s):// URL", r->file,
		    v->line, v->col, c->http);
	}
	return 0;
}

static const struct sfield check_fields[] = {
	{ .key = "http", .kind = S_STR, FIELD(struct check_def, http),
	    .flags = S_NONEMPTY, .type_doc = "path or URL",
	    .doc = "GET this (a path is relative to `url`)" },
	{ .key = "expect", .kind = S_INT, FIELD(struct check_def, expect),
	    .min = 100, .max = 599, .def = "200", .doc = "the status" },
	{ .key = "max_latency", .kind = S_DURATION,
	    FIELD(struct check_def, max_latency_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "1s",
	    .doc = "slower answers fail" },
	{ .key = "retries", .kind = S_INT, FIELD(struct check_def, retries),
	    .min = 0, .max = 1000, .def = "10",
	    .doc = "attempts after the first, 0.5 s apart" },
	{ .key = "run", .kind = S_STR, FIELD(struct check_def, run),
	    .flags = S_NONEMPTY, .doc = "a command instead, like a stage" },
	{ .key = "timeout", .kind = S_DURATION,
	    FIELD(struct check_def, timeout_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "(runner.yml's `default_timeout`)",
	    .doc = "of the command" },
	SFIELD_END
};
static const struct schema check_schema = {
	.name = "checks", .fields = check_fields, .rel = REL_IN,
	.size = sizeof(struct check_def),
	.line_at = SLINE(struct check_def, line), .check = check_check,
	.doc = "Each entry of an environment's `checks`: exactly one of "
	    "`http` and `run`.",
};

/* "80%": a percentage above 0, at most `most`. */
static int read_percent(const struct sread *r, const struct ynode *v,
    double most, double *out)
{
	char *end;
	double x;

	if (v->type != YNODE_SCALAR)
		return -1;
	x = strtod(v->value, &end);
	if (end == v->value || strcmp(end, "%") || !(x > 0) || x > most)
		return -1;
	(void)r;
	*out = x;
	return 0;
}

static int read_max_cpu(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct verify_def *vd = obj;

	if (read_percent(r, v, 100000, &vd->max_cpu_pct) < 0)
		return schema_error(r, v, "must be a percentage like 80%% (100%% "
		    "is one CPU, or a cgroup's whole cpu.max quota)");
	return 0;
}

static int read_max_memory(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct verify_def *vd = obj;

	vd->max_memory_pct = 0;
	vd->max_memory_bytes = 0;
	if (v->type == YNODE_SCALAR && strchr(v->value, '%')) {
		if (read_percent(r, v, 100, &vd->max_memory_pct) < 0)
			return schema_error(r, v, "must be a percentage above 0%% "
			    "and at most 100%%, like 80%%");
		return 0;
	}
	if (v->type != YNODE_SCALAR || parse_size(v->value,
	    &vd->max_memory_bytes) < 0 || vd->max_memory_bytes < 1024 * 1024)
		return schema_error(r, v, "must be a percentage like 80%% or a "
		    "size of at least 1M, like 256MB");
	return 0;
}

static const struct sfield verify_fields[] = {
	{ .key = "window", .kind = S_DURATION,
	    FIELD(struct verify_def, window_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "30s",
	    .doc = "how long the http checks are polled" },
	{ .key = "interval", .kind = S_DURATION,
	    FIELD(struct verify_def, interval_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "1s", .doc = "between rounds" },
	{ .key = "max_error_rate", .kind = S_FRACTION,
	    FIELD(struct verify_def, max_error_rate), .def = "0.1%",
	    .doc = "more failed requests fail the deployment" },
	{ .key = "max_latency", .kind = S_DURATION,
	    FIELD(struct verify_def, max_latency_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "1s",
	    .doc = "a slower 95th percentile fails it" },
	{ .key = "max_cpu", .kind = S_CUSTOM, .read = read_max_cpu,
	    .type_doc = "percentage", .def = "(not checked)",
	    .doc = "CPU use above it for 3 samples in a row fails it: 100% is "
	    "one CPU (like top), or a cgroup's whole `cpu.max` quota "
	    "([operations.md](operations.md#resources-in-the-verification-"
	    "window))" },
	{ .key = "max_memory", .kind = S_CUSTOM, .read = read_max_memory,
	    .type_doc = "percentage or size", .def = "(not checked)",
	    .doc = "memory above it for 3 samples in a row fails it: `80%` "
	    "of the cgroup's `memory.max` or of the host's memory, or a size "
	    "like `256MB`" },
	SFIELD_END
};
static const struct schema verify_schema = {
	.name = "verify", .fields = verify_fields, .rel = REL_IN,
	.doc = "An environment's `verify`: after the checks, poll them for a "
	    "window.",
};

/* The checks, named after their environment in messages. */
static int read_checks(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_def *e = obj;
	struct schema cs = check_schema;
	struct sfield f = *r->field;
	struct sread nr = *r;
	char *entry = xasprintf("a check of environment '%s'", e->name);
	int error;

	cs.entry = entry;
	f.kind = S_LIST;
	f.sub = &cs;
	f.off = offsetof(struct env_def, checks);
	f.count_off = offsetof(struct env_def, nchecks);
	nr.field = &f;
	error = schema_read_field(&nr, v, obj);
	free(entry);
	return error;
}

static int read_verify(const struct sread *r, const struct ynode *v,
    void *obj)
{
	struct env_def *e = obj;
	int error;

	e->verify.set = 1;
	schema_defaults(&verify_schema, &e->verify);
	if ((error = ynode_want(r->file, v, YNODE_MAP, "verify", r->what)) < 0)
		return error;
	return schema_read(r->file, v, &verify_schema, r->what, &e->verify);
}

static int check_env_name(const struct sread *r, const struct ynode *k,
    void *obj)
{
	(void)obj;
	if (!config_name_valid(k->value))
		return error_set(ERR_INVALID, "%s:%zu:%zu: bad environment name "
		    "'%s' (use a-z, 0-9, '_' and '-', at most 64)", r->file,
		    k->line, k->col, k->value);
	return 0;
}

static int check_env(const struct sread *r, const struct ynode *n, void *obj)
{
	struct env_def *e = obj;

	e->signed_tag = e->signed_tag == 1;
	if (e->verify.set && !e->nchecks)
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'verify' of %s needs "
		    "http checks to poll", r->file, n->line, n->col, r->what);
	if ((e->verify.set || e->require_tls_days) && !e->url)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s needs a 'url'",
		    r->file, n->line, n->col, r->what);
	for (size_t i = 0; i < e->nchecks; i++)
		if (e->checks[i].http && e->checks[i].http[0] == '/' && !e->url)
			return error_set(ERR_INVALID, "%s:%zu:%zu: check '%s' is "
			    "relative, but %s has no 'url'", r->file,
			    e->checks[i].line, (size_t)1, e->checks[i].http,
			    r->what);
	return 0;
}

static void free_env(void *elem)
{
	struct env_def *e = elem;

	strv_free(e->secrets);
	for (size_t j = 0; j < e->nchecks; j++)
		schema_free(&check_schema, &e->checks[j]);
	free(e->checks);
}

static const struct sfield env_fields[] = {
	{ .key = "url", .kind = S_STR, FIELD(struct env_def, url),
	    .flags = S_NONEMPTY | S_URL, .choices = "http https",
	    .doc = "base of relative http checks; `RUNNER_URL` of the "
	    "commands" },
	{ .key = "deploy", .kind = S_STR, FIELD(struct env_def, deploy),
	    .flags = S_REQUIRED | S_NONEMPTY, .aliases = "script run command",
	    .doc = "the deploy command" },
	{ .key = "backup", .kind = S_STR, FIELD(struct env_def, backup),
	    .flags = S_NONEMPTY,
	    .doc = "runs before `deploy`; if it fails nothing is deployed" },
	{ .key = "restore", .kind = S_STR, FIELD(struct env_def, restore),
	    .flags = S_NONEMPTY,
	    .doc = "runs after a rollback redeployed the earlier release" },
	{ .key = "requires", .kind = S_CHOICE,
	    FIELD(struct env_def, signed_tag), .choices = "signed-tag",
	    .doc = "only a verified release tag (or `runner deploy --force`) "
	    "deploys here" },
	{ .key = "timeout", .kind = S_DURATION,
	    FIELD(struct env_def, timeout_ms), .min = 1,
	    .choices = DURATION_HINT, .def = "10m",
	    .doc = "of each command (backup, deploy, restore)" },
	{ .key = "checks", .kind = S_CUSTOM, .read = read_checks,
	    .sub = &check_schema, .type_doc = "list of mappings",
	    .doc = "after the deploy command; a failure rolls back" },
	{ .key = "verify", .kind = S_CUSTOM, .read = read_verify,
	    .sub = &verify_schema, .type_doc = "mapping",
	    .doc = "poll the http checks for a window after them" },
	{ .key = "require_env", .kind = S_STRV,
	    FIELD(struct env_def, require_env),
	    COUNT(struct env_def, nrequire_env),
	    .doc = "gate: each must be a `secrets` entry of runner.yml" },
	{ .key = "require_changelog", .kind = S_STR,
	    FIELD(struct env_def, require_changelog), .flags = S_NONEMPTY,
	    .type_doc = "path",
	    .doc = "gate: the file at the deployed commit mentions the release "
	    "tag" },
	{ .key = "require_tls_days", .kind = S_INT,
	    FIELD(struct env_def, require_tls_days), .min = 0, .max = 3650,
	    .doc = "gate: the certificate of `url` is valid that many more "
	    "days" },
	{ .key = "secrets", .kind = S_CUSTOM, .read = read_env_secrets,
	    .type_doc = "name or list of names",
	    .doc = "runner.yml secrets given to the commands and `run` checks" },
	SFIELD_END
};
static const struct schema env_schema = {
	.name = "environments", .fields = env_fields, .rel = REL_IN,
	.size = sizeof(struct env_def),
	.name_off = offsetof(struct env_def, name),
	.line_at = SLINE(struct env_def, line), .what = "environment '%s'",
	.check_name = check_env_name, .check = check_env, .free = free_env,
	.doc = "`environments: NAME: {...}`: where a build deploys.",
};

/* Each stage: a mapping, its name first (it names the stage in every
 * later message), names unique. */
static int read_stages(const struct sread *r, const struct ynode *stages,
    void *obj)
{
	struct pipeline *pl = obj;
	const char *file = r->file;
	struct sbuf what = SBUF_INIT;
	int error = 0;

	if ((error = ynode_want(file, stages, YNODE_SEQ, "stages",
	    "the pipeline")) < 0)
		return error;
	if (stages->n == 0)
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'stages' is empty",
		    file, stages->line, stages->col);
	if (stages->n > PIPELINE_MAX_STAGES)
		return error_set(ERR_INVALID, "%s:%zu:%zu: more than %d stages",
		    file, stages->line, stages->col, PIPELINE_MAX_STAGES);
	pl->stages = xcalloc(stages->n, sizeof(*pl->stages));
	for (size_t i = 0; i < stages->n && error == 0; i++) {
		const struct ynode *n = stages->items[i], *v;
		struct stage_def *st = &pl->stages[pl->nstages++];

		st->line = n->line;
		schema_defaults(&stage_schema, st);
		sbuf_reset(&what);
		sbuf_addf(&what, "stage %zu", i + 1);
		if (n->type != YNODE_MAP) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: %s must be a "
			    "mapping with 'name' and 'run', not %s", file, n->line,
			    n->col, what.buf, ynode_type_name(n));
			break;
		}
		if (!(v = ynode_get(n, "name"))) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: %s has no "
			    "'name'", file, n->line, n->col, what.buf);
			break;
		}
		if ((error = ynode_want(file, v, YNODE_SCALAR, "name",
		    what.buf)) < 0)
			break;
		if (!config_name_valid(v->value)) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: bad stage name "
			    "'%s' (use a-z, 0-9, '_' and '-', at most 64)", file,
			    v->line, v->col, v->value);
			break;
		}
		st->name = xstrdup(v->value);
		sbuf_reset(&what);
		sbuf_addf(&what, "stage '%s'", st->name);
		if ((error = schema_read(file, n, &stage_schema, what.buf,
		    st)) < 0)
			break;
		if ((v = ynode_get(n, "isolate")))
			st->isolate_at = (struct ypos){ v->line, v->col };
		if ((v = ynode_get(n, "network")))
			st->network_at = (struct ypos){ v->line, v->col };
		for (size_t j = 0; j < i; j++) {
			if (strcmp(pl->stages[j].name, st->name))
				continue;
			const struct ynode *nn = ynode_get(n, "name");
			error = error_set(ERR_INVALID, "%s:%zu:%zu: duplicate stage "
			    "name '%s' (first at line %zu)", file, nn->line,
			    nn->col, st->name, pl->stages[j].line);
			break;
		}
	}
	sbuf_release(&what);
	return error;
}

static const struct sfield pipeline_fields[] = {
	{ .key = "stages", .kind = S_CUSTOM, .read = read_stages,
	    .sub = &stage_schema, .flags = S_REQUIRED, .aliases = "jobs steps",
	    .type_doc = "list of mappings, 1 to 100",
	    .doc = "the stages, in order" },
	{ .key = "environments", .kind = S_DICT, FIELD(struct pipeline, envs),
	    COUNT(struct pipeline, nenvs), .sub = &env_schema,
	    .doc = "where a passed build deploys" },
	{ .key = "runs_on", .kind = S_CUSTOM, .read = read_pipeline_labels,
	    .type_doc = "label or list of labels", .def = "(any host)",
	    .doc = "labels the build's host must have (runner.yml `host: "
	    "labels`); a host without them leaves the job to another" },
	{ .key = "disk", .kind = S_MAP, FIELD(struct pipeline, disk),
	    .sub = &pipeline_disk_schema, .def = "(runner.yml's `disk`)",
	    .doc = "what the build may take of the disk: `workspace`, `logs`, "
	    "`artifacts`; it can only narrow runner.yml's `disk`" },
	SFIELD_END
};
const struct schema pipeline_schema = {
	.name = ".runner.yml", .fields = pipeline_fields, .rel = REL_IN,
};

const struct env_def *pipeline_env(const struct pipeline *pl,
    const char *name)
{
	for (size_t i = 0; i < pl->nenvs; i++)
		if (!strcmp(pl->envs[i].name, name))
			return &pl->envs[i];
	return NULL;
}

int pipeline_parse(const char *file, const char *buf, size_t len,
    struct pipeline **out)
{
	struct ynode *root = NULL;
	struct pipeline *pl = NULL;
	int error;

	*out = NULL;
	if (len > PIPELINE_MAX_BYTES)
		return error_set(ERR_INVALID, "%s: file is larger than %d bytes",
		    file, PIPELINE_MAX_BYTES);
	if (memchr(buf, '\0', len))
		return error_set(ERR_INVALID, "%s: file contains a NUL byte",
		    file);
	if ((error = ynode_parse(file, buf, len, &root)) < 0)
		return error;
	if (!root) {
		error = error_set(ERR_INVALID, "%s:1:1: file is empty (it needs "
		    "a 'stages' list)", file);
		goto out;
	}
	if (root->type != YNODE_MAP) {
		error = error_set(ERR_INVALID,
		    "%s:%zu:%zu: the file must be a mapping with 'stages', not %s",
		    file, root->line, root->col, ynode_type_name(root));
		goto out;
	}
	pl = xcalloc(1, sizeof(*pl));
	if ((error = schema_read(file, root, &pipeline_schema, "the pipeline",
	    pl)) < 0)
		goto out;
	*out = pl;
	pl = NULL;
	error = 0;
out:
	pipeline_free(pl);
	ynode_free(root);
	return error;
}

int pipeline_load(const char *path, struct pipeline **out)
{
	struct sbuf buf = SBUF_INIT;
	int error;

	if ((error = read_file(path, PIPELINE_MAX_BYTES, &buf)) == 0)
		error = pipeline_parse(path, buf.buf, buf.len, out);
	sbuf_release(&buf);
	return error;
}

void pipeline_free(struct pipeline *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->nstages; i++) {
		struct stage_def *st = &pl->stages[i];
		schema_free(&stage_schema, st);
		free(st->name);
		free(st->run);
		strv_free(st->env);
		strv_free(st->artifacts);
		strv_free(st->secrets);
		strv_free(st->runs_on);
	}
	strv_free(pl->runs_on);
	free(pl->stages);
	schema_free(&pipeline_schema, pl);
	free(pl);
}

void pipeline_dump(const struct pipeline *pl, int64_t default_timeout_ms,
    struct sbuf *out)
{
	for (size_t i = 0; i < pl->nstages; i++) {
		const struct stage_def *st = &pl->stages[i];
		sbuf_addf(out, "stage %s (line %zu)\n", st->name, st->line);
		if (st->timeout_ms)
			sbuf_addf(out, "  timeout: %lldms\n",
			    (long long)st->timeout_ms);
		else
			sbuf_addf(out, "  timeout: %lldms (runner.yml's "
			    "default_timeout)\n", (long long)default_timeout_ms);
		for (const char *p = st->run; *p; ) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			sbuf_addf(out, "  run: %.*s\n", (int)n, p);
			p += n + (nl != NULL);
		}
		for (size_t j = 0; j < st->nenv; j++)
			sbuf_addf(out, "  env: %s\n", st->env[j]);
		for (size_t j = 0; j < st->nartifacts; j++)
			sbuf_addf(out, "  artifact: %s\n", st->artifacts[j]);
		for (size_t j = 0; j < st->nsecrets; j++)
			sbuf_addf(out, "  secret: %s\n", st->secrets[j]);
		if (st->isolate >= 0)
			sbuf_addf(out, "  isolate: %s\n", st->isolate ? "true" :
			    "false");
		if (st->network >= 0)
			sbuf_addf(out, "  network: %s\n", st->network ? "true" :
			    "false");
		if (st->limits.processes || st->limits.memory ||
		    st->limits.file_size || st->limits.open_files)
			sbuf_addf(out, "  limits: processes %lld, memory %lld, "
			    "file_size %lld, open_files %lld\n",
			    (long long)st->limits.processes,
			    (long long)st->limits.memory,
			    (long long)st->limits.file_size,
			    (long long)st->limits.open_files);
	}
	for (size_t i = 0; i < pl->nenvs; i++) {
		const struct env_def *e = &pl->envs[i];
		sbuf_addf(out, "environment %s (line %zu)\n", e->name, e->line);
		if (e->url)
			sbuf_addf(out, "  url: %s\n", e->url);
		sbuf_addf(out, "  deploy: %s\n", e->deploy);
		if (e->backup)
			sbuf_addf(out, "  backup: %s\n", e->backup);
		if (e->restore)
			sbuf_addf(out, "  restore: %s\n", e->restore);
		if (e->signed_tag)
			sbuf_adds(out, "  requires: signed-tag\n");
		sbuf_addf(out, "  timeout: %lldms\n", (long long)e->timeout_ms);
		for (size_t j = 0; j < e->nchecks; j++) {
			const struct check_def *c = &e->checks[j];
			if (c->http)
				sbuf_addf(out, "  check: http %s expect %ld within "
				    "%lldms, %ld retries\n", c->http, c->expect,
				    (long long)c->max_latency_ms, c->retries);
			else
				sbuf_addf(out, "  check: run %s within %lldms\n", c->run,
				    (long long)(c->timeout_ms ? c->timeout_ms :
				    default_timeout_ms));
		}
		if (e->verify.set)
			sbuf_addf(out, "  verify: window %lldms, interval %lldms, "
			    "max error rate %g, max p95 latency %lldms\n",
			    (long long)e->verify.window_ms,
			    (long long)e->verify.interval_ms,
			    e->verify.max_error_rate,
			    (long long)e->verify.max_latency_ms);
		if (e->verify.max_cpu_pct > 0)
			sbuf_addf(out, "  verify: max cpu %g%%\n",
			    e->verify.max_cpu_pct);
		if (e->verify.max_memory_pct > 0)
			sbuf_addf(out, "  verify: max memory %g%%\n",
			    e->verify.max_memory_pct);
		if (e->verify.max_memory_bytes > 0)
			sbuf_addf(out, "  verify: max memory %lld bytes\n",
			    (long long)e->verify.max_memory_bytes);
		for (size_t j = 0; j < e->nrequire_env; j++)
			sbuf_addf(out, "  require_env: %s\n", e->require_env[j]);
		for (size_t j = 0; j < e->nsecrets; j++)
			sbuf_addf(out, "  secret: %s\n", e->secrets[j]);
		if (e->require_changelog)
			sbuf_addf(out, "  require_changelog: %s\n",
			    e->require_changelog);
		if (e->require_tls_days)
			sbuf_addf(out, "  require_tls_days: %ld\n",
			    e->require_tls_days);
	}
}
