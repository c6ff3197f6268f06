/*
 * Jobs in the store (jobs.h): the queue, stages, artifacts, cancels,
 * retries and recovery, and job_move(), through which every change of a
 * job's state goes. The table of job statements is here, for
 * jobread.c, which reads jobs, and claim.c, which takes one for a worker,
 * too.
 */
#include "jobs.h"
#include "repos.h"
#include "store_int.h"
#include "jobs_int.h"
#include "util.h"
#include "who.h"

#include <stdlib.h>
#include <string.h>



/* Of worker ?W (0: any worker) of host ?H: the jobs it runs right now
 * (jobs of a store older than hosts have none). */
#define OWNED(w, h) "state = " SQ(N_RUNNING) " AND (" w " = 0 OR " \
	"worker_pid = " w ") AND (host IS NULL OR host = " h ")"
/* For job_move(): ?1 is the state left, ?2 the state entered; the jobs
 * queued, or running, that the statement picks (STATE_LEFT, store_int.h) */
#define QUEUED STATE_LEFT(N_QUEUED)
#define RUNNING STATE_LEFT(N_RUNNING)

/* A deployment that a push caused (not a tag, not by hand). */
#define AUTOMATIC(j) j ".tag IS NULL AND " j ".requested_by IS NULL AND " \
	j ".forced_by IS NULL AND " j ".rollback_to IS NULL"
/* The place in push order of deployment J's build: a retried build keeps
 * the place of the push it retries. */
#define PUSH_ORDER(j) "(SELECT coalesce(b.retry_of, b.id) FROM jobs b " \
	"WHERE b.id = " j ".source_job)"
/* Deployment n, to the environment of `jobs`, of a newer push (or of the
 * same build, queued later), queued, running or serving: environments
 * move forward only. Such a deployment was queued after the push of J's
 * build (its id is above its own build's, which is at or above the
 * push's place): a range of index jobs_env_deploys from there, instead
 * of a read of every deployment that ever served the environment. */
#define NEWER_DEPLOY_OF(j) "n.kind = 'deploy' AND n.repo = " j ".repo AND " \
	"n.env = " j ".env AND n.id > " PUSH_ORDER(j) " AND n.id != " j \
	".id AND " AUTOMATIC("n") " AND " \
	"n.state IN (" SQ(N_QUEUED) ", " SQ(N_RUNNING) ", " SQ(N_HEALTHY) \
	") AND (" PUSH_ORDER("n") " > " PUSH_ORDER(j) " OR (" PUSH_ORDER("n") \
	" = " PUSH_ORDER(j) " AND n.id > " j ".id))"
#define NEWER_DEPLOY NEWER_DEPLOY_OF("jobs")
/* The newest build of J's ref after J (NULL: none), which supersedes
 * build J: a value for each job, which a scan down to J gives whatever
 * the plan, of the ref's index or of the jobs queued since J. (As "EXISTS
 * a newer one", PostgreSQL's generic plan of the supersede joined the
 * queue to every build of the store, read in full: 76 ms on 100,000
 * jobs.) */
#define NEWEST_AFTER(j) "(SELECT max(n.id) FROM jobs n WHERE n.repo = " j \
	".repo AND n.ref = " j ".ref AND n.id > " j ".id AND n.kind = " \
	"'build' AND n.retry_of IS NULL)"
/* Build J has a newer push to its ref, which supersedes it. */
#define NEWER_BUILD_OF(j) NEWEST_AFTER(j) " IS NOT NULL"

