/*
 * runner status: the queue, running jobs with their current stage and
 * elapsed time, and recent results. --json for scripts.
 */
#include "cli.h"
#include "config.h"
#include "admin.h"
#include "view.h"
#include "hosts.h"
#include "running.h"
#include "home.h"
#include "json.h"
#include "store.h"
#include "audit.h"
#include "envs.h"
#include "outbox.h"
#include "util.h"
#include "records.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner status [--home DIR] [--json] [--limit N]\n"
    "\n"
    "Show queued and running jobs (with the running stage and its elapsed\n"
    "time) and the N most recent finished jobs (default 10; 20 with\n"
    "--json), the environments, notifications not delivered (pending or\n"
    "dead), and the pushes waiting in the spool or held there (how many,\n"
    "the oldest, why and the fix; read from the spool, so also while the\n"
    "daemon is stopped). --json prints {\"jobs\":[...],\"environments\":[...],\n"
    "\"notifications\":{\"pending\":N,\"dead\":N,\"open\":[...]}} with\n"
    "every queued and running job and the recent finished ones, each as\n"
    "'runner show --json' does, \"daemon\":{\"running\":true|false,\n"
    "\"pid\":N,\"since\":MS}, \"queue\":{\"paused\":BOOL,\"paused_by\":\n"
    "NAME,\"paused_since\":MS}, \"hosts\":[{\"name\",\"labels\",\n"
    "\"workers\",\"heartbeat_ms\",\"draining\",\"running\":[IDS],...}],\n"
    "\"disk\":{\"measured\":MS,\"home\":BYTES,\n"
    "\"logs\":BYTES,...} (as 'runner gc' last measured it) and\n"
    "\"spool\":{\"waiting\":N,\"held\":N,\"held_reasons\":[{\"reason\",\n"
    "\"fix\",\"count\",\"oldest_ms\"}],\"refused\":N,\"error\",\"error_fix\"}\n"
    "(pushes handed\n"
    "over by the hook of another user that the daemon has not queued yet,\n"
    "or cannot now; read from the spool, so also while it is stopped),\n"
    "\"pending_releases\":[{\"tag\",\"environment\",\"have\",\"need\",\n"
    "\"more\",\"approvers\",\"text\",...}] (releases held until enough\n"
    "trusted keys approve them: runner.yml approvals),\n"
    "\"warnings\":[...] (files of the home\n"
    "readable or writable by more users than they should be, trusted\n"
    "repositories). An environment whose serving release has files that\n"
    "changed since it was extracted is shown as TAMPERED.\n";


/* The build hosts: when there is more than this one, or one is
 * drained. */
static void hosts_lines(struct sbuf *out, const struct status_view *v)
{
	int any = v->nhosts > 1;

	for (size_t i = 0; i < v->nhosts; i++)
		any |= v->hosts[i].draining;
	if (!any)
		return;
	sbuf_adds(out, "\nHosts:\n");
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct host_rec *h = &v->hosts[i];
		sbuf_adds(out, "  ");
		sbuf_add_display(out, h->name, strlen(h->name));
		if (h->labels && *h->labels)
			sbuf_addf(out, " [%s]", h->labels);
		sbuf_addf(out, "  %d worker%s", h->workers,
		    h->workers == 1 ? "" : "s");
		if (h->heartbeat_ms) {
			sbuf_adds(out, ", heartbeat ");
			format_duration(out, h->heartbeat_age_ms);
			sbuf_adds(out, " ago");
		}
		for (size_t k = 0; k < h->nrunning; k++)
			sbuf_addf(out, "%s#%lld", k ? " " : ", running ",
			    (long long)h->running[k]);
		if (h->draining) {
			sbuf_addf(out, "; DRAINED by %s for ", h->drained_by ?
			    h->drained_by : "?");
			format_duration(out, now_ms() - h->drained_ms);
		}
		sbuf_addch(out, '\n');
	}
}

/* The pushes in the spool: waiting for the daemon's look, held (with
 * why and the fix), refused. Nothing when it is empty. */
