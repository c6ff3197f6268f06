/*
 * Schema check of `.runner.yml` over the YAML tree. Every message names the
 * file, line, column and field so a pusher can fix it without guessing.
 */
#include "pipeline.h"
#include "config.h"
#include "util.h"
#include "ynode.h"

#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = { "stages", "environments", NULL };
static const char *const env_keys[] = {
	"url", "deploy", "backup", "restore", "requires", "timeout", "checks",
	"verify", "require_env", "require_changelog", "require_tls_days",
	"secrets", NULL
};
static const char *const check_keys[] = {
	"http", "expect", "max_latency", "retries", "run", "timeout", NULL
};
static const char *const verify_keys[] = {
	"window", "interval", "max_error_rate", "max_latency", NULL
};
static const char *const stage_keys[] = {
	"name", "run", "timeout", "env", "artifacts", "secrets", "limits",
	"isolate", "network", NULL
};

static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* `secrets: [NAME, ...]`: names of runner.yml secrets, like variables. */
static int parse_secrets(const char *file, const struct ynode *v,
    const char *what, char ***out, size_t *n)
{
	int error = ynode_strv(file, v, "secrets", what, out, n);

	for (size_t i = 0; error == 0 && i < *n; i++) {
		const char *s = (*out)[i];
		size_t ok = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789_");
		if (!*s || s[ok] || (*s >= '0' && *s <= '9')) {
			const struct ynode *it = v->type == YNODE_SEQ ?
			    v->items[i] : v;
			error = error_set(ERR_INVALID, "%s:%zu:%zu: bad secret "
			    "name '%s' in %s (letters, digits and '_', like "
			    "DEPLOY_TOKEN)", file, it->line, it->col, s, what);
		}
	}
	return error;
}

static int parse_env(const char *file, const struct ynode *n,
    const char *what, struct stage_def *st)
{
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

static int parse_stage(const char *file, const struct ynode *n, size_t idx,
    struct stage_def *st)
{
	struct sbuf what = SBUF_INIT;
	const struct ynode *v;
	int error;

	st->line = n->line;
	sbuf_addf(&what, "stage %zu", idx + 1);
	if (n->type != YNODE_MAP) {
		error = error_set(ERR_INVALID,
		    "%s:%zu:%zu: %s must be a mapping with 'name' and 'run', "
		    "not %s", file, n->line, n->col, what.buf,
		    ynode_type_name(n));
		goto out;
	}
	if (!(v = ynode_get(n, "name"))) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: %s has no 'name'",
		    file, n->line, n->col, what.buf);
		goto out;
	}
	if ((error = ynode_want(file, v, YNODE_SCALAR, "name", what.buf)) < 0)
		goto out;
	if (!valid_name(v->value)) {
		error = error_set(ERR_INVALID,
		    "%s:%zu:%zu: bad stage name '%s' (use a-z, 0-9, '_' and "
		    "'-', at most 64)", file, v->line, v->col, v->value);
		goto out;
	}
	st->name = xstrdup(v->value);
	sbuf_reset(&what);
	sbuf_addf(&what, "stage '%s'", st->name);

	if ((error = ynode_check_keys(file, n, stage_keys, what.buf)) < 0)
		goto out;

	if (!(v = ynode_get(n, "run"))) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: %s has no 'run'",
		    file, n->line, n->col, what.buf);
		goto out;
	} else {
		char **lines;
		size_t nlines;
		struct sbuf run = SBUF_INIT;

		if ((error = ynode_strv(file, v, "run", what.buf, &lines,
		    &nlines)) < 0)
			goto out;
		for (size_t i = 0; i < nlines; i++) {
			sbuf_adds(&run, lines[i]);
			sbuf_addch(&run, '\n');
		}
		strv_free(lines);
		if (!nlines || strspn(run.buf, " \t\n") == run.len) {
			sbuf_release(&run);
			error = error_set(ERR_INVALID,
			    "%s:%zu:%zu: 'run' of %s is empty", file, v->line,
			    v->col, what.buf);
			goto out;
		}
		st->run = sbuf_detach(&run);
	}
	if ((v = ynode_get(n, "timeout"))) {
		if ((error = ynode_want(file, v, YNODE_SCALAR, "timeout",
		    what.buf)) < 0)
			goto out;
		if (parse_duration(v->value, &st->timeout_ms) < 0 ||
		    st->timeout_ms <= 0) {
			error = error_set(ERR_INVALID,
			    "%s:%zu:%zu: bad 'timeout' '%s' in %s (use a "
			    "number with s, m or h, like 10m)", file, v->line,
			    v->col, v->value, what.buf);
			goto out;
		}
	}
	if ((v = ynode_get(n, "env")) &&
	    (error = parse_env(file, v, what.buf, st)) < 0)
		goto out;
	if ((v = ynode_get(n, "secrets")) &&
	    (error = parse_secrets(file, v, what.buf, &st->secrets,
	    &st->nsecrets)) < 0)
		goto out;
	if ((v = ynode_get(n, "limits")) &&
	    (error = config_limits(file, v, what.buf, &st->limits)) < 0)
		goto out;
	st->isolate = -1;
	st->network = -1;
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "network" : "isolate";
		int *slot = i ? &st->network : &st->isolate;
		if ((v = ynode_get(n, key)) && !ynode_bool(v, slot)) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: '%s' in %s must "
			    "be true or false", file, v->line, v->col, key,
			    what.buf);
			goto out;
		}
		if (v)
			*(i ? &st->network_at : &st->isolate_at) = (struct ypos){
			    v->line, v->col };
	}
	if ((v = ynode_get(n, "artifacts"))) {
		if ((error = ynode_strv(file, v, "artifacts", what.buf,
		    &st->artifacts, &st->nartifacts)) < 0)
			goto out;
		for (size_t i = 0; i < st->nartifacts; i++) {
			const char *g = st->artifacts[i];
			if (!*g || g[0] == '/' || !strcmp(g, "..") ||
			    !strncmp(g, "../", 3) || strstr(g, "/../") ||
			    (strlen(g) >= 3 && !strcmp(g + strlen(g) - 3, "/.."))) {
				const struct ynode *it = v->type == YNODE_SEQ ?
				    v->items[i] : v;
				error = error_set(ERR_INVALID,
				    "%s:%zu:%zu: artifact glob '%s' in %s must "
				    "stay inside the tree (no leading '/', no "
				    "'..')", file, it->line, it->col, g, what.buf);
				goto out;
			}
		}
	}
	error = 0;
