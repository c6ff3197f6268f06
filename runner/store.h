/*
 * The store: jobs, their stages and artifacts in SQLite (WAL) under the
 * runner's home. Every state change is one transaction, and the job state
 * machine lives here and nowhere else:
 *
 *   queued -> running -> passed | failed | error | canceled | interrupted
 *   queued -> superseded | canceled
 *   running -> queued           (recovery after the daemon died)
 */
#ifndef RUNNER_STORE_H
#define RUNNER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_FILE "runner.db"

struct store;

struct stage_rec {
	int idx;
	char *name;
	char *state;	/* pending running passed failed timed_out canceled
			   interrupted skipped */
	int exit_code;	/* -1 when none */
	char *error;
	char *log_path;
	int64_t started_ms, finished_ms;
};

struct artifact_rec {
	char *path;
	int64_t size;
	char *sha256;
	int64_t files;
};

struct job {
	int64_t id;
	char *repo, *ref, *old, *commit, *state, *error, *subject;
	int attempt;
	int cancel;
	pid_t worker_pid;
	int64_t retry_of;	/* 0: none */
	int64_t created_ms, started_ms, finished_ms;
	struct stage_rec *stages;
	size_t nstages;
	struct artifact_rec *artifacts;
	size_t nartifacts;
};

struct push {
	const char *repo, *ref, *old, *new;
};

struct enqueued {
	int64_t id;
	int duplicate;	/* the same push was already queued */
};

enum store_mode { STORE_OPEN, STORE_CREATE };

/* Open HOME/runner.db (creating it and migrating with STORE_CREATE). */
int store_open(const char *home, enum store_mode mode, struct store **out);
void store_close(struct store *s);

/* Queue one job per push, all in one durable transaction. */
int store_enqueue(struct store *s, const struct push *p, size_t n,
    struct enqueued *out);
/*
 * Take the oldest queued job for `worker` (ERR_NOTFOUND if none). With
 * `supersede`, queued jobs with a newer job on the same ref are first
 * recorded 'superseded'. The caller frees *out with job_free().
 */
int store_claim(struct store *s, pid_t worker, int supersede,
    struct job **out);
/* One job with its stages and artifacts (ERR_NOTFOUND if none). */
int store_job_get(struct store *s, int64_t id, struct job **out);
/* Every queued and running job, then the `limit` newest finished ones. */
int store_jobs_list(struct store *s, int limit, struct job ***out,
    size_t *nout);
void job_free(struct job *j);
void jobs_free(struct job **v, size_t n);

int store_job_set_subject(struct store *s, int64_t id, const char *subject);
/* Replace the job's stage rows with pending ones. */
int store_stages_init(struct store *s, int64_t id, char *const *names,
    char *const *log_paths, size_t n);
int store_stage_start(struct store *s, int64_t id, int idx, pid_t pgid);
int store_stage_end(struct store *s, int64_t id, int idx, const char *state,
    int exit_code, const char *error);
/* End a running job (and mark its pending stages skipped). */
int store_job_end(struct store *s, int64_t id, const char *state,
    const char *error);
int store_artifact_add(struct store *s, int64_t id, const char *path,
    int64_t size, const char *sha256, int64_t files);

/*
 * Cancel: a queued job ends 'canceled' at once (*running = 0); a running
 * one is flagged for its worker (*running = 1). ERR_INVALID if finished.
 */
int store_cancel(struct store *s, int64_t id, int *running);
int store_cancel_requested(struct store *s, int64_t id);
/* Workers whose running job has a cancel request. */
int store_cancel_workers(struct store *s, pid_t **out, size_t *n);
/* Queue a new job for the same repository, ref and commit. */
int store_retry(struct store *s, int64_t id, int64_t *new_id);

/*
 * Jobs left 'running' by a dead daemon (worker == 0) or a dead worker go
 * back to 'queued' (attempt kept; canceled ones end 'canceled'). The
 * process groups of their stages that were running are returned so the
 * caller can make sure nothing of them is left.
 */
int store_recover(struct store *s, pid_t worker, pid_t **pgids, size_t *n);

/* Counts per state, for status. */
int store_count(struct store *s, const char *state, int64_t *out);

#endif
