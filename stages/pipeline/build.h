/*
 * Builds: a pushed commit's pipeline run as steps, its artifacts archived,
 * its automatic deployments queued when it passes.
 */
#ifndef RUNNER_BUILD_H
#define RUNNER_BUILD_H

struct job;
struct job_ctx;

/*
 * Run build `job` and record its outcome. Returns 0 when the outcome was
 * recorded (whatever it was), or a negative code when the store failed.
 */
int build_run(struct job_ctx *ctx, struct job *job);

/* Delete the workspaces finished builds left for later (see build.c); a
 * worker calls it when it has no job, and at start. */
void build_purge_workspaces(const char *home);
/* How many are waiting for that in this process. */
int build_workspaces_discarded(void);

#endif
