/*
 * runner.yml: defaults first, then what the file sets, checked key by key
 * with the same position-carrying messages as the pipeline file.
 */
#include "config.h"
#include "util.h"
#include "ynode.h"

#include <stdlib.h>
#include <string.h>

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
"# Which branches of which repository start a job (pcre2 on the branch\n"
"# name). A repository not listed uses '^develop$'.\n"
"# repos:\n"
"#   - path: /srv/git/store-erp.git\n"
"#     branches: '^(develop|feature/.*)$'\n";

static const char *const top_keys[] = {
	"workers", "default_timeout", "kill_grace", "shutdown_grace",
	"supersede", "keep_workspaces", "path", "repos", NULL
};
static const char *const repo_keys[] = { "path", "branches", NULL };

static int get_duration(const char *file, const struct ynode *root,
    const char *key, int64_t *out)
{
	const struct ynode *v = ynode_get(root, key);
	int error;

	if (!v)
		return 0;
	if ((error = ynode_want(file, v, YNODE_SCALAR, key, "runner.yml")) < 0)
		return error;
	if (parse_duration(v->value, out) < 0)
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: bad '%s' '%s' (use a number with s, m or h, "
		    "like 10m)", file, v->line, v->col, key, v->value);
	return 0;
}

static int get_bool(const char *file, const struct ynode *root,
    const char *key, int *out)
{
	const struct ynode *v = ynode_get(root, key);

	if (v && !ynode_bool(v, out))
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: '%s' must be true or false", file, v->line,
		    v->col, key);
	return 0;
}

static int check_pattern(const char *file, const struct ynode *v)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->value,
	    PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: bad pattern in 'branches' at offset %zu: %s",
		    file, v->line, v->col, (size_t)off, (char *)msg);
	}
	pcre2_code_free(re);
	return 0;
}

static int parse_repos(const char *file, const struct ynode *n,
    struct config *c)
{
	int error;

	if ((error = ynode_want(file, n, YNODE_SEQ, "repos", "runner.yml")) < 0)
		return error;
	c->repos = xcalloc(n->n + 1, sizeof(*c->repos));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *r = n->items[i], *v;
		struct repo_conf *rc = &c->repos[c->nrepos++];

		rc->line = r->line;
		if ((error = ynode_want(file, r, YNODE_MAP, "repos",
		    "runner.yml")) < 0)
			return error;
		if ((error = ynode_check_keys(file, r, repo_keys,
		    "a 'repos' entry")) < 0)
			return error;
		if (!(v = ynode_get(r, "path")))
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: 'repos' entry has no 'path'", file,
			    r->line, r->col);
		if ((error = ynode_want(file, v, YNODE_SCALAR, "path",
		    "a 'repos' entry")) < 0)
			return error;
		if (v->value[0] != '/')
			return error_set(ERR_INVALID,
			    "%s:%zu:%zu: 'path' '%s' must be absolute", file,
			    v->line, v->col, v->value);
		rc->path = xstrdup(v->value);
		while (strlen(rc->path) > 1 && rc->path[strlen(rc->path) - 1] == '/')
			rc->path[strlen(rc->path) - 1] = '\0';
		if ((v = ynode_get(r, "branches"))) {
			if ((error = ynode_want(file, v, YNODE_SCALAR,
			    "branches", "a 'repos' entry")) < 0 ||
			    (error = check_pattern(file, v)) < 0)
				return error;
			rc->branches = xstrdup(v->value);
		} else {
			rc->branches = xstrdup(DEFAULT_BRANCHES);
		}
	}
	return 0;
}

int config_parse(const char *file, const char *buf, size_t len,
    struct config **out)
{
	struct config *c = xcalloc(1, sizeof(*c));
	struct ynode *root = NULL;
	const struct ynode *v;
	int error;

	c->supersede = 1;
	c->default_timeout_ms = 30 * 60 * 1000;
	c->kill_grace_ms = 5000;
	c->shutdown_grace_ms = 30000;
	c->path_env = xstrdup("/usr/local/bin:/usr/bin:/bin");

	if (len && (error = ynode_parse(file, buf, len, &root)) < 0)
		goto out;
	if (!root)
		goto done;
	if (root->type != YNODE_MAP) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: must be a mapping, "
		    "not %s", file, root->line, root->col, ynode_type_name(root));
		goto out;
	}
	if ((error = ynode_check_keys(file, root, top_keys, "runner.yml")) < 0)
		goto out;
	if ((v = ynode_get(root, "workers"))) {
		long w;
		if (!ynode_uint(v, &w) || w < 1 || w > 256) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: 'workers' must "
			    "be a number from 1 to 256", file, v->line, v->col);
			goto out;
		}
		c->workers = (int)w;
	}
	if ((error = get_duration(file, root, "default_timeout",
	    &c->default_timeout_ms)) < 0 ||
	    (error = get_duration(file, root, "kill_grace",
	    &c->kill_grace_ms)) < 0 ||
	    (error = get_duration(file, root, "shutdown_grace",
	    &c->shutdown_grace_ms)) < 0 ||
	    (error = get_bool(file, root, "supersede", &c->supersede)) < 0 ||
	    (error = get_bool(file, root, "keep_workspaces",
	    &c->keep_workspaces)) < 0)
		goto out;
	if ((v = ynode_get(root, "path"))) {
		if ((error = ynode_want(file, v, YNODE_SCALAR, "path",
		    "runner.yml")) < 0)
			goto out;
		free(c->path_env);
		c->path_env = xstrdup(v->value);
	}
	if ((v = ynode_get(root, "repos")) &&
	    (error = parse_repos(file, v, c)) < 0)
		goto out;
done:
	*out = c;
	c = NULL;
	error = 0;
out:
	config_free(c);
	ynode_free(root);
	return error;
}

int config_load(const char *home, struct config **out)
{
	char *path = xasprintf("%s/%s", home, CONFIG_FILE);
	struct sbuf buf = SBUF_INIT;
	int error = read_file(path, 1024 * 1024, &buf);

	if (error == ERR_NOTFOUND)
		error = 0;
	if (error == 0)
		error = config_parse(path, buf.buf, buf.len, out);
	sbuf_release(&buf);
	free(path);
	return error;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nrepos; i++) {
		free(c->repos[i].path);
		free(c->repos[i].branches);
	}
	free(c->repos);
	free(c->path_env);
	free(c);
}

const char *config_branches(const struct config *c, const char *repo_path)
{
	for (size_t i = 0; i < c->nrepos; i++)
		if (!strcmp(c->repos[i].path, repo_path))
			return c->repos[i].branches;
	return DEFAULT_BRANCHES;
}
