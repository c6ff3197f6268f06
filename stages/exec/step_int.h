/*
 * Inside stages/exec, shared by step.c and confine.c: the sandbox of one
 * step as it is being made.
 */
#ifndef RUNNER_STEP_INT_H
#define RUNNER_STEP_INT_H

#include "run.h"

#include <stddef.h>

struct job;
struct job_ctx;
struct job_step;

/*
 * The sandbox of one step: the system read-only; the runner's home, its
 * user's home, the private files runner.yml names and the other
 * repositories hidden; the job's own repository read-only (the workspace
 * borrows its objects); the workspace and the step's own paths writable.
 */
struct confine {
	struct run_sandbox sb;
	const char **hide, **ro, **rw;
	char *parent;
	const char **private;
	char **closed;		/* the folders closed_folder() found */
	size_t nclosed;
};

/* The runner user's home directory, looked up once. */
const char *confine_user_home(void);
void confine_init(struct confine *cf, struct job_ctx *ctx,
    const struct job *job, const struct job_step *st);
void confine_release(struct confine *cf);

#endif
