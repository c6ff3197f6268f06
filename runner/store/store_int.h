/*
 * Inside the store: the connection, its statement cache, typed binding and
 * transactions, shared by the files that each store one thing (jobs.c,
 * envs.c, outbox.c). Not for use outside runner/store/.
 */
#ifndef RUNNER_STORE_INT_H
#define RUNNER_STORE_INT_H

#include "state.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Each file numbers its statements from its own base, and keeps their SQL
 * in a table indexed by those numbers; the connection keeps one prepared
 * statement per number.
 */
enum stmt_base {
	BASE_STORE = 0,
	BASE_JOBS = 8,
	BASE_DEPLOYS = 56,
	BASE_OUTBOX = 80,
	BASE_ADMIN = 104,
	BASE_HOSTS = 136,
	BASE_CHUNKS = 152,
	BASE_REPOS = 162,
	BASE_AUDIT = 176,
	BASE_FIND = 192,
	STMT_SLOTS = 200
};
typedef const char *const sql_table[STMT_SLOTS];
/* A file's table, `sql` in it, and store_sql_FILE for store_statement():
 * STORE_SQL(jobs) = { [Q_...] = "...", }; */
#define STORE_SQL(file) sql_table store_sql_##file; \
	static const char *const *const sql = store_sql_##file; \
	sql_table store_sql_##file
extern sql_table store_sql_store, store_sql_jobs, store_sql_deploys,
    store_sql_outbox, store_sql_admin, store_sql_hosts, store_sql_chunks,
    store_sql_repos, store_sql_audit;
/* The store's clock in a statement, in ms since the epoch: SQLite's
 * store is one machine's, whose clock is the runner's (now_ms(), as the
 * function runner_now_ms() store.c gives SQLite); PostgreSQL's is the
 * server's, one clock for every host that shares it. */
#define NOW_MS "/*sqlite*/ runner_now_ms() /*pg: (extract(epoch FROM " \
	"statement_timestamp()) * 1000)::bigint*/"
/* Statement `q` of the store, whichever file has it; NULL for a number
 * no statement has (for the tests that run every statement). */
const char *store_statement(int q);

/*
 * A statement of one engine. SQLite's is its own prepared statement;
 * PostgreSQL's is prepared once on the server (named "qN") and run with
 * the bound values when first stepped, its rows then read from the
 * result.
 */
struct stmt {
	struct store *s;
	int q;
	int readonly;		/* a SELECT: never fenced */
	sqlite3_stmt *lite;
	int nparams;
	char *text;		/* PostgreSQL: its SQL, when it cannot be
				 * prepared (BEGIN, SET) and runs as text */
	char *pgsql;		/* or its SQL, prepared as "qN" */
	int unnamed;		/* or run unnamed, planned for its values
				 * each run (FOR_ITS_VALUES, oneshot) */
	int prepared;		/* on this connection (lost with it) */
	char **vals;		/* PostgreSQL: the bound values, as text */
	PGresult *res;
	int row, nrows, ran;
};

struct store {
	sqlite3 *db;		/* one of these two */
	PGconn *pg;
	char *path;		/* for messages: the file, or the URL without
				 * its password */
	char *pg_err;		/* PostgreSQL's last error, and its SQLSTATE */
	char pg_state[6];
	int pg_changes;
	int queued;		/* this transaction queued a job */
	int pg_resetting;	/* connecting again after a broken link */
	int pg_listening;	/* LISTEN_*: again after connecting again */
	int pg_version;		/* the schema version pg_open read with the
				 * settings (0: no runner_schema yet) */
	int pg_busy;		/* the last statement left a transaction open
				 * (then a lost link is not waited for) */
	int server_wait_ms;	/* store_server_wait; < 0: busy_ms */
	int relaxed;		/* synchronous=NORMAL between durable commits */
	int oneshot;		/* PostgreSQL: each statement run once, unnamed
			 * (STORE_ENQUEUE: the hook's few) */
	int full;		/* ... and this transaction is a durable one */
	struct syncer *syncer;	/* store_sync_behind's (SQLite) */
	int sync_errno;		/* a sync of the WAL failed: no more writes */
	int busy_ms;		/* how long a write waits for another writer */
	/* SQLite: the newest job id when this connection's claims last ran
	 * the supersede statements (claim_once) */
	int64_t superseded_top;
	/* the job this connection's process holds (store_fence): every
	 * write checks first that it still does */
	int64_t fence_job;
	int fence_attempt;
	pid_t fence_worker;
	char *fence_host;
	struct stmt *stmts[STMT_SLOTS];
};

