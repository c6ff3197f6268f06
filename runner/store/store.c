/*
 * The store's connection: SQLite in the home by default, PostgreSQL
 * (pg.c) when runner.yml names one. SQLite: one connection per process,
 * WAL, synchronous=FULL (a commit is on disk before it returns:
 * the hook's enqueue must survive a power cut the moment the push is
 * accepted), prepared statements kept for the life of the connection,
 * typed bindings, and a schema version with forward migrations. What is
 * stored is in jobs.c, envs.c and outbox.c.
 */
#include "store.h"
#include "store_int.h"
#include "config.h"
#include "reserve.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum q { Q_BEGIN = BASE_STORE, Q_COMMIT, Q_ROLLBACK, Q_SYNC_FULL,
	Q_SYNC_NORMAL, Q_FENCE, Q_STORE_END };
_Static_assert((int)Q_STORE_END <= (int)BASE_JOBS, "store statements overlap");

STORE_SQL(store) = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[Q_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	/* the job is still this process's: a lease that ended put it back
	 * in the queue (or ended a deployment 'interrupted') and cleared
	 * its worker. PostgreSQL: its row stays locked until the commit,
	 * so no host takes the job back in the meantime (one that did so
	 * first is seen: the lock reads the row as last committed) */
	[Q_FENCE] = ("SELECT 1 FROM jobs WHERE id = ?1 AND attempt = ?2 AND "
	    "worker_pid = ?3 AND host IS ?4 /*pg: FOR NO KEY UPDATE*/"),
};

