/*
 * The few filesystem operations several modules need (util.h): folders
 * made and removed, disk use measured, files read and written whole and
 * atomically, and trees walked and given away by descriptors.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mkdir_p(const char *path, mode_t mode)
{
	char *p;
	int error = 0;

	/* Mostly only the last component is missing (or none is): one call. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot create directory '%s': %s", path, strerror(errno));
	p = xstrdup(path);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
			    "cannot create directory '%s': %s", p,
			    strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return error;
}

int rm_rf_at(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -1;
		DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -1;
		}
		struct dirent *de;
		int rc = 0;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (rm_rf_at(fd, de->d_name) < 0)
				rc = -1;
		}
		closedir(d);
		if (rc < 0)
			return -1;
		return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT ? -1 : 0;
	}
	return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	if (rm_rf_at(AT_FDCWD, path) < 0)
		return error_set(-1, "cannot remove '%s': %s", path,
		    strerror(errno));
	return 0;
}

/* The blocks below folder `fd` (of file system `dev`) added to *sum,
 * until it passes `stop`; ERR_INVALID past DU_DEPTH folders. */
#define DU_DEPTH 256
static int du_at(int fd, dev_t dev, int depth, int64_t stop, int64_t *sum)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int error = 0;

	if (!d) {
		close(fd);
		return 0;
	}
	while (error == 0 && (!stop || *sum <= stop) && (de = readdir(d))) {
		struct stat st;
		int sub;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;	/* gone meanwhile */
		*sum += (int64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || st.st_dev != dev)
			continue;
		if (depth >= DU_DEPTH)
			error = error_set(ERR_INVALID, "it is deeper than %d "
			    "folders", DU_DEPTH);
		else if ((sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) >= 0)
			error = du_at(sub, dev, depth + 1, stop, sum);
	}
	closedir(d);
	return error;
}

int disk_usage(const char *path, int64_t stop, int64_t *out)
{
	struct stat st;
	int fd, error;

	*out = 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		error = error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot measure '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return error;
	}
	*out = (int64_t)st.st_blocks * 512;
	if ((error = du_at(fd, st.st_dev, 0, stop, out)) < 0)
		return error_set(error, "cannot measure '%s': %s", path,
		    error_last());
	return 0;
}

int read_file(const char *path, size_t max, struct sbuf *out)
{
	/* O_NONBLOCK: a FIFO planted where a file was expected (a ref of
	 * another user's repository) must not hold the reader up */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	int error;

	if (fd < 0)
		return error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot open '%s': %s", path, strerror(errno));
	error = read_fd(fd, path, max, out);
	close(fd);
	return error;
}

