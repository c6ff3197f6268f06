/*
 * The web page's HTML (page.h): plain HTML and one stylesheet; the only
 * script follows a running stage's log and refreshes the overview while
 * something runs. Everything from the store or a repository is escaped.
 * A log's ANSI colours are ansi.c's.
 */
#include "page.h"
#include "chart.h"
#include "find.h"
#include "hosts.h"
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
#include <time.h>

const char page_css[] =
"body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
"header{background:#263238;color:#fff;padding:.5em 1em}"
"header a{color:#fff;text-decoration:none;font-weight:bold;margin-right:1em}"
"main{padding:1em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
"td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
"th{background:#eceff1}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.2em}"
".state{font-weight:bold}.passed,.healthy{color:#2e7d32}"
".failed,.error,.rolled_back,.timed_out,.dead,.TAMPERED{color:#c62828}"
".running,.deploying{color:#1565c0}.queued,.pending{color:#6d4c41}"
".canceled,.superseded,.interrupted,.rejected,.skipped{color:#666}"
"pre.log{background:#111;color:#ddd;padding:.8em;white-space:pre-wrap;overflow-wrap:anywhere}"
".b{font-weight:bold}.f0{color:#777}.f1{color:#ef5350}.f2{color:#66bb6a}"
".f3{color:#ffca28}.f4{color:#42a5f5}.f5{color:#ab47bc}.f6{color:#26c6da}"
".f7{color:#eee}code{font-size:.95em}.note{color:#555}"
"svg.chart{display:block;max-width:100%;height:auto;margin:.5em 0 1em}"
"#follow{position:fixed;right:1.5em;bottom:1.5em;padding:.5em 1em;"
"font:inherit;background:#1565c0;color:#fff;border:0;border-radius:4px;"
"cursor:pointer}#follow[hidden]{display:none}"
"#failed{border-left:4px solid #c62828;padding-left:.8em}"
"pre.body{background:#f3f3f3;padding:.5em;white-space:pre-wrap;"
"max-height:12em;overflow:auto}"
/* actions.c's forms */
"form.action{margin:.4em 0}form.action label{display:block;margin:.2em 0}"
"form.action textarea{display:block;width:30em;max-width:100%;box-sizing:"
"border-box;margin-bottom:.3em}"
/* find.c's filters and pages; the header wraps on a narrow screen */
"header{display:flex;flex-wrap:wrap;gap:.2em 0}"
"form.find{margin:.5em 0}form.find label{display:inline-block;"
"margin:0 1em .3em 0}nav.pager a{margin-right:1em}"
/* a phone: each table row a block of its cells, which wrap, so that the
 * page never scrolls sideways; the headers' row stays, as their legend */
"@media (max-width:640px){main{padding:.6em}"
"table,tbody{display:block}tr{display:block;padding:.3em 0;"
"border-bottom:1px solid #ddd}td,th{display:inline-block;border:0;"
"padding:.1em .7em .1em 0;overflow-wrap:anywhere}th{background:none;"
"color:#555}tr:first-child th:not(:only-of-type){font-weight:normal;"
"font-size:.85em}}";

/* Follows a running stage's log (Server-Sent Events): the page opens at
 * its end and stays there as it grows, until the reader scrolls up; the
 * button #follow takes it back. Puts a running job's page in place as it
 * changes (live.c), and refreshes the overview every 5 s while a job
 * runs or waits. */
