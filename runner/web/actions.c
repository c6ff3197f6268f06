/*
 * Actions on the web page (actions.h): the forms of what the person
 * asking (auth.h) may do, and their POSTs. A POST is a form of this
 * page: a token of the person, an Origin that is the page's own; then
 * runner.yml's http: operators must allow it, and it goes through the
 * same functions as the command line (store_retry, store_cancel,
 * store_deploy_enqueue, store_rollback_enqueue, store_enqueue, the paused
 * setting), recorded with the person's name as the proxy's unix user
 * (who.h's WHO_WEB). Production changes by rollback only.
 */
#include "actions.h"
#include "web_int.h"
#include "admin.h"
#include "auth.h"
#include "config.h"
#include "envs.h"
#include "envvar.h"
#include "jobs.h"
#include "page.h"
#include "store.h"
#include "util.h"
#include "wake.h"
#include "who.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The largest form taken (64 variables of a line each fit). */
#define FORM_MAX (64 * 1024)

/* A POST on its way in. */
struct post {
	struct actor who;
	char *action;
	struct sbuf body;
	int too_big;
};

/* ---- forms ---- */

static void form_begin(struct sbuf *sb, const char *action, const char *cls)
{
	sbuf_addf(sb, "<form method=post class='action %s' action='/action/%s'>"
	    "<input type=hidden name=token value='", cls, action);
	auth_token_add(sb, auth_actor.user);
	sbuf_adds(sb, "'>");
}

static void hidden(struct sbuf *sb, const char *name, const char *value)
{
	sbuf_addf(sb, "<input type=hidden name=%s value='", name);
	html(sb, value);
	sbuf_adds(sb, "'>");
}

static void button(struct sbuf *sb, const char *label)
{
	sbuf_adds(sb, "<button type=submit>");
	html(sb, label);
	sbuf_adds(sb, "</button></form>");
}

static int may(const char *action, const char *env)
{
	const struct actor *a = &auth_actor;

	return a->user && a->conf && auth_ready() && config_web_may(a->conf->c,
	    a->user, action, env);
}

/* Acting as: the section the forms go in, once. */
static void section(struct sbuf *sb, int *open)
{
	if (*open)
		return;
	*open = 1;
	sbuf_adds(sb, "<section id=actions><h2>Actions</h2><p class=actor>as ");
	html(sb, auth_actor.user);
	sbuf_adds(sb, "</p>");
}

void actions_job(struct sbuf *sb, const struct job *j)
{
	const char *env = j->kind == KIND_DEPLOY ? j->env : NULL;
	char id[32];
	int open = 0;

	if (!auth_actor.user)
		return;
	snprintf(id, sizeof(id), "%lld", (long long)j->id);
	if (!job_state_final(j->state) && may("cancel", env)) {
		section(sb, &open);
		form_begin(sb, "cancel", "cancel");
		hidden(sb, "job", id);
		button(sb, "Cancel");
	}
	if (job_state_final(j->state) && may("retry", env)) {
		section(sb, &open);
		form_begin(sb, "retry", "retry");
		hidden(sb, "job", id);
		button(sb, "Retry");
	}
	if (j->kind == KIND_BUILD && may("run", NULL)) {
		section(sb, &open);
		form_begin(sb, "run", "run");
		hidden(sb, "job", id);
		sbuf_adds(sb, "<label for=vars>Run this commit again with "
		    "variables (NAME=value, one a line)</label><textarea id=vars "
		    "name=vars rows=3 cols=40></textarea>");
		button(sb, "Run");
	}
	if (deploy_source_check(j) < 0) {
		error_clear();
	} else {
		/* the environments this person may deploy to */
		const struct config *c = auth_actor.conf ? auth_actor.conf->c : NULL;
		struct sbuf opts = SBUF_INIT;
		for (size_t i = 0; c && i < c->http.noperators; i++)
			for (size_t k = 0; k < c->http.operators[i].nenvs; k++) {
				const char *e = c->http.operators[i].envs[k];
				struct sbuf one = SBUF_INIT;
				sbuf_addf(&one, "<option value='%s'>", e);
				if (may("deploy", e) && !strstr(opts.buf, one.buf))
					sbuf_addf(&opts, "%s%s</option>", one.buf, e);
				sbuf_release(&one);
			}
		if (opts.len) {
			section(sb, &open);
			form_begin(sb, "deploy", "deploy");
			hidden(sb, "job", id);
			sbuf_adds(sb, "<label for=env>Deploy this build to</label>"
			    "<select id=env name=env>");
			sbuf_add(sb, opts.buf, opts.len);
			sbuf_adds(sb, "</select>");
			button(sb, "Deploy");
		}
		sbuf_release(&opts);
	}
	if (open)
		sbuf_adds(sb, "</section>");
}

