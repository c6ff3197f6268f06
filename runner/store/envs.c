/*
 * Deployments in the store (envs.h): queueing them, what they
 * resolved, how they ended, environments, releases and their manifests.
 */
#include "envs.h"
#include "store_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum q {
	Q_DEPLOY_INS = BASE_DEPLOYS, Q_DEPLOY_RESOLVE, Q_CHECK_INS,
	Q_PASSED_BUILD, Q_HEALTHY_DEPLOY, Q_TAG_DEPLOYED, Q_ENV_SET,
	Q_ENV_DEPLOYING, Q_ENV_GET, Q_ENV_LIST, Q_RELEASES, Q_MANIFEST_SET,
	Q_MANIFEST_GET, Q_REPLACED_BY, Q_DEPLOY_REPOS, Q_ALL_REPOS,
	Q_STAGED_BUILD, Q_PASSED_OVER, Q_TAG_MOVED, Q_TAG_SEEN, Q_SVC_ADD,
	Q_SVC_LIST, Q_SVC_DEL, Q_DEPLOYS_END
};
_Static_assert((int)Q_DEPLOYS_END <= (int)BASE_OUTBOX, "deploy statements overlap");

STORE_SQL(deploys) = {
	[Q_DEPLOY_INS] = "INSERT INTO jobs (repo, ref, old_commit, commit_id, "
	    "kind, env, source_job, forced_by, rollback_to, created_ms, "
	    "requested_by) VALUES (?1, ?2, '', ?3, 'deploy', ?4, ?5, ?6, ?7, ?8, "
	    "?9) RETURNING id",
	[Q_DEPLOY_RESOLVE] = "UPDATE jobs SET commit_id = ?2, source_job = ?3, "
	    "tag_object = ?4, release_dir = ?5, notes = ?6, previous = ?7, "
	    "subject = ?8, figures = ?9 WHERE id = ?1",
	[Q_CHECK_INS] = "INSERT INTO checks (job_id, name, status, latency_ms, "
	    "ok, error, at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	/* ?3: builds with variables count too */
	[Q_PASSED_BUILD] = "SELECT j.id FROM jobs j WHERE j.kind = 'build' AND "
	    "j.state = " SQ(N_PASSED) " AND j.repo = ?1 AND j.commit_id = ?2 "
	    "AND (?3 = 1 OR j.variables IS NULL) "
	    "AND EXISTS (SELECT 1 FROM artifacts a WHERE a.job_id = j.id) ORDER "
	    "BY j.id DESC LIMIT 1",
	/* the newest healthy staging deployment of the commit whose build
	 * qualifies as Q_PASSED_BUILD's does */
	[Q_STAGED_BUILD] = "SELECT d.id FROM jobs d JOIN jobs j ON j.id = "
	    "d.source_job WHERE d.kind = 'deploy' AND d.env = 'staging' AND "
	    "d.state = " SQ(N_HEALTHY) " AND d.repo = ?1 AND d.commit_id = ?2 "
	    "AND j.kind = 'build' AND j.state = " SQ(N_PASSED) " AND (?3 = 1 OR "
	    "j.variables IS NULL) AND EXISTS (SELECT 1 FROM artifacts a WHERE "
	    "a.job_id = j.id) ORDER BY d.id DESC LIMIT 1",
	/* a release of tag name ?2 whose object was not ?3 (a release that
	 * never resolved holds the object in commit_id) */
	[Q_TAG_MOVED] = "SELECT id FROM jobs WHERE kind = 'deploy' AND repo = ?1 "
	    "AND tag = ?2 AND coalesce(tag_object, commit_id) != ?3 ORDER BY id "
	    "LIMIT 1",
	/* when tag object ?2 was first pushed */
	[Q_TAG_SEEN] = "SELECT min(created_ms) FROM jobs WHERE kind = 'deploy' "
	    "AND repo = ?1 AND tag IS NOT NULL AND coalesce(tag_object, "
	    "commit_id) = ?2",
	/* passed builds of the commit with variables, which a release
	 * passes over */
	[Q_PASSED_OVER] = "SELECT j.id FROM jobs j WHERE j.kind = 'build' AND "
	    "j.state = " SQ(N_PASSED) " AND j.repo = ?1 AND j.commit_id = ?2 "
	    "AND j.variables IS NOT NULL ORDER BY j.id",
	[Q_HEALTHY_DEPLOY] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    "state = " SQ(N_HEALTHY) " AND repo = ?1 AND env = ?2 AND commit_id "
	    "= ?3 ORDER BY id DESC LIMIT 1",
	/* ?4 asks, and does not count, nor the retries of its chain */
	[Q_TAG_DEPLOYED] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    "repo = ?1 AND id != ?4 AND coalesce(retry_of, id) != coalesce(("
	    "SELECT r.retry_of FROM jobs r WHERE r.id = ?4), ?4) AND (tag = ?2 "
	    "OR tag_object = ?3) AND state "
	    "NOT IN (" SQ(N_QUEUED) ", " SQ(N_REJECTED) ", " SQ(N_SUPERSEDED)
	    ", " SQ(N_CANCELED) ") ORDER BY id LIMIT 1",
	[Q_ENV_SET] = "INSERT INTO environments (repo, name, state, release, "
	    "last, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
	    "(repo, name) DO UPDATE SET state = ?3, release = coalesce(?4, "
	    "environments.release), last = ?5, updated_ms = ?6",
	[Q_ENV_DEPLOYING] = "INSERT INTO environments (repo, name, state, last, "
	    "updated_ms) VALUES (?1, ?2, " SQ(N_DEPLOYING) ", ?3, ?4) ON "
	    "CONFLICT (repo, name) DO UPDATE SET state = " SQ(N_DEPLOYING) ", "
	    "last = ?3, updated_ms = ?4",
	[Q_ENV_GET] = "SELECT repo, name, state, release, last, updated_ms FROM "
	    "environments WHERE repo = ?1 AND name = ?2",
	[Q_ENV_LIST] = "SELECT repo, name, state, release, last, updated_ms "
	    "FROM environments ORDER BY repo, name",
	[Q_RELEASES] = "SELECT id FROM jobs WHERE kind = 'deploy' AND env = ?1 "
	    "AND release_dir IS NOT NULL ORDER BY id DESC",
	[Q_MANIFEST_SET] = "UPDATE jobs SET manifest = ?2 WHERE id = ?1",
	[Q_MANIFEST_GET] = "SELECT manifest FROM jobs WHERE id = ?1",
	[Q_DEPLOY_REPOS] = "SELECT DISTINCT repo FROM jobs WHERE kind = "
	    "'deploy' ORDER BY repo",
	[Q_ALL_REPOS] = "SELECT DISTINCT repo FROM jobs ORDER BY repo",
	[Q_REPLACED_BY] = "SELECT max(id) FROM jobs WHERE kind = 'deploy' AND "
	    "repo = ?1 AND env = ?2 AND previous = ?3",
	[Q_SVC_ADD] = "INSERT INTO services (repo, env, host, pid, started, "
	    "pidns, job_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
	    "ON CONFLICT DO NOTHING",
	[Q_SVC_LIST] = "SELECT pid, started, pidns, job_id, host FROM services "
	    "WHERE repo = ?1 AND env = ?2 ORDER BY created_ms, pid",
	[Q_SVC_DEL] = "DELETE FROM services WHERE repo = ?1 AND env = ?2 AND "
	    "host = ?3 AND pid = ?4 AND started = ?5",
};

