/*
 * runner.yml: defaults first, then what the file sets, checked key by key
 * with the same position-carrying messages as the pipeline file.
 */
#include "config.h"
#include "util.h"
#include "ynode.h"

#include <stdio.h>
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
"# A worker (or the notifier) with nothing to do for this long leaves;\n"
"# the daemon starts one again when work comes. 0: they stay.\n"
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
"# per user, and Linux does not apply it to root.\n"
"# limits: { processes: 4096, memory: 8G, file_size: 10G, open_files: 4096 }\n"
"\n"
"# Bytes of each stage's log kept; output past it is dropped, with a note.\n"
"# log_cap: 64M\n"
"\n"
"# Who runs code from repositories (stages, checks, deploy, backup and\n"
"# restore commands) when the daemon runs as root: never root, never the\n"
"# runner's own user. 'runner init' as root creates it.\n"
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
"# Run repository code as the runner's own user, unconfined where isolate\n"
"# is false: only for a server whose every pusher you trust ('runner\n"
"# status' warns about it).\n"
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
"#     auto_deploy: [staging]       # environments a passed build deploys to\n"
"#     require_staging: true        # production only after a healthy staging\n"
"#     isolate: true                # false: this repository's code unconfined\n"
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
"#     backoff: 2s                 # doubling per retry\n";

static const char *const top_keys[] = {
	"workers", "default_timeout", "kill_grace", "shutdown_grace", "idle_exit",
	"supersede", "keep_workspaces", "path", "repos", "secrets", "notify",
	"limits", "log_cap", "isolate", "network", "build_user", "release_user",
	"trust_repositories", "environments", NULL
};
static const char *const secret_keys[] = {
	"value", "file", "environments", "refs", "repos", NULL
};
static const char *const env_keys[] = { "user", "paths", "requires", NULL };
static const char *const notify_keys[] = {
	"name", "slack", "pagerduty", "email", "webhook", "on", "repos",
	"retries", "backoff", NULL
};
static const char *const service_keys[] = {
	[NOTIFY_SLACK] = "slack", [NOTIFY_PAGERDUTY] = "pagerduty",
	[NOTIFY_EMAIL] = "email", [NOTIFY_WEBHOOK] = "webhook",
};
static const char *const pagerduty_keys[] = { "routing_key", "url", NULL };
static const char *const email_keys[] = {
	"smtp", "from", "to", "username", "password", "starttls", NULL
};
static const char *const webhook_keys[] = { "url", "secret", NULL };
static const char *const repo_keys[] = {
	"path", "branches", "release_tags", "allowed_signers", "gpg_keyring",
	"auto_deploy", "require_staging", "isolate", "network", NULL
};

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

static int check_pattern(const char *file, const struct ynode *v,
    const char *key)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->value,
	    PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		return error_set(ERR_INVALID,
		    "%s:%zu:%zu: bad pattern in '%s' at offset %zu: %s",
		    file, v->line, v->col, key, (size_t)off, (char *)msg);
	}
	pcre2_code_free(re);
	return 0;
}

static int get_pattern(const char *file, const struct ynode *map,
    const char *key, const char *def, char **out)
{
	const struct ynode *v = ynode_get(map, key);
	int error;

	if (!v) {
		*out = xstrdup(def);
		return 0;
	}
	if ((error = ynode_want(file, v, YNODE_SCALAR, key,
	    "a 'repos' entry")) < 0 || (error = check_pattern(file, v, key)) < 0)
		return error;
	*out = xstrdup(v->value);
	return 0;
}