out:
	sbuf_release(&what);
	return error;
}

/* A scalar string field of `map`, if present; *out keeps NULL if absent. */
static int get_str(const char *file, const struct ynode *map,
    const char *key, const char *what, char **out)
{
	const struct ynode *v = ynode_get(map, key);
	int error;

	if (!v)
		return 0;
	if ((error = ynode_want(file, v, YNODE_SCALAR, key, what)) < 0)
		return error;
	if (!*v->value)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s is empty",
		    file, v->line, v->col, key, what);
	*out = xstrdup(v->value);
	return 0;
}

static int get_dur(const char *file, const struct ynode *map,
    const char *key, const char *what, int64_t *out)
{
	const struct ynode *v = ynode_get(map, key);
	int error;

	if (!v)
		return 0;
	if ((error = ynode_want(file, v, YNODE_SCALAR, key, what)) < 0)
		return error;
	if (parse_duration(v->value, out) < 0 || *out <= 0)
		return error_set(ERR_INVALID, "%s:%zu:%zu: bad '%s' '%s' in %s "
		    "(use a number with ms, s, m or h, like 1s)", file, v->line,
		    v->col, key, v->value, what);
	return 0;
}

static int get_num(const char *file, const struct ynode *map,
    const char *key, const char *what, long min, long max, long *out)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v)
		return 0;
	if (!ynode_uint(v, out) || *out < min || *out > max)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' in %s must be a "
		    "number from %ld to %ld", file, v->line, v->col, key, what,
		    min, max);
	return 0;
}

static int parse_check(const char *file, const struct ynode *n,
    const char *env, struct check_def *c)
{
	struct sbuf what = SBUF_INIT;
	int error;

	c->line = n->line;
	c->expect = 200;
	c->max_latency_ms = 1000;
	c->retries = 10;
	sbuf_addf(&what, "a check of environment '%s'", env);
	if ((error = ynode_want(file, n, YNODE_MAP, "checks", what.buf)) < 0 ||
	    (error = ynode_check_keys(file, n, check_keys, what.buf)) < 0 ||
	    (error = get_str(file, n, "http", what.buf, &c->http)) < 0 ||
	    (error = get_str(file, n, "run", what.buf, &c->run)) < 0 ||
	    (error = get_num(file, n, "expect", what.buf, 100, 599,
	    &c->expect)) < 0 ||
	    (error = get_num(file, n, "retries", what.buf, 0, 1000,
	    &c->retries)) < 0 ||
	    (error = get_dur(file, n, "max_latency", what.buf,
	    &c->max_latency_ms)) < 0 ||
	    (error = get_dur(file, n, "timeout", what.buf, &c->timeout_ms)) < 0)
		goto out;
	if (!c->http == !c->run) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: %s needs exactly one "
		    "of 'http' and 'run'", file, n->line, n->col, what.buf);
		goto out;
	}
	if (c->http && c->http[0] != '/' && strncmp(c->http, "http://", 7) &&
	    strncmp(c->http, "https://", 8)) {
		const struct ynode *v = ynode_get(n, "http");
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'http' '%s' must be a "
		    "path starting with '/' or an http(s):// URL", file, v->line,
		    v->col, c->http);
		goto out;
	}
