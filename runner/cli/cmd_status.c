/*
 * runner status: the queue, running jobs with their current stage and
 * elapsed time, and recent results. --json for scripts.
 */
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "home.h"
#include "json.h"
#include "store.h"
#include "util.h"
#include "records.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner status [--home DIR] [--json] [--limit N]\n"
    "\n"
    "Show queued and running jobs (with the running stage and its elapsed\n"
    "time) and the N most recent finished jobs (default 10; 20 with\n"
    "--json), the environments, and notifications not delivered (pending\n"
    "or dead). --json prints {\"jobs\":[...],\"environments\":[...],\n"
    "\"notifications\":{\"pending\":N,\"dead\":N,\"open\":[...]}} with\n"
    "every queued and running job and the recent finished ones, each as\n"
    "'runner show --json' does, \"daemon\":{\"running\":true|false,\n"
    "\"pid\":N,\"since\":MS} and \"warnings\":[...] (files of the home\n"
    "readable or writable by more users than they should be, trusted\n"
    "repositories). An environment whose serving release has files that\n"
    "changed since it was extracted is shown as TAMPERED.\n";

#define OPEN_NOTIFICATIONS 10

static const struct stage_rec *current_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (!strcmp(j->stages[i].state, "running"))
			return &j->stages[i];
	return NULL;
}

static const struct stage_rec *failed_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (strcmp(j->stages[i].state, "passed") &&
		    strcmp(j->stages[i].state, "skipped") &&
		    strcmp(j->stages[i].state, "pending"))
			return &j->stages[i];
	return NULL;
}

