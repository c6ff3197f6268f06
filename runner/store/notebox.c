/*
 * Git notes waiting for whoever may write their repository (notebox.h).
 * The folder and its files are the runner's user's; its group (the hooks'
 * users) reads them. What a reader takes is bounded and opened without
 * following a link, although only the runner's user may write here.
 */
#include "notebox.h"
#include "run.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* the writer's time, bounded: a push waits for it */
#define DELIVER_TIMEOUT_MS 60000
/* a look at what is in place: the notifier waits for it */
#define CHECK_TIMEOUT_MS 10000

int notebox_commit_name(const char *s)
{
	size_t n = strlen(s);

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

int notebox_repo_stat(const char *repo, struct stat *st, int *root_only)
{
	char *copy = xstrdup(repo), *save = NULL, *part;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), error = 0;

	*root_only = 1;
	if (fd < 0 || repo[0] != '/') {
		error = error_set(-1, "'%s' is not an absolute path", repo);
		goto out;
	}
	for (part = strtok_r(copy, "/", &save); ; part = strtok_r(NULL, "/",
	    &save)) {
		if (fstat(fd, st) < 0) {
			error = error_set(-1, "cannot look at '%s': %s", repo,
			    strerror(errno));
			goto out;
		}
		if (st->st_uid != 0 || ((st->st_mode & 022) &&
		    !(st->st_mode & S_ISVTX)))
			*root_only = 0;
		if (!part)
			break;
		int next = openat(fd, part, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0) {
			error = error_set(-1, "cannot reach '%s' without following "
			    "a link ('%s'): %s", repo, part, strerror(errno));
			goto out;
		}
		close(fd);
		fd = next;
	}
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return error;
}

