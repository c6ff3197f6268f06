/*
 * Builds: a pushed commit's pipeline run as steps, its artifacts archived,
 * its automatic deployments queued when it passes.
 */
#ifndef RUNNER_BUILD_H
#define RUNNER_BUILD_H

#include <stddef.h>

struct job;
struct job_ctx;

/*
 * Run build `job` and record its outcome. Returns 0 when the outcome was
 * recorded (whatever it was), or a negative code when the store failed.
 */
int build_run(struct job_ctx *ctx, struct job *job);

/*
 * Sign the provenance of the artifact at `path` (sha256 `sha`) that
 * build `job` made, whose pipeline file had sha256 `pl_sha` and whose
 * `n` stages `names` wrote `logs` (those of stages not run are missing):
 * its DSSE envelope (provenance.h) goes into *out (the caller frees it)
 * and beside the artifact. RUNNER_PROVENANCE=off in the worker's
 * environment writes none (*out NULL): for the benchmark's comparison
 * only.
 */
int build_provenance(struct job_ctx *ctx, const struct job *job,
    const char *pl_sha, char *const *names, char *const *logs, size_t n,
    const char *path, const char *sha, char **out);

/* Delete the workspaces finished builds left for later (see build.c); a
 * worker calls it when it has no job, and at start. */
void build_purge_workspaces(const char *home);
/* How many are waiting for that in this process. */
int build_workspaces_discarded(void);

#endif
