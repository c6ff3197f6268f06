/*
 * The claim (jobs.h): a worker takes the next job it may run from the
 * queue, within its repository's share of the workers and its host's
 * labels, through the job state machine (job_move_stmt). Its statements
 * are in jobs.c's table.
 */
#include "jobs.h"
#include "store_int.h"
#include "jobs_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static const char *const *const sql = store_sql_jobs;

struct claim_share;
static int claim(struct store *s, pid_t worker, const char *host,
    const char *labels_key, int64_t lease_ms, int supersede,
    enum claim_kinds kinds, const struct claim_share *share,
    struct job **out);

int store_claim(struct store *s, pid_t worker, const char *host,
    const char *labels, int64_t lease_ms, int supersede,
    enum claim_kinds kinds, const struct claim_share *share,
    struct job **out)
{
	/* ",a,b,": a needed label is in it when ",label," is */
	char *labels_key = xasprintf(",%s,", labels ? labels : "");
	int ret = claim(s, worker, host, labels_key, lease_ms, supersede,
	    kinds, share, out);

	free(labels_key);
	return ret;
}

/*
 * How many builds of `repo` may run at once, in *max (0: as many as
 * there are workers): runner.yml's max_running (share->max_running),
 * else all the workers of the live hosts but one when the store knows
 * another repository, so that one repository never holds every worker.
 * *capacity is the live hosts' workers, read when first needed (-1: not
 * yet). 0, or the store's error.
 */
static int repo_share(struct store *s, const struct claim_share *share,
    const char *repo, int64_t lease_ms, int64_t *capacity, int64_t *max)
{
	int64_t other;

	*max = share && share->max_running ?
	    share->max_running(repo, share->arg) : 0;
	other = *max ? 0 : first_id(s, Q_OTHER_REPO, sql,
	    ARGS(arg_text(repo)));
	if (other < 0)
		return (int)other;
	if (*max < 0 || other) {
		if (*capacity < 0 && (*capacity = first_id(s, Q_CAPACITY, sql,
		    ARGS(arg_int(2 * lease_ms)))) < 0)
			return (int)*capacity;
		*max = *capacity > 1 ? *capacity - 1 : 1;
	}
	return 0;
}

/* The repositories whose running builds have reached their share of the
 * workers (repo_share), as "\nREPO\nREPO\n" in `full`. */
static int full_repos(struct store *s, const struct claim_share *share,
    int64_t lease_ms, struct sbuf *full)
{
	struct stmt *st;
	int64_t capacity = -1;
	int rc;

	sbuf_addch(full, '\n');
	if (!(st = stmt(s, Q_RUNNING_BY_REPO, sql)))
		return -1;
	struct { char *repo; int64_t n; } *run = NULL;
	size_t nrun = 0, cap = 0;
	while ((rc = step(st)) == STEP_ROW) {
		run = xgrow(run, nrun, &cap, sizeof(*run));
		run[nrun].repo = col_text(st, 0);
		run[nrun++].n = col_int64(st, 1);
	}
	reset(st);
	for (size_t i = 0; rc == STEP_DONE && i < nrun; i++) {
		int64_t max = 0;
		if ((rc = repo_share(s, share, run[i].repo, lease_ms,
		    &capacity, &max)) < 0)
			break;
		rc = STEP_DONE;
		if (max > 0 && run[i].n >= max)
			sbuf_addf(full, "%s\n", run[i].repo);
	}
	for (size_t i = 0; i < nrun; i++)
		free(run[i].repo);
	free(run);
	return rc == STEP_DONE ? 0 : rc < 0 && rc != -1 ? rc :
	    db_error(s, "count running jobs");
}

/* What a claim took. */
struct claimed {
	int64_t id;
	int deploy;
	char *repo, *env;
};

/*
 * PostgreSQL: may the job just claimed (in the open transaction) run, now
 * that every claim that raced it has committed? 1 yes, 0 no (another
 * deployment of its environment runs, or its repository's builds reached
 * their share: the caller rolls back and claims again), < 0 an error.
 * SQLite's claims run one at a time and never race.
 */
static int claim_holds(struct store *s, const struct claimed *c,
    const struct claim_share *share, int64_t lease_ms)
{
	int64_t capacity = -1, max = 0, n;
	char *key;
	int error;

	if (!s->pg || !c->id)
		return 1;
	if (!c->deploy && (error = repo_share(s, share, c->repo, lease_ms,
	    &capacity, &max)) < 0)
		return error;
	if (!c->deploy && max <= 0)
		return 1;	/* builds without a share: nothing to check */
	key = c->deploy ? xasprintf("\ndeploy\n%s\n%s", c->repo,
	    c->env ? c->env : "") : xasprintf("\nbuild\n%s", c->repo);
	error = run(s, Q_CLAIM_LOCK, sql, "lock", ARGS(arg_text(key)));
	free(key);
	if (error < 0)
		return error;
	/* a statement after the lock: it sees what the others committed */
	n = c->deploy ? first_id(s, Q_DEPLOYING, sql, ARGS(arg_text(c->repo),
	    arg_text(c->env), arg_int(c->id))) : first_id(s, Q_BUILDING, sql,
	    ARGS(arg_text(c->repo)));
	if (n < 0)
		return (int)n;
	return c->deploy ? n == 0 : n <= max;
}