/*
 * A typed argument of a statement. Build them with the functions below,
 * whose prototypes the compiler checks (a number passed as text, or text
 * as a number, does not build), and pass them with ARGS(): the statement's
 * parameters ?1, ?2... get them in order, and a count that differs from
 * the statement's is an error, not a silent NULL.
 */
struct arg {
	enum { ARG_NULL, ARG_INT, ARG_TEXT, ARG_BLOB } type;
	int64_t i;		/* a number, or a blob's length */
	const char *t;
};
static inline struct arg arg_int(int64_t v)
{
	return (struct arg){ ARG_INT, v, NULL };
}
static inline struct arg arg_text(const char *v)	/* NULL: NULL */
{
	return (struct arg){ v ? ARG_TEXT : ARG_NULL, 0, v };
}
static inline struct arg arg_blob(const void *v, size_t len)
{
	return (struct arg){ ARG_BLOB, (int64_t)len, v ? v : "" };
}
static inline struct arg arg_id(int64_t v)	/* an id; 0: NULL */
{
	return v ? arg_int(v) : (struct arg){ ARG_NULL, 0, NULL };
}
static inline struct arg arg_count(int64_t v)	/* negative: NULL */
{
	return v >= 0 ? arg_int(v) : (struct arg){ ARG_NULL, 0, NULL };
}
#define ARGS(...) (const struct arg[]){ __VA_ARGS__ }, \
	sizeof((const struct arg[]){ __VA_ARGS__ }) / sizeof(struct arg)
#define NO_ARGS NULL, 0

/*
 * COLUMN = ?N for a state column (jobs, notifications), whose tables have
 * partial indexes on a literal state ("WHERE state = 'running'"): SQLite
 * plans a plain "state = ?N" with the value bound then, to see whether
 * such an index may serve, and plans the statement again each time a
 * value is bound after (sqlite3Reprepare: as much as the statement's
 * work, each time). A CAST is not compared with the index's predicate,
 * and still uses the index on the state. For a state a caller names (a
 * count): where the statement picks jobs of a known state, STATE_LEFT,
 * since PostgreSQL plans a statement once for whatever is bound, and
 * reads a bound state as a fifth of the table.
 */
#define STATE_IS(col, n) col " = CAST(?" n " AS TEXT)"

/*
 * The jobs a job_move() statement (?1 the state left, ?2 the state
 * entered) picks: those in state `name`, written into the statement, so
 * that every plan of it, SQLite's and PostgreSQL's generic one, knows
 * from the statistics and the partial indexes how few jobs are queued or
 * running. (Bound, the state read as a fifth of 100,000 jobs made the
 * claim's generic plan cost about a million, which the server then
 * compiled with JIT at every claim, and the supersede a scan of the
 * table.) ?1 must name the same state, a test made once a run: a
 * statement moved from another state changes nothing.
 */
#define STATE_LEFT(name) "state = " SQ(name) " AND CAST(?1 AS TEXT) = " \
	SQ(name)

/*
 * Of builds P and J of one repository and ref, P is before J, for the
 * newest such P (a scan down from J): written, beside the equalities,
 * also as one comparison of the columns of index jobs_branches (repo,
 * kind, ref, id), which PostgreSQL's plan for any ref then takes as where
 * its scan starts. Without it, that plan counts a ref as an average one,
 * and walks the primary key from J down through the other refs' jobs to
 * the ref's one before: all of them for the first build of a new branch
 * (16 ms on 100,000 jobs). SQLite seeks by the plain comparison, and
 * would take the row's for its first column alone. P, J: the names of
 * the two, each with its dot ("p."). (Not for a scan that ends there: a
 * B-tree ends a scan by a row's first column only.)
 */
#define BUILD_BEFORE(p, j) p "id < " j "id AND (" p "repo, " p "kind, " p \
	"ref, " p "id) < (" j "repo, 'build', " j "ref, " j "id)"

