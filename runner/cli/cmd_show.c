/*
 * runner show JOB: everything recorded about one job.
 */
#include "cli.h"
#include "audit.h"
#include "envs.h"
#include "figures.h"
#include "outbox.h"
#include "provenance.h"
#include "util.h"
#include "view.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner show [--home DIR] [--json] JOB\n"
    "\n"
    "Show a job: repository, ref, commit, state, error, who caused it\n"
    "(by: the unix user, and what gitolite, the web server or sshd said\n"
    "about the pusher), the key that signed a release's tag and the keys\n"
    "that approved it (runner.yml approvals), each stage\n"
    "with its state, exit code, duration and log file, the artifacts with\n"
    "size and sha256, and the notifications the job caused with their\n"
    "delivery state, and the environments it serves now (a deployment\n"
    "serving, or a build whose artifact serves) with the branch. For a\n"
    "deployment with a verification window: its requests, errors and p95\n"
    "latency, the peak and p95 of its CPU and memory against their\n"
    "limits, and what measured them.\n"
    "--json prints the job as 'runner status --json' does, plus\n"
    "\"serves\":[{\"environment\",\"release\"}...],\n"
    "\"notifications\":[...] and, for a release that needed approvals,\n"
    "\"approvals\":{\"have\",\"need\",\"approvers\":[...],...}.\n";

/* What the verification window measured: its requests, then the peak
 * and p95 of CPU and memory against their limits. */
static void add_figures(struct sbuf *sb, const char *fig)
{
	double req = 0, err = 0, rate = 0, max_rate = 0, p95 = 0, max_p95 = 0;
	double peak, q, max;
	char *src = figures_str(fig, "source");

	figures_num(fig, "requests", &req);
	figures_num(fig, "errors", &err);
	figures_num(fig, "error_rate", &rate);
	figures_num(fig, "max_error_rate", &max_rate);
	figures_num(fig, "p95_ms", &p95);
	figures_num(fig, "max_latency_ms", &max_p95);
	sbuf_addf(sb, "verify:   %.0f requests, %.0f errors (%.3f%%, at most "
	    "%.3f%%), p95 %.0fms (at most %.0fms)\n", req, err, rate * 100,
	    max_rate * 100, p95, max_p95);
	if (figures_num(fig, "cpu.peak", &peak) == 0 &&
	    figures_num(fig, "cpu.p95", &q) == 0) {
		sbuf_addf(sb, "cpu:      peak %.1f%%, p95 %.1f%%", peak, q);
		if (figures_num(fig, "cpu.max", &max) == 0)
			sbuf_addf(sb, " (at most %g%%): %s", max,
			    figures_bool(fig, "cpu.ok") == 0 ? "failed" : "ok");
		sbuf_addch(sb, '\n');
	}
	if (figures_num(fig, "memory.peak", &peak) == 0 &&
	    figures_num(fig, "memory.p95", &q) == 0) {
		sbuf_adds(sb, "memory:   peak ");
		format_bytes(sb, (int64_t)peak);
		sbuf_adds(sb, ", p95 ");
		format_bytes(sb, (int64_t)q);
		if (figures_num(fig, "memory.max", &max) == 0) {
			sbuf_adds(sb, " (at most ");
			format_bytes(sb, (int64_t)max);
			if (figures_num(fig, "memory.max_pct", &q) == 0)
				sbuf_addf(sb, ", %g%%", q);
			sbuf_addf(sb, "): %s", figures_bool(fig, "memory.ok") == 0 ?
			    "failed" : "ok");
		}
		sbuf_addch(sb, '\n');
	}
	if (src) {
		sbuf_adds(sb, "measured: ");
		sbuf_add_display(sb, src, strlen(src));
		sbuf_addch(sb, '\n');
	}
	free(src);
}

static void add_time(struct sbuf *sb, int64_t ms)
{
	char buf[64];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	sbuf_adds(sb, buf);
}

/* "approved: 2 of 2 approvals: alice, bob" and who each is, a line
 * each. */
static void approvals_text(struct sbuf *sb, const struct approval_rec *a)
{
	sbuf_adds(sb, "approved: ");
	approval_describe(sb, a);
	sbuf_addch(sb, '\n');
	for (const char *p = a->approvers; p && *p; ) {
		size_t n = strcspn(p, "\n");
		sbuf_adds(sb, "          ");
		sbuf_add_display(sb, p, n);
		sbuf_addch(sb, '\n');
		p += n + (p[n] == '\n');
	}
}

