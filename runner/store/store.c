/*
 * SQLite behind the store interface. One connection per process, WAL,
 * synchronous=FULL (a commit is on disk before it returns: the hook's
 * enqueue must survive a power cut the moment the push is accepted),
 * prepared statements kept for the life of the connection, and a schema
 * version with forward migrations.
 */
#include "store.h"
#include "util.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum q {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
	Q_ENQ_INSERT, Q_ENQ_FIND,
	Q_SUPERSEDE, Q_SUPERSEDE_DEPLOY, Q_CLAIM,
	Q_JOB_GET, Q_STAGES_GET, Q_ARTS_GET,
	Q_LIST_ACTIVE, Q_LIST_DONE,
	Q_SUBJECT, Q_STAGES_DEL, Q_STAGE_INS, Q_STAGE_START, Q_STAGE_END,
	Q_JOB_END, Q_STAGES_SKIP, Q_ART_INS,
	Q_CANCEL_QUEUED, Q_CANCEL_RUNNING, Q_CANCEL_GET, Q_CANCEL_PIDS,
	Q_RETRY,
	Q_REC_PGIDS, Q_REC_CANCELED, Q_REC_STAGES, Q_REC_ARTS, Q_REC_JOBS,
	Q_REC_DEPLOYS, Q_DEPLOY_INS, Q_DEPLOY_RESOLVE, Q_STAGE_COUNT,
	Q_CHECK_INS, Q_CHECKS_GET, Q_PASSED_BUILD, Q_HEALTHY_DEPLOY,
	Q_TAG_DEPLOYED, Q_ENV_SET, Q_ENV_DEPLOYING, Q_ENV_GET, Q_ENV_LIST,
	Q_RELEASES, Q_JOB_END_DEPLOY, Q_SYNC_FULL, Q_SYNC_NORMAL,
	Q_EVENT_JOB, Q_EVENT_INS, Q_REC_DEPLOY_IDS, Q_EVENTS_UNROUTED,
	Q_EVENT_ROUTED, Q_NOTIF_INS, Q_NOTIF_DUE, Q_NOTIF_RESULT, Q_NOTIF_JOB,
	Q_NOTIF_OPEN, Q_NOTIF_COUNT, Q_NOTIF_LAST_ACTION, Q_EVENTS_ALL_ROUTED,
	Q_CLAIM_SYNC, Q_MANIFEST_SET, Q_MANIFEST_GET, Q_QUEUED, Q_UNSENT,
	Q_MAX
};

#define NOTIF_COLS "id, event_id, job_id, target, service, event, action, " \
	"dedup, body, state, error, attempts, status, next_ms, created_ms, " \
	"done_ms"

#define JOB_COLS "id, repo, ref, old_commit, commit_id, state, error, " \
	"subject, attempt, cancel, worker_pid, retry_of, created_ms, " \
	"started_ms, finished_ms, kind, env, tag, tag_object, forced_by, " \
	"release_dir, notes, figures, source_job, rollback_to, previous"

/* Jobs that a worker owns right now: worker 0 means "any worker". */
#define OWNED "state = 'running' AND (?1 = 0 OR worker_pid = ?1)"

