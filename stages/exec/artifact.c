/*
 * libarchive for the archive, libcrypto for sha256 (the globs are
 * glob.c's).
 * The digest is computed while the archive is written, so the bytes that
 * are recorded are the bytes on disk, read once.
 */
#include "artifact.h"
#include "archive_lib.h"
#include "chunks.h"
#include "manifest.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define MAX_FILES 1000000

/*
 * File names are bytes. pax headers carry names in UTF-8: written with
 * LC_CTYPE C.UTF-8 (this thread only), UTF-8 names go in as they are and
 * every tar reads them silently; a name that is not UTF-8 keeps its bytes
 * under hdrcharset=BINARY (which GNU tar, not knowing it, mentions).
 * Returns the locale to restore with uselocale().
 */
static locale_t utf8_names(void)
{
	static locale_t utf8;

	if (!utf8)
		utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return utf8 ? uselocale(utf8) : uselocale((locale_t)0);
}

struct artifact_writer {
	struct archive *a;
	char *path;
	int fd;
	EVP_MD_CTX *md;
	int64_t size, files;
	int write_errno;
	char **added;		/* sorted, for skipping repeats */
	size_t nadded;
	int64_t deadline_ms;	/* mono_ms(); 0: none */
	int (*canceled)(void *arg);
	void *canceled_arg;
	int64_t next_look_ms;	/* when to ask canceled() again */
	int in_entry;		/* stopped inside an entry's data */
	int64_t max;		/* bytes of the archive at most; 0: any */
	int too_big;		/* it grew past them */
};

void artifact_set_max(struct artifact_writer *w, int64_t bytes)
{
	w->max = bytes;
}

void artifact_set_stop(struct artifact_writer *w, int64_t deadline_ms,
    int (*canceled)(void *arg), void *arg)
{
	w->deadline_ms = deadline_ms;
	w->canceled = canceled;
	w->canceled_arg = arg;
	w->next_look_ms = 0;
}

/* Must archiving stop? An error saying why, else 0. Cancellation is
 * asked at most every ARTIFACT_LOOK_MS: it is a look at the store. */
#define ARTIFACT_LOOK_MS 250
static int must_stop(struct artifact_writer *w)
{
	int64_t now = mono_ms();

	if (w->deadline_ms && now >= w->deadline_ms)
		return error_set(ERR_TIMEOUT, "archiving stopped at the stage's "
		    "timeout");
	if (w->canceled && now >= w->next_look_ms) {
		w->next_look_ms = now + ARTIFACT_LOOK_MS;
		if (w->canceled(w->canceled_arg))
			return error_set(-1, "archiving stopped: canceled");
	}
	return 0;
}

static la_ssize_t write_cb(struct archive *a, void *arg, const void *buf,
    size_t n)
{
	struct artifact_writer *w = arg;

	if (w->max && w->size + (int64_t)n > w->max) {
		w->too_big = 1;
		archive_set_error(a, EFBIG, "too big");
		return -1;
	}
	if (write_all(w->fd, buf, n) < 0) {
		w->write_errno = errno;
		archive_set_error(a, errno, "cannot write '%s': %s", w->path,
		    strerror(errno));
		return -1;
	}
	EVP_DigestUpdate(w->md, buf, n);
	w->size += (int64_t)n;
	return (la_ssize_t)n;
}

static int archive_fail(struct artifact_writer *w, const char *what)
{
	int nospace = w->write_errno == ENOSPC ||
	    archive_errno(w->a) == ENOSPC;

	if (w->too_big) {
		struct sbuf max = SBUF_INIT;
		format_size(&max, w->max);
		error_set(ERR_INVALID, "the archive grew past %s, the most a "
		    "build's artifacts may take (runner.yml disk: artifacts, or "
		    "the pipeline's); nothing is kept", max.buf);
		sbuf_release(&max);
		return ERR_INVALID;
	}

	return error_set(nospace ? ERR_NOSPACE : -1, "%s '%s': %s%s", what,
	    w->path, archive_error_string(w->a) ? archive_error_string(w->a) :
	    "unknown error", nospace ? " (no space left on the device)" : "");
}