static void show_text(struct sbuf *sb, const struct job *j,
    const struct approval_rec *a, struct env_rec *const *serves,
    size_t nserves, int tty)
{
	sbuf_addf(sb, "job #%lld  %s%s%s\n", (long long)j->id,
	    cli_color(job_state_name(j->state), tty),
	    job_state_name(j->state), tty ? COLOR_RESET : "");
	sbuf_adds(sb, "repo:     ");
	sbuf_add_display(sb, j->repo, strlen(j->repo));
	sbuf_adds(sb, "\nref:      ");
	sbuf_add_display(sb, j->ref, strlen(j->ref));
	sbuf_addf(sb, "\ncommit:   %s\n", j->commit);
	if (j->subject) {
		sbuf_adds(sb, "subject:  ");
		sbuf_add_display(sb, j->subject, strlen(j->subject));
		sbuf_addch(sb, '\n');
	}
	sbuf_adds(sb, "queued:   ");
	add_time(sb, j->created_ms);
	sbuf_addch(sb, '\n');
	if (j->started_ms) {
		sbuf_adds(sb, "started:  ");
		add_time(sb, j->started_ms);
		sbuf_addf(sb, " (attempt %d)\n", j->attempt);
	}
	if (j->finished_ms) {
		sbuf_adds(sb, "finished: ");
		add_time(sb, j->finished_ms);
		if (j->started_ms) {
			sbuf_adds(sb, " after ");
			format_duration(sb, j->finished_ms - j->started_ms);
		}
		sbuf_addch(sb, '\n');
	}
	if (j->pushed_by || j->pushed_as) {
		sbuf_adds(sb, "by:       ");
		job_who_describe(sb, j);
		sbuf_addch(sb, '\n');
	}
	if (j->canceled_by) {
		sbuf_adds(sb, "canceled: by ");
		sbuf_add_display(sb, j->canceled_by, strlen(j->canceled_by));
		sbuf_addch(sb, '\n');
	}
	if (j->retry_of)
		sbuf_addf(sb, "retry of: #%lld\n", (long long)j->retry_of);
	if (j->requested_by && j->kind == KIND_BUILD && !j->retry_of) {
		sbuf_adds(sb, "by hand:  ");
		sbuf_add_display(sb, j->requested_by, strlen(j->requested_by));
		sbuf_addch(sb, '\n');
	}
	for (const char *v = j->variables, *nl; v && *v; v = nl + 1) {
		nl = strchr(v, '\n');
		sbuf_adds(sb, "variable: ");
		sbuf_add_display(sb, v, nl ? (size_t)(nl - v) : strlen(v));
		sbuf_addch(sb, '\n');
		if (!nl)
			break;
	}
	if (j->kind == KIND_DEPLOY) {
		sbuf_addf(sb, "deploy:   %s", j->env ? j->env : "?");
		if (j->source_job)
			sbuf_addf(sb, ", artifact of build #%lld",
			    (long long)j->source_job);
		if (j->rollback_to)
			sbuf_addf(sb, ", rollback to release #%lld",
			    (long long)j->rollback_to);
		if (j->previous)
			sbuf_addf(sb, ", previous release #%lld",
			    (long long)j->previous);
		sbuf_addch(sb, '\n');
		if (job_branch(j)) {
			sbuf_adds(sb, "branch:   ");
			sbuf_add_display(sb, job_branch(j), strlen(job_branch(j)));
			sbuf_addch(sb, '\n');
		}
		if (j->tag) {
			sbuf_adds(sb, "tag:      ");
			sbuf_add_display(sb, j->tag, strlen(j->tag));
			if (j->tag_object)
				sbuf_addf(sb, " (tag object %.12s)", j->tag_object);
			sbuf_addch(sb, '\n');
		}
		if (j->signer) {
			sbuf_adds(sb, "signed:   by ");
			sbuf_add_display(sb, j->signer, strlen(j->signer));
			sbuf_addch(sb, '\n');
		}
		if (a)
			approvals_text(sb, a);
		if (j->provenance) {
			sbuf_adds(sb, "checked:  ");
			job_provenance_describe(sb, j);
			sbuf_addch(sb, '\n');
		}
		if (j->forced_by) {
			sbuf_adds(sb, "forced:   by ");
			sbuf_add_display(sb, j->forced_by, strlen(j->forced_by));
			sbuf_addch(sb, '\n');
		}
		if (j->release_dir)
			sbuf_addf(sb, "release:  %s\n", j->release_dir);
		if (j->figures)
			add_figures(sb, j->figures);
	}
	for (size_t i = 0; i < nserves; i++) {
		const struct job *cur = serves[i]->current;
		sbuf_addf(sb, "serves:   %s now (release #%lld, %.7s", serves[i]->name,
		    (long long)cur->id, cur->commit);
		if (job_branch(cur)) {
			sbuf_adds(sb, " from ");
			sbuf_add_display(sb, job_branch(cur),
			    strlen(job_branch(cur)));
		}
		sbuf_adds(sb, ")\n");
	}
	if (j->error) {
		sbuf_adds(sb, "error:    ");
		sbuf_add_display(sb, j->error, strlen(j->error));
		sbuf_addch(sb, '\n');
	}
	if (j->nstages)
		sbuf_adds(sb, "\nstages:\n");
	for (size_t i = 0; i < j->nstages; i++) {
		const struct stage_rec *s = &j->stages[i];
		sbuf_addf(sb, "  %-12s %s%-11s%s", s->name,
		    cli_color(step_state_name(s->state), tty),
		    step_state_name(s->state), tty ? COLOR_RESET : "");
		if (s->exit_code >= 0)
			sbuf_addf(sb, " exit %-3d", s->exit_code);
		else
			sbuf_adds(sb, "         ");
		if (s->started_ms) {
			sbuf_addch(sb, ' ');
			format_duration(sb, (s->finished_ms ? s->finished_ms :
			    now_ms()) - s->started_ms);
		}
		sbuf_addch(sb, '\n');
		if (s->error) {
			sbuf_adds(sb, "               ");
			sbuf_add_display(sb, s->error, strlen(s->error));
			sbuf_addch(sb, '\n');
		}
	}
	if (j->nchecks)
		sbuf_adds(sb, "\nchecks:\n");
	for (size_t i = 0; i < j->nchecks; i++) {
		const struct check_rec *c = &j->checks[i];
		sbuf_addf(sb, "  %-20s %s  status %d  %lldms\n", c->name,
		    c->ok ? "ok" : "FAILED", c->status, (long long)c->latency_ms);
		if (c->body && *c->body) {
			/* what a failed check got: its first line */
			size_t n = strcspn(c->body, "\n");
			sbuf_adds(sb, "    body: ");
			sbuf_add_display(sb, c->body, n);
			sbuf_adds(sb, n < strlen(c->body) ? " ...\n" : "\n");
		}
	}
	if (j->notes && *j->notes) {
		sbuf_adds(sb, "\nrelease notes:\n");
		sbuf_add_display(sb, j->notes, strlen(j->notes));
		if (j->notes[strlen(j->notes) - 1] != '\n')
			sbuf_addch(sb, '\n');
	}
	if (j->nartifacts)
		sbuf_adds(sb, "\nartifacts:\n");
	for (size_t i = 0; i < j->nartifacts; i++) {
		const struct artifact_rec *a = &j->artifacts[i];
		sbuf_addf(sb, "  %s\n    %lld bytes, %lld files, sha256 %s\n",
		    a->path, (long long)a->size, (long long)a->files, a->sha256);
		if (a->provenance)
			sbuf_addf(sb, "    provenance signed: %s%s (runner verify "
			    "%lld)\n", a->path, PROV_SUFFIX, (long long)j->id);
	}
}

