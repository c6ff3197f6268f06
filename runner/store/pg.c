/*
 * PostgreSQL behind the store interface (store_int.h): runner.yml's
 * `store: postgresql://...`, shared by the build hosts. The statements
 * are the store's own, written for SQLite with the places where the
 * engines differ marked; pg_sql() (dialect.c) turns each into
 * PostgreSQL's dialect once, when it is prepared on the server.
 */
#include "store.h"
#include "store_int.h"
#include "util.h"

#include <ctype.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * libpq is loaded when a PostgreSQL store is first opened, not linked:
 * it brings two dozen shared libraries (TLS, Kerberos, LDAP) whose
 * loading would cost every process, the hook inside `git push` first,
 * about ten milliseconds, with SQLite as much as with PostgreSQL.
 */
#define PQ_CALLS(X) X(PQconnectdbParams) X(PQstatus) X(PQerrorMessage) \
	X(PQsetNoticeProcessor) X(PQfinish) X(PQreset) X(PQexec) \
	X(PQresultStatus) X(PQresultErrorMessage) X(PQresultErrorField) \
	X(PQclear) X(PQprepare) \
	X(PQexecPrepared) X(PQexecParams) X(PQcmdTuples) X(PQntuples) X(PQnfields) \
	X(PQgetvalue) X(PQgetisnull) X(PQtransactionStatus) X(PQcmdStatus) \
	X(PQsocket) X(PQconsumeInput) X(PQnotifies) X(PQfreemem) \
	X(PQconnectStartParams) X(PQconnectPoll) X(PQresetStart) \
	X(PQresetPoll) X(PQserverVersion)
#define PQ_POINTER(f) __typeof__(f) *f;
static struct { PQ_CALLS(PQ_POINTER) } pq;
#define PQ_LOAD(f) if (!(pq.f = (__typeof__(pq.f))dlsym(lib, #f))) \
	missing = #f;
static const char *pq_error;

static void load_pq(void)
{
	void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!lib) {
		pq_error = xstrdup(dlerror());
		return;
	}
	PQ_CALLS(PQ_LOAD)
	if (missing)
		pq_error = xasprintf("libpq.so.5 has no %s", missing);
}

/* The calls below go through the pointers loaded. */
#define PQconnectdbParams pq.PQconnectdbParams
#define PQstatus pq.PQstatus
#define PQerrorMessage pq.PQerrorMessage
#define PQsetNoticeProcessor pq.PQsetNoticeProcessor
#define PQfinish pq.PQfinish
#define PQreset pq.PQreset
#define PQexec pq.PQexec
#define PQresultStatus pq.PQresultStatus
#define PQresultErrorMessage pq.PQresultErrorMessage
#define PQresultErrorField pq.PQresultErrorField
#define PQclear pq.PQclear
#define PQprepare pq.PQprepare
#define PQexecPrepared pq.PQexecPrepared
#define PQexecParams pq.PQexecParams
#define PQcmdTuples pq.PQcmdTuples
#define PQntuples pq.PQntuples
#define PQnfields pq.PQnfields
#define PQgetvalue pq.PQgetvalue
#define PQgetisnull pq.PQgetisnull
#define PQtransactionStatus pq.PQtransactionStatus
#define PQcmdStatus pq.PQcmdStatus
#define PQsocket pq.PQsocket
#define PQconsumeInput pq.PQconsumeInput
#define PQnotifies pq.PQnotifies
#define PQfreemem pq.PQfreemem
#define PQconnectStartParams pq.PQconnectStartParams
#define PQconnectPoll pq.PQconnectPoll
#define PQresetStart pq.PQresetStart
#define PQresetPoll pq.PQresetPoll
#define PQserverVersion pq.PQserverVersion

/* How long opening a connection may take in this process; 0: libpq's
 * own connect_timeout, for each host of the URL (store_connect_limit). */
static int connect_limit_ms;

void store_connect_limit(int ms)
{
	connect_limit_ms = ms;
}

