/*
 * The runner's own records beside its jobs (admin.h): settings, the
 * figures of /metrics, and the statements a collection (retention.h)
 * reads and removes records with. The rules of what stays are
 * retention.c's.
 */
#include "admin.h"
#include "state.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum q {
	Q_SET_GET = BASE_ADMIN, Q_SET_PUT, Q_SET_DEL, Q_GC_JOBS, Q_GC_ENVS,
	Q_GC_PENDING, Q_GC_UNRETRY, Q_GC_STAGES, Q_GC_ARTS, Q_GC_CHECKS,
	Q_GC_NOTIFS, Q_GC_EVENTS, Q_GC_MAY, Q_GC_JOB,
	Q_STAT_JOBS, Q_STAT_DEPLOYS, Q_STAT_JOB_TIMES, Q_STAT_STAGE_TIMES,
	Q_GC_SERVICES, Q_GC_UNPREV, Q_GC_UNROLL, Q_GC_MAY_DEPLOY,
	Q_ADMIN_END
};
_Static_assert((int)Q_ADMIN_END <= (int)BASE_HOSTS, "admin statements overlap");

#define ENDED "state NOT IN (" SQ(N_QUEUED) ", " SQ(N_RUNNING) ")"

/* the bounds of the duration histograms, in ms (stats_bounds()) */
#define LE(d, n) "sum(CASE WHEN " d " <= " n " THEN 1 ELSE 0 END), "
#define BUCKETS(d) LE(d, "1000") LE(d, "5000") LE(d, "10000") \
	LE(d, "30000") LE(d, "60000") LE(d, "300000") LE(d, "900000") \
	LE(d, "1800000") LE(d, "3600000") "count(*), sum(" d ")"
static const int64_t bounds_ms[] = { 1000, 5000, 10000, 30000, 60000,
	300000, 900000, 1800000, 3600000 };

