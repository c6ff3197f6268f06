/*
 * Whether a deployment may happen, and of which build: the pipeline's
 * gates, the release tag's signature and the way it goes, and the build
 * a deployment resolves to. A deployment refused here ends 'rejected'
 * and touches nothing.
 */
#include "deploy.h"
#include "deploy_int.h"
#include "artifact.h"
#include "check.h"
#include "config.h"
#include "pipeline.h"
#include "run.h"
#include "step.h"
#include "envs.h"
#include "audit.h"
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

/* The gates: the pre-deployment checklist of the environment. */
void deploy_gates(struct deploy *d, const char *ws)
{
	const struct env_def *e = d->env;
	struct sbuf text = SBUF_INIT;
	char *why = NULL;

	for (size_t i = 0; i < e->nrequire_env && !why; i++)
		if (!config_secret(d->ctx->conf, e->require_env[i]))
			why = xasprintf("gate require_env: '%s' is not set in "
			    "runner.yml (secrets)", e->require_env[i]);
	if (!why && e->require_changelog) {
		struct sbuf log = SBUF_INIT;
		char *path = xasprintf("%s/%s", ws, e->require_changelog);
		const char *tag = d->job->tag;
		if (!tag)
			why = xasprintf("gate require_changelog: needs a release "
			    "tag to know the version");
		else if (read_file(path, 16 * 1024 * 1024, &log) < 0)
			why = xasprintf("gate require_changelog: no '%s' at commit "
			    "%.7s", e->require_changelog, d->job->commit);
		else if (!strstr(log.buf, tag) && !(tag[0] == 'v' &&
		    strstr(log.buf, tag + 1)))
			why = xasprintf("gate require_changelog: '%s' does not "
			    "mention %s", e->require_changelog, tag);
		sbuf_release(&log);
		free(path);
	}
	if (!why && e->require_tls_days) {
		long days = 0;
		if (tls_days_left(e->url, &days) < 0)
			why = xasprintf("gate require_tls_days: %s", error_last());
		else if (days < e->require_tls_days)
			why = xasprintf("gate require_tls_days: the certificate of "
			    "%s expires in %ld days, less than %ld", e->url, days,
			    e->require_tls_days);
		else
			sbuf_addf(&text, "certificate valid %ld more days\n", days);
	}
	if (!e->nrequire_env && !e->require_changelog && !e->require_tls_days)
		return;
	sbuf_adds(&text, why ? why : "all gates passed");
	sbuf_addch(&text, '\n');
	deploy_record_step(d, "gates", !why, why, text.buf, 0);
	if (why)
		deploy_reject(d, "%s", why);
	free(why);
	sbuf_release(&text);
}

/* ", passed over: #3, #5 (...)" for the builds of `commit` that had
 * variables, when a release may not take them. */
static void passed_over(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *commit, struct sbuf *sb)
{
	int64_t *ids = NULL;
	size_t n = 0;

	if (rc->release_variables ||
	    store_builds_with_variables(st, repo, commit, &ids, &n) < 0 || !n)
		goto out;
	sbuf_adds(sb, "; passed over, for their push variables (runner.yml "
	    "release_variables):");
	for (size_t i = 0; i < n; i++)
		sbuf_addf(sb, "%s #%lld", i ? "," : "", (long long)ids[i]);
out:
	free(ids);
}

/*
 * Release tags only go forward. Refused: a tag name that has pointed at
 * another object; a tag object first pushed before the release now
 * serving `env` was queued (an abandoned release, brought back); a tag
 * signed before the serving one, whether or not the runner saw it pushed
 * (a tag made before the runner watched the repository, deleted and
 * pushed again: the tagger's date is part of what was signed). Going back
 * is 'runner rollback', by a person, recorded. NULL, or why (the caller
 * frees it).
 */
