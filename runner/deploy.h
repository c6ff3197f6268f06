/*
 * Running a deployment job: verify where it comes from (a release tag's
 * signature, a passed build, a healthy staging), pass the gates, extract
 * the very artifact into a new release directory, back up, deploy, check,
 * verify, and roll back to the previous release when any of that fails.
 */
#ifndef RUNNER_DEPLOY_H
#define RUNNER_DEPLOY_H

struct job;
struct job_ctx;

/* Run deploy job `job` and record its outcome (0), or fail on the store. */
int deploy_run(struct job_ctx *ctx, struct job *job);

#endif