int cmd_show(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct job *j = NULL;
	struct notification **notes = NULL;
	struct env_rec **serves = NULL;
	size_t nnotes = 0, nserves = 0;
	struct sbuf out = SBUF_INIT;
	int json = 0, rc;
	int64_t id;

	const struct opt opts[] = {
		OPT_BOOL(0, "json", &json, "print JSON"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0 ||
	    (rc = cli_job_operand(argc, argv, usage, &id)))
		return rc;
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (store_job_get(cs.store, id, &j) < 0 ||
	    store_notifs_of_job(cs.store, id, &notes, &nnotes) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (json) {
		show_json(cs.store, j, notes, nnotes, &out);
	} else {
		struct approval_rec *a = NULL;
		if (store_envs_serving(cs.store, j, &serves, &nserves) < 0)
			error_clear();
		if (j->tag && store_approvals_get(cs.store, j->id, &a) < 0)
			error_clear();
		show_text(&out, j, a, serves, nserves, isatty(1));
		approval_recs_free(a, a ? 1 : 0);
		if (nnotes)
			sbuf_adds(&out, "\nnotifications:\n");
		for (size_t i = 0; i < nnotes; i++)
			cli_notification_line(&out, notes[i], isatty(1));
	}
	fwrite(out.buf, 1, out.len, stdout);
	rc = EXIT_OK;
out:
	job_free(j);
	envs_free(serves, nserves);
	notifs_free(notes, nnotes);
	sbuf_release(&out);
	cli_close(&cs);
	return rc;
}