const char *store_statement(int q)
{
	static const char *const *const tables[] = { store_sql_store,
		store_sql_jobs, store_sql_deploys, store_sql_outbox,
		store_sql_admin, store_sql_hosts, store_sql_chunks,
		store_sql_repos, store_sql_audit };

	for (size_t i = 0; q >= 0 && q < STMT_SLOTS &&
	    i < sizeof(tables) / sizeof(*tables); i++)
		if (tables[i][q])
			return tables[i][q];
	return NULL;
}

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
	/* 5: who asked for a job by hand (a deployment, a retry), else NULL:
	 * it came from a push */
	"ALTER TABLE jobs ADD COLUMN requested_by TEXT;",
	/* 6: what a running job is doing, when no stage of it runs */
	("ALTER TABLE jobs ADD COLUMN phase TEXT;"
	"ALTER TABLE jobs ADD COLUMN phase_ms INTEGER;"),
	/* 7: the runner's own settings: the queue paused, the home's disk
	 * use as the last collection measured it */
	("CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"),
	/* 8: variables a push (git push -o ci.variable=) or a manual run
	 * gave a build: "NAME=VALUE" lines */
	"ALTER TABLE jobs ADD COLUMN variables TEXT;",
	/* 9: build hosts: who runs a job, and until when its claim holds
	 * without a heartbeat (a lease); the hosts and their last word */
	"ALTER TABLE jobs ADD COLUMN host TEXT;"
	"ALTER TABLE jobs ADD COLUMN lease_ms INTEGER;"
	"CREATE INDEX jobs_lease ON jobs(lease_ms) WHERE state = 'running';"
	"CREATE TABLE hosts ("
	"  name TEXT PRIMARY KEY,"
	"  labels TEXT NOT NULL DEFAULT '',"
	"  workers INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL,"
	"  heartbeat_ms INTEGER NOT NULL,"
	"  draining INTEGER NOT NULL DEFAULT 0,"
	"  drained_by TEXT,"
	"  drained_ms INTEGER"
	");",
	/* 10: the labels a build's host must have (its pipeline's runs_on),
	 * recorded by the first host that read the pipeline and lacked them */
	"CREATE TABLE job_needs ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  label TEXT NOT NULL,"
	"  PRIMARY KEY (job_id, label)"
	");",
	/* 11: what a host that does not share the git server's files sends
	 * through the store: its stages' logs and its artifacts, in chunks
	 * that go with the stage or artifact they belong to */
	"CREATE TABLE log_chunks ("
	"  job_id INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (job_id, idx, seq),"
	"  FOREIGN KEY (job_id, idx) REFERENCES stages(job_id, idx)"
	"    ON DELETE CASCADE"
	");"
	"CREATE TABLE artifact_chunks ("
	"  artifact_id INTEGER NOT NULL REFERENCES artifacts(id)"
	"    ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (artifact_id, seq)"
	");",
	/* 12: the services an environment's commands left running: the
	 * init of the pid namespace each command ran in, on its host, known
	 * by its start time and namespace as well as its pid; the next
	 * deployment of the environment ends them */
	"CREATE TABLE services ("
	"  repo TEXT NOT NULL,"
	"  env TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  pidns INTEGER NOT NULL,"
	"  job_id INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, env, host, pid, started)"
	");",
	/* 13: a repository's short name, fixed when it is first seen, so that
	 * adding another repository never renames one (badges, metrics
	 * labels and --repo keep working) */
	"CREATE TABLE repos ("
	"  path TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created_ms INTEGER NOT NULL"
	");",
	/* 14: who caused a job: the name the git server knew the pusher by
	 * (or the user behind a command), how it knew (unix, ssh, http,
	 * gitolite, cli), the ssh key's fingerprint where sshd gave it; and
	 * the key that signed a release's tag */
	"ALTER TABLE jobs ADD COLUMN pushed_by TEXT;"
	"ALTER TABLE jobs ADD COLUMN pushed_via TEXT;"
	"ALTER TABLE jobs ADD COLUMN pushed_key TEXT;"
	"ALTER TABLE jobs ADD COLUMN signer TEXT;",
	/* 15: and the unix user the kernel reported (the hook's real uid, the
	 * spool file's owner, the command's), which the other columns are
	 * only that user's claims beside */
	"ALTER TABLE jobs ADD COLUMN pushed_as TEXT;",
	/* 16: what refers to a job, indexed: removing one (runner gc) checks
	 * every reference to it, and without these each check reads the
	 * whole table */
	"CREATE INDEX jobs_source ON jobs (source_job) WHERE source_job IS "
	"NOT NULL;"
	"CREATE INDEX jobs_previous ON jobs (previous) WHERE previous IS NOT "
	"NULL;"
	"CREATE INDEX jobs_rollback ON jobs (rollback_to) WHERE rollback_to "
	"IS NOT NULL;"
	"CREATE INDEX jobs_retry ON jobs (retry_of) WHERE retry_of IS NOT "
	"NULL;"
	"CREATE INDEX events_job ON events (job_id);",
	/* 17: deduplication keys are the same bytes on both engines, their
	 * parts apart by char(1): SQLite's, made with char(0) before, are
	 * rewritten by dedup_backfill() (its replace() stops at a NUL) */
	"SELECT 1",
};

int store_migrations(void)
{
	return (int)(sizeof(migrations) / sizeof(*migrations));
}

const char *store_migration(int version)
{
	return version >= 1 && version <= store_migrations() ?
	    migrations[version - 1] : NULL;
}

/*
 * SQLite found the disk full: the home's reserve goes, so that the
 * transaction tried again (an enqueue, a cancel, the end of the job that
 * filled the disk) has room. The daemon makes it again once there is.
 */
static void release_reserve(struct store *s)
{
	const char *slash = strrchr(s->path, '/');
	char *home = slash ? xstrndup(s->path, (size_t)(slash - s->path)) :
	    xstrdup(".");

	reserve_release(home, RESERVE_HOME);
	free(home);
}

