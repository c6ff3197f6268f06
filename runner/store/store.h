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

struct check_rec {
	char *name;
	int status;		/* HTTP status, or exit code of a command */
	int64_t latency_ms;
	int ok;
	char *error;
	int64_t at_ms;
};

struct job {
	int64_t id;
	char *repo, *ref, *old, *commit, *state, *error, *subject;
	/* Deployments are jobs of kind "deploy" (builds are "build"). */
	char *kind;
	char *env;		/* deploys: the environment */
	char *tag;		/* deploys from a release tag: its name */
	char *tag_object;	/* and the tag object's id */
	char *forced_by;	/* a deploy by hand with --force: the user */
	char *release_dir;	/* where the release was extracted */
	char *notes;		/* release notes */
	char *figures;		/* JSON of what verification measured */
	int64_t source_job;	/* the build whose artifact is deployed */
	int64_t rollback_to;	/* a rollback by hand: the release to restore */
	int64_t previous;	/* the release serving before this deploy */
	struct check_rec *checks;
	size_t nchecks;
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
	const char *env;	/* set for a release tag: a deploy to env */
	const char *tag;
};

/* A deployment to queue (after a passed build, or by hand). */
struct deploy_req {
	const char *repo, *ref, *commit, *env;
	int64_t source_job;
	const char *forced_by;
	int64_t rollback_to;
};

/* What an environment runs now. */
struct env_rec {
	char *repo, *name, *state;
	int64_t release;	/* the deploy job serving, 0 if none */
	int64_t last;		/* the latest deploy job */
	int64_t updated_ms;
	struct job *current;	/* the serving release, if any */
	struct job *latest;	/* the latest deploy, if any */
};

struct enqueued {
	int64_t id;
	int duplicate;	/* the same push was already queued */
};

/*
 * STORE_OPEN an existing store; STORE_CREATE it if needed and migrate;
 * STORE_ENQUEUE is STORE_OPEN for a short-lived writer inside `git push`:
 * its close neither checkpoints the WAL into the database nor removes the
 * WAL file (the daemon or the next long-lived connection does that), so
 * the hook's one durable commit is its only sync.
 */
enum store_mode { STORE_OPEN, STORE_CREATE, STORE_ENQUEUE };
/* Copy the WAL back into the store and empty it once it holds `pages`
 * pages after a commit (for a connection that is alone). */
void store_wal_limit(struct store *s, int pages);

/* Open HOME/runner.db as `mode` says. */
int store_open(const char *home, enum store_mode mode, struct store **out);
void store_close(struct store *s);
/* How long a write waits for another writer (default 10 s). */
void store_busy_timeout(struct store *s, int ms);
/*
 * Let writes that can be done again commit with synchronous=NORMAL: progress
 * (stage started or ended, subjects, check results), the claim of a build
 * (a lost one is run again from the queue) and the routing of events to
 * notifications (a lost routing is routed again: the event itself was
 * stored with the job's end). On a power cut the newest of them may be
 * lost, never a job or its outcome. Enqueues, the claim of a deployment,
 * cancels, the end of a job or deployment, delivery results and recovery
 * stay synchronous=FULL.
 */
int store_relax(struct store *s);

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
/* How many jobs wait in the queue; how many events and notifications wait
 * for the notifier (0 also when the store cannot say). */
int64_t store_queued(struct store *s);
int64_t store_unsent(struct store *s);
/* The manifest of release `id` (manifest.h): store it, or read it (caller
 * frees; ERR_NOTFOUND for a release extracted before manifests). */
int store_manifest_set(struct store *s, int64_t id, const char *manifest);
int store_manifest_get(struct store *s, int64_t id, char **out);
/* Replace the job's stage rows with pending ones. */
int store_stages_init(struct store *s, int64_t id, char *const *names,
    char *const *log_paths, size_t n);
/* A stage starts (at `at_ms`, 0: now) in process group `pgid`. */
int store_stage_start(struct store *s, int64_t id, int idx, pid_t pgid,
    int64_t at_ms);
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

/* Queue deployments in one transaction; ids get the new job ids. */
int store_deploy_enqueue(struct store *s, const struct deploy_req *r,
    size_t n, int64_t *ids);
/* A build job that ends and queues its deployments in one transaction. */
int store_job_end_deploy(struct store *s, int64_t id, const char *state,
    const char *error, const struct deploy_req *r, size_t n);