int artifact_open(const char *path, struct artifact_writer **out)
{
	struct artifact_writer *w;

	*out = NULL;
	if (archive_lib_load() < 0)
		return -1;
	w = xcalloc(1, sizeof(*w));
	w->path = xstrdup(path);
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int e = errno;
		free(w->path);
		free(w);
		return error_set(e == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot create '%s': %s", path, strerror(e));
	}
	w->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(w->md, EVP_sha256(), NULL);
	w->a = archive_write_new();
	archive_write_add_filter_zstd(w->a);
	archive_write_set_filter_option(w->a, "zstd", "compression-level", "3");
	/* libarchive >= 3.6.2 can use several threads; older ones refuse. */
	archive_write_set_filter_option(w->a, "zstd", "threads", "2");
	archive_write_set_format_pax_restricted(w->a);
	archive_write_set_bytes_in_last_block(w->a, 1);
	locale_t old = utf8_names();
	int rc = archive_write_open2(w->a, w, NULL, write_cb, NULL, NULL);
	uselocale(old);
	if (rc != ARCHIVE_OK) {
		int error = archive_fail(w, "cannot start archive");
		artifact_abort(w);
		return error;
	}
	*out = w;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int already_added(struct artifact_writer *w, const char *rel)
{
	return w->nadded && bsearch(&rel, w->added, w->nadded,
	    sizeof(*w->added), cmp_str) != NULL;
}

struct walk {
	const struct glob_set *g;
	struct artifact_writer *w;
	char **found;
	size_t nfound, cap;
	int error;
};

static void walk_dir(struct walk *wk, int dirfd, const char *rel,
    size_t depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) && wk->error == 0) {
		struct stat st;
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!*rel && !strcmp(de->d_name, ".git"))
			continue;
		if ((wk->error = must_stop(wk->w)) < 0)
			break;
		path = *rel ? xasprintf("%s/%s", rel, de->d_name) :
		    xstrdup(de->d_name);
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode) && depth < 256) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				walk_dir(wk, fd, path, depth + 1);
			free(path);
			continue;
		}
		int hit = S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ?
		    glob_set_match(wk->g, path) : 0;
		if (hit < 0) {
			wk->error = hit;
			free(path);
			break;
		}
		if (hit && !already_added(wk->w, path)) {
			if (wk->nfound >= MAX_FILES) {
				wk->error = error_set(ERR_INVALID, "artifact globs "
				    "match more than %d files", MAX_FILES);
				free(path);
				continue;
			}
			wk->found = xgrow(wk->found, wk->nfound, &wk->cap,
			    sizeof(*wk->found));
			wk->found[wk->nfound++] = path;
			continue;
		}
		free(path);
	}
	closedir(d);
}

static int safe_name(const char *p)
{
	if (!*p || *p == '/')
		return 0;
	for (const char *s = p; *s; ) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return 0;
		s += n + (slash != NULL);
	}
	return 1;
}

/*
 * Does symlink `rel` (a path inside the tree) pointing to `target` stay
 * inside the tree? Decided on the names alone: absolute targets and ones
 * that climb above the root do not.
 */
static int link_inside(const char *rel, const char *target)
{
	long depth = 0;

	if (*target == '/' || !*target)
		return 0;
	for (const char *s = rel; (s = strchr(s, '/')); s++)
		depth++;	/* the folders the link sits in */
	for (const char *s = target; *s; ) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (n && !(n == 1 && s[0] == '.')) {
			depth++;
		}
		s += n + (slash != NULL);
	}
	return 1;
}

