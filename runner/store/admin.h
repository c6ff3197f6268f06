/*
 * The runner's own state in the store, beside its jobs: settings (the
 * queue paused, the home's disk use), and collecting what retention lets
 * go (`runner gc`).
 */
#ifndef RUNNER_ADMIN_H
#define RUNNER_ADMIN_H

#include <stdint.h>
#include <stdio.h>

struct store;
struct retention;

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

/* What one collection removed (or would remove), by kind. */
enum gc_kind { GC_BUILDS, GC_DEPLOYS, GC_LOGS, GC_ARTIFACTS, GC_WORKSPACES,
	GC_RELEASES, GC_BACKUPS, GC_SOURCES, GC_STORE, GC_KINDS };
struct gc_report {
	int64_t count[GC_KINDS];	/* records (GC_BUILDS, GC_DEPLOYS),
					 * folders or files */
	int64_t bytes[GC_KINDS];	/* disk space they take */
	int64_t usage[GC_KINDS];	/* GC_BUILDS: the whole home; then each
					 * kind's folder; GC_STORE the store */
	/* GC_SOURCES (a fetching host's cache/sources) is the caller's to
	 * collect (runner/model/sources.h): set before store_gc, kept */
};
const char *gc_kind_name(enum gc_kind k);

/*
 * Remove from HOME what `r` lets go (the rules are in admin.c and
 * docs/operations.md#retention); with `dry_run`, only measure it. `out`'s
 * GC_SOURCES counts are the caller's, kept. Each
 * path removed (or that would be) is written to `verbose`, if not NULL.
 * Measures the home's disk use afterwards and keeps it (SETTING_DISK).
 */
int store_gc(struct store *s, const char *home, const struct retention *r,
    int dry_run, FILE *verbose, struct gc_report *out);

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
