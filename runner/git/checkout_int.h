/*
 * Inside runner/git, shared by commit.c, which reads the pushed commit,
 * and checkout.c, which writes it out: the commit opened, and the
 * repository a worker keeps open.
 */
#ifndef RUNNER_CHECKOUT_INT_H
#define RUNNER_CHECKOUT_INT_H

#include "util.h"

#include <git2.h>

struct source {
	char *path;
	git_repository *repo;
	git_commit *commit;
	int cached;		/* repo belongs to the cache below */
};

/*
 * A worker keeps the last repository it opened: reopening it for each job
 * reads three config files and probes the layout again. New objects are
 * still found (libgit2 rescans the packs when an object is missing) and
 * refs are read from disk each time.
 */
struct source_cache {
	int enabled;		/* checkout_global_init() ran: a worker */
	char *path;
	git_repository *repo;
	char *objdir;		/* its folder's real path, once asked */
};
extern struct source_cache source_cache;

static inline int git_fail(const char *what, const char *subject)
{
	const git_error *e = git_error_last();

	return error_set(-1, "%s '%s': %s", what, subject,
	    e && e->message ? e->message : "unknown libgit2 error");
}

#endif
