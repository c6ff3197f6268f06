/*
 * Fetching sources into a host's cache (fetch.h). git itself fetches:
 * its transports, ssh's configuration and keys, and credential helpers
 * are what an operator already set up and trusts.
 */
#include "fetch.h"
#include "config.h"
#include "run.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* A fetch that takes longer than this has hung (a server that stopped
 * answering): the job fails with git's words rather than wait forever. */
#define FETCH_TIMEOUT_MS (10 * 60 * 1000)

/* The `sources` entry of `h` whose path holds `repo` (the longest that
 * does, whole folder names only), and in *n the length of its path
 * without trailing slashes; NULL when none does. */
static const struct host_source *source_of(const struct host_conf *h,
    const char *repo, size_t *n)
{
	const struct host_source *best = NULL;

	*n = 0;
	for (size_t i = 0; i < h->nsources; i++) {
		const struct host_source *s = &h->sources[i];
		size_t k = strlen(s->path);
		while (k > 1 && s->path[k - 1] == '/')
			k--;
		if (strncmp(repo, s->path, k) || (repo[k] && repo[k] != '/' &&
		    s->path[k - 1] != '/'))
			continue;
		if (!best || *n < k) {
			best = s;
			*n = k;
		}
	}
	return best;
}

char *source_url(const struct host_conf *h, const char *repo)
{
	size_t n, u;
	const struct host_source *s = source_of(h, repo, &n);

	if (!s)
		return NULL;
	const char *rest = repo + n;
	while (*rest == '/')
		rest++;
	u = strlen(s->url);
	while (u && s->url[u - 1] == '/' && *rest)
		u--;
	return *rest ? xasprintf("%.*s/%s", (int)u, s->url, rest) :
	    xstrdup(s->url);
}

/* A folder name for `repo`: its path with every byte other than
 * letters, digits, '.' and '-' written %XX, so two paths never meet. */
static char *cache_name(const char *repo)
{
	struct sbuf sb = SBUF_INIT;

	for (const unsigned char *p = (const unsigned char *)repo; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' ||
		    (*p == '.' && p != (const unsigned char *)repo))
			sbuf_addch(&sb, (char)*p);
		else
			sbuf_addf(&sb, "%%%02X", *p);
	}
	return sbuf_detach(&sb);
}

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

/* git, as this process's user, never asking anyone for anything */
static int git(const char *const *argv, const char *url, const char *what)
{
	struct passwd *pw = getpwuid(geteuid());
	char *home = xasprintf("HOME=%s", pw ? pw->pw_dir : "/");
	char *const envp[] = {
		"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", home,
		"GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"GIT_CONFIG_NOSYSTEM=1", NULL,
	};
	struct child c = { .argv = argv, .envp = envp };
	struct sbuf err = SBUF_INIT;
	int rc = child_capture(&c, NULL, 0, NULL, &err, FETCH_TIMEOUT_MS);

	if (rc != 0) {
		while (err.len && err.buf[err.len - 1] == '\n')
			sbuf_truncate(&err, err.len - 1);
		/* git's last line says why */
		const char *last = strrchr(err.buf ? err.buf : "", '\n');
		rc = error_set(-1, "cannot %s %s: %s", what, url, err.len ?
		    (last ? last + 1 : err.buf) : rc < 0 ? error_last() :
		    "git failed");
	}
	sbuf_release(&err);
	free(home);
	return rc;
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
	name = cache_name(repo);
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
		if ((error = git(init, dir, "make the cache")) < 0)
			goto out;
	}
	const char *fetch[] = { "git", "-C", dir, "fetch", "--quiet",
	    "--prune", "--force", "--no-write-fetch-head", url,
	    "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", NULL };
	if ((error = git(fetch, url, "fetch from")) < 0)
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