static int insert_deploys(struct store *s, const struct deploy_req *r,
    size_t n, int64_t *ids)
{
	int64_t now = now_ms();
	int error;

	for (size_t i = 0; i < n; i++) {
		int64_t id = 0;
		if ((error = run_id(s, Q_DEPLOY_INS, sql, "queue deployment",
		    &id, ARGS(arg_text(r[i].repo), arg_text(r[i].ref),
		    arg_text(r[i].commit), arg_text(r[i].env),
		    arg_id(r[i].source_job), arg_text(r[i].forced_by),
		    arg_id(r[i].rollback_to), arg_int(now),
		    arg_text(r[i].requested_by)))) < 0)
			return error;
		if (ids)
			ids[i] = id;
		queued(s);
		if ((error = r[i].who ? audit_record(s, id, r[i].who) :
		    r[i].source_job ? audit_copy(s, id, r[i].source_job) : 0) < 0)
			return error;
	}
	return 0;
}

int store_deploy_enqueue(struct store *s, const struct deploy_req *r,
    size_t n, int64_t *ids)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = insert_deploys(s, r, n, ids)) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_job_end_deploy(struct store *s, int64_t id, enum job_state state,
    const char *error_msg, const struct deploy_req *r, size_t n,
    const struct stage_record *last)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	/* the stage first: the job's end skips the stages still pending */
	if ((last && (error = store_stage_end(s, id, last->idx, last->state,
	    last->exit_code, last->error)) < 0) ||
	    (error = job_end(s, id, state, error_msg)) < 0 ||
	    (error = insert_deploys(s, r, n, NULL)) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_deploy_resolve(struct store *s, const struct job *j)
{
	return run(s, Q_DEPLOY_RESOLVE, sql, "record deployment",
	    ARGS(arg_int(j->id), arg_text(j->commit), arg_id(j->source_job),
	    arg_text(j->tag_object), arg_text(j->release_dir),
	    arg_text(j->notes), arg_id(j->previous), arg_text(j->subject),
	    arg_text(j->figures)));
}

int store_check_add(struct store *s, int64_t id, const struct check_rec *c)
{
	return run(s, Q_CHECK_INS, sql, "record check", ARGS(arg_int(id),
	    arg_text(c->name), arg_int(c->status), arg_int(c->latency_ms),
	    arg_int(c->ok), arg_text(c->error),
	    arg_int(c->at_ms ? c->at_ms : now_ms()), arg_text(c->body)));
}

int64_t store_passed_build(struct store *s, const char *repo,
    const char *commit, int variables)
{
	return first_id(s, Q_PASSED_BUILD, sql, ARGS(arg_text(repo),
	    arg_text(commit), arg_int(variables)));
}

int64_t store_staged_build(struct store *s, const char *repo,
    const char *commit, int variables)
{
	return first_id(s, Q_STAGED_BUILD, sql, ARGS(arg_text(repo),
	    arg_text(commit), arg_int(variables)));
}

int64_t store_tag_moved(struct store *s, const char *repo, const char *tag,
    const char *tag_object)
{
	return first_id(s, Q_TAG_MOVED, sql, ARGS(arg_text(repo), arg_text(tag),
	    arg_text(tag_object)));
}

int64_t store_tag_first_seen(struct store *s, const char *repo,
    const char *tag_object)
{
	return first_id(s, Q_TAG_SEEN, sql, ARGS(arg_text(repo),
	    arg_text(tag_object)));
}

int store_builds_with_variables(struct store *s, const char *repo,
    const char *commit, int64_t **ids, size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_PASSED_OVER, sql, ARGS(arg_text(repo),
	    arg_text(commit)));

	*ids = NULL;
	*n = 0;
	return st ? ids_of(s, st, ids, n) : -1;
}

