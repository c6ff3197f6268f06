/*
 * What `runner status` shows, gathered once (view.h): for the command and
 * for the web page and its /api/status.
 */
#include "view.h"
#include "admin.h"
#include "audit.h"
#include "config.h"
#include "hosts.h"
#include "running.h"
#include "envs.h"
#include "home.h"
#include "jobs.h"
#include "json.h"
#include "manifest.h"
#include "notebox.h"
#include "outbox.h"
#include "records.h"
#include "repos.h"
#include "state.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Why the git notes of `repo` cannot be written, if the notifier kept a
 * reason (notes.c): a warning line with its fix. */
static void notes_warning(struct store *st, const char *repo,
    struct sbuf *warn)
{
	char *key = xasprintf("%s%s", NOTES_SETTING, repo), *val = NULL, *nl;

	if (store_setting_get(st, key, &val, NULL) == 1 &&
	    (nl = strchr(val, '\n'))) {
		*nl = '\0';
		sbuf_addf(warn, "git notes of '%s' are not written: %s (fix: %s)\n",
		    repo, val, nl + 1);
	}
	free(val);
	free(key);
}

static void add_issue(const struct home_issue *issue, void *arg)
{
	sbuf_addf(arg, "%s (fix: %s)\n", issue->problem, issue->fix);
}

static void add_warning(char *line, void *arg)
{
	struct status_view *v = arg;

	v->warn = xrealloc(v->warn, (v->nwarn + 1) * sizeof(*v->warn));
	v->warn[v->nwarn++] = xstrdup(line);
}

int status_view_load(struct store *st, const char *home, int limit,
    struct status_view *v)
{
	struct config *conf = NULL;
	struct sbuf warn = SBUF_INIT;
	char *why = NULL;

	memset(v, 0, sizeof(*v));
	if (store_jobs_list(st, limit, &v->jobs, &v->n) < 0 ||
	    store_envs_list(st, &v->envs, &v->nenvs) < 0 ||
	    store_notif_count(st, NOTIF_PENDING, &v->pending) < 0 ||
	    store_notif_count(st, NOTIF_DEAD, &v->dead) < 0 ||
	    store_notifs_open(st, STATUS_OPEN_NOTIFICATIONS, &v->notes,
	    &v->nnotes) < 0 ||
	    store_setting_get(st, SETTING_PAUSED, &v->paused,
	    &v->paused_ms) < 0 ||
	    store_setting_get(st, SETTING_DISK, &v->disk, &v->disk_ms) < 0 ||
	    store_hosts(st, &v->hosts, &v->nhosts) < 0 ||
	    store_approvals_pending(st, &v->waiting, &v->nwaiting) < 0)
		return -1;
	v->pid = daemon_pid(home);
	v->since = v->pid ? daemon_since(home) : 0;
	/* from the spool's folders: true while the daemon is stopped too */
	spool_summary_load(home, &v->spool);
	/* a mistake in runner.yml: the configuration the daemon keeps, and
	 * the mistake as a warning */
	if (config_load_kept(home, &conf, &why) < 0)
		sbuf_addf(&warn, "%s\n", error_last());
	else if (why)
		sbuf_addf(&warn, "%s\n", why);
	v->config_bad = !conf || why;
	free(why);
	/* the names the store recorded; one it cannot read now leaves
	 * repositories named as they would be */
	if (store_repo_names_load(st) < 0)
		error_clear();
	/* notes that cannot be written: said once per repository */
	for (size_t i = 0; conf && i < conf->nrepos; i++)
		notes_warning(st, conf->repos[i].path, &warn);
	for (size_t i = 0; i < v->n; i++) {
		int first = 1;
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(v->jobs[k]->repo, v->jobs[i]->repo) != 0;
		for (size_t k = 0; conf && k < conf->nrepos && first; k++)
			first = strcmp(conf->repos[k].path, v->jobs[i]->repo) != 0;
		if (first)
			notes_warning(st, v->jobs[i]->repo, &warn);
	}
	for (size_t i = 0; conf && i < conf->nschedules; i++) {
		const struct schedule *sc = &conf->schedules[i];
		struct sched_view *w;
		char *key = xasprintf("schedule:%s", sc->name), *val = NULL;
		int64_t from;
		v->sched = xrealloc(v->sched, (v->nsched + 1) * sizeof(*v->sched));
		w = &v->sched[v->nsched++];
		w->name = xstrdup(sc->name);
		w->repo = xstrdup(sc->repo);
		w->branch = xstrdup(sc->branch);
		w->cron = xstrdup(sc->cron);
		w->last_ms = store_setting_get(st, key, &val, NULL) == 1 ?
		    strtoll(val, NULL, 10) : 0;
		from = w->last_ms > now_ms() || !w->last_ms ? now_ms() :
		    w->last_ms;
		w->next_ms = (int64_t)cron_next(&sc->when, (time_t)(from / 1000)) *
		    1000;
		free(val);
		free(key);
	}
	/* an environment that takes develop's builds of a repository whose
	 * `branches` never builds develop (auto_deploy as a list, or not
	 * given, beside branches: '^main$'): nothing ever deploys there */
	for (size_t i = 0; conf && i < conf->nrepos; i++) {
		const struct repo_conf *rc = &conf->repos[i];
		for (size_t k = 0; k < rc->nauto_deploy; k++)
			if (!strcmp(rc->auto_deploy_branches[k], DEFAULT_BRANCHES) &&
			    !config_builds_branch(rc, "develop"))
				sbuf_addf(&warn, "runner.yml:%zu: builds of '%s' never "
				    "deploy to '%s' by themselves: auto_deploy takes "
				    "branch develop's only, which 'branches' does not "
				    "build; name the branch, like auto_deploy: {%s: "
				    "'^main$'}\n", rc->line, rc->path,
				    rc->auto_deploy[k], rc->auto_deploy[k]);
	}
	if (conf && conf->trust_repositories)
		sbuf_addf(&warn, "trust_repositories is true in runner.yml: code "
		    "from repositories runs %s\n", config_trust_how(conf));
	home_audit_each(home, conf, add_issue, &warn);
	config_free(conf);
	each_line(warn.buf, add_warning, v);
	sbuf_release(&warn);
	return 0;
}

