/*
 * Repositories' short names in the store (table `repos`): fixed when the
 * store first sees a repository, so that adding another one never
 * renames it. Status, the web page, its badges and metrics labels,
 * notifications and `--repo NAME` all use the recorded name.
 */
#ifndef RUNNER_REPOS_H
#define RUNNER_REPOS_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct repo_name {
	char *path, *name;
	int64_t first;		/* not recorded yet: its first job (0:
				 * recorded) */
	int64_t created_ms;	/* when the store first saw it */
};

/*
 * Record the name of repository `path` if it has none: the shortest path
 * suffix ("app", then "b/app", then "srv/b/app") that no other
 * repository's name takes, else the path itself. Repositories that had
 * jobs before names were recorded (a store an older runner made) are
 * named first, in the order of their first jobs, so that they keep the
 * names they were shown with. A name another host took at the same
 * moment is left to it, and the next suffix tried. In a transaction of
 * its own; *out (may be NULL) is the name, which the caller frees.
 */
int store_repo_record(struct store *s, const char *path, char **out);
/*
 * Every repository that has a name or a job, with its name: the recorded
 * ones, then those with jobs and no name yet, named here as
 * store_repo_record() will name them (nothing is written). Caller frees
 * with repo_names_free().
 */
int store_repo_names(struct store *s, struct repo_name **out, size_t *n);
void repo_names_free(struct repo_name *v, size_t n);
/* store_repo_names() told to this process's name book (util.h
 * repo_short_name). */
int store_repo_names_load(struct store *s);
/*
 * Which repository `arg` (as a user gives it to --repo) means, among
 * `v`: a recorded name, the path (`real`: its real path, or NULL), or,
 * when neither matches, a path suffix ("a/app", "app.git") that exactly
 * one repository has. ERR_NOTFOUND with a message listing the known
 * names, or ERR_INVALID when it could mean several; else *out is the
 * index in `v`.
 */
int repo_names_find(const struct repo_name *v, size_t n, const char *arg,
    const char *real, size_t *out);

#endif