static int add_entry(struct artifact_writer *w, int rootfd, const char *rel)
{
	struct archive_entry *e = NULL;
	struct stat st;
	char *buf = NULL;
	int fd = -1, error;

	if (fstatat(rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return error_set(-1, "cannot read artifact '%s': %s", rel,
		    strerror(errno));
	e = archive_entry_new();
	archive_entry_copy_pathname(e, rel);
	archive_entry_set_mode(e, st.st_mode);
	archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(rootfd, rel, target, sizeof(target) - 1);
		if (n < 0) {
			error = error_set(-1, "cannot read link '%s': %s", rel,
			    strerror(errno));
			goto out;
		}
		target[n] = '\0';
		if (!link_inside(rel, target)) {
			error = error_set(ERR_INVALID, "artifact '%s' is a symlink "
			    "to '%s', outside the workspace: refused", rel, target);
			goto out;
		}
		archive_entry_copy_symlink(e, target);
		archive_entry_set_size(e, 0);
	} else {
		/* Beneath the workspace and through no link at all: a folder
		 * swapped for a link meanwhile must not lead the archive to a
		 * file of the runner's. O_NONBLOCK: a FIFO must not block. */
		struct open_how how = {
			.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			    RESOLVE_NO_MAGICLINKS,
		};
		fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			error = error_set(-1, "cannot open artifact '%s': %s", rel,
			    fd < 0 ? strerror(errno) : "not a regular file");
			goto out;
		}
		archive_entry_set_mode(e, st.st_mode);
		archive_entry_set_size(e, st.st_size);
	}
	/* a name that is not UTF-8 is kept as its bytes, with the pax
	 * header hdrcharset=BINARY; libarchive says so with a warning */
	locale_t old = utf8_names();
	int rc = archive_write_header(w->a, e);
	uselocale(old);
	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
		error = archive_fail(w, "cannot write archive");
		goto out;
	}
	if (fd >= 0) {
		ssize_t n;
		buf = xmalloc(1 << 17);
		while ((n = read(fd, buf, 1 << 17)) > 0) {
			if (archive_write_data(w->a, buf, (size_t)n) != n) {
				error = archive_fail(w, "cannot write archive");
				goto out;
			}
			if ((error = must_stop(w)) < 0) {
				w->in_entry = 1;
				goto out;
			}
		}
		if (n < 0) {
			error = error_set(-1, "cannot read artifact '%s': %s", rel,
			    strerror(errno));
			goto out;
		}
	}
	w->files++;
	error = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	archive_entry_free(e);
	return error;
}

int artifact_add(struct artifact_writer *w, const char *root,
    char *const *globs, size_t nglobs, size_t *matched)
{
	struct glob_set *g = NULL;
	struct walk wk = { 0 };
	int rootfd, error;

	*matched = 0;
	if ((error = glob_set_compile(globs, nglobs, &g)) < 0)
		return error;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		glob_set_free(g);
		return error_set(-1, "cannot open '%s': %s", root,
		    strerror(errno));
	}
	wk.g = g;
	wk.w = w;
	walk_dir(&wk, dup(rootfd), "", 0);
	error = wk.error;
	if (wk.nfound)
		qsort(wk.found, wk.nfound, sizeof(*wk.found), cmp_str);
	for (size_t i = 0; i < wk.nfound && error == 0; i++)
		if ((error = must_stop(w)) == 0)
			error = add_entry(w, rootfd, wk.found[i]);
	if (error == 0 && wk.nfound) {
		*matched = wk.nfound;
		w->added = xrealloc(w->added, (w->nadded + wk.nfound) *
		    sizeof(*w->added));
		memcpy(w->added + w->nadded, wk.found, wk.nfound *
		    sizeof(*wk.found));
		w->nadded += wk.nfound;
		qsort(w->added, w->nadded, sizeof(*w->added), cmp_str);
	} else if (error < 0) {
		for (size_t i = 0; i < wk.nfound; i++)
			free(wk.found[i]);
	}
	free(wk.found);
	close(rootfd);
	glob_set_free(g);
	return error;
}