STORE_SQL(jobs) = {
	/* a push is queued once; a run asked for by hand (?9) every time.
	 * Its key: repo, ref, old and new commit apart by char(1), the same
	 * bytes on both engines (PostgreSQL's text holds no NUL). Who pushed
	 * it (?10 to ?13, audit.h) in the same statement: a push queued
	 * twice keeps who pushed it first, and the enqueue is one statement
	 * a push (on PostgreSQL one round trip less) */
	[Q_ENQ_INSERT] = "INSERT OR IGNORE INTO jobs (repo, ref, old_commit, "
	    "commit_id, dedup, created_ms, kind, env, tag, variables, "
	    "requested_by, pushed_by, pushed_via, pushed_key, pushed_as) "
	    "VALUES (?1, ?2, ?3, ?4, CASE WHEN CAST(?9 AS TEXT) "
	    "IS NULL THEN ?1 || char(1) || ?2 || char(1) || ?3 || char(1) || ?4 "
	    "END, ?5, CASE WHEN CAST(?6 AS TEXT) IS NULL THEN 'build' ELSE "
	    "'deploy' END, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id",
	[Q_ENQ_FIND] = "SELECT id FROM jobs WHERE dedup = ?1 || char(1) || ?2 "
	    "|| char(1) || ?3 || char(1) || ?4",
	/* builds: by a newer push to the same ref; automatic deploys: by a
	 * newer automatic deploy to the same environment. Retries, tags and
	 * deploys by hand are asked for explicitly and never superseded. Two
	 * statements, so each lookup of a newer job uses an index. */
	/* (PostgreSQL: a job another host is claiming, or superseding, is
	 * passed by, not waited for) */
	[Q_SUPERSEDE] = "UPDATE jobs SET state = ?2, finished_ms = ?3, error = "
	    "'superseded by #' || " NEWEST_AFTER("jobs") " WHERE " QUEUED
	    " AND id IN (SELECT id FROM jobs WHERE " QUEUED " AND kind = "
	    "'build' AND retry_of IS NULL AND "
	    NEWER_BUILD_OF("jobs") " /*pg: FOR UPDATE SKIP LOCKED*/)",
	[Q_SUPERSEDE_DEPLOY] = "UPDATE jobs SET state = ?2, finished_ms = ?3, "
	    "error = 'superseded by deployment #' || (SELECT max(n.id) FROM jobs "
	    "n WHERE " NEWER_DEPLOY ") || ' of a newer push' WHERE " QUEUED
	    " AND id IN (SELECT id FROM jobs WHERE " QUEUED " AND kind = "
	    "'deploy' AND "
	    AUTOMATIC("jobs") " AND (SELECT max(n.id) FROM jobs n WHERE "
	    NEWER_DEPLOY ") IS NOT NULL /*pg: FOR UPDATE SKIP LOCKED*/)",
	/* deployments to one environment never run at the same time; none
	 * starts while the queue is paused (admin.h) */
	/* the lease ends by the store's clock, which every host reads
	 * alike (NOW_MS: PostgreSQL's on a shared store); a build starts
	 * with its checkout, recorded here rather than in a transaction of
	 * its own */
	[Q_CLAIM] = "UPDATE jobs SET state = ?2, worker_pid = ?3, started_ms = "
	    "?4, attempt = attempt + 1, error = NULL, phase = CASE WHEN kind = "
	    "'build' THEN 'checkout' END, phase_ms = ?4, host = ?5, "
	    "lease_ms = " NOW_MS " + ?6 WHERE NOT EXISTS (SELECT 1 FROM "
	    "hosts WHERE name = ?5 AND draining = 1) AND id = (SELECT id FROM "
	    "jobs q WHERE " QUEUED " AND (kind = 'build' OR NOT EXISTS (SELECT "
	    "1 FROM jobs r WHERE r.state = " SQ(N_RUNNING) " AND r.kind = "
	    "'deploy' AND r.repo = q.repo AND r.env = q.env)) AND NOT EXISTS "
	    "(SELECT 1 FROM settings WHERE key = 'paused') AND NOT EXISTS "
	    "(SELECT 1 FROM job_needs n WHERE n.job_id = q.id AND instr(?7, "
	    "',' || n.label || ',') = 0) "
	    "AND (kind = 'deploy' OR ?8 = 1) "
	    /* builds of repositories that hold their share of the workers
	     * wait (?9: "\nREPO\nREPO\n") */
	    "AND (kind = 'deploy' OR instr(?9, char(10) || repo || char(10)) "
	    "= 0) "
	    /* and none that a newer one supersedes (?10: builds are), which
	     * the supersede statements may not have marked yet (see
	     * claim_once) */
	    "AND NOT (q.kind = 'build' AND ?10 = 1 AND q.retry_of IS NULL AND "
	    NEWER_BUILD_OF("q") ") AND NOT (q.kind = 'deploy' AND "
	    AUTOMATIC("q") " AND (SELECT max(n.id) FROM jobs n WHERE "
	    NEWER_DEPLOY_OF("q") ") IS NOT NULL) "
	    "ORDER BY id LIMIT 1 /*pg: FOR UPDATE SKIP LOCKED*/) RETURNING id, "
	    "kind = 'deploy', repo, env",
	/*
	 * PostgreSQL: what one claim cannot see of another made at the same
	 * moment (both pass each other by) is checked after it, under a lock
	 * of the environment (?1: "deploy", the repository and the
	 * environment) or of the repository (?1: "build" and it), held until
	 * the commit: a second deployment of the environment running, or the
	 * repository's builds past their share. The lock is one of this
	 * schema's; the numbers are the runner's own space of keys. (SQLite,
	 * whose claims never race, has nothing to lock: the tests run it.)
	 */
	[Q_CLAIM_LOCK] = "SELECT count(*) FROM (SELECT /*sqlite*/ ?1 /*pg: "
	    "pg_advisory_xact_lock(7346298, hashtext(current_schema() || $1))*/"
	    ") AS l",
	[Q_DEPLOYING] = "SELECT count(*) FROM jobs WHERE state = " SQ(N_RUNNING)
	    " AND kind = 'deploy' AND repo = ?1 AND env = ?2 AND id != ?3",
	[Q_BUILDING] = "SELECT count(*) FROM jobs WHERE state = " SQ(N_RUNNING)
	    " AND kind = 'build' AND repo = ?1",
	/* (SQLite, which has no statistics, would count the running builds
	 * by reading every build's entry of index jobs_deploy, which starts
	 * with the kind: 6-7 ms a claim with 100,000 jobs; "+kind" is no
	 * column an index may serve) */
	[Q_RUNNING_BY_REPO] = "SELECT repo, count(*) FROM jobs WHERE state = "
	    SQ(N_RUNNING) " AND /*sqlite*/ +kind /*pg: kind*/ = 'build' GROUP "
	    "BY repo",
	/* the workers of the hosts alive: heartbeats of the last ?1 ms */
	[Q_CAPACITY] = "SELECT coalesce(sum(workers), 0) FROM hosts WHERE "
	    "heartbeat_ms > " NOW_MS " - ?1",
	/* is there a repository other than ?1? The nearest below it and
	 * the nearest above it: each an index seek that stops at ?1's
	 * place, whatever plan the engine keeps. (As "repo < ?1 LIMIT 1",
	 * PostgreSQL's generic plan, a prepared statement's from its sixth
	 * run, could scan the whole table when no other repository has a
	 * job, twice a claim; as min() and max(), a scan passes over the
	 * entries of deleted jobs that vacuum has not removed yet) */
	[Q_OTHER_REPO] = "SELECT 1 WHERE (SELECT repo FROM jobs WHERE repo < "
	    "?1 ORDER BY repo DESC LIMIT 1) IS NOT NULL OR (SELECT repo FROM "
	    "jobs WHERE repo > ?1 ORDER BY repo LIMIT 1) IS NOT NULL",
	/* a write only to make a relaxed claim durable (see store_claim) */
	[Q_CLAIM_SYNC] = "UPDATE jobs SET worker_pid = worker_pid WHERE id = ?1",
	[Q_TOP_ID] = "SELECT coalesce(max(id), 0) FROM jobs",
	[Q_REJECTED] = "SELECT " JOB_COLS " FROM jobs WHERE repo = ?1 AND kind "
	    "= 'deploy' AND env = ?2 AND state = " SQ(N_REJECTED) " ORDER BY "
	    "id DESC LIMIT ?3",
	[Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
	[Q_STAGES_GET] = "SELECT idx, name, state, exit_code, error, log_path, "
	    "started_ms, finished_ms FROM stages WHERE job_id = ?1 ORDER BY idx",
	[Q_ARTS_GET] = "SELECT path, size, sha256, files, CASE WHEN provenance "
	    "IS NULL THEN 0 ELSE 1 END FROM artifacts WHERE "
	    "job_id = ?1 ORDER BY id",
	[Q_CHECKS_GET] = "SELECT name, status, latency_ms, ok, error, at_ms, "
	    "body FROM checks WHERE job_id = ?1 ORDER BY id",
	[Q_LIST_ACTIVE] = "SELECT " JOB_COLS " FROM jobs WHERE state IN ("
	    SQ(N_QUEUED) ", " SQ(N_RUNNING) ") ORDER BY id",
	[Q_LIST_DONE] = "SELECT " JOB_COLS " FROM jobs WHERE state NOT IN ("
	    SQ(N_QUEUED) ", " SQ(N_RUNNING) ") ORDER BY id DESC LIMIT ?1",
	[Q_SUBJECT] = "UPDATE jobs SET subject = ?2 WHERE id = ?1",
	[Q_STAGES_DEL] = "DELETE FROM stages WHERE job_id = ?1",
	[Q_STAGE_INS] = "INSERT INTO stages (job_id, idx, name, log_path) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[Q_STAGE_START] = "UPDATE stages SET state = " SQ(N_RUNNING) ", pgid = "
	    "?3, started_ms = ?4 WHERE job_id = ?1 AND idx = ?2",
	[Q_STAGE_END] = "UPDATE stages SET state = ?3, exit_code = ?4, "
	    "error = ?5, finished_ms = ?6 WHERE job_id = ?1 AND idx = ?2",
	[Q_STAGE_COUNT] = "SELECT count(*) FROM stages WHERE job_id = ?1",
	[Q_JOB_END] = "UPDATE jobs SET state = ?2, error = ?4, finished_ms = ?5 "
	    "WHERE id = ?3 AND " RUNNING,
	[Q_STAGES_SKIP] = "UPDATE stages SET state = " SQ(N_SKIPPED) " WHERE "
	    "job_id = ?1 AND state = " SQ(N_PENDING),
	[Q_ART_INS] = "INSERT INTO artifacts (job_id, path, size, sha256, "
	    "files, provenance) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_CANCEL_QUEUED] = "UPDATE jobs SET state = ?2, finished_ms = ?4, "
	    "error = 'canceled before it started', canceled_by = ?5 WHERE id = "
	    "?3 AND " QUEUED,
	[Q_CANCEL_RUNNING] = "UPDATE jobs SET cancel = 1, canceled_by = ?2 "
	    "WHERE id = ?1 AND state = " SQ(N_RUNNING),
	[Q_CANCEL_GET] = "SELECT cancel FROM jobs WHERE id = ?1",
	[Q_CANCEL_PIDS] = "SELECT worker_pid FROM jobs WHERE state = "
	    SQ(N_RUNNING) " AND cancel = 1 AND worker_pid IS NOT NULL",
	[Q_RETRY] = "INSERT INTO jobs (repo, ref, old_commit, commit_id, kind, "
	    "env, tag, source_job, forced_by, rollback_to, retry_of, "
	    "requested_by, created_ms, variables) SELECT repo, ref, old_commit, "
	    /* a release's tag object, as pushed: it is verified again */
	    "CASE WHEN tag IS NOT NULL AND tag_object IS NOT NULL THEN "
	    "tag_object ELSE commit_id END, "
	    "kind, env, tag, source_job, forced_by, rollback_to, coalesce("
	    "retry_of, id), ?3, ?2, variables FROM jobs WHERE id = ?1 AND "
	    "state NOT IN ("
	    SQ(N_QUEUED) ", " SQ(N_RUNNING) ") RETURNING id",
	[Q_REC_PGIDS] = "SELECT s.pgid FROM stages s JOIN jobs j ON j.id = "
	    "s.job_id WHERE j." OWNED("?1", "?2") " AND s.state = "
	    SQ(N_RUNNING) " AND s.pgid IS NOT NULL",
	[Q_REC_CANCELED] = "UPDATE jobs SET state = ?2, finished_ms = ?4, "
	    "error = 'canceled (the daemon stopped while it ran)' WHERE "
	    RUNNING
	    " AND (?3 = 0 OR worker_pid = ?3) AND (host IS NULL OR host = ?5) "
	    "AND cancel = 1",
	/* an artifact recorded just before the daemon died, the job not yet
	 * ended: the re-run records its own */
	[Q_REC_ARTS] = "DELETE FROM artifacts WHERE job_id IN (SELECT id FROM "
	    "jobs WHERE kind = 'build' AND " OWNED("?1", "?2") ")",
	[Q_REC_STAGES] = "DELETE FROM stages WHERE job_id IN (SELECT id FROM "
	    "jobs WHERE kind = 'build' AND " OWNED("?1", "?2") ")",
	[Q_REC_JOBS] = "UPDATE jobs SET state = ?2, worker_pid = NULL, "
	    "host = NULL, lease_ms = NULL, started_ms = NULL WHERE kind = "
	    "'build' AND " RUNNING " AND (?3 = 0 OR worker_pid = ?3) AND "
	    "(host IS NULL OR host = ?4)",
	/* a deployment is never re-run by itself: it may have half happened */
	[Q_REC_DEPLOYS] = "UPDATE jobs SET state = ?2, finished_ms = ?4, "
	    "error = 'the daemon died during the deployment; it is not re-run "
	    "by itself' WHERE kind = 'deploy' AND " RUNNING " AND (?3 = 0 OR "
	    "worker_pid = ?3) AND (host IS NULL OR host = ?5)",
	[Q_REC_DEPLOY_IDS] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    OWNED("?1", "?2"),
	[Q_QUEUED] = "SELECT count(*) FROM jobs WHERE state = " SQ(N_QUEUED),
	[Q_PHASE] = "UPDATE jobs SET phase = ?2, phase_ms = ?3 WHERE id = ?1",
	/* a page of history (index jobs_ref: repo, ref, id; jobs_repo:
	 * repo, id), planned for the repository and ref (FOR_ITS_VALUES): a
	 * plan for any walks the primary key down through the other refs'
	 * jobs, which are few for an average ref and all for a new one */
	[Q_OF_REF] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE repo "
	    "= ?1 AND ref = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
	[Q_OF_REPO] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE repo "
	    "= ?1 AND id < ?3 AND CAST(?2 AS TEXT) IS NULL ORDER BY id DESC "
	    "LIMIT ?4",
	/* the web page's history, filtered (store_jobs_find): ?1 repo, ?2
	 * ref, ?3 state, ?4 pushed_by, each NULL for any, ?5 before, ?6
	 * only ended jobs, ?7 limit; one statement for each index that may
	 * lead, the other filters checked on the rows it gives, each planned
	 * for the values it filters by (a person who pushed once, a state
	 * no job has: the primary key walked in full, planned for any) */
#define FIND_REST " AND id < ?5 AND (?6 = 0 OR state NOT IN (" \
	SQ(N_QUEUED) ", " SQ(N_RUNNING) ")) AND (CAST(?1 AS TEXT) IS NULL OR " \
	"repo = ?1) AND (CAST(?2 AS TEXT) IS NULL OR ref = ?2) AND " \
	"(CAST(?3 AS TEXT) IS NULL OR state = ?3) AND (CAST(?4 AS TEXT) IS " \
	"NULL OR pushed_by = ?4) ORDER BY id DESC LIMIT ?7"
	[Q_FIND_ID] = "SELECT " JOB_COLS " FROM jobs WHERE 1 = 1" FIND_REST,
	/* index jobs_repo: repo, id */
	[Q_FIND_REPO] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE "
	    "repo = ?1" FIND_REST,
	/* index jobs_ref: repo, ref, id */
	[Q_FIND_REF] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE "
	    "repo = ?1 AND ref = ?2" FIND_REST,
	/* index jobs_state: state, id */
	[Q_FIND_STATE] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE "
	    "state = ?3" FIND_REST,
	/* index jobs_pushed_by: pushed_by, id */
	[Q_FIND_PERSON] = "SELECT " FOR_ITS_VALUES JOB_COLS " FROM jobs WHERE "
	    "pushed_by = ?4" FIND_REST,
#undef FIND_REST
	[Q_OF_COMMIT] = "SELECT " JOB_COLS " FROM jobs WHERE repo = ?1 AND "
	    "commit_id = ?2 ORDER BY id",
	/* a repository's branches with their last build: each branch found
	 * by a seek of index jobs_branches (repo, kind, ref, id) past the
	 * one before, so that 100,000 builds of a few branches cost a few
	 * seeks, not a read of them all */
	[Q_BRANCHES] = "WITH RECURSIVE r(ref) AS (SELECT min(ref) FROM jobs "
	    "WHERE repo = ?1 AND kind = 'build' UNION ALL SELECT (SELECT "
	    "min(j.ref) FROM jobs j WHERE j.repo = ?1 AND j.kind = 'build' AND "
	    "j.ref > r.ref) FROM r WHERE r.ref IS NOT NULL) SELECT ref, (SELECT "
	    "max(j.id) FROM jobs j WHERE j.repo = ?1 AND j.kind = 'build' AND "
	    "j.ref = r.ref) AS last FROM r WHERE ref IS NOT NULL ORDER BY last "
	    "DESC LIMIT 200",
	/* the builds of the ref that build ?3 superseded (those queued after
	 * the ref's last build that ran), before anyone read their subject:
	 * a range of an index, however long the ref's history, whatever the
	 * plan (the last that ran found as BUILD_BEFORE finds it, in jobs_ref:
	 * repo, ref, id) */
	[Q_UNNAMED] = "SELECT id FROM jobs WHERE repo = ?1 AND ref = ?2 AND "
	    "id < ?3 AND id > coalesce((SELECT max(p.id) FROM jobs p WHERE "
	    "p.repo = ?1 AND p.ref = ?2 AND p.id < ?3 AND (p.repo, p.ref, "
	    "p.id) < (?1, ?2, ?3) AND p.state != "
	    SQ(N_SUPERSEDED) "), 0) AND kind = 'build' AND state = "
	    SQ(N_SUPERSEDED) " AND subject IS NULL ORDER BY id DESC LIMIT 50",
};

const char *job_kind_name(enum job_kind k)
{
	return k == KIND_DEPLOY ? "deploy" : "build";
}

int job_stage_state(const struct job *j, int idx)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].idx == idx)
			return (int)j->stages[i].state;
	return j->state == JOB_RUNNING ? STEP_RUNNING : -1;
}