int db_error(struct store *s, const char *what)
{
	int code, error = -1;

	if (s->pg)
		return pg_error(s, what);
	code = sqlite3_errcode(s->db) & 0xff;	/* extended codes too */
	if (code == SQLITE_FULL) {
		error = ERR_NOSPACE;
		release_reserve(s);
	} else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		error = ERR_BUSY;
	return error_set(error, "store '%s': %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

static void clear_values(struct stmt *st)
{
	for (int i = 0; st->vals && i < st->nparams; i++) {
		free(st->vals[i]);
		st->vals[i] = NULL;
	}
}

void reset(struct stmt *st)
{
	if (st->lite) {
		sqlite3_reset(st->lite);
		return;
	}
	pg_reset(st);
}

static void stmt_free(struct stmt *st)
{
	if (!st)
		return;
	reset(st);
	sqlite3_finalize(st->lite);
	clear_values(st);
	free(st->vals);
	free(st->text);
	free(st->pgsql);
	free(st);
}

struct stmt *stmt(struct store *s, int q, sql_table table)
{
	struct stmt *st = s->stmts[q];

	if (st) {
		reset(st);
		if (st->lite)
			sqlite3_clear_bindings(st->lite);
		clear_values(st);
		return st;
	}
	st = xcalloc(1, sizeof(*st));
	st->s = s;
	st->q = q;
	if (s->pg) {
		if (pg_prepare(s, st, table[q]) < 0) {
			stmt_free(st);
			return NULL;
		}
	} else if (sqlite3_prepare_v3(s->db, table[q], -1,
	    SQLITE_PREPARE_PERSISTENT, &st->lite, NULL) != SQLITE_OK) {
		db_error(s, "prepare");
		stmt_free(st);
		return NULL;
	} else {
		st->readonly = sqlite3_stmt_readonly(st->lite);
		st->nparams = sqlite3_bind_parameter_count(st->lite);
	}
	return s->stmts[q] = st;
}

/* A BYTEA in PostgreSQL's text form: \\x and two hex digits a byte. */
static char *bytea_text(const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *t = xmalloc(2 * n + 3), *o = t;

	*o++ = '\\';
	*o++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*o++ = hex[(unsigned char)p[i] >> 4];
		*o++ = hex[(unsigned char)p[i] & 15];
	}
	*o = 0;
	return t;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int col_blob(struct stmt *st, int i, struct sbuf *out)
{
	const char *v;
	size_t n;

	if (st->lite) {
		const void *b = sqlite3_column_blob(st->lite, i);
		sbuf_add(out, b ? b : "", (size_t)sqlite3_column_bytes(st->lite,
		    i));
		return 0;
	}
	if (!(v = pg_value(st, i)))
		return 0;
	if (v[0] != '\\' || v[1] != 'x' || (n = strlen(v + 2)) % 2)
		return error_set(-1, "store '%s': a BYTEA not in hex form",
		    st->s->path);
	sbuf_grow(out, n / 2);
	for (size_t k = 2; v[k]; k += 2) {
		int hi = hexval(v[k]), lo = hexval(v[k + 1]);
		if (hi < 0 || lo < 0)
			return error_set(-1, "store '%s': a BYTEA not in hex "
			    "form", st->s->path);
		sbuf_addch(out, (char)(hi << 4 | lo));
	}
	return 0;
}

struct stmt *stmt_bound(struct store *s, int q, sql_table table,
    const struct arg *a, size_t n)
{
	struct stmt *st = stmt(s, q, table);

	if (!st)
		return NULL;
	if ((size_t)st->nparams != n) {
		error_set(-1, "store '%s': statement %d takes %d arguments, "
		    "given %zu", s->path, q, st->nparams, n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		int at = (int)i + 1;
		if (!st->lite)
			st->vals[i] = a[i].type == ARG_INT ?
			    xasprintf("%lld", (long long)a[i].i) :
			    a[i].type == ARG_BLOB ? bytea_text(a[i].t,
			    (size_t)a[i].i) :
			    a[i].type == ARG_TEXT ? xstrdup(a[i].t) : NULL;
		else if (a[i].type == ARG_BLOB)
			sqlite3_bind_blob64(st->lite, at, a[i].t,
			    (sqlite3_uint64)a[i].i, SQLITE_TRANSIENT);
		else if (a[i].type == ARG_INT)
			sqlite3_bind_int64(st->lite, at, a[i].i);
		else if (a[i].type == ARG_TEXT)
			sqlite3_bind_text(st->lite, at, a[i].t, -1,
			    SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st->lite, at);
	}
	return st;
}

int step(struct stmt *st)
{
	int rc;

	if (!st->lite)
		return pg_step(st);
	rc = sqlite3_step(st->lite);
	return rc == SQLITE_ROW ? STEP_ROW : rc == SQLITE_DONE ? STEP_DONE : -1;
}

int64_t col_int64(struct stmt *st, int i)
{
	const char *v;

	if (st->lite)
		return sqlite3_column_int64(st->lite, i);
	if (!(v = pg_value(st, i)))
		return 0;
	/* a comparison is a boolean there, a number here */
	if (*v == 't' || *v == 'f')
		return *v == 't';
	return strtoll(v, NULL, 10);
}

int col_int(struct stmt *st, int i)
{
	return (int)col_int64(st, i);
}

const char *col_str(struct stmt *st, int i)
{
	if (st->lite)
		return (const char *)sqlite3_column_text(st->lite, i);
	return pg_value(st, i);
}

char *col_text(struct stmt *st, int i)
{
	const char *t = col_str(st, i);

	return t ? xstrdup(t) : NULL;
}

int col_null(struct stmt *st, int i)
{
	if (st->lite)
		return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
	return pg_value(st, i) == NULL;
}

int col_count(struct stmt *st)
{
	if (st->lite)
		return sqlite3_column_count(st->lite);
	return pg_nfields(st);
}

int changes(struct store *s)
{
	return s->pg ? s->pg_changes : sqlite3_changes(s->db);
}

static int in_transaction(struct store *s)
{
	return s->pg ? pg_in_transaction(s) : !sqlite3_get_autocommit(s->db);
}

/* Run a statement that returns no rows. */
static int exec_stmt_raw(struct store *s, struct stmt *st,
    const char *what)
{
	int rc;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW)
		;
	if (rc != STEP_DONE) {
		int error = db_error(s, what);
		reset(st);
		return error;
	}
	reset(st);
	return 0;
}

static int begin_fenced(struct store *s, int durable);

/* Statements of this file (transactions, pragmas) are never fenced. */
static int own_stmt(const struct store *s, const struct stmt *st)
{
	return st->q < BASE_JOBS && s->stmts[st->q] == st;
}

int exec_stmt(struct store *s, struct stmt *st, const char *what)
{
	int error;

	/* on a fenced connection a write outside a transaction gets one
	 * of its own, which checks the lease first */
	if (!st || !s->fence_job || in_transaction(s) || st->readonly ||
	    own_stmt(s, st))
		return exec_stmt_raw(s, st, what);
	if ((error = begin_fenced(s, 0)) < 0) {
		reset(st);
		return error;
	}
	if ((error = exec_stmt_raw(s, st, what)) < 0) {
		rollback(s);
		return error;
	}
	return commit(s);
}

int run(struct store *s, int q, sql_table table, const char *what,
    const struct arg *a, size_t n)
{
	struct stmt *st = stmt_bound(s, q, table, a, n);

	return st ? exec_stmt(s, st, what) : -1;
}

int run_id(struct store *s, int q, sql_table table, const char *what,
    int64_t *id, const struct arg *a, size_t n)
{
	struct stmt *st = stmt_bound(s, q, table, a, n);
	int rc;

	*id = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW)
		if (!*id)
			*id = col_int64(st, 0);
	if (rc != STEP_DONE) {
		rc = db_error(s, what);
		reset(st);
		return rc;
	}
	reset(st);
	return 0;
}

int64_t first_id(struct store *s, int q, sql_table table,
    const struct arg *a, size_t n)
{
	struct stmt *st = stmt_bound(s, q, table, a, n);
	int64_t id = 0;
	int rc;

	if (!st)
		return -1;
	if ((rc = step(st)) == STEP_ROW)
		id = col_int64(st, 0);
	else if (rc < 0)
		id = db_error(s, "read");
	reset(st);
	return id;
}

/* The first column of every row of `st` (bound by the caller). */
int ids_of(struct store *s, struct stmt *st, int64_t **out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = step(st)) == STEP_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = col_int64(st, 0);
	}
	if (rc != STEP_DONE) {
		free(*out);
		*out = NULL;
		*n = 0;
		rc = db_error(s, "read ids");
		reset(st);
		return rc;
	}
	reset(st);
	return 0;
}

