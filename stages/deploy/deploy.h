/*
 * Running a deployment job: verify where it comes from (a release tag's
 * signature, a passed build, a healthy staging), pass the gates, extract
 * the very artifact into a new release directory, back up, deploy, check,
 * verify, and roll back to the previous release when any of that fails.
 */
#ifndef RUNNER_DEPLOY_H
#define RUNNER_DEPLOY_H

#include <stdint.h>

struct config;
struct job;
struct job_ctx;
struct repo_conf;
struct store;

/* A verified release tag, as a release asks about it. */
struct release_tag {
	const char *name;	/* v1.2.3 */
	const char *object;	/* the tag object, 40 hex */
	const char *commit;	/* the commit it points at */
	int64_t tagged_at;	/* its signed tagger date; 0: none */
	const char *gitdir;	/* where its repository's objects are read */
};

/*
 * May verified release tag `t` deploy to `env` of `repo`? Tags only go
 * forward (see tag_goes_back in deploy.c). NULL if so, with *build the passed build
 * whose artifact it deploys and, when `choice` is not NULL, *choice why
 * that one (the caller frees it); else why not (caller frees). The build
 * is the one of the newest healthy staging deployment of `commit` (or,
 * without require_staging, the newest passed build), among builds that
 * had no push variables unless runner.yml's release_variables allows
 * them. `except` is the deployment asking (0 at push time). The
 * deployment and the pre-receive hook both ask this, so they refuse the
 * same tags for the same reasons.
 */
char *release_refusal(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *env, const struct release_tag *t,
    int64_t except, int64_t *build, char **choice);

/* How many distinct trusted keys a release tag deploying to `env` needs
 * (runner.yml `approvals:`, quorum.c): at least 1, its own signer. */
int deploy_approvals_needed(const struct config *conf, const char *env);

/* Run deploy job `job` and record its outcome (0), or fail on the store. */
int deploy_run(struct job_ctx *ctx, struct job *job);

#endif