static char *tag_goes_back(struct store *st, const char *repo,
    const char *env, const struct release_tag *t, int64_t except)
{
	struct env_rec *e = NULL;
	const struct job *cur;
	int64_t moved, seen, serving_at = 0;
	char *why = NULL;

	if ((moved = store_tag_moved(st, repo, t->name, t->object)) < 0)
		return xasprintf("cannot check that tag '%s' never moved: %s",
		    t->name, error_last());
	if (moved)
		return xasprintf("tag '%s' pointed at another object before "
		    "(release #%lld); a release tag is never moved: tag a new "
		    "version", t->name, (long long)moved);
	if (store_env_get(st, repo, env, &e) < 0 || !e || !(cur = e->current) ||
	    cur->id == except)
		goto out;
	seen = store_tag_first_seen(st, repo, t->object);
	if (seen < 0)
		why = xasprintf("cannot check when tag '%s' was first pushed: "
		    "%s", t->name, error_last());
	else if (seen && seen < cur->created_ms)
		why = xasprintf("tag '%s' was first pushed before release #%lld, "
		    "which serves %s now, was queued; releases only go forward "
		    "(going back is 'runner rollback %s')", t->name,
		    (long long)e->release, env, env);
	/* a serving tag whose object is gone cannot be compared */
	else if (t->tagged_at && cur->tag_object && t->gitdir &&
	    tag_time(t->gitdir, cur->tag_object, &serving_at) == 0 &&
	    t->tagged_at < serving_at)
		why = xasprintf("tag '%s' was signed before '%s', which serves "
		    "%s now (release #%lld); releases only go forward (going "
		    "back is 'runner rollback %s')", t->name, cur->tag ?
		    cur->tag : "?", env, (long long)e->release, env);
out:
	env_rec_free(e);
	error_clear();
	return why;
}

char *release_refusal(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *env, const struct release_tag *t,
    int64_t except, int64_t *build, char **choice)
{
	const char *tag = t->name, *tag_object = t->object, *commit = t->commit;
	int vars = rc->release_variables, staging = !strcmp(env, "staging");
	struct sbuf sb = SBUF_INIT;
	char *why;
	struct job *dep = NULL;
	int64_t other, staged;

	*build = 0;
	if (choice)
		*choice = NULL;
	if ((other = store_tag_deployed(st, repo, tag, tag_object, except)) < 0)
		return xasprintf("cannot check that tag '%s' was not deployed "
		    "before: %s", tag, error_last());
	if (other)
		return xasprintf("tag '%s' was already deployed by deployment "
		    "#%lld; a release tag deploys once", tag, (long long)other);
	if ((why = tag_goes_back(st, repo, env, t, except)))
		return why;
	if ((other = store_passed_build(st, repo, commit, 1)) < 0)
		return xasprintf("cannot look for a passed build of commit "
		    "%.7s: %s", commit, error_last());
	if (!other)
		return xasprintf("commit %.7s of tag '%s' has no passed build with "
		    "an artifact (push it to a branch that builds first)", commit,
		    tag);
	/* the build the release process verified: the newest one staging
	 * was healthy with; a rebuild by another push with variables never
	 * stands in for it */
	staged = staging ? 0 : store_staged_build(st, repo, commit, vars);
	if (staged < 0)
		return xasprintf("cannot look for a staging deployment of commit "
		    "%.7s: %s", commit, error_last());
	if (staged && store_job_get(st, staged, &dep) == 0 && dep->source_job) {
		*build = dep->source_job;
		sbuf_addf(&sb, "build #%lld: its staging deployment #%lld was "
		    "healthy, the newest of commit %.7s", (long long)*build,
		    (long long)staged, commit);
	} else if (rc->require_staging && !staging) {
		int64_t any = store_healthy_deploy(st, repo, "staging", commit);
		sbuf_addf(&sb, "commit %.7s of tag '%s' has no healthy staging "
		    "deployment%s (require_staging)", commit, tag, any > 0 ?
		    " of a build without push variables" : "");
		passed_over(st, rc, repo, commit, &sb);
		job_free(dep);
		return sbuf_detach(&sb);
	} else if ((*build = store_passed_build(st, repo, commit, vars)) < 0) {
		*build = 0;
		job_free(dep);
		sbuf_release(&sb);
		return xasprintf("cannot look for a passed build of commit "
		    "%.7s: %s", commit, error_last());
	} else if (*build) {
		sbuf_addf(&sb, "build #%lld: the newest passed build of commit "
		    "%.7s%s", (long long)*build, commit, staging ? "" :
		    " (require_staging: false)");
	} else {
		sbuf_addf(&sb, "commit %.7s of tag '%s' has no passed build with "
		    "an artifact and without push variables (push it to a branch "
		    "that builds first)", commit, tag);
		passed_over(st, rc, repo, commit, &sb);
		job_free(dep);
		return sbuf_detach(&sb);
	}
	job_free(dep);
	passed_over(st, rc, repo, commit, &sb);
	if (choice)
		*choice = sbuf_detach(&sb);
	sbuf_release(&sb);
	return NULL;
}