/*
 * One try at a claim, in a transaction of its own: *id 0 if there was
 * nothing to claim; 0 when another host's claim got in its way (try
 * again), 1 when done.
 *
 * The supersede statements look at every queued job, which a queue of
 * hundreds makes the dearest part of a claim. Only a job queued since
 * makes one newly superseded: on SQLite, whose ids grow in commit order,
 * they run when the newest id changed since this connection last ran
 * them, or with `look` (*looked says whether they ran). The claim itself
 * never takes a job that a newer one supersedes, marked or not.
 */
static int claim_once(struct store *s, pid_t worker, const char *host,
    const char *labels_key, int64_t lease_ms, int supersede,
    enum claim_kinds kinds, const struct claim_share *share, int look,
    int *looked, int64_t *id)
{
	struct sbuf full = SBUF_INIT;
	struct claimed c = { 0 };
	struct stmt *st;
	struct arg a[8];
	int64_t top = 0;
	int rc, error;

	*id = 0;
	*looked = 1;
	/* PostgreSQL: durable. A server that crashes loses the commits it
	 * had not synced while the workers that made them run on: a claim
	 * lost so would put the job back in the queue, and another host
	 * would run it beside the first (SQLite's power cut ends both) */
	if ((error = s->pg ? begin_durable(s) : begin(s)) < 0)
		return error;
	if (!s->pg) {
		if ((top = first_id(s, Q_TOP_ID, sql, NO_ARGS)) < 0) {
			error = (int)top;
			goto out;
		}
		*looked = look || top != s->superseded_top;
	}
	if (*looked && ((supersede && (error = job_move(s, Q_SUPERSEDE, sql,
	    JOB_QUEUED, JOB_SUPERSEDED, ARGS(arg_int(now_ms())), NULL)) < 0) ||
	    (error = job_move(s, Q_SUPERSEDE_DEPLOY, sql, JOB_QUEUED,
	    JOB_SUPERSEDED, ARGS(arg_int(now_ms())), NULL)) < 0))
		goto out;
	/* the claim returns the job it took */
	a[0] = arg_int(worker);
	a[1] = arg_int(now_ms());
	a[2] = arg_text(host);
	a[3] = arg_int(lease_ms);
	a[4] = arg_text(labels_key);
	a[5] = arg_int(kinds);
	if ((error = full_repos(s, share, lease_ms, &full)) < 0)
		goto out;
	a[6] = arg_text(full.buf);
	a[7] = arg_int(supersede != 0);
	if ((error = job_move_stmt(s, Q_CLAIM, sql, JOB_QUEUED, JOB_RUNNING,
	    a, 8, &st)) < 0)
		goto out;
	rc = step(st);
	if (rc == STEP_ROW) {
		c.id = col_int64(st, 0);
		c.deploy = col_int(st, 1);
		c.repo = col_text(st, 2);
		c.env = col_text(st, 3);
	}
	while (rc == STEP_ROW)
		rc = step(st);
	reset(st);
	if (rc != STEP_DONE) {
		error = db_error(s, "claim");
		goto out;
	}
	if ((error = claim_holds(s, &c, share, lease_ms)) <= 0)
		goto out;
	if ((error = commit(s)) == 0) {
		*id = c.id;
		error = 1;
		if (*looked && !s->pg)
			s->superseded_top = top;
	}
out:
	if (error <= 0)
		rollback(s);
	sbuf_release(&full);
	free(c.repo);
	free(c.env);
	return error;
}

static int claim(struct store *s, pid_t worker, const char *host,
    const char *labels_key, int64_t lease_ms, int supersede,
    enum claim_kinds kinds, const struct claim_share *share,
    struct job **out)
{
	int64_t id = 0;
	int error = 0;

	*out = NULL;
	int looked = 0;

	/* a claim that lost a race claims again, and sees then what won */
	for (int tries = 0; error == 0 && tries < 8; tries++)
		error = claim_once(s, worker, host, labels_key, lease_ms,
		    supersede, kinds, share, 0, &looked, &id);
	/* nothing to claim: what is still queued is marked superseded if a
	 * newer job supersedes it (one queued again, say), before the worker
	 * rests */
	if (error > 0 && !id && !looked)
		error = claim_once(s, worker, host, labels_key, lease_ms,
		    supersede, kinds, share, 1, &looked, &id);
	if (error <= 0)
		return error < 0 ? error : error_set(ERR_BUSY, "store '%s': "
		    "other hosts' claims kept getting in the way", s->path);
	if (!id)
		return ERR_NOTFOUND;
	if ((error = store_job_get(s, id, out)) < 0)
		return error;
	/*
	 * On a relaxed SQLite connection the claim above is not synced: a
	 * build whose claim a power cut takes back is simply run from the
	 * queue (the cut ended its stage too). A deployment must never start
	 * twice, so its claim is made durable (a synced commit syncs
	 * everything before it in the WAL) before the worker acts on it.
	 */
	if (s->relaxed && !s->pg && (*out)->kind == KIND_DEPLOY) {
		if ((error = begin_durable(s)) < 0 || (error = run(s,
		    Q_CLAIM_SYNC, sql, "claim", ARGS(arg_int(id)))) < 0 ||
		    (error = commit(s)) < 0) {
			rollback(s);
			job_free(*out);
			*out = NULL;
		}
	}
	return error;
}