static const char *const sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_ENQ_INSERT] = "INSERT OR IGNORE INTO jobs (repo, ref, old_commit, "
	    "commit_id, dedup, created_ms, kind, env, tag) VALUES (?1, ?2, ?3, "
	    "?4, ?1 || char(0) || ?2 || char(0) || ?3 || char(0) || ?4, ?5, "
	    "CASE WHEN ?6 IS NULL THEN 'build' ELSE 'deploy' END, ?6, ?7)",
	[Q_ENQ_FIND] = "SELECT id FROM jobs WHERE dedup = ?1 || char(0) || ?2 "
	    "|| char(0) || ?3 || char(0) || ?4",
	/* builds: by a newer push to the same ref; automatic deploys: by a
	 * newer automatic deploy to the same environment. Retries, tags and
	 * deploys by hand are asked for explicitly and never superseded. Two
	 * statements, so each lookup of a newer job uses an index. */
	[Q_SUPERSEDE] = "UPDATE jobs SET state = 'superseded', finished_ms = ?1 "
	    "WHERE state = 'queued' AND kind = 'build' AND retry_of IS NULL AND "
	    "EXISTS (SELECT 1 FROM jobs n WHERE n.repo = jobs.repo AND n.ref = "
	    "jobs.ref AND n.id > jobs.id AND n.kind = 'build' AND n.retry_of IS "
	    "NULL)",
	[Q_SUPERSEDE_DEPLOY] = "UPDATE jobs SET state = 'superseded', "
	    "finished_ms = ?1 WHERE state = 'queued' AND kind = 'deploy' AND tag "
	    "IS NULL AND forced_by IS NULL AND rollback_to IS NULL AND EXISTS "
	    "(SELECT 1 FROM jobs n WHERE n.kind = 'deploy' AND n.repo = "
	    "jobs.repo AND n.env = jobs.env AND n.id > jobs.id AND n.tag IS NULL "
	    "AND n.forced_by IS NULL AND n.rollback_to IS NULL)",
	/* deployments to one environment never run at the same time */
	[Q_CLAIM] = "UPDATE jobs SET state = 'running', worker_pid = ?1, "
	    "started_ms = ?2, attempt = attempt + 1, error = NULL WHERE id = "
	    "(SELECT id FROM jobs q WHERE state = 'queued' AND (kind = 'build' "
	    "OR NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running' AND "
	    "r.kind = 'deploy' AND r.repo = q.repo AND r.env = q.env)) ORDER BY "
	    "id LIMIT 1) RETURNING id",
	/* a write only to make a relaxed claim durable (see store_claim) */
	[Q_CLAIM_SYNC] = "UPDATE jobs SET worker_pid = worker_pid WHERE id = ?1",
	[Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
	[Q_STAGES_GET] = "SELECT idx, name, state, exit_code, error, log_path, "
	    "started_ms, finished_ms FROM stages WHERE job_id = ?1 ORDER BY idx",
	[Q_ARTS_GET] = "SELECT path, size, sha256, files FROM artifacts WHERE "
	    "job_id = ?1 ORDER BY id",
	[Q_LIST_ACTIVE] = "SELECT " JOB_COLS " FROM jobs WHERE state IN "
	    "('queued', 'running') ORDER BY id",
	[Q_LIST_DONE] = "SELECT " JOB_COLS " FROM jobs WHERE state NOT IN "
	    "('queued', 'running') ORDER BY id DESC LIMIT ?1",
	[Q_SUBJECT] = "UPDATE jobs SET subject = ?2 WHERE id = ?1",
	[Q_STAGES_DEL] = "DELETE FROM stages WHERE job_id = ?1",
	[Q_STAGE_INS] = "INSERT INTO stages (job_id, idx, name, log_path) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[Q_STAGE_START] = "UPDATE stages SET state = 'running', pgid = ?3, "
	    "started_ms = ?4 WHERE job_id = ?1 AND idx = ?2",
	[Q_STAGE_END] = "UPDATE stages SET state = ?3, exit_code = ?4, "
	    "error = ?5, finished_ms = ?6 WHERE job_id = ?1 AND idx = ?2",
	[Q_JOB_END] = "UPDATE jobs SET state = ?2, error = ?3, finished_ms = ?4 "
	    "WHERE id = ?1 AND state = 'running'",
	[Q_STAGES_SKIP] = "UPDATE stages SET state = 'skipped' WHERE job_id = "
	    "?1 AND state = 'pending'",
	[Q_ART_INS] = "INSERT INTO artifacts (job_id, path, size, sha256, "
	    "files) VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_CANCEL_QUEUED] = "UPDATE jobs SET state = 'canceled', finished_ms = "
	    "?2, error = 'canceled before it started' WHERE id = ?1 AND "
	    "state = 'queued'",
	[Q_CANCEL_RUNNING] = "UPDATE jobs SET cancel = 1 WHERE id = ?1 AND "
	    "state = 'running'",
	[Q_CANCEL_GET] = "SELECT cancel FROM jobs WHERE id = ?1",
	[Q_CANCEL_PIDS] = "SELECT worker_pid FROM jobs WHERE state = 'running' "
	    "AND cancel = 1 AND worker_pid IS NOT NULL",
	[Q_RETRY] = "INSERT INTO jobs (repo, ref, old_commit, commit_id, "
	    "retry_of, created_ms) SELECT repo, ref, old_commit, commit_id, "
	    "id, ?2 FROM jobs WHERE id = ?1",
	[Q_REC_PGIDS] = "SELECT s.pgid FROM stages s JOIN jobs j ON j.id = "
	    "s.job_id WHERE j." OWNED " AND s.state = 'running' AND "
	    "s.pgid IS NOT NULL",
	[Q_REC_CANCELED] = "UPDATE jobs SET state = 'canceled', finished_ms = "
	    "?2, error = 'canceled (the daemon stopped while it ran)' WHERE "
	    OWNED " AND cancel = 1",
	/* an artifact recorded just before the daemon died, the job not yet
	 * ended: the re-run records its own */
	[Q_REC_ARTS] = "DELETE FROM artifacts WHERE job_id IN (SELECT id FROM "
	    "jobs WHERE kind = 'build' AND " OWNED ")",
	[Q_REC_STAGES] = "DELETE FROM stages WHERE job_id IN (SELECT id FROM "
	    "jobs WHERE kind = 'build' AND " OWNED ")",
	[Q_REC_JOBS] = "UPDATE jobs SET state = 'queued', worker_pid = NULL, "
	    "started_ms = NULL WHERE kind = 'build' AND " OWNED,
	/* a deployment is never re-run by itself: it may have half happened */
	[Q_REC_DEPLOYS] = "UPDATE jobs SET state = 'interrupted', finished_ms = "
	    "?2, error = 'the daemon died during the deployment; it is not "
	    "re-run by itself' WHERE kind = 'deploy' AND " OWNED,
	[Q_DEPLOY_INS] = "INSERT INTO jobs (repo, ref, old_commit, commit_id, "
	    "kind, env, source_job, forced_by, rollback_to, created_ms) VALUES "
	    "(?1, ?2, '', ?3, 'deploy', ?4, ?5, ?6, ?7, ?8)",
	[Q_DEPLOY_RESOLVE] = "UPDATE jobs SET commit_id = ?2, source_job = ?3, "
	    "tag_object = ?4, release_dir = ?5, notes = ?6, previous = ?7, "
	    "subject = ?8, figures = ?9 WHERE id = ?1",
	[Q_STAGE_COUNT] = "SELECT count(*) FROM stages WHERE job_id = ?1",
	[Q_CHECK_INS] = "INSERT INTO checks (job_id, name, status, latency_ms, "
	    "ok, error, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_CHECKS_GET] = "SELECT name, status, latency_ms, ok, error, at_ms "
	    "FROM checks WHERE job_id = ?1 ORDER BY id",
	[Q_PASSED_BUILD] = "SELECT j.id FROM jobs j WHERE j.kind = 'build' AND "
	    "j.state = 'passed' AND j.repo = ?1 AND j.commit_id = ?2 AND EXISTS "
	    "(SELECT 1 FROM artifacts a WHERE a.job_id = j.id) ORDER BY j.id "
	    "DESC LIMIT 1",
	[Q_HEALTHY_DEPLOY] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    "state = 'healthy' AND repo = ?1 AND env = ?2 AND commit_id = ?3 "
	    "ORDER BY id DESC LIMIT 1",
	[Q_TAG_DEPLOYED] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    "repo = ?1 AND id != ?4 AND (tag = ?2 OR tag_object = ?3) AND state "
	    "NOT IN ('queued', 'rejected', 'superseded', 'canceled') ORDER BY id "
	    "LIMIT 1",
	[Q_ENV_SET] = "INSERT INTO environments (repo, name, state, release, "
	    "last, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
	    "(repo, name) DO UPDATE SET state = ?3, release = coalesce(?4, "
	    "release), last = ?5, updated_ms = ?6",
	[Q_ENV_DEPLOYING] = "INSERT INTO environments (repo, name, state, last, "
	    "updated_ms) VALUES (?1, ?2, 'deploying', ?3, ?4) ON CONFLICT "
	    "(repo, name) DO UPDATE SET state = 'deploying', last = ?3, "
	    "updated_ms = ?4",
	[Q_ENV_GET] = "SELECT repo, name, state, release, last, updated_ms FROM "
	    "environments WHERE repo = ?1 AND name = ?2",
	[Q_ENV_LIST] = "SELECT repo, name, state, release, last, updated_ms "
	    "FROM environments ORDER BY repo, name",
	[Q_RELEASES] = "SELECT id FROM jobs WHERE kind = 'deploy' AND env = ?1 "
	    "AND release_dir IS NOT NULL ORDER BY id DESC",
	[Q_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[Q_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[Q_JOB_END_DEPLOY] = "UPDATE jobs SET state = ?2, error = ?3, "
	    "finished_ms = ?4 WHERE id = ?1 AND state = 'running'",
	/* what an ended job is, and how the ref's build before it ended */
	[Q_EVENT_JOB] = "SELECT kind, state, env, (SELECT p.state FROM jobs p "
	    "WHERE p.kind = 'build' AND p.repo = j.repo AND p.ref = j.ref AND "
	    "p.id < j.id AND p.state IN ('passed', 'failed', 'error') ORDER BY "
	    "p.id DESC LIMIT 1) FROM jobs j WHERE id = ?1",
	[Q_EVENT_INS] = "INSERT INTO events (job_id, kind, tags, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[Q_REC_DEPLOY_IDS] = "SELECT id FROM jobs WHERE kind = 'deploy' AND "
	    OWNED,
	[Q_EVENTS_UNROUTED] = "SELECT id, job_id, kind, tags, created_ms FROM "
	    "events WHERE routed = 0 ORDER BY id LIMIT ?1",
	[Q_EVENT_ROUTED] = "UPDATE events SET routed = 1 WHERE id = ?1",
	[Q_EVENTS_ALL_ROUTED] = "UPDATE events SET routed = 1 WHERE routed = 0",
	[Q_NOTIF_INS] = "INSERT INTO notifications (event_id, job_id, target, "
	    "service, event, action, dedup, body, next_ms, created_ms) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
	[Q_NOTIF_DUE] = "SELECT " NOTIF_COLS " FROM notifications WHERE state "
	    "= 'pending' ORDER BY next_ms, id LIMIT 1",
	[Q_NOTIF_RESULT] = "UPDATE notifications SET state = ?2, attempts = "
	    "?3, status = ?4, error = ?5, next_ms = ?6, done_ms = ?7 WHERE id = "
	    "?1",
	[Q_NOTIF_JOB] = "SELECT " NOTIF_COLS " FROM notifications WHERE job_id "
	    "= ?1 ORDER BY id",
	[Q_NOTIF_OPEN] = "SELECT " NOTIF_COLS " FROM notifications WHERE state "
	    "IN ('pending', 'dead') ORDER BY id DESC LIMIT ?1",
	[Q_NOTIF_COUNT] = "SELECT count(*) FROM notifications WHERE state = ?1",
	[Q_QUEUED] = "SELECT count(*) FROM jobs WHERE state = 'queued'",
	[Q_UNSENT] = "SELECT (SELECT count(*) FROM events WHERE routed = 0) + "
	    "(SELECT count(*) FROM notifications WHERE state = 'pending')",
	[Q_MANIFEST_SET] = "UPDATE jobs SET manifest = ?2 WHERE id = ?1",
	[Q_MANIFEST_GET] = "SELECT manifest FROM jobs WHERE id = ?1",
	[Q_NOTIF_LAST_ACTION] = "SELECT action FROM notifications WHERE target "
	    "= ?1 AND dedup = ?2 ORDER BY id DESC LIMIT 1",
};

static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  repo TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  old_commit TEXT NOT NULL,"
	"  commit_id TEXT NOT NULL,"
	"  dedup TEXT UNIQUE,"
	"  state TEXT NOT NULL DEFAULT 'queued',"
	"  error TEXT,"
	"  subject TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  cancel INTEGER NOT NULL DEFAULT 0,"
	"  worker_pid INTEGER,"
	"  retry_of INTEGER REFERENCES jobs(id),"
	"  created_ms INTEGER NOT NULL,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER);"
	"CREATE INDEX jobs_state ON jobs (state, id);"
	"CREATE INDEX jobs_ref ON jobs (repo, ref, id);"
	"CREATE TABLE stages ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  idx INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending',"
	"  exit_code INTEGER,"
	"  error TEXT,"
	"  pgid INTEGER,"
	"  log_path TEXT NOT NULL,"
	"  started_ms INTEGER,"
	"  finished_ms INTEGER,"
	"  PRIMARY KEY (job_id, idx));"
	"CREATE TABLE artifacts ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  path TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  files INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX artifacts_job ON artifacts (job_id);",
	/* 2: deployments are jobs of kind 'deploy' */
	"ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'build';"
	"ALTER TABLE jobs ADD COLUMN env TEXT;"
	"ALTER TABLE jobs ADD COLUMN tag TEXT;"
	"ALTER TABLE jobs ADD COLUMN tag_object TEXT;"
	"ALTER TABLE jobs ADD COLUMN forced_by TEXT;"
	"ALTER TABLE jobs ADD COLUMN release_dir TEXT;"
	"ALTER TABLE jobs ADD COLUMN notes TEXT;"
	"ALTER TABLE jobs ADD COLUMN figures TEXT;"
	"ALTER TABLE jobs ADD COLUMN source_job INTEGER REFERENCES jobs(id);"
	"ALTER TABLE jobs ADD COLUMN rollback_to INTEGER REFERENCES jobs(id);"
	"ALTER TABLE jobs ADD COLUMN previous INTEGER REFERENCES jobs(id);"
	"CREATE INDEX jobs_deploy ON jobs (kind, repo, env, state);"
	"CREATE INDEX jobs_commit ON jobs (repo, commit_id);"
	"CREATE TABLE checks ("
	"  id INTEGER PRIMARY KEY,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  name TEXT NOT NULL,"
	"  status INTEGER,"
	"  latency_ms INTEGER,"
	"  ok INTEGER NOT NULL,"
	"  error TEXT,"
	"  at_ms INTEGER NOT NULL);"
	"CREATE INDEX checks_job ON checks (job_id);"
	"CREATE TABLE environments ("
	"  repo TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  release INTEGER REFERENCES jobs(id),"
	"  last INTEGER REFERENCES jobs(id),"
	"  updated_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, name));",
	/* 3: the outbox. An event is written with the state change that
	 * causes it; the daemon routes it to notifications and sends those. */
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  kind TEXT NOT NULL,"
	"  tags TEXT NOT NULL,"
	"  routed INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL);"
	"CREATE INDEX events_unrouted ON events (id) WHERE routed = 0;"
	"CREATE TABLE notifications ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event_id INTEGER NOT NULL REFERENCES events(id),"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id),"
	"  target TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  action TEXT,"
	"  dedup TEXT,"
	"  body TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending',"
	"  error TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER,"
	"  next_ms INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  done_ms INTEGER);"
	"CREATE INDEX notifications_due ON notifications (next_ms, id) "
	"  WHERE state = 'pending';"
	"CREATE INDEX notifications_state ON notifications (state, id);"
	"CREATE INDEX notifications_job ON notifications (job_id);"
	"CREATE INDEX notifications_dedup ON notifications (target, dedup, id);",
	/* a release's files, to tell when they changed (manifest.h) */
	"ALTER TABLE jobs ADD COLUMN manifest TEXT;",
};