/* Does this process still hold the job it is fenced to? In the write
 * transaction just begun: no one can take it away before it commits. */
static int fence_check(struct store *s)
{
	struct stmt *st = stmt_bound(s, Q_FENCE, sql, ARGS(
	    arg_int(s->fence_job), arg_int(s->fence_attempt),
	    arg_int(s->fence_worker), arg_text(s->fence_host)));
	int rc;

	if (!st)
		return -1;
	rc = step(st);
	if (rc < 0)
		rc = db_error(s, "lease");
	reset(st);
	if (rc == STEP_ROW)
		return 0;
	if (rc < 0)
		return rc;
	return error_set(ERR_LEASE, "job #%lld: this worker no longer holds "
	    "it (its lease ended: the job went back to the queue or was "
	    "interrupted); nothing more of it is recorded here",
	    (long long)s->fence_job);
}

/*
 * SQLite: BEGIN IMMEDIATE, one writer at a time. PostgreSQL: a plain
 * BEGIN, with no lock of the whole store: hosts write at the same time,
 * and what must not race takes the rows it changes (a claim's FOR UPDATE
 * SKIP LOCKED, the fence's lock of the job's row, the take-back of an
 * ended lease) or a lock of one environment or repository (jobs.c).
 */
static int begin_fenced(struct store *s, int durable)
{
	int64_t until = 0;
	long nap_ms = 50;
	int error;

	/*
	 * A worker that holds a job (a fenced connection) waits for a server
	 * it cannot reach, up to busy_ms: a server that restarts is back in a
	 * second or two, and what the worker records of its job meanwhile
	 * (its end above all) would be lost, the job run again. Whatever it
	 * then records still passes the fence. (A BEGIN fails for no other
	 * reason than the connection.)
	 */
	for (;;) {
		if (s->pg)
			error = pg_exec(s, durable && s->relaxed ? "BEGIN; "
			    "SET LOCAL synchronous_commit = on" : "BEGIN",
			    "begin");
		else
			error = exec_stmt_raw(s, stmt(s, Q_BEGIN, sql),
			    "begin");
		if (error != ERR_BUSY || !s->pg || !s->fence_job)
			break;
		if (!until)
			until = mono_ms() + s->busy_ms;
		if (mono_ms() >= until)
			break;
		struct timespec ts = { nap_ms / 1000, nap_ms % 1000 * 1000000 };
		nanosleep(&ts, NULL);
		nap_ms = nap_ms < 500 ? nap_ms * 2 : 1000;
	}
	if (error < 0 || !s->fence_job)
		return error;
	if ((error = fence_check(s)) < 0)
		rollback(s);
	return error;
}

