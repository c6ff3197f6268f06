/*
 * Fetching sources into a host's cache (fetch.h). git itself fetches:
 * its transports, ssh's configuration and keys, and credential helpers
 * are what an operator already set up and trusts.
 */
#include "fetch.h"
#include "config.h"
#include "sources.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Does the cache have the commit (and the tag)? */
static int has(const char *dir, const char *commit, const char *tag)
{
	git_repository *r = NULL;
	git_odb *odb = NULL;
	git_reference *ref = NULL;
	git_oid oid;
	int yes = 0;

	if (!commit || git_repository_open_bare(&r, dir) < 0)
		return 0;
	if (git_oid_fromstr(&oid, commit) == 0 &&
	    git_repository_odb(&odb, r) == 0 && git_odb_exists(odb, &oid)) {
		yes = 1;
		if (tag) {
			char *name = xasprintf("refs/tags/%s", tag);
			yes = git_reference_lookup(&ref, r, name) == 0;
			free(name);
		}
	}
	git_reference_free(ref);
	git_odb_free(odb);
	git_repository_free(r);
	return yes;
}

int source_local(const struct host_conf *h, const char *home,
    const char *repo, const char *commit, const char *tag, char **local)
{
	char *url = source_url(h, repo), *dir = NULL, *name, *lock = NULL;
	int fd = -1, error = 0;

	*local = NULL;
	if (!url) {
		*local = xstrdup(repo);
		return 0;
	}
	name = source_cache_name(repo);
	dir = xasprintf("%s/cache/sources/%s", home, name);
	lock = xasprintf("%s.lock", dir);
	free(name);
	char *parent = xasprintf("%s/cache/sources", home);
	error = mkdir_p(parent, 0700);
	free(parent);
	if (error < 0)
		goto out;
	/* one fetch into a cache at a time (the host's other workers) */
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    flock(fd, LOCK_EX) < 0) {
		error = error_set(-1, "cannot lock '%s': %s", lock,
		    strerror(errno));
		goto out;
	}
	if (has(dir, commit, tag))
		goto done;
	if (access(dir, F_OK) < 0) {
		const char *init[] = { "git", "init", "--quiet", "--bare", dir,
		    NULL };
		if ((error = source_git(init, dir, "make the cache")) < 0)
			goto out;
	}
	const char *fetch[] = { "git", "-C", dir, "fetch", "--quiet",
	    "--prune", "--force", "--no-write-fetch-head", url,
	    "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", NULL };
	if ((error = source_git(fetch, url, "fetch from")) < 0)
		goto out;
	if (commit && !has(dir, commit, tag)) {
		error = error_set(ERR_NOTFOUND, "%s has no %s%s%s (was it "
		    "rewritten since the push?)", url, tag ? "tag " : "commit ",
		    tag ? tag : commit, tag ? " on that commit" : "");
		goto out;
	}
done:
	*local = dir;
	dir = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(lock);
	free(dir);
	free(url);
	return error;
}