static int get_path(const char *file, const struct ynode *map,
    const char *key, char **out)
{
	const struct ynode *v = ynode_get(map, key);
	int error;

	if (!v)
		return 0;
	if ((error = ynode_want(file, v, YNODE_SCALAR, key,
	    "a 'repos' entry")) < 0)
		return error;
	if (v->value[0] != '/')
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' '%s' must be "
		    "absolute", file, v->line, v->col, key, v->value);
	*out = xstrdup(v->value);
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
		rc->require_staging = 1;
		rc->isolate = rc->network = -1;
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
		if ((error = get_pattern(file, r, "branches", DEFAULT_BRANCHES,
		    &rc->branches)) < 0 ||
		    (error = get_pattern(file, r, "release_tags",
		    DEFAULT_RELEASE_TAGS, &rc->release_tags)) < 0 ||
		    (error = get_path(file, r, "allowed_signers",
		    &rc->allowed_signers)) < 0 ||
		    (error = get_path(file, r, "gpg_keyring",
		    &rc->gpg_keyring)) < 0 ||
		    (error = get_bool(file, r, "require_staging",
		    &rc->require_staging)) < 0 ||
		    (error = get_bool(file, r, "isolate", &rc->isolate)) < 0 ||
		    (error = get_bool(file, r, "network", &rc->network)) < 0)
			return error;
		if ((v = ynode_get(r, "auto_deploy"))) {
			if ((error = ynode_strv(file, v, "auto_deploy",
			    "a 'repos' entry", &rc->auto_deploy,
			    &rc->nauto_deploy)) < 0)
				return error;
		} else {
			rc->auto_deploy = xcalloc(2, sizeof(char *));
			rc->auto_deploy[0] = xstrdup("staging");
			rc->nauto_deploy = 1;
		}
	}
	return 0;
}

static int read_secret_file(const char *file, const struct ynode *f,
    const char *name, struct secret *sc)
{
	struct sbuf buf = SBUF_INIT;

	if (f->type != YNODE_SCALAR || f->value[0] != '/')
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'file' of secret '%s' "
		    "must be an absolute path", file, f->line, f->col, name);
	if (read_file(f->value, 1024 * 1024, &buf) < 0) {
		sbuf_release(&buf);
		return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s': cannot "
		    "read '%s'", file, f->line, f->col, name, f->value);
	}
	while (buf.len && buf.buf[buf.len - 1] == '\n')
		buf.buf[--buf.len] = '\0';
	sc->value = sbuf_detach(&buf);
	sc->file = xstrdup(f->value);
	return 0;
}

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

static int parse_secrets(const char *file, const struct ynode *n,
    struct config *c)
{
	int error;

	if ((error = ynode_want(file, n, YNODE_MAP, "secrets", "runner.yml")) < 0)
		return error;
	c->secrets = xcalloc(n->n / 2 + 1, sizeof(*c->secrets));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->items[i], *v = n->items[i + 1], *f;
		struct secret *sc = &c->secrets[c->nsecrets++];
		char what[160];

		sc->name = xstrdup(k->value);
		if (!valid_var_name(k->value))
			return error_set(ERR_INVALID, "%s:%zu:%zu: secret name '%s' "
			    "is not a variable name (letters, digits and _, not "
			    "starting with a digit)", file, k->line, k->col,
			    k->value);
		if (v->type == YNODE_SCALAR && v->plain != 2) {
			sc->value = xstrdup(v->value);
			continue;
		}
		snprintf(what, sizeof(what), "secret '%s'", k->value);
		if (v->type != YNODE_MAP)
			return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s' must "
			    "be a string or {file: PATH} (with environments, refs "
			    "or repos to scope it)", file, v->line, v->col,
			    k->value);
		if ((error = ynode_check_keys(file, v, secret_keys, what)) < 0)
			return error;
		const struct ynode *val = ynode_get(v, "value");
		f = ynode_get(v, "file");
		if (!!val == !!f)
			return error_set(ERR_INVALID, "%s:%zu:%zu: secret '%s' needs "
			    "exactly one of 'value' and 'file'", file, v->line,
			    v->col, k->value);
		if (val) {
			if ((error = ynode_want(file, val, YNODE_SCALAR, "value",
			    what)) < 0)
				return error;
			sc->value = xstrdup(val->value);
		} else if ((error = read_secret_file(file, f, k->value, sc)) < 0) {
			return error;
		}
		const struct ynode *e = ynode_get(v, "environments");
		if (e && (error = ynode_strv(file, e, "environments", what,
		    &sc->envs, &sc->nenvs)) < 0)
			return error;
		static const char *const pats[] = { "refs", "repos" };
		for (int j = 0; j < 2; j++) {
			const struct ynode *p = ynode_get(v, pats[j]);
			if (!p)
				continue;
			if ((error = ynode_want(file, p, YNODE_SCALAR, pats[j],
			    what)) < 0 || (error = check_pattern(file, p,
			    pats[j])) < 0)
				return error;
			*(j ? &sc->repos : &sc->refs) = xstrdup(p->value);
		}
	}
	return 0;
}

static int parse_envs(const char *file, const struct ynode *n,
    struct config *c)
{
	int error;

