/*
 * One deployment, start to end: its steps as a table, and the rollback.
 * A deployment that must not happen ends 'rejected' and touches nothing
 * (gates.c); one that happened ends 'healthy', 'failed' or
 * 'rolled_back', and the environment's record says which release serves
 * now. Its folders are release.c's, its commands services.c's, its
 * checks verify.c's.
 */
#include "deploy.h"
#include "deploy_int.h"
#include "artifact.h"
#include "checkout.h"
#include "config.h"
#include "pipeline.h"
#include "run.h"
#include "step.h"
#include "envs.h"
#include "tagsig.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void deploy_set_outcome(struct deploy *d, enum job_state state, char *error)
{
	if (d->state != JOB_RUNNING) {
		free(error);
		return;
	}
	d->state = state;
	d->error = error;
}

void deploy_reject(struct deploy *d, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	deploy_set_outcome(d, JOB_REJECTED, sbuf_detach(&sb));
}

/*
 * Wait `ms` between check attempts or verification rounds, watching the
 * worker's events: a cancel ends the deployment 'canceled', the daemon
 * stopping ends it 'interrupted', at once. Returns 0 after the whole
 * wait, 1 when the deployment was ended so.
 */
int deploy_wait_ms(struct deploy *d, int64_t ms)
{
	struct job_ctx *ctx = d->ctx;
	int64_t end = mono_ms() + ms;

	for (;;) {
		enum stage_event ev = STAGE_EV_NONE;
		int64_t left = end - mono_ms();
		struct pollfd p = { ctx->event_fd, POLLIN, 0 };

		if (ctx->stopping && *ctx->stopping)
			ev = STAGE_EV_SHUTDOWN;
		else if (left <= 0)
			return 0;
		else if (poll(&p, ctx->event_fd >= 0, (int)left) > 0 &&
		    ctx->on_event)
			ev = ctx->on_event(ctx->arg);
		if (ev == STAGE_EV_CANCEL) {
			deploy_set_outcome(d, JOB_CANCELED, xstrdup("canceled while the "
			    "deployment waited for its checks"));
			return 1;
		}
		if (ev == STAGE_EV_SHUTDOWN) {
			deploy_set_outcome(d, JOB_INTERRUPTED, xstrdup("the daemon stopped "
			    "while the deployment waited for its checks"));
			return 1;
		}
	}
}

/* A step that is not a command (gates, verification): a stage row with a
 * log holding `text`, started at `started` (ms; 0: now). */
int deploy_record_step(struct deploy *d, const char *name, int ok,
    const char *error, const char *text, int64_t started)
{
	struct store *st = d->ctx->store;
	char *log;
	int idx, rc;

	if ((rc = store_stage_count(st, d->job->id, &idx)) < 0)
		return rc;
	log = job_log_path(d->ctx->home, d->job->id, idx, name);
	write_file_atomic(log, text, strlen(text), 0644);
	if ((rc = store_stage_add(st, d->job->id, idx, name, log)) == 0 &&
	    (rc = job_ship_log(d->ctx, d->job->id, idx, log)) == 0 &&
	    (rc = store_stage_start(st, d->job->id, idx, 0, started)) == 0)
		rc = store_stage_end(st, d->job->id, idx, ok ? STEP_PASSED :
		    STEP_FAILED, -1, error);
	free(log);
	return rc;
}


/*
 * Roll back to d->prev, the release that served before. When it ran to
 * its checks it records the outcome, rolled_back (*recorded = 1); when it
 * could not, it only adds why to d->error. Returns 0, or a negative code
 * when the store failed.
 */