static void spool_lines(struct sbuf *out, const struct spool_summary *sp,
    const char *home, int tty)
{
	if (sp->error) {
		sbuf_adds(out, "spool: ");
		sbuf_add_display(out, sp->error, strlen(sp->error));
		sbuf_addch(out, '\n');
	}
	if (sp->error_fix) {
		sbuf_adds(out, "      fix: ");
		sbuf_add_display(out, sp->error_fix, strlen(sp->error_fix));
		sbuf_addch(out, '\n');
	}
	if (sp->waiting) {
		sbuf_addf(out, "spool: %zu push%s waiting for the daemon "
		    "(oldest ", sp->waiting, sp->waiting == 1 ? "" : "es");
		format_duration(out, now_ms() - sp->waiting_oldest_ms);
		sbuf_addf(out, " ago)%s\n", daemon_pid(home) ? "" : "; they are "
		    "queued when it starts");
	}
	for (size_t i = 0; i < sp->nreasons; i++) {
		const struct spool_reason *r = &sp->reasons[i];
		sbuf_addf(out, "%sHELD%s: %zu push%s the daemon cannot queue now "
		    "(oldest ", tty ? cli_color("failed", tty) : "", tty ?
		    COLOR_RESET : "", r->count, r->count == 1 ? "" : "es");
		format_duration(out, now_ms() - r->oldest_ms);
		sbuf_adds(out, " ago): ");
		sbuf_add_display(out, r->reason, strlen(r->reason));
		sbuf_addch(out, '\n');
		if (r->fix) {
			sbuf_adds(out, "      fix: ");
			sbuf_add_display(out, r->fix, strlen(r->fix));
			sbuf_adds(out, "\n      (they are queued by themselves once "
			    "it is fixed)\n");
		}
	}
	if (sp->refused)
		sbuf_addf(out, "spool: %zu push%s refused, in %s/spool/refused/ "
		    "with the reasons beside them (and on the daemon's log)\n",
		    sp->refused, sp->refused == 1 ? "" : "es", home);
}

static void disk_line(struct sbuf *out, const char *disk, int64_t ms)
{
	char *copy, *p, *tok;
	int n = 0;

	if (!disk) {
		sbuf_adds(out, "disk: not measured yet ('runner gc' does)\n");
		return;
	}
	/* "home=N logs=N ...": the home's total, then each kind */
	p = copy = xstrdup(disk);
	while ((tok = strsep(&p, " "))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (n == 0)
			sbuf_adds(out, "disk: ");
		else
			sbuf_addf(out, "%s%s ", n == 1 ? " (" : ", ", tok);
		format_bytes(out, strtoll(eq + 1, NULL, 10));
		n++;
	}
	if (n > 1)
		sbuf_addch(out, ')');
	sbuf_adds(out, ", measured ");
	format_duration(out, now_ms() - ms);
	sbuf_adds(out, " ago\n");
	free(copy);
}

static const struct stage_rec *current_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].state == STEP_RUNNING)
			return &j->stages[i];
	return NULL;
}

static const struct stage_rec *failed_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].state != STEP_PASSED &&
		    j->stages[i].state != STEP_SKIPPED &&
		    j->stages[i].state != STEP_PENDING)
			return &j->stages[i];
	return NULL;
}

static void job_line(struct sbuf *sb, const struct job *j, int tty)
{
	sbuf_addf(sb, "  #%-5lld %s%-11s%s ", (long long)j->id,
	    cli_color(job_state_name(j->state), tty),
	    job_state_name(j->state), tty ? COLOR_RESET : "");
	repo_name_add(sb, j->repo);
	sbuf_addch(sb, ' ');
	if (j->kind == KIND_DEPLOY) {
		sbuf_addf(sb, "deploy %s", j->env ? j->env : "?");
		if (j->tag) {
			sbuf_addch(sb, ' ');
			sbuf_add_display(sb, j->tag, strlen(j->tag));
		}
	} else {
		sbuf_add_display(sb, ref_short_name(j->ref),
		    strlen(ref_short_name(j->ref)));
	}
	sbuf_addf(sb, " %.7s", j->commit);
	if (j->state == JOB_RUNNING) {
		const struct stage_rec *st = current_stage(j);
		/* the newer of the running stage and the job's phase */
		if (st && !(j->phase && j->phase_ms > st->started_ms)) {
			sbuf_addf(sb, "  %s ", st->name);
			format_duration(sb, now_ms() - st->started_ms);
		} else {
			sbuf_addf(sb, "  %s ", j->phase ? j->phase : "starting");
			format_duration(sb, now_ms() - (j->phase ? j->phase_ms :
			    j->started_ms));
		}
		sbuf_adds(sb, " (job ");
		format_duration(sb, now_ms() - j->started_ms);
		sbuf_adds(sb, ")");
	} else if (j->state == JOB_QUEUED) {
		sbuf_adds(sb, "  waiting ");
		format_duration(sb, now_ms() - j->created_ms);
		if (j->needs)
			sbuf_addf(sb, " for a host labelled %s", j->needs);
	} else if (j->started_ms && j->finished_ms) {
		sbuf_addch(sb, ' ');
		sbuf_addch(sb, ' ');
		format_duration(sb, j->finished_ms - j->started_ms);
		const struct stage_rec *st = failed_stage(j);
		if (st && j->state != JOB_PASSED)
			sbuf_addf(sb, " at %s", st->name);
	}
	if (j->subject) {
		sbuf_adds(sb, "  \"");
		sbuf_add_display(sb, j->subject, strlen(j->subject) > 60 ? 60 :
		    strlen(j->subject));
		sbuf_adds(sb, "\"");
	}
	sbuf_addch(sb, '\n');
	if (j->error && j->state != JOB_PASSED) {
		sbuf_adds(sb, "          ");
		sbuf_add_display(sb, j->error, strlen(j->error));
		sbuf_addch(sb, '\n');
	}
}

