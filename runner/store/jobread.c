/*
 * Jobs read from the store (jobs.h): a job by its row's named columns
 * (JOB_COLUMNS, jobs_int.h), with its stages, artifacts and checks; the
 * lists of jobs the CLI and the web page show; and freeing them.
 */
#include "jobs.h"
#include "store_int.h"
#include "jobs_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *const *const sql = store_sql_jobs;

static struct job *job_from_row(struct stmt *st)
{
	struct job *j = xcalloc(1, sizeof(*j));
	const char *kind = col_str(st, JC_KIND);

	j->id = col_int64(st, JC_ID);
	j->repo = col_text(st, JC_REPO);
	j->ref = col_text(st, JC_REF);
	j->old = col_text(st, JC_OLD);
	j->commit = col_text(st, JC_COMMIT);
	j->state = (enum job_state)job_state_parse(col_str(st,
	    JC_STATE));
	j->error = col_text(st, JC_ERROR);
	j->subject = col_text(st, JC_SUBJECT);
	j->attempt = col_int(st, JC_ATTEMPT);
	j->cancel = col_int(st, JC_CANCEL);
	j->worker_pid = (pid_t)col_int64(st, JC_WORKER_PID);
	j->retry_of = col_int64(st, JC_RETRY_OF);
	j->created_ms = col_int64(st, JC_CREATED_MS);
	j->started_ms = col_int64(st, JC_STARTED_MS);
	j->finished_ms = col_int64(st, JC_FINISHED_MS);
	j->kind = kind && !strcmp(kind, "deploy") ? KIND_DEPLOY : KIND_BUILD;
	j->env = col_text(st, JC_ENV);
	j->tag = col_text(st, JC_TAG);
	j->tag_object = col_text(st, JC_TAG_OBJECT);
	j->forced_by = col_text(st, JC_FORCED_BY);
	j->release_dir = col_text(st, JC_RELEASE_DIR);
	j->notes = col_text(st, JC_NOTES);
	j->figures = col_text(st, JC_FIGURES);
	j->source_job = col_int64(st, JC_SOURCE_JOB);
	j->rollback_to = col_int64(st, JC_ROLLBACK_TO);
	j->previous = col_int64(st, JC_PREVIOUS);
	j->requested_by = col_text(st, JC_REQUESTED_BY);
	j->phase = col_text(st, JC_PHASE);
	j->phase_ms = col_int64(st, JC_PHASE_MS);
	j->variables = col_text(st, JC_VARIABLES);
	j->host = col_text(st, JC_HOST);
	j->lease_ms = col_int64(st, JC_LEASE_MS);
	j->needs = col_text(st, JC_NEEDS);
	j->pushed_by = col_text(st, JC_PUSHED_BY);
	j->pushed_via = col_text(st, JC_PUSHED_VIA);
	j->pushed_key = col_text(st, JC_PUSHED_KEY);
	j->pushed_as = col_text(st, JC_PUSHED_AS);
	j->signer = col_text(st, JC_SIGNER);
	j->provenance = col_text(st, JC_PROVENANCE);
	j->canceled_by = col_text(st, JC_CANCELED_BY);
	j->source_ref = col_text(st, JC_SOURCE_REF);
	return j;
}

static void add_stage(struct stmt *st, struct job *j)
{
	struct stage_rec *r;

	j->stages = xrealloc(j->stages, (j->nstages + 1) * sizeof(*j->stages));
	r = &j->stages[j->nstages++];
	r->idx = col_int(st, 0);
	r->name = col_text(st, 1);
	r->state = (enum step_state)step_state_parse(
	    col_str(st, 2));
	r->exit_code = col_null(st, 3) ? -1 :
	    col_int(st, 3);
	r->error = col_text(st, 4);
	r->log_path = col_text(st, 5);
	r->started_ms = col_int64(st, 6);
	r->finished_ms = col_int64(st, 7);
}