void actions_env(struct sbuf *sb, const struct env_rec *e)
{
	int open = 0;

	if (!auth_actor.user || !e->current || !e->current->previous ||
	    !may("rollback", e->name))
		return;
	section(sb, &open);
	form_begin(sb, "rollback", "rollback");
	hidden(sb, "repo", e->repo);
	hidden(sb, "env", e->name);
	sbuf_addf(sb, "<p>Roll %s back to release ", e->name);
	job_link(sb, e->current->previous);
	sbuf_adds(sb, ", which served before ");
	job_link(sb, e->current->id);
	sbuf_adds(sb, "</p>");
	button(sb, "Roll back");
	sbuf_adds(sb, "</section>");
}

void actions_queue(struct sbuf *sb, int paused)
{
	const char *what = paused ? "resume" : "pause";
	int open = 0;

	if (!may(what, NULL))
		return;
	section(sb, &open);
	form_begin(sb, what, what);
	button(sb, paused ? "Resume the queue" : "Pause the queue");
	sbuf_adds(sb, "</section>");
}

/* ---- a POST ---- */

static enum MHD_Result answer(struct MHD_Connection *c, int status,
    const char *msg)
{
	struct sbuf sb = SBUF_INIT;

	page_begin(&sb, "refused");
	sbuf_addf(&sb, "<h1>%s</h1><p id=refused>", status == 303 ? "Done" :
	    status < 500 ? "Refused" : "Not done");
	html(&sb, msg);
	sbuf_adds(&sb, "</p>");
	page_end(&sb);
	return web_send_buf(c, status, "text/html; charset=utf-8", &sb);
}

static enum MHD_Result see(struct MHD_Connection *c, const char *where)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL,
	    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Location", where);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, 303, r);
	MHD_destroy_response(r);
	return ret;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One field of an application/x-www-form-urlencoded body, decoded; NULL
 * when absent, or when it holds a NUL. The caller frees it. */
static char *form_value(const char *body, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = body; p && *p; ) {
		size_t len = strcspn(p, "&");
		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			struct sbuf v = SBUF_INIT;
			for (size_t i = kl + 1; i < len; i++) {
				int hi, lo;
				if (p[i] == '+') {
					sbuf_addch(&v, ' ');
				} else if (p[i] == '%' && i + 2 < len &&
				    (hi = hex_digit(p[i + 1])) >= 0 &&
				    (lo = hex_digit(p[i + 2])) >= 0) {
					if (!hi && !lo) {
						sbuf_release(&v);
						return NULL;
					}
					sbuf_addch(&v, (char)(hi << 4 | lo));
					i += 2;
				} else {
					sbuf_addch(&v, p[i]);
				}
			}
			return sbuf_detach(&v);
		}
		p += len;
		p += *p == '&';
	}
	return NULL;
}

/* "NAME=VALUE" lines as the CLI's --var and a push's ci.variable= take
 * them (envvar.h, at most 64), then as runner.yml allows them for
 * `repo`: 0 with `out` made, or -1 with *why (the caller frees it). */
