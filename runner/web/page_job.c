/*
 * One job's page (page.h): its stages or steps, artifacts, checks, who
 * caused it, notes and notifications. Everything from the store or a
 * repository is escaped; the shared pieces are page.c's.
 */
#include "page.h"
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

void checks_table(struct sbuf *sb, const struct job *j)
{
	if (!j || !j->nchecks)
		return;
	sbuf_adds(sb, "<table class=checks><tr><th>check</th><th>ok</th>"
	    "<th>status</th><th>latency</th><th>at</th><th>error</th></tr>");
	for (size_t i = 0; i < j->nchecks; i++) {
		const struct check_rec *c = &j->checks[i];
		sbuf_adds(sb, "<tr><td>");
		html(sb, c->name);
		sbuf_adds(sb, "</td>");
		state_cell(sb, c->ok ? "passed" : "failed");
		sbuf_addf(sb, "<td>%d</td><td>%lldms</td><td>", c->status,
		    (long long)c->latency_ms);
		when(sb, c->at_ms);
		sbuf_adds(sb, "</td><td>");
		html(sb, c->error ? c->error : "");
		sbuf_adds(sb, "</td></tr>");
	}
	sbuf_adds(sb, "</table>");
}
void page_job_live(struct sbuf *sb, struct store *st, const struct job *j)
{
	sbuf_addf(sb, "<h1>Job #%lld <span id=job-state class='state %s'>%s"
	    "</span></h1><table id=job>", (long long)j->id,
	    job_state_name(j->state), job_state_name(j->state));
	sbuf_adds(sb, "<tr><th>repository</th><td>");
	repo_link(sb, j->repo);
	sbuf_adds(sb, "</td></tr><tr><th>ref</th><td>");
	ref_link(sb, j);
	sbuf_adds(sb, " <code>");
	html(sb, j->ref);
	sbuf_adds(sb, "</code></td></tr><tr><th>commit</th><td>");
	page_commit_link(sb, j->repo, j->commit);
	sbuf_adds(sb, " ");
	html(sb, j->subject ? j->subject : "");
	sbuf_adds(sb, "</td></tr><tr><th>queued</th><td>");
	when(sb, j->created_ms);
	sbuf_addf(sb, "</td></tr><tr><th>started</th><td>");
	when(sb, j->started_ms);
	sbuf_addf(sb, " (attempt %d)</td></tr><tr><th>took</th><td>", j->attempt);
	took(sb, j->started_ms, j->finished_ms);
	sbuf_adds(sb, "</td></tr>");
	page_job_who(sb, j);
	if (j->requested_by || j->forced_by) {
		sbuf_adds(sb, "<tr><th>by hand</th><td>");
		html(sb, j->forced_by ? j->forced_by : j->requested_by);
		sbuf_adds(sb, j->forced_by ? " (forced)" : "");
		sbuf_adds(sb, "</td></tr>");
	}
	struct sbuf prov = SBUF_INIT;
	if (job_provenance_describe(&prov, j)) {
		sbuf_adds(sb, "<tr><th>provenance</th><td id=job-provenance>");
		html(sb, prov.buf);
		sbuf_adds(sb, "</td></tr>");
	}
	sbuf_release(&prov);
	if (j->retry_of) {
		sbuf_adds(sb, "<tr><th>retry of</th><td>");
		job_link(sb, j->retry_of);
		sbuf_adds(sb, "</td></tr>");
	}
	if (j->kind == KIND_DEPLOY) {
		sbuf_adds(sb, "<tr><th>deploys</th><td>");
		if (j->source_job) {
			sbuf_adds(sb, "the artifact of build ");
			job_link(sb, j->source_job);
		}
		if (job_branch(j)) {
			sbuf_adds(sb, " of branch <span class=branch>");
			html(sb, job_branch(j));
			sbuf_adds(sb, "</span>");
		}
		if (j->tag) {
			sbuf_adds(sb, ", tag <code>");
			html(sb, j->tag);
			sbuf_adds(sb, "</code>");
		}
		if (j->signer) {
			sbuf_adds(sb, ", signed by <span id=job-signer>");
			html(sb, j->signer);
			sbuf_adds(sb, "</span>");
		}
		if (j->rollback_to) {
			sbuf_adds(sb, ", a rollback to ");
			job_link(sb, j->rollback_to);
		}
		if (j->previous) {
			sbuf_adds(sb, "; served before: ");
			job_link(sb, j->previous);
		}
		sbuf_adds(sb, "</td></tr>");
	}
	if (j->error) {
		sbuf_adds(sb, "<tr><th>error</th><td class='state failed'>");
		html(sb, j->error);
		sbuf_adds(sb, "</td></tr>");
	}
	sbuf_adds(sb, "</table>");
	sbuf_adds(sb, j->kind == KIND_DEPLOY ? "<h2>Steps</h2>" :
	    "<h2>Stages</h2>");
	sbuf_adds(sb, "<table id=stages><tr><th>stage</th><th>state</th>"
	    "<th>exit code</th><th>took</th><th>error</th></tr>");
	for (size_t i = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		sbuf_addf(sb, "<tr class=stage data-stage='");
		html(sb, s->name);
		sbuf_addf(sb, "'><td><a href='/job/%lld/log/%d'>", (long long)j->id,
		    s->idx);
		html(sb, s->name);
		sbuf_adds(sb, "</a></td>");
		state_cell(sb, step_state_name(s->state));
		if (s->exit_code >= 0)
			sbuf_addf(sb, "<td>%d</td><td>", s->exit_code);
		else
			sbuf_adds(sb, "<td></td><td>");
		took(sb, s->started_ms, s->finished_ms);
		sbuf_adds(sb, "</td><td>");
		html(sb, s->error ? s->error : "");
		sbuf_adds(sb, "</td></tr>");
	}
	sbuf_adds(sb, "</table>");
	page_job_failed(sb, st, j);
	chart_stages(sb, j);
	chart_verify(sb, j);
	if (j->nartifacts) {
		sbuf_adds(sb, "<h2>Artifacts</h2><table id=artifacts><tr><th>"
		    "archive</th><th>files</th><th>size</th><th>sha256</th></tr>");
		for (size_t i = 0; i < j->nartifacts; i++) {
			const struct artifact_rec *a = &j->artifacts[i];
			const char *base = strrchr(a->path, '/');
			sbuf_addf(sb, "<tr><td><a href='/job/%lld/artifact'>",
			    (long long)j->id);
			html(sb, base ? base + 1 : a->path);
			sbuf_addf(sb, "</a></td><td>%lld</td><td>", (long long)a->files);
			format_bytes(sb, a->size);
			sbuf_adds(sb, "</td><td><code>");
			html(sb, a->sha256);
			sbuf_adds(sb, "</code></td></tr>");
		}
		sbuf_adds(sb, "</table>");
	}
	if (j->nchecks) {
		sbuf_adds(sb, "<h2>Checks</h2>");
		checks_table(sb, j);
	}
	(void)st;
}