int begin(struct store *s)
{
	return begin_fenced(s, 0);
}

void store_fence(struct store *s, int64_t job, int attempt, pid_t worker,
    const char *host)
{
	free(s->fence_host);
	s->fence_host = job && host ? xstrdup(host) : NULL;
	s->fence_job = job;
	s->fence_attempt = attempt;
	s->fence_worker = worker;
}

/*
 * A transaction that must be on disk when it commits (an enqueue, a claim,
 * the end of a job or deployment). On a relaxed connection it switches to
 * synchronous=FULL for this commit; as the WAL is written in order, that
 * commit also makes every relaxed one before it durable. (PostgreSQL:
 * synchronous_commit for this transaction alone, SET LOCAL, sent with
 * its BEGIN: no round trip before nor after.)
 */
int begin_durable(struct store *s)
{
	int error;

	if (s->pg)
		return begin_fenced(s, 1);
	if (s->relaxed && !s->full) {
		if ((error = exec_stmt(s, stmt(s, Q_SYNC_FULL, sql),
		    "synchronous")) < 0)
			return error;
		s->full = 1;
	}
	return begin(s);
}

/* After a durable commit only (SQLite's: PostgreSQL's is one
 * transaction's setting). */
static void relax_again(struct store *s)
{
	if (s->relaxed && s->full &&
	    exec_stmt(s, stmt(s, Q_SYNC_NORMAL, sql), "synchronous") == 0)
		s->full = 0;
}

