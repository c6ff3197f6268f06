/*
 * The store's connection: SQLite in the home by default, PostgreSQL
 * (pg.c) when runner.yml names one. SQLite: one connection per process,
 * WAL, synchronous=FULL (a commit is on disk before it returns:
 * the hook's enqueue must survive a power cut the moment the push is
 * accepted), prepared statements kept for the life of the connection,
 * typed bindings (stmt.c), and a schema version with forward migrations
 * (migrate.c). This file opens and closes it and holds its transactions.
 * What is stored is in jobs.c, envs.c and outbox.c.
 */
#include "store.h"
#include "store_int.h"
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum q { Q_BEGIN = BASE_STORE, Q_COMMIT, Q_ROLLBACK,
	Q_SYNC_NORMAL, Q_FENCE, Q_STORE_END };
_Static_assert((int)Q_STORE_END <= (int)BASE_JOBS, "store statements overlap");

STORE_SQL(store) = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
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

	if (st && !s->pg && !st->readonly && !own_stmt(s, st) &&
	    !in_transaction(s) && (error = store_failed(s)) < 0) {
		reset(st);
		return error;
	}
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

	/* a sync of the WAL failed: nothing more is written (sync_failed) */
	if (!s->pg && (error = store_failed(s)) < 0)
		return error;

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
 * the end of a job or deployment). On a relaxed SQLite connection the
 * commit itself stays synchronous=NORMAL and the WAL is synced after it
 * (wal_sync; a worker's by its thread, store_sync_behind), so the store's
 * one write lock is not held across the disk's flush: with FULL, every
 * other writer (the other workers, the notifier) waited that flush, up to
 * a millisecond a job, and slept in the busy handler, leaving a core
 * idle. As the WAL is written in order, that sync also makes every
 * relaxed commit before it durable, and a power cut loses a suffix of
 * the commits, never one in the middle. (PostgreSQL:
 * synchronous_commit for this transaction alone, SET LOCAL, sent with
 * its BEGIN: no round trip before nor after.)
 */
int begin_durable(struct store *s)
{
	int error;

	if (s->pg)
		return begin_fenced(s, 1);
	if ((error = begin(s)) == 0 && s->relaxed)
		s->full = 1;
	return error;
}

/*
 * A sync of the WAL that failed (EIO; ENOSPC where the file system
 * allocates late) leaves frames every reader sees that may never reach
 * the disk (Linux marks their pages written), and a later sync that
 * succeeds does not bring them back: nothing this connection commits
 * after it could be trusted to be on disk. It refuses every write from
 * then on (store_failed), and its process stops (a worker or the
 * notifier exits STORE_EXIT_DISK, and the daemon stops on it).
 */
static int sync_failed(struct store *s, int err)
{
	if (!s->sync_errno)
		s->sync_errno = err;
	return error_set(err == ENOSPC ? ERR_NOSPACE : ERR_GENERIC,
	    "store: a write of the store's log (%s-wal) to disk failed (%s): "
	    "what was committed since its last sync may be lost on a power "
	    "cut", sqlite3_db_filename(s->db, "main"), strerror(err));
}

/*
 * The WAL to disk, after a durable commit of a relaxed connection: through
 * SQLite's own file of it (its sync: fdatasync, and the folder's once when
 * the file is new). A frame another writer overwrote meanwhile was
 * checkpointed first, and the checkpoint synced the database.
 */
static int wal_sync(struct store *s)
{
	sqlite3_file *wal = NULL;
	int err = 0;

	if (s->sync_errno)
		return sync_failed(s, s->sync_errno);
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wal) != SQLITE_OK || !wal || !wal->pMethods)
		return error_set(ERR_GENERIC, "store: '%s' has no WAL to write "
		    "to disk: not in WAL mode", sqlite3_db_filename(s->db,
		    "main"));
	if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) == SQLITE_OK)
		return 0;
	if (wal->pMethods->xFileControl(wal, SQLITE_FCNTL_LAST_ERRNO,
	    &err) != SQLITE_OK || !err)
		err = EIO;
	return sync_failed(s, err);
}

int store_sync_now(struct store *s)
{
	return s->pg ? 0 : wal_sync(s);
}

/*
 * store_sync_behind: a thread syncs the WAL while the worker goes on, on a
 * descriptor of its own (SQLite's file is the connection's: its thread
 * alone touches it). want counts the durable commits handed to it, done
 * those written (or given up: error, the errno of a sync that failed,
 * for good; no sync is tried after it).
 */
struct syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t want, done;
	int error, quit;
	int fd;			/* the WAL, opened by the connection's thread */
};

static void *syncer_main(void *arg)
{
	struct syncer *y = arg;

	pthread_mutex_lock(&y->lock);
	for (;;) {
		while (!y->quit && y->done == y->want)
			pthread_cond_wait(&y->cond, &y->lock);
		if (y->done == y->want)
			break;		/* told to quit, nothing left */
		uint64_t upto = y->want;
		int fd = y->fd;
		pthread_mutex_unlock(&y->lock);
		int rc = y->error || fdatasync(fd) == 0 ? 0 : errno;
		pthread_mutex_lock(&y->lock);
		if (rc && !y->error)
			y->error = rc;
		y->done = upto;
		pthread_cond_broadcast(&y->cond);
	}
	pthread_mutex_unlock(&y->lock);
	return NULL;
}

