/*
 * The shared helpers: error slot, allocation, sbuf, clocks, durations and
 * the few filesystem operations several modules need.
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

char sbuf_empty[1];
static _Thread_local struct sbuf last_error = SBUF_INIT;	/* per thread */

void error_record(const char *fmt, ...)
{
	va_list ap;
	struct sbuf tmp = SBUF_INIT;

	va_start(ap, fmt);
	sbuf_vaddf(&tmp, fmt, ap);
	va_end(ap);
	sbuf_release(&last_error);
	last_error = tmp;
}

const char *error_last(void)
{
	return last_error.buf;
}

void error_clear(void)
{
	sbuf_release(&last_error);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("runner: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fatal("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

	if (!p)
		fatal("out of memory allocating %zu x %zu bytes", nmemb, n);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		fatal("out of memory allocating %zu bytes", n);
	return q;
}

void *xgrow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? *cap : 8;
	while (c <= n)
		c = c < SIZE_MAX / 2 / size ? c * 2 : n + 1;
	if (c > SIZE_MAX / size)
		fatal("array size overflow");
	*cap = c;
	return xrealloc(p, c * size);
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return sbuf_detach(&sb);
}

void sbuf_init(struct sbuf *sb)
{
	sb->buf = sbuf_empty;
	sb->len = sb->alloc = 0;
}

void sbuf_release(struct sbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sbuf_init(sb);
}

void sbuf_grow(struct sbuf *sb, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - sb->len - 1)
		fatal("buffer size overflow");
	need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return;
	size_t alloc = sb->alloc ? sb->alloc : 64;
	while (alloc < need)
		alloc = alloc < SIZE_MAX / 2 ? alloc * 2 : need;
	if (!sb->alloc) {
		/* buf was the shared empty string: nothing of ours to free.
		 * (gcc -fanalyzer loses sb->alloc between two calls and says
		 * the buffer of the first leaks here.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
		sb->buf = xmalloc(alloc);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
		sb->buf[0] = '\0';
	} else {
		sb->buf = xrealloc(sb->buf, alloc);
	}
	sb->alloc = alloc;
}

void sbuf_add(struct sbuf *sb, const void *data, size_t n)
{
	if (!n)
		return;
	sbuf_grow(sb, n);
	memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sbuf_adds(struct sbuf *sb, const char *s)
{
	sbuf_add(sb, s, strlen(s));
}

void sbuf_addch(struct sbuf *sb, char c)
{
	sbuf_add(sb, &c, 1);
}

void sbuf_vaddf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	char probe[1];
	int n;

	if (!fmt)	/* never; it tells the compiler so under UBSan */
		fatal("null format string");
	va_copy(cp, ap);
	n = vsnprintf(probe, sizeof(probe), fmt, cp);
	va_end(cp);
	if (n < 0)
		fatal("bad format string '%s'", fmt);
	sbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void sbuf_reset(struct sbuf *sb)
{
	sbuf_truncate(sb, 0);
}

void sbuf_truncate(struct sbuf *sb, size_t len)
{
	if (len >= sb->len)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

char *sbuf_detach(struct sbuf *sb)
{
	char *s = sb->alloc ? sb->buf : xstrdup("");

	sbuf_init(sb);
	return s;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The wall clock of every runner process. RUNNER_TEST_CLOCK_SKEW (ms,
 * signed) sets it that far off the machine's, read here and nowhere
 * else: the tests' host whose clock is wrong, which a time namespace
 * cannot make (it offsets the monotonic clocks only). Leases and
 * heartbeats do not depend on it: they are kept by the store's clock.
 */
int64_t now_ms(void)
{
	static _Atomic int64_t skew = INT64_MIN;
	int64_t k = skew;

	if (k == INT64_MIN) {
		const char *v = getenv("RUNNER_TEST_CLOCK_SKEW");
		char *end = NULL;
		k = v && *v ? strtoll(v, &end, 10) : 0;
		if (!end || *end || k < -86400000LL * 366 ||
		    k > 86400000LL * 366)
			k = 0;
		skew = k;
	}
	return clock_ms(CLOCK_REALTIME) + k;
}

int64_t mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t deadline_min(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

int word_in(const char *list, const char *word)
{
	size_t len = strlen(word);

	while (len && *list) {
		size_t n = strcspn(list, " ");
		if (n == len && !strncmp(list, word, len))
			return 1;
		list += n;
		list += strspn(list, " ");
	}
	return 0;
}

int parse_size(const char *s, int64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long v;
	int64_t mult = 1;

	if (*s < '0' || *s > '9')
		return error_set(ERR_INVALID, "bad size '%s'", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > (1ULL << 40))
		return error_set(ERR_INVALID, "bad size '%s'", s);
	if (*end) {
		const char *u = strchr(units, end[0] & ~0x20);
		if (!u || !end[0])
			return error_set(ERR_INVALID, "bad size '%s'", s);
		for (const char *k = units; k <= u; k++)
			mult *= 1024;
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B") || !strcmp(end, "b"))
			end += strlen(end);
		if (*end)
			return error_set(ERR_INVALID, "bad size '%s'", s);
	}
	*out = (int64_t)v * mult;
	return 0;
}

int url_scheme_in(const char *url, const char *schemes)
{
	size_t len = strcspn(url, ":");
	char *scheme = xstrndup(url, len);
	int ok = !strncmp(url + len, "://", 3) && url[len + 3] &&
	    word_in(schemes, scheme);

	free(scheme);
	return ok;
}

void each_line(char *text, void (*fn)(char *line, void *arg), void *arg)
{
	for (char *l = text, *nl; l && *l; l = nl ? nl + 1 : l + strlen(l)) {
		if ((nl = strchr(l, '\n')))
			*nl = '\0';
		fn(l, arg);
	}
}

int parse_duration(const char *s, int64_t *out_ms)
{
	const char *p = s;
	int64_t total = 0;

	if (!*p)
		return error_set(ERR_INVALID, "empty duration");
	while (*p) {
		char *end;
		int64_t unit;

		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (errno || v > 1000000000ULL)
			goto bad;
		p = end;
		if (!strncmp(p, "ms", 2)) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || *p == '\0') {
			unit = 1000;
			p += *p == 's';
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000;
			p++;
		} else {
			goto bad;
		}
		/* a pushed `timeout:` can be any number of terms */
		if ((int64_t)v > (INT64_MAX - total) / unit)
			return error_set(ERR_INVALID, "duration '%s' is too long",
			    s);
		total += (int64_t)v * unit;
	}
	*out_ms = total;
	return 0;
bad:
	return error_set(ERR_INVALID,
	    "bad duration '%s' (use a number with s, m, h, d or ms, like 10m)",
	    s);
}

void format_size(struct sbuf *sb, int64_t bytes)
{
	static const char units[] = "KMGT";
	int64_t n = bytes, div = 1;
	int u = -1;

	while (n >= 1024 && u < 3) {
		n /= 1024;
		div *= 1024;
		u++;
	}
	if (u < 0)
		sbuf_addf(sb, "%lld bytes", (long long)bytes);
	else if (bytes % div == 0)
		sbuf_addf(sb, "%lld%c", (long long)n, units[u]);
	else
		sbuf_addf(sb, "%.1f%c", (double)bytes / (double)div, units[u]);
}

void format_duration(struct sbuf *sb, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		sbuf_addf(sb, "%lldms", (long long)ms);
		return;
	}
	int64_t s = ms / 1000;
	if (s < 60)
		sbuf_addf(sb, "%lld.%llds", (long long)s,
		    (long long)(ms % 1000) / 100);
	else if (s < 3600)
		sbuf_addf(sb, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 2 * 86400)
		sbuf_addf(sb, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s / 60 % 60));
	else
		sbuf_addf(sb, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s / 3600 % 24));
}