static char *dir_of(const char *home, const struct stat *st)
{
	return xasprintf("%s/%s/%llx-%llx", home, NOTEBOX_DIR,
	    (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
}

char *notebox_dir(const char *home, const char *repo)
{
	struct stat st;
	int root_only;

	/* by the folder the path names now, reached without a link: a
	 * link swapped in for the repository's folder (its owner may do
	 * that at any moment) never names another repository's notes */
	if (notebox_repo_stat(repo, &st, &root_only) < 0)
		return NULL;
	return dir_of(home, &st);
}

/* Folder `path` made if missing, and given `mode` (never through a
 * link: only this user writes its parent). */
static int own_dir(const char *path, mode_t mode)
{
	int fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return error_set(errno == ENOSPC ? ERR_NOSPACE : -1, "cannot "
		    "create directory '%s': %s", path, strerror(errno));
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return error_set(-1, "cannot open '%s': %s", path,
		    strerror(errno));
	if (chmod_fd(fd, mode) < 0) {
		int e = errno;
		close(fd);
		return error_set(-1, "cannot set the mode of '%s': %s", path,
		    strerror(e));
	}
	close(fd);
	return 0;
}

int notebox_put(const char *home, const char *repo, const char *commit,
    const char *text)
{
	char *top = xasprintf("%s/%s", home, NOTEBOX_DIR);
	char *dir = notebox_dir(home, repo), *path = NULL;
	int error;

	if (!dir) {
		free(top);
		return -1;
	}
	if (!notebox_commit_name(commit) || strlen(text) > NOTEBOX_MAX_TEXT) {
		error = error_set(ERR_INVALID, "no note of '%s' kept: not a "
		    "commit id, or over %d bytes", commit, NOTEBOX_MAX_TEXT);
		goto out;
	}
	/* the runner's user's alone: a hook of another user is given its
	 * own repository's notes by the daemon (ask.h) */
	if ((error = own_dir(top, 0700)) < 0 ||
	    (error = own_dir(dir, 0700)) < 0)
		goto out;
	path = xasprintf("%s/%s", dir, commit);
	error = write_file_atomic(path, text, strlen(text), 0600);
out:
	free(path);
	free(dir);
	free(top);
	return error;
}

static int by_mtime(const void *a, const void *b)
{
	const struct notebox_note *x = a, *y = b;

	return x->mtime_ms < y->mtime_ms ? -1 : x->mtime_ms > y->mtime_ms;
}

void notebox_notes_free(struct notebox_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

static int list_dir(char *dir, struct notebox_note **out, size_t *n);

int notebox_list(const char *home, const char *repo, struct notebox_note **out,
    size_t *n)
{
	*out = NULL;
	*n = 0;
	return list_dir(notebox_dir(home, repo), out, n);
}

int notebox_list_of(const char *home, const struct stat *st,
    struct notebox_note **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	return list_dir(dir_of(home, st), out, n);
}

/* The notes in `dir` (freed here; NULL: an error is set). */
static int list_dir(char *dir, struct notebox_note **out, size_t *n)
{
	struct notebox_note *v = NULL;
	size_t cap = 0, k = 0;
	struct dirent *de;
	DIR *dp = NULL;
	int fd, error = 0;

	*out = NULL;
	*n = 0;
	if (!dir)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			error = error_set(-1, "cannot open '%s': %s", dir,
			    strerror(errno));
		goto out;
	}
	if (!(dp = fdopendir(fd))) {
		close(fd);
		error = error_set(-1, "cannot read '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	while ((de = readdir(dp))) {
		struct sbuf text = SBUF_INIT;
		struct stat st;
		int f;

		if (!notebox_commit_name(de->d_name))
			continue;
		f = openat(dirfd(dp), de->d_name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (f < 0)
			continue;	/* gone meanwhile: written */
		if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_size > NOTEBOX_MAX_TEXT ||
		    read_fd(f, de->d_name, NOTEBOX_MAX_TEXT, &text) < 0) {
			close(f);
			sbuf_release(&text);
			continue;
		}
		close(f);
		v = xgrow(v, k + 1, &cap, sizeof(*v));
		/* notebox_commit_name(): 40 or 64 hex digits */
		memcpy(v[k].commit, de->d_name, strlen(de->d_name) + 1);
		v[k].text = sbuf_detach(&text);
		v[k].mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		v[k].in_place = 0;
		v[k].repo = 0;
		k++;
	}
	if (k)
		qsort(v, k, sizeof(*v), by_mtime);
	/* the newest are kept when there are too many */
	if (k > NOTEBOX_MAX) {
		for (size_t i = 0; i < k - NOTEBOX_MAX; i++)
			free(v[i].text);
		memmove(v, v + (k - NOTEBOX_MAX), NOTEBOX_MAX * sizeof(*v));
		k = NOTEBOX_MAX;
	}
	*out = v;
	*n = k;
	v = NULL;
out:
	if (dp)
		closedir(dp);
	free(dir);
	return error;
}

void notebox_done(const char *home, const char *repo, const char *commit,
    const char *text)
{
	char *dir = notebox_dir(home, repo), *path;
	struct sbuf now = SBUF_INIT;

	if (!dir || !notebox_commit_name(commit)) {
		free(dir);
		return;
	}
	path = xasprintf("%s/%s", dir, commit);
	if (read_file(path, NOTEBOX_MAX_TEXT, &now) == 0 &&
	    !strcmp(now.buf, text))
		unlink(path);
	sbuf_release(&now);
	free(path);
	free(dir);
}

void notebox_frame(struct sbuf *sb, const struct notebox_note *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sbuf_addf(sb, "%s %zu %zu\n", v[i].commit, strlen(v[i].text),
		    v[i].repo);
		sbuf_adds(sb, v[i].text);
	}
}

/* A decimal number of at most `max` at *p, which must end at `end`
 * (a space or the newline): no sign, no blank, no leading zero. */
static int frame_number(const char **p, const char *end, size_t max,
    size_t *out)
{
	size_t v = 0;
	const char *q = *p;

	if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end &&
	    q[1] != ' '))
		return -1;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (size_t)(*q - '0');
		if (v > max)
			return -1;
	}
	if (q < end && *q != ' ')
		return -1;
	*out = v;
	*p = q;
	return 0;
}

int notebox_unframe(const char *buf, size_t len, size_t nrepos,
    struct notebox_note **out, size_t *n)
{
	struct notebox_note *v = NULL;
	size_t cap = 0, k = 0, at = 0;

	*out = NULL;
	*n = 0;
	while (at < len) {
		const char *line = buf + at, *nl = memchr(line, '\n', len - at);
		const char *sp, *p;
		char commit[65];
		size_t tlen, repo;

		if (!nl || k == NOTEBOX_MAX)
			goto bad;
		sp = memchr(line, ' ', (size_t)(nl - line));
		if (!sp || (size_t)(sp - line) >= sizeof(commit))
			goto bad;
		memcpy(commit, line, (size_t)(sp - line));
		commit[sp - line] = '\0';
		p = sp + 1;
		if (!notebox_commit_name(commit) ||
		    frame_number(&p, nl, NOTEBOX_MAX_TEXT, &tlen) < 0 ||
		    p == nl || (p++, frame_number(&p, nl, nrepos, &repo) < 0) ||
		    p != nl || repo >= nrepos)
			goto bad;
		at = (size_t)(nl - buf) + 1;
		if (tlen > len - at || memchr(buf + at, '\0', tlen))
			goto bad;
		v = xgrow(v, k + 1, &cap, sizeof(*v));
		memcpy(v[k].commit, commit, sizeof(commit));
		v[k].text = xstrndup(buf + at, tlen);
		v[k].mtime_ms = 0;
		v[k].in_place = 0;
		v[k].repo = repo;
		k++;
		at += tlen;
	}
	*out = v;
	*n = k;
	return 0;
bad:
	notebox_notes_free(v, k);
	return error_set(ERR_INVALID, "notes given to the writer are not "
	    "'COMMIT LENGTH REPOSITORY' and the text");
}

