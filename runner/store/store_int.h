/*
 * Inside the store: the connection, its statement cache, typed binding and
 * transactions, shared by the files that each store one thing (jobs.c,
 * deploys.c, outbox.c). Not for use outside runner/store/.
 */
#ifndef RUNNER_STORE_INT_H
#define RUNNER_STORE_INT_H

#include "state.h"

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
	BASE_DEPLOYS = 48,
	BASE_OUTBOX = 72,
	BASE_ADMIN = 96,
	BASE_HOSTS = 128,
	STMT_SLOTS = 144
};
typedef const char *const sql_table[STMT_SLOTS];

struct store {
	sqlite3 *db;
	char *path;
	int relaxed;		/* synchronous=NORMAL between durable commits */
	int busy_ms;		/* how long a write waits for another writer */
	/* the job this connection's process holds (store_fence): every
	 * write checks first that it still does */
	int64_t fence_job;
	int fence_attempt;
	pid_t fence_worker;
	char *fence_host;
	sqlite3_stmt *stmts[STMT_SLOTS];
};

/*
 * A typed argument of a statement. Build them with the functions below,
 * whose prototypes the compiler checks (a number passed as text, or text
 * as a number, does not build), and pass them with ARGS(): the statement's
 * parameters ?1, ?2... get them in order, and a count that differs from
 * the statement's is an error, not a silent NULL.
 */
struct arg {
	enum { ARG_NULL, ARG_INT, ARG_TEXT } type;
	int64_t i;
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

/* Report the connection's last error about `what`; returns the code
 * (ERR_NOSPACE, ERR_BUSY or -1). */
int db_error(struct store *s, const char *what);
/* Statement `q` of `sql`, prepared once, reset and unbound; NULL (with
 * the error set) if it cannot be prepared. */
sqlite3_stmt *stmt(struct store *s, int q, sql_table sql);
/* stmt() with `a` bound; NULL on a count that differs. */
sqlite3_stmt *stmt_bound(struct store *s, int q, sql_table sql,
    const struct arg *a, size_t n);
/* Run a bound statement that returns no rows. */
int exec_stmt(struct store *s, sqlite3_stmt *st, const char *what);
/* Bind and run statement `q` (no rows). */
int run(struct store *s, int q, sql_table sql, const char *what,
    const struct arg *a, size_t n);
/* The first column of the first row of `q`, or 0. */
int64_t first_id(struct store *s, int q, sql_table sql, const struct arg *a,
    size_t n);
/* The first column of every row of a bound statement. */
int ids_of(struct store *s, sqlite3_stmt *st, int64_t **out, size_t *n);
/* Run SQL text (several statements) once. */
int exec_sql(struct store *s, const char *text, const char *what);

/* Transactions: begin_durable() for one that must be on disk when it
 * commits, on a relaxed connection too (store_relax in store.h). */
int begin(struct store *s);
int begin_durable(struct store *s);
int commit(struct store *s);
void rollback(struct store *s);

/* A column as a string the caller frees, or NULL. */
char *col_text(sqlite3_stmt *st, int i);
void bind_text(sqlite3_stmt *st, int i, const char *v);

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

/* End running job `id` in `state` inside the caller's transaction: its
 * pending stages skipped, its event recorded (jobs.c). */
int job_end(struct store *s, int64_t id, enum job_state state,
    const char *error_msg);

/* The event that the end of job `id` causes (outbox.c), recorded in the
 * transaction that ends it. */
int outbox_job_ended(struct store *s, int64_t id);

#endif