static void add_artifact(struct stmt *st, struct job *j)
{
	struct artifact_rec *a;

	j->artifacts = xrealloc(j->artifacts, (j->nartifacts + 1) *
	    sizeof(*j->artifacts));
	a = &j->artifacts[j->nartifacts++];
	a->path = col_text(st, 0);
	a->size = col_int64(st, 1);
	a->sha256 = col_text(st, 2);
	a->files = col_int64(st, 3);
	a->provenance = col_int(st, 4);
}

static void add_check(struct stmt *st, struct job *j)
{
	struct check_rec *c;

	j->checks = xrealloc(j->checks, (j->nchecks + 1) * sizeof(*j->checks));
	c = &j->checks[j->nchecks++];
	c->name = col_text(st, 0);
	c->status = col_int(st, 1);
	c->latency_ms = col_int64(st, 2);
	c->ok = col_int(st, 3);
	c->error = col_text(st, 4);
	c->at_ms = col_int64(st, 5);
	c->body = col_text(st, 6);
}

/* Hand each row of `q` for job `j` to `add`. */
static int each_row(struct store *s, enum q q, struct job *j,
    void (*add)(struct stmt *, struct job *), const char *what)
{
	struct stmt *st = stmt_bound(s, q, sql, ARGS(arg_int(j->id)));
	int rc;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW)
		add(st, j);
	reset(st);
	return rc == STEP_DONE ? 0 : db_error(s, what);
}

static int load_details(struct store *s, struct job *j)
{
	int error;

	if ((error = each_row(s, Q_STAGES_GET, j, add_stage,
	    "read stages")) < 0 ||
	    (error = each_row(s, Q_ARTS_GET, j, add_artifact,
	    "read artifacts")) < 0)
		return error;
	return each_row(s, Q_CHECKS_GET, j, add_check, "read checks");
}

int store_job_get(struct store *s, int64_t id, struct job **out)
{
	struct stmt *st = stmt_bound(s, Q_JOB_GET, sql, ARGS(arg_int(id)));
	struct job *j = NULL;
	int rc, error;

	*out = NULL;
	if (!st)
		return -1;
	rc = step(st);
	if (rc == STEP_ROW)
		j = job_from_row(st);
	reset(st);
	if (rc == STEP_DONE)
		return error_set(ERR_NOTFOUND, "no job #%lld", (long long)id);
	if (rc != STEP_ROW || !j)
		return db_error(s, "read job");
	if ((error = load_details(s, j)) < 0) {
		job_free(j);
		return error;
	}
	*out = j;
	return 0;
}

static int list_query(struct store *s, struct stmt *st, struct job ***v,
    size_t *n)
{
	int rc;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = job_from_row(st);
	}
	reset(st);
	if (rc != STEP_DONE)
		return db_error(s, "list jobs");
	return 0;
}

/*
 * The jobs statement `a` and then `b` (NULL: none) select, with their
 * details, read in one transaction so that they are one consistent
 * picture. A statement that could not be prepared is an error.
 */
static int list_jobs(struct store *s, int q_a, const struct arg *args_a,
    size_t na, int q_b, const struct arg *args_b, size_t nb,
    struct job ***out, size_t *nout)
{
	struct job **v = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*nout = 0;
	/* one snapshot for both lists: PostgreSQL's default gives each
	 * statement its own, and a job that ended between the two would be
	 * listed twice */
	if ((error = exec_sql(s, s->pg ? "BEGIN ISOLATION LEVEL REPEATABLE "
	    "READ READ ONLY" : "BEGIN", "begin")) < 0)
		return error;
	if ((error = list_query(s, stmt_bound(s, q_a, sql, args_a, na), &v,
	    &n)) < 0 || (q_b >= 0 && (error = list_query(s, stmt_bound(s, q_b,
	    sql, args_b, nb), &v, &n)) < 0))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((error = load_details(s, v[i])) < 0)
			goto out;
	*out = v;
	*nout = n;
	v = NULL;
	n = 0;
out:
	exec_sql(s, "COMMIT", "commit");
	jobs_free(v, n);
	return error;
}