static int variables(const struct config *conf, const char *repo,
    const char *text, struct sbuf *out, char **why)
{
	struct sbuf kept = SBUF_INIT, refused = SBUF_INIT;
	char *copy = xstrdup(text ? text : ""), *save = NULL;
	int n = 0, error = 0;

	for (char *line = strtok_r(copy, "\n", &save); line && !error;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *bad;
		line[strcspn(line, "\r")] = '\0';
		if (!*line)
			continue;
		if ((bad = envvar_why(line)) || ++n > 64) {
			*why = xasprintf("variable '%.100s': %s", line, bad ? bad :
			    "at most 64 variables");
			error = -1;
		} else {
			sbuf_addf(out, "%s\n", line);
		}
	}
	if (!error && out->len && config_variables_filter(conf, repo, out->buf,
	    &kept, &refused)) {
		sbuf_truncate(&refused, refused.len - 1);
		*why = sbuf_detach(&refused);
		error = -1;
	}
	sbuf_release(&kept);
	sbuf_release(&refused);
	free(copy);
	return error;
}

/* What an action did, or why not: status and the message, or where its
 * result is (303). */
struct outcome {
	int status;
	char *msg;
	char *where;
};

static void refuse(struct outcome *o, int status, char *msg)
{
	o->status = status;
	o->msg = msg;
}

/* The store said no (`code`): why, and how bad. */
static void failed(struct outcome *o, int code)
{
	refuse(o, code == ERR_NOTFOUND ? 404 : code == ERR_INVALID ? 409 : 503,
	    xstrdup(error_last()));
}

/* pause, resume */
static void act_queue(struct store *st, const struct post *p,
    struct outcome *o)
{
	const char *user = p->who.user, *what = p->action;
	int pause = !strcmp(what, "pause"), was, rc = 0;

	if (!config_web_may(p->who.conf->c, user, what, NULL)) {
		refuse(o, 403, xasprintf("'%s' may not %s the queue (runner.yml "
		    "http: operators)", user, what));
		return;
	}
	if ((was = store_setting_get(st, SETTING_PAUSED, NULL, NULL)) < 0 ||
	    (pause != (was != 0) && (rc = store_setting_set(st, SETTING_PAUSED,
	    pause ? user : NULL)) < 0)) {
		failed(o, was < 0 ? was : rc);
		return;
	}
	if (!pause)
		wake_send(W.home, WAKE_JOBS);
	log_line("web: %s (as %s) %sd the queue", user, p->who.as, what);
	o->where = xstrdup("/");
}

/* rollback: the environment's release before the current one */
static void act_rollback(struct store *st, const struct post *p,
    const char *body, const char *env, const struct who *who,
    struct outcome *o)
{
	const char *user = p->who.user;
	char *name = form_value(body, "repo");
	char *repo = name ? web_find_repo(st, name) : NULL;
	struct env_rec *e = NULL;
	int64_t to = 0, new_id = 0;
	int rc;

	if (!env || !config_web_may(p->who.conf->c, user, "rollback", env)) {
		refuse(o, 403, xasprintf("'%s' may not roll back '%s' (runner.yml "
		    "http: operators)", user, env ? env : "(none)"));
	} else if (!repo || store_env_get(st, repo, env, &e) < 0) {
		refuse(o, 404, xstrdup("no such environment"));
	} else if ((rc = store_rollback_enqueue(st, e, 0, user, who, &to,
	    &new_id)) < 0) {
		failed(o, rc);
	} else {
		wake_send(W.home, WAKE_JOBS);
		log_line("web: %s (as %s) rolled %s back to release #%lld: "
		    "deployment #%lld", user, p->who.as, env, (long long)to,
		    (long long)new_id);
		o->where = xasprintf("/job/%lld", (long long)new_id);
	}
	env_rec_free(e);
	free(repo);
	free(name);
}

