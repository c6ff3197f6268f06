/*
 * The store: the runner's records in SQLite (WAL) under its home, one
 * connection per process. What it stores is declared by what it is:
 * jobs.h (builds, deployments, stages, artifacts, the queue), envs.h
 * (deployments, environments, releases), outbox.h (events and
 * notifications); the states and their machine are in state.h.
 */
#ifndef RUNNER_STORE_H
#define RUNNER_STORE_H

#include <stdint.h>

#define STORE_FILE "runner.db"
/* A postgresql:// URL here wins over runner.yml's `store:` (a build
 * host's `runner worker --store URL` sets it for the processes it
 * starts). */
#define STORE_ENV "RUNNER_STORE"

struct store;

/*
 * STORE_OPEN an existing store; STORE_CREATE it if needed and migrate;
 * STORE_ENQUEUE is STORE_OPEN for a short-lived writer inside `git push`:
 * its close neither checkpoints the WAL into the database nor removes the
 * WAL file (the daemon or the next long-lived connection does that), so
 * the hook's one durable commit is its only sync. On PostgreSQL its
 * statements run unnamed, one round trip each, not prepared first.
 * STORE_RELAXED is STORE_OPEN relaxed from the start (store_relax): on
 * PostgreSQL with the connection's other settings, no round trip more.
 */
enum store_mode { STORE_OPEN, STORE_CREATE, STORE_ENQUEUE, STORE_RELAXED };
/* Copy the WAL back into the store and empty it once it holds `pages`
 * pages after a commit (for a connection that is alone). */
void store_wal_limit(struct store *s, int pages);

/* The store that `configured` (runner.yml's `store:`, from the
 * caller's configuration; NULL: SQLite in the home) leads to: *url is its
 * PostgreSQL URL (STORE_ENV wins over `configured`), or NULL for SQLite's
 * HOME/runner.db. The store reads no runner.yml itself. */
int store_url(const char *configured, const char **url);
/* Open the store of HOME as `mode` says: the one `url` leads to
 * (store_url: runner.yml's `store:` as the caller's configuration has
 * it, NULL for SQLite in the home). */
int store_open(const char *home, const char *url, enum store_mode mode,
    struct store **out);
void store_close(struct store *s);
/* How long a write waits for another writer (default 10 s); the
 * server's error when it cannot be set. On PostgreSQL a statement
 * between transactions waits as long for a server that went away (a
 * restart, a failover) to answer again. */
int store_busy_timeout(struct store *s, int ms);
/* How long a statement waits for a PostgreSQL server that went away,
 * when that is not the busy timeout (the supervisor: 0, it tries again
 * on its next round). */
void store_server_wait(struct store *s, int ms);
/*
 * Let writes that can be done again commit with synchronous=NORMAL: progress
 * (stage started or ended, subjects, check results), the claim of a build
 * (a lost one is run again from the queue) and the routing of events to
 * notifications (a lost routing is routed again: the event itself was
 * stored with the job's end). On a power cut the newest of them may be
 * lost, never a job or its outcome. Enqueues, the claim of a deployment,
 * cancels, the end of a job or deployment, delivery results and recovery
 * stay synchronous=FULL.
 */
int store_relax(struct store *s);

/*
 * A worker's durable commits (SQLite, on a relaxed connection) return once
 * committed, and a thread of the store writes them to disk behind it: the
 * worker prepares its next job meanwhile. store_settle waits until every
 * durable commit so far is on disk; the caller settles before anything
 * it does reaches outside (a stage, a deployment's step), and
 * store_close before it closes. PostgreSQL: nothing to do.
 *
 * A write of the WAL to disk that failed may have lost what it held
 * while every reader sees it: the connection then refuses every write,
 * store_settle and store_failed say so (0 if none failed), and its
 * process stops (STORE_EXIT_DISK for a worker or the notifier, on which
 * the daemon stops).
 */
#define STORE_EXIT_DISK 74	/* a daemon's child to its supervisor */
int store_sync_behind(struct store *s);
int store_settle(struct store *s);
int store_failed(struct store *s);
/* Before something leaves the process on the strength of what the store
 * says (a notification, a note, a job's end told to its pusher, a
 * deployment gated on another's outcome): every commit so far, anyone's,
 * on disk (SQLite: the WAL synced). 0 or the error. */
int store_sync_now(struct store *s);

/*
 * For a process that lives long and touches the store often (a worker,
 * the notifier): SQLite's cache of the store's pages bounded to 64 KiB.
 * Its default, 2 MiB a connection, fills as a large store is read and is
 * kept for the life of the connection; the pages stay in the kernel's
 * cache, and another process's commit empties this one anyway. A
 * PostgreSQL store keeps no such cache here. 0 or an error.
 */
int store_cache_small(struct store *s);

/* The schema: how many versions there are, and the SQL that makes
 * version `v` of version v-1 (NULL past the last); for the upgrade tests. */
int store_migrations(void);
const char *store_migration(int version);
/* The schema version of the open store; an error (negative) when it
 * cannot be read. */
int store_schema_version(struct store *s);
/*
 * Be told when a job is queued, by any host: a descriptor to poll for
 * input, then store_heard() (1: something was queued; 0: nothing; < 0:
 * the connection broke, open it again). SQLite has no such thing: -1,
 * ERR_NOTFOUND, and the daemon looks at the store's files instead.
 */
int store_listen(struct store *s);
int store_heard(struct store *s);
/* The descriptor that store_listen() and store_log_watch() make readable;
 * -1 for SQLite and while the connection is down (it changes when the
 * connection is made again: ask each time). */
int store_fd(struct store *s);
/*
 * A connection kept (the web page's, `runner log -f`'s) made ready for
 * use: a PostgreSQL link that the server closed is opened again, within
 * store_connect_limit(). 0, or the error to show.
 */
int store_alive(struct store *s);
/* How long opening a PostgreSQL connection may take in this process, all
 * the hosts of its URL together; 0 (the default): connect_timeout (10 s)
 * for each host. For what answers people: a page says the server is gone
 * within a second. */
void store_connect_limit(int ms);
/* Is it the SQLite file in the home (not PostgreSQL)? */
int store_is_sqlite(const struct store *s);

/* Give the space that deletions freed back to the file system; the
 * bytes it gave (SQLite; PostgreSQL's own vacuum does this there). */
int store_compact(struct store *s, int64_t *freed);
/* Bytes the store takes: the file and its WAL, or the database; an error
 * (negative) when the server cannot say. */
int64_t store_size(struct store *s);
/* Where it is: the file, or the URL without its password. */
const char *store_location(const struct store *s);

#endif