int64_t store_healthy_deploy(struct store *s, const char *repo,
    const char *env, const char *commit)
{
	return first_id(s, Q_HEALTHY_DEPLOY, sql, ARGS(arg_text(repo),
	    arg_text(env), arg_text(commit)));
}

int64_t store_tag_deployed(struct store *s, const char *repo,
    const char *tag, const char *tag_object, int64_t except)
{
	return first_id(s, Q_TAG_DEPLOYED, sql, ARGS(arg_text(repo),
	    arg_text(tag), arg_text(tag_object), arg_int(except)));
}

int store_deploy_end(struct store *s, const struct job *j,
    enum job_state state, const char *error_msg, int env_state,
    int64_t serving)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = job_end(s, j->id, state, error_msg)) < 0)
		goto out;
	if (env_state != ENV_UNCHANGED && (error = run(s, Q_ENV_SET, sql,
	    "record environment", ARGS(arg_text(j->repo), arg_text(j->env),
	    arg_text(env_state_name((enum env_state)env_state)),
	    arg_id(serving), arg_int(j->id), arg_int(now_ms())))) < 0)
		goto out;
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int store_env_deploying(struct store *s, const char *repo, const char *env,
    int64_t id)
{
	return run(s, Q_ENV_DEPLOYING, sql, "record environment",
	    ARGS(arg_text(repo), arg_text(env), arg_int(id),
	    arg_int(now_ms())));
}

