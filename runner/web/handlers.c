/*
 * The web page's handlers: a job, its log and its JSON, a repository's
 * history, the environments, the badges. web.c routes to them.
 */
#include "web_int.h"
#include "admin.h"
#include "chart.h"
#include "chunks.h"
#include "envs.h"
#include "find.h"
#include "home.h"
#include "jobs.h"
#include "json.h"
#include "outbox.h"
#include "page.h"
#include "state.h"
#include "util.h"
#include "view.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
/* ---- pages ---- */

static const struct stage_rec *stage_of(const struct job *j, int64_t idx)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].idx == idx)
			return &j->stages[i];
	return NULL;
}

/* The end of a log (whole lines), for its page. */
static void log_tail(const char *path, struct sbuf *text, int64_t *size,
    int64_t *from)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	ssize_t n;

	*size = *from = 0;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	*size = st.st_size;
	*from = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	buf = xmalloc(LOG_TAIL);
	n = pread(fd, buf, LOG_TAIL, *from);
	close(fd);
	if (n > 0) {
		const char *start = buf;
		if (*from > 0) {	/* from the first whole line */
			const char *nl = memchr(buf, '\n', (size_t)n);
			if (nl) {
				start = nl + 1;
				*from += start - buf;
			}
		}
		sbuf_add(text, start, (size_t)(buf + n - start));
	}
	free(buf);
}

enum MHD_Result web_job_route(struct MHD_Connection *c, struct store *st,
    const char *rest)
{
	struct job *j = NULL;
	struct sbuf sb = SBUF_INIT;
	char *end;
	long long id = strtoll(rest, &end, 10);
	enum MHD_Result ret;

	if (end == rest || id <= 0 || store_job_get(st, id, &j) < 0)
		return web_not_found(c, "no such job");
	if (!*end) {
		struct notification **notes = NULL;
		size_t nn = 0;
		store_notifs_of_job(st, j->id, &notes, &nn);
		page_job(&sb, st, j, notes, nn);
		notifs_free(notes, nn);
		ret = web_send_buf(c, 200, "text/html; charset=utf-8", &sb);
	} else if (!strcmp(end, "/events")) {
		ret = web_job_events(c, j);
	} else if (!strcmp(end, "/artifact")) {
		if (!j->nartifacts) {
			ret = web_not_found(c, "this job has no artifact");
		} else {
			char *name = xasprintf("job-%lld.tar.zst", id);
			ret = web_send_artifact(c, st, j->id, j->artifacts[0].path,
			    name);
			free(name);
		}
	} else if (!strncmp(end, "/log/", 5)) {
		char *tail;
		long long idx = strtoll(end + 5, &tail, 10);
		const struct stage_rec *s = tail != end + 5 ? stage_of(j, idx) :
		    NULL;
		if (!s) {
			ret = web_not_found(c, "no such stage");
		} else if (!*tail) {
			struct sbuf text = SBUF_INIT;
			int64_t size, from;
			int seq = 0;
			if (access(s->log_path, F_OK) < 0 && web_log_sent_in(st,
			    j->id, s->idx, &seq, &text)) {
				size = (int64_t)text.len;
				from = 0;
			} else {
				log_tail(s->log_path, &text, &size, &from);
			}
			page_log(&sb, j, s, text.buf, text.len, size, from);
			sbuf_release(&text);
			ret = web_send_buf(c, 200, "text/html; charset=utf-8",
			    &sb);
		} else if (!strcmp(tail, "/raw")) {
			struct sbuf text = SBUF_INIT;
			int seq = 0;
			if (access(s->log_path, F_OK) < 0 && web_log_sent_in(st,
			    j->id, s->idx, &seq, &text))
				ret = web_send_buf(c, 200, "text/plain; charset=utf-8",
				    &text);
			else
				ret = web_send_file(c, s->log_path,
				    "text/plain; charset=utf-8", NULL);
			sbuf_release(&text);
		} else if (!strcmp(tail, "/events")) {
			ret = web_send_events(c, j, s,
			    web_number(web_arg(c, "from")));
		} else {
			ret = web_not_found(c, "no such page");
		}
	} else {
		ret = web_not_found(c, "no such page");
	}
	job_free(j);
	sbuf_release(&sb);
	return ret;
}

enum MHD_Result web_api_job(struct MHD_Connection *c, struct store *st,
    int64_t id)
{
	struct job *j = NULL;
	struct notification **notes = NULL;
	size_t nn = 0;
	struct sbuf sb = SBUF_INIT;

	if (id <= 0 || store_job_get(st, id, &j) < 0)
		return web_send_text(c, 404, "{\"error\":\"no such job\"}");
	store_notifs_of_job(st, id, &notes, &nn);
	show_json(st, j, notes, nn, &sb);
	notifs_free(notes, nn);
	job_free(j);
	return web_send_buf(c, 200, "application/json", &sb);
}

/* A query the page cannot take: 400 (404: no such repository), saying
 * which parameter and why. */
static enum MHD_Result find_refused(struct MHD_Connection *c, int code)
{
	return code == ERR_NOTFOUND ? web_not_found(c, error_last()) :
	    web_send_text(c, 400, error_last());
}