/* Record what a deploy job resolved (commit, source, tag object...). */
int store_deploy_resolve(struct store *s, const struct job *j);
/* How many stage rows a job has; the next one gets this index. */
int store_stage_count(struct store *s, int64_t id, int *n);
/* Add stage row `idx` to a running job (deploy steps come one by one). */
int store_stage_add(struct store *s, int64_t id, int idx, const char *name,
    const char *log_path);
int store_check_add(struct store *s, int64_t id, const struct check_rec *c);
/* The newest passed build of `commit` in `repo` with an artifact, or 0. */
int64_t store_passed_build(struct store *s, const char *repo,
    const char *commit);
/* A healthy deployment of `commit` to `env`, or 0. */
int64_t store_healthy_deploy(struct store *s, const char *repo,
    const char *env, const char *commit);
/* Another deployment from the same tag name or tag object, or 0. */
int64_t store_tag_deployed(struct store *s, const char *repo,
    const char *tag, const char *tag_object, int64_t except);
/* End a deploy job and set its environment's state, in one transaction.
 * `serving` is the release now serving (0 keeps what is recorded). */
int store_deploy_end(struct store *s, const struct job *j,
    const char *state, const char *error, const char *env_state,
    int64_t serving);
/* Mark an environment as being deployed by job `id`. */
int store_env_deploying(struct store *s, const char *repo, const char *env,
    int64_t id);
/* One environment (ERR_NOTFOUND if never deployed), or all of them. */
int store_env_get(struct store *s, const char *repo, const char *env,
    struct env_rec **out);
int store_envs_list(struct store *s, struct env_rec ***out, size_t *n);
void env_rec_free(struct env_rec *e);
void envs_free(struct env_rec **v, size_t n);
/* The deploy jobs of `env` that extracted a release, newest first. */
int store_releases(struct store *s, const char *env, struct job ***out,
    size_t *n);

/*
 * The outbox. The end of a job or deployment records an event in the same
 * transaction (job_passed, job_fixed, job_failed, job_error, deployed,
 * rejected, rolled_back, deploy_failed, production_failed); the daemon
 * routes each event to notifications, one per target, and delivers them.
 */
struct event {
	int64_t id, job_id;
	char *kind;	/* the most specific kind */
	char *tags;	/* every kind it answers to, space-separated */
	int64_t created_ms;
};

struct notification {
	int64_t id, event_id, job_id;
	char *target;	/* the name of the notify entry */
	char *service;	/* slack pagerduty email webhook */
	char *event;	/* the event's kind, or "test" */
	char *action;	/* PagerDuty: trigger or resolve */
	char *dedup;	/* PagerDuty: the incident key */
	char *body;	/* what is sent (without secrets) */
	char *state;	/* pending delivered dead */
	char *error;	/* the last failure, secrets masked */
	int attempts;
	int status;	/* the last HTTP or SMTP reply code, 0: none */
	int64_t next_ms;	/* pending: when the next attempt is due */
	int64_t created_ms, done_ms;
};

/* The oldest events not routed yet (at most `limit`). */
int store_events_unrouted(struct store *s, int limit, struct event **out,
    size_t *n);
void events_free(struct event *v, size_t n);
/* Queue an event's notifications and mark it routed (relaxed: a lost
 * routing is done again, and the first delivery result syncs it). */
int store_event_route(struct store *s, int64_t event_id,
    const struct notification *v, size_t n);
/* Mark every event routed, to no one (no targets are configured). */
int store_events_drop(struct store *s);
/* The pending notification due first (ERR_NOTFOUND if none). */
int store_notif_next(struct store *s, struct notification **out);
/* Record an attempt: state, attempts, status, error, next_ms, done_ms. */
int store_notif_result(struct store *s, const struct notification *x);
int store_notifs_of_job(struct store *s, int64_t job_id,
    struct notification ***out, size_t *n);
/* The newest pending and dead notifications. */
int store_notifs_open(struct store *s, int limit,
    struct notification ***out, size_t *n);
int store_notif_count(struct store *s, const char *state, int64_t *out);
/* The action of the last notification of `target` with `dedup`, or NULL. */
char *store_notif_last_action(struct store *s, const char *target,
    const char *dedup);
void notif_free(struct notification *x);
void notifs_free(struct notification **v, size_t n);

#endif
