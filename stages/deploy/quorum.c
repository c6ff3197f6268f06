/*
 * Approvals before a release deploys (runner.yml `approvals:`): the
 * deployment an approval tag's push queued becomes its release's, and a
 * release deploys only once enough distinct trusted keys approved its
 * commit, counted now (approval.h). A release short of them is held:
 * the deployment ends rejected with what it waits for, recorded as a
 * pending release (audit.h), which status, the page and the
 * approval_needed notification show; the next approval's push queues it
 * again.
 */
#include "deploy.h"
#include "deploy_int.h"
#include "approval.h"
#include "audit.h"
#include "config.h"
#include "jobs.h"
#include "step.h"
#include "tagsig.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int deploy_approvals_needed(const struct config *conf, const char *env)
{
	const struct env_grant *g = config_env(conf, env);

	return g && g->approvals > 1 ? (int)g->approvals : 1;
}

char *deploy_approval_release(struct deploy *d)
{
	struct job *job = d->job;
	char *release = NULL, *object = NULL, *commit = NULL;

	if (!job->tag || !strstr(job->tag, APPROVAL_MARK))
		return NULL;
	/* a name that holds the mark is an approval or nothing, never a
	 * release (pre-receive refuses it; the hook queues none) */
	if (!approval_name(job->tag, &release)) {
		deploy_reject(d, "tag '%s' is no release: its name holds '"
		    APPROVAL_MARK "' but is not RELEASE" APPROVAL_MARK "NAME",
		    job->tag);
		return NULL;
	}
	if (approval_release_commit(d->repo, NULL, release, NULL, &object,
	    &commit) < 0 ||
	    store_job_as_release(d->ctx->store, job->id, release, object) < 0) {
		deploy_reject(d, "approval tag '%s': %s", job->tag,
		    error_last());
		free(release);
		free(object);
		free(commit);
		return NULL;
	}
	free(commit);
	/* the job is the release's now; the approval's name is the
	 * caller's */
	char *approval = job->tag;
	job->tag = release;
	free(job->commit);
	job->commit = object;
	free(job->ref);
	job->ref = xasprintf("refs/tags/%s", job->tag);
	if (d->state != JOB_RUNNING) {
		free(approval);
		return NULL;
	}
	return approval;
}

int deploy_quorum(struct deploy *d, const struct tag_info *rel,
    const char *approval)
{
	struct job *job = d->job;
	int need = deploy_approvals_needed(d->ctx->conf, job->env);
	struct approvals a;
	struct sbuf text = SBUF_INIT, who = SBUF_INIT, say = SBUF_INIT;
	struct approval_rec rec;
	char *names;
	int held;

	if (need <= 1)
		return 0;
	if (approvals_count(d->repo, job->tag, rel, d->rc, d->tmp, &a) < 0) {
		deploy_reject(d, "cannot count the approvals of '%s': %s",
		    job->tag, error_last());
		return 1;
	}
	names = approvals_names(&a);
	for (size_t i = 0; i < a.n; i++)
		sbuf_addf(&who, "%s (tag '%s')\n", a.v[i].who, a.v[i].tag);
	rec = (struct approval_rec){ .job_id = job->id, .repo = job->repo,
	    .env = job->env, .tag = job->tag, .have = (int64_t)a.n,
	    .need = need, .names = names, .approvers = who.buf };
	held = (int64_t)a.n < need;
	approval_describe(&say, &rec);
	if (approval)
		sbuf_addf(&text, "queued by the push of approval tag '%s'\n",
		    approval);
	sbuf_addf(&text, "%s\n%s", say.buf, who.buf);
	if (a.ignored)
		sbuf_addf(&text, "not counted:\n%s", a.ignored);
	if (held)
		sbuf_addf(&text, "an approver approves with a signed tag "
		    "'%s" APPROVAL_MARK "NAME' of commit %s (docs/operations.md, "
		    "approvals)\n", job->tag, rel->commit);
	if (store_approvals_set(d->ctx->store, &rec) < 0) {
		deploy_reject(d, "cannot record the approvals of '%s': %s",
		    job->tag, error_last());
		held = 1;
		goto out;
	}
	deploy_record_step(d, "approvals", !held, held ? say.buf : NULL,
	    text.buf, 0);
	if (held)
		deploy_reject(d, "waiting for approvals: %s", say.buf);
	else
		log_line("job #%lld: release %s approved by %s",
		    (long long)job->id, job->tag, names);
out:
	free(names);
	approvals_release(&a);
	sbuf_release(&text);
	sbuf_release(&who);
	sbuf_release(&say);
	return held;
}