const char *job_branch(const struct job *j)
{
	const char *ref = j->kind == KIND_DEPLOY && j->source_ref ?
	    j->source_ref : j->ref;

	return ref && !strncmp(ref, "refs/heads/", 11) ? ref + 11 : NULL;
}

int job_move_stmt(struct store *s, int q, sql_table table,
    enum job_state from, enum job_state to, const struct arg *a, size_t n,
    struct stmt **out)
{
	struct arg all[16];

	*out = NULL;
	if (!job_state_legal(from, to))
		return error_set(ERR_INVALID, "store '%s': a job cannot go from "
		    "%s to %s", s->path, job_state_name(from),
		    job_state_name(to));
	if (n + 2 > sizeof(all) / sizeof(*all))
		return error_set(-1, "store: too many arguments");
	all[0] = arg_text(job_state_name(from));
	all[1] = arg_text(job_state_name(to));
	for (size_t i = 0; i < n; i++)
		all[i + 2] = a[i];
	if (!(*out = stmt_bound(s, q, table, all, n + 2)))
		return -1;
	return 0;
}

int job_move(struct store *s, int q, sql_table table, enum job_state from,
    enum job_state to, const struct arg *a, size_t n, int *changed)
{
	struct stmt *st;
	int error;

	if (changed)
		*changed = 0;
	if ((error = job_move_stmt(s, q, table, from, to, a, n, &st)) < 0)
		return error;
	if ((error = exec_stmt(s, st, "change a job's state")) == 0) {
		if (changed)
			*changed = changes(s);
		if (to == JOB_QUEUED && changes(s) > 0)
			queued(s);
	}
	return error;
}