struct store {
	sqlite3 *db;
	char *path;
	int relaxed;		/* synchronous=NORMAL between durable commits */
	int busy_ms;		/* how long a write waits for another writer */
	sqlite3_stmt *stmts[Q_MAX];
};

static void bind_text(sqlite3_stmt *st, int i, const char *v);

static int db_error(struct store *s, const char *what)
{
	int code = sqlite3_errcode(s->db);
	int error = -1;

	if (code == SQLITE_FULL)
		error = ERR_NOSPACE;
	else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		error = ERR_BUSY;
	return error_set(error, "store '%s': %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

/* The prepared statement for `q`, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(struct store *s, enum q q)
{
	sqlite3_stmt *st = s->stmts[q];

	if (!st) {
		if (sqlite3_prepare_v3(s->db, sql[q], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmts[q], NULL) != SQLITE_OK) {
			db_error(s, "prepare");
			return NULL;
		}
		return s->stmts[q];
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Run a statement that returns no rows. */
static int exec_stmt(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		int error = db_error(s, what);
		sqlite3_reset(st);
		return error;
	}
	sqlite3_reset(st);
	return 0;
}

/*
 * Bind the arguments `types` describes to statement `q` and run it: 'i' an
 * int64, 'n' an int64 that is NULL when negative, 'z' an id that is NULL
 * when 0, 't' a string or NULL.
 */
static sqlite3_stmt *vbind(struct store *s, enum q q, const char *types,
    va_list ap)
{
	sqlite3_stmt *st = stmt(s, q);
	int i = 1;

	if (!st)
		return NULL;
	for (const char *t = types; *t; t++, i++) {
		if (*t == 't') {
			bind_text(st, i, va_arg(ap, const char *));
		} else {
			int64_t v = va_arg(ap, int64_t);
			if ((*t == 'n' && v < 0) || (*t == 'z' && v == 0))
				sqlite3_bind_null(st, i);
			else
				sqlite3_bind_int64(st, i, v);
		}
	}
	return st;
}

static int run(struct store *s, enum q q, const char *what,
    const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = vbind(s, q, types, ap);
	va_end(ap);
	return st ? exec_stmt(s, st, what) : -1;
}

/* The first column of the first row of `q` (bound like run()), or 0. */
static int64_t first_id(struct store *s, enum q q, const char *types, ...)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	va_list ap;

	va_start(ap, types);
	st = vbind(s, q, types, ap);
	va_end(ap);
	if (!st)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

static int begin(struct store *s)
{
	return exec_stmt(s, stmt(s, Q_BEGIN), "begin");
}

/*
 * A transaction that must be on disk when it commits (an enqueue, a claim,
 * the end of a job or deployment). On a relaxed connection it switches to
 * synchronous=FULL for this commit; as the WAL is written in order, that
 * commit also makes every relaxed one before it durable.
 */
static int begin_durable(struct store *s)
{
	if (s->relaxed)
		exec_stmt(s, stmt(s, Q_SYNC_FULL), "synchronous");
	return begin(s);
}

static void relax_again(struct store *s)
{
	if (s->relaxed)
		exec_stmt(s, stmt(s, Q_SYNC_NORMAL), "synchronous");
}

static int commit(struct store *s)
{
	int error = exec_stmt(s, stmt(s, Q_COMMIT), "commit");

	relax_again(s);
	return error;
}

static void rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec_stmt(s, stmt(s, Q_ROLLBACK), "rollback");
	relax_again(s);
}

