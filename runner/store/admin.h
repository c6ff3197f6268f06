/*
 * The runner's own records in the store, beside its jobs: settings (the
 * queue paused, the home's disk use), the figures of /metrics, and what
 * a collection (`runner gc`, retention.h) reads and removes.
 */
#ifndef RUNNER_ADMIN_H
#define RUNNER_ADMIN_H

#include <stdint.h>
#include <stddef.h>

struct store;

/* Setting `key`: 1 and *value (caller frees) and *ms (when it was set)
 * when it is set, 0 when not, or an error. value/ms may be NULL. */
int store_setting_get(struct store *s, const char *key, char **value,
    int64_t *ms);
/* Set `key` (NULL value: remove it). */
int store_setting_set(struct store *s, const char *key, const char *value);

/* The queue held: no job starts while the setting "paused" (who paused
 * it) is there; pushes still queue and running jobs finish. */
#define SETTING_PAUSED "paused"
/* The home's disk use by kind, as the last collection measured it:
 * "logs=N artifacts=N ..." (bytes). */
#define SETTING_DISK "disk"

/*
 * The records a collection (retention.h) reads and removes.
 *
 * store_gc_jobs calls `each` for every job, grouped as retention counts
 * them (builds by repository and branch, deployments by repository and
 * environment), newest first in each group; a negative return of `each`
 * stops and is returned. The row's strings last until `each` returns.
 */
struct gc_row {
	int64_t id;
	int deploy;		/* a deployment, else a build */
	int ended;		/* neither queued nor running */
	int64_t time_ms;	/* when it ended (or was queued) */
	int64_t source, previous, rollback_to;	/* jobs, or 0 */
	int release;		/* it has a release folder */
	int tag;		/* a deployment of a release tag */
	const char *group;	/* its group, never NULL */
	const char *env;	/* a deployment's environment */
};
int store_gc_jobs(struct store *s,
    int (*each)(void *arg, const struct gc_row *r), void *arg);
/* The ids (*ids, caller frees) of jobs whose records must stay: those a
 * notification (or an event not yet routed) waits on, those whose
 * services run. */
enum gc_kept { GC_KEPT_PENDING, GC_KEPT_SERVICES };
int store_gc_kept(struct store *s, enum gc_kept which, int64_t **ids,
    size_t *n);
/* Each environment's current release and latest deployment: *n pairs
 * in *pairs (caller frees), 0 where there is none. */
int store_gc_envs(struct store *s, int64_t **pairs, size_t *n);
/*
 * Remove the record of job `id` (a deployment if `deploy`) and what hangs
 * on it, if it may still go (read again: ended, nothing came from it or
 * waits to be delivered; a deployment no environment serves, nor a job
 * under way or newer than `max_id` needs). 1 when it went, 0 when it
 * stays, or an error. Inside store_gc_begin .. store_gc_commit.
 */
int store_gc_remove(struct store *s, int64_t id, int deploy, int64_t max_id);
/* The transaction a batch of removals goes in. */
int store_gc_begin(struct store *s);
int store_gc_commit(struct store *s);
void store_gc_rollback(struct store *s);

/*
 * Figures for /metrics, read in one query each:
 *   STAT_JOBS         kind, state; count
 *   STAT_DEPLOYS      repo, env, state; count (ended deployments)
 *   STAT_JOB_TIMES    repo, kind; cumulative histogram of run times
 *   STAT_STAGE_TIMES  repo, stage; the same of builds' stages
 * A histogram's numbers are the counts at or under each bound of
 * stats_bounds() (ms), then the count of all, then the sum (ms).
 */
enum stat_kind { STAT_JOBS, STAT_DEPLOYS, STAT_JOB_TIMES, STAT_STAGE_TIMES };
#define STAT_NUMS 11
struct stat_row {
	char *text[3];
	int64_t num[STAT_NUMS];
};
int store_stats(struct store *s, enum stat_kind k, struct stat_row **out,
    size_t *n);
void stats_free(struct stat_row *v, size_t n);
size_t stats_bounds(const int64_t **ms);

#endif
