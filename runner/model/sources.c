/*
 * Where a host that does not share the git server's files finds each
 * repository (sources.h): the `sources` entries of its runner.yml, the
 * folders of its cache, git run for it, and the cache's collection. What
 * needs libgit2 (does the cache have a commit) is in runner/git/fetch.c;
 * this is also `runner gc`'s, which links no libgit2.
 */
#include "sources.h"
#include "config.h"
#include "run.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

char *source_cache_name(const char *repo)
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

int source_git(const char *const *argv, const char *url, const char *what)
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

/* The repository path a cache folder is named for (source_cache_name undone);
 * NULL for a name cache_name() does not make. Caller frees. */
static char *cache_repo(const char *name)
{
	struct sbuf sb = SBUF_INIT;

	for (const char *p = name; *p; p++) {
		char hex[3];
		if (*p != '%') {
			sbuf_addch(&sb, *p);
			continue;
		}
		if (!isxdigit((unsigned char)p[1]) ||
		    !isxdigit((unsigned char)p[2])) {
			sbuf_release(&sb);
			return NULL;
		}
		memcpy(hex, p + 1, 2);
		hex[2] = '\0';
		sbuf_addch(&sb, (char)strtol(hex, NULL, 16));
		p += 2;
	}
	if (!sb.len || memchr(sb.buf, 0, sb.len)) {
		sbuf_release(&sb);
		return NULL;
	}
	return sbuf_detach(&sb);
}

/* Collect the cache `name` in `top`: 1 removed, 0 kept, < 0 an error. */
static int collect_one(const struct host_conf *h, const char *top,
    const char *name, int (*in_use)(const char *, void *), void *arg,
    int dry_run, FILE *verbose, int64_t *bytes)
{
	char *repo = cache_repo(name), *dir = xasprintf("%s/%s", top, name);
	char *lock = xasprintf("%s.lock", dir), *url = NULL;
	int fd = -1, used = 1, error = 0;
	int64_t before = 0, after = 0;

	/* a folder source_cache_name() did not name is not the runner's: left */
	if (!repo)
		goto out;
	/* the lock its fetches take (made if it is not there); held by a
	 * fetch now: next time */
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out;
	url = source_url(h, repo);
	used = url ? in_use(repo, arg) : 0;
	if (used < 0) {
		log_line("warning: the cache of '%s' is kept: %s", repo,
		    error_last());
		error_clear();
		goto out;
	}
	if (disk_usage(dir, 0, &before) < 0)
		before = 0;
	if (!used) {
		if (verbose)
			fprintf(verbose, "%s\n", dir);
		if (!dry_run && (error = rm_rf(dir)) < 0)
			goto out;
		*bytes += before;
		error = 1;
		goto out;
	}
	if (!dry_run) {
		const char *gc[] = { "git", "-C", dir, "gc", "--quiet",
		    "--prune=now", NULL };
		if ((error = source_git(gc, dir, "collect")) < 0)
			goto out;
		if (disk_usage(dir, 0, &after) == 0 && after < before)
			*bytes += before - after;
	}
out:
	if (fd >= 0)
		close(fd);
	free(url);
	free(lock);
	free(dir);
	free(repo);
	return error;
}

int source_cache_gc(const struct host_conf *h, const char *home,
    int (*in_use)(const char *repo, void *arg), void *arg, int dry_run,
    FILE *verbose, int64_t *count, int64_t *bytes)
{
	char *top = xasprintf("%s/cache/sources", home);
	DIR *d = opendir(top);
	struct dirent *de;
	int error = 0;

	*count = *bytes = 0;
	if (!d) {
		if (errno != ENOENT)
			error = error_set(-1, "cannot read '%s': %s", top,
			    strerror(errno));
		free(top);
		return error;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || (n > 5 &&
		    !strcmp(de->d_name + n - 5, ".lock")))
			continue;
		int rc = collect_one(h, top, de->d_name, in_use, arg, dry_run,
		    verbose, bytes);
		if (rc > 0)
			(*count)++;
		else if (rc < 0 && !error)
			error = rc;
	}
	closedir(d);
	free(top);
	return error;
}