/*
 * Wait for a connection started (or restarted) without blocking, until
 * it is made or connect_limit_ms have passed: a server that does not
 * answer costs a page that much, not libpq's connect_timeout (which it
 * bounds at 2 s at least, for each host of the URL).
 */
static int connect_wait(PGconn *c, int reset)
{
	int64_t end = mono_ms() + connect_limit_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (PQstatus(c) == CONNECTION_BAD)
		return -1;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p = { PQsocket(c), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, 0 };
		int64_t left = end - mono_ms();
		/* not in time: left half made (not OK), to be started again
		 * by the next statement */
		if (left <= 0 || p.fd < 0 || poll(&p, 1, (int)left) <= 0)
			return ERR_TIMEOUT;
		st = reset ? PQresetPoll(c) : PQconnectPoll(c);
	}
	return st == PGRES_POLLING_OK ? 0 : -1;
}

/*
 * The URL without its password, for messages, `runner status` and the
 * web page: the one of USER:PASSWORD@ and that of a password= parameter.
 */
static char *redact(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *at = NULL, *colon = NULL, *q;
	struct sbuf out = SBUF_INIT;

	if (scheme) {
		scheme += 3;
		at = strchr(scheme, '@');
		colon = strchr(scheme, ':');
		q = strpbrk(scheme, "/?");
		if (!at || !colon || colon > at || (q && q < at))
			at = colon = NULL;
	}
	if (colon) {
		sbuf_add(&out, url, (size_t)(colon - url));
		sbuf_addf(&out, ":***");
		url = at;
	}
	while ((q = strstr(url, "password="))) {
		q += 9;
		/* a parameter of its own, not the end of another's name */
		if (q - 9 > url && !strchr("?&", q[-10])) {
			sbuf_add(&out, url, (size_t)(q - url));
			url = q;
			continue;
		}
		sbuf_add(&out, url, (size_t)(q - url));
		sbuf_addf(&out, "***");
		url = q + strcspn(q, "&");
	}
	sbuf_addf(&out, "%s", url);
	return sbuf_detach(&out);
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int pg_exec(struct store *s, const char *text, const char *what);

/*
 * The session's settings, again after a reconnection. Its statements are
 * short, each reads a few rows by an index: JIT compiling one only ever
 * costs (milliseconds, at every run of a statement whose estimate passed
 * jit_above_cost), so it is off (a setting from PostgreSQL 11). Each
 * statement is planned once, when first run, for whatever is bound
 * (plan_cache_mode, from PostgreSQL 12): left to choose, the server
 * plans its first five runs on every connection anew, and the claim at
 * every run, its custom plan costed below the generic one: about 0.6 ms
 * of a trivial job's 3.5-4.3 ms of server CPU. The statements are
 * written for one plan whatever is bound: the states they pick jobs by
 * are literals (STATE_LEFT), and the few whose best plan depends on the
 * values are planned for them at each run (FOR_ITS_VALUES);
 * tests/e2e/t0975 checks each plan on 100,000 jobs. An older server
 * keeps its defaults: a setting it does not know would refuse the
 * connection.
 */
static void settings(struct store *s, char *set, size_t size)
{
	int version = PQserverVersion(s->pg);

	snprintf(set, size, "SET client_min_messages = warning; "
	    "SET lock_timeout = %d; SET synchronous_commit = %s%s%s",
	    s->busy_ms, s->relaxed && !s->full ? "off" : "on",
	    version >= 110000 ? "; SET jit = off" : "",
	    version >= 120000 ? "; SET plan_cache_mode = force_generic_plan" :
	    "");
}

static int configure(struct store *s)
{
	char set[256];

	settings(s, set, sizeof(set));
	return pg_exec(s, set, "configure");
}

/*
 * A new connection's settings and the store's schema version in one
 * round trip (store_open reads it next), not two: each worker, and each
 * one that idle_exit brought back, opens one. Without runner_schema (a
 * database the runner has not used yet) the statements, one implicit
 * transaction, fail together: the settings are made again alone,
 * and the version is 0.
 */
static int configure_first(struct store *s)
{
	char set[320];
	struct sbuf v = SBUF_INIT;
	size_t n;
	int rc;

	settings(s, set, sizeof(set));
	n = strlen(set);
	snprintf(set + n, sizeof(set) - n,
	    "; SELECT version FROM runner_schema");
	rc = pg_value_of(s, set, "read the schema version", &v);
	if (rc < 0 && !strcmp(s->pg_state, "42P01")) {
		error_clear();
		s->pg_version = 0;
		rc = configure(s);
	} else if (rc >= 0)
		s->pg_version = rc > 0 ? (int)strtol(v.buf, NULL, 10) : 0;
	sbuf_release(&v);
	return rc < 0 ? rc : 0;
}

int pg_open(struct store *s, const char *url)
{
	/* the URL's own settings come after, and win. A link that goes
	 * down (no reset, no answer) fails the connection within about 10 s
	 * instead of never: unsent data after tcp_user_timeout, a silent
	 * peer after the keepalives */
	const char *const keys[] = { "connect_timeout", "application_name",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"tcp_user_timeout", "dbname", NULL };
	const char *const vals[] = { "10", "runner", "5", "2", "2", "10000",
		url, NULL };
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	s->path = redact(url);
	pthread_once(&once, load_pq);
	if (pq_error)
		return error_set(ERR_NOTFOUND, "cannot open store '%s': "
		    "PostgreSQL's client library cannot be loaded (%s): "
		    "install Debian's libpq5", s->path, pq_error);
	if (!connect_limit_ms)
		s->pg = PQconnectdbParams(keys, vals, 1);
	else if ((s->pg = PQconnectStartParams(keys, vals, 1)) &&
	    connect_wait(s->pg, 0) == ERR_TIMEOUT)
		return error_set(ERR_TIMEOUT, "cannot open store '%s': no "
		    "answer within %d ms", s->path, connect_limit_ms);
	if (!s->pg)
		return error_set(ERR_NOSPACE, "store '%s': out of memory",
		    s->path);
	if (PQstatus(s->pg) != CONNECTION_OK) {
		char *msg = xstrdup(PQerrorMessage(s->pg));
		int error;
		msg[strcspn(msg, "\n")] = '\0';
		error = error_set(ERR_NOTFOUND, "cannot open store '%s': %s",
		    s->path, msg);
		free(msg);
		return error;
	}
	/* CREATE ... IF NOT EXISTS and the like say so on stderr */
	PQsetNoticeProcessor(s->pg, quiet, NULL);
	return configure_first(s);
}

void pg_close(struct store *s)
{
	PQfinish(s->pg);
	s->pg = NULL;
}

static void keep_error(struct store *s, const PGresult *r)
{
	/* the server's words without its "ERROR:  " (the SQLSTATE follows
	 * them); libpq's own when the server said nothing */
	const char *primary = r ? PQresultErrorField(r,
	    PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *msg = primary ? primary : r ? PQresultErrorMessage(r) : "";
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	if (!*msg)
		msg = PQerrorMessage(s->pg);
	free(s->pg_err);
	s->pg_err = xstrdup(msg && *msg ? msg : "unknown error");
	s->pg_err[strcspn(s->pg_err, "\n")] = '\0';
	snprintf(s->pg_state, sizeof(s->pg_state), "%s", state ? state : "");
}

/*
 * The connection broke (the server restarted, the link went down): the
 * statement under way failed, and with it a transaction that was open;
 * the next statement opens the connection again (here), with the
 * statements prepared anew. Not at once: a thread that must give a job
 * up in time (the heartbeat) would wait for the connection instead.
 */
static void lost(struct store *s)
{
	if (PQstatus(s->pg) == CONNECTION_OK || s->pg_resetting)
		return;
	s->pg_resetting = 1;
	if (!connect_limit_ms)
		PQreset(s->pg);
	else if (PQresetStart(s->pg) &&
	    connect_wait(s->pg, 1) == ERR_TIMEOUT) {
		free(s->pg_err);
		s->pg_err = xasprintf("no answer within %d ms",
		    connect_limit_ms);
		s->pg_state[0] = '\0';
	} else if (PQstatus(s->pg) != CONNECTION_OK)
		keep_error(s, NULL);
	for (int q = 0; q < STMT_SLOTS; q++)
		if (s->stmts[q] && !s->stmts[q]->text)
			s->stmts[q]->prepared = 0;
	/* the session's settings and what it listened to */
	if (PQstatus(s->pg) == CONNECTION_OK && configure(s) == 0) {
		if (s->pg_listening & LISTEN_QUEUE)
			pg_exec(s, PG_LISTEN, "listen");
		if (s->pg_listening & LISTEN_LOGS)
			pg_exec(s, PG_LISTEN_LOGS, "listen");
	}
	s->pg_resetting = 0;
}

int pg_error(struct store *s, const char *what)
{
	int error = -1;
	char *msg;

	if (!s->pg_err)
		keep_error(s, NULL);
	if (!strcmp(s->pg_state, "53100"))		/* disk_full */
		error = ERR_NOSPACE;
	else if (!strcmp(s->pg_state, "55P03") ||	/* lock_not_available */
	    !strcmp(s->pg_state, "40001") ||	/* serialization_failure */
	    !strcmp(s->pg_state, "40P01") ||	/* deadlock_detected */
	    PQstatus(s->pg) != CONNECTION_OK)
		error = ERR_BUSY;
	msg = xstrdup(s->pg_err);
	/* the server's code, where it gave one (a broken link has none) */
	if (*s->pg_state)
		error = error_set(error, "store '%s': %s: %s (SQLSTATE %s)",
		    s->path, what, msg, s->pg_state);
	else
		error = error_set(error, "store '%s': %s: %s", s->path, what,
		    msg);
	free(msg);
	return error;
}

/*
 * A connection that broke is opened again; -1 if it cannot be. One that
 * is idle and readable heard the server go (a restart, a failover: it
 * said FATAL and closed the link): read to that end first, without a
 * round trip, so that the statement about to run goes to a server that
 * is there instead of failing for one that was (a few reads: an idle
 * connection hears little else, its notifications kept for PQnotifies).
 */
static int ready(struct store *s)
{
	struct pollfd p = { PQsocket(s->pg), POLLIN, 0 };

	if (s->pg_resetting)
		return 0;
	for (int k = 0; k < 4 && PQstatus(s->pg) == CONNECTION_OK &&
	    PQtransactionStatus(s->pg) == PQTRANS_IDLE && p.fd >= 0 &&
	    poll(&p, 1, 0) > 0; k++)
		if (!PQconsumeInput(s->pg))
			break;
	if (PQstatus(s->pg) == CONNECTION_OK)
		return 0;
	lost(s);
	/*
	 * Between transactions a daemon's statement waits for the server as
	 * a write waits for a lock (busy_ms: a failover, a restart), trying
	 * again and again: a heartbeat renews, a claim claims, on the new
	 * primary. Not in a transaction the link took with it (its next
	 * statement must fail), nor where people wait for an answer
	 * (store_connect_limit), nor on a fenced connection, whose BEGIN
	 * waits so itself (begin_fenced) and whose reads may fail.
	 */
	int64_t end = mono_ms() + (connect_limit_ms || s->pg_busy ||
	    s->fence_job ? 0 : s->server_wait_ms >= 0 ? s->server_wait_ms :
	    s->busy_ms);
	int pause = 50;
	while (PQstatus(s->pg) != CONNECTION_OK && mono_ms() < end) {
		poll(NULL, 0, pause);
		pause = pause < 400 ? pause * 2 : 500;
		lost(s);
	}
	if (PQstatus(s->pg) == CONNECTION_OK)
		return 0;
	return -1;
}

/* Whether the statement that just ran left a transaction open; one
 * that the link took keeps what was so when it was sent. */
static void ran(struct store *s)
{
	if (PQstatus(s->pg) == CONNECTION_OK)
		s->pg_busy = PQtransactionStatus(s->pg) != PQTRANS_IDLE;
}

int pg_exec(struct store *s, const char *text, const char *what)
{
	PGresult *r;
	ExecStatusType rs;

	if (ready(s) < 0)
		return pg_error(s, what);
	r = PQexec(s->pg, text);
	rs = PQresultStatus(r);

	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK) {
		PQclear(r);
		ran(s);
		return 0;
	}
	keep_error(s, r);
	PQclear(r);
	ran(s);
	return pg_error(s, what);
}

int pg_wait_limit(struct store *s, int ms)
{
	char set[64];
	int fd, error;
	unsigned int user_ms = (unsigned int)ms;

	snprintf(set, sizeof(set), "SET lock_timeout = %d", ms);
	if ((error = pg_exec(s, set, "lock timeout")) < 0)
		return error;
	/* TCP only (a unix socket refuses it, harmlessly) */
	if ((fd = PQsocket(s->pg)) >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms,
		    sizeof(user_ms));
	return 0;
}

int pg_in_transaction(struct store *s)
{
	PGTransactionStatusType t = PQtransactionStatus(s->pg);

	return t == PQTRANS_INTRANS || t == PQTRANS_INERROR ||
	    t == PQTRANS_ACTIVE;
}

/* Statements that PostgreSQL cannot prepare run as text. */
static int unpreparable(const char *t)
{
	static const char *const verbs[] = { "BEGIN", "COMMIT", "ROLLBACK",
		"SET ", NULL };

	for (int i = 0; verbs[i]; i++)
		if (!strncmp(t, verbs[i], strlen(verbs[i])))
			return 1;
	return 0;
}

static int prepare(struct stmt *st)
{
	struct store *s = st->s;
	char name[16];
	PGresult *r;

	snprintf(name, sizeof(name), "q%d", st->q);
	r = PQprepare(s->pg, name, st->pgsql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		keep_error(s, r);
		PQclear(r);
		return pg_error(s, "prepare");
	}
	PQclear(r);
	st->prepared = 1;
	return 0;
}

/*
 * The number of parameters of statement `t` (PostgreSQL's text): its
 * highest $N outside quotes and comments, as the server counts them.
 */
static int count_params(const char *t)
{
	int n = 0;

	for (const char *p = t; *p; p++) {
		if (*p == '\'' || *p == '"') {
			const char *end = strchr(p + 1, *p);
			if (!end)
				break;
			p = end;	/* '' within a literal: two of them */
		} else if (p[0] == '-' && p[1] == '-') {
			p += strcspn(p, "\n");
			if (!*p)
				break;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			if (!end)
				break;
			p = end + 1;
		} else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
			int k = (int)strtol(p + 1, NULL, 10);
			n = k > n ? k : n;
		}
	}
	return n;
}