int store_jobs_list(struct store *s, int limit, struct job ***out,
    size_t *nout)
{
	return list_jobs(s, Q_LIST_ACTIVE, NO_ARGS, Q_LIST_DONE,
	    ARGS(arg_int(limit)), out, nout);
}

void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->repo);
	free(j->ref);
	free(j->old);
	free(j->commit);
	free(j->error);
	free(j->subject);
	free(j->host);
	free(j->needs);
	free(j->source_ref);
	for (size_t i = 0; i < j->nstages; i++) {
		free(j->stages[i].name);
		free(j->stages[i].error);
		free(j->stages[i].log_path);
	}
	free(j->stages);
	for (size_t i = 0; i < j->nartifacts; i++) {
		free(j->artifacts[i].path);
		free(j->artifacts[i].sha256);
	}
	free(j->artifacts);
	for (size_t i = 0; i < j->nchecks; i++) {
		free(j->checks[i].name);
		free(j->checks[i].error);
		free(j->checks[i].body);
	}
	free(j->checks);
	free(j->env);
	free(j->tag);
	free(j->tag_object);
	free(j->forced_by);
	free(j->requested_by);
	free(j->pushed_by);
	free(j->pushed_via);
	free(j->pushed_key);
	free(j->pushed_as);
	free(j->signer);
	free(j->provenance);
	free(j->canceled_by);
	free(j->phase);
	free(j->variables);
	free(j->release_dir);
	free(j->notes);
	free(j->figures);
	free(j);
}

void jobs_free(struct job **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		job_free(v[i]);
	free(v);
}

int store_jobs_of(struct store *s, const char *repo, const char *ref,
    int64_t before, int limit, struct job ***out, size_t *nout)
{
	return list_jobs(s, ref ? Q_OF_REF : Q_OF_REPO, ARGS(arg_text(repo),
	    arg_text(ref), arg_int(before > 0 ? before : INT64_MAX),
	    arg_int(limit)), -1, NO_ARGS, out, nout);
}

int store_jobs_find(struct store *s, const struct job_query *q,
    struct job ***out, size_t *nout)
{
	/* the filter that leaves fewest rows leads: a branch, a person (a
	 * few pushes among many), a repository, a state */
	enum q_find lead = q->repo && q->ref ? Q_FIND_REF : q->pushed_by ?
	    Q_FIND_PERSON : q->repo ? Q_FIND_REPO : q->state ? Q_FIND_STATE :
	    Q_FIND_ID;

	return list_jobs(s, (int)lead, ARGS(arg_text(q->repo), arg_text(q->ref),
	    arg_text(q->state), arg_text(q->pushed_by), arg_int(q->before > 0 ?
	    q->before : INT64_MAX), arg_int(q->done ? 1 : 0),
	    arg_int(q->limit)), -1, NO_ARGS, out, nout);
}

int store_branches(struct store *s, const char *repo, char ***refs,
    int64_t **last, size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_BRANCHES, sql, ARGS(arg_text(repo)));
	int rc;

	*refs = NULL;
	*last = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*refs = xrealloc(*refs, (*n + 1) * sizeof(**refs));
		*last = xrealloc(*last, (*n + 1) * sizeof(**last));
		(*refs)[*n] = col_text(st, 0);
		(*last)[*n] = col_int64(st, 1);
		(*n)++;
	}
	reset(st);
	if (rc != STEP_DONE) {
		strv_free_n(*refs, *n);
		free(*last);
		*refs = NULL;
		*last = NULL;
		*n = 0;
		return db_error(s, "list the branches");
	}
	return 0;
}

int store_rejected(struct store *s, const char *repo, const char *env,
    int limit, struct job ***out, size_t *nout)
{
	return list_jobs(s, Q_REJECTED, ARGS(arg_text(repo), arg_text(env),
	    arg_int(limit)), -1, NO_ARGS, out, nout);
}

int store_jobs_of_commit(struct store *s, const char *repo,
    const char *commit, struct job ***out, size_t *nout)
{
	return list_jobs(s, Q_OF_COMMIT, ARGS(arg_text(repo), arg_text(commit)),
	    -1, NO_ARGS, out, nout);
}