static void job_line(struct sbuf *sb, const struct job *j, int tty)
{
	sbuf_addf(sb, "  #%-5lld %s%-11s%s ", (long long)j->id,
	    cli_color(j->state, tty), j->state, tty ? COLOR_RESET : "");
	repo_name_add(sb, j->repo);
	sbuf_addch(sb, ' ');
	if (j->kind && !strcmp(j->kind, "deploy")) {
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
	if (!strcmp(j->state, "running")) {
		const struct stage_rec *st = current_stage(j);
		if (st) {
			sbuf_addf(sb, "  %s ", st->name);
			format_duration(sb, now_ms() - st->started_ms);
		} else {
			sbuf_adds(sb, "  checkout ");
			format_duration(sb, now_ms() - j->started_ms);
		}
		sbuf_adds(sb, " (job ");
		format_duration(sb, now_ms() - j->started_ms);
		sbuf_adds(sb, ")");
	} else if (!strcmp(j->state, "queued")) {
		sbuf_adds(sb, "  waiting ");
		format_duration(sb, now_ms() - j->created_ms);
	} else if (j->started_ms && j->finished_ms) {
		sbuf_addch(sb, ' ');
		sbuf_addch(sb, ' ');
		format_duration(sb, j->finished_ms - j->started_ms);
		const struct stage_rec *st = failed_stage(j);
		if (st && strcmp(j->state, "passed"))
			sbuf_addf(sb, " at %s", st->name);
	}
	if (j->subject) {
		sbuf_adds(sb, "  \"");
		sbuf_add_display(sb, j->subject, strlen(j->subject) > 60 ? 60 :
		    strlen(j->subject));
		sbuf_adds(sb, "\"");
	}
	sbuf_addch(sb, '\n');
	if (j->error && strcmp(j->state, "passed")) {
		sbuf_adds(sb, "          ");
		sbuf_add_display(sb, j->error, strlen(j->error));
		sbuf_addch(sb, '\n');
	}
}

struct status_opts {
	int json;
	int limit;
};

static int on_opt(int c, const char *arg, void *ctx)
{
	struct status_opts *o = ctx;
	long v;

	if (c == 'j') {
		o->json = 1;
	} else if (c == 'n') {
		if (cli_number(arg, 0, 100000, &v) < 0) {
			cli_error("--limit must be a number from 0 to 100000");
			return EXIT_USAGE;
		}
		o->limit = (int)v;
	}
	return 0;
}

static void env_json(struct sbuf *sb, struct store *st,
    const struct env_rec *e)
{
	const struct job *cur = e->current, *last = e->latest;
	int changed = 0;
	char *first = NULL;
	const char *rs = cur ? cli_release_state(st, cur, &changed, &first) :
	    NULL;

	sbuf_adds(sb, "{\"repo\":");
	json_str(sb, e->repo);
	sbuf_adds(sb, ",\"name\":");
	json_str(sb, e->name);
	sbuf_adds(sb, ",\"state\":");
	json_str(sb, e->state);
	sbuf_addf(sb, ",\"release\":");
	if (cur)
		sbuf_addf(sb, "%lld", (long long)cur->id);
	else
		sbuf_adds(sb, "null");
	sbuf_adds(sb, ",\"commit\":");
	json_str(sb, cur ? cur->commit : NULL);
	sbuf_adds(sb, ",\"tag\":");
	json_str(sb, cur ? cur->tag : NULL);
	sbuf_adds(sb, ",\"job\":");
	if (cur && cur->source_job)
		sbuf_addf(sb, "%lld", (long long)cur->source_job);
	else
		sbuf_adds(sb, "null");
	sbuf_addf(sb, ",\"updated_ms\":%lld,\"last_deploy\":",
	    (long long)e->updated_ms);
	if (last)
		sbuf_addf(sb, "%lld", (long long)last->id);
	else
		sbuf_adds(sb, "null");
	sbuf_adds(sb, ",\"last_state\":");
	json_str(sb, last ? last->state : NULL);
	sbuf_adds(sb, ",\"checks\":");
	if (last)
		json_checks(sb, last);
	else
		sbuf_adds(sb, "[]");
	sbuf_adds(sb, ",\"release_files\":");
	json_str(sb, rs);
	sbuf_adds(sb, ",\"changed_files\":");
	sbuf_addf(sb, "%d,\"first_changed\":", changed);
	json_str(sb, first);
	sbuf_addch(sb, '}');
	free(first);
}

static void env_line(struct sbuf *sb, struct store *st,
    const struct env_rec *e, int tty)
{
	const struct job *cur = e->current, *last = e->latest;
	int changed = 0;
	char *first = NULL;
	const char *rs = cur ? cli_release_state(st, cur, &changed, &first) :
	    NULL;

	sbuf_adds(sb, "  ");
	repo_name_add(sb, e->repo);
	sbuf_addf(sb, " %-11s %s%-11s%s", e->name, cli_color(e->state, tty),
	    e->state, tty ? COLOR_RESET : "");
	if (cur) {
		sbuf_addf(sb, " release #%lld %.7s", (long long)cur->id,
		    cur->commit);
		if (cur->tag) {
			sbuf_addch(sb, ' ');
			sbuf_add_display(sb, cur->tag, strlen(cur->tag));
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
	if (last && last != cur && last->error && strcmp(last->state,
	    "running")) {
		sbuf_addf(sb, "          last deploy #%lld %s: ", (long long)last->id,
		    last->state);
		sbuf_add_display(sb, last->error, strlen(last->error));
		sbuf_addch(sb, '\n');
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	struct status_opts o = { 0, -1 };
	struct job **jobs = NULL;
	struct env_rec **envs = NULL;
	struct notification **notes = NULL;
	struct sbuf out = SBUF_INIT, warn = SBUF_INIT;
	size_t n = 0, nenvs = 0, nnotes = 0;
	int64_t pending = 0, dead = 0;
	int json, limit, rc;
	const char *home;

	if ((rc = cli_options(argc, argv, usage, "n:", opts, on_opt, &o,
	    &home_opt)) >= 0)
		return rc;
	if (optind != argc)
		return cli_usage(usage);
	json = o.json;
	limit = o.limit >= 0 ? o.limit : json ? 20 : 10;
	rc = EXIT_FAIL;
	if (cli_open(home_opt, &cs) < 0)
		goto out;
	home = cs.home;
	if (store_jobs_list(cs.store, limit, &jobs, &n) < 0 ||
	    store_envs_list(cs.store, &envs, &nenvs) < 0 ||
	    store_notif_count(cs.store, "pending", &pending) < 0 ||
	    store_notif_count(cs.store, "dead", &dead) < 0 ||
	    store_notifs_open(cs.store, OPEN_NOTIFICATIONS, &notes,
	    &nnotes) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	int pid = daemon_pid(home);
	int64_t since = pid ? daemon_since(home) : 0;
	struct config *conf = NULL;
	if (config_load(home, &conf) < 0)
		sbuf_addf(&warn, "%s\n", error_last());
	else if (conf->trust_repositories)
		sbuf_adds(&warn, "trust_repositories is true in runner.yml: code "
		    "from repositories runs as the daemon's own user\n");
	home_audit(home, conf, &warn);
	config_free(conf);
	if (json) {
		sbuf_adds(&out, "{\"daemon\":{\"running\":");
		if (pid)
			sbuf_addf(&out, "true,\"pid\":%d,\"since\":%lld},", pid,
			    (long long)since);
		else
			sbuf_adds(&out, "false,\"pid\":null,\"since\":null},");
		sbuf_adds(&out, "\"warnings\":[");
		for (char *l = warn.buf, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			*nl = '\0';
			if (l != warn.buf)
				sbuf_addch(&out, ',');
			json_str(&out, l);
		}
		sbuf_adds(&out, "],\"jobs\":[");
		for (size_t i = 0; i < n; i++) {
			if (i)
				sbuf_addch(&out, ',');
			json_job(&out, jobs[i]);
		}
		sbuf_adds(&out, "],\"environments\":[");
		for (size_t i = 0; i < nenvs; i++) {
			if (i)
				sbuf_addch(&out, ',');
			env_json(&out, cs.store, envs[i]);
		}
		sbuf_addf(&out, "],\"notifications\":{\"pending\":%lld,"
		    "\"dead\":%lld,\"open\":[", (long long)pending,
		    (long long)dead);
		for (size_t i = 0; i < nnotes; i++) {
			if (i)
				sbuf_addch(&out, ',');
			json_notification(&out, notes[i]);
		}
		sbuf_adds(&out, "]}}\n");
	} else {
		int tty = isatty(1);
		size_t queued = 0, running = 0;
		for (size_t i = 0; i < n; i++) {
			queued += !strcmp(jobs[i]->state, "queued");
			running += !strcmp(jobs[i]->state, "running");
		}
		sbuf_addf(&out, "runner home %s\n", home);
		if (pid) {
			sbuf_addf(&out, "daemon: running (pid %d, for ", pid);
			format_duration(&out, now_ms() - since);
			sbuf_adds(&out, ")\n");
		} else {
			sbuf_adds(&out, "daemon: not running (jobs wait in the "
			    "queue; start it with 'runner serve')\n");
		}
		for (char *l = warn.buf, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			*nl = '\0';
			sbuf_addf(&out, "warning: %s\n", l);
		}
		sbuf_addf(&out, "queue: %zu queued, %zu running\n", queued,
		    running);
		if (nenvs)
			sbuf_adds(&out, "\nEnvironments:\n");
		for (size_t i = 0; i < nenvs; i++)
			env_line(&out, cs.store, envs[i], tty);
		const char *sections[] = { "running", "queued", NULL };
		const char *titles[] = { "Running", "Queued", "Recent" };
		for (int sec = 0; sec < 3; sec++) {
			int any = 0;
			for (size_t i = 0; i < n; i++) {
				const char *st = jobs[i]->state;
				int in = sections[sec] ? !strcmp(st, sections[sec]) :
				    strcmp(st, "running") && strcmp(st, "queued");
				if (!in)
					continue;
				if (!any++)
					sbuf_addf(&out, "\n%s:\n", titles[sec]);
				job_line(&out, jobs[i], tty);
			}
		}
		if (!n)
			sbuf_adds(&out, "\nno jobs yet: push to a branch of a "
			    "repository with the hook installed\n");
		if (nnotes) {
			sbuf_addf(&out, "\nNotifications not delivered: %lld "
			    "pending, %lld dead%s\n", (long long)pending,
			    (long long)dead, pending + dead > (int64_t)nnotes ?
			    " (newest shown)" : "");
			for (size_t i = 0; i < nnotes; i++)
				cli_notification_line(&out, notes[i], tty);
		}
	}
	fwrite(out.buf, 1, out.len, stdout);
	rc = EXIT_OK;
out:
	jobs_free(jobs, n);
	envs_free(envs, nenvs);
	notifs_free(notes, nnotes);
	sbuf_release(&out);
	sbuf_release(&warn);
	cli_close(&cs);
	return rc;
}
