/*
 * runner.yml: defaults first, then what the file sets, checked key by key
 * by its schema (config_schema.c) with the same position-carrying
 * messages as the pipeline file; and what the rest of the runner asks of
 * it (a repository's settings, a secret, an environment, a target).
 */
#include "config.h"
#include "config_int.h"
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


void config_sample(struct sbuf *out)
{
	sbuf_adds(out, "# runner configuration. Every key is optional; shown are "
	    "the defaults.\n");
	schema_sample(&config_schema, out);
}

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