/* run: job j's commit built again, with variables */
static int64_t act_run(struct store *st, const struct post *p,
    const char *body, const struct job *j, const struct who *who,
    struct outcome *o)
{
	struct sbuf vars = SBUF_INIT;
	char *text = form_value(body, "vars"), *why = NULL;
	struct enqueued q = { 0, 0 };
	int rc;

	if (j->kind != KIND_BUILD) {
		refuse(o, 400, xasprintf("job #%lld is not a build",
		    (long long)j->id));
	} else if (variables(p->who.conf->c, j->repo, text, &vars, &why) < 0) {
		refuse(o, 400, why);
	} else {
		/* as runner run queues a build by hand */
		struct push push = { j->repo, j->ref,
		    "0000000000000000000000000000000000000000", j->commit, NULL,
		    NULL, vars.len ? vars.buf : NULL, p->who.user, who };
		if ((rc = store_enqueue(st, &push, 1, &q)) < 0)
			failed(o, rc);
	}
	free(text);
	sbuf_release(&vars);
	return q.id;
}

static void act(struct store *st, const struct post *p, const char *body,
    struct outcome *o)
{
	const struct config *conf = p->who.conf->c;
	const char *user = p->who.user, *what = p->action, *on;
	struct who who = { xstrdup(user), xstrdup(WHO_WEB), NULL,
	    xstrdup(p->who.as) };
	char *env = form_value(body, "env"), *job = form_value(body, "job");
	struct job *j = NULL;
	int64_t id = web_number(job), new_id = 0;
	int running = 0, rc = 0;

	if (env && !config_name_valid(env)) {
		refuse(o, 400, xstrdup("not an environment's name"));
		goto out;
	}
	if (!strcmp(what, "pause") || !strcmp(what, "resume")) {
		act_queue(st, p, o);
		goto out;
	}
	if (!strcmp(what, "rollback")) {
		act_rollback(st, p, body, env, &who, o);
		goto out;
	}
	if (strcmp(what, "retry") && strcmp(what, "cancel") &&
	    strcmp(what, "run") && strcmp(what, "deploy")) {
		refuse(o, 404, xstrdup("no such action"));
		goto out;
	}
	if (id <= 0 || store_job_get(st, id, &j) < 0) {
		refuse(o, 404, xstrdup("no such job"));
		goto out;
	}
	/* deploy: where to; the others: the environment of the deployment
	 * they touch */
	on = !strcmp(what, "deploy") ? env : j->kind == KIND_DEPLOY ? j->env :
	    NULL;
	if (!strcmp(what, "deploy") && !env) {
		refuse(o, 400, xstrdup("deploy where? (no environment)"));
		goto out;
	}
	if (!config_web_may(conf, user, what, on)) {
		refuse(o, 403, xasprintf("'%s' may not %s job #%lld%s%s from the "
		    "page (runner.yml http: operators)%s", user, what,
		    (long long)id, on ? " on " : "",
		    on ? on : "", on && config_env_signed(conf, on) ? "; an "
		    "environment that requires a signed tag changes from the "
		    "page by rollback only" : ""));
		goto out;
	}
	if (!strcmp(what, "retry")) {
		rc = store_retry(st, id, &who, &new_id);
	} else if (!strcmp(what, "cancel")) {
		/* a full disk: the store's reserve was released for this */
		if ((rc = store_cancel(st, id, &who, &running)) == ERR_NOSPACE)
			rc = store_cancel(st, id, &who, &running);
	} else if (!strcmp(what, "deploy")) {
		struct deploy_req req = {
			.repo = j->repo, .ref = j->ref, .commit = j->commit,
			.env = env, .source_job = j->id, .requested_by = user,
			.who = &who,
		};
		if ((rc = deploy_source_check(j)) == 0)
			rc = store_deploy_enqueue(st, &req, 1, &new_id);
	} else {
		new_id = act_run(st, p, body, j, &who, o);
	}
	if (rc < 0)
		failed(o, rc);
	if (o->status)
		goto out;
	if (!strcmp(what, "cancel")) {
		if (running)
			wake_send(W.home, WAKE_CANCEL);
		log_line("web: %s (as %s) canceled job #%lld", user, p->who.as,
		    (long long)id);
		o->where = xasprintf("/job/%lld", (long long)id);
	} else {
		wake_send(W.home, WAKE_JOBS);
		log_line("web: %s (as %s): %s of job #%lld%s%s: job #%lld", user,
		    p->who.as, what, (long long)id, env ? " to " : "",
		    env ? env : "", (long long)new_id);
		o->where = xasprintf("/job/%lld", (long long)new_id);
	}
out:
	job_free(j);
	free(env);
	free(job);
	who_release(&who);
}