int store_enqueue(struct store *s, const struct push *p, size_t n,
    struct enqueued *out)
{
	int64_t now = now_ms();
	int error;

	/* a repository seen for the first time gets its name; one that
	 * cannot be recorded now is no reason to lose the push (readers name
	 * it as it will be) */
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || strcmp(p[i].repo, p[i - 1].repo)) &&
		    store_repo_record(s, p[i].repo, NULL) < 0)
			error_clear();
	if ((error = begin_durable(s)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		int64_t id = 0;
		const struct who *w = p[i].who;
		if ((error = run_id(s, Q_ENQ_INSERT, sql, "enqueue", &id,
		    ARGS(arg_text(p[i].repo), arg_text(p[i].ref),
		    arg_text(p[i].old), arg_text(p[i].new), arg_int(now),
		    arg_text(p[i].env), arg_text(p[i].tag),
		    arg_text(p[i].variables && *p[i].variables ?
		    p[i].variables : NULL), arg_text(p[i].requested_by),
		    arg_text(w ? w->by : NULL), arg_text(w ? w->via : NULL),
		    arg_text(w ? w->key : NULL), arg_text(w ? w->as : NULL)))) <
		    0)
			goto out;
		out[i].duplicate = id == 0;
		if (id)
			queued(s);
		out[i].id = id ? id : first_id(s, Q_ENQ_FIND, sql,
		    ARGS(arg_text(p[i].repo), arg_text(p[i].ref),
		    arg_text(p[i].old), arg_text(p[i].new)));
		if (out[i].id < 0) {
			error = (int)out[i].id;
			goto out;
		}
	}
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int64_t store_push_job(struct store *s, const struct push *p)
{
	return first_id(s, Q_ENQ_FIND, sql, ARGS(arg_text(p->repo),
	    arg_text(p->ref), arg_text(p->old), arg_text(p->new)));
}

int64_t store_queued(struct store *s)
{
	return first_id(s, Q_QUEUED, sql, NO_ARGS);
}

int store_unnamed_superseded(struct store *s, const char *repo,
    const char *ref, int64_t before, int64_t **ids, size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_UNNAMED, sql, ARGS(arg_text(repo),
	    arg_text(ref), arg_int(before)));

	*ids = NULL;
	*n = 0;
	return st ? ids_of(s, st, ids, n) : -1;
}

