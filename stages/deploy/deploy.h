/*
 * Running a deployment job: verify where it comes from (a release tag's
 * signature, a passed build, a healthy staging), pass the gates, extract
 * the very artifact into a new release directory, back up, deploy, check,
 * verify, and roll back to the previous release when any of that fails.
 */
#ifndef RUNNER_DEPLOY_H
#define RUNNER_DEPLOY_H

#include <stdint.h>

struct job;
struct job_ctx;
struct repo_conf;
struct store;

/*
 * May a verified release tag `tag` (tag object `tag_object` on `commit`)
 * deploy to `env` of `repo`? NULL if so, with *build the passed build
 * whose artifact it deploys; else why not (caller frees). `except` is the
 * deployment asking (0 at push time). The deployment and the pre-receive
 * hook both ask this, so they refuse the same tags for the same reasons.
 */
char *release_refusal(struct store *st, const struct repo_conf *rc,
    const char *repo, const char *env, const char *tag,
    const char *tag_object, const char *commit, int64_t except,
    int64_t *build);

/* Run deploy job `job` and record its outcome (0), or fail on the store. */
int deploy_run(struct job_ctx *ctx, struct job *job);

#endif
