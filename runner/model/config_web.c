/*
 * runner.yml http: auth and http: operators (config.h): whom the web page
 * believes, and who may act there. The page trusts a user name only from
 * the reverse proxy that authenticated the person (its unix user, found
 * by the web process for each connection); operators name people or unix
 * groups, the actions they may take and the environments they may take
 * them on. Production is never changed from the page except by rollback.
 */
#include "config.h"
#include "config_int.h"
#include "schema.h"
#include "util.h"
#include "ynode.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const struct sfield auth_fields[] = {
	{ .key = "header", .kind = S_STR, FIELD(struct http_auth, header),
	    .flags = S_NONEMPTY, .def = "X-Remote-User",
	    .doc = "the request header the proxy puts the authenticated "
	    "user's name in (nginx: `proxy_set_header X-Remote-User "
	    "$remote_user`); taken only on connections of `proxy_user`, and "
	    "any other connection that sends it is refused" },
	{ .key = "proxy_user", .kind = S_STR,
	    FIELD(struct http_auth, proxy_user),
	    .flags = S_REQUIRED | S_NONEMPTY,
	    .doc = "the unix user the reverse proxy runs as (`www-data`): "
	    "the page believes the header from this user's connections only" },
	SFIELD_END
};
const struct schema http_auth_schema = {
	.name = "auth", .fields = auth_fields, .rel = REL_IN,
	.doc = "The reverse proxy that authenticates people for the page. "
	    "Without it the page is read-only: no forms, every POST refused.",
};

/* Is `w` one of the space-separated `words`? */
static int is_word(const char *words, const char *w)
{
	size_t len = strlen(w);

	for (const char *p = words; *p; ) {
		size_t n = strcspn(p, " ");
		if (n == len && !strncmp(p, w, n))
			return 1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

static int in_strv(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* A name as the proxy may send it, or a group: what who_clean() keeps. */
static int name_ok(const char *s)
{
	if (!*s || strlen(s) > 100)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || strchr("\"'`()[]{}<>,:;\\", *s))
			return 0;
	return 1;
}

/* One entry: people, actions, environments, each as the page can use
 * them. */
static int check_operator(const struct sread *r, const struct ynode *map,
    void *obj)
{
	const struct web_operator *o = obj;
	const struct ynode *v;

	v = ynode_get(map, "who");
	for (size_t i = 0; i < o->nwho; i++) {
		const char *w = o->who[i] + (o->who[i][0] == '@');
		if (!name_ok(w))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'who' in %s: "
			    "'%s' is not a user name or @group", r->file,
			    v->line, v->col, r->what, o->who[i]);
	}
	v = ynode_get(map, "may");
	for (size_t i = 0; i < o->nmay; i++)
		if (!is_word(WEB_ACTIONS, o->may[i]))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'may' in %s: "
			    "unknown action '%s' (use %s)", r->file, v->line,
			    v->col, r->what, o->may[i], WEB_ACTIONS);
	v = ynode_get(map, "environments");
	for (size_t i = 0; i < o->nenvs; i++)
		if (!config_name_valid(o->envs[i]))
			return error_set(ERR_INVALID, "%s:%zu:%zu: 'environments' "
			    "in %s: bad environment name '%s'", r->file, v->line,
			    v->col, r->what, o->envs[i]);
	v = ynode_get(map, "may");
	for (size_t i = 0; i < o->nmay; i++)
		if ((!strcmp(o->may[i], "deploy") ||
		    !strcmp(o->may[i], "rollback")) && !o->nenvs)
			return error_set(ERR_INVALID, "%s:%zu:%zu: '%s' in %s needs "
			    "'environments': the environments it may change",
			    r->file, v->line, v->col, o->may[i], r->what);
	return 0;
}

static const struct sfield operator_fields[] = {
	{ .key = "who", .kind = S_STRV, FIELD(struct web_operator, who),
	    COUNT(struct web_operator, nwho), .flags = S_REQUIRED,
	    .doc = "user names as the proxy sends them, or `@GROUP` for the "
	    "members of a unix group" },
	{ .key = "may", .kind = S_STRV, FIELD(struct web_operator, may),
	    COUNT(struct web_operator, nmay), .flags = S_REQUIRED,
	    .doc = "actions: `retry`, `cancel`, `run` (a build's commit again, "
	    "with variables), `deploy` (a passed build, never to production), "
	    "`rollback`, `pause`, `resume`" },
	{ .key = "environments", .kind = S_STRV,
	    FIELD(struct web_operator, envs),
	    COUNT(struct web_operator, nenvs), .def = "(none)",
	    .doc = "where `deploy` and `rollback` may change things, and "
	    "whose deployments `retry` and `cancel` may touch; production (and "
	    "every environment that requires a signed tag) by `rollback` only" },
	SFIELD_END
};
const struct schema web_operator_schema = {
	.name = "operators", .fields = operator_fields, .rel = REL_IN,
	.size = sizeof(struct web_operator),
	.line_at = SLINE(struct web_operator, line),
	.entry = "an 'operators' entry", .check = check_operator,
	.doc = "Who may act on the web page: each entry lets the people of "
	    "`who` take the actions of `may`, on the environments of "
	    "`environments`.",
};