static void post_free(struct post *p)
{
	if (!p)
		return;
	auth_actor_release(&p->who);
	free(p->action);
	sbuf_release(&p->body);
	free(p);
}

/* The first call, on the headers: everything a request must be before
 * its body is read. NULL with *ret set when it is refused. */
static struct post *post_start(struct MHD_Connection *c, const char *url,
    enum MHD_Result *ret)
{
	struct post *p = xcalloc(1, sizeof(*p));
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Content-Type");
	struct auth_conf *s = auth_conf_get();
	int auth = s && s->c->http.auth.proxy_user;

	auth_conf_put(s);
	sbuf_init(&p->body);
	if (!auth || strncmp(url, "/action/", 8)) {
		*ret = web_send_text(c, 405, "read-only: GET and HEAD only");
	} else if (auth_who(c, &p->who) < 0) {
		*ret = answer(c, 403, "this request names a person but does not "
		    "come from the proxy that authenticates them");
	} else if (!p->who.user) {
		*ret = answer(c, 403, "an action needs a person: sign in "
		    "through the proxy in front of this page");
	} else if (!auth_ready()) {
		*ret = answer(c, 503, "the page's secret for its forms is "
		    "missing (the web process's log says why)");
	} else if (!auth_origin_ok(c, p->who.conf->c)) {
		log_line("refused an action of %s: its Origin is not this page's",
		    p->who.user);
		*ret = answer(c, 403, "this form was not sent from this page "
		    "(its Origin is another site's, or missing)");
	} else if (!type || strncasecmp(type,
	    "application/x-www-form-urlencoded", 33)) {
		*ret = answer(c, 415, "an action is a form of this page");
	} else {
		p->action = xstrdup(url + 8);
		return p;
	}
	post_free(p);
	return NULL;
}

enum MHD_Result actions_post(struct MHD_Connection *c, const char *url,
    const char *upload, size_t *upload_size, void **con_cls)
{
	struct post *p = *con_cls;
	struct outcome o = { 0, NULL, NULL };
	struct store *st = NULL;
	enum MHD_Result ret;
	char *tok;
	int slot;

	if (!p) {
		if (!(p = post_start(c, url, &ret)))
			return ret;
		*con_cls = p;
		return MHD_YES;
	}
	if (*upload_size) {
		if (p->body.len + *upload_size > FORM_MAX)
			p->too_big = 1;
		else
			sbuf_add(&p->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	*con_cls = NULL;
	tok = form_value(p->body.buf, "token");
	if (p->too_big) {
		ret = answer(c, 413, "the form is too large");
	} else if (!auth_token_ok(tok, p->who.user)) {
		log_line("refused an action of %s: no token of theirs (a form "
		    "of this page, of this person, at most %d hours old)",
		    p->who.user, 12);
		ret = answer(c, 403, "this form's token is not yours, or too old: "
		    "load the page again");
	} else if ((slot = web_pool_get(&st)) < 0) {
		ret = answer(c, 503, error_last());
	} else {
		act(st, p, p->body.buf, &o);
		web_pool_put(slot);
		ret = o.where ? see(c, o.where) : answer(c, o.status, o.msg);
	}
	error_clear();
	free(tok);
	free(o.msg);
	free(o.where);
	post_free(p);
	return ret;
}

void actions_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	post_free(*con_cls);
	*con_cls = NULL;
}
