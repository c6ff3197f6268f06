/*
 * Retention: what `runner gc` (and the daemon, every retention interval)
 * removes of what runner.yml's retention lets go, records and files.
 */
#ifndef RUNNER_RETENTION_H
#define RUNNER_RETENTION_H

#include <stdint.h>
#include <stdio.h>

struct store;
struct retention;

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
	 * collect (runner/model/sources.h): set before retention_run, kept */
};
const char *gc_kind_name(enum gc_kind k);

/*
 * Remove from HOME what `r` lets go (the rules are in retention.c and
 * docs/operations.md#retention); with `dry_run`, only measure it. `out`'s
 * GC_SOURCES counts are the caller's, kept. Each
 * path removed (or that would be) is written to `verbose`, if not NULL.
 * Measures the home's disk use afterwards and keeps it (SETTING_DISK).
 */
int retention_run(struct store *s, const char *home,
    const struct retention *r, int dry_run, FILE *verbose,
    struct gc_report *out);

#endif