int commit(struct store *s)
{
	int error = 0;

	/* the notification and the commit in one round trip */
	if (s->pg && s->queued && pg_in_transaction(s))
		error = pg_exec(s, PG_NOTIFY "; COMMIT", "commit");
	else
		error = exec_stmt(s, stmt(s, Q_COMMIT, sql), "commit");
	s->queued = 0;

	relax_again(s);
	return error;
}

void rollback(struct store *s)
{
	s->queued = 0;
	if (in_transaction(s))
		exec_stmt(s, stmt(s, Q_ROLLBACK, sql), "rollback");
	relax_again(s);
}

int store_cache_small(struct store *s)
{
	return s->pg ? 0 : exec_sql(s, "PRAGMA cache_size = -64", "cache size");
}

int store_relax(struct store *s)
{
	s->relaxed = 1;
	return exec_stmt(s, stmt(s, Q_SYNC_NORMAL, sql), "synchronous");
}

int exec_sql(struct store *s, const char *text, const char *what)
{
	char *msg = NULL;

	if (s->pg) {
		char *t;
		int error = pg_sql(text, &t);
		if (error < 0)
			return error_set(error, "store '%s': %s: %s", s->path,
			    what, error_last());
		error = pg_exec(s, t, what);
		free(t);
		return error;
	}
	if (sqlite3_exec(s->db, text, NULL, NULL, &msg) != SQLITE_OK) {
		if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_FULL)
			release_reserve(s);
		int error = error_set(sqlite3_errcode(s->db) == SQLITE_FULL ?
		    ERR_NOSPACE : sqlite3_errcode(s->db) == SQLITE_BUSY ?
		    ERR_BUSY : -1, "store '%s': %s: %s", s->path, what,
		    msg ? msg : "unknown error");
		sqlite3_free(msg);
		return error;
	}
	return 0;
}

#define MIGRATIONS ((int)(sizeof(migrations) / sizeof(*migrations)))

/* SQLite keeps the version in the file's header (PRAGMA user_version),
 * PostgreSQL in a table of its own. */
static const char *const version_sql[2] = {
	"PRAGMA user_version",
	"SELECT version FROM runner_schema",
};

/* The store's schema version: 0 for a store not made yet; an error
 * (negative) when it cannot be read. */
static int schema_version(struct store *s)
{
	struct stmt st = { .s = s };
	int v = 0, rc;

	if (s->pg) {
		struct sbuf sb = SBUF_INIT;
		rc = pg_value_of(s, version_sql[1], "read the schema version",
		    &sb);
		/* undefined_table: a database the runner has not used yet */
		if (rc < 0 && !strcmp(s->pg_state, "42P01")) {
			error_clear();
			rc = 0;
		}
		v = rc > 0 ? (int)strtol(sb.buf, NULL, 10) : rc;
		sbuf_release(&sb);
		return v;
	}
	if (sqlite3_prepare_v2(s->db, version_sql[0], -1, &st.lite,
	    NULL) != SQLITE_OK)
		return db_error(s, "read the schema version");
	if ((rc = step(&st)) == STEP_ROW)
		v = col_int(&st, 0);
	else if (rc < 0)
		v = db_error(s, "read the schema version");
	sqlite3_finalize(st.lite);
	return v;
}

static int set_version(struct store *s, int v)
{
	char text[80];

	snprintf(text, sizeof(text), s->pg ? "UPDATE runner_schema SET "
	    "version = %d" : "PRAGMA user_version = %d", v);
	return exec_sql(s, text, "migrate");
}

/* SQLite's deduplication keys made before SCHEMA_DEDUP: char(0) between
 * their parts, char(1) now, as on PostgreSQL (whose keys always had it).
 * In the caller's transaction. */