static void writer_free(struct artifact_writer *w)
{
	for (size_t i = 0; i < w->nadded; i++)
		free(w->added[i]);
	free(w->added);
	EVP_MD_CTX_free(w->md);
	free(w->path);
	free(w);
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int artifact_close(struct artifact_writer *w, char sha256[65],
    int64_t *size, int64_t *files)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int error = 0;

	if (archive_write_close(w->a) != ARCHIVE_OK)
		error = archive_fail(w, "cannot finish archive");
	archive_write_free(w->a);
	w->a = NULL;
	if (error == 0 && fsync(w->fd) < 0)
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", w->path, strerror(errno));
	close(w->fd);
	if (error < 0) {
		unlink(w->path);
		writer_free(w);
		return error;
	}
	EVP_DigestFinal_ex(w->md, d, &len);
	hex(d, len, sha256);
	*size = w->size;
	*files = w->files;
	writer_free(w);
	return 0;
}

void artifact_abort(struct artifact_writer *w)
{
	if (!w)
		return;
	/* Stopped inside an entry: failed first, so that the free does not
	 * finish that entry (padding a 60 GB file with zeros is what a stop
	 * avoids). libarchive then keeps the 10 KiB of its output block, once
	 * per stopped archive (tests/e2e/lsan-archive-stop.supp); a free that closes frees
	 * it. */
	if (w->a) {
		if (w->in_entry)
			archive_write_fail(w->a);
		archive_write_free(w->a);
	}
	close(w->fd);
	unlink(w->path);
	writer_free(w);
}