static struct env_rec *env_from_row(struct stmt *st)
{
	struct env_rec *e = xcalloc(1, sizeof(*e));

	e->repo = col_text(st, 0);
	e->name = col_text(st, 1);
	e->state = (enum env_state)env_state_parse(
	    col_str(st, 2));
	e->release = col_int64(st, 3);
	e->last = col_int64(st, 4);
	e->updated_ms = col_int64(st, 5);
	return e;
}

static int env_details(struct store *s, struct env_rec *e)
{
	int error = 0;

	if (e->release && (error = store_job_get(s, e->release,
	    &e->current)) < 0)
		return error;
	if (e->last && (error = store_job_get(s, e->last, &e->latest)) < 0)
		return error;
	return 0;
}

int store_env_get(struct store *s, const char *repo, const char *env,
    struct env_rec **out)
{
	struct stmt *st = stmt_bound(s, Q_ENV_GET, sql, ARGS(arg_text(repo),
	    arg_text(env)));
	struct env_rec *e = NULL;
	int rc, error;

	*out = NULL;
	if (!st)
		return -1;
	rc = step(st);
	if (rc == STEP_ROW)
		e = env_from_row(st);
	reset(st);
	if (rc == STEP_DONE)
		return error_set(ERR_NOTFOUND, "environment '%s' has never been "
		    "deployed", env);
	if (rc != STEP_ROW)
		return db_error(s, "read environment");
	if ((error = env_details(s, e)) < 0) {
		env_rec_free(e);
		return error;
	}
	*out = e;
	return 0;
}

int store_envs_list(struct store *s, struct env_rec ***out, size_t *n)
{
	struct stmt *st = stmt(s, Q_ENV_LIST, sql);
	struct env_rec **v = NULL;
	size_t k = 0;
	int rc, error = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = env_from_row(st);
	}
	reset(st);
	if (rc != STEP_DONE)
		error = db_error(s, "list environments");
	for (size_t i = 0; i < k && error == 0; i++)
		error = env_details(s, v[i]);
	if (error < 0) {
		envs_free(v, k);
		return error;
	}
	*out = v;
	*n = k;
	return 0;
}

void env_rec_free(struct env_rec *e)
{
	if (!e)
		return;
	free(e->repo);
	free(e->name);
	job_free(e->current);
	job_free(e->latest);
	free(e);
}

void envs_free(struct env_rec **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		env_rec_free(v[i]);
	free(v);
}

int store_envs_serving(struct store *s, const struct job *j,
    struct env_rec ***out, size_t *n)
{
	struct env_rec **v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (store_envs_list(s, &v, &k) < 0)
		return -1;
	*out = xcalloc(k + 1, sizeof(**out));
	for (size_t i = 0; i < k; i++) {
		const struct job *cur = v[i]->current;
		if (cur && (cur->id == j->id || (j->kind == KIND_BUILD &&
		    cur->source_job == j->id))) {
			(*out)[(*n)++] = v[i];
			v[i] = NULL;
		}
	}
	envs_free(v, k);
	return 0;
}

int store_releases(struct store *s, const char *env, struct job ***out,
    size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_RELEASES, sql, ARGS(arg_text(env)));
	int64_t *ids = NULL;
	size_t k = 0;
	int error;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	if ((error = ids_of(s, st, &ids, &k)) < 0)
		return error;
	*out = xcalloc(k + 1, sizeof(**out));
	for (size_t i = 0; i < k; i++) {
		if ((error = store_job_get(s, ids[i], &(*out)[i])) < 0) {
			jobs_free(*out, i);
			*out = NULL;
			*n = 0;
			break;
		}
		*n = i + 1;
	}
	free(ids);
	return error;
}

int64_t store_replaced_by(struct store *s, const char *repo,
    const char *env, int64_t release)
{
	return first_id(s, Q_REPLACED_BY, sql, ARGS(arg_text(repo),
	    arg_text(env), arg_int(release)));
}

