/*
 * Repositories' short names (repos.h). A name is chosen once, when the
 * store first sees the repository, and never again: it is what badges,
 * metrics labels and scripts hold on to. On PostgreSQL two hosts may name
 * two repositories at the same moment; the name is UNIQUE, so the one
 * that comes second finds its choice taken and tries the next suffix.
 */
#include "repos.h"
#include "store_int.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

enum q {
	R_NAME_OF = BASE_REPOS, R_INSERT, R_ALL, R_UNNAMED, R_FIRST_JOB,
	R_END
};
_Static_assert((int)R_END <= (int)BASE_AUDIT, "repos statements overlap");

STORE_SQL(repos) = {
	[R_NAME_OF] = "SELECT name FROM repos WHERE path = ?1",
	/* ignored when the path or the name is taken: the caller looks
	 * which */
	[R_INSERT] = "INSERT OR IGNORE INTO repos (path, name, created_ms) "
	    "VALUES (?1, ?2, ?3)",
	[R_ALL] = "SELECT path, name, created_ms FROM repos ORDER BY "
	    "created_ms, path",
	/* the repositories of jobs without a name: one index seek per
	 * repository (jobs_ref starts with repo), however many jobs */
	[R_UNNAMED] = "WITH RECURSIVE r(repo) AS (SELECT min(repo) FROM jobs "
	    "UNION ALL SELECT (SELECT min(j.repo) FROM jobs j WHERE j.repo > "
	    "r.repo) FROM r WHERE r.repo IS NOT NULL) SELECT repo FROM r WHERE "
	    "repo IS NOT NULL AND NOT EXISTS (SELECT 1 FROM repos WHERE path = "
	    "r.repo)",
	[R_FIRST_JOB] = "SELECT id, created_ms FROM jobs WHERE id = (SELECT "
	    "min(id) FROM jobs WHERE repo = ?1)",
};

/* The k-th name `path` may get: its suffixes of 1, 2... components,
 * then the path itself; NULL past the last. */
static char *candidate(const char *path, int k)
{
	char *c = repo_path_suffix(path, k), *prev;

	if (c)
		return c;
	if (k == 1)
		return xstrdup(path);
	if (!(prev = repo_path_suffix(path, k - 1)))
		return NULL;
	free(prev);
	return xstrdup(path);
}

static int name_of(struct store *s, const char *path, char **out)
{
	struct stmt *st = stmt_bound(s, R_NAME_OF, sql, ARGS(arg_text(path)));
	int rc;

	*out = NULL;
	if (!st)
		return -1;
	if ((rc = step(st)) == STEP_ROW)
		*out = col_text(st, 0);
	reset(st);
	if (rc < 0)
		return db_error(s, "read a repository's name");
	return *out ? 0 : ERR_NOTFOUND;
}

void repo_names_free(struct repo_name *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].name);
	}
	free(v);
}

static int by_first_job(const void *a, const void *b)
{
	const struct repo_name *x = a, *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/* The repositories of jobs that have no name, oldest first job first:
 * appended to *v with their first jobs, names NULL. */
static int unnamed(struct store *s, struct repo_name **v, size_t *n)
{
	struct stmt *st = stmt(s, R_UNNAMED, sql);
	size_t from = *n;
	int rc;

	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = (struct repo_name){ col_text(st, 0), NULL, 0,
		    0 };
	}
	reset(st);
	if (rc < 0)
		return db_error(s, "list the repositories without a name");
	for (size_t i = from; i < *n; i++) {
		struct repo_name *r = &(*v)[i];
		if (!(st = stmt_bound(s, R_FIRST_JOB, sql,
		    ARGS(arg_text(r->path)))))
			return -1;
		if ((rc = step(st)) == STEP_ROW) {
			r->first = col_int64(st, 0);
			r->created_ms = col_int64(st, 1);
		}
		reset(st);
		if (rc < 0)
			return db_error(s, "find a repository's first job");
	}
	if (*n > from)	/* qsort of no rows may not be given NULL */
		qsort(*v + from, *n - from, sizeof(**v), by_first_job);
	return 0;
}

/* Name `path` in the caller's transaction: the first candidate that no
 * other repository has, taken or not by a host at the same moment. */
static int name_one(struct store *s, const char *path, int64_t now,
    char **out)
{
	int error;

	for (int k = 1; ; k++) {
		char *c = candidate(path, k);
		if (!c)
			return error_set(-1, "store '%s': no name is left for "
			    "repository '%s'", s->path, path);
		error = run(s, R_INSERT, sql, "name a repository",
		    ARGS(arg_text(path), arg_text(c), arg_int(now)));
		free(c);
		if (error < 0)
			return error;
		if ((error = name_of(s, path, out)) != ERR_NOTFOUND)
			return error;
	}
}

int repos_backfill(struct store *s)
{
	struct repo_name *v = NULL;
	size_t n = 0;
	int error;

	if ((error = unnamed(s, &v, &n)) == 0)
		for (size_t i = 0; i < n && error == 0; i++) {
			char *name = NULL;
			/* first seen with its first job */
			error = name_one(s, v[i].path, v[i].created_ms, &name);
			free(name);
		}
	repo_names_free(v, n);
	return error;
}

