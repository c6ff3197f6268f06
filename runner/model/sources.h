/*
 * A build host's sources, when it does not share the git server's files
 * (runner.yml host: sources): where each repository is fetched from, the
 * folder of its cache under HOME/cache/sources, git run as the runner's
 * user for it, and the cache's collection by `runner gc`. The fetch
 * itself is runner/git/fetch.h's.
 */
#ifndef RUNNER_SOURCES_H
#define RUNNER_SOURCES_H

#include <stdint.h>
#include <stdio.h>

struct host_conf;

/* The URL `repo` is fetched from, or NULL when no entry covers it. */
char *source_url(const struct host_conf *h, const char *repo);
/* The cache's folder name for `repo`: its path with every byte other
 * than letters, digits, '.' and '-' written %XX, so two paths never
 * meet. Caller frees. */
char *source_cache_name(const char *repo);
/* Run git (argv) as this process's user, never asking anyone for
 * anything, for at most 10 minutes; an error names `url` and says what
 * it could not `what` (git's last line). */
int source_git(const char *const *argv, const char *url, const char *what);

/*
 * runner gc: collect HOME/cache/sources. The cache of a repository that
 * no `sources` entry of `h` covers any more, or that `in_use` (asked with
 * its path; 1 yes, 0 no, < 0 cannot say: kept) says no job needs, is
 * removed; every other one is collected by git (`git gc --prune=now`:
 * the objects of branches deleted or rewritten on the server, which the
 * fetches' --prune left unreferenced). Each under its lock; a cache a
 * fetch holds is left for the next collection. With `dry_run`, only
 * what would be removed is counted. *count: caches removed; *bytes:
 * what was freed (or would be); each removed folder is named on
 * `verbose` (may be NULL).
 */
int source_cache_gc(const struct host_conf *h, const char *home,
    int (*in_use)(const char *repo, void *arg), void *arg, int dry_run,
    FILE *verbose, int64_t *count, int64_t *bytes);

#endif
