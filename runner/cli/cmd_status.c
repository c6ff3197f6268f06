/*
 * runner status: the queue, running jobs with their current stage and
 * elapsed time, and recent results. --json for scripts.
 */
#include "cli.h"
#include "config.h"
#include "admin.h"
#include "daemon.h"
#include "home.h"
#include "json.h"
#include "store.h"
#include "deploys.h"
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
    "--json), the environments, and notifications not delivered (pending\n"
    "or dead). --json prints {\"jobs\":[...],\"environments\":[...],\n"
    "\"notifications\":{\"pending\":N,\"dead\":N,\"open\":[...]}} with\n"
    "every queued and running job and the recent finished ones, each as\n"
    "'runner show --json' does, \"daemon\":{\"running\":true|false,\n"
    "\"pid\":N,\"since\":MS}, \"queue\":{\"paused\":BOOL,\"paused_by\":\n"
    "NAME,\"paused_since\":MS}, \"disk\":{\"measured\":MS,\"home\":BYTES,\n"
    "\"logs\":BYTES,...} (as 'runner gc' last measured it) and\n"
    "\"warnings\":[...] (files of the home\n"
    "readable or writable by more users than they should be, trusted\n"
    "repositories). An environment whose serving release has files that\n"
    "changed since it was extracted is shown as TAMPERED.\n";

#define OPEN_NOTIFICATIONS 10

/* SETTING_DISK: "home=N logs=N ..." as `runner gc` measured it. */
static void disk_json(struct json *w, char *disk, int64_t ms)
{
	json_obj(w, "disk");
	json_id(w, "measured", disk ? ms : 0);
	for (char *p = disk, *tok; p && (tok = strsep(&p, " "));) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		json_int(w, tok, strtoll(eq + 1, NULL, 10));
		*eq = '=';
		if (p)
			p[-1] = ' ';
	}
	json_end(w);
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