static void env_line(struct sbuf *sb, struct store *st,
    const struct env_rec *e, int tty)
{
	const struct job *cur = e->current, *last = e->latest;
	int changed = 0;
	char *first = NULL;
	const char *rs = cur ? view_release_state(st, cur, &changed, &first) :
	    NULL;

	sbuf_adds(sb, "  ");
	repo_name_add(sb, e->repo);
	sbuf_addf(sb, " %-11s %s%-11s%s", e->name,
	    cli_color(env_state_name(e->state), tty), env_state_name(e->state),
	    tty ? COLOR_RESET : "");
	if (cur) {
		sbuf_addf(sb, " release #%lld %.7s", (long long)cur->id,
		    cur->commit);
		if (cur->tag) {
			sbuf_addch(sb, ' ');
			sbuf_add_display(sb, cur->tag, strlen(cur->tag));
		}
		/* the branch whose build it serves */
		if (job_branch(cur)) {
			sbuf_adds(sb, " from ");
			sbuf_add_display(sb, job_branch(cur),
			    strlen(job_branch(cur)));
		}
		if (cur->source_job)
			sbuf_addf(sb, " (build #%lld)", (long long)cur->source_job);
	} else {
		sbuf_adds(sb, " nothing serving");
	}
	sbuf_adds(sb, ", ");
	format_duration(sb, now_ms() - e->updated_ms);
	sbuf_adds(sb, " ago");
	for (size_t i = 0; last && i < last->nchecks; i++)
		sbuf_addf(sb, "  %s %d %lldms", last->checks[i].name,
		    last->checks[i].status, (long long)last->checks[i].latency_ms);
	sbuf_addch(sb, '\n');
	if (rs && (!strcmp(rs, "tampered") || !strcmp(rs, "missing"))) {
		sbuf_addf(sb, "          %sTAMPERED%s: release #%lld ", tty ?
		    cli_color("failed", tty) : "", tty ? COLOR_RESET : "",
		    (long long)cur->id);
		if (!strcmp(rs, "missing"))
			sbuf_adds(sb, "is gone from its folder");
		else {
			sbuf_addf(sb, "has %d file%s changed since it was "
			    "extracted (", changed, changed == 1 ? "" : "s");
			sbuf_add_display(sb, first, strlen(first));
			sbuf_adds(sb, "); a rollback extracts it again");
		}
		sbuf_addch(sb, '\n');
	}
	free(first);
	if (last && last != cur && last->error && last->state !=
	    JOB_RUNNING) {
		sbuf_addf(sb, "          last deploy #%lld %s: ", (long long)last->id,
		    job_state_name(last->state));
		sbuf_add_display(sb, last->error, strlen(last->error));
		sbuf_addch(sb, '\n');
	}
}