int store_relax(struct store *s)
{
	s->relaxed = 1;
	return exec_stmt(s, stmt(s, Q_SYNC_NORMAL), "synchronous");
}

static int exec_sql(struct store *s, const char *text, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, text, NULL, NULL, &msg) != SQLITE_OK) {
		int error = error_set(sqlite3_errcode(s->db) == SQLITE_FULL ?
		    ERR_NOSPACE : sqlite3_errcode(s->db) == SQLITE_BUSY ?
		    ERR_BUSY : -1, "store '%s': %s: %s", s->path, what,
		    msg ? msg : "unknown error");
		sqlite3_free(msg);
		return error;
	}
	return 0;
}

static int migrate(struct store *s)
{
	const int latest = (int)(sizeof(migrations) / sizeof(*migrations));
	sqlite3_stmt *st;
	int version = 0, error;

	if ((error = begin(s)) < 0)
		return error;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		error = db_error(s, "read schema version");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > latest) {
		error = error_set(ERR_INVALID, "store '%s' has schema version %d, "
		    "newer than this runner knows (%d): upgrade the runner",
		    s->path, version, latest);
		goto out;
	}
	for (int v = version; v < latest; v++) {
		char pragma[64];
		if ((error = exec_sql(s, migrations[v], "migrate")) < 0)
			goto out;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    v + 1);
		if ((error = exec_sql(s, pragma, "migrate")) < 0)
			goto out;
	}
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

/*
 * A PASSIVE checkpoint (SQLite's automatic one) is not enough for a
 * connection that is alone each time it opens: the first connection
 * rebuilds the WAL index from the whole WAL and counts nothing as copied
 * back, so the WAL is never restarted and keeps growing. TRUNCATE copies
 * it back and empties it; with a reader present it gives up, harmlessly.
 */
static int truncate_wal(void *arg, sqlite3 *db, const char *name, int frames)
{
	if (frames >= (int)(intptr_t)arg)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE,
		    NULL, NULL);
	return SQLITE_OK;
}

void store_wal_limit(struct store *s, int pages)
{
	sqlite3_wal_hook(s->db, truncate_wal, (void *)(intptr_t)pages);
}

