/*
 * The store's statements: prepared once per connection and kept, bound
 * with typed arguments (store_int.h), stepped and read by column, on
 * SQLite or PostgreSQL (pg.c) alike; and what an error of the engine
 * says, the disk's reserve given up when SQLite finds the disk full.
 */
#include "store_int.h"
#include "reserve.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


/*
 * SQLite found the disk full: the home's reserve goes, so that the
 * transaction tried again (an enqueue, a cancel, the end of the job that
 * filled the disk) has room. The daemon makes it again once there is.
 */
void release_reserve(struct store *s)
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

void stmt_free(struct stmt *st)
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