enum MHD_Result web_history(struct MHD_Connection *c, struct store *st,
    int branch)
{
	struct find f;
	struct job_query q;
	struct job **v = NULL, **tv = NULL;
	char **refs = NULL, *title;
	int64_t *last = NULL;
	size_t n = 0, nrefs = 0, tn = 0;
	struct sbuf sb = SBUF_INIT;
	const int limit = 50;
	enum MHD_Result ret;
	int code;

	if ((code = find_parse(c, st, branch ? FIND_BRANCH : FIND_REPO,
	    &f)) < 0) {
		ret = find_refused(c, code);
		find_release(&f);
		return ret;
	}
	if (!branch)
		store_branches(st, f.repo, &refs, &last, &nrefs);
	find_query(&f, &q);
	q.limit = limit;
	if (store_jobs_find(st, &q, &v, &n) < 0) {
		find_release(&f);
		strv_free_n(refs, nrefs);
		free(last);
		return web_send_text(c, 503, error_last());
	}
	/* the trend: the branch's newest builds, whichever page or filter
	 * this is (its deployments share the ref: twice as many, to have
	 * enough) */
	if (branch)
		store_jobs_of(st, f.repo, f.ref, 0, 2 * CHART_TREND, &tv, &tn);
	title = branch ? xasprintf("%s %s", f.r, f.b) : xstrdup(f.r);
	page_history(&sb, st, title, &f, v, n, limit, refs, last, nrefs, tv,
	    tn);
	jobs_free(v, n);
	jobs_free(tv, tn);
	strv_free_n(refs, nrefs);
	free(last);
	free(title);
	find_release(&f);
	return web_send_buf(c, 200, "text/html; charset=utf-8", &sb);
}

enum MHD_Result web_overview(struct MHD_Connection *c, struct store *st)
{
	struct find f;
	struct job_query q;
	struct status_view v;
	struct job **recent = NULL;
	size_t nrecent = 0;
	struct sbuf sb = SBUF_INIT;
	const int limit = 20;
	enum MHD_Result ret;
	int code, owned = 0;

	if ((code = find_parse(c, st, FIND_OVERVIEW, &f)) < 0) {
		ret = find_refused(c, code);
		find_release(&f);
		return ret;
	}
	/* the running and queued jobs (those the view has), then a page of
	 * those that ended; the view's own recent ones name the
	 * repositories its warnings are about, and are that page when
	 * nothing is filtered (the same statement: no second read) */
	if (status_view_load(st, W.home, limit, &v) < 0) {
		find_release(&f);
		return web_send_text(c, 503, error_last());
	}
	if (find_any(&f) || f.before) {
		find_query(&f, &q);
		q.done = 1;
		q.limit = limit;
		if (store_jobs_find(st, &q, &recent, &nrecent) < 0) {
			status_view_free(&v);
			find_release(&f);
			return web_send_text(c, 503, error_last());
		}
		owned = 1;
	} else {
		recent = xcalloc(v.n + 1, sizeof(*recent));
		for (size_t i = 0; i < v.n; i++)
			if (job_state_final(v.jobs[i]->state))
				recent[nrecent++] = v.jobs[i];
	}
	page_overview(&sb, st, &v, &f, recent, nrecent, limit);
	if (owned)
		jobs_free(recent, nrecent);
	else
		free(recent);
	status_view_free(&v);
	find_release(&f);
	return web_send_buf(c, 200, "text/html; charset=utf-8", &sb);
}

enum MHD_Result web_env_page(struct MHD_Connection *c, struct store *st)
{
	const char *name = web_arg(c, "r"), *env = web_arg(c, "e");
	char *repo = web_find_repo(st, name);
	struct env_rec *e = NULL;
	struct job **rel = NULL, **mine;
	size_t n = 0, k = 0;
	struct sbuf sb = SBUF_INIT;

	if (!repo || !env || store_env_get(st, repo, env, &e) < 0) {
		/* never deployed: what was refused, if anything was */
		int refused = repo && env && page_env_refused(&sb, st, repo,
		    env) == 0;
		free(repo);
		error_clear();
		if (refused)
			return web_send_buf(c, 200, "text/html; charset=utf-8",
			    &sb);
		sbuf_release(&sb);
		return web_not_found(c, "no such environment");
	}
	store_releases(st, env, &rel, &n);
	mine = xcalloc(n + 1, sizeof(*mine));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rel[i]->repo, repo))
			mine[k++] = rel[i];
	page_env(&sb, st, e, mine, k);
	free(mine);
	jobs_free(rel, n);
	env_rec_free(e);
	free(repo);
	return web_send_buf(c, 200, "text/html; charset=utf-8", &sb);
}

enum MHD_Result web_badge(struct MHD_Connection *c, struct store *st)
{
	const char *name = web_arg(c, "r"), *b = web_arg(c, "b"),
	    *env = web_arg(c, "e");
	char *repo = web_find_repo(st, name);
	struct sbuf sb = SBUF_INIT;
	const char *value = "unknown";
	char *label = NULL;

	if (repo && env) {
		struct env_rec *e = NULL;
		if (store_env_get(st, repo, env, &e) == 0)
			value = env_state_name(e->state);
		env_rec_free(e);
		label = xstrdup(env);
		badge_svg(&sb, label, value);
	} else if (repo && b) {
		char *ref = xasprintf("refs/heads/%s", b);
		struct job **v = NULL;
		size_t n = 0;
		/* the branch's last build (its deployments share the ref) */
		store_jobs_of(st, repo, ref, 0, 20, &v, &n);
		for (size_t i = 0; i < n; i++)
			if (v[i]->kind == KIND_BUILD) {
				value = job_state_name(v[i]->state);
				break;
			}
		label = xstrdup(b);
		badge_svg(&sb, label, value);
		jobs_free(v, n);
		free(ref);
	} else {
		badge_svg(&sb, "runner", "no such repository");
	}
	free(label);
	free(repo);
	return web_send_buf(c, 200, "image/svg+xml", &sb);
}
