/*
 * What a deployment's verification window measured, read back from the
 * JSON the deployment wrote (job->figures, stages/deploy/verify.c) for
 * `runner show` and the job page's chart. The figures are the runner's
 * own JSON; a member that is missing or not of the kind asked for reads
 * as absent.
 */
#ifndef RUNNER_FIGURES_H
#define RUNNER_FIGURES_H

#include <stddef.h>

/* The number at `path` ("cpu.peak": members, dot-separated) of the
 * figures `json`: 0, or -1 when there is none (null, absent). */
int figures_num(const char *json, const char *path, double *out);
/* The boolean at `path`: 1 or 0, or -1 when there is none. */
int figures_bool(const char *json, const char *path);
/* The string at `path`, or NULL; the caller frees it. */
char *figures_str(const char *json, const char *path);
/* The array of numbers at `path` into *out (the caller frees it), a
 * null in it as -1; how many, 0 when there is none. */
size_t figures_array(const char *json, const char *path, double **out);

#endif
