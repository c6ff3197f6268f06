/*
 * Schema check of `.runner.yml` over the YAML tree. Every message names the
 * file, line, column and field so a pusher can fix it without guessing.
 */
#include "pipeline.h"
#include "util.h"
#include "ynode.h"

#include <stdlib.h>
#include <string.h>

static const char *const top_keys[] = { "stages", NULL };
static const char *const stage_keys[] = {
	"name", "run", "timeout", "env", "artifacts", NULL
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
	}
	free(pl->stages);
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
	}
}
