/*
 * Build hosts and their leases (hosts.h).
 */
#include "hosts.h"
#include "jobs.h"
#include "store_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum q {
	H_RENEW = BASE_HOSTS, H_EXPIRED, H_PGIDS, H_CANCELED, H_DEPLOY,
	H_ARTS, H_STAGES, H_REQUEUE, H_BEAT, H_DRAIN, H_LIST, H_RUNNING,
	H_NEED, H_HAND_ON, H_END
};
_Static_assert((int)H_END <= (int)STMT_SLOTS, "host statements overlap");

STORE_SQL(hosts) = {
	/* leases are kept by the store's clock (NOW_MS: PostgreSQL's on a
	 * shared store), whatever each host's says */
	[H_RENEW] = "UPDATE jobs SET lease_ms = " NOW_MS " + ?5 WHERE id = ?1 "
	    "AND attempt = ?2 AND worker_pid = ?3 AND host IS ?4 AND state = "
	    "'running'",
	/* PostgreSQL: each row stays locked until the commit, so that the
	 * job cannot be renewed, ended, or taken back by another host (which
	 * passes it by) meanwhile */
	[H_EXPIRED] = "SELECT id, kind = 'deploy', host FROM jobs WHERE state = "
	    "'running' AND lease_ms < " NOW_MS " + ?1 ORDER BY id "
	    "/*pg: FOR UPDATE SKIP LOCKED*/",
	[H_PGIDS] = "SELECT pgid FROM stages WHERE job_id = ?1 AND state = "
	    "'running' AND pgid IS NOT NULL",
	/* job_move(): ?1 the state left, ?2 the state entered */
	[H_CANCELED] = "UPDATE jobs SET state = ?2, finished_ms = ?4, "
	    "worker_pid = NULL, lease_ms = NULL, error = 'canceled (its host "
	    "lost its lease while it ran)' WHERE " STATE_LEFT(N_RUNNING)
	    " AND id = ?3 AND "
	    "cancel = 1",
	[H_DEPLOY] = "UPDATE jobs SET state = ?2, finished_ms = ?4, worker_pid "
	    "= NULL, lease_ms = NULL, error = 'its host lost its lease during "
	    "the deployment (no heartbeat); it is not re-run by itself' WHERE "
	    STATE_LEFT(N_RUNNING) " AND id = ?3",
	[H_ARTS] = "DELETE FROM artifacts WHERE job_id = ?1",
	[H_STAGES] = "DELETE FROM stages WHERE job_id = ?1",
	[H_REQUEUE] = "UPDATE jobs SET state = ?2, worker_pid = NULL, host = "
	    "NULL, lease_ms = NULL, started_ms = NULL WHERE "
	    STATE_LEFT(N_RUNNING) " AND "
	    "id = ?3",
	[H_BEAT] = "INSERT INTO hosts (name, labels, workers, started_ms, "
	    "heartbeat_ms) VALUES (?1, ?2, ?3, ?4, " NOW_MS ") ON CONFLICT "
	    "(name) DO "
	    "UPDATE SET labels = excluded.labels, workers = excluded.workers, "
	    "started_ms = excluded.started_ms, heartbeat_ms = "
	    "excluded.heartbeat_ms",
	[H_DRAIN] = "INSERT INTO hosts (name, started_ms, heartbeat_ms, "
	    "draining, drained_by, drained_ms) VALUES (?1, 0, 0, ?2, ?3, ?4) "
	    "ON CONFLICT (name) DO UPDATE SET draining = excluded.draining, "
	    "drained_by = excluded.drained_by, drained_ms = "
	    "excluded.drained_ms",
	[H_LIST] = "SELECT name, labels, workers, started_ms, heartbeat_ms, "
	    "draining, drained_by, drained_ms, " NOW_MS " - heartbeat_ms "
	    "FROM hosts ORDER BY name",
	[H_RUNNING] = "SELECT id FROM jobs WHERE state = 'running' AND host = "
	    "?1 ORDER BY id",
	[H_NEED] = "INSERT INTO job_needs (job_id, label) VALUES (?1, ?2) ON "
	    "CONFLICT DO NOTHING",
	[H_HAND_ON] = "UPDATE jobs SET state = ?2, attempt = attempt - 1, "
	    "worker_pid = NULL, host = NULL, lease_ms = NULL, started_ms = "
	    "NULL, phase = NULL WHERE " STATE_LEFT(N_RUNNING)
	    " AND id = ?3",
};

int store_lease_renew(struct store *s, int64_t id, int attempt,
    pid_t worker, const char *host, int64_t lease_ms)
{
	int error = run(s, H_RENEW, sql, "renew a lease", ARGS(arg_int(id),
	    arg_int(attempt), arg_int(worker), arg_text(host),
	    arg_int(lease_ms)));

	return error < 0 ? error : changes(s) > 0;
}

void expired_free(struct expired *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].host);
	free(v);
}

static int expired_of(struct store *s, int64_t ahead_ms,
    struct expired **out, size_t *n)
{
	struct stmt *st = stmt_bound(s, H_EXPIRED, sql,
	    ARGS(arg_int(ahead_ms)));
	int rc;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].id = col_int64(st, 0);
		(*out)[*n].deploy = col_int(st, 1);
		(*out)[*n].host = col_text(st, 2);
		(*n)++;
	}
	reset(st);
	return rc == STEP_DONE ? 0 : db_error(s, "expired leases");
}