void format_bytes(struct sbuf *sb, int64_t n)
{
	static const char *const units[] = { "KB", "MB", "GB", "TB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		sbuf_addf(sb, "%lld B", (long long)n);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	sbuf_addf(sb, "%.1f %s", v, units[u]);
}

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

size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

size_t utf8_char_len(const unsigned char *s, size_t left, unsigned *out)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80) {
		*out = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*out = cp;
	return n;
}

void sbuf_add_shell(struct sbuf *sb, const char *s)
{
	sbuf_addch(sb, '\'');
	for (; *s; s++)
		if (*s == '\'')
			sbuf_adds(sb, "'\\''");
		else
			sbuf_addch(sb, *s);
	sbuf_addch(sb, '\'');
}

void sbuf_add_display(struct sbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; ) {
		if (p[i] == '\n' || p[i] == '\t') {
			sbuf_addch(sb, (char)p[i]);
			i++;
			continue;
		}
		unsigned cp = 0;
		size_t n = utf8_char_len(p + i, len - i, &cp);
		/* C0 and C1 controls: C1 (U+0080..U+009F) are escapes on some
		 * terminals too. */
		if (n == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			sbuf_addf(sb, "\\x%02x", p[i]);
			i++;
			continue;
		}
		sbuf_add(sb, p + i, n);
		i += n;
	}
}

/*
 * The names the store recorded (repo_names_set), path to name: a name is
 * fixed when its repository is first seen, so entries are only ever
 * added. The web page's threads share it.
 */
static struct { char *path, *name; } *name_book;
static size_t nname_book;
static pthread_mutex_t name_book_lock = PTHREAD_MUTEX_INITIALIZER;

/* gcc -fanalyzer (tests/analyze.sh) takes the copies stored in the
 * global book for leaks: they live as long as the process, on purpose */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
