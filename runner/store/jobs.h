/*
 * Jobs in the store: builds and deployments, their stages (a deployment's
 * steps are stages too), artifacts and check results; the queue, claims,
 * cancels, retries and recovery. Every change of a job's state is a
 * transition of state.h's machine, made in one transaction.
 */
#ifndef RUNNER_JOBS_H
#define RUNNER_JOBS_H

#include "state.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;
struct who;

/* A build runs a pushed commit's pipeline; a deployment puts a passed
 * build's artifact into an environment. */
enum job_kind { KIND_BUILD, KIND_DEPLOY };
const char *job_kind_name(enum job_kind k);	/* "build", "deploy" */

struct stage_rec {
	int idx;
	char *name;
	enum step_state state;
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
	int provenance;	/* the store holds its signed provenance */
};

struct check_rec {
	char *name;
	int status;		/* HTTP status, or exit code of a command */
	int64_t latency_ms;
	int ok;
	char *error;
	int64_t at_ms;
	char *body;		/* http: the start of the body, or NULL */
};

struct job {
	int64_t id;
	char *repo, *ref, *old, *commit, *error, *subject;
	enum job_state state;
	enum job_kind kind;
	char *env;		/* deploys: the environment */
	char *tag;		/* deploys from a release tag: its name */
	char *tag_object;	/* and the tag object's id */
	char *forced_by;	/* a deploy by hand with --force: the user */
	char *requested_by;	/* who asked for it by hand; NULL: a push */
	/* who caused it (who.h; audit.h): the name, how it was known, the
	 * ssh key, the unix user the kernel reported; NULL in jobs older
	 * than the audit trail */
	char *pushed_by, *pushed_via, *pushed_key, *pushed_as;
	char *signer;		/* a release: the key that signed its tag */
	char *canceled_by;	/* who asked for its cancel, for people
				 * (who_describe); NULL: no one */
	/* a deployment: what the check of its artifact's provenance found
	 * ("verified: ..." or "none: ..."); NULL before it was checked */
	char *provenance;
	char *phase;		/* running: what it does besides its stages */
	char *variables;	/* given by the push or run: "NAME=VALUE\n"... */
	int64_t phase_ms;	/* since when */
	char *release_dir;	/* where the release was extracted */
	char *notes;		/* release notes */
	char *figures;		/* JSON of what verification measured */
	int64_t source_job;	/* the build whose artifact is deployed */
	char *source_ref;	/* and that build's ref */
	int64_t rollback_to;	/* a rollback by hand: the release to restore */
	int64_t previous;	/* the release serving before this deploy */
	struct check_rec *checks;
	size_t nchecks;
	int attempt;
	int cancel;
	pid_t worker_pid;
	char *host;		/* running: the host that holds it */
	int64_t lease_ms;	/* until when, without a heartbeat */
	char *needs;		/* labels its host must have, comma-separated */
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
	const char *variables;	/* "NAME=VALUE\n"..., or NULL */
	const char *requested_by;	/* a run by hand: who; queued anew
					 * each time */
	const struct who *who;	/* who caused it (who.h), or NULL */
};

struct enqueued {
	int64_t id;
	int duplicate;	/* the same push was already queued */
};

/*
 * The state of stage `idx` of job j as the store lists it. A stage it
 * does not list is STEP_RUNNING while the job runs: a PostgreSQL server
 * that crashed can lose the stage's record (a relaxed write), not the
 * stage, whose log goes on; else -1.
 */
int job_stage_state(const struct job *j, int idx);

/* The branch a job built, or whose build a deployment deploys (NULL: a
 * tag, or a build gone). */
const char *job_branch(const struct job *j);

/* Queue one job per push, all in one durable transaction. */
int store_enqueue(struct store *s, const struct push *p, size_t n,
    struct enqueued *out);
/* The job that push `p` (its repo, ref, old and new) queued, or 0; an
 * error (negative) when the store cannot say. */
int64_t store_push_job(struct store *s, const struct push *p);
/*
 * Take the oldest queued job for `worker` of `host` (ERR_NOTFOUND if
 * none, or the host is drained) whose needed labels are all in `labels`
 * (comma-separated), leased for `lease_ms`: unless
 * store_lease_renew() renews it, the job is taken back after that
 * (hosts.h). With `supersede`, queued jobs with a newer job on the same
 * ref are first recorded 'superseded'. A host that runs no builds
 * (CLAIM_DEPLOYS) takes deployments only. The caller frees *out with
 * job_free().
 */
enum claim_kinds { CLAIM_ANY = 1, CLAIM_DEPLOYS = 0 };
/*
 * How many builds of one repository may run at once: max_running(repo,
 * arg) says (runner.yml's max_running), or 0 for the default, all the
 * workers of the live hosts but one when the store knows another
 * repository (-1: the default, another repository being known anyway). A repository at its share claims no build; deployments are
 * never held back. `share` may be NULL (the default for every one).
 */
struct claim_share {
	int64_t (*max_running)(const char *repo, void *arg);
	void *arg;
};
int store_claim(struct store *s, pid_t worker, const char *host,
    const char *labels, int64_t lease_ms, int supersede,
    enum claim_kinds kinds, const struct claim_share *share,
    struct job **out);