int cmd_status(int argc, char **argv)
{
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct status_view v = { 0 };
	int json = 0, limit = -1;
	struct sbuf out = SBUF_INIT;
	int rc;

	const struct opt opts[] = {
		OPT_BOOL(0, "json", &json, "print JSON"),
		OPT_INT('n', "limit", &limit, "N",
		    "finished jobs shown (default 10, 20 with --json)", 0, 100000),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	limit = limit >= 0 ? limit : json ? 20 : 10;
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	if (status_view_load(cs.store, cs.home, limit, &v) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (json) {
		status_view_json(&v, cs.store, &out);
		sbuf_addch(&out, '\n');
	} else {
		int tty = isatty(1);
		size_t queued = 0, running = 0;
		for (size_t i = 0; i < v.n; i++) {
			queued += v.jobs[i]->state == JOB_QUEUED;
			running += v.jobs[i]->state == JOB_RUNNING;
		}
		sbuf_addf(&out, "runner home %s\n", cs.home);
		if (!store_is_sqlite(cs.store))
			sbuf_addf(&out, "store: %s\n", store_location(cs.store));
		if (v.pid) {
			sbuf_addf(&out, "daemon: running (pid %d, for ", v.pid);
			format_duration(&out, now_ms() - v.since);
			sbuf_adds(&out, ")\n");
		} else {
			sbuf_adds(&out, "daemon: not running (jobs wait in the "
			    "queue; start it with 'runner serve')\n");
		}
		for (size_t i = 0; i < v.nwarn; i++)
			sbuf_addf(&out, "warning: %s\n", v.warn[i]);
		sbuf_addf(&out, "queue: %zu queued, %zu running", queued,
		    running);
		if (v.paused) {
			sbuf_addf(&out, "; PAUSED by %s for ", v.paused);
			format_duration(&out, now_ms() - v.paused_ms);
			sbuf_adds(&out, " ('runner resume' releases it)");
		}
		sbuf_addch(&out, '\n');
		spool_lines(&out, &v.spool, cs.home, tty);
		disk_line(&out, v.disk, v.disk_ms);
		hosts_lines(&out, &v);
		if (v.nsched)
			sbuf_adds(&out, "\nSchedules:\n");
		for (size_t i = 0; i < v.nsched; i++) {
			const struct sched_view *w = &v.sched[i];
			sbuf_adds(&out, "  ");
			sbuf_add_display(&out, w->name, strlen(w->name));
			sbuf_adds(&out, "  ");
			repo_name_add(&out, w->repo);
			sbuf_addf(&out, " %s  '%s'  next in ", w->branch, w->cron);
			format_duration(&out, w->next_ms - now_ms());
			sbuf_adds(&out, w->last_ms ? "" : " (the daemon has not "
			    "seen it yet)");
			sbuf_addch(&out, '\n');
		}
		if (v.nenvs)
			sbuf_adds(&out, "\nEnvironments:\n");
		for (size_t i = 0; i < v.nenvs; i++)
			env_line(&out, cs.store, v.envs[i], tty);
		if (v.nwaiting)
			sbuf_adds(&out, "\nReleases waiting for approval:\n");
		for (size_t i = 0; i < v.nwaiting; i++) {
			const struct approval_rec *a = &v.waiting[i];
			sbuf_adds(&out, "  ");
			sbuf_add_display(&out, a->tag, strlen(a->tag));
			sbuf_adds(&out, " of ");
			repo_name_add(&out, a->repo);
			sbuf_adds(&out, " to ");
			sbuf_add_display(&out, a->env, strlen(a->env));
			sbuf_addf(&out, " (deployment #%lld): ", (long long)a->job_id);
			approval_describe(&out, a);
			sbuf_addch(&out, '\n');
		}
		const int sections[] = { JOB_RUNNING, JOB_QUEUED, -1 };
		const char *titles[] = { "Running", "Queued", "Recent" };
		for (int sec = 0; sec < 3; sec++) {
			int any = 0;
			for (size_t i = 0; i < v.n; i++) {
				int st = (int)v.jobs[i]->state;
				int in = sections[sec] >= 0 ? st == sections[sec] :
				    job_state_final(v.jobs[i]->state);
				if (!in)
					continue;
				if (!any++)
					sbuf_addf(&out, "\n%s:\n", titles[sec]);
				job_line(&out, v.jobs[i], tty);
			}
		}
		if (!v.n)
			sbuf_adds(&out, "\nno jobs yet: push to a branch of a "
			    "repository with the hook installed\n");
		if (v.nnotes) {
			sbuf_addf(&out, "\nNotifications not delivered: %lld "
			    "pending, %lld dead%s\n", (long long)v.pending,
			    (long long)v.dead, v.pending + v.dead >
			    (int64_t)v.nnotes ? " (newest shown)" : "");
			for (size_t i = 0; i < v.nnotes; i++)
				cli_notification_line(&out, v.notes[i], tty);
		}
	}
	fwrite(out.buf, 1, out.len, stdout);
	rc = EXIT_OK;
out:
	status_view_free(&v);
	sbuf_release(&out);
	cli_close(&cs);
	return rc;
}