int store_open(const char *home, enum store_mode mode, struct store **out)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    SQLITE_OPEN_EXRESCODE;
	int error;

	*out = NULL;
	s->path = xasprintf("%s/%s", home, STORE_FILE);
	if (mode == STORE_CREATE)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		error = error_set(ERR_NOTFOUND, "cannot open store '%s': %s%s",
		    s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory",
		    mode == STORE_OPEN ? " (run 'runner init' first)" : "");
		goto fail;
	}
	store_busy_timeout(s, 10000);
	if (mode == STORE_ENQUEUE) {
		int on = 1;
		sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
	}
	if ((error = exec_sql(s, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON", "configure")) < 0)
		goto fail;
	if (mode == STORE_CREATE) {
		if ((error = exec_sql(s, "PRAGMA journal_mode = WAL",
		    "enable WAL")) < 0 || (error = migrate(s)) < 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	store_close(s);
	return error;
}

/*
 * Waiting for another writer. SQLite's own busy timeout sleeps 1, 2, 5,
 * 10... ms between tries, while the transactions here hold the lock for
 * tens of microseconds: two workers ending jobs at the same moment would
 * lose milliseconds each time. This waits 50 us at first, doubling to at
 * most 2 ms, until `busy_ms` have passed since the first try.
 */
static int on_busy(void *arg, int tries)
{
	struct store *s = arg;
	int64_t waited = 0;
	long us = 50;

	for (int i = 0; i < tries; i++) {
		waited += us;
		if (us < 2000)
			us *= 2;
	}
	if (waited / 1000 >= s->busy_ms)
		return 0;
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
	return 1;
}

void store_busy_timeout(struct store *s, int ms)
{
	s->busy_ms = ms;
	sqlite3_busy_handler(s->db, on_busy, s);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_MAX; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

int store_enqueue(struct store *s, const struct push *p, size_t n,
    struct enqueued *out)
{
	int64_t now = now_ms();
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st;
		if ((error = run(s, Q_ENQ_INSERT, "enqueue", "ttttitt", p[i].repo,
		    p[i].ref, p[i].old, p[i].new, now, p[i].env, p[i].tag)) < 0)
			goto out;
		out[i].duplicate = sqlite3_changes(s->db) == 0;
		if (!out[i].duplicate) {
			out[i].id = sqlite3_last_insert_rowid(s->db);
			continue;
		}
		st = stmt(s, Q_ENQ_FIND);
		if (!st) {
			error = -1;
			goto out;
		}
		for (int b = 0; b < 4; b++)
			bind_text(st, b + 1, b == 0 ? p[i].repo : b == 1 ?
			    p[i].ref : b == 2 ? p[i].old : p[i].new);
		out[i].id = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
	}
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

static struct job *job_from_row(sqlite3_stmt *st)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->id = sqlite3_column_int64(st, 0);
	j->repo = col_text(st, 1);
	j->ref = col_text(st, 2);
	j->old = col_text(st, 3);
	j->commit = col_text(st, 4);
	j->state = col_text(st, 5);
	j->error = col_text(st, 6);
	j->subject = col_text(st, 7);
	j->attempt = sqlite3_column_int(st, 8);
	j->cancel = sqlite3_column_int(st, 9);
	j->worker_pid = (pid_t)sqlite3_column_int64(st, 10);
	j->retry_of = sqlite3_column_int64(st, 11);
	j->created_ms = sqlite3_column_int64(st, 12);
	j->started_ms = sqlite3_column_int64(st, 13);
	j->finished_ms = sqlite3_column_int64(st, 14);
	j->kind = col_text(st, 15);
	j->env = col_text(st, 16);
	j->tag = col_text(st, 17);
	j->tag_object = col_text(st, 18);
	j->forced_by = col_text(st, 19);
	j->release_dir = col_text(st, 20);
	j->notes = col_text(st, 21);
	j->figures = col_text(st, 22);
	j->source_job = sqlite3_column_int64(st, 23);
	j->rollback_to = sqlite3_column_int64(st, 24);
	j->previous = sqlite3_column_int64(st, 25);
	return j;
}

static void add_stage(sqlite3_stmt *st, struct job *j)
{
	struct stage_rec *r;

	j->stages = xrealloc(j->stages, (j->nstages + 1) * sizeof(*j->stages));
	r = &j->stages[j->nstages++];
	r->idx = sqlite3_column_int(st, 0);
	r->name = col_text(st, 1);
	r->state = col_text(st, 2);
	r->exit_code = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, 3);
	r->error = col_text(st, 4);
	r->log_path = col_text(st, 5);
	r->started_ms = sqlite3_column_int64(st, 6);
	r->finished_ms = sqlite3_column_int64(st, 7);
}

static void add_artifact(sqlite3_stmt *st, struct job *j)
{
	struct artifact_rec *a;

	j->artifacts = xrealloc(j->artifacts, (j->nartifacts + 1) *
	    sizeof(*j->artifacts));
	a = &j->artifacts[j->nartifacts++];
	a->path = col_text(st, 0);
	a->size = sqlite3_column_int64(st, 1);
	a->sha256 = col_text(st, 2);
	a->files = sqlite3_column_int64(st, 3);
}

static void add_check(sqlite3_stmt *st, struct job *j)
{
	struct check_rec *c;

	j->checks = xrealloc(j->checks, (j->nchecks + 1) * sizeof(*j->checks));
	c = &j->checks[j->nchecks++];
	c->name = col_text(st, 0);
	c->status = sqlite3_column_int(st, 1);
	c->latency_ms = sqlite3_column_int64(st, 2);
	c->ok = sqlite3_column_int(st, 3);
	c->error = col_text(st, 4);
	c->at_ms = sqlite3_column_int64(st, 5);
}

/* Hand each row of `q` for job `j` to `add`. */
static int each_row(struct store *s, enum q q, struct job *j,
    void (*add)(sqlite3_stmt *, struct job *), const char *what)
{
	sqlite3_stmt *st = stmt(s, q);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, j->id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		add(st, j);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_error(s, what);
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
	sqlite3_stmt *st = stmt(s, Q_JOB_GET);
	struct job *j = NULL;
	int rc, error;

	*out = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		j = job_from_row(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return error_set(ERR_NOTFOUND, "no job #%lld", (long long)id);
	if (rc != SQLITE_ROW)
		return db_error(s, "read job");
	if ((error = load_details(s, j)) < 0) {
		job_free(j);
		return error;
	}
	*out = j;
	return 0;
}

static int list_query(struct store *s, enum q q, int limit,
    struct job ***v, size_t *n)
{
	sqlite3_stmt *st = stmt(s, q);
	int rc;

	if (!st)
		return -1;
	if (q == Q_LIST_DONE)
		sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = job_from_row(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_error(s, "list jobs");
	return 0;
}

int store_jobs_list(struct store *s, int limit, struct job ***out,
    size_t *nout)
{
	struct job **v = NULL;
	size_t n = 0;
	int error;

	*out = NULL;
	*nout = 0;
	/* One read transaction, so the list is one consistent picture. */
	if ((error = exec_sql(s, "BEGIN", "begin")) < 0)
		return error;
	if ((error = list_query(s, Q_LIST_ACTIVE, 0, &v, &n)) < 0 ||
	    (error = list_query(s, Q_LIST_DONE, limit, &v, &n)) < 0)
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

int store_claim(struct store *s, pid_t worker, int supersede,
    struct job **out)
{
	sqlite3_stmt *st;
	int64_t id = 0;
	int rc, error;

	*out = NULL;
	if ((error = begin(s)) < 0)
		return error;
	if (supersede && ((error = run(s, Q_SUPERSEDE, "supersede", "i",
	    now_ms())) < 0 || (error = run(s, Q_SUPERSEDE_DEPLOY, "supersede",
	    "i", now_ms())) < 0))
		goto out;
	if (!(st = stmt(s, Q_CLAIM))) {
		error = -1;
		goto out;
	}
	sqlite3_bind_int64(st, 1, worker);
	sqlite3_bind_int64(st, 2, now_ms());
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	while (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		error = db_error(s, "claim");
		goto out;
	}
	if ((error = commit(s)) < 0)
		goto out;
	if (!id)
		return ERR_NOTFOUND;
	if ((error = store_job_get(s, id, out)) < 0)
		return error;
	/*
	 * On a relaxed connection the claim above is not synced: a build
	 * whose claim a power cut takes back is simply run from the queue.
	 * A deployment must never start twice, so its claim is made durable
	 * (a synced commit syncs everything before it in the WAL) before the
	 * worker acts on it.
	 */
	if (s->relaxed && (*out)->kind && !strcmp((*out)->kind, "deploy")) {
		if ((error = begin_durable(s)) < 0 || (error = run(s,
		    Q_CLAIM_SYNC, "claim", "i", id)) < 0 ||
		    (error = commit(s)) < 0) {
			rollback(s);
			job_free(*out);
			*out = NULL;
		}
	}
	return error;
out:
	rollback(s);
	return error;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->repo);
	free(j->ref);
	free(j->old);
	free(j->commit);
	free(j->state);
	free(j->error);
	free(j->subject);
	for (size_t i = 0; i < j->nstages; i++) {
		free(j->stages[i].name);
		free(j->stages[i].state);
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
	}
	free(j->checks);
	free(j->kind);
	free(j->env);
	free(j->tag);
	free(j->tag_object);
	free(j->forced_by);
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

int64_t store_queued(struct store *s)
{
	return first_id(s, Q_QUEUED, "");
}

int64_t store_unsent(struct store *s)
{
	return first_id(s, Q_UNSENT, "");
}

int store_manifest_set(struct store *s, int64_t id, const char *manifest)
{
	return run(s, Q_MANIFEST_SET, "store a manifest", "it", id, manifest);
}

int store_manifest_get(struct store *s, int64_t id, char **out)
{
	sqlite3_stmt *st = stmt(s, Q_MANIFEST_GET);
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = col_text(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, "read a manifest");
	return *out ? 0 : ERR_NOTFOUND;
}

int store_job_set_subject(struct store *s, int64_t id, const char *subject)
{
	return run(s, Q_SUBJECT, "set subject", "it", id, subject);
}

int store_stages_init(struct store *s, int64_t id, char *const *names,
    char *const *log_paths, size_t n)
{
	int error;

	if ((error = begin(s)) < 0)
		return error;
	if ((error = run(s, Q_STAGES_DEL, "reset stages", "i", id)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((error = run(s, Q_STAGE_INS, "add stage", "iitt", id,
		    (int64_t)i, names[i], log_paths[i])) < 0)
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
	return run(s, Q_STAGE_START, "start stage", "iizi", id, (int64_t)idx,
	    (int64_t)pgid, at_ms ? at_ms : now_ms());
}

int store_stage_end(struct store *s, int64_t id, int idx, const char *state,
    int exit_code, const char *error)
{
	return run(s, Q_STAGE_END, "end stage", "iitnti", id, (int64_t)idx,
	    state, (int64_t)exit_code, error, now_ms());
}

/*
 * The event an ended job causes, recorded in the transaction that ends it
 * (the outbox): `kind` is the most specific name, `tags` every kind a
 * target's `on` list may name to hear of it.
 */
static int add_event(struct store *s, int64_t id)
{
	sqlite3_stmt *st = stmt(s, Q_EVENT_JOB);
	const char *kind = NULL;
	char tags[96] = "";
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : db_error(s, "read job for event");
	}
	const char *k = (const char *)sqlite3_column_text(st, 0);
	const char *state = (const char *)sqlite3_column_text(st, 1);
	const char *env = (const char *)sqlite3_column_text(st, 2);
	const char *before = (const char *)sqlite3_column_text(st, 3);
	int prod = env && !strcmp(env, "production");

	if (!strcmp(k, "build")) {
		if (!strcmp(state, "passed") && before && strcmp(before, "passed"))
			kind = "job_fixed";
		else if (!strcmp(state, "passed"))
			kind = "job_passed";
		else if (!strcmp(state, "failed"))
			kind = "job_failed";
		else if (!strcmp(state, "error"))
			kind = "job_error";
		if (kind)
			snprintf(tags, sizeof(tags), "%s%s", kind,
			    !strcmp(kind, "job_fixed") ? " job_passed" : "");
	} else if (!strcmp(state, "healthy") || !strcmp(state, "rejected")) {
		kind = !strcmp(state, "healthy") ? "deployed" : "rejected";
		snprintf(tags, sizeof(tags), "%s", kind);
	} else if (!strcmp(state, "rolled_back") || !strcmp(state, "failed") ||
	    !strcmp(state, "interrupted")) {
		int rb = !strcmp(state, "rolled_back");
		kind = rb ? "rolled_back" : prod ? "production_failed" :
		    "deploy_failed";
		snprintf(tags, sizeof(tags), "%sdeploy_failed%s",
		    rb ? "rolled_back " : "", prod ? " production_failed" : "");
	}
	sqlite3_reset(st);	/* the texts above are not used past here */
	if (!kind)
		return 0;
	return run(s, Q_EVENT_INS, "record event", "itti", id, kind, tags,
	    now_ms());
}

/* Right after the update that ends job `id`: its event, if it did end. */
static int add_event_if_ended(struct store *s, int64_t id)
{
	return sqlite3_changes(s->db) ? add_event(s, id) : 0;
}

int store_job_end(struct store *s, int64_t id, const char *state,
    const char *error_msg)
{
	return store_job_end_deploy(s, id, state, error_msg, NULL, 0);
}

int store_artifact_add(struct store *s, int64_t id, const char *path,
    int64_t size, const char *sha256, int64_t files)
{
	return run(s, Q_ART_INS, "record artifact", "ititi", id, path, size,
	    sha256, files);
}

int store_cancel(struct store *s, int64_t id, int *running)
{
	struct job *j = NULL;
	int error;

	*running = 0;
	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = store_job_get(s, id, &j)) < 0)
		goto out;
	if (!strcmp(j->state, "queued")) {
		error = run(s, Q_CANCEL_QUEUED, "cancel", "ii", id, now_ms());
	} else if (!strcmp(j->state, "running")) {
		error = run(s, Q_CANCEL_RUNNING, "cancel", "i", id);
		*running = 1;
	} else {
		error = error_set(ERR_INVALID, "job #%lld is already %s",
		    (long long)id, j->state);
	}
	if (error == 0)
		error = commit(s);
out:
	if (error < 0)
		rollback(s);
	job_free(j);
	return error;
}

int store_cancel_requested(struct store *s, int64_t id)
{
	sqlite3_stmt *st = stmt(s, Q_CANCEL_GET);
	int v = 0;

	if (!st)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return v;
}

/* The first column of every row of `st` (bound by the caller). */
static int ids_of(struct store *s, sqlite3_stmt *st, int64_t **out,
    size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		return db_error(s, "read ids");
	}
	return 0;
}

/* ids_of() for `q` with one integer bound as ?1. */
static int id_query(struct store *s, enum q q, int64_t arg, int64_t **out,
    size_t *n)
{
	sqlite3_stmt *st = stmt(s, q);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, arg);
	return ids_of(s, st, out, n);
}

static int pid_query(struct store *s, sqlite3_stmt *st, pid_t **out,
    size_t *n)
{
	int64_t *ids;
	int error = ids_of(s, st, &ids, n);

	*out = NULL;
	if (error < 0)
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
	sqlite3_stmt *st = stmt(s, Q_CANCEL_PIDS);

	if (!st)
		return -1;
	return pid_query(s, st, out, n);
}

int store_retry(struct store *s, int64_t id, int64_t *new_id)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = run(s, Q_RETRY, "retry", "ii", id, now_ms())) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	if (error < 0)
		return error;
	if (sqlite3_changes(s->db) == 0)
		return error_set(ERR_NOTFOUND, "no job #%lld", (long long)id);
	*new_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int store_recover(struct store *s, pid_t worker, pid_t **pgids, size_t *n)
{
	sqlite3_stmt *st;
	int64_t *deploys = NULL;
	size_t ndeploys = 0;
	int error;

	*pgids = NULL;
	*n = 0;
	if ((error = begin_durable(s)) < 0)
		return error;
	if (!(st = stmt(s, Q_REC_PGIDS))) {
		error = -1;
		goto out;
	}
	sqlite3_bind_int64(st, 1, worker);
	if ((error = pid_query(s, st, pgids, n)) < 0 ||
	    (error = run(s, Q_REC_CANCELED, "recover", "ii", (int64_t)worker,
	    now_ms())) < 0 ||
	    (error = id_query(s, Q_REC_DEPLOY_IDS, worker, &deploys,
	    &ndeploys)) < 0 ||
	    (error = run(s, Q_REC_DEPLOYS, "recover", "ii", (int64_t)worker,
	    now_ms())) < 0)
		goto out;
	for (size_t i = 0; i < ndeploys; i++)	/* each ends 'interrupted' */
		if ((error = add_event(s, deploys[i])) < 0)
			goto out;
	if ((error = run(s, Q_REC_ARTS, "recover", "i", (int64_t)worker)) < 0 ||
	    (error = run(s, Q_REC_STAGES, "recover", "i", (int64_t)worker)) < 0 ||
	    (error = run(s, Q_REC_JOBS, "recover", "i", (int64_t)worker)) < 0)
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

/* The count statement `q` for rows in `state`. */
static int count_state(struct store *s, enum q q, const char *state,
    int64_t *out)
{
	sqlite3_stmt *st = stmt(s, q);
	int rc;

	if (!st)
		return -1;
	bind_text(st, 1, state);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, "count");
}

static int insert_deploys(struct store *s, const struct deploy_req *r,
    size_t n, int64_t *ids)
{
	int64_t now = now_ms();
	int error;

	for (size_t i = 0; i < n; i++) {
		if ((error = run(s, Q_DEPLOY_INS, "queue deployment", "ttttztzi",
		    r[i].repo, r[i].ref, r[i].commit, r[i].env, r[i].source_job,
		    r[i].forced_by, r[i].rollback_to, now)) < 0)
			return error;
		if (ids)
			ids[i] = sqlite3_last_insert_rowid(s->db);
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

int store_job_end_deploy(struct store *s, int64_t id, const char *state,
    const char *error_msg, const struct deploy_req *r, size_t n)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = run(s, Q_STAGES_SKIP, "skip stages", "i", id)) < 0 ||
	    (error = run(s, Q_JOB_END, "end job", "itti", id, state, error_msg,
	    now_ms())) < 0 || (error = add_event_if_ended(s, id)) < 0 ||
	    (error = insert_deploys(s, r, n, NULL)) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_deploy_resolve(struct store *s, const struct job *j)
{
	return run(s, Q_DEPLOY_RESOLVE, "record deployment", "itztttztt"
	    "", j->id, j->commit, j->source_job, j->tag_object, j->release_dir,
	    j->notes, j->previous, j->subject, j->figures);
}

int store_stage_count(struct store *s, int64_t id, int *n)
{
	sqlite3_stmt *st = stmt(s, Q_STAGE_COUNT);
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, "count stages");
}

int store_stage_add(struct store *s, int64_t id, int idx, const char *name,
    const char *log_path)
{
	return run(s, Q_STAGE_INS, "add step", "iitt", id, (int64_t)idx, name,
	    log_path);
}

int store_check_add(struct store *s, int64_t id, const struct check_rec *c)
{
	return run(s, Q_CHECK_INS, "record check", "itiiiti", id, c->name,
	    (int64_t)c->status, c->latency_ms, (int64_t)c->ok, c->error,
	    c->at_ms ? c->at_ms : now_ms());
}

int64_t store_passed_build(struct store *s, const char *repo,
    const char *commit)
{
	return first_id(s, Q_PASSED_BUILD, "tt", repo, commit);
}

int64_t store_healthy_deploy(struct store *s, const char *repo,
    const char *env, const char *commit)
{
	return first_id(s, Q_HEALTHY_DEPLOY, "ttt", repo, env, commit);
}

int64_t store_tag_deployed(struct store *s, const char *repo,
    const char *tag, const char *tag_object, int64_t except)
{
	return first_id(s, Q_TAG_DEPLOYED, "ttti", repo, tag, tag_object,
	    except);
}

int store_deploy_end(struct store *s, const struct job *j,
    const char *state, const char *error_msg, const char *env_state,
    int64_t serving)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = run(s, Q_STAGES_SKIP, "skip steps", "i", j->id)) < 0 ||
	    (error = run(s, Q_JOB_END_DEPLOY, "end deployment", "itti", j->id,
	    state, error_msg, now_ms())) < 0 ||
	    (error = add_event_if_ended(s, j->id)) < 0)
		goto out;
	if (env_state && (error = run(s, Q_ENV_SET, "record environment",
	    "tttzii", j->repo, j->env, env_state, serving, j->id,
	    now_ms())) < 0)
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
	return run(s, Q_ENV_DEPLOYING, "record environment", "ttii", repo, env,
	    id, now_ms());
}