int pg_prepare(struct store *s, struct stmt *st, const char *sql)
{
	char *t;

	if (pg_sql(sql, &t) < 0)
		return error_set(ERR_INVALID, "store '%s': statement %d: %s",
		    s->path, st->q, error_last());
	st->readonly = !strncmp(t, "SELECT", 6);
	if (unpreparable(t)) {
		st->text = t;
		return 0;
	}
	st->pgsql = t;
	/* its parameters counted here, as the server counts them, rather
	 * than asked for: a round trip less for each statement a new
	 * connection prepares (about 20 a worker's, for its first job) */
	st->nparams = count_params(t);
	st->vals = xcalloc(st->nparams ? st->nparams : 1, sizeof(*st->vals));
	/* a statement run once: prepared and run would be two round trips;
	 * unnamed, one (a hook's connection, opened for a push and closed
	 * after it). One whose plan depends on the values bound: planned
	 * for them each run */
	st->unnamed = s->oneshot || strstr(sql, FOR_ITS_VALUES) != NULL;
	if (st->unnamed)
		return 0;
	if (ready(s) < 0)
		return pg_error(s, "prepare");
	return prepare(st);
}

int pg_step(struct stmt *st)
{
	struct store *s = st->s;

	if (!st->ran) {
		char name[16];
		ExecStatusType rs;

		if (ready(s) < 0 || (!st->text && !st->unnamed &&
		    !st->prepared && prepare(st) < 0))
			return -1;
		snprintf(name, sizeof(name), "q%d", st->q);
		if (st->res)
			PQclear(st->res);
		st->res = st->text ? PQexec(s->pg, st->text) : st->unnamed ?
		    PQexecParams(s->pg, st->pgsql, st->nparams, NULL,
		    (const char *const *)st->vals, NULL, NULL, 0) :
		    PQexecPrepared(s->pg, name, st->nparams,
		    (const char *const *)st->vals, NULL, NULL, 0);
		rs = PQresultStatus(st->res);
		if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
			keep_error(s, st->res);
			PQclear(st->res);
			st->res = NULL;
			ran(s);
			return -1;
		}
		free(s->pg_err);
		s->pg_err = NULL;
		/* as SQLite counts them: rows that the last INSERT, UPDATE
		 * or DELETE changed */
		const char *tag = PQcmdStatus(st->res);
		if (*tag && strchr("IUD", *tag))
			s->pg_changes = atoi(PQcmdTuples(st->res));
		st->nrows = rs == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
		st->row = 0;
		st->ran = 1;
		ran(s);
	}
	if (st->row >= st->nrows)
		return STEP_DONE;
	st->row++;
	return STEP_ROW;
}