out:
	sbuf_release(&what);
	return error;
}

static int parse_percent(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return -1;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || v > 1)
		return -1;
	*out = v;
	return 0;
}

static int parse_verify(const char *file, const struct ynode *n,
    const char *what, struct verify_def *v)
{
	const struct ynode *r;
	int error;

	v->set = 1;
	v->window_ms = 30000;
	v->interval_ms = 1000;
	v->max_error_rate = 0.001;
	v->max_latency_ms = 1000;
	if ((error = ynode_want(file, n, YNODE_MAP, "verify", what)) < 0 ||
	    (error = ynode_check_keys(file, n, verify_keys, what)) < 0 ||
	    (error = get_dur(file, n, "window", what, &v->window_ms)) < 0 ||
	    (error = get_dur(file, n, "interval", what, &v->interval_ms)) < 0 ||
	    (error = get_dur(file, n, "max_latency", what,
	    &v->max_latency_ms)) < 0)
		return error;
	if ((r = ynode_get(n, "max_error_rate")) &&
	    (r->type != YNODE_SCALAR || parse_percent(r->value,
	    &v->max_error_rate) < 0))
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'max_error_rate' in %s "
		    "must be a fraction or a percentage, like 0.1%%", file,
		    r->line, r->col, what);
	return 0;
}

static int parse_env_def(const char *file, const struct ynode *k,
    const struct ynode *n, struct env_def *e)
{
	struct sbuf what = SBUF_INIT;
	const struct ynode *v;
	int error;

	e->line = k->line;
	e->name = xstrdup(k->value);
	e->timeout_ms = 10 * 60 * 1000;
	sbuf_addf(&what, "environment '%s'", e->name);
	if (!valid_name(e->name)) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: bad environment name "
		    "'%s' (use a-z, 0-9, '_' and '-', at most 64)", file, k->line,
		    k->col, e->name);
		goto out;
	}
	if ((error = ynode_want(file, n, YNODE_MAP, e->name, "environments")) < 0 ||
	    (error = ynode_check_keys(file, n, env_keys, what.buf)) < 0 ||
	    (error = get_str(file, n, "url", what.buf, &e->url)) < 0 ||
	    (error = get_str(file, n, "deploy", what.buf, &e->deploy)) < 0 ||
	    (error = get_str(file, n, "backup", what.buf, &e->backup)) < 0 ||
	    (error = get_str(file, n, "restore", what.buf, &e->restore)) < 0 ||
	    (error = get_str(file, n, "require_changelog", what.buf,
	    &e->require_changelog)) < 0 ||
	    (error = get_num(file, n, "require_tls_days", what.buf, 0, 3650,
	    &e->require_tls_days)) < 0 ||
	    (error = get_dur(file, n, "timeout", what.buf, &e->timeout_ms)) < 0)
		goto out;
	if (!e->deploy) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: %s has no 'deploy' "
		    "command", file, n->line, n->col, what.buf);
		goto out;
	}
	if (e->url && strncmp(e->url, "http://", 7) &&
	    strncmp(e->url, "https://", 8)) {
		v = ynode_get(n, "url");
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'url' '%s' of %s must "
		    "start with http:// or https://", file, v->line, v->col,
		    e->url, what.buf);
		goto out;
	}
	if ((v = ynode_get(n, "requires"))) {
		if (v->type != YNODE_SCALAR || strcmp(v->value, "signed-tag")) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: 'requires' of %s "
			    "can only be 'signed-tag'", file, v->line, v->col,
			    what.buf);
			goto out;
		}
		e->signed_tag = 1;
	}
	if ((v = ynode_get(n, "require_env")) &&
	    (error = ynode_strv(file, v, "require_env", what.buf,
	    &e->require_env, &e->nrequire_env)) < 0)
		goto out;
	if ((v = ynode_get(n, "secrets")) &&
	    (error = parse_secrets(file, v, what.buf, &e->secrets,
	    &e->nsecrets)) < 0)
		goto out;
	if ((v = ynode_get(n, "checks"))) {
		if ((error = ynode_want(file, v, YNODE_SEQ, "checks",
		    what.buf)) < 0)
			goto out;
		e->checks = xcalloc(v->n + 1, sizeof(*e->checks));
		for (size_t i = 0; i < v->n; i++) {
			e->nchecks++;
			if ((error = parse_check(file, v->items[i], e->name,
			    &e->checks[i])) < 0)
				goto out;
		}
	}
	if ((v = ynode_get(n, "verify")) &&
	    (error = parse_verify(file, v, what.buf, &e->verify)) < 0)
		goto out;
	if (e->verify.set && !e->nchecks) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'verify' of %s needs "
		    "http checks to poll", file, n->line, n->col, what.buf);
		goto out;
	}
	if ((e->verify.set || e->require_tls_days) && !e->url) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: %s needs a 'url'",
		    file, n->line, n->col, what.buf);
		goto out;
	}
	for (size_t i = 0; i < e->nchecks; i++)
		if (e->checks[i].http && e->checks[i].http[0] == '/' && !e->url) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: check '%s' is "
			    "relative, but %s has no 'url'", file,
			    e->checks[i].line, (size_t)1, e->checks[i].http,
			    what.buf);
			goto out;
		}
