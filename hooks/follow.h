/*
 * What a push is told about its jobs: a line for each job it queued (with
 * a link to the job's page when runner.yml has http: base_url), and under
 * -o ci.wait each stage as it starts and ends, each job's result, the
 * deployments a passed build queues and, for a job that did not succeed,
 * the last lines of its failing stage's log and a line that stands out.
 * The hook of the runner's own user says them itself; for any other user
 * the daemon says them through ask.sock (ask.h), the same lines.
 */
#ifndef RUNNER_FOLLOW_H
#define RUNNER_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Where the lines go. */
struct say {
	/* one line, without its newline: 0, or -1 when nobody reads it */
	int (*line)(struct say *s, const char *text);
	/* 1 when the reader has gone (the push interrupted) */
	int (*gone)(struct say *s);
	void *arg;
};

/* How many lines of the failing stage's log a failed job shows. */
#define FOLLOW_EXCERPT_LINES 20
/* How often the jobs are looked at. */
#define FOLLOW_POLL_MS 100

/*
 * "runner: queued job #ID for BRANCH 1234567" (a release tag: "queued
 * release #ID for TAG 1234567 (ENV)"; a push queued before: "already
 * queued"), and the job's page under `base_url` (NULL: none). `ref` is
 * the full ref name.
 */
void follow_say_queued(struct say *s, int64_t id, int duplicate,
    const char *ref, const char *commit, const char *env,
    const char *base_url);

/*
 * Follow jobs `ids` (and the deployments that the builds among them
 * queue) until they end, `timeout_ms` passes or the reader goes. `own`:
 * the reader may run 'runner status'. Returns 0 once all ended, 1 on the
 * timeout, -1 when the reader went away.
 */
int follow_jobs(struct store *st, const int64_t *ids, size_t n,
    int64_t timeout_ms, const char *base_url, int own, struct say *s);

#endif
