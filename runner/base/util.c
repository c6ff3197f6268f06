/*
 * The shared helpers: error slot, allocation, sbuf, clocks, durations,
 * names and the log. The filesystem operations several modules need are
 * files.c's.
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

void hex_encode(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int utf8_reorders(unsigned cp)
{
	return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a &&
	    cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff ||
	    cp == 0x061c;
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
		if (utf8_reorders(cp))
			sbuf_addf(sb, "\\u{%04x}", cp);
		else
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