#endif
void repo_names_set(const char *path, const char *name)
{
	pthread_mutex_lock(&name_book_lock);
	for (size_t i = 0; i < nname_book; i++)
		if (!strcmp(name_book[i].path, path)) {
			if (strcmp(name_book[i].name, name)) {
				free(name_book[i].name);
				name_book[i].name = xstrdup(name);
			}
			goto out;
		}
	name_book = xrealloc(name_book, (nname_book + 1) * sizeof(*name_book));
	name_book[nname_book].path = xstrdup(path);
	name_book[nname_book++].name = xstrdup(name);
out:
	pthread_mutex_unlock(&name_book_lock);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void repo_names_reset(void)
{
	pthread_mutex_lock(&name_book_lock);
	for (size_t i = 0; i < nname_book; i++) {
		free(name_book[i].path);
		free(name_book[i].name);
	}
	free(name_book);
	name_book = NULL;
	nname_book = 0;
	pthread_mutex_unlock(&name_book_lock);
}

char *repo_path_suffix(const char *path, int k)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	for (int i = 0; i < k; i++) {
		if (start == 0 || (i > 0 && start == 1 && path[0] == '/'))
			return NULL;
		if (i > 0)
			start--;	/* the slash */
		while (start > 0 && path[start - 1] != '/')
			start--;
	}
	char *s = xstrndup(path + start, end - start);
	size_t n = strlen(s);
	if (n > 4 && !strcmp(s + n - 4, ".git"))
		s[n - 4] = '\0';
	return s;
}

int label_valid(const char *l)
{
	size_t n = strlen(l);

	return n > 0 && n <= 64 && strspn(l, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n && strchr("abcdefghijklmnopqrstuvwxyz"
	    "0123456789", l[0]);
}

char *repo_base_name(const char *repo)
{
	char *s = repo_path_suffix(repo, 1);

	return s ? s : xstrdup(repo);
}

void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Is `name` in the book (the lock held)? */
static int name_taken(const char *name)
{
	for (size_t i = 0; i < nname_book; i++)
		if (!strcmp(name_book[i].name, name))
			return 1;
	return 0;
}

char *repo_short_name(const char *repo)
{
	char *name = NULL;

	pthread_mutex_lock(&name_book_lock);
	for (size_t i = 0; i < nname_book && !name; i++)
		if (!strcmp(name_book[i].path, repo))
			name = xstrdup(name_book[i].name);
	/* not recorded yet: the name it would get now */
	for (int k = 1; !name; k++) {
		name = repo_path_suffix(repo, k);
		if (!name) {
			name = xstrdup(repo);
			break;
		}
		if (name_taken(name)) {
			free(name);
			name = NULL;
		}
	}
	pthread_mutex_unlock(&name_book_lock);
	return name;
}

void repo_name_add(struct sbuf *sb, const char *repo)
{
	char *name = repo_short_name(repo);

	sbuf_add_display(sb, name, strlen(name));
	free(name);
}

const char *ref_short_name(const char *ref)
{
	if (!strncmp(ref, "refs/heads/", 11))
		return ref + 11;
	if (!strncmp(ref, "refs/tags/", 10))
		return ref + 10;
	return ref;
}

/* Is stderr the journal's stream (systemd sets JOURNAL_STREAM to its
 * device and inode)? Then lines carry a level and no time. */
static int log_to_journal(void)
{
	static int known = -1;
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (known < 0)
		known = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 &&
		    fstat(2, &st) == 0 && st.st_dev == (dev_t)dev &&
		    st.st_ino == (ino_t)ino;
	return known;
}

void log_line(const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;
	size_t start;

	if (log_to_journal()) {
		sbuf_adds(&sb, "<6>");
	} else {
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S",
		    localtime_r(&t, &tm));
		sbuf_addf(&sb, "%s ", ts);
	}
	sbuf_addf(&sb, "runner[%d]: ", (int)getpid());
	start = sb.len;
	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	/* the level is the message's own word: "warning: ...", "error: ..." */
	if (sb.buf[0] == '<' && !strncmp(sb.buf + start, "warning:", 8))
		sb.buf[1] = '4';
	else if (sb.buf[0] == '<' && (!strncmp(sb.buf + start, "error:", 6) ||
	    !strncmp(sb.buf + start, "cannot ", 7)))
		sb.buf[1] = '3';
	sbuf_addch(&sb, '\n');
	write_all(2, sb.buf, sb.len);
	sbuf_release(&sb);
}

int log_reopen(const char *path)
{
	int fd;

	if (!path && !(path = getenv("RUNNER_LOG_FILE")))
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return error_set(-1, "cannot open log file '%s': %s", path,
		    strerror(errno));
	if (dup2(fd, 2) < 0) {
		close(fd);
		return error_set(-1, "cannot log to '%s': %s", path,
		    strerror(errno));
	}
	close(fd);
	return 0;
}