static struct env_rec *env_from_row(sqlite3_stmt *st)
{
	struct env_rec *e = xcalloc(1, sizeof(*e));

	e->repo = col_text(st, 0);
	e->name = col_text(st, 1);
	e->state = col_text(st, 2);
	e->release = sqlite3_column_int64(st, 3);
	e->last = sqlite3_column_int64(st, 4);
	e->updated_ms = sqlite3_column_int64(st, 5);
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
	sqlite3_stmt *st = stmt(s, Q_ENV_GET);
	struct env_rec *e = NULL;
	int rc, error;

	*out = NULL;
	if (!st)
		return -1;
	bind_text(st, 1, repo);
	bind_text(st, 2, env);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		e = env_from_row(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return error_set(ERR_NOTFOUND, "environment '%s' has never been "
		    "deployed", env);
	if (rc != SQLITE_ROW)
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
	sqlite3_stmt *st = stmt(s, Q_ENV_LIST);
	struct env_rec **v = NULL;
	size_t k = 0;
	int rc, error = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = env_from_row(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
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
	free(e->state);
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

int store_releases(struct store *s, const char *env, struct job ***out,
    size_t *n)
{
	sqlite3_stmt *st = stmt(s, Q_RELEASES);
	int64_t *ids = NULL;
	size_t k = 0;
	int rc, error = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	bind_text(st, 1, env);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ids = xrealloc(ids, (k + 1) * sizeof(*ids));
		ids[k++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		error = db_error(s, "list releases");
	if (error == 0)
		*out = xcalloc(k + 1, sizeof(**out));
	for (size_t i = 0; i < k && error == 0; i++) {
		if ((error = store_job_get(s, ids[i], &(*out)[i])) < 0) {
			jobs_free(*out, i);
			*out = NULL;
			break;
		}
		*n = i + 1;
	}
	free(ids);
	return error;
}

/* ---- the outbox ---- */

int store_events_unrouted(struct store *s, int limit, struct event **out,
    size_t *n)
{
	sqlite3_stmt *st = stmt(s, Q_EVENTS_UNROUTED);
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct event *e;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		e = &(*out)[(*n)++];
		e->id = sqlite3_column_int64(st, 0);
		e->job_id = sqlite3_column_int64(st, 1);
		e->kind = col_text(st, 2);
		e->tags = col_text(st, 3);
		e->created_ms = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		events_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read events");
	}
	return 0;
}

void events_free(struct event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].kind);
		free(v[i].tags);
	}
	free(v);
}