	if ((error = ynode_want(file, n, YNODE_MAP, "environments",
	    "runner.yml")) < 0)
		return error;
	c->envs = xcalloc(n->n / 2 + 1, sizeof(*c->envs));
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->items[i], *v = n->items[i + 1], *x;
		struct env_grant *g = &c->envs[c->nenvs++];
		char what[160];

		g->name = xstrdup(k->value);
		g->line = k->line;
		snprintf(what, sizeof(what), "environment '%s'", k->value);
		if ((error = ynode_want(file, v, YNODE_MAP, k->value,
		    "environments")) < 0 ||
		    (error = ynode_check_keys(file, v, env_keys, what)) < 0)
			return error;
		if ((x = ynode_get(v, "user"))) {
			if ((error = ynode_want(file, x, YNODE_SCALAR, "user",
			    what)) < 0)
				return error;
			g->user = xstrdup(x->value);
		}
		if ((x = ynode_get(v, "paths"))) {
			if ((error = ynode_strv(file, x, "paths", what, &g->paths,
			    &g->npaths)) < 0)
				return error;
			for (size_t j = 0; j < g->npaths; j++)
				if (g->paths[j][0] != '/' || strstr(g->paths[j], ".."))
					return error_set(ERR_INVALID, "%s:%zu:%zu: 'paths' "
					    "of %s: '%s' must be an absolute path without "
					    "'..'", file, x->line, x->col, what, g->paths[j]);
		}
		if ((x = ynode_get(v, "requires"))) {
			if (x->type != YNODE_SCALAR || strcmp(x->value, "signed-tag"))
				return error_set(ERR_INVALID, "%s:%zu:%zu: 'requires' of "
				    "%s must be 'signed-tag'", file, x->line, x->col,
				    what);
			g->signed_tag = 1;
		}
	}
	return 0;
}

/*
 * A string field of a notify entry. Values may be secret (URLs with
 * tokens, keys, passwords): messages name the field, never the value.
 */
static int notify_str(const char *file, const struct ynode *map,
    const char *key, const char *what, int required, char **out)
{
	const struct ynode *v = ynode_get(map, key);

	if (!v) {
		if (required)
			return error_set(ERR_INVALID, "%s:%zu:%zu: %s has no '%s'",
			    file, map->line, map->col, what, key);
		return 0;
	}
	if (v->type != YNODE_SCALAR || !*v->value)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be a "
		    "non-empty string", file, v->line, v->col, key, what);
	*out = xstrdup(v->value);
	return 0;
}

static int notify_url(const char *file, const struct ynode *n,
    const char *key, const char *what, const char *schemes, char **url)
{
	size_t len = strcspn(*url, ":");
	char *scheme = xstrndup(*url, len);
	int ok = !strncmp(*url + len, "://", 3) && (*url)[len + 3] &&
	    word_in(schemes, scheme);

	free(scheme);
	if (ok)
		return 0;
	return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be a URL "
	    "(scheme one of: %s)", file, n->line, n->col, key, what, schemes);
}

static int parse_service(const char *file, const struct ynode *e,
    struct notify_target *t, const char *what)
{
	const struct ynode *v = NULL;
	int found = 0, error;