static int rollback(struct deploy *d, int *recorded)
{
	struct pipeline *ppl = NULL;
	const struct env_def *penv;
	char *pws = xasprintf("%s-previous", d->ws), *err = NULL;
	const struct env_def *cur = d->env;
	int ok, rc = 0;

	*recorded = 0;
	if ((rc = store_job_phase(d->ctx->store, d->job->id, "rollback")) < 0)
		return rc;
	struct job *src = NULL;
	char *bad = NULL;
	if (deploy_prepare(d, d->prev->commit, pws, &ppl) < 0 ||
	    !(penv = pipeline_env(ppl, d->env->name)) ||
	    job_give(pws, d->user) < 0 ||
	    store_job_get(d->ctx->store, d->prev->source_job, &src) < 0 ||
	    (!src->nartifacts && error_set(ERR_NOTFOUND, "build #%lld has no "
	    "artifact", (long long)src->id)) ||
	    (rc = deploy_extract_release(d, src, d->prev, &bad))) {
		/* the previous release is extracted again from its archive:
		 * files changed since it served are not deployed again */
		char *why = xasprintf("%s; rollback to release #%lld impossible: %s",
		    d->error, (long long)d->prev->id, bad ? bad : error_last());
		free(d->error);
		d->error = why;
		free(bad);
		job_free(src);
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	job_free(src);
	/* The previous release's own deploy command and checks. */
	d->env = penv;
	char *name = xasprintf("rollback to #%lld", (long long)d->prev->id);
	/* what the failed deployment left running ends first */
	rc = deploy_end_services(d, &err);
	if (rc == 0 && !err)
		rc = deploy_command(d, name, penv->deploy, pws, d->prev, &err);
	free(name);
	if (rc == 0 && !err && cur->restore) {
		/* the data as the previous release left it: this deployment's
		 * own backup, taken before it deployed */
		free(d->restore_dir);
		d->restore_dir = xstrdup(d->backup_dir);
		rc = deploy_command(d, "restore", cur->restore, d->ws, d->prev, &err);
	}
	d->env = cur;
	if (rc < 0)
		goto out;
	if (err) {
		char *why = xasprintf("%s; the rollback failed too: %s", d->error,
		    err);
		free(d->error);
		d->error = why;
		goto out;
	}
	/* The outcome is decided (set_outcome keeps it); the checks only
	 * tell whether the environment is healthy again. */
	d->env = penv;
	rc = deploy_run_checks(d, pws, d->prev, &ok);
	d->env = cur;
	if (rc < 0)
		goto out;
	rc = store_deploy_end(d->ctx->store, d->job, JOB_ROLLED_BACK, d->error,
	    ok ? ENV_HEALTHY : ENV_FAILED, d->prev->id);
	*recorded = rc == 0;
out:
	if (!d->ctx->conf->keep_workspaces)
		rm_rf(pws);
	free(pws);
	free(err);
	pipeline_free(ppl);
	return rc;
}

/*
 * The steps of a deployment, in order. Each returns 0 (having set the
 * outcome with deploy_set_outcome() or deploy_reject() when the
 * deployment must stop) or a negative code when the store failed. A step that stops the
 * deployment before `touches` is set has changed nothing the environment
 * serves: its record stays as it was. From the first step that touches
 * it on, a failure is the environment's (recorded failed) and rolls back
 * to the release that served before, when there is one.
 */
static int step_setup(struct deploy *d)
{
	if (job_logs_dir(d->ctx, d->job) < 0 || mkdir_p(d->tmp, 0700) < 0)
		deploy_set_outcome(d, JOB_FAILED, xstrdup(error_last()));
	else if (deploy_env_user(d) < 0)
		deploy_reject(d, "%s", error_last());
	return 0;
}

static int step_resolve(struct deploy *d)
{
	deploy_resolve(d);
	return 0;
}

/* The commit's pipeline, its environment, and whether it needs a tag. */
static int step_pipeline(struct deploy *d)
{
	struct job *job = d->job;

	if (deploy_prepare(d, job->commit, d->ws, &d->pl) < 0) {
		deploy_set_outcome(d, JOB_REJECTED, xasprintf("commit %.7s: %s",
		    job->commit, error_last()));
		return 0;
	}
	if (!(d->env = pipeline_env(d->pl, job->env))) {
		deploy_reject(d, "no environment '%s' in .runner.yml of commit %.7s",
		    job->env, job->commit);
		return 0;
	}
	if ((d->env->signed_tag || config_env_signed(d->ctx->conf, job->env)) &&
	    !job->tag && !job->forced_by && !job->rollback_to)
		deploy_reject(d, "environment '%s' requires a signed release tag (or "
		    "'runner deploy --force')", job->env);
	return 0;
}

static int step_gates(struct deploy *d)
{
	deploy_gates(d, d->ws);
	if (d->state == JOB_RUNNING && (job_give(d->ws, d->user) < 0 ||
	    deploy_state_dir(d) < 0))
		deploy_set_outcome(d, JOB_FAILED, xstrdup(error_last()));
	return 0;
}

/* What serves now (what a failure rolls back to), the release notes, the
 * release extracted, and the deployment recorded as under way. */
static int step_release(struct deploy *d)
{
	struct job *job = d->job;
	struct env_rec *er = NULL;
	struct source *src = NULL;
	char *why;
	int rc;

	/* what the gates read (another job's outcome, which its worker
	 * syncs behind it: store_sync_behind) on disk before the release
	 * is made */
	if ((rc = store_sync_now(d->ctx->store)) < 0)
		return rc;
	if (store_env_get(d->ctx->store, job->repo, job->env, &er) == 0 &&
	    er->current && er->current->release_dir &&
	    er->current->id != job->id) {
		d->prev = er->current;
		er->current = NULL;
		job->previous = d->prev->id;
	}
	env_rec_free(er);
	if (job->tag || !strcmp(job->env, "production")) {
		struct sbuf notes = SBUF_INIT;
		if (job->notes && *job->notes)
			sbuf_addf(&notes, "%s\n\n", job->notes);
		release_notes(job->repo, d->prev ? d->prev->commit : NULL,
		    job->commit, d->prev ? 1000 : 20, &notes);
		free(job->notes);
		job->notes = sbuf_detach(&notes);
	}
	/* Every deployment, a rollback by hand too, extracts the very bytes
	 * the build recorded into a release of its own: files changed in an
	 * older release are never deployed again. */
	free(job->release_dir);
	job->release_dir = deploy_release_dir(d);
	if ((rc = deploy_extract_release(d, d->source, job, &why)) < 0)
		return rc;
	if (rc > 0) {
		deploy_set_outcome(d, JOB_FAILED, why);
		return 0;
	}
	if (source_open(d->repo, job->commit, &src) == 0) {
		free(job->subject);
		job->subject = xstrdup(source_subject(src));
	}
	source_free(src);
	if ((rc = store_deploy_resolve(d->ctx->store, job)) < 0)
		return rc;
	return store_env_deploying(d->ctx->store, job->repo, job->env, job->id);
}

/* Run the environment's command `name` (when it has one); a failure is
 * the outcome, `suffix` added to its reason. */
static int step_command(struct deploy *d, const char *name,
    const char *script, const char *suffix)
{
	char *err = NULL;
	int rc;

	if (!script)
		return 0;
	if ((rc = deploy_command(d, name, script, d->ws, d->job, &err)) < 0)
		return rc;
	if (err) {
		deploy_set_outcome(d, JOB_FAILED, xasprintf("%s%s", err, suffix));
		free(err);
	}
	return 0;
}

/* The backup folder of deployment `id` of this environment, if it holds
 * anything. Caller frees. */
static char *backup_dir_of(const struct deploy *d, int64_t id)
{
	char *dir = xstrdup(d->backup_dir);
	char *slash = strrchr(dir, '/');
	char *path;

	*slash = '\0';
	path = xasprintf("%s/%lld", dir, (long long)id);
	free(dir);
	if (access(path, X_OK) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

/* step_command(), once what the deployments (and commands) before left
 * running has ended; one that cannot be ended fails the deployment. */
static int step_command_alone(struct deploy *d, const char *name,
    const char *script, const char *suffix)
{
	char *why = NULL;
	int rc = deploy_end_services(d, &why);

	if (why)
		deploy_set_outcome(d, JOB_FAILED, why);
	if (rc < 0 || why)
		return rc;
	return step_command(d, name, script, suffix);
}

/* Every deployment, a rollback by hand too, backs up what serves before
 * it touches anything. What the deployments before left running ends
 * first, before any command of this one runs: a service that lived on
 * could otherwise keep every later deployment from its deploy step (by
 * breaking the backup) and outlive them all. A backup that needs a
 * service of the environment starts what it needs itself. */
static int step_backup(struct deploy *d)
{
	return step_command_alone(d, "backup", d->env->backup, "; nothing "
	    "was deployed");
}

/* What the backup left running ends first. */
static int step_deploy(struct deploy *d)
{
	return step_command_alone(d, "deploy", d->env->deploy, "");
}

/* A rollback by hand restores the backup taken when the release it
 * returns to stopped serving. */
static int step_restore(struct deploy *d)
{
	int64_t by;

	if (!d->job->rollback_to)
		return 0;
	if ((by = store_replaced_by(d->ctx->store, d->job->repo, d->job->env,
	    d->job->rollback_to)) < 0)
		return (int)by;
	if (by)
		d->restore_dir = backup_dir_of(d, by);
	return step_command(d, "restore", d->env->restore, "");
}

static int step_checks(struct deploy *d)
{
	int ok;

	return deploy_run_checks(d, d->ws, d->job, &ok);
}

static int step_verify(struct deploy *d)
{
	int ok;

	int rc = d->env->verify.set ? deploy_verify(d, &ok) : 0;

	/* and who serves it at the window's end */
	if (rc == 0 && d->env->verify.set && d->state == JOB_RUNNING)
		rc = deploy_endpoint_check(d, &ok);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(struct deploy *d);
	int touches;	/* the environment, from this step on */
} steps[] = {
	/* name: the phase `runner status` shows while it runs */
	{ "preparing", step_setup, 0 },
	{ "resolving", step_resolve, 0 },
	{ "checkout", step_pipeline, 0 },
	{ "gates", step_gates, 0 },
	{ "extract", step_release, 0 },
	{ "backup", step_backup, 0 },
	{ "deploy", step_deploy, 1 },
	{ "restore", step_restore, 1 },
	{ "checks", step_checks, 1 },
	{ "verify", step_verify, 1 },
};

int deploy_run(struct job_ctx *ctx, struct job *job)
{
	struct deploy d = { .ctx = ctx, .job = job, .state = JOB_RUNNING };
	int rc = 0, touched = 0;

	d.rc = config_repo(ctx->conf, job->repo);
	d.ws = job_workspace_path(ctx->home, job->id);
	d.tmp = xasprintf("%s/tmp", ctx->home);
	d.user = ctx->user;
	d.host = config_host_name(ctx->conf);
	d.ended = (struct sbuf)SBUF_INIT;
	{
		/* its environment's host, by label */
		const struct env_grant *g = job->env ?
		    config_env(ctx->conf, job->env) : NULL;
		if (g && job_hand_on(ctx, job, (const char *const *)g->runs_on,
		    g->nruns_on, "its environment's deployments run", &rc))
			goto out;
	}
	if (job_source(ctx, job, &d.repo) < 0)
		deploy_set_outcome(&d, JOB_FAILED, xasprintf("sources: %s",
		    error_last()));
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps) &&
	    d.state == JOB_RUNNING; i++) {
		touched = steps[i].touches;
		if ((rc = store_job_phase(ctx->store, job->id,
		    steps[i].name)) < 0 || (rc = steps[i].run(&d)) < 0)
			goto out;
	}
	if (d.state == JOB_RUNNING) {
		rc = store_deploy_end(ctx->store, job, JOB_HEALTHY, NULL,
		    ENV_HEALTHY, job->id);
	} else if (!touched) {
		/* Nothing was deployed: the environment's record stays. */
		if (!job->commit ||
		    (rc = store_deploy_resolve(ctx->store, job)) == 0)
			rc = store_deploy_end(ctx->store, job, d.state, d.error,
			    ENV_UNCHANGED, 0);
	} else {
		int recorded = 0;
		if (d.state == JOB_FAILED && d.prev && !job->rollback_to)
			rc = rollback(&d, &recorded);
		if (rc == 0 && !recorded)
			rc = store_deploy_end(ctx->store, job, d.state, d.error,
			    ENV_FAILED, 0);
	}
out:
	if (d.ws && !ctx->conf->keep_workspaces)
		rm_rf(d.ws);
	free(d.ws);
	free(d.repo);
	free(d.tmp);
	free(d.state_dir);
	free(d.backup_dir);
	free(d.restore_dir);
	free(d.host);
	sbuf_release(&d.ended);
	run_user_release(&d.grant_user);
	free(d.error);
	job_free(d.source);
	job_free(d.prev);
	pipeline_free(d.pl);
	return rc;
}
