/*
 * Deployments in the store: queueing them, what they resolved, how they
 * ended, the environments they leave behind, release manifests.
 */
#ifndef RUNNER_ENVS_H
#define RUNNER_ENVS_H

#include "jobs.h"

/* A deployment to queue (after a passed build, or by hand). */
struct deploy_req {
	const char *repo, *ref, *commit, *env;
	int64_t source_job;
	const char *forced_by;
	int64_t rollback_to;
	const char *requested_by;	/* by hand: the user; NULL: a push */
	const struct who *who;	/* who caused it (who.h); NULL: the cause
				 * of build source_job */
};

/* What an environment runs now. */
struct env_rec {
	char *repo, *name;
	enum env_state state;
	int64_t release;	/* the deploy job serving, 0 if none */
	int64_t last;		/* the latest deploy job */
	int64_t updated_ms;
	struct job *current;	/* the serving release, if any */
	struct job *latest;	/* the latest deploy, if any */
};

/* Queue deployments in one transaction; ids get the new job ids. */
int store_deploy_enqueue(struct store *s, const struct deploy_req *r,
    size_t n, int64_t *ids);
/* May the artifact of job `j` be deployed by hand (runner deploy, the
 * web page): a passed build with an artifact? 0, or ERR_INVALID with the
 * message set. */
int deploy_source_check(const struct job *j);
/*
 * Queue a rollback of environment `e` (runner rollback, the web page) to
 * release `to` (0: the one that served before the current one), asked for
 * by `requested_by` as `who`. Refused before anything is queued when
 * there is no such release of e: ERR_NOTFOUND when there is no earlier
 * one, ERR_INVALID when `to` is not a deployment of e's repository to e
 * that extracted a release. *to_out: the release; *new_id: the job.
 */
int store_rollback_enqueue(struct store *s, const struct env_rec *e,
    int64_t to, const char *requested_by, const struct who *who,
    int64_t *to_out, int64_t *new_id);
/* A stage's end, recorded with its job's (store_job_end_deploy). */
struct stage_record {
	int idx;
	enum step_state state;
	int exit_code;
	char *error;
};
/* A build job that ends and queues its deployments in one transaction;
 * with `last` (or NULL), its last stage's end in the same transaction. */
int store_job_end_deploy(struct store *s, int64_t id, enum job_state state,
    const char *error, const struct deploy_req *r, size_t n,
    const struct stage_record *last);
/* Record what a deploy job resolved (commit, source, tag object...). */
int store_deploy_resolve(struct store *s, const struct job *j);
int store_check_add(struct store *s, int64_t id, const struct check_rec *c);
/* The lookups below (to store_replaced_by) give an error (negative),
 * reported, when the store cannot say: never a 0 that would read as
 * "none". */
/* The newest passed build of `commit` in `repo` with an artifact, or 0;
 * with `variables` 0, only a build that had no variables (git push -o
 * ci.variable=, runner run --var). */
int64_t store_passed_build(struct store *s, const char *repo,
    const char *commit, int variables);
/* The newest healthy staging deployment of such a build of `commit`, or
 * 0: the build a release deploys (its source_job). */
int64_t store_staged_build(struct store *s, const char *repo,
    const char *commit, int variables);
/* A release of tag `tag` whose tag object was another than `tag_object`
 * (the name was moved), or 0. */
int64_t store_tag_moved(struct store *s, const char *repo, const char *tag,
    const char *tag_object);
/* When a release of tag object `tag_object` was first queued (ms since the
 * epoch), or 0 if never. */
int64_t store_tag_first_seen(struct store *s, const char *repo,
    const char *tag_object);
/* The passed builds of `commit` that had variables, oldest first; the
 * caller frees *ids. */
int store_builds_with_variables(struct store *s, const char *repo,
    const char *commit, int64_t **ids, size_t *n);
/* A healthy deployment of `commit` to `env`, or 0. */
int64_t store_healthy_deploy(struct store *s, const char *repo,
    const char *env, const char *commit);
/* Another deployment from the same tag name or tag object, or 0. */
int64_t store_tag_deployed(struct store *s, const char *repo,
    const char *tag, const char *tag_object, int64_t except);
/* End a deploy job and set its environment's state (ENV_UNCHANGED: leave
 * the environment's record as it is), in one transaction. `serving` is
 * the release now serving (0 keeps what is recorded). */
#define ENV_UNCHANGED (-1)
int store_deploy_end(struct store *s, const struct job *j,
    enum job_state state, const char *error, int env_state,
    int64_t serving);
/* Mark an environment as being deployed by job `id`. */
int store_env_deploying(struct store *s, const char *repo, const char *env,
    int64_t id);
/* One environment (ERR_NOTFOUND if never deployed), or all of them. */
int store_env_get(struct store *s, const char *repo, const char *env,
    struct env_rec **out);
int store_envs_list(struct store *s, struct env_rec ***out, size_t *n);
/* The environments job `j` serves now: as their release (a deployment),
 * or as the build whose artifact their release is. Free with
 * envs_free(). */
int store_envs_serving(struct store *s, const struct job *j,
    struct env_rec ***out, size_t *n);
void env_rec_free(struct env_rec *e);
void envs_free(struct env_rec **v, size_t n);
/* The deploy jobs of `env` that extracted a release, newest first. */
int store_releases(struct store *s, const char *env, struct job ***out,
    size_t *n);

/* The newest deployment that replaced release `release` of `env` (its
 * backup holds that release's data), or 0. */
int64_t store_replaced_by(struct store *s, const char *repo,
    const char *env, int64_t release);
/* The manifest of release `id` (manifest.h): store it, or read it (caller
 * frees; ERR_NOTFOUND for a release extracted before manifests). */
/* Every repository that has had a job (`deployed`: a deployment),
 * sorted. */
int store_repos(struct store *s, int deployed, char ***out, size_t *n);
int store_manifest_set(struct store *s, int64_t id, const char *manifest);
int store_manifest_get(struct store *s, int64_t id, char **out);

/*
 * What an environment's commands left running on a host: the init of
 * the pid namespace a command ran in (ending it ends everything in the
 * namespace), told apart from a later process with its pid by its start
 * time (clock ticks after boot, /proc/PID/stat) and its namespace.
 */
struct service {
	char *host;
	int64_t pid;
	int64_t started;
	uint64_t pidns;
	int64_t job;		/* the deployment whose command started it */
};
int store_service_add(struct store *s, const char *repo, const char *env,
    const struct service *svc);
/* The services of `env`, oldest first. */
int store_services(struct store *s, const char *repo, const char *env,
    struct service **out, size_t *n);
int store_service_del(struct store *s, const char *repo, const char *env,
    const struct service *svc);
void services_free(struct service *v, size_t n);

#endif