static void env_json(struct json *w, struct store *st,
    const struct env_rec *e)
{
	const struct job *cur = e->current, *last = e->latest;
	int changed = 0;
	char *first = NULL;
	const char *rs = cur ? cli_release_state(st, cur, &changed, &first) :
	    NULL;

	json_obj(w, NULL);
	json_string(w, "repo", e->repo);
	json_string(w, "name", e->name);
	json_string(w, "state", env_state_name(e->state));
	json_id(w, "release", cur ? cur->id : 0);
	json_string(w, "commit", cur ? cur->commit : NULL);
	json_string(w, "tag", cur ? cur->tag : NULL);
	json_id(w, "job", cur ? cur->source_job : 0);
	json_int(w, "updated_ms", e->updated_ms);
	json_id(w, "last_deploy", last ? last->id : 0);
	json_string(w, "last_state", last ? job_state_name(last->state) : NULL);
	if (last) {
		json_checks(w, "checks", last);
	} else {
		json_arr(w, "checks");
		json_end(w);
	}
	json_string(w, "release_files", rs);
	json_int(w, "changed_files", changed);
	json_string(w, "first_changed", first);
	json_end(w);
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
	char *paused = NULL, *disk = NULL;
	int64_t paused_ms = 0, disk_ms = 0;
	const char *home_opt = NULL;
	struct cli_session cs = { 0 };
	int json = 0, limit = -1;
	struct job **jobs = NULL;
	struct env_rec **envs = NULL;
	struct notification **notes = NULL;
	struct sbuf out = SBUF_INIT, warn = SBUF_INIT;
	size_t n = 0, nenvs = 0, nnotes = 0;
	int64_t pending = 0, dead = 0;
	int rc;
	const char *home;

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
	home = cs.home;
	if (store_jobs_list(cs.store, limit, &jobs, &n) < 0 ||
	    store_envs_list(cs.store, &envs, &nenvs) < 0 ||
	    store_notif_count(cs.store, NOTIF_PENDING, &pending) < 0 ||
	    store_notif_count(cs.store, NOTIF_DEAD, &dead) < 0 ||
	    store_notifs_open(cs.store, OPEN_NOTIFICATIONS, &notes,
	    &nnotes) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	int pid = daemon_pid(home);
	int64_t since = pid ? daemon_since(home) : 0;
	if (store_setting_get(cs.store, SETTING_PAUSED, &paused,
	    &paused_ms) < 0 || store_setting_get(cs.store, SETTING_DISK, &disk,
	    &disk_ms) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	struct config *conf = NULL;
	if (config_load(home, &conf) < 0)
		sbuf_addf(&warn, "%s\n", error_last());
	for (size_t i = 0; conf && i < conf->nrepos; i++)
		repo_names_know(conf->repos[i].path);
	for (size_t i = 0; i < n; i++)
		repo_names_know(jobs[i]->repo);
	for (size_t i = 0; i < nenvs; i++)
		repo_names_know(envs[i]->repo);
	if (conf && conf->trust_repositories)
		sbuf_adds(&warn, "trust_repositories is true in runner.yml: code "
		    "from repositories runs as the daemon's own user\n");
	home_audit(home, conf, &warn);
	config_free(conf);
	if (json) {
		struct json w;
		json_init(&w, &out);
		json_obj(&w, NULL);
		json_obj(&w, "daemon");
		json_bool(&w, "running", pid != 0);
		json_id(&w, "pid", pid);
		json_id(&w, "since", pid ? since : 0);
		json_end(&w);
		json_obj(&w, "queue");
		json_bool(&w, "paused", paused != NULL);
		json_string(&w, "paused_by", paused);
		json_id(&w, "paused_since", paused ? paused_ms : 0);
		json_end(&w);
		disk_json(&w, disk, disk_ms);
		json_arr(&w, "warnings");
		for (char *l = warn.buf, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			*nl = '\0';
			json_string(&w, NULL, l);
		}
		json_end(&w);
		json_arr(&w, "jobs");
		for (size_t i = 0; i < n; i++)
			json_job(&w, NULL, jobs[i]);
		json_end(&w);
		json_arr(&w, "environments");
		for (size_t i = 0; i < nenvs; i++)
			env_json(&w, cs.store, envs[i]);
		json_end(&w);
		json_obj(&w, "notifications");
		json_int(&w, "pending", pending);
		json_int(&w, "dead", dead);
		json_arr(&w, "open");
		for (size_t i = 0; i < nnotes; i++)
			json_notification(&w, NULL, notes[i]);
		json_end(&w);
		json_end(&w);
		json_end(&w);
		sbuf_addch(&out, '\n');
	} else {
		int tty = isatty(1);
		size_t queued = 0, running = 0;
		for (size_t i = 0; i < n; i++) {
			queued += jobs[i]->state == JOB_QUEUED;
			running += jobs[i]->state == JOB_RUNNING;
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
		sbuf_addf(&out, "queue: %zu queued, %zu running", queued,
		    running);
		if (paused) {
			sbuf_addf(&out, "; PAUSED by %s for ", paused);
			format_duration(&out, now_ms() - paused_ms);
			sbuf_adds(&out, " ('runner resume' releases it)");
		}
		sbuf_addch(&out, '\n');
		disk_line(&out, disk, disk_ms);
		if (nenvs)
			sbuf_adds(&out, "\nEnvironments:\n");
		for (size_t i = 0; i < nenvs; i++)
			env_line(&out, cs.store, envs[i], tty);
		const int sections[] = { JOB_RUNNING, JOB_QUEUED, -1 };
		const char *titles[] = { "Running", "Queued", "Recent" };
		for (int sec = 0; sec < 3; sec++) {
			int any = 0;
			for (size_t i = 0; i < n; i++) {
				int st = (int)jobs[i]->state;
				int in = sections[sec] >= 0 ? st == sections[sec] :
				    job_state_final(jobs[i]->state);
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
	free(paused);
	free(disk);
	jobs_free(jobs, n);
	envs_free(envs, nenvs);
	notifs_free(notes, nnotes);
	sbuf_release(&out);
	sbuf_release(&warn);
	cli_close(&cs);
	return rc;
}