/*
 * Wake-ups: a transaction that queued a job says so on its schema's
 * channel (delivered when it commits); a supervisor listens, on a
 * connection of its own, and wakes its workers.
 */
int pg_listen(struct store *s)
{
	int error = pg_exec(s, PG_LISTEN, "listen");

	if (error < 0)
		return error;
	s->pg_listening |= LISTEN_QUEUE;
	return PQsocket(s->pg);
}

int pg_listen_logs(struct store *s)
{
	int error = pg_exec(s, PG_LISTEN_LOGS, "listen");

	if (error < 0)
		return error;
	s->pg_listening |= LISTEN_LOGS;
	return PQsocket(s->pg);
}

int pg_heard_each(struct store *s, void (*fn)(const char *payload,
    void *arg), void *arg)
{
	PGnotify *n;
	int heard = 0;

	if (!PQconsumeInput(s->pg) || PQstatus(s->pg) != CONNECTION_OK) {
		keep_error(s, NULL);
		return pg_error(s, "listen");
	}
	while ((n = PQnotifies(s->pg))) {
		heard = 1;
		if (fn && !strncmp(n->relname, "runner_log_", 11))
			fn(n->extra, arg);
		PQfreemem(n);
	}
	return heard;
}

int pg_heard(struct store *s)
{
	return pg_heard_each(s, NULL, NULL);
}