/*
 * In a statement whose best plan depends on the values bound (a page of
 * history filtered by a person, a state or a repository, which one job
 * in a thousand may match, or every other one): PostgreSQL plans it for
 * them at each run (a statement of its own, unnamed), where it plans
 * every other once, for any value (pg.c's configure). SQLite reads a
 * comment.
 */
#define FOR_ITS_VALUES "/*planned for its values*/ "

/* Report the connection's last error about `what`; returns the code
 * (ERR_NOSPACE, ERR_BUSY or -1). */
int db_error(struct store *s, const char *what);
/* The home's reserve of disk space given up, SQLite having found the
 * disk full (stmt.c). */
void release_reserve(struct store *s);
/* A statement finalized and freed (stmt.c); NULL-safe. */
void stmt_free(struct stmt *st);
/* Bring the store's schema up to this runner's (migrate.c): every
 * migration it has not had, in one transaction. */
int store_migrate(struct store *s);
/* Statement `q` of `sql`, prepared once, reset and unbound; NULL (with
 * the error set) if it cannot be prepared. */
struct stmt *stmt(struct store *s, int q, sql_table sql);
/* stmt() with `a` bound; NULL on a count that differs. */
struct stmt *stmt_bound(struct store *s, int q, sql_table sql,
    const struct arg *a, size_t n);
/* The next row of a statement: STEP_ROW, STEP_DONE, or -1 on an error
 * that db_error() then reports. */
enum { STEP_DONE = 0, STEP_ROW = 1 };
int step(struct stmt *st);
/* Ready the statement to run again; its bindings stay. */
void reset(struct stmt *st);
/* A column of the current row: as a number (NULL: 0; PostgreSQL's
 * booleans: 1 and 0), as text the statement owns (NULL: NULL), as text
 * the caller frees, and whether it is NULL. */
int64_t col_int64(struct stmt *st, int i);
int col_int(struct stmt *st, int i);
const char *col_str(struct stmt *st, int i);
char *col_text(struct stmt *st, int i);
int col_null(struct stmt *st, int i);
/* A BLOB column's bytes, appended to `out` (PostgreSQL sends a BYTEA as
 * hex text); -1 when they do not decode. */
struct sbuf;
int col_blob(struct stmt *st, int i, struct sbuf *out);
int col_count(struct stmt *st);
/* How many rows the last statement that ran changed. */
int changes(struct store *s);
/* Run a bound statement that returns no rows. */
int exec_stmt(struct store *s, struct stmt *st, const char *what);
/* Bind and run statement `q` (no rows). */
int run(struct store *s, int q, sql_table sql, const char *what,
    const struct arg *a, size_t n);
/* Bind and run statement `q` (INSERT ... RETURNING id): *id is the id
 * of its first row, or 0 when it made none. */
int run_id(struct store *s, int q, sql_table sql, const char *what,
    int64_t *id, const struct arg *a, size_t n);
/* The first column of the first row of `q` (a number not below 0), or
 * 0 when there is none; an error (negative) is the server's, reported. */
int64_t first_id(struct store *s, int q, sql_table sql, const struct arg *a,
    size_t n);
/* The first column of every row of a bound statement. */
int ids_of(struct store *s, struct stmt *st, int64_t **out, size_t *n);
/* Run SQL text (several statements) once. */
int exec_sql(struct store *s, const char *text, const char *what);

/* A job was queued: the hosts that listen are told when the transaction
 * commits (at once outside one). */
void queued(struct store *s);

/* Transactions: begin_durable() for one that must be on disk when it
 * commits, on a relaxed connection too (store_relax in store.h). */
int begin(struct store *s);
int begin_durable(struct store *s);
int commit(struct store *s);
void rollback(struct store *s);

/* The PostgreSQL engine (pg.c): the same calls for a connection whose
 * `pg` is set. */
int pg_open(struct store *s, const char *url);
void pg_close(struct store *s);
int pg_prepare(struct store *s, struct stmt *st, const char *sql);
int pg_step(struct stmt *st);
int pg_exec(struct store *s, const char *text, const char *what);
int pg_error(struct store *s, const char *what);
int pg_in_transaction(struct store *s);
/* The channel a queued job is announced on: one per schema, so that
 * stores sharing a database (one schema each) do not wake each other's
 * workers. A name of hex digits: nothing to quote. */