void page_job(struct sbuf *sb, struct store *st, const struct job *j,
    struct notification *const *notes, size_t nnotes)
{
	char title[32];

	snprintf(title, sizeof(title), "job #%lld", (long long)j->id);
	page_begin(sb, title);
	/* what changes while it queues and runs: followed live (live.c) */
	sbuf_adds(sb, "<div id=job-live");
	if (!job_state_final(j->state))
		sbuf_addf(sb, " data-events='/job/%lld/events'", (long long)j->id);
	sbuf_adds(sb, ">");
	page_job_live(sb, st, j);
	sbuf_adds(sb, "</div>");
	page_approvals_job(sb, st, j);
	if (j->notes) {
		sbuf_adds(sb, "<h2>Release notes</h2><pre>");
		html(sb, j->notes);
		sbuf_adds(sb, "</pre>");
	}
	if (nnotes) {
		sbuf_adds(sb, "<h2>Notifications</h2><table><tr><th>target</th>"
		    "<th>event</th><th>state</th><th>attempts</th><th>error</th>"
		    "</tr>");
		for (size_t i = 0; i < nnotes; i++) {
			sbuf_adds(sb, "<tr><td>");
			html(sb, notes[i]->target);
			sbuf_adds(sb, "</td><td>");
			html(sb, notes[i]->event);
			sbuf_adds(sb, "</td>");
			state_cell(sb, notif_state_name(notes[i]->state));
			sbuf_addf(sb, "<td>%d</td><td>", notes[i]->attempts);
			html(sb, notes[i]->error ? notes[i]->error : "");
			sbuf_adds(sb, "</td></tr>");
		}
		sbuf_adds(sb, "</table>");
	}
	actions_job(sb, j);
	sbuf_addf(sb, "<p><a href='/api/job/%lld'>as JSON</a></p>",
	    (long long)j->id);
	page_end(sb);
}