/* The spool: pushes the daemon has not looked at, those it holds (with
 * why and the fix), those it refused. */
static void spool_json(struct json *w, const struct spool_summary *sp)
{
	json_obj(w, "spool");
	json_int(w, "waiting", (int64_t)sp->waiting);
	json_id(w, "waiting_oldest_ms", sp->waiting_oldest_ms);
	json_int(w, "held", (int64_t)sp->held);
	json_id(w, "held_oldest_ms", sp->held_oldest_ms);
	json_arr(w, "held_reasons");
	for (size_t i = 0; i < sp->nreasons; i++) {
		json_obj(w, NULL);
		json_string(w, "reason", sp->reasons[i].reason);
		json_string(w, "fix", sp->reasons[i].fix);
		json_int(w, "count", (int64_t)sp->reasons[i].count);
		json_id(w, "oldest_ms", sp->reasons[i].oldest_ms);
		json_end(w);
	}
	json_end(w);
	json_int(w, "refused", (int64_t)sp->refused);
	json_string(w, "error", sp->error);
	json_string(w, "error_fix", sp->error_fix);
	json_end(w);
}

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

void status_env_json(struct json *w, struct store *st,
    const struct env_rec *e)
{
	const struct job *cur = e->current, *last = e->latest;
	int changed = 0;
	char *first = NULL;
	const char *rs = cur ? view_release_state(st, cur, &changed, &first) :
	    NULL;

	char *repo_name = repo_short_name(e->repo);

	json_obj(w, NULL);
	json_string(w, "repo", e->repo);
	json_string(w, "repo_name", repo_name);
	json_string(w, "name", e->name);
	json_string(w, "state", env_state_name(e->state));
	json_id(w, "release", cur ? cur->id : 0);
	json_string(w, "commit", cur ? cur->commit : NULL);
	json_string(w, "branch", cur ? job_branch(cur) : NULL);
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
	free(repo_name);
}


void show_json(struct store *st, const struct job *j,
    struct notification *const *notes, size_t nnotes, struct sbuf *out)
{
	struct env_rec **serves = NULL;
	size_t nserves = 0;
	struct json w;

	if (store_envs_serving(st, j, &serves, &nserves) < 0)
		error_clear();
	json_init(&w, out);
	json_obj(&w, NULL);
	json_job_members(&w, j);
	json_arr(&w, "serves");
	for (size_t i = 0; i < nserves; i++) {
		json_obj(&w, NULL);
		json_string(&w, "environment", serves[i]->name);
		json_int(&w, "release", serves[i]->current->id);
		json_end(&w);
	}
	json_end(&w);
	json_arr(&w, "notifications");
	for (size_t i = 0; i < nnotes; i++)
		json_notification(&w, NULL, notes[i]);
	json_end(&w);
	if (j->kind == KIND_DEPLOY && j->tag) {
		struct approval_rec *a = NULL;
		if (store_approvals_get(st, j->id, &a) < 0)
			error_clear();
		if (a)
			view_approvals_json(&w, "approvals", a);
		approval_recs_free(a, a ? 1 : 0);
	}
	json_end(&w);
	sbuf_addch(out, '\n');
	envs_free(serves, nserves);
}

void status_view_json(const struct status_view *v, struct store *st,
    struct sbuf *out)
{
	struct json w;