out:
	sbuf_release(&what);
	return error;
}

static int parse_envs(const char *file, const struct ynode *n,
    struct pipeline *pl)
{
	int error;

	if ((error = ynode_want(file, n, YNODE_MAP, "environments",
	    "the pipeline")) < 0)
		return error;
	pl->envs = xcalloc(n->n / 2 + 1, sizeof(*pl->envs));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		pl->nenvs++;
		if ((error = parse_env_def(file, n->items[i], n->items[i + 1],
		    &pl->envs[i / 2])) < 0)
			return error;
	}
	return 0;
}

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
	const struct ynode *stages;
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
	if ((error = ynode_check_keys(file, root, top_keys,
	    "the pipeline")) < 0)
		goto out;
	if (!(stages = ynode_get(root, "stages"))) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: no 'stages' list",
		    file, root->line, root->col);
		goto out;
	}
	if ((error = ynode_want(file, stages, YNODE_SEQ, "stages",
	    "the pipeline")) < 0)
		goto out;
	if (stages->n == 0) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'stages' is empty",
		    file, stages->line, stages->col);
		goto out;
	}
	if (stages->n > PIPELINE_MAX_STAGES) {
		error = error_set(ERR_INVALID,
		    "%s:%zu:%zu: more than %d stages", file, stages->line,
		    stages->col, PIPELINE_MAX_STAGES);
		goto out;
	}
	pl = xcalloc(1, sizeof(*pl));
	pl->stages = xcalloc(stages->n, sizeof(*pl->stages));
	for (size_t i = 0; i < stages->n; i++) {
		pl->nstages++;
		if ((error = parse_stage(file, stages->items[i], i,
		    &pl->stages[i])) < 0)
			goto out;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(pl->stages[j].name, pl->stages[i].name))
				continue;
			const struct ynode *nn = ynode_get(stages->items[i],
			    "name");
			error = error_set(ERR_INVALID,
			    "%s:%zu:%zu: duplicate stage name '%s' (first at "
			    "line %zu)", file, nn->line, nn->col,
			    pl->stages[i].name, pl->stages[j].line);
			goto out;
		}
	}
	if ((stages = ynode_get(root, "environments")) &&
	    (error = parse_envs(file, stages, pl)) < 0)
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
		free(st->name);
		free(st->run);
		strv_free(st->env);
		strv_free(st->artifacts);
		strv_free(st->secrets);
	}
	free(pl->stages);
	for (size_t i = 0; i < pl->nenvs; i++) {
		struct env_def *e = &pl->envs[i];
		free(e->name);
		free(e->url);
		free(e->deploy);
		free(e->backup);
		free(e->restore);
		free(e->require_changelog);
		strv_free(e->require_env);
		strv_free(e->secrets);
		for (size_t j = 0; j < e->nchecks; j++) {
			free(e->checks[j].http);
			free(e->checks[j].run);
		}
		free(e->checks);
	}
	free(pl->envs);
	free(pl);
}

void pipeline_dump(const struct pipeline *pl, struct sbuf *out)
{
	for (size_t i = 0; i < pl->nstages; i++) {
		const struct stage_def *st = &pl->stages[i];
		sbuf_addf(out, "stage %s (line %zu)\n", st->name, st->line);
		sbuf_addf(out, "  timeout: %lldms\n", (long long)st->timeout_ms);
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
		for (size_t j = 0; j < e->nchecks; j++) {
			const struct check_def *c = &e->checks[j];
			if (c->http)
				sbuf_addf(out, "  check: http %s expect %ld within "
				    "%lldms, %ld retries\n", c->http, c->expect,
				    (long long)c->max_latency_ms, c->retries);
			else
				sbuf_addf(out, "  check: run %s\n", c->run);
		}
		if (e->verify.set)
			sbuf_addf(out, "  verify: window %lldms, interval %lldms, "
			    "max error rate %g, max p95 latency %lldms\n",
			    (long long)e->verify.window_ms,
			    (long long)e->verify.interval_ms,
			    e->verify.max_error_rate,
			    (long long)e->verify.max_latency_ms);
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