int store_event_route(struct store *s, int64_t event_id,
    const struct notification *v, size_t n)
{
	int64_t now = now_ms();
	int error;

	if ((error = begin(s)) < 0)	/* relaxed: see store.h */
		return error;
	for (size_t i = 0; i < n; i++)
		if ((error = run(s, Q_NOTIF_INS, "queue notification",
		    "iitttttti", event_id, v[i].job_id, v[i].target, v[i].service,
		    v[i].event, v[i].action, v[i].dedup, v[i].body, now)) < 0)
			goto out;
	if ((error = run(s, Q_EVENT_ROUTED, "route event", "i", event_id)) < 0)
		goto out;
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int store_events_drop(struct store *s)
{
	int error;

	if ((error = begin(s)) < 0)	/* relaxed: see store.h */
		return error;
	if ((error = run(s, Q_EVENTS_ALL_ROUTED, "route events", "")) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

static struct notification *notif_from_row(sqlite3_stmt *st)
{
	struct notification *x = xcalloc(1, sizeof(*x));

	x->id = sqlite3_column_int64(st, 0);
	x->event_id = sqlite3_column_int64(st, 1);
	x->job_id = sqlite3_column_int64(st, 2);
	x->target = col_text(st, 3);
	x->service = col_text(st, 4);
	x->event = col_text(st, 5);
	x->action = col_text(st, 6);
	x->dedup = col_text(st, 7);
	x->body = col_text(st, 8);
	x->state = col_text(st, 9);
	x->error = col_text(st, 10);
	x->attempts = sqlite3_column_int(st, 11);
	x->status = sqlite3_column_int(st, 12);
	x->next_ms = sqlite3_column_int64(st, 13);
	x->created_ms = sqlite3_column_int64(st, 14);
	x->done_ms = sqlite3_column_int64(st, 15);
	return x;
}

static int notif_list(struct store *s, sqlite3_stmt *st,
    struct notification ***out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = notif_from_row(st);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		notifs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read notifications");
	}
	return 0;
}

int store_notif_next(struct store *s, struct notification **out)
{
	sqlite3_stmt *st = stmt(s, Q_NOTIF_DUE);
	struct notification **v;
	size_t n;
	int error;

	*out = NULL;
	if (!st)
		return -1;
	if ((error = notif_list(s, st, &v, &n)) < 0)
		return error;
	if (n)
		*out = v[0];
	free(v);
	return n ? 0 : ERR_NOTFOUND;
}

int store_notif_result(struct store *s, const struct notification *x)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = run(s, Q_NOTIF_RESULT, "record delivery", "itiitiz", x->id,
	    x->state, (int64_t)x->attempts, (int64_t)x->status, x->error,
	    x->next_ms, x->done_ms)) < 0 || (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_notifs_of_job(struct store *s, int64_t job_id,
    struct notification ***out, size_t *n)
{
	sqlite3_stmt *st = stmt(s, Q_NOTIF_JOB);

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, job_id);
	return notif_list(s, st, out, n);
}

int store_notifs_open(struct store *s, int limit, struct notification ***out,
    size_t *n)
{
	sqlite3_stmt *st = stmt(s, Q_NOTIF_OPEN);

	if (!st)
		return -1;
	sqlite3_bind_int(st, 1, limit);
	return notif_list(s, st, out, n);
}

int store_notif_count(struct store *s, const char *state, int64_t *out)
{
	return count_state(s, Q_NOTIF_COUNT, state, out);
}

char *store_notif_last_action(struct store *s, const char *target,
    const char *dedup)
{
	sqlite3_stmt *st = stmt(s, Q_NOTIF_LAST_ACTION);
	char *action = NULL;

	if (!st)
		return NULL;
	bind_text(st, 1, target);
	bind_text(st, 2, dedup);
	if (sqlite3_step(st) == SQLITE_ROW)
		action = col_text(st, 0);
	sqlite3_reset(st);
	return action;
}

void notif_free(struct notification *x)
{
	if (!x)
		return;
	free(x->target);
	free(x->service);
	free(x->event);
	free(x->action);
	free(x->dedup);
	free(x->body);
	free(x->state);
	free(x->error);
	free(x);
}

void notifs_free(struct notification **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		notif_free(v[i]);
	free(v);
}