/* Take back one job whose lease ended, in the caller's transaction. */
static int take_back(struct store *s, const struct expired *x, int64_t now)
{
	int moved = 0, error;

	if ((error = job_move(s, H_CANCELED, sql, JOB_RUNNING, JOB_CANCELED,
	    ARGS(arg_int(x->id), arg_int(now)), &moved)) < 0)
		return error;
	if (moved)
		return outbox_job_ended(s, x->id);
	if (x->deploy) {
		if ((error = job_move(s, H_DEPLOY, sql, JOB_RUNNING,
		    JOB_INTERRUPTED, ARGS(arg_int(x->id), arg_int(now)),
		    NULL)) < 0)
			return error;
		return outbox_job_ended(s, x->id);
	}
	/* a build runs again: what the lost attempt recorded goes */
	if ((error = run(s, H_ARTS, sql, "take back",
	    ARGS(arg_int(x->id)))) < 0 || (error = run(s, H_STAGES, sql,
	    "take back", ARGS(arg_int(x->id)))) < 0)
		return error;
	return job_move(s, H_REQUEUE, sql, JOB_RUNNING, JOB_QUEUED,
	    ARGS(arg_int(x->id)), NULL);
}

int store_leases_expire(struct store *s, int64_t ahead_ms, const char *host,
    struct expired **jobs, size_t *njobs, pid_t **pgids, size_t *npgids)
{
	int64_t now = now_ms();
	int error;

	*jobs = NULL;
	*njobs = 0;
	*pgids = NULL;
	*npgids = 0;
	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = expired_of(s, ahead_ms, jobs, njobs)) < 0)
		goto out;
	for (size_t i = 0; i < *njobs; i++) {
		const struct expired *x = &(*jobs)[i];
		if (host && x->host && !strcmp(x->host, host)) {
			int64_t *ids = NULL;
			size_t n = 0;
			if ((error = ids_of(s, stmt_bound(s, H_PGIDS, sql,
			    ARGS(arg_int(x->id))), &ids, &n)) < 0)
				goto out;
			*pgids = xrealloc(*pgids, (*npgids + n + 1) *
			    sizeof(**pgids));
			for (size_t k = 0; k < n; k++)
				(*pgids)[(*npgids)++] = (pid_t)ids[k];
			free(ids);
		}
		if ((error = take_back(s, x, now)) < 0)
			goto out;
	}
	if ((error = commit(s)) == 0)
		return 0;
out:
	rollback(s);
	expired_free(*jobs, *njobs);
	free(*pgids);
	*jobs = NULL;
	*njobs = 0;
	*pgids = NULL;
	*npgids = 0;
	return error;
}

int store_job_hand_on(struct store *s, int64_t id, const char *const *needs,
    size_t n)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	for (size_t i = 0; i < n; i++)
		if ((error = run(s, H_NEED, sql, "record needed labels",
		    ARGS(arg_int(id), arg_text(needs[i])))) < 0)
			goto out;
	if ((error = run(s, H_STAGES, sql, "hand on", ARGS(arg_int(id)))) < 0 ||
	    (error = job_move(s, H_HAND_ON, sql, JOB_RUNNING, JOB_QUEUED,
	    ARGS(arg_int(id)), NULL)) < 0)
		goto out;
	return commit(s);
out:
	rollback(s);
	return error;
}

int store_host_beat(struct store *s, const char *name, const char *labels,
    int workers, int64_t started_ms)
{
	return run(s, H_BEAT, sql, "host heartbeat", ARGS(arg_text(name),
	    arg_text(labels ? labels : ""), arg_int(workers),
	    arg_int(started_ms)));
}

int store_host_drain(struct store *s, const char *name, int on,
    const char *by)
{
	return run(s, H_DRAIN, sql, "drain", ARGS(arg_text(name),
	    arg_int(on != 0), arg_text(on ? by : NULL),
	    arg_int(on ? now_ms() : 0)));
}

void hosts_free(struct host_rec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].labels);
		free(v[i].drained_by);
		free(v[i].running);
	}
	free(v);
}

int store_hosts(struct store *s, struct host_rec **out, size_t *n)
{
	struct stmt *st = stmt(s, H_LIST, sql);
	int rc, error = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct host_rec *h;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		h = &(*out)[(*n)++];
		memset(h, 0, sizeof(*h));
		h->name = col_text(st, 0);
		h->labels = col_text(st, 1);
		h->workers = col_int(st, 2);
		h->started_ms = col_int64(st, 3);
		h->heartbeat_ms = col_int64(st, 4);
		h->draining = col_int(st, 5);
		h->drained_by = col_text(st, 6);
		h->drained_ms = col_int64(st, 7);
		h->heartbeat_age_ms = col_int64(st, 8);
	}
	reset(st);
	if (rc != STEP_DONE)
		error = db_error(s, "hosts");
	for (size_t i = 0; !error && i < *n; i++)
		error = ids_of(s, stmt_bound(s, H_RUNNING, sql,
		    ARGS(arg_text((*out)[i].name))), &(*out)[i].running,
		    &(*out)[i].nrunning);
	if (error < 0) {
		hosts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return error;
}