const char page_js[] =
"(function(){var l=document.getElementById('log'),"
"f=document.getElementById('follow'),on=true,d=document.documentElement;"
"function end(){window.scrollTo(0,d.scrollHeight);}"
"function atEnd(){return window.scrollY+window.innerHeight>=d.scrollHeight-4;}"
"if(l){end();window.addEventListener('scroll',function(){on=atEnd();"
"if(f)f.hidden=on;});"
"if(f)f.onclick=function(){on=true;f.hidden=true;end();};}"
"if(l&&l.dataset.events){var es=new EventSource(l.dataset.events);"
"es.onmessage=function(e){l.insertAdjacentHTML('beforeend',e.data);"
"if(on)end();};"
"es.addEventListener('end',function(e){es.close();if(f)f.remove();"
"var s=document.getElementById('stage-state');if(s){s.textContent=e.data;"
"s.className='state '+e.data;}});"
/* the store cannot say (its error), or can again (empty) */
"es.addEventListener('store',function(e){"
"var s=document.getElementById('stage-state');if(!s)return;"
"if(e.data){if(!s.dataset.was)s.dataset.was=s.textContent;"
"s.textContent='store: '+e.data;}else if(s.dataset.was){"
"s.textContent=s.dataset.was;delete s.dataset.was;}});}"
"var j=document.getElementById('job-live');"
"if(j&&j.dataset.events){var je=new EventSource(j.dataset.events);"
"je.addEventListener('job',function(e){j.innerHTML=e.data;});"
"je.addEventListener('end',function(e){je.close();"
"delete j.dataset.events;j.dataset.ended=e.data;});"
/* as on the log page: the store's error in place of the state */
"je.addEventListener('store',function(e){"
"var s=document.getElementById('job-state');if(!s)return;"
"if(e.data){if(!s.dataset.was)s.dataset.was=s.textContent;"
"s.textContent='store: '+e.data;}else if(s.dataset.was){"
"s.textContent=s.dataset.was;delete s.dataset.was;}});}"
"var o=document.getElementById('overview');"
"if(o&&o.dataset.live==='1')setTimeout(function(){location.reload();},5000);"
"})();";

void html(struct sbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		unsigned cp;
		size_t n;
		if ((unsigned char)*s >= 0x80 && (n = utf8_char_len(
		    (const unsigned char *)s, strnlen(s, 4), &cp)) > 1 &&
		    utf8_reorders(cp)) {
			sbuf_addf(sb, "\\u{%04x}", cp);
			s += n - 1;
			continue;
		}
		switch (*s) {
		case '<': sbuf_adds(sb, "&lt;"); break;
		case '>': sbuf_adds(sb, "&gt;"); break;
		case '&': sbuf_adds(sb, "&amp;"); break;
		case '"': sbuf_adds(sb, "&quot;"); break;
		case '\'': sbuf_adds(sb, "&#39;"); break;
		default: sbuf_addch(sb, *s);
		}
	}
}

void page_begin(struct sbuf *sb, const char *title)
{
	sbuf_adds(sb, "<!doctype html><html lang=en><head><meta charset=utf-8>"
	    "<meta name=viewport content='width=device-width'><title>");
	html(sb, title);
	sbuf_adds(sb, " · runner</title><link rel=stylesheet href='/style.css'>"
	    "</head><body><header><a href='/'>runner</a><a href='/metrics'>"
	    "metrics</a><a href='/api/status'>api</a></header><main>");
}

void page_end(struct sbuf *sb)
{
	sbuf_adds(sb, "</main><script src='/live.js'></script></body></html>\n");
}

void when(struct sbuf *sb, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (!ms) {
		sbuf_adds(sb, "–");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	sbuf_adds(sb, buf);
}

void took(struct sbuf *sb, int64_t from, int64_t to)
{
	if (!from)
		sbuf_adds(sb, "–");
	else
		format_duration(sb, (to ? to : now_ms()) - from);
}

void state_cell(struct sbuf *sb, const char *state)
{
	sbuf_addf(sb, "<td class='state %s'>", state);
	html(sb, state);
	sbuf_adds(sb, "</td>");
}

void job_link(struct sbuf *sb, int64_t id)
{
	sbuf_addf(sb, "<a href='/job/%lld'>#%lld</a>", (long long)id,
	    (long long)id);
}

void repo_link(struct sbuf *sb, const char *repo)
{
	char *name = repo_short_name(repo);
	sbuf_adds(sb, "<a href='/repo?r=");
	url_param(sb, name);
	sbuf_adds(sb, "'>");
	html(sb, name);
	sbuf_adds(sb, "</a>");
	free(name);
}

void ref_link(struct sbuf *sb, const struct job *j)
{
	char *name = repo_short_name(j->repo);
	if (j->kind == KIND_DEPLOY) {
		sbuf_adds(sb, "deploy <a href='/env?r=");
		url_param(sb, name);
		sbuf_adds(sb, "&amp;e=");
		url_param(sb, j->env);
		sbuf_adds(sb, "'>");
		html(sb, j->env);
		sbuf_adds(sb, "</a>");
	} else {
		sbuf_adds(sb, "<a href='/branch?r=");
		url_param(sb, name);
		sbuf_adds(sb, "&amp;b=");
		url_param(sb, ref_short_name(j->ref));
		sbuf_adds(sb, "'>");
		html(sb, ref_short_name(j->ref));
		sbuf_adds(sb, "</a>");
	}
	free(name);
}

const struct stage_rec *running_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].state == STEP_RUNNING)
			return &j->stages[i];
	return NULL;
}