#define PG_QUEUE_CHANNEL "'runner_queue_' || left(md5(current_schema()), 16)"
#define PG_NOTIFY "SELECT pg_notify(" PG_QUEUE_CHANNEL ", '')"
#define PG_LISTEN "DO $$BEGIN EXECUTE 'LISTEN ' || " PG_QUEUE_CHANNEL "; END$$"
/* A chunk of a stage's log was stored: its job and stage, as "JOB IDX",
 * on the schema's channel for logs (store_log_watch). */
#define PG_LOG_CHANNEL "'runner_log_' || left(md5(current_schema()), 16)"
#define PG_LISTEN_LOGS "DO $$BEGIN EXECUTE 'LISTEN ' || " PG_LOG_CHANNEL \
	"; END$$"
enum { LISTEN_QUEUE = 1, LISTEN_LOGS = 2 };
int pg_listen(struct store *s);
int pg_listen_logs(struct store *s);
/* Each notification heard (0 when none, < 0 on a broken connection):
 * its payload passed to `fn` when given. */
int pg_heard_each(struct store *s, void (*fn)(const char *payload,
    void *arg), void *arg);
/* A write waits `ms` for a lock, and a statement whose request the
 * server has not acknowledged fails after `ms` (a cut link). */
int pg_wait_limit(struct store *s, int ms);
int pg_heard(struct store *s);
/* The connection's descriptor, -1 while it is down. */
int pg_socket(struct store *s);
/* The connection as it is, opened again if it broke (within the limit
 * of store_connect_limit): 0, or why it cannot be used. */
int pg_alive(struct store *s);
void pg_reset(struct stmt *st);
const char *pg_value(struct stmt *st, int i);
int pg_nfields(struct stmt *st);
/* The first column of the first row of `sql` (PostgreSQL's text, run as
 * it is), appended to `out`: 1, or 0 when there is none or it is NULL;
 * the server's error about `what` otherwise. */
int pg_value_of(struct store *s, const char *sql, const char *what,
    struct sbuf *out);
/* SQL of the store in PostgreSQL's dialect (dialect.c): *out, which the
 * caller frees; ERR_INVALID for what has no exact equivalent there. */
int pg_sql(const char *sqlite, char **out);

/*
 * Move jobs from state `from` to `to` with UPDATE `q`, whose ?1 is `from`
 * and ?2 is `to` (its WHERE says `state = ?1`: a job no longer in `from`
 * is left alone) and whose other parameters are `a`. Every change of a
 * job's state goes through here; a transition the state machine does not
 * allow (state.h) is refused before any SQL runs. *changed (may be NULL)
 * is how many jobs moved.
 */
int job_move(struct store *s, int q, sql_table sql, enum job_state from,
    enum job_state to, const struct arg *a, size_t n, int *changed);
/* The same move for an UPDATE ... RETURNING that the caller steps (the
 * claim returns the job it took): the statement, bound, in *out, or
 * ERR_INVALID for a move the state machine refuses, before any SQL. */
int job_move_stmt(struct store *s, int q, sql_table sql, enum job_state from,
    enum job_state to, const struct arg *a, size_t n, struct stmt **out);

/* End running job `id` in `state` inside the caller's transaction: its
 * pending stages skipped, its event recorded (jobs.c). */
int job_end(struct store *s, int64_t id, enum job_state state,
    const char *error_msg);

/* The event that the end of job `id` causes (outbox.c), recorded in the
 * transaction that ends it. */
int outbox_job_ended(struct store *s, int64_t id);

/* Who caused job `id` (audit.c), in the transaction that queues it:
 * `w` (NULL: nothing), or what job `from` records. */
struct who;
int audit_record(struct store *s, int64_t id, const struct who *w);
int audit_copy(struct store *s, int64_t id, int64_t from);

/* Name, in the caller's transaction, the repositories that had jobs
 * before names were recorded, in the order of their first jobs (repos.c):
 * when the schema gains its `repos` table, and before a new repository
 * is named. */
#define SCHEMA_REPOS 13
int repos_backfill(struct store *s);

#endif