	for (int i = 0; i <= NOTIFY_WEBHOOK; i++) {
		const struct ynode *x = ynode_get(e, service_keys[i]);
		if (!x)
			continue;
		if (found++)
			return error_set(ERR_INVALID, "%s:%zu:%zu: %s names more "
			    "than one service ('%s' and '%s')", file, x->line,
			    x->col, what, service_keys[t->service],
			    service_keys[i]);
		t->service = (enum notify_service)i;
		v = x;
	}
	if (!v)
		return error_set(ERR_INVALID, "%s:%zu:%zu: %s needs one of "
		    "'slack', 'pagerduty', 'email' or 'webhook'", file, e->line,
		    e->col, what);
	const char *key = service_keys[t->service];
	if (v->type == YNODE_SCALAR &&
	    (t->service == NOTIFY_SLACK || t->service == NOTIFY_WEBHOOK)) {
		t->url = xstrdup(v->value);
		return notify_url(file, v, key, what, "https http", &t->url);
	}
	if (t->service == NOTIFY_SLACK || v->type != YNODE_MAP)
		return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' of %s must be %s",
		    file, v->line, v->col, key, what,
		    t->service == NOTIFY_SLACK ? "the webhook URL" :
		    t->service == NOTIFY_WEBHOOK ? "a URL or {url, secret}" :
		    "a mapping");
	switch (t->service) {
	case NOTIFY_PAGERDUTY:
		if ((error = ynode_check_keys(file, v, pagerduty_keys,
		    "'pagerduty'")) < 0 ||
		    (error = notify_str(file, v, "routing_key", "'pagerduty'", 1,
		    &t->secret)) < 0 ||
		    (error = notify_str(file, v, "url", "'pagerduty'", 0,
		    &t->url)) < 0)
			return error;
		if (!t->url)
			t->url = xstrdup("https://events.pagerduty.com/v2/enqueue");
		return notify_url(file, v, "url", "'pagerduty'", "https http",
		    &t->url);
	case NOTIFY_EMAIL:
		if ((error = ynode_check_keys(file, v, email_keys,
		    "'email'")) < 0 ||
		    (error = notify_str(file, v, "smtp", "'email'", 1,
		    &t->url)) < 0 ||
		    (error = notify_url(file, v, "smtp", "'email'", "smtp smtps",
		    &t->url)) < 0 ||
		    (error = notify_str(file, v, "from", "'email'", 1,
		    &t->from)) < 0 ||
		    (error = notify_str(file, v, "username", "'email'", 0,
		    &t->username)) < 0 ||
		    (error = notify_str(file, v, "password", "'email'", 0,
		    &t->password)) < 0)
			return error;
		if (!ynode_get(v, "to"))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'email' has no "
			    "'to'", file, v->line, v->col);
		const struct ynode *tls = ynode_get(v, "starttls");
		if (tls && (tls->type != YNODE_SCALAR ||
		    (strcmp(tls->value, "required") &&
		    strcmp(tls->value, "optional"))))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'starttls' of "
			    "'email' must be 'required' or 'optional'", file,
			    tls->line, tls->col);
		t->starttls_optional = tls && !strcmp(tls->value, "optional");
		return ynode_strv(file, ynode_get(v, "to"), "to", "'email'",
		    &t->to, &t->nto);
	default:
		if ((error = ynode_check_keys(file, v, webhook_keys,
		    "'webhook'")) < 0 ||
		    (error = notify_str(file, v, "url", "'webhook'", 1,
		    &t->url)) < 0 ||
		    (error = notify_str(file, v, "secret", "'webhook'", 0,
		    &t->secret)) < 0)
			return error;
		return notify_url(file, v, "url", "'webhook'", "https http",
		    &t->url);
	}
}

static int parse_on(const char *file, const struct ynode *e,
    struct notify_target *t, const char *what)
{
	static const char *const failures[] = {
		"job_failed", "job_error", "job_fixed", "deploy_failed",
		"rolled_back", "rejected", NULL
	};
	const struct ynode *v = ynode_get(e, "on");
	int error;

	if (!v) {
		t->on = xcalloc(sizeof(failures) / sizeof(*failures),
		    sizeof(char *));
		for (size_t i = 0; failures[i]; i++)
			t->on[t->non++] = xstrdup(failures[i]);
		return 0;
	}
	if ((error = ynode_strv(file, v, "on", what, &t->on, &t->non)) < 0)
		return error;
	for (size_t i = 0; i < t->non; i++) {
		const char *k = t->on[i];
		if (!strcmp(k, "all") || word_in(NOTIFY_EVENTS, k))
			continue;
		const struct ynode *at = v->type == YNODE_SEQ && i < v->n ?
		    v->items[i] : v;
		return error_set(ERR_INVALID, "%s:%zu:%zu: unknown event '%s' in "
		    "'on' of %s (events: %s, all)", file, at->line, at->col, k,
		    what, NOTIFY_EVENTS);
	}
	return 0;
}

static int parse_notify(const char *file, const struct ynode *n,
    struct config *c)
{
	int error;

	if ((error = ynode_want(file, n, YNODE_SEQ, "notify", "runner.yml")) < 0)
		return error;
	c->notify = xcalloc(n->n + 1, sizeof(*c->notify));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *e = n->items[i], *v;
		struct notify_target *t = &c->notify[c->nnotify++];
		char what[160];