/* A table of jobs: what, state, commit, subject, when, how long. */
void jobs_table(struct sbuf *sb, struct job *const *v, size_t n,
    int (*pick)(const struct job *))
{
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		const struct job *j = v[i];
		const struct stage_rec *st = running_stage(j);
		if (pick && !pick(j))
			continue;
		if (!any++)
			sbuf_adds(sb, "<table class=jobs><tr><th>job</th><th>state"
			    "</th><th>repository</th><th>ref</th><th>commit</th>"
			    "<th>subject</th><th>stage</th><th>queued</th>"
			    "<th>took</th></tr>");
		sbuf_addf(sb, "<tr data-job='%lld'><td>", (long long)j->id);
		job_link(sb, j->id);
		sbuf_adds(sb, "</td>");
		state_cell(sb, job_state_name(j->state));
		sbuf_adds(sb, "<td>");
		repo_link(sb, j->repo);
		sbuf_adds(sb, "</td><td>");
		ref_link(sb, j);
		sbuf_addf(sb, "</td><td><code>%.7s</code></td><td>", j->commit);
		html(sb, j->subject ? j->subject : "");
		sbuf_adds(sb, "</td><td>");
		if (st) {
			sbuf_addf(sb, "<a href='/job/%lld/log/%d'>", (long long)j->id,
			    st->idx);
			html(sb, st->name);
			sbuf_adds(sb, "</a> ");
			took(sb, st->started_ms, 0);
		} else if (j->phase && j->state == JOB_RUNNING) {
			html(sb, j->phase);
		}
		sbuf_adds(sb, "</td><td>");
		when(sb, j->created_ms);
		sbuf_adds(sb, "</td><td>");
		took(sb, j->started_ms, j->finished_ms);
		sbuf_adds(sb, "</td></tr>");
	}
	if (any)
		sbuf_adds(sb, "</table>");
	else
		sbuf_adds(sb, "<p class=note>none</p>");
}

static int pick_running(const struct job *j) { return j->state == JOB_RUNNING; }
static int pick_queued(const struct job *j) { return j->state == JOB_QUEUED; }

/* The build hosts: labels, workers, last heartbeat, running jobs. */
static void hosts_table(struct sbuf *sb, const struct status_view *v)
{
	if (!v->nhosts)
		return;
	sbuf_adds(sb, "<h2>Hosts</h2><table id=hosts><tr><th>host</th>"
	    "<th>labels</th><th>workers</th><th>heartbeat</th><th>running</th>"
	    "<th>state</th></tr>");
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct host_rec *h = &v->hosts[i];
		sbuf_adds(sb, "<tr class=host data-host='");
		html(sb, h->name);
		sbuf_adds(sb, "'><td>");
		html(sb, h->name);
		sbuf_adds(sb, "</td><td>");
		html(sb, h->labels ? h->labels : "");
		sbuf_addf(sb, "</td><td>%d</td><td>", h->workers);
		if (h->heartbeat_ms) {
			format_duration(sb, h->heartbeat_age_ms);
			sbuf_adds(sb, " ago");
		}
		sbuf_adds(sb, "</td><td>");
		for (size_t k = 0; k < h->nrunning; k++) {
			sbuf_adds(sb, k ? " " : "");
			job_link(sb, h->running[k]);
		}
		sbuf_adds(sb, "</td>");
		if (h->draining) {
			sbuf_adds(sb, "<td class='state failed'>drained by ");
			html(sb, h->drained_by ? h->drained_by : "?");
			sbuf_adds(sb, "</td>");
		} else {
			sbuf_adds(sb, "<td class='state passed'>claims jobs</td>");
		}
		sbuf_adds(sb, "</tr>");
	}
	sbuf_adds(sb, "</table>");
}

void page_overview(struct sbuf *sb, struct store *st,
    const struct status_view *v, const struct find *f,
    struct job *const *recent, size_t nrecent, int limit)
{
	size_t queued = 0, running = 0, nmine = 0;
	struct job **mine = xcalloc(v->n + 1, sizeof(*mine));