STORE_SQL(admin) = {
	/* in the order of their groups, on both engines */
	[Q_STAT_JOBS] = "SELECT kind, state, count(*) FROM jobs GROUP BY kind, "
	    "state ORDER BY kind, state",
	[Q_STAT_DEPLOYS] = "SELECT repo, env, state, count(*) FROM jobs WHERE "
	    "kind = 'deploy' AND " ENDED " GROUP BY repo, env, state ORDER BY repo, env, state",
	[Q_STAT_JOB_TIMES] = "SELECT repo, kind, " BUCKETS("(finished_ms - "
	    "started_ms)") " FROM jobs WHERE finished_ms IS NOT NULL AND "
	    "started_ms IS NOT NULL GROUP BY repo, kind ORDER BY repo, kind",
	[Q_STAT_STAGE_TIMES] = "SELECT j.repo, s.name, " BUCKETS("(s.finished_ms"
	    " - s.started_ms)") " FROM stages s JOIN jobs j ON j.id = s.job_id "
	    "WHERE j.kind = 'build' AND s.finished_ms IS NOT NULL AND "
	    "s.started_ms IS NOT NULL GROUP BY j.repo, s.name ORDER BY "
	    "j.repo, s.name",
	[Q_SET_GET] = "SELECT value, updated_ms FROM settings WHERE key = ?1",
	[Q_SET_PUT] = "INSERT INTO settings (key, value, updated_ms) VALUES "
	    "(?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = ?2, "
	    "updated_ms = ?3",
	[Q_SET_DEL] = "DELETE FROM settings WHERE key = ?1",
	/* grouped as retention counts: builds by repository and branch,
	 * deployments by repository and environment, newest first */
	[Q_GC_JOBS] = "SELECT id, kind, state, coalesce(finished_ms, "
	    "created_ms), source_job, previous, release_dir IS NOT NULL, "
	    "repo || char(1) || CASE kind WHEN 'build' THEN ref ELSE env END, "
	    "rollback_to, tag IS NOT NULL, env "
	    "FROM jobs ORDER BY kind, repo, CASE kind WHEN 'build' THEN ref "
	    "ELSE env END, id DESC",
	/* the deployments that started what still runs */
	[Q_GC_SERVICES] = "SELECT DISTINCT job_id FROM services",
	[Q_GC_ENVS] = "SELECT release, last FROM environments",
	/* events not yet routed are notifications not yet made */
	[Q_GC_PENDING] = "SELECT job_id FROM notifications WHERE state = "
	    SQ(N_PENDING) " UNION SELECT job_id FROM events WHERE routed = 0",
	[Q_GC_UNRETRY] = "UPDATE jobs SET retry_of = NULL WHERE retry_of = ?1",
	/* a kept deployment forgets the removed one it replaced */
	[Q_GC_UNPREV] = "UPDATE jobs SET previous = NULL WHERE previous = ?1",
	[Q_GC_UNROLL] = "UPDATE jobs SET rollback_to = NULL WHERE "
	    "rollback_to = ?1",
	[Q_GC_STAGES] = "DELETE FROM stages WHERE job_id = ?1",
	[Q_GC_ARTS] = "DELETE FROM artifacts WHERE job_id = ?1",
	[Q_GC_CHECKS] = "DELETE FROM checks WHERE job_id = ?1",
	[Q_GC_NOTIFS] = "DELETE FROM notifications WHERE job_id = ?1",
	[Q_GC_EVENTS] = "DELETE FROM events WHERE job_id = ?1",
	/* checked again as it goes: ended, nothing came from it, nothing
	 * of it waits to be delivered */
	[Q_GC_JOB] = "DELETE FROM jobs WHERE id = ?1",
	[Q_GC_MAY] = "SELECT count(*) FROM jobs WHERE id = ?1 AND kind = 'build' AND "
	    ENDED " AND NOT EXISTS (SELECT 1 FROM jobs d WHERE d.source_job = "
	    "?1) AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.job_id "
	    "= ?1 AND n.state = " SQ(N_PENDING) ") AND NOT EXISTS (SELECT 1 "
	    "FROM events e WHERE e.job_id = ?1 AND e.routed = 0)",
	/* the same of a deployment: ended, not of a tag, not what an
	 * environment serves, served before or last ran, nor what a job
	 * under way (or newer than ?2, what was read) replaces or rolls back
	 * to, nothing of it waits to be delivered, none of its services
	 * runs */
	[Q_GC_MAY_DEPLOY] = "SELECT count(*) FROM jobs WHERE id = ?1 AND kind "
	    "= 'deploy' AND " ENDED " AND tag IS NULL AND NOT EXISTS (SELECT 1 "
	    "FROM environments e WHERE e.release = ?1 OR e.last = ?1) AND NOT "
	    "EXISTS (SELECT 1 FROM environments e JOIN jobs c ON c.id = "
	    "e.release WHERE c.previous = ?1) AND NOT EXISTS (SELECT 1 FROM "
	    "jobs d WHERE (d.previous = ?1 OR d.rollback_to = ?1) AND (d.id > "
	    "?2 OR d.state IN (" SQ(N_QUEUED) ", " SQ(N_RUNNING) "))) AND NOT "
	    "EXISTS (SELECT 1 FROM notifications n WHERE n.job_id = ?1 AND "
	    "n.state = " SQ(N_PENDING) ") AND NOT EXISTS (SELECT 1 FROM events "
	    "e WHERE e.job_id = ?1 AND e.routed = 0) AND NOT EXISTS (SELECT 1 "
	    "FROM services v WHERE v.job_id = ?1)",
};

int store_setting_get(struct store *s, const char *key, char **value,
    int64_t *ms)
{
	struct stmt *st = stmt_bound(s, Q_SET_GET, sql, ARGS(arg_text(key)));
	int rc;

	if (value)
		*value = NULL;
	if (!st)
		return -1;
	rc = step(st);
	if (rc == STEP_ROW) {
		if (value)
			*value = col_text(st, 0);
		if (ms)
			*ms = col_int64(st, 1);
	}
	reset(st);
	if (rc != STEP_ROW && rc != STEP_DONE)
		return db_error(s, "read a setting");
	return rc == STEP_ROW;
}

int store_setting_set(struct store *s, const char *key, const char *value)
{
	if (!value)
		return run(s, Q_SET_DEL, sql, "remove a setting",
		    ARGS(arg_text(key)));
	return run(s, Q_SET_PUT, sql, "change a setting",
	    ARGS(arg_text(key), arg_text(value), arg_int(now_ms())));
}