		t->line = e->line;
		t->retries = 6;
		t->backoff_ms = 2000;
		if ((error = ynode_want(file, e, YNODE_MAP, "notify",
		    "runner.yml")) < 0 ||
		    (error = ynode_check_keys(file, e, notify_keys,
		    "a 'notify' entry")) < 0 ||
		    (error = notify_str(file, e, "name", "a 'notify' entry", 1,
		    &t->name)) < 0)
			return error;
		snprintf(what, sizeof(what), "notify '%s'", t->name);
		for (size_t j = 0; j + 1 < c->nnotify; j++)
			if (!strcmp(c->notify[j].name, t->name))
				return error_set(ERR_INVALID, "%s:%zu:%zu: two "
				    "'notify' entries are named '%s' (lines %zu "
				    "and %zu)", file, e->line, e->col, t->name,
				    c->notify[j].line, e->line);
		if ((error = parse_service(file, e, t, what)) < 0 ||
		    (error = parse_on(file, e, t, what)) < 0)
			return error;
		if ((v = ynode_get(e, "repos"))) {
			if ((error = ynode_want(file, v, YNODE_SCALAR, "repos",
			    what)) < 0 || (error = check_pattern(file, v,
			    "repos")) < 0)
				return error;
			t->repos = xstrdup(v->value);
		}
		if ((v = ynode_get(e, "retries"))) {
			long r;
			if (!ynode_uint(v, &r) || r > 100)
				return error_set(ERR_INVALID, "%s:%zu:%zu: 'retries' "
				    "of %s must be a number from 0 to 100", file,
				    v->line, v->col, what);
			t->retries = (int)r;
		}
		if ((error = get_duration(file, e, "backoff",
		    &t->backoff_ms)) < 0)
			return error;
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
	c->idle_exit_ms = 60000;
	c->path_env = xstrdup("/usr/local/bin:/usr/bin:/bin");
	c->limits.processes = DEFAULT_PROCESSES;
	c->log_cap = DEFAULT_LOG_CAP;
	c->isolate = 1;
	c->network = 1;
	c->build_user = xstrdup(DEFAULT_BUILD_USER);
	c->release_user = xstrdup(DEFAULT_RELEASE_USER);

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
	    (error = get_duration(file, root, "idle_exit",
	    &c->idle_exit_ms)) < 0 ||
	    (error = get_bool(file, root, "supersede", &c->supersede)) < 0 ||
	    (error = get_bool(file, root, "isolate", &c->isolate)) < 0 ||
	    (error = get_bool(file, root, "network", &c->network)) < 0 ||
	    (error = get_bool(file, root, "trust_repositories",
	    &c->trust_repositories)) < 0 ||
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
	for (int i = 0; i < 2; i++) {
		const char *key = i ? "release_user" : "build_user";
		char **slot = i ? &c->release_user : &c->build_user;
		if (!(v = ynode_get(root, key)))
			continue;
		if ((error = ynode_want(file, v, YNODE_SCALAR, key,
		    "runner.yml")) < 0)
			goto out;
		if (!*v->value || !strcmp(v->value, "root") ||
		    !strcmp(v->value, "0")) {
			error = error_set(ERR_INVALID, "%s:%zu:%zu: '%s' must be a "
			    "user of its own, never root", file, v->line, v->col,
			    key);
			goto out;
		}
		free(*slot);
		*slot = xstrdup(v->value);
	}
	if (!strcmp(c->build_user, c->release_user)) {
		error = error_set(ERR_INVALID, "%s: 'release_user' and "
		    "'build_user' are both '%s': code from develop would share a "
		    "user with production's commands and services", file,
		    c->build_user);
		goto out;
	}
	if ((v = ynode_get(root, "repos")) &&
	    (error = parse_repos(file, v, c)) < 0)
		goto out;
	if ((v = ynode_get(root, "environments")) &&
	    (error = parse_envs(file, v, c)) < 0)
		goto out;
	if ((v = ynode_get(root, "secrets")) &&
	    (error = parse_secrets(file, v, c)) < 0)
		goto out;
	if ((v = ynode_get(root, "notify")) &&
	    (error = parse_notify(file, v, c)) < 0)
		goto out;
	if ((v = ynode_get(root, "limits")) &&
	    (error = config_limits(file, v, "runner.yml", &c->limits)) < 0)
		goto out;
	if ((v = ynode_get(root, "log_cap")) && (v->type != YNODE_SCALAR ||
	    parse_size(v->value, &c->log_cap) < 0 || c->log_cap < 4096)) {
		error = error_set(ERR_INVALID, "%s:%zu:%zu: 'log_cap' must be a "
		    "size of at least 4K, like 64M", file, v->line, v->col);
		goto out;
	}
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
		free(c->repos[i].release_tags);
		free(c->repos[i].allowed_signers);
		free(c->repos[i].gpg_keyring);
		strv_free(c->repos[i].auto_deploy);
	}
	free(c->repos);
	for (size_t i = 0; i < c->nsecrets; i++) {
		free(c->secrets[i].name);
		free(c->secrets[i].value);
		free(c->secrets[i].file);
		strv_free(c->secrets[i].envs);
		free(c->secrets[i].refs);
		free(c->secrets[i].repos);
	}
	free(c->secrets);
	for (size_t i = 0; i < c->nenvs; i++) {
		free(c->envs[i].name);
		free(c->envs[i].user);
		strv_free(c->envs[i].paths);
	}
	free(c->envs);
	free(c->build_user);
	free(c->release_user);
	for (size_t i = 0; i < c->nnotify; i++) {
		struct notify_target *t = &c->notify[i];
		free(t->name);
		free(t->url);
		free(t->secret);
		free(t->username);
		free(t->password);
		free(t->from);
		strv_free(t->to);
		strv_free(t->on);
		free(t->repos);
	}
	free(c->notify);
	free(c->path_env);
	free(c);
}

