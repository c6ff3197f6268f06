/*
 * Approvals on the web page (page.h): the releases waiting for them, on
 * the overview and on their environment's page, and who approved a
 * release, on its deployment's page. Names and keys come from signed tags
 * a repository holds: all escaped.
 */
#include "page.h"
#include "audit.h"
#include "jobs.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* "1 of 2 approvals: alice; 1 more needed", escaped. */
static void describe(struct sbuf *sb, const struct approval_rec *a)
{
	struct sbuf text = SBUF_INIT;

	approval_describe(&text, a);
	html(sb, text.buf);
	sbuf_release(&text);
}

void page_approvals_waiting(struct sbuf *sb, struct store *st,
    const char *repo, const char *env)
{
	struct approval_rec *v = NULL;
	size_t n = 0, shown = 0;

	if (store_approvals_pending(st, &v, &n) < 0) {
		error_clear();
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct approval_rec *a = &v[i];
		if ((repo && strcmp(repo, a->repo)) || (env && strcmp(env, a->env)))
			continue;
		if (!shown++)
			sbuf_adds(sb, "<h2>Waiting for approval</h2><table "
			    "id=approvals-waiting><tr><th>release</th><th>"
			    "repository</th><th>environment</th><th>deployment"
			    "</th><th>approvals</th></tr>");
		sbuf_adds(sb, "<tr><td><code>");
		html(sb, a->tag);
		sbuf_adds(sb, "</code></td><td>");
		repo_link(sb, a->repo);
		sbuf_adds(sb, "</td><td>");
		html(sb, a->env);
		sbuf_adds(sb, "</td><td>");
		job_link(sb, a->job_id);
		sbuf_adds(sb, "</td><td class=approvals>");
		describe(sb, a);
		sbuf_adds(sb, "</td></tr>");
	}
	if (shown)
		sbuf_adds(sb, "</table>");
	approval_recs_free(v, n);
}

void page_approvals_job(struct sbuf *sb, struct store *st,
    const struct job *j)
{
	struct approval_rec *a = NULL;

	if (j->kind != KIND_DEPLOY || !j->tag)
		return;
	if (store_approvals_get(st, j->id, &a) < 0 || !a) {
		error_clear();
		return;
	}
	sbuf_adds(sb, "<h2>Approvals</h2><p id=job-approvals>");
	describe(sb, a);
	sbuf_adds(sb, "</p><ul id=job-approvers>");
	for (const char *p = a->approvers; p && *p; ) {
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n);
		sbuf_adds(sb, "<li>");
		html(sb, line);
		sbuf_adds(sb, "</li>");
		free(line);
		p += n + (p[n] == '\n');
	}
	sbuf_adds(sb, "</ul>");
	approval_recs_free(a, 1);
}