#define SCHEMA_DEDUP 17
static int dedup_backfill(struct store *s)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	int rc = SQLITE_OK;

	if (s->pg)
		return 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id, CAST(dedup AS BLOB) FROM "
	    "jobs WHERE instr(CAST(dedup AS BLOB), x'00') > 0", -1, &sel,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(s->db, "UPDATE jobs SET "
	    "dedup = ?2 WHERE id = ?1", -1, &upd, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(sel, 1);
		char *key = xmalloc((size_t)n + 1);
		memcpy(key, sqlite3_column_blob(sel, 1), (size_t)n);
		for (int i = 0; i < n; i++)
			if (!key[i])
				key[i] = 1;
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_text(upd, 2, key, n, free);
		rc = sqlite3_step(upd) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(upd);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc == SQLITE_DONE ? 0 : db_error(s, "rewrite deduplication keys");
}

static int migrate(struct store *s)
{
	const int latest = MIGRATIONS;
	int version, error;

	if ((error = begin(s)) < 0)
		return error;
	if (s->pg && (error = pg_exec(s, "CREATE TABLE IF NOT EXISTS "
	    "runner_schema (version INTEGER NOT NULL); INSERT INTO "
	    "runner_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "
	    "runner_schema)", "migrate")) < 0)
		goto out;
	if ((error = version = schema_version(s)) < 0)
		goto out;
	if (version > latest) {
		error = error_set(ERR_INVALID, "store '%s' has schema version %d, "
		    "newer than this runner knows (%d): upgrade the runner",
		    s->path, version, latest);
		goto out;
	}
	for (int v = version; v < latest; v++)
		if ((error = exec_sql(s, migrations[v], "migrate")) < 0 ||
		    (error = set_version(s, v + 1)) < 0)
			goto out;
	/* the repositories an older runner knew keep the names it showed */
	if (version < SCHEMA_REPOS && (error = repos_backfill(s)) < 0)
		goto out;
	if (version < SCHEMA_DEDUP && (error = dedup_backfill(s)) < 0)
		goto out;
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
	if (s->db)
		sqlite3_wal_hook(s->db, truncate_wal, (void *)(intptr_t)pages);
}

static int64_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_blocks * 512 : 0;
}

int store_compact(struct store *s, int64_t *freed)
{
	char *wal;
	int64_t before;
	struct stmt st = { .s = s };
	int mode = 2, error = 0;

	*freed = 0;
	if (s->pg)
		return 0;
	wal = xasprintf("%s-wal", s->path);
	before = file_size(s->path) + file_size(wal);
	if (sqlite3_prepare_v2(s->db, "PRAGMA auto_vacuum", -1, &st.lite,
	    NULL) == SQLITE_OK && step(&st) == STEP_ROW)
		mode = col_int(&st, 0);
	sqlite3_finalize(st.lite);
	/* an older store is turned to incremental vacuum first, once */
	if (mode != 2)
		error = exec_sql(s, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM",
		    "turn on incremental vacuum");
	else
		error = exec_sql(s, "PRAGMA incremental_vacuum",
		    "give freed pages back");
	if (error == 0)
		sqlite3_wal_checkpoint_v2(s->db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	int64_t after = file_size(s->path) + file_size(wal);
	if (before > after)
		*freed = before - after;
	free(wal);
	return error;
}

int64_t store_size(struct store *s)
{
	char *wal;
	int64_t n = 0;

	if (s->pg) {
		struct sbuf sb = SBUF_INIT;
		int rc = pg_value_of(s, "SELECT pg_database_size("
		    "current_database())", "measure the database", &sb);
		n = rc > 0 ? strtoll(sb.buf, NULL, 10) : rc;
		sbuf_release(&sb);
		return n;
	}
	wal = xasprintf("%s-wal", s->path);
	n = file_size(s->path) + file_size(wal);
	free(wal);
	return n;
}

/* runner_now_ms(): the store's clock in SQL. SQLite's store is one
 * machine's: its clock is the runner's (now_ms); PostgreSQL's is the
 * server's (pg_sql). */
static void sql_now_ms(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	(void)argc;
	(void)argv;
	sqlite3_result_int64(c, now_ms());
}

static int open_sqlite(struct store *s, const char *home,
    enum store_mode mode)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    SQLITE_OPEN_EXRESCODE;

	s->path = xasprintf("%s/%s", home, STORE_FILE);
	if (mode == STORE_CREATE)
		flags |= SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK)
		return error_set(ERR_NOTFOUND, "cannot open store '%s': %s%s",
		    s->path, s->db ? sqlite3_errmsg(s->db) : "out of memory",
		    mode == STORE_OPEN ? " (run 'runner init' first)" : "");
	store_busy_timeout(s, 10000);
	sqlite3_create_function_v2(s->db, "runner_now_ms", 0, SQLITE_UTF8,
	    NULL, sql_now_ms, NULL, NULL, NULL);
	if (mode == STORE_ENQUEUE) {
		int on = 1;
		sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
	}
	return exec_sql(s, "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON", "configure");
}