const struct repo_conf *config_repo(const struct config *c,
    const char *repo_path)
{
	static char *staging[] = { "staging", NULL };
	static const struct repo_conf defaults = {
		.branches = DEFAULT_BRANCHES,
		.release_tags = DEFAULT_RELEASE_TAGS,
		.auto_deploy = staging,
		.nauto_deploy = 1,
		.require_staging = 1,
		.isolate = -1,
		.network = -1,
	};

	for (size_t i = 0; i < c->nrepos; i++)
		if (!strcmp(c->repos[i].path, repo_path))
			return &c->repos[i];
	return &defaults;
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

static int pattern_matches(const char *pattern, const char *subject)
{
	int code, rc = 0;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern,
	    PCRE2_ZERO_TERMINATED, 0, &code, &off, NULL);
	pcre2_match_data *md;

	if (!re)
		return 0;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md,
	    NULL) >= 0;
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc;
}

int secret_allowed(const struct secret *s, const char *env, const char *ref,
    const char *repo, char **why)
{
	int env_ok = !s->nenvs;

	for (size_t i = 0; env && i < s->nenvs; i++)
		env_ok |= !strcmp(s->envs[i], env);
	*why = NULL;
	if (env_ok && (!s->refs || pattern_matches(s->refs, ref ? ref : "")) &&
	    (!s->repos || pattern_matches(s->repos, repo ? repo : "")))
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

int config_network(const struct config *c, const char *repo)
{
	int v = config_repo(c, repo)->network;

	return v >= 0 ? v : c->network;
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

int config_limits(const char *file, const struct ynode *n, const char *what,
    struct run_limits *out)
{
	static const char *const keys[] = {
		"processes", "memory", "file_size", "open_files", NULL
	};
	int64_t *slot[] = { &out->processes, &out->memory, &out->file_size,
	    &out->open_files };
	struct sbuf w = SBUF_INIT;
	int error;

	sbuf_addf(&w, "'limits' of %s", what);
	if ((error = ynode_want(file, n, YNODE_MAP, "limits", what)) < 0 ||
	    (error = ynode_check_keys(file, n, keys, w.buf)) < 0)
		goto out;
	for (int i = 0; keys[i]; i++) {
		const struct ynode *v = ynode_get(n, keys[i]);
		long num;
		int64_t size;
		if (!v)
			continue;
		int counted = i == 0 || i == 3;	/* a count, not bytes */
		if (v->type == YNODE_SCALAR && (counted ? ynode_uint(v, &num) &&
		    num > 0 && (size = num) : parse_size(v->value, &size) == 0 &&
		    size > 0)) {
			*slot[i] = size;
			continue;
		}
		error = error_set(ERR_INVALID, "%s:%zu:%zu: '%s' in %s must be %s",
		    file, v->line, v->col, keys[i], w.buf, counted ?
		    "a positive number" : "a size like 512M or 2G");
		goto out;
	}
out:
	sbuf_release(&w);
	return error;
}