int store_sync_behind(struct store *s)
{
	struct syncer *y;

	if (s->pg || !s->relaxed || s->syncer)
		return 0;
	y = xcalloc(1, sizeof(*y));
	y->fd = -1;
	pthread_mutex_init(&y->lock, NULL);
	pthread_cond_init(&y->cond, NULL);
	if (pthread_create(&y->thread, NULL, syncer_main, y) != 0) {
		pthread_cond_destroy(&y->cond);
		pthread_mutex_destroy(&y->lock);
		free(y);
		return error_set(ERR_GENERIC, "store: cannot start the thread "
		    "that writes the store's log to disk: its commits wait "
		    "for the disk");
	}
	s->syncer = y;
	return 0;
}

/* Wait until every durable commit so far is written, or given up. */
static void syncer_wait(struct syncer *y)
{
	pthread_mutex_lock(&y->lock);
	while (y->done != y->want)
		pthread_cond_wait(&y->cond, &y->lock);
	pthread_mutex_unlock(&y->lock);
}

int store_failed(struct store *s)
{
	struct syncer *y = s->syncer;
	int error = 0;

	if (y && !s->sync_errno) {
		pthread_mutex_lock(&y->lock);
		error = y->error;
		pthread_mutex_unlock(&y->lock);
	}
	if (error || s->sync_errno)
		return sync_failed(s, s->sync_errno ? s->sync_errno : error);
	return 0;
}

int store_settle(struct store *s)
{
	if (s->syncer)
		syncer_wait(s->syncer);
	return s->pg ? 0 : store_failed(s);
}

/*
 * A durable commit handed to the thread. Its descriptor is opened after
 * SQLite's own sync of the file once (the folder's entry of a new WAL
 * with it), and again when the WAL it has is no longer the store's (a
 * file removed: the last connection closed it, or another mode).
 */
static int syncer_post(struct store *s)
{
	struct syncer *y = s->syncer;
	struct stat st;
	int error;

	if (y->fd >= 0 && fstat(y->fd, &st) == 0 && st.st_nlink > 0) {
		pthread_mutex_lock(&y->lock);
		y->want++;
		pthread_cond_signal(&y->cond);
		pthread_mutex_unlock(&y->lock);
		return 0;
	}
	syncer_wait(y);
	if ((error = store_failed(s)) < 0 || (error = wal_sync(s)) < 0)
		return error;
	char *path = xasprintf("%s-wal", sqlite3_db_filename(s->db, "main"));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(path);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	pthread_mutex_lock(&y->lock);
	if (y->fd >= 0)
		close(y->fd);
	y->fd = fd;		/* -1: synced here, the next one too */
	pthread_mutex_unlock(&y->lock);
	return 0;
}

static void syncer_stop(struct store *s)
{
	struct syncer *y = s->syncer;

	if (!y)
		return;
	pthread_mutex_lock(&y->lock);
	y->quit = 1;
	pthread_cond_signal(&y->cond);
	pthread_mutex_unlock(&y->lock);
	pthread_join(y->thread, NULL);
	if (y->fd >= 0)
		close(y->fd);
	pthread_cond_destroy(&y->cond);
	pthread_mutex_destroy(&y->lock);
	free(y);
	s->syncer = NULL;
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

	if (s->full && error == 0)
		error = s->syncer ? syncer_post(s) : wal_sync(s);
	s->full = 0;
	return error;
}

void rollback(struct store *s)
{
	s->queued = 0;
	if (in_transaction(s))
		exec_stmt(s, stmt(s, Q_ROLLBACK, sql), "rollback");
	s->full = 0;
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
#define MIGRATIONS store_migrations()

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
		    mode == STORE_OPEN || mode == STORE_RELAXED ?
		    " (run 'runner init' first)" : "");
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
		s->oneshot = mode == STORE_ENQUEUE;
		/* relaxed with the session's other settings */
		s->relaxed = mode == STORE_RELAXED;
		if ((error = pg_open(s, url)) < 0)
			goto fail;
	} else if ((error = open_sqlite(s, home, mode)) < 0)
		goto fail;
	if (mode == STORE_CREATE) {
		/* space freed by `runner gc` goes back to the file system
		 * (settable only before the first table) */
		if ((!s->pg && (error = exec_sql(s, "PRAGMA auto_vacuum = "
		    "INCREMENTAL; PRAGMA journal_mode = WAL",
		    "enable WAL")) < 0) || (error = store_migrate(s)) < 0)
			goto fail;
	} else if ((version = s->pg ? s->pg_version :
	    store_schema_version(s)) < 0) {
		error = version;
		goto fail;
	} else if (version > MIGRATIONS) {
		error = error_set(ERR_INVALID, "store '%s' has schema version %d, "
		    "newer than this runner knows (%d): upgrade the runner",
		    s->path, version, MIGRATIONS);
		goto fail;
	} else if (version < MIGRATIONS && (error = store_migrate(s)) < 0) {
		/* a store an older runner made: brought up to date by whoever
		 * opens it first and may write it */
		error = error_set(error, "store '%s' was made by an older runner "
		    "and cannot be brought up to date here (%s): run 'runner "
		    "init' or start the daemon as the runner's user", s->path,
		    error_last());
		goto fail;
	}
	if (mode == STORE_RELAXED && !s->pg && (error = store_relax(s)) < 0)
		goto fail;
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
	syncer_stop(s);		/* the last commits on disk first */
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