int pg_socket(struct store *s)
{
	return PQstatus(s->pg) == CONNECTION_OK ? PQsocket(s->pg) : -1;
}

int pg_alive(struct store *s)
{
	return ready(s) < 0 ? pg_error(s, "connect") : 0;
}

void pg_reset(struct stmt *st)
{
	if (st->res)
		PQclear(st->res);
	st->res = NULL;
	st->ran = st->row = st->nrows = 0;
}

const char *pg_value(struct stmt *st, int i)
{
	if (!st->res || st->row < 1 || st->row > st->nrows ||
	    i >= PQnfields(st->res) || PQgetisnull(st->res, st->row - 1, i))
		return NULL;
	return PQgetvalue(st->res, st->row - 1, i);
}

int pg_nfields(struct stmt *st)
{
	return st->res ? PQnfields(st->res) : 0;
}

int pg_value_of(struct store *s, const char *sql, const char *what,
    struct sbuf *out)
{
	PGresult *r;
	int error;

	if (ready(s) < 0)
		return pg_error(s, what);
	r = PQexec(s->pg, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		keep_error(s, r);
		PQclear(r);
		return pg_error(s, what);
	}
	error = PQntuples(r) > 0 && PQnfields(r) > 0 &&
	    !PQgetisnull(r, 0, 0);
	if (error)
		sbuf_adds(out, PQgetvalue(r, 0, 0));
	PQclear(r);
	return error;
}