int store_job_phase(struct store *s, int64_t id, const char *phase)
{
	return run(s, Q_PHASE, sql, "record the phase", ARGS(arg_int(id),
	    arg_text(phase), arg_int(now_ms())));
}

int store_job_set_subject(struct store *s, int64_t id, const char *subject)
{
	return run(s, Q_SUBJECT, sql, "set subject", ARGS(arg_int(id),
	    arg_text(subject)));
}

int store_stages_init(struct store *s, int64_t id, const char *subject,
    char *const *names, char *const *log_paths, size_t n)
{
	int error;

	/* PostgreSQL: durable. A server that crashes loses the relaxed
	 * commits of its last moments while the worker runs on: the list
	 * lost, the job would end with no stage and no log recorded (a
	 * stage's start or end lost so leaves only that stage's state
	 * behind) */
	if ((error = s->pg ? begin_durable(s) : begin(s)) < 0)
		return error;
	if ((subject && (error = store_job_set_subject(s, id, subject)) < 0) ||
	    (error = run(s, Q_STAGES_DEL, sql, "reset stages",
	    ARGS(arg_int(id)))) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((error = store_stage_add(s, id, (int)i, names[i],
		    log_paths[i])) < 0)
			goto out;
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int store_stage_start(struct store *s, int64_t id, int idx, pid_t pgid,
    int64_t at_ms)
{
	return run(s, Q_STAGE_START, sql, "start stage", ARGS(arg_int(id),
	    arg_int(idx), arg_id(pgid), arg_int(at_ms ? at_ms : now_ms())));
}

int store_stage_end(struct store *s, int64_t id, int idx,
    enum step_state state, int exit_code, const char *error)
{
	return run(s, Q_STAGE_END, sql, "end stage", ARGS(arg_int(id),
	    arg_int(idx), arg_text(step_state_name(state)),
	    arg_count(exit_code), arg_text(error), arg_int(now_ms())));
}

int store_stage_count(struct store *s, int64_t id, int *n)
{
	struct stmt *st = stmt_bound(s, Q_STAGE_COUNT, sql, ARGS(arg_int(id)));
	int rc;

	if (!st)
		return -1;
	rc = step(st);
	*n = rc == STEP_ROW ? col_int(st, 0) : 0;
	reset(st);
	return rc == STEP_ROW ? 0 : db_error(s, "count stages");
}

int store_stage_add(struct store *s, int64_t id, int idx, const char *name,
    const char *log_path)
{
	return run(s, Q_STAGE_INS, sql, "add stage", ARGS(arg_int(id),
	    arg_int(idx), arg_text(name), arg_text(log_path)));
}

int job_end(struct store *s, int64_t id, enum job_state state,
    const char *error_msg)
{
	int error, ended;

	if ((error = run(s, Q_STAGES_SKIP, sql, "skip stages",
	    ARGS(arg_int(id)))) < 0 || (error = job_move(s, Q_JOB_END, sql,
	    JOB_RUNNING, state, ARGS(arg_int(id), arg_text(error_msg),
	    arg_int(now_ms())), &ended)) < 0)
		return error;
	return ended ? outbox_job_ended(s, id) : 0;
}

int store_job_end(struct store *s, int64_t id, enum job_state state,
    const char *error_msg)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = job_end(s, id, state, error_msg)) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_artifact_add(struct store *s, int64_t id, const char *path,
    int64_t size, const char *sha256, int64_t files, const char *provenance)
{
	return run(s, Q_ART_INS, sql, "record artifact", ARGS(arg_int(id),
	    arg_text(path), arg_int(size), arg_text(sha256), arg_int(files),
	    arg_text(provenance)));
}

/* gcc -fanalyzer (tests/analyze.sh) loses that store_job_get() returns
 * 0 only with the job set, and reports *j NULL after it: not so. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-null-dereference"
#endif
int store_cancel(struct store *s, int64_t id, const struct who *by,
    int *running)
{
	struct job *j = NULL;
	struct sbuf who = SBUF_INIT;
	int error;

	*running = 0;
	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = store_job_get(s, id, &j)) < 0)
		goto out;
	if (by)
		who_describe(&who, by->by, by->via, by->key, by->as);
	if (j->state == JOB_QUEUED) {
		error = job_move(s, Q_CANCEL_QUEUED, sql, JOB_QUEUED, JOB_CANCELED,
		    ARGS(arg_int(id), arg_int(now_ms()), arg_text(who.len ?
		    who.buf : NULL)), NULL);
	} else if (j->state == JOB_RUNNING) {
		error = run(s, Q_CANCEL_RUNNING, sql, "cancel", ARGS(arg_int(id),
		    arg_text(who.len ? who.buf : NULL)));
		*running = 1;
	} else {
		error = error_set(ERR_INVALID, "job #%lld is already %s",
		    (long long)id, job_state_name(j->state));
	}
	if (error == 0)
		error = commit(s);
out:
	if (error < 0)
		rollback(s);
	job_free(j);
	sbuf_release(&who);
	return error;
}

int store_cancel_requested(struct store *s, int64_t id)
{
	int64_t cancel = first_id(s, Q_CANCEL_GET, sql, ARGS(arg_int(id)));

	return cancel < 0 ? (int)cancel : cancel != 0;
}

static int pid_query(struct store *s, struct stmt *st, pid_t **out,
    size_t *n)
{
	int64_t *ids;
	int error;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	if ((error = ids_of(s, st, &ids, n)) < 0)
		return error;
	if (*n)
		*out = xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = (pid_t)ids[i];
	free(ids);
	return 0;
}

int store_cancel_workers(struct store *s, pid_t **out, size_t *n)
{
	return pid_query(s, stmt(s, Q_CANCEL_PIDS, sql), out, n);
}

int store_retry(struct store *s, int64_t id, const struct who *by,
    int64_t *new_id)
{
	struct job *j = NULL;
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = store_job_get(s, id, &j)) < 0)
		goto out;
	if (!job_state_final(j->state)) {
		error = error_set(ERR_INVALID, "job #%lld is %s: it can be "
		    "retried once it has ended", (long long)id,
		    job_state_name(j->state));
		goto out;
	}
	if ((error = run_id(s, Q_RETRY, sql, "retry", new_id, ARGS(
	    arg_int(id), arg_int(now_ms()), arg_text(by ? by->by : NULL)))) < 0 ||
	    (error = audit_record(s, *new_id, by)) < 0)
		goto out;
	queued(s);
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	job_free(j);
	return error;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

int store_recover(struct store *s, pid_t worker, const char *host,
    pid_t **pgids, size_t *n)
{
	int64_t *deploys = NULL, now = now_ms();
	size_t ndeploys = 0;
	struct stmt *st;
	int error;

	*pgids = NULL;
	*n = 0;
	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = pid_query(s, stmt_bound(s, Q_REC_PGIDS, sql,
	    ARGS(arg_int(worker), arg_text(host))), pgids, n)) < 0 ||
	    (error = job_move(s, Q_REC_CANCELED, sql, JOB_RUNNING, JOB_CANCELED,
	    ARGS(arg_int(worker), arg_int(now), arg_text(host)), NULL)) < 0)
		goto out;
	if (!(st = stmt_bound(s, Q_REC_DEPLOY_IDS, sql,
	    ARGS(arg_int(worker), arg_text(host))))) {
		error = -1;
		goto out;
	}
	if ((error = ids_of(s, st, &deploys, &ndeploys)) < 0 ||
	    (error = job_move(s, Q_REC_DEPLOYS, sql, JOB_RUNNING,
	    JOB_INTERRUPTED, ARGS(arg_int(worker), arg_int(now),
	    arg_text(host)), NULL)) < 0)
		goto out;
	for (size_t i = 0; i < ndeploys; i++)	/* each ends 'interrupted' */
		if ((error = outbox_job_ended(s, deploys[i])) < 0)
			goto out;
	if ((error = run(s, Q_REC_ARTS, sql, "recover",
	    ARGS(arg_int(worker), arg_text(host)))) < 0 ||
	    (error = run(s, Q_REC_STAGES, sql, "recover",
	    ARGS(arg_int(worker), arg_text(host)))) < 0 ||
	    (error = job_move(s, Q_REC_JOBS, sql, JOB_RUNNING, JOB_QUEUED,
	    ARGS(arg_int(worker), arg_text(host)), NULL)) < 0)
		goto out;
	error = commit(s);
out:
	free(deploys);
	if (error < 0) {
		rollback(s);
		free(*pgids);
		*pgids = NULL;
		*n = 0;
	}
	return error;
}