	for (size_t i = 0; i < v->n; i++) {
		queued += v->jobs[i]->state == JOB_QUEUED;
		running += v->jobs[i]->state == JOB_RUNNING;
		if (find_match(f, v->jobs[i]))
			mine[nmine++] = v->jobs[i];
	}
	page_begin(sb, "overview");
	sbuf_addf(sb, "<div id=overview data-live='%d'>", queued + running > 0);
	sbuf_adds(sb, "<h1>Overview</h1><p id=daemon>");
	if (v->pid) {
		sbuf_addf(sb, "daemon: <span class='state passed'>running</span> "
		    "(pid %d, for ", v->pid);
		format_duration(sb, now_ms() - v->since);
		sbuf_adds(sb, ")");
	} else {
		sbuf_adds(sb, "daemon: <span class='state failed'>not running"
		    "</span> (jobs wait in the queue)");
	}
	sbuf_addf(sb, "</p><p id=queue>queue: %zu queued, %zu running", queued,
	    running);
	if (v->paused) {
		sbuf_adds(sb, "; <b>paused</b> by ");
		html(sb, v->paused);
	}
	sbuf_adds(sb, "</p>");
	actions_queue(sb, v->paused != NULL);
	for (size_t i = 0; i < v->nwarn; i++) {
		sbuf_adds(sb, "<p class='state failed'>warning: ");
		html(sb, v->warn[i]);
		sbuf_adds(sb, "</p>");
	}
	if (v->spool.error) {
		sbuf_adds(sb, "<p class='state failed' id=spool-error>spool: ");
		html(sb, v->spool.error);
		if (v->spool.error_fix) {
			sbuf_adds(sb, "<br>fix: <code>");
			html(sb, v->spool.error_fix);
			sbuf_adds(sb, "</code>");
		}
		sbuf_adds(sb, "</p>");
	}
	if (v->spool.waiting)
		sbuf_addf(sb, "<p id=spool>spool: %zu push%s waiting for the "
		    "daemon</p>", v->spool.waiting, v->spool.waiting == 1 ? "" :
		    "es");
	for (size_t i = 0; i < v->spool.nreasons; i++) {
		const struct spool_reason *r = &v->spool.reasons[i];
		sbuf_addf(sb, "<p class='state failed' id=held>held: %zu push%s "
		    "the daemon cannot queue now, for ", r->count, r->count == 1 ?
		    "" : "es");
		format_duration(sb, now_ms() - r->oldest_ms);
		sbuf_adds(sb, ": ");
		html(sb, r->reason);
		if (r->fix) {
			sbuf_adds(sb, "<br>fix: <code>");
			html(sb, r->fix);
			sbuf_adds(sb, "</code> (they are queued by themselves "
			    "once it is fixed)");
		}
		sbuf_adds(sb, "</p>");
	}
	find_form(sb, st, f);
	/* what runs and waits, then what ended: "Recent" stays above the
	 * fold (the queue's line says when nothing runs or waits) */
	if (running) {
		sbuf_adds(sb, "<h2>Running</h2>");
		jobs_table(sb, mine, nmine, pick_running);
	}
	if (queued) {
		sbuf_adds(sb, "<h2>Queued</h2>");
		jobs_table(sb, mine, nmine, pick_queued);
	}
	sbuf_adds(sb, "<h2 id=recent>Recent</h2>");
	jobs_table(sb, recent, nrecent, NULL);
	find_pager(sb, f, recent, nrecent, limit);
	sbuf_adds(sb, "<h2>Environments</h2>");
	if (v->nenvs) {
		sbuf_adds(sb, "<table id=environments><tr><th>repository</th>"
		    "<th>environment</th><th>state</th><th>release</th>"
		    "<th>last deployment and checks</th></tr>");
		for (size_t i = 0; i < v->nenvs; i++)
			env_row(sb, st, v->envs[i]);
		sbuf_adds(sb, "</table>");
	} else {
		sbuf_adds(sb, "<p class=note>none deployed yet</p>");
	}
	page_approvals_waiting(sb, st, NULL, NULL);
	hosts_table(sb, v);
	if (v->nnotes) {
		sbuf_addf(sb, "<h2>Notifications not delivered</h2><p>%lld "
		    "pending, %lld dead</p><table><tr><th>job</th><th>target</th>"
		    "<th>event</th><th>state</th><th>attempts</th><th>error</th>"
		    "</tr>", (long long)v->pending, (long long)v->dead);
		for (size_t i = 0; i < v->nnotes; i++) {
			const struct notification *x = v->notes[i];
			sbuf_adds(sb, "<tr><td>");
			job_link(sb, x->job_id);
			sbuf_adds(sb, "</td><td>");
			html(sb, x->target);
			sbuf_adds(sb, "</td><td>");
			html(sb, x->event);
			sbuf_adds(sb, "</td>");
			state_cell(sb, notif_state_name(x->state));
			sbuf_addf(sb, "<td>%d</td><td>", x->attempts);
			html(sb, x->error ? x->error : "");
			sbuf_adds(sb, "</td></tr>");
		}
		sbuf_adds(sb, "</table>");
	}
	sbuf_adds(sb, "</div>");
	page_end(sb);
	free(mine);
}

