/*
 * An environment's page and row (page.h), and a stage's log page: what
 * serves, its deployments and their checks; a log with its colours and
 * the live tail. Everything from the store or a repository is escaped.
 */
#include "page.h"
#include "find.h"
#include "chart.h"
#include "audit.h"
#include "envs.h"
#include "jobs.h"
#include "outbox.h"
#include "state.h"
#include "util.h"
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void env_row(struct sbuf *sb, struct store *st,
    const struct env_rec *e)
{
	const struct job *cur = e->current;
	char *name = repo_short_name(e->repo), *first = NULL;
	int changed = 0;
	const char *rs = cur ? view_release_state(st, cur, &changed, &first) :
	    NULL;

	sbuf_adds(sb, "<tr class=env><td>");
	repo_link(sb, e->repo);
	sbuf_adds(sb, "</td><td><a href='/env?r=");
	url_param(sb, name);
	sbuf_adds(sb, "&amp;e=");
	url_param(sb, e->name);
	sbuf_adds(sb, "'>");
	html(sb, e->name);
	sbuf_adds(sb, "</a></td>");
	state_cell(sb, env_state_name(e->state));
	sbuf_adds(sb, "<td class=release>");
	if (cur) {
		const char *branch = job_branch(cur);
		job_link(sb, cur->id);
		sbuf_addf(sb, " <code>%.7s</code> ", cur->commit);
		html(sb, cur->tag ? cur->tag : "");
		/* which branch serves: develop's build, never a feature's */
		if (branch) {
			sbuf_adds(sb, cur->tag ? " from <span class=branch>" :
			    "<span class=branch>");
			html(sb, branch);
			sbuf_adds(sb, "</span>");
		}
		if (rs && !strcmp(rs, "tampered"))
			sbuf_adds(sb, " <span class='state TAMPERED'>TAMPERED"
			    "</span>");
	} else {
		sbuf_adds(sb, "nothing serving");
	}
	sbuf_adds(sb, "</td><td>");
	if (e->latest) {
		job_link(sb, e->latest->id);
		sbuf_addf(sb, " <span class='state %s'>%s</span>",
		    job_state_name(e->latest->state),
		    job_state_name(e->latest->state));
		for (size_t i = 0; i < e->latest->nchecks; i++) {
			const struct check_rec *c = &e->latest->checks[i];
			sbuf_adds(sb, "<br>");
			html(sb, c->name);
			sbuf_addf(sb, ": %s", c->ok ? "ok" : "failed");
		}
	}
	sbuf_adds(sb, "</td></tr>");
	free(first);
	free(name);
}
void page_env(struct sbuf *sb, struct store *st, const struct env_rec *e,
    struct job *const *rel, size_t n)
{
	char *repo = repo_short_name(e->repo);
	char *title = xasprintf("%s %s", repo, e->name);

	page_begin(sb, title);
	sbuf_adds(sb, "<h1>Environment ");
	html(sb, e->name);
	sbuf_addf(sb, " <span id=env-state class='state %s'>%s</span></h1>",
	    env_state_name(e->state), env_state_name(e->state));
	sbuf_adds(sb, "<table id=environments><tr><th>repository</th><th>"
	    "environment</th><th>state</th><th>release</th><th>last deployment "
	    "and checks</th></tr>");
	env_row(sb, st, e);
	sbuf_adds(sb, "</table>");
	page_approvals_waiting(sb, st, e->repo, e->name);
	actions_env(sb, e);
	if (e->latest && e->latest->nchecks) {
		sbuf_adds(sb, "<h2>Last checks</h2>");
		checks_table(sb, e->latest);
	}
	chart_served(sb, rel, n);
	sbuf_adds(sb, "<h2>Deployments</h2><table id=releases><tr><th>"
	    "deployment</th><th>state</th><th>commit</th><th>branch</th><th>"
	    "tag</th><th>from build</th><th>kind</th><th>release files</th><th>"
	    "when</th></tr>");
	for (size_t i = 0; i < n; i++) {
		const struct job *j = rel[i];
		int changed = 0;
		char *first = NULL;
		const char *rs = view_release_state(st, j, &changed, &first);
		sbuf_addf(sb, "<tr%s><td>", j->id == e->release ?
		    " class=serving" : "");
		job_link(sb, j->id);
		if (j->id == e->release)
			sbuf_adds(sb, " <b>serving</b>");
		sbuf_adds(sb, "</td>");
		state_cell(sb, job_state_name(j->state));
		sbuf_addf(sb, "<td><code>%.7s</code></td><td>", j->commit);
		html(sb, job_branch(j) ? job_branch(j) : "");
		sbuf_adds(sb, "</td><td>");
		html(sb, j->tag ? j->tag : "");
		sbuf_adds(sb, "</td><td>");
		if (j->source_job)
			job_link(sb, j->source_job);
		sbuf_adds(sb, "</td><td>");
		sbuf_adds(sb, j->rollback_to ? "rollback" : j->forced_by ?
		    "forced" : j->requested_by ? "by hand" : j->tag ? "tag" :
		    "push");
		sbuf_adds(sb, "</td>");
		state_cell(sb, !strcmp(rs, "tampered") ? "TAMPERED" : rs);
		sbuf_adds(sb, "<td>");
		when(sb, j->finished_ms ? j->finished_ms : j->created_ms);
		sbuf_adds(sb, "</td></tr>");
		free(first);
	}
	sbuf_adds(sb, "</table>");
	page_env_rejected(sb, st, e);
	page_end(sb);
	free(title);
	free(repo);
}
void page_log(struct sbuf *sb, const struct job *j, const struct stage_rec *s,
    const char *text, size_t len, int64_t size, int64_t from)
{
	struct ansi a = ANSI_INIT;
	char *title = xasprintf("#%lld %s", (long long)j->id, s->name);
	int live = s->state == STEP_RUNNING || s->state == STEP_PENDING;

	page_begin(sb, title);
	sbuf_adds(sb, "<h1>");
	job_link(sb, j->id);
	sbuf_adds(sb, " ");
	html(sb, s->name);
	sbuf_addf(sb, " <span id=stage-state class='state %s'>%s</span></h1>",
	    step_state_name(s->state), step_state_name(s->state));
	if (from > 0) {
		sbuf_adds(sb, "<p class=note id=tail>The last ");
		format_bytes(sb, size - from);
		sbuf_adds(sb, " of ");
		format_bytes(sb, size);
		sbuf_addf(sb, ": <a href='/job/%lld/log/%d/raw'>the whole log"
		    "</a></p>", (long long)j->id, s->idx);
	} else {
		sbuf_addf(sb, "<p class=note><a href='/job/%lld/log/%d/raw'>raw"
		    "</a></p>", (long long)j->id, s->idx);
	}
	sbuf_adds(sb, "<pre class=log id=log");
	if (live)
		sbuf_addf(sb, " data-events='/job/%lld/log/%d/events?from=%lld'",
		    (long long)j->id, s->idx, (long long)size);
	sbuf_adds(sb, ">");
	ansi_html(&a, text, len, sb);
	sbuf_adds(sb, "</pre>");
	if (live)	/* shown by the script when the reader scrolls up */
		sbuf_adds(sb, "<button id=follow type=button hidden>follow the "
		    "end ↓</button>");
	page_end(sb);
	free(title);
}