int sha256_file(const char *path, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *md;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot open '%s': %s", path, strerror(errno));
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	buf = xmalloc(1 << 17);
	while ((n = read(fd, buf, 1 << 17)) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	int e = errno;
	close(fd);
	free(buf);
	EVP_DigestFinal_ex(md, d, &len);
	EVP_MD_CTX_free(md);
	if (n < 0)
		return error_set(-1, "cannot read '%s': %s", path, strerror(e));
	hex(d, len, out);
	return 0;
}

/* An entry name that stays inside the destination. */
static int extract(const char *archive, const char *dest,
    const char *sha256)
{
	struct archive *in = NULL, *out = NULL;
	struct archive_entry *e;
	char digest[65], *real = NULL, *name = NULL;
	int error, rc;

	if (sha256) {
		if ((error = sha256_file(archive, digest)) < 0)
			return error;
		if (strcmp(digest, sha256))
			return error_set(ERR_INVALID, "'%s' has sha256 %s, but %s "
			    "was recorded: the artifact was changed", archive,
			    digest, sha256);
	}
	if ((error = archive_lib_load()) < 0 ||
	    (error = mkdir_p(dest, 0755)) < 0)
		return error;
	/* Entry names are checked here; the real path of the destination
	 * keeps libarchive's symlink check from tripping on its parents. */
	if (!(real = realpath(dest, NULL)))
		return error_set(-1, "cannot resolve '%s': %s", dest,
		    strerror(errno));
	dest = real;
	in = archive_read_new();
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	out = archive_write_disk_new();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_filename(in, archive, 1 << 16) != ARCHIVE_OK) {
		error = error_set(-1, "cannot open '%s': %s", archive,
		    archive_error_string(in));
		goto out;
	}
	while ((rc = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *name_p = archive_entry_pathname(e);
		const char *link = archive_entry_hardlink(e);
		mode_t type = archive_entry_filetype(e);
		char *full;

		free(name);
		name = xstrdup(name_p ? name_p : "");
		if (!name_p || !safe_name(name)) {
			error = error_set(ERR_INVALID, "'%s': refusing entry '%s': "
			    "absolute or '..' path", archive, name);
			goto out;
		}
		if (type == AE_IFLNK && !link_inside(name,
		    archive_entry_symlink(e) ? archive_entry_symlink(e) : "")) {
			error = error_set(ERR_INVALID, "'%s': refusing symlink '%s' "
			    "to '%s': it points outside", archive, name,
			    archive_entry_symlink(e) ? archive_entry_symlink(e) :
			    "");
			goto out;
		}
		if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
			error = error_set(ERR_INVALID, "'%s': refusing entry '%s': "
			    "not a file, directory or symlink", archive, name);
			goto out;
		}
		if (link) {
			if (!safe_name(link)) {
				error = error_set(ERR_INVALID, "'%s': refusing hard "
				    "link '%s' to '%s'", archive, name, link);
				goto out;
			}
			full = xasprintf("%s/%s", dest, link);
			archive_entry_copy_hardlink(e, full);
			free(full);
		}
		full = xasprintf("%s/%s", dest, name);
		archive_entry_copy_pathname(e, full);
		free(full);
		archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			error = error_set(archive_errno(out) == ENOSPC ?
			    ERR_NOSPACE : ERR_INVALID, "'%s': cannot extract '%s': "
			    "%s", archive, name, archive_error_string(out));
			goto out;
		}
		const void *buf;
		size_t len;
		la_int64_t off;
		while ((rc = archive_read_data_block(in, &buf, &len, &off)) ==
		    ARCHIVE_OK) {
			if (archive_write_data_block(out, buf, len, off) !=
			    ARCHIVE_OK) {
				error = error_set(archive_errno(out) == ENOSPC ?
				    ERR_NOSPACE : -1, "'%s': cannot write '%s': "
				    "%s", archive, name, archive_error_string(out));
				goto out;
			}
		}
		if (rc != ARCHIVE_EOF) {
			error = error_set(ERR_INVALID, "'%s': corrupt data in '%s': "
			    "%s", archive, name, archive_error_string(in));
			goto out;
		}
		if (archive_write_finish_entry(out) != ARCHIVE_OK) {
			error = error_set(-1, "'%s': cannot finish '%s': %s",
			    archive, name, archive_error_string(out));
			goto out;
		}
	}
	if (rc != ARCHIVE_EOF) {
		error = error_set(ERR_INVALID, "'%s': %s", archive,
		    archive_error_string(in));
		goto out;
	}
	error = 0;
out:
	archive_read_free(in);
	archive_write_free(out);
	free(real);
	free(name);
	return error;
}

int artifact_extract(const char *archive, const char *dest,
    const char *sha256)
{
	/* names as they were written: UTF-8, or bytes (utf8_names) */
	locale_t old = utf8_names();
	int error = extract(archive, dest, sha256);

	uselocale(old);
	return error;
}

/* release_seal's listing: nftw passes no argument of ours. */
static struct sbuf *seal_out;
static size_t seal_base;
static int seal_error;

/* One entry of a release, by its descriptor (tree_walk_at): group
 * `*gid`, read-only. */
static int seal_one(int fd, const struct stat *st, const char *path,
    void *arg)
{
	gid_t gid = *(const gid_t *)arg;
	mode_t mode;

	if (gid != (gid_t)-1 && fchownat(fd, "", (uid_t)-1, gid,
	    AT_EMPTY_PATH) < 0)
		return error_set(-1, "cannot give '%s' to group %d: %s", path,
		    (int)gid, strerror(errno));
	if (S_ISLNK(st->st_mode))
		return 0;
	/* extract() made nothing else, and nobody else could enter */
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return error_set(-1, "'%s' is not a file, folder or link: refused",
		    path);
	mode = S_ISDIR(st->st_mode) || (st->st_mode & 0100) ? 0750 : 0640;
	if (chmod_fd(fd, mode) < 0)
		return error_set(-1, "cannot set the mode of '%s': %s", path,
		    strerror(errno));
	return 0;
}