	json_init(&w, out);
	json_obj(&w, NULL);
	json_obj(&w, "daemon");
	json_bool(&w, "running", v->pid != 0);
	json_id(&w, "pid", v->pid);
	json_id(&w, "since", v->pid ? v->since : 0);
	json_end(&w);
	json_obj(&w, "store");
	json_string(&w, "engine", store_is_sqlite(st) ? "sqlite" :
	    "postgresql");
	json_string(&w, "location", store_location(st));
	json_end(&w);
	json_obj(&w, "queue");
	json_bool(&w, "paused", v->paused != NULL);
	json_string(&w, "paused_by", v->paused);
	json_id(&w, "paused_since", v->paused ? v->paused_ms : 0);
	json_end(&w);
	disk_json(&w, v->disk, v->disk_ms);
	json_arr(&w, "warnings");
	for (size_t i = 0; i < v->nwarn; i++)
		json_string(&w, NULL, v->warn[i]);
	json_end(&w);
	json_arr(&w, "schedules");
	for (size_t i = 0; i < v->nsched; i++) {
		json_obj(&w, NULL);
		json_string(&w, "name", v->sched[i].name);
		json_string(&w, "repo", v->sched[i].repo);
		json_string(&w, "branch", v->sched[i].branch);
		json_string(&w, "cron", v->sched[i].cron);
		json_id(&w, "last_ms", v->sched[i].last_ms);
		json_id(&w, "next_ms", v->sched[i].next_ms);
		json_end(&w);
	}
	json_end(&w);
	json_arr(&w, "hosts");
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct host_rec *h = &v->hosts[i];
		json_obj(&w, NULL);
		json_string(&w, "name", h->name);
		json_csv(&w, "labels", h->labels);
		json_int(&w, "workers", h->workers);
		json_id(&w, "started_ms", h->started_ms);
		json_id(&w, "heartbeat_ms", h->heartbeat_ms);
		json_bool(&w, "draining", h->draining);
		json_string(&w, "drained_by", h->drained_by);
		json_id(&w, "drained_since", h->draining ? h->drained_ms : 0);
		json_arr(&w, "running");
		for (size_t k = 0; k < h->nrunning; k++)
			json_int(&w, NULL, h->running[k]);
		json_end(&w);
		json_end(&w);
	}
	json_end(&w);
	spool_json(&w, &v->spool);
	json_arr(&w, "jobs");
	for (size_t i = 0; i < v->n; i++)
		json_job(&w, NULL, v->jobs[i]);
	json_end(&w);
	json_arr(&w, "environments");
	for (size_t i = 0; i < v->nenvs; i++)
		status_env_json(&w, st, v->envs[i]);
	json_end(&w);
	json_arr(&w, "pending_releases");
	for (size_t i = 0; i < v->nwaiting; i++)
		view_approvals_json(&w, NULL, &v->waiting[i]);
	json_end(&w);
	json_obj(&w, "notifications");
	json_int(&w, "pending", v->pending);
	json_int(&w, "dead", v->dead);
	json_arr(&w, "open");
	for (size_t i = 0; i < v->nnotes; i++)
		json_notification(&w, NULL, v->notes[i]);
	json_end(&w);
	json_end(&w);
	json_end(&w);
}

void status_view_free(struct status_view *v)
{
	jobs_free(v->jobs, v->n);
	envs_free(v->envs, v->nenvs);
	notifs_free(v->notes, v->nnotes);
	strv_free_n(v->warn, v->nwarn);
	for (size_t i = 0; i < v->nsched; i++) {
		free(v->sched[i].name);
		free(v->sched[i].repo);
		free(v->sched[i].branch);
		free(v->sched[i].cron);
	}
	free(v->sched);
	hosts_free(v->hosts, v->nhosts);
	free(v->paused);
	free(v->disk);
	spool_summary_release(&v->spool);
	approval_recs_free(v->waiting, v->nwaiting);
	memset(v, 0, sizeof(*v));
}

void view_approvals_json(struct json *w, const char *key,
    const struct approval_rec *a)
{
	struct sbuf text = SBUF_INIT;

	approval_describe(&text, a);
	json_obj(w, key);
	json_int(w, "job", a->job_id);
	json_string(w, "repo", a->repo);
	json_string(w, "environment", a->env);
	json_string(w, "tag", a->tag);
	json_int(w, "have", a->have);
	json_int(w, "need", a->need);
	json_int(w, "more", a->have < a->need ? a->need - a->have : 0);
	json_arr(w, "approvers");
	for (const char *p = a->approvers; p && *p; ) {
		size_t n = strcspn(p, "\n");
		char *line = xstrndup(p, n);
		json_string(w, NULL, line);
		free(line);
		p += n + (p[n] == '\n');
	}
	json_end(w);
	json_string(w, "text", text.buf);
	json_id(w, "at_ms", a->created_ms);
	json_end(w);
	sbuf_release(&text);
}

const char *view_release_state(struct store *st, const struct job *j,
    int *changed, char **first)
{
	char *manifest = NULL;
	int n;

	*changed = 0;
	*first = NULL;
	if (!j->release_dir || store_manifest_get(st, j->id, &manifest) < 0)
		return "unknown";
	n = manifest_check(j->release_dir, manifest, first);
	free(manifest);
	if (n == ERR_NOTFOUND)
		return "missing";
	if (n < 0)
		return "unknown";
	*changed = n;
	return n ? "tampered" : "intact";
}
