/*
 * What `runner status` shows, gathered in one place: the command prints
 * it, the web page renders it, `runner status --json` and the web's
 * /api/status write it as JSON (one shape).
 */
#ifndef RUNNER_VIEW_H
#define RUNNER_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

struct approval_rec;
struct env_rec;
struct host_rec;
struct job;
struct json;
struct notification;
struct sbuf;
struct store;

#define STATUS_OPEN_NOTIFICATIONS 10

struct status_view {
	struct job **jobs;		/* queued, running, then recent */
	size_t n;
	struct env_rec **envs;
	size_t nenvs;
	int64_t pending, dead;		/* notifications not delivered */
	struct notification **notes;	/* the newest of them */
	size_t nnotes;
	int pid;			/* the daemon's, 0: not running */
	int64_t since;
	char *paused;			/* who paused the queue, or NULL */
	int64_t paused_ms;
	char *disk;			/* SETTING_DISK, or NULL */
	int64_t disk_ms;
	char **warn;			/* about the home and runner.yml */
	size_t nwarn;
	int config_bad;			/* runner.yml has a mistake (the
					 * first warning says which) */
	struct sched_view {		/* runner.yml's schedules */
		char *name, *repo, *branch, *cron;
		int64_t last_ms;	/* when it last ran (or was first
					 * seen); 0: the daemon has not yet */
		int64_t next_ms;	/* when it runs next */
	} *sched;
	size_t nsched;
	struct host_rec *hosts;		/* build hosts that said they live */
	size_t nhosts;
	struct spool_summary spool;	/* pushes waiting, held, refused */
	struct approval_rec *waiting;	/* releases held for approvals */
	size_t nwaiting;
};

/* Gather it (with the `limit` newest finished jobs); -1 with the error
 * set when the store cannot be read. */
int status_view_load(struct store *st, const char *home, int limit,
    struct status_view *v);
/* As `runner status --json` prints it. */
void status_view_json(const struct status_view *v, struct store *st,
    struct sbuf *out);
/* A job as `runner show --json` prints it (and /api/job/ID): its record,
 * the environments it serves now, its notifications. */
void show_json(struct store *st, const struct job *j,
    struct notification *const *notes, size_t nnotes, struct sbuf *out);
/* One environment as status --json gives it. */
void status_env_json(struct json *w, struct store *st,
    const struct env_rec *e);
void status_view_free(struct status_view *v);
/* The approvals `a` of a release as JSON ("approvals": {"have": N,
 * "need": N, "approvers": [...], ...}), under `key`. */
void view_approvals_json(struct json *w, const char *key,
    const struct approval_rec *a);

/*
 * Does release `j` still hold what was extracted (manifest.h)? Returns
 * "intact", "tampered" (*changed entries, the first in *first, which the
 * caller frees), "missing" (its folder is gone) or "unknown" (no manifest:
 * extracted by an older version, or not a release).
 */
const char *view_release_state(struct store *st, const struct job *j,
    int *changed, char **first);

#endif