int store_repo_record(struct store *s, const char *path, char **out)
{
	char *name = NULL;
	int error;

	if ((error = name_of(s, path, &name)) != ERR_NOTFOUND)
		goto out;
	if ((error = begin_durable(s)) < 0)
		goto out;
	if ((error = repos_backfill(s)) == 0 &&
	    (error = name_of(s, path, &name)) == ERR_NOTFOUND)
		error = name_one(s, path, now_ms(), &name);
	if (error == 0)
		error = commit(s);
	if (error < 0)
		rollback(s);
out:
	if (error < 0) {
		free(name);
		name = NULL;
	}
	if (out)
		*out = name;
	else
		free(name);
	return error;
}

/* Is `name` one of the first `n` of `v`? */
static int taken(const struct repo_name *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].name && !strcmp(v[i].name, name))
			return 1;
	return 0;
}

int store_repo_names(struct store *s, struct repo_name **out, size_t *n)
{
	struct stmt *st = stmt(s, R_ALL, sql);
	struct repo_name *v = NULL;
	size_t k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		v = xrealloc(v, (k + 1) * sizeof(*v));
		v[k++] = (struct repo_name){ col_text(st, 0), col_text(st, 1),
		    0, col_int64(st, 2) };
	}
	reset(st);
	if (rc < 0) {
		repo_names_free(v, k);
		return db_error(s, "read the repositories' names");
	}
	size_t recorded = k;
	if (unnamed(s, &v, &k) < 0) {
		repo_names_free(v, k);
		return -1;
	}
	/* as store_repo_record() will name them */
	for (size_t i = recorded; i < k; i++)
		for (int c = 1; !v[i].name; c++) {
			char *name = candidate(v[i].path, c);
			if (!name) {
				v[i].name = xstrdup(v[i].path);
				break;
			}
			if (!taken(v, i, name))
				v[i].name = name;
			else
				free(name);
		}
	*out = v;
	*n = k;
	return 0;
}

int store_repo_names_load(struct store *s)
{
	struct repo_name *v;
	size_t n;

	if (store_repo_names(s, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		repo_names_set(v[i].path, v[i].name);
	repo_names_free(v, n);
	return 0;
}

/* `arg` without trailing slashes and ".git", as repo_path_suffix()
 * gives names. */
static char *plain(const char *arg)
{
	size_t len = strlen(arg);

	while (len > 1 && arg[len - 1] == '/')
		len--;
	if (len > 4 && !strncmp(arg + len - 4, ".git", 4))
		len -= 4;
	return xstrndup(arg, len);
}

static void add_known(struct sbuf *sb, const struct repo_name *v, size_t n,
    const size_t *only, size_t nonly)
{
	for (size_t i = 0; i < (only ? nonly : n); i++) {
		const struct repo_name *r = &v[only ? only[i] : i];
		sbuf_addf(sb, "%s'%s' (%s)", i ? ", " : "", r->name, r->path);
	}
}

int repo_names_find(const struct repo_name *v, size_t n, const char *arg,
    const char *real, size_t *out)
{
	struct sbuf sb = SBUF_INIT;
	size_t *hits = NULL, nhits = 0;
	char *want;
	int error;

	size_t by_name = n, by_path = n;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v[i].name, arg))
			by_name = i;
		if (!strcmp(v[i].path, arg) || (real && !strcmp(v[i].path,
		    real)))
			by_path = i;
	}
	if (by_name < n && by_path < n && by_name != by_path)
		return error_set(ERR_INVALID, "'%s' is the name of repository "
		    "'%s' and the path of repository '%s' (named '%s'): give the "
		    "full path of the one you mean", arg, v[by_name].path,
		    v[by_path].path, v[by_path].name);
	if (by_name < n || by_path < n) {
		*out = by_name < n ? by_name : by_path;
		return 0;
	}
	/* a suffix of its path: "a/app" for /srv/a/app.git */
	want = plain(arg);
	for (size_t i = 0; i < n; i++)
		for (int k = 1; ; k++) {
			char *sfx = repo_path_suffix(v[i].path, k);
			int hit = sfx && !strcmp(sfx, want);
			free(sfx);
			if (hit) {
				hits = xrealloc(hits, (nhits + 1) *
				    sizeof(*hits));
				hits[nhits++] = i;
			}
			if (!sfx || hit)
				break;
		}
	free(want);
	if (nhits == 1) {
		*out = hits[0];
		free(hits);
		return 0;
	}
	if (nhits > 1) {
		add_known(&sb, v, n, hits, nhits);
		error = error_set(ERR_INVALID, "'%s' could be any of %zu "
		    "repositories: %s; give its name as status shows it, or its "
		    "path", arg, nhits, sb.buf);
	} else if (!n) {
		error = error_set(ERR_NOTFOUND, "no repository '%s': the runner "
		    "has seen none yet", arg);
	} else {
		add_known(&sb, v, n, NULL, 0);
		error = error_set(ERR_NOTFOUND, "no repository '%s'; known "
		    "are %s", arg, sb.buf);
	}
	free(hits);
	sbuf_release(&sb);
	return error;
}