/* One job with its stages and artifacts (ERR_NOTFOUND if none). */
int store_job_get(struct store *s, int64_t id, struct job **out);
/* Every queued and running job, then the `limit` newest finished ones. */
/* The `limit` newest jobs of `repo` older than job `before` (0: the
 * newest), of its branch or tag `ref` only unless NULL; with details. */
int store_jobs_of(struct store *s, const char *repo, const char *ref,
    int64_t before, int limit, struct job ***out, size_t *n);
/* The deployments of `env` in `repo` refused before anything was
 * deployed (a gate, a tag not signed...), newest first, at most
 * `limit`; their error says why. */
int store_rejected(struct store *s, const char *repo, const char *env,
    int limit, struct job ***out, size_t *n);
/*
 * What the web page's history looks for: each field NULL (0) for any.
 * The jobs of `repo` (its path), of its `ref`, in `state` (a name of
 * state.h), pushed by `pushed_by` (the name the audit records, jobs.h),
 * older than job `before`; only those that ended when `done`.
 */
struct job_query {
	const char *repo, *ref, *state, *pushed_by;
	int64_t before;
	int done;
	int limit;
};
/* The `limit` newest jobs that `q` finds, newest first, with details:
 * each through an index (the most selective filter given leads), so a
 * page costs the same with any number of jobs in the store. */
int store_jobs_find(struct store *s, const struct job_query *q,
    struct job ***out, size_t *n);
/* Every job of `commit` in `repo` (builds, deployments), oldest first,
 * with details. */
int store_jobs_of_commit(struct store *s, const char *repo,
    const char *commit, struct job ***out, size_t *n);
/* The refs `repo` built, newest first, with the id of each one's last
 * build. */
int store_branches(struct store *s, const char *repo, char ***refs,
    int64_t **last, size_t *n);
int store_jobs_list(struct store *s, int limit, struct job ***out,
    size_t *nout);
void job_free(struct job *j);
void jobs_free(struct job **v, size_t n);

int store_job_set_subject(struct store *s, int64_t id, const char *subject);
/* A running job is now in `phase` ("checkout", "archiving", "extract",
 * "verify"...): what status shows when no stage of it runs, or when the
 * phase began after the running stage did. Relaxed. */
int store_job_phase(struct store *s, int64_t id, const char *phase);
/* The builds of `ref` of `repo` that build `before` superseded in the
 * queue, without a subject (the newest 50); caller frees *ids. */
int store_unnamed_superseded(struct store *s, const char *repo,
    const char *ref, int64_t before, int64_t **ids, size_t *n);
/* How many jobs wait in the queue; an error (negative) when the store
 * cannot say. */
int64_t store_queued(struct store *s);
/* Replace the job's stage rows with pending ones; with `subject` (or
 * NULL), record the commit's subject in the same transaction. */
int store_stages_init(struct store *s, int64_t id, const char *subject,
    char *const *names, char *const *log_paths, size_t n);
/* A stage starts (at `at_ms`, 0: now) in process group `pgid`. */
int store_stage_start(struct store *s, int64_t id, int idx, pid_t pgid,
    int64_t at_ms);
int store_stage_end(struct store *s, int64_t id, int idx,
    enum step_state state, int exit_code, const char *error);
/* End a running job (and mark its pending stages skipped). */
int store_job_end(struct store *s, int64_t id, enum job_state state,
    const char *error);
/* `provenance`: its signed DSSE envelope (provenance.h), or NULL. */
int store_artifact_add(struct store *s, int64_t id, const char *path,
    int64_t size, const char *sha256, int64_t files, const char *provenance);

/*
 * Cancel, asked for by `by` (recorded as the job's canceled_by; NULL: no
 * one): a queued job ends 'canceled' at once (*running = 0); a running
 * one is flagged for its worker (*running = 1). ERR_INVALID if finished.
 */
int store_cancel(struct store *s, int64_t id, const struct who *by,
    int *running);
/* 1 when a cancel of job `id` was asked for, 0 when not, an error
 * (negative) when the store cannot say. */
int store_cancel_requested(struct store *s, int64_t id);
/* Workers whose running job has a cancel request. */
int store_cancel_workers(struct store *s, pid_t **out, size_t *n);
/*
 * Queue job `id` again, asked for by `by` (its name is the job's
 * requested_by; NULL: no one): a build of the same repository,
 * ref and commit, or a deployment to the same environment from the same
 * source (build, tag or release). Its retry_of is the first job of the
 * chain it repeats. ERR_INVALID for a job that has not ended.
 */
int store_retry(struct store *s, int64_t id, const struct who *by,
    int64_t *new_id);

/*
 * Jobs of `host` left 'running' by a dead daemon (worker == 0) or a dead
 * worker go back to 'queued' (attempt kept; canceled ones end 'canceled'). The
 * process groups of their stages that were running are returned so the
 * caller can make sure nothing of them is left.
 */
int store_recover(struct store *s, pid_t worker, const char *host,
    pid_t **pgids, size_t *n);

/* How many stage rows a job has; the next one gets this index. */
int store_stage_count(struct store *s, int64_t id, int *n);
/* Add stage row `idx` to a running job (deploy steps come one by one). */
int store_stage_add(struct store *s, int64_t id, int idx, const char *name,
    const char *log_path);
#endif