/* Whoever runs repository code must not be the proxy. */
static int code_user(const struct config *c, const char *u)
{
	if (!strcmp(u, c->build_user) || !strcmp(u, c->release_user) ||
	    config_worker_user(c, u))
		return 1;
	for (size_t i = 0; i < c->nenvs; i++)
		if (c->envs[i].user && !strcmp(c->envs[i].user, u))
			return 1;
	return 0;
}

int config_web_check(const struct sread *r, const struct ynode *map,
    const struct config *c)
{
	const struct http_conf *h = &c->http;
	const struct ynode *hn = ynode_get(map, "http"), *v;
	const char *u = h->auth.proxy_user;

	if (h->noperators && !u) {
		v = ynode_get(hn, "operators");
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'operators' in 'http' "
		    "needs 'auth' (the proxy that authenticates them): without "
		    "it the page is read-only", r->file, v->line, v->col);
	}
	if (!u)
		return 0;
	v = ynode_get(ynode_get(hn, "auth"), "proxy_user");
	if (!strcmp(u, "root") || !strcmp(u, "0") || code_user(c, u))
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'proxy_user' in 'auth' "
		    "of 'http' is '%s', %s: name the reverse proxy's own user "
		    "(www-data)", r->file, v->line, v->col, u, strcmp(u, "root") &&
		    strcmp(u, "0") ? "who runs repository code, which could "
		    "then act as anyone" : "never root");
	v = ynode_get(ynode_get(hn, "auth"), "header");
	if (h->auth.header && (strspn(h->auth.header, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(h->auth.header) ||
	    !strcasecmp(h->auth.header, "Host") ||
	    !strcasecmp(h->auth.header, "Origin") ||
	    !strcasecmp(h->auth.header, "Cookie")))
		return error_set(ERR_INVALID, "%s:%zu:%zu: 'header' in 'auth' of "
		    "'http' must be a header's name of its own, like "
		    "X-Remote-User, not '%s'", r->file, v ? v->line : 0,
		    v ? v->col : 0, h->auth.header);
	for (size_t i = 0; i < h->noperators; i++) {
		const struct web_operator *o = &h->operators[i];
		if (!in_strv(o->may, o->nmay, "deploy"))
			continue;
		for (size_t k = 0; k < o->nenvs; k++)
			if (config_env_signed(c, o->envs[k]))
				return error_set(ERR_INVALID, "%s:%zu: an 'operators' "
				    "entry may deploy to '%s', which requires a "
				    "signed release tag: the page never deploys "
				    "there (a release is a signed tag pushed; "
				    "'rollback' may be allowed)", r->file, o->line,
				    o->envs[k]);
	}
	return 0;
}

/* Is `user` a member of unix group `group` (listed, or its primary
 * group)? The web page asks from many threads: the _r lookups. */
static int in_group(const char *user, const char *group)
{
	long max = sysconf(_SC_GETGR_R_SIZE_MAX), pmax =
	    sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = (size_t)(max > 0 ? max : 16384) + (size_t)(pmax > 0 ?
	    pmax : 16384);
	char *buf = xmalloc(len);
	struct group gr, *g = NULL;
	struct passwd pw, *p = NULL;
	int yes = 0;

	/* a group of many members needs more room */
	while (getgrnam_r(group, &gr, buf, len, &g) == ERANGE && len < (1u <<
	    24)) {
		len *= 2;
		buf = xrealloc(buf, len);
	}
	if (g) {
		for (char **m = g->gr_mem; m && *m && !yes; m++)
			yes = !strcmp(*m, user);
		gid_t gid = g->gr_gid;
		if (!yes && getpwnam_r(user, &pw, buf, len, &p) == 0 && p)
			yes = p->pw_gid == gid;
	}
	free(buf);
	return yes;
}

int config_web_may(const struct config *c, const char *user,
    const char *action, const char *env)
{
	int on_env = !strcmp(action, "deploy") || !strcmp(action, "rollback");

	if (!c->http.auth.proxy_user || !user || !*user)
		return 0;
	if ((on_env && !env) || (env && config_env_signed(c, env) &&
	    strcmp(action, "rollback")))
		return 0;
	for (size_t i = 0; i < c->http.noperators; i++) {
		const struct web_operator *o = &c->http.operators[i];
		if (!in_strv(o->may, o->nmay, action) ||
		    (env && !in_strv(o->envs, o->nenvs, env)))
			continue;
		for (size_t k = 0; k < o->nwho; k++)
			if (o->who[k][0] == '@' ? in_group(user, o->who[k] + 1) :
			    !strcmp(o->who[k], user))
				return 1;
	}
	return 0;
}