/* Where the release comes from; rejects what may not be deployed. */
void deploy_resolve(struct deploy *d)
{
	struct job *job = d->job;
	struct store *st = d->ctx->store;
	struct tag_info ti;
	int64_t src_id = job->source_job;
	char *why;

	/* queued by an approval tag: its release's deployment */
	char *approval = deploy_approval_release(d);
	if (d->state != JOB_RUNNING)
		return;
	if (job->tag) {
		if (tag_verify(d->repo, NULL, job->tag, job->commit, d->rc,
		    d->tmp, &ti) < 0) {
			deploy_reject(d, "%s", error_last());
			free(approval);
			return;
		}
		/* the key that signed it, for the audit trail */
		free(job->signer);
		job->signer = tag_info_signer(&ti);
		if (store_job_signer(st, job->id, job->signer) < 0)
			log_line("warning: job #%lld: %s", (long long)job->id,
			    error_last());
		free(job->tag_object);
		job->tag_object = job->commit;
		job->commit = xstrdup(ti.commit);
		free(job->notes);
		job->notes = ti.message;
		ti.message = NULL;
		const struct release_tag rt = { job->tag, job->tag_object,
		    job->commit, ti.tagged_at, d->repo };
		char *choice = NULL;
		if ((why = release_refusal(st, d->rc, job->repo, job->env, &rt,
		    job->id, &src_id, &choice))) {
			deploy_set_outcome(d, JOB_REJECTED, why);
			tag_info_release(&ti);
			free(approval);
			return;
		}
		/* and the approvals it needs, counted now */
		int held = deploy_quorum(d, &ti, approval);
		tag_info_release(&ti);
		free(approval);
		approval = NULL;
		if (held) {
			free(choice);
			return;
		}
		/* which build, and why: shown by runner show as a step */
		char *text = xasprintf("%s\n", choice);
		deploy_record_step(d, "release build", 1, NULL, text, 0);
		log_line("job #%lld: release %s signed by %s deploys %s",
		    (long long)job->id, job->tag, job->signer, choice);
		free(text);
		free(choice);
	}
	free(approval);
	if (job->rollback_to) {
		struct job *r = NULL;
		if (store_job_get(st, job->rollback_to, &r) < 0 || !r->release_dir ||
		    strcmp(r->env ? r->env : "", job->env)) {
			deploy_reject(d, "release #%lld is not a release of '%s'",
			    (long long)job->rollback_to, job->env);
			job_free(r);
			return;
		}
		free(job->commit);
		job->commit = xstrdup(r->commit);
		free(job->release_dir);
		job->release_dir = xstrdup(r->release_dir);
		src_id = r->source_job;
		job_free(r);
	}
	job->source_job = src_id;
	if (!src_id || store_job_get(st, src_id, &d->source) < 0 ||
	    !d->source->nartifacts) {
		deploy_reject(d, "no passed build with an artifact to deploy");
		return;
	}
	if (d->source->state != JOB_PASSED)
		deploy_reject(d, "build #%lld is %s, not passed", (long long)src_id,
		    job_state_name(d->source->state));
}