int store_manifest_set(struct store *s, int64_t id, const char *manifest)
{
	return run(s, Q_MANIFEST_SET, sql, "store a manifest", ARGS(arg_int(id),
	    arg_text(manifest)));
}

int store_manifest_get(struct store *s, int64_t id, char **out)
{
	struct stmt *st = stmt_bound(s, Q_MANIFEST_GET, sql,
	    ARGS(arg_int(id)));
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	rc = step(st);
	if (rc == STEP_ROW)
		*out = col_text(st, 0);
	reset(st);
	if (rc != STEP_ROW && rc != STEP_DONE)
		return db_error(s, "read a manifest");
	return *out ? 0 : ERR_NOTFOUND;
}

int store_repos(struct store *s, int deployed, char ***out, size_t *n)
{
	struct stmt *st = stmt(s, deployed ? Q_DEPLOY_REPOS : Q_ALL_REPOS,
	    sql);
	char **v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = col_text(st, 0);
	}
	reset(st);
	if (rc != STEP_DONE) {
		strv_free_n(v, k);
		return db_error(s, "list the repositories deployed");
	}
	*out = v;
	*n = k;
	return 0;
}

int store_service_add(struct store *s, const char *repo, const char *env,
    const struct service *svc)
{
	return run(s, Q_SVC_ADD, sql, "record a service", ARGS(arg_text(repo),
	    arg_text(env), arg_text(svc->host), arg_int(svc->pid),
	    arg_int(svc->started), arg_int((int64_t)svc->pidns),
	    arg_int(svc->job), arg_int(now_ms())));
}

int store_services(struct store *s, const char *repo, const char *env,
    struct service **out, size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_SVC_LIST, sql, ARGS(arg_text(repo),
	    arg_text(env)));
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct service *v;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		v = &(*out)[(*n)++];
		v->pid = col_int64(st, 0);
		v->started = col_int64(st, 1);
		v->pidns = (uint64_t)col_int64(st, 2);
		v->job = col_int64(st, 3);
		v->host = col_text(st, 4);
	}
	reset(st);
	if (rc < 0) {
		services_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read services");
	}
	return 0;
}

int store_service_del(struct store *s, const char *repo, const char *env,
    const struct service *svc)
{
	return run(s, Q_SVC_DEL, sql, "forget a service", ARGS(arg_text(repo),
	    arg_text(env), arg_text(svc->host), arg_int(svc->pid),
	    arg_int(svc->started)));
}

void services_free(struct service *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].host);
	free(v);
}

int deploy_source_check(const struct job *j)
{
	if (j->kind != KIND_BUILD || j->state != JOB_PASSED || !j->nartifacts)
		return error_set(ERR_INVALID, "job #%lld is not a passed build "
		    "with an artifact (it is a %s, %s)", (long long)j->id,
		    job_kind_name(j->kind), job_state_name(j->state));
	return 0;
}

int store_rollback_enqueue(struct store *s, const struct env_rec *e,
    int64_t to, const char *requested_by, const struct who *who,
    int64_t *to_out, int64_t *new_id)
{
	struct job *rel = NULL;
	int error;

	if (!to && e->current)
		to = e->current->previous;
	*to_out = to;
	if (!to)
		return error_set(ERR_NOTFOUND, "no earlier release of '%s' to "
		    "roll back to", e->name);
	if ((error = store_job_get(s, to, &rel)) < 0)
		return error;
	if (rel->kind != KIND_DEPLOY || !rel->env || strcmp(rel->env, e->name) ||
	    strcmp(rel->repo, e->repo) || !rel->release_dir) {
		error = error_set(ERR_INVALID, "#%lld is not a release of %s (it "
		    "is a %s%s%s)", (long long)to, e->name,
		    job_kind_name(rel->kind), rel->env ? " to " : "",
		    rel->env ? rel->env : "");
		job_free(rel);
		return error;
	}
	job_free(rel);
	struct deploy_req req = {
		.repo = e->repo, .ref = "", .commit = "", .env = e->name,
		.rollback_to = to, .requested_by = requested_by, .who = who,
	};
	return store_deploy_enqueue(s, &req, 1, new_id);
}