int store_url(const char *configured, const char **url)
{
	const char *env = getenv(STORE_ENV);

	*url = configured;
	if (env && *env) {
		if (!config_store_url_valid(env))
			return error_set(ERR_INVALID, "%s='%s': not a "
			    "postgresql:// URL", STORE_ENV, env);
		*url = env;
	}
	return 0;
}

int store_open(const char *home, const char *configured,
    enum store_mode mode, struct store **out)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->server_wait_ms = -1;
	const char *url = NULL;
	int error, version;

	*out = NULL;
	if ((error = store_url(configured, &url)) < 0)
		goto fail;
	if (url) {
		/* (pg_open sets the wait with the session's other settings) */
		s->busy_ms = 10000;
		if ((error = pg_open(s, url)) < 0)
			goto fail;
	} else if ((error = open_sqlite(s, home, mode)) < 0)
		goto fail;
	if (mode == STORE_CREATE) {
		/* space freed by `runner gc` goes back to the file system
		 * (settable only before the first table) */
		if ((!s->pg && (error = exec_sql(s, "PRAGMA auto_vacuum = "
		    "INCREMENTAL; PRAGMA journal_mode = WAL",
		    "enable WAL")) < 0) || (error = migrate(s)) < 0)
			goto fail;
	} else if ((version = schema_version(s)) < 0) {
		error = version;
		goto fail;
	} else if (version > MIGRATIONS) {
		error = error_set(ERR_INVALID, "store '%s' has schema version %d, "
		    "newer than this runner knows (%d): upgrade the runner",
		    s->path, version, MIGRATIONS);
		goto fail;
	} else if (version < MIGRATIONS && (error = migrate(s)) < 0) {
		/* a store an older runner made: brought up to date by whoever
		 * opens it first and may write it */
		error = error_set(error, "store '%s' was made by an older runner "
		    "and cannot be brought up to date here (%s): run 'runner "
		    "init' or start the daemon as the runner's user", s->path,
		    error_last());
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

void store_server_wait(struct store *s, int ms)
{
	s->server_wait_ms = ms;
}

int store_busy_timeout(struct store *s, int ms)
{
	s->busy_ms = ms;
	if (s->pg)
		return pg_wait_limit(s, ms);
	sqlite3_busy_handler(s->db, on_busy, s);
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_SLOTS; i++)
		stmt_free(s->stmts[i]);
	if (s->pg)
		pg_close(s);
	sqlite3_close(s->db);
	free(s->fence_host);
	free(s->path);
	free(s->pg_err);
	free(s);
}

int store_schema_version(struct store *s)
{
	return schema_version(s);
}

void queued(struct store *s)
{
	if (!s->pg)
		return;
	if (in_transaction(s))
		s->queued = 1;
	else
		pg_exec(s, PG_NOTIFY, "notify");
}

int store_listen(struct store *s)
{
	if (!s->pg)
		return error_set(ERR_NOTFOUND, "store '%s': SQLite tells no one",
		    s->path);
	return pg_listen(s);
}

int store_heard(struct store *s)
{
	return s->pg ? pg_heard(s) : 0;
}

int store_fd(struct store *s)
{
	return s->pg ? pg_socket(s) : -1;
}

int store_alive(struct store *s)
{
	return s->pg ? pg_alive(s) : 0;
}

int store_is_sqlite(const struct store *s)
{
	return s->db != NULL;
}

const char *store_location(const struct store *s)
{
	return s->path;
}