void page_history(struct sbuf *sb, struct store *st, const char *title,
    const struct find *f, struct job *const *v, size_t n, int limit,
    char *const *refs, const int64_t *last, size_t nrefs,
    struct job *const *trend, size_t ntrend)
{
	page_begin(sb, title);
	sbuf_adds(sb, "<h1>");
	html(sb, title);
	sbuf_adds(sb, "</h1>");
	if (nrefs) {
		sbuf_adds(sb, "<h2>Branches</h2><table id=branches><tr><th>"
		    "branch</th><th>last build</th><th>badge</th></tr>");
		for (size_t i = 0; i < nrefs; i++) {
			const char *b = ref_short_name(refs[i]);
			sbuf_adds(sb, "<tr><td><a href='/branch?r=");
			url_param(sb, f->r);
			sbuf_adds(sb, "&amp;b=");
			url_param(sb, b);
			sbuf_adds(sb, "'>");
			html(sb, b);
			sbuf_adds(sb, "</a></td><td>");
			job_link(sb, last[i]);
			sbuf_adds(sb, "</td><td><img alt='");
			html(sb, b);
			sbuf_adds(sb, ": its last build' src='/badge.svg?r=");
			url_param(sb, f->r);
			sbuf_adds(sb, "&amp;b=");
			url_param(sb, b);
			sbuf_adds(sb, "'></td></tr>");
		}
		sbuf_adds(sb, "</table>");
	}
	chart_trend(sb, trend, ntrend);
	sbuf_adds(sb, "<h2 id=history>History</h2>");
	find_form(sb, st, f);
	jobs_table(sb, v, n, NULL);
	find_pager(sb, f, v, n, limit);
	page_end(sb);
}

/* A badge: "LABEL | VALUE", the value's colour by its state. */
void badge_svg(struct sbuf *sb, const char *label, const char *value)
{
	const char *color = "#9e9e9e";
	int lw = 6 * (int)strlen(label) + 12, vw = 6 * (int)strlen(value) + 12;

	if (!strcmp(value, "passed") || !strcmp(value, "healthy"))
		color = "#2e7d32";
	else if (!strcmp(value, "failed") || !strcmp(value, "error") ||
	    !strcmp(value, "rolled_back") || !strcmp(value, "timed_out"))
		color = "#c62828";
	else if (!strcmp(value, "running") || !strcmp(value, "deploying") ||
	    !strcmp(value, "queued"))
		color = "#1565c0";
	sbuf_addf(sb, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
	    "height='20' role='img' aria-label='", lw + vw);
	html(sb, label);
	sbuf_adds(sb, ": ");
	html(sb, value);
	sbuf_addf(sb, "'><title>");
	html(sb, label);
	sbuf_adds(sb, ": ");
	html(sb, value);
	sbuf_addf(sb, "</title><rect width='%d' height='20' fill='#555'/>"
	    "<rect x='%d' width='%d' height='20' fill='%s'/><g fill='#fff' "
	    "font-family='Verdana,sans-serif' font-size='11'>"
	    "<text x='6' y='14'>", lw, lw, vw, color);
	html(sb, label);
	sbuf_addf(sb, "</text><text x='%d' y='14'>", lw + 6);
	html(sb, value);
	sbuf_adds(sb, "</text></g></svg>\n");
}