/* NOTEBOX_WRITER `command` REPO... as `user`, given notes `v` on its
 * stdin; its stdout into `out` (may be NULL). */
static int run_writer(const char *command, const char *const *repos,
    size_t nrepos, const struct notebox_note *v, size_t n,
    const struct run_user *user, struct sbuf *out, int64_t timeout_ms)
{
	char *prog = run_sibling(NOTEBOX_WRITER);
	const char **argv = xcalloc(nrepos + 3, sizeof(*argv));
	struct child c = { .argv = argv, .cwd = "/", .user = user };
	struct sbuf in = SBUF_INIT, err = SBUF_INIT;
	int rc;

	if (!prog) {
		free(argv);
		return error_set(ERR_NOTFOUND, "cannot find %s (it is installed "
		    "in libexec/runner)", NOTEBOX_WRITER);
	}
	argv[0] = prog;
	argv[1] = command;
	for (size_t i = 0; i < nrepos; i++)
		argv[2 + i] = repos[i];
	notebox_frame(&in, v, n);
	rc = child_capture(&c, in.buf, in.len, out, &err, timeout_ms);
	while (err.len && err.buf[err.len - 1] == '\n')
		sbuf_truncate(&err, err.len - 1);
	if (rc == ERR_TIMEOUT)
		rc = error_set(-1, "%s %s '%s'%s took more than %lld s", prog,
		    command, repos[0], nrepos > 1 ? " and others" : "",
		    (long long)timeout_ms / 1000);
	else if (rc > 0)
		rc = error_set(-1, "%s", err.len ? err.buf : "the writer failed");
	else if (rc < 0)
		rc = error_set(rc, "%s", error_last());
	sbuf_release(&in);
	sbuf_release(&err);
	free(argv);
	free(prog);
	return rc;
}

int notebox_is_notes_ref(const char *ref)
{
	size_t n = strlen(NOTES_REF);

	return !strncmp(ref, NOTES_REF, n) && (!ref[n] || ref[n] == '/');
}

int notebox_deliver(const char *const *repos, size_t nrepos,
    const struct notebox_note *v, size_t n, const struct run_user *user,
    unsigned char *written)
{
	struct sbuf out = SBUF_INIT;
	int rc;

	if (written)
		memset(written, 0, nrepos);
	if (!n)
		return 0;
	rc = run_writer(NOTEBOX_WRITER_COMMAND, repos, nrepos, v, n, user,
	    &out, DELIVER_TIMEOUT_MS);
	/* a line per repository whose notes are all written, also when
	 * another one's failed */
	for (char *p = out.buf, *nl, *end; written && *p; p = nl + 1) {
		if (!(nl = strchr(p, '\n')))
			break;
		unsigned long i = strtoul(p, &end, 10);
		if (end == nl && end != p && i < nrepos)
			written[i] = 1;
	}
	sbuf_release(&out);
	return rc;
}

int notebox_check(const char *repo, struct notebox_note *v, size_t n,
    const struct run_user *user)
{
	struct sbuf out = SBUF_INIT;
	int rc;

	for (size_t i = 0; i < n; i++) {
		v[i].in_place = 0;
		v[i].repo = 0;
	}
	if (!n)
		return 0;
	if ((rc = run_writer(NOTEBOX_CHECK_COMMAND, &repo, 1, v, n, user, &out,
	    CHECK_TIMEOUT_MS)) == 0) {
		/* a line per commit whose note is in place */
		for (char *p = out.buf, *nl; *p; p = nl + 1) {
			if (!(nl = strchr(p, '\n')))
				break;
			*nl = '\0';
			for (size_t i = 0; i < n; i++)
				if (!strcmp(v[i].commit, p))
					v[i].in_place = 1;
		}
	}
	sbuf_release(&out);
	return rc;
}
