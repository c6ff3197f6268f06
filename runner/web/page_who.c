/*
 * Who and where, on a job's page (page.h): who pushed it (as the store's
 * audit trail recorded them), who canceled it and who signed its tag
 * (who approved a release: page_approvals.c), and its commit, linked to
 * the team's git web view when runner.yml says how (`http: commit_url:`,
 * with {repo} and {commit}). What a
 * repository controls (its name) is escaped for the URL and again for
 * the HTML attribute, so that a hostile name cannot leave either.
 */
#include "page.h"
#include "find.h"
#include "web_int.h"
#include "audit.h"
#include "jobs.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void page_job_who(struct sbuf *sb, const struct job *j)
{
	if (j->pushed_by || j->pushed_as) {
		struct sbuf who = SBUF_INIT;
		job_who_describe(&who, j);
		sbuf_adds(sb, "<tr><th>pushed by</th><td id=job-by>");
		html(sb, who.buf);
		sbuf_adds(sb, "</td></tr>");
		sbuf_release(&who);
	}
	if (j->canceled_by) {
		sbuf_adds(sb, "<tr><th>canceled by</th><td id=job-canceled-by>");
		html(sb, j->canceled_by);
		sbuf_adds(sb, "</td></tr>");
	}
	if (j->signer && j->kind != KIND_DEPLOY) {
		sbuf_adds(sb, "<tr><th>signed by</th><td id=job-signed>");
		html(sb, j->signer);
		sbuf_adds(sb, "</td></tr>");
	}
	/* who approved a release is listed below the job's table, each
	 * with its key and tag (page_approvals.c) */
}

/* `tmpl` with {repo} and {commit} replaced, each escaped for a URL. */
static void commit_url(struct sbuf *out, const char *tmpl, const char *repo,
    const char *commit)
{
	for (const char *p = tmpl; *p; ) {
		if (!strncmp(p, "{repo}", 6)) {
			url_param(out, repo);
			p += 6;
		} else if (!strncmp(p, "{commit}", 8)) {
			url_param(out, commit);
			p += 8;
		} else {
			sbuf_addch(out, *p++);
		}
	}
}

void page_commit_link(struct sbuf *sb, const char *repo, const char *commit)
{
	char *tmpl = web_commit_url();

	if (tmpl && commit && *commit) {
		struct sbuf url = SBUF_INIT;
		char *name = repo_short_name(repo);
		commit_url(&url, tmpl, name, commit);
		sbuf_adds(sb, "<a id=commit-link href='");
		html(sb, url.buf);
		sbuf_adds(sb, "'><code>");
		html(sb, commit);
		sbuf_adds(sb, "</code></a>");
		sbuf_release(&url);
		free(name);
	} else {
		sbuf_adds(sb, "<code>");
		html(sb, commit ? commit : "");
		sbuf_adds(sb, "</code>");
	}
	free(tmpl);
}