int store_gc_jobs(struct store *s,
    int (*each)(void *arg, const struct gc_row *r), void *arg)
{
	struct stmt *st = stmt(s, Q_GC_JOBS, sql);
	int rc, error = 0;

	if (!st)
		return -1;
	while (error == 0 && (rc = step(st)) == STEP_ROW) {
		const char *state = col_str(st, 2), *grp = col_str(st, 7);
		struct gc_row r = {
			.id = col_int64(st, 0),
			.deploy = !strcmp(col_str(st, 1), "deploy"),
			.ended = strcmp(state, N_QUEUED) && strcmp(state, N_RUNNING),
			.time_ms = col_int64(st, 3),
			.source = col_int64(st, 4),
			.previous = col_int64(st, 5),
			.release = col_int(st, 6) != 0,
			.group = grp ? grp : "",
			.rollback_to = col_int64(st, 8),
			.tag = col_int(st, 9) != 0,
			.env = col_str(st, 10),
		};
		error = each(arg, &r);
	}
	reset(st);
	if (error < 0)
		return error;
	if (rc != STEP_DONE)
		return db_error(s, "read the jobs");
	return 0;
}

int store_gc_kept(struct store *s, enum gc_kept which, int64_t **ids,
    size_t *n)
{
	struct stmt *st = stmt(s, which == GC_KEPT_PENDING ? Q_GC_PENDING :
	    Q_GC_SERVICES, sql);

	*ids = NULL;
	*n = 0;
	return st ? ids_of(s, st, ids, n) : -1;
}

int store_gc_envs(struct store *s, int64_t **pairs, size_t *n)
{
	struct stmt *st = stmt(s, Q_GC_ENVS, sql);
	int rc;

	*pairs = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*pairs = xrealloc(*pairs, (*n + 1) * 2 * sizeof(**pairs));
		(*pairs)[2 * *n] = col_int64(st, 0);
		(*pairs)[2 * *n + 1] = col_int64(st, 1);
		(*n)++;
	}
	reset(st);
	if (rc != STEP_DONE) {
		free(*pairs);
		*pairs = NULL;
		*n = 0;
		return db_error(s, "read the environments");
	}
	return 0;
}

int store_gc_remove(struct store *s, int64_t id, int deploy, int64_t max_id)
{
	static const int steps[] = { Q_GC_UNRETRY, Q_GC_UNPREV, Q_GC_UNROLL,
		Q_GC_STAGES, Q_GC_ARTS, Q_GC_CHECKS, Q_GC_NOTIFS, Q_GC_EVENTS,
		Q_GC_JOB };
	int error = 0;

	/* what was read may have changed since: a job that must stay after
	 * all does */
	int64_t may = deploy ? first_id(s, Q_GC_MAY_DEPLOY, sql,
	    ARGS(arg_int(id), arg_int(max_id))) : first_id(s, Q_GC_MAY, sql,
	    ARGS(arg_int(id)));

	if (may != 1)
		return may < 0 ? (int)may : 0;
	for (size_t k = 0; k < sizeof(steps) / sizeof(*steps) && error == 0;
	    k++)
		error = run(s, steps[k], sql, deploy ? "remove a deployment" :
		    "remove a build", ARGS(arg_int(id)));
	return error < 0 ? error : 1;
}

int store_gc_begin(struct store *s)
{
	return begin(s);
}

int store_gc_commit(struct store *s)
{
	return commit(s);
}

void store_gc_rollback(struct store *s)
{
	rollback(s);
}

size_t stats_bounds(const int64_t **ms)
{
	*ms = bounds_ms;
	return sizeof(bounds_ms) / sizeof(*bounds_ms);
}

int store_stats(struct store *s, enum stat_kind k, struct stat_row **out,
    size_t *n)
{
	static const int q[] = { [STAT_JOBS] = Q_STAT_JOBS,
		[STAT_DEPLOYS] = Q_STAT_DEPLOYS,
		[STAT_JOB_TIMES] = Q_STAT_JOB_TIMES,
		[STAT_STAGE_TIMES] = Q_STAT_STAGE_TIMES };
	static const int ntext[] = { [STAT_JOBS] = 2, [STAT_DEPLOYS] = 3,
		[STAT_JOB_TIMES] = 2, [STAT_STAGE_TIMES] = 2 };
	struct stmt *st = stmt(s, q[k], sql);
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct stat_row *r;
		int cols = col_count(st);
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		r = &(*out)[(*n)++];
		memset(r, 0, sizeof(*r));
		for (int c = 0; c < cols && c < ntext[k] + STAT_NUMS; c++) {
			if (c < ntext[k])
				r->text[c] = col_text(st, c);
			else
				r->num[c - ntext[k]] = col_int64(st, c);
		}
	}
	reset(st);
	if (rc != STEP_DONE) {
		stats_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read the figures");
	}
	return 0;
}

void stats_free(struct stat_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++)
			free(v[i].text[c]);
	free(v);
}