static int seal_list(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	char digest[PATH_MAX + 1];
	struct stat now;

	(void)st;
	(void)ftw;
	if (flag != FTW_F && flag != FTW_SL && flag != FTW_SLN)
		return 0;
	if (lstat(path, &now) < 0)
		return seal_error = errno, -1;
	if (S_ISLNK(now.st_mode)) {
		ssize_t n = readlink(path, digest, sizeof(digest) - 1);
		if (n < 0)
			return seal_error = errno, -1;
		digest[n] = '\0';
	} else if (sha256_file(path, digest) < 0) {
		return seal_error = EIO, -1;
	}
	manifest_add(seal_out, path + seal_base, &now, digest);
	return 0;
}

int release_seal(const char *dir, gid_t gid, struct sbuf *manifest)
{
	seal_out = manifest;
	seal_base = strlen(dir) + 1;
	seal_error = 0;
	/* by descriptors, the folder after what is in it and the release
	 * itself last: until then it is closed to the environment's user
	 * (deploy.c makes it 0700), and no link is followed */
	if (tree_walk_at(AT_FDCWD, dir, seal_one, &gid) < 0)
		return error_set(-1, "cannot make '%s' read-only: %s", dir,
		    error_last());
	/* the listing, by name: nothing in it is writable but by us now */
	if (nftw(dir, seal_list, 32, FTW_PHYS) < 0)
		return error_set(-1, "cannot list '%s' for its manifest: %s", dir,
		    strerror(seal_error ? seal_error : errno));
	return 0;
}

int artifact_upload(struct store *s, int64_t id, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), error;

	if (fd < 0)
		return error_set(-1, "cannot read '%s': %s", path,
		    strerror(errno));
	error = store_artifact_put(s, id, fd);
	close(fd);
	return error;
}

int artifact_local(struct store *s, const char *home, int64_t id,
    const char *recorded, const char *sha256, char **path)
{
	char *local, *part = NULL, sum[65];
	int fd = -1, error = 0;
	int64_t got;

	*path = NULL;
	if (access(recorded, R_OK) == 0) {
		*path = xstrdup(recorded);
		return 0;
	}
	local = xasprintf("%s/artifacts/%lld.tar.zst", home, (long long)id);
	if (access(local, R_OK) == 0 && sha256_file(local, sum) == 0 &&
	    !strcmp(sum, sha256))
		goto done;
	if (store_is_sqlite(s)) {
		error = error_set(ERR_NOTFOUND, "artifact '%s' of build #%lld "
		    "is gone (removed by runner gc?)", recorded, (long long)id);
		goto out;
	}
	part = xasprintf("%s.part.%d", local, (int)getpid());
	char *dir = xasprintf("%s/artifacts", home);
	error = mkdir_p(dir, 0755);
	free(dir);
	if (error < 0)
		goto out;
	if ((fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0) {
		error = error_set(-1, "cannot write '%s': %s", part,
		    strerror(errno));
		goto out;
	}
	if ((got = store_artifact_fetch(s, id, fd)) < 0) {
		error = (int)got;
		goto out;
	}
	if (got == 0) {
		error = error_set(ERR_NOTFOUND, "the artifact of build #%lld is "
		    "'%s' on the host that built it, and the store has no copy",
		    (long long)id, recorded);
		goto out;
	}
	if (fsync(fd) < 0 || sha256_file(part, sum) < 0 ||
	    (strcmp(sum, sha256) && error_set(-1, "the artifact of build "
	    "#%lld from the store has sha256 %s, not the %s recorded",
	    (long long)id, sum, sha256)) || (rename(part, local) < 0 &&
	    error_set(-1, "cannot rename '%s': %s", part, strerror(errno)))) {
		error = -1;
		goto out;
	}
done:
	*path = local;
	local = NULL;
out:
	if (fd >= 0)
		close(fd);
	if (part && error)
		unlink(part);
	free(part);
	free(local);
	return error;
}