int read_fd(int fd, const char *path, size_t max, struct sbuf *out)
{
	int error = 0;

	for (;;) {
		sbuf_grow(out, 8192);
		ssize_t n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = error_set(-1, "cannot read '%s': %s", path,
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->buf[out->len] = '\0';
		if (out->len > max) {
			error = error_set(ERR_INVALID,
			    "'%s' is larger than %zu bytes", path, max);
			break;
		}
	}
	return error;
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A name for a temporary beside `base` that nobody can guess. */
static char *tmp_name(const char *base)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[10];
	char tail[sizeof(r) + 1];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* no entropy yet (early boot): the clock and the pid, which
		 * O_EXCL still keeps from being taken over */
		uint64_t v = (uint64_t)mono_ms() * 2654435761u ^
		    (uint64_t)getpid() << 32 ^ (uint64_t)now_ms();
		for (size_t i = 0; i < sizeof(r); i++, v >>= 6)
			r[i] = (unsigned char)v;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		tail[i] = digits[r[i] % (sizeof(digits) - 1)];
	tail[sizeof(r)] = '\0';
	return xasprintf("%s.tmp.%s", base, tail);
}

int write_file_atomic(const char *path, const char *data, size_t len,
    mode_t mode)
{
	return write_file_renamed(path, data, len, mode, 1);
}

int write_file_renamed(const char *path, const char *data, size_t len,
    mode_t mode, int sync)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir = slash ? xstrndup(path, slash == path ? 1 :
	    (size_t)(slash - path)) : xstrdup(".");
	char *tmp = NULL;
	int dfd, rfd = -1, fd = -1, error = -1;
	struct stat st;

	/* Everything below is relative to the folder, opened once (O_PATH:
	 * the spool lets the hook's group write and search, not read): a
	 * link or another folder swapped in at its name changes nothing. */
	if ((dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 || fstat(dfd, &st) < 0) {
		error = error_set(errno == ENOENT ? ERR_NOTFOUND : -1,
		    "cannot open the folder of '%s': %s", path, strerror(errno));
		goto out;
	}
	/* Root writes into root's folders only: whoever owns a folder
	 * decides what its path leads to. Files of another user's folder
	 * are written as that user (install-hook does). */
	if (geteuid() == 0 && st.st_uid != 0) {
		error = error_set(ERR_INVALID, "'%s' belongs to uid %d: root "
		    "writes no file into a folder another user owns (write it "
		    "as that user)", dir, (int)st.st_uid);
		goto out;
	}
	/* A fresh name, made here (O_EXCL) and never followed: a link
	 * planted at any name cannot take the write elsewhere. */
	for (int i = 0; i < 100 && fd < 0; i++) {
		free(tmp);
		tmp = tmp_name(base);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode & 0777);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	/* the mode asked for, whatever the umask */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 ||
	    (sync && fsync(fd) < 0)) {
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		error = error_set(-1, "cannot rename '%s/%s' to '%s': %s", dir,
		    tmp, path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* The new name on disk too: the folder synced. One this process may
	 * not read (the spool, for the hook's group) cannot be opened for
	 * that; the file synced again after the rename commits it with the
	 * journal of ext4 and XFS. */
	if (sync)
		rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sync && (rfd >= 0 ? fsync(rfd) : errno == EACCES ? fsync(fd) :
	    -1) < 0) {
		error = error_set(-1, "cannot sync '%s': %s", dir,
		    strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		error = error_set(errno == ENOSPC ? ERR_NOSPACE : -1,
		    "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	error = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rfd >= 0)
		close(rfd);
	if (tmp && dfd >= 0 && error < 0)
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(dir);
	return error;
}

int chmod_fd(int fd, mode_t mode)
{
	char proc[40];

	if (fchmod(fd, mode) == 0)
		return 0;
	if (errno != EBADF)
		return -1;
	/* an O_PATH descriptor: the file it holds, through /proc (what
	 * glibc's fchmodat(AT_SYMLINK_NOFOLLOW) does) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return chmod(proc, mode);
}

/* ---- walking a tree by descriptors ---- */

struct walk {
	tree_fn fn;
	void *arg;
	dev_t dev;
	struct sbuf path;	/* of the entry, for messages */
};

/* Entry `name` of the folder `dirfd`, and below it: see tree_walk_at. */
static int walk_at(struct walk *w, int at, const char *name, int top)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, error = 0;

	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		/* not a folder: held, never opened for reading or followed */
		if ((fd = openat(at, name, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
			error = error_set(-1, "cannot open '%s': %s", w->path.buf,
			    strerror(errno));
		else if (S_ISDIR(st.st_mode))
			error = error_set(-1, "'%s' changed while it was walked: "
			    "refused", w->path.buf);
		else if (!top && st.st_dev != w->dev)
			error = error_set(-1, "'%s' is on another file system (a "
			    "mount point): refused", w->path.buf);
		else
			error = w->fn(fd, &st, w->path.buf, w->arg);
		if (fd >= 0)
			close(fd);
		return error;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		error = error_set(-1, "cannot open '%s': %s", w->path.buf,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return error;
	}
	if (top)
		w->dev = st.st_dev;
	else if (st.st_dev != w->dev) {
		close(fd);
		return error_set(-1, "'%s' is on another file system (a mount "
		    "point): refused", w->path.buf);
	}
	if (!(d = fdopendir(fd))) {
		error = error_set(-1, "cannot read '%s': %s", w->path.buf,
		    strerror(errno));
		close(fd);
		return error;
	}
	for (;;) {
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				error = error_set(-1, "cannot read '%s': %s",
				    w->path.buf, strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t len = w->path.len;
		sbuf_addch(&w->path, '/');
		sbuf_adds(&w->path, de->d_name);
		error = walk_at(w, dirfd(d), de->d_name, 0);
		sbuf_truncate(&w->path, len);
		if (error < 0)
			break;
	}
	/* the folder last: until then nothing in it has changed hands */
	if (error == 0)
		error = w->fn(dirfd(d), &st, w->path.buf, w->arg);
	closedir(d);
	return error;
}

int tree_walk_at(int dirfd, const char *name, tree_fn fn, void *arg)
{
	struct walk w = { .fn = fn, .arg = arg, .path = SBUF_INIT };
	int error;

	sbuf_adds(&w.path, name);
	error = walk_at(&w, dirfd, name, 1);
	sbuf_release(&w.path);
	return error;
}

struct owner {
	uid_t uid;
	gid_t gid;
};

static int give_one(int fd, const struct stat *st, const char *path,
    void *arg)
{
	const struct owner *o = arg;

	/* a second name may be anywhere: giving it away gives that away */
	if (S_ISREG(st->st_mode) && st->st_nlink > 1)
		return error_set(-1, "'%s' has %ju links: a file linked from "
		    "elsewhere is not given away", path,
		    (uintmax_t)st->st_nlink);
	if ((S_ISDIR(st->st_mode) ? fchown(fd, o->uid, o->gid) :
	    fchownat(fd, "", o->uid, o->gid, AT_EMPTY_PATH)) < 0)
		return error_set(-1, "cannot change the owner of '%s': %s", path,
		    strerror(errno));
	return 0;
}

int chown_tree_at(int dirfd, const char *name, uid_t uid, gid_t gid)
{
	struct owner o = { uid, gid };

	return tree_walk_at(dirfd, name, give_one, &o);
}
