/*
 * The post-receive path. It does the least work that makes a push durable:
 * parse, match, one INSERT transaction, one datagram. Everything else
 * (checkout, reading the pipeline) waits for the daemon.
 */
#include "hook.h"
#include "config.h"
#include "store.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int valid_ref(const char *r, size_t n)
{
	if (n < 6 || n > 1024 || strncmp(r, "refs/", 5))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r[i];
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' ||
		    c == ':' || c == '?' || c == '*' || c == '[' || c == '\\')
			return 0;
	}
	return !memmem(r, n, "..", 2);
}

void hook_parse(const char *buf, size_t len, struct hook_update **out,
    size_t *n, size_t *bad)
{
	struct hook_update *v = NULL;
	const char *p = buf, *end = buf + len;

	*n = *bad = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t ll = (size_t)(eol - p);
		const char *sp1 = memchr(p, ' ', ll);
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ',
		    (size_t)(eol - sp1 - 1)) : NULL;

		if (ll == 0) {
			p = eol + 1;
			continue;
		}
		size_t hl = sp1 ? (size_t)(sp1 - p) : 0;
		if (!sp2 || (hl != 40 && hl != 64) ||
		    (size_t)(sp2 - sp1 - 1) != hl || !is_hex(p, hl) ||
		    !is_hex(sp1 + 1, hl) || !valid_ref(sp2 + 1,
		    (size_t)(eol - sp2 - 1)) || *n >= HOOK_MAX_LINES) {
			(*bad)++;
			p = eol + 1;
			continue;
		}
		v = xrealloc(v, (*n + 1) * sizeof(*v));
		struct hook_update *u = &v[(*n)++];
		memcpy(u->old, p, hl);
		u->old[hl] = '\0';
		memcpy(u->new, sp1 + 1, hl);
		u->new[hl] = '\0';
		u->ref = xstrndup(sp2 + 1, (size_t)(eol - sp2 - 1));
		p = eol + 1;
	}
	*out = v;
}

void hook_updates_free(struct hook_update *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(u[i].ref);
	free(u);
}

int hook_zero_id(const char *hex)
{
	return strspn(hex, "0") == strlen(hex);
}

void hook_wake(const char *home, const char *what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", home,
	    SOCKET_FILE);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return;	/* the daemon could not have bound it either */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	sendto(fd, what, strlen(what), 0, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}

int ref_matcher_init(struct ref_matcher *m, const char *pattern, FILE *msg)
{
	int code;
	PCRE2_SIZE off;

	memset(m, 0, sizeof(*m));
	m->pattern = pattern;
	m->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
	    &code, &off, NULL);
	if (!m->re) {
		fprintf(msg, "runner: warning: bad pattern '%s'; nothing queued\n",
		    pattern);
		return -1;
	}
	m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
	m->ctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(m->ctx, 100000);
	pcre2_set_depth_limit(m->ctx, 1000);
	return 0;
}

int ref_matcher_match(struct ref_matcher *m, const char *name, FILE *msg)
{
	int rc = pcre2_match(m->re, (PCRE2_SPTR)name, strlen(name), 0, 0, m->md,
	    m->ctx);

	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT)
		fprintf(msg, "runner: warning: pattern '%s' hit its match limit "
		    "on '%s'; not queued\n", m->pattern, name);
	return rc >= 0;
}

void ref_matcher_release(struct ref_matcher *m)
{
	pcre2_match_context_free(m->ctx);
	pcre2_match_data_free(m->md);
	pcre2_code_free(m->re);
}

/*
 * One file per push: each push as six fields (repo, ref, old, new, env,
 * tag), each ended by a NUL, written to a temporary name, synced and
 * renamed, so the daemon never reads half of one.
 */
static int spool(const char *home, const struct push *p, size_t n)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR), *path;
	struct sbuf sb = SBUF_INIT;
	struct timespec ts;
	int error;

	struct stat st;
	if (stat(home, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(dir);	/* a home that is gone is not made again here */
		return error_set(ERR_NOTFOUND, "home '%s' does not exist", home);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	path = xasprintf("%s/%lld.%09ld.%d.push", dir, (long long)ts.tv_sec,
	    ts.tv_nsec, (int)getpid());
	for (size_t i = 0; i < n; i++) {
		const char *f[] = { p[i].repo, p[i].ref, p[i].old, p[i].new,
		    p[i].env ? p[i].env : "", p[i].tag ? p[i].tag : "" };
		for (int k = 0; k < 6; k++)
			sbuf_add(&sb, f[k], strlen(f[k]) + 1);
	}
	if ((error = mkdir_p(dir, 0755)) == 0 &&
	    (error = write_file_atomic(path, sb.buf, sb.len, 0644)) == 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {		/* the rename itself on disk too */
			fsync(fd);
			close(fd);
		}
	}
	sbuf_release(&sb);
	free(path);
	free(dir);
	return error;
}

/* Queue the pushes of one spool file, then remove it; adds the jobs it
 * queued to *total. The file stays if the store refuses. */
static int ingest_file(struct store *s, const char *path, int *total)
{
	struct sbuf buf = SBUF_INIT;
	struct push *p = NULL;
	struct enqueued *res = NULL;
	size_t n = 0, at = 0;
	int error = 0;

	if (read_file(path, HOOK_MAX_INPUT, &buf) == 0) {
		for (;;) {
			const char *f[6];
			int k;
			for (k = 0; k < 6 && at < buf.len; k++) {
				f[k] = buf.buf + at;
				at += strlen(f[k]) + 1;
			}
			if (k < 6)
				break;
			p = xrealloc(p, (n + 1) * sizeof(*p));
			p[n++] = (struct push){ f[0], f[1], f[2], f[3],
			    *f[4] ? f[4] : NULL, *f[5] ? f[5] : NULL };
		}
	}
	res = xcalloc(n ? n : 1, sizeof(*res));
	/* enqueueing twice is harmless: a push is queued once */
	if (n && (error = store_enqueue(s, p, n, res)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		*total += !res[i].duplicate;
	unlink(path);
out:
	free(res);
	free(p);
	sbuf_release(&buf);
	return error;
}

int hook_spool_ingest(const char *home, struct store *s)
{
	char *dir = xasprintf("%s/%s", home, SPOOL_DIR);
	DIR *d = opendir(dir);
	struct dirent *de;
	int total = 0, error = 0;

	while (error == 0 && d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".push") ||
		    de->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		error = ingest_file(s, path, &total);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return error < 0 ? error : total;
}

int hook_post_receive(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, FILE *msg)
{
	struct config *conf = NULL;
	struct store *store = NULL;
	struct push *pushes = NULL;
	struct enqueued *res = NULL;
	struct ref_matcher branches = { 0 }, tags = { 0 };
	const struct repo_conf *rc;
	size_t np = 0;
	int error;

	if (config_load(home, &conf) < 0) {
		fprintf(msg, "runner: warning: %s (using the default triggers)\n",
		    error_last());
		conf = NULL;
		if (config_parse("defaults", "", 0, &conf) < 0)
			return -1;
	}
	rc = config_repo(conf, repo);
	if (ref_matcher_init(&branches, rc->branches, msg) < 0 ||
	    ref_matcher_init(&tags, rc->release_tags, msg) < 0) {
		error = -1;
		goto out;
	}
	pushes = xcalloc(n ? n : 1, sizeof(*pushes));
	for (size_t i = 0; i < n; i++) {
		const struct hook_update *u = &updates[i];

		if (hook_zero_id(u->new))
			continue;
		if (!strncmp(u->ref, "refs/heads/", 11) &&
		    ref_matcher_match(&branches, u->ref + 11, msg))
			pushes[np++] = (struct push){ repo, u->ref, u->old, u->new,
			    NULL, NULL };
		else if (!strncmp(u->ref, "refs/tags/", 10) &&
		    ref_matcher_match(&tags, u->ref + 10, msg))
			pushes[np++] = (struct push){ repo, u->ref, u->old, u->new,
			    RELEASE_ENV, u->ref + 10 };
	}
	if (!np) {
		error = 0;
		goto out;
	}
	res = xcalloc(np, sizeof(*res));
	if ((error = store_open(home, STORE_ENQUEUE, &store)) == 0) {
		store_busy_timeout(store, HOOK_STORE_WAIT_MS);
		error = store_enqueue(store, pushes, np, res);
	}
	if (error < 0) {
		char *why = xstrdup(error_last());
		if (spool(home, pushes, np) == 0)
			fprintf(msg, "runner: warning: %s; the push is saved in "
			    "%s/%s and is queued when the daemon next starts or "
			    "wakes\n", why, home, SPOOL_DIR);
		else
			fprintf(msg, "runner: warning: %s; and %s; nothing queued, "
			    "the push itself is fine\n", why, error_last());
		free(why);
		hook_wake(home, "wake");
		goto out;
	}
	for (size_t i = 0; i < np; i++) {
		const char *what = pushes[i].tag ? "release" : "job";
		fprintf(msg, "runner: %s %s #%lld for %s %.7s%s\n",
		    res[i].duplicate ? "already queued" : "queued", what,
		    (long long)res[i].id, pushes[i].tag ? pushes[i].tag :
		    pushes[i].ref + 11, pushes[i].new, pushes[i].tag ?
		    " (" RELEASE_ENV ")" : "");
	}
	hook_wake(home, "wake");
	error = (int)np;
out:
	free(res);
	free(pushes);
	ref_matcher_release(&branches);
	ref_matcher_release(&tags);
	store_close(store);
	config_free(conf);
	return error;
}

void hook_read_input(struct sbuf *in, int *truncated)
{
	char chunk[65536];

	*truncated = 0;
	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (in->len + (size_t)n > HOOK_MAX_INPUT)
			*truncated = 1;	/* keep reading: git waits for us */
		else
			sbuf_add(in, chunk, (size_t)n);
	}
}

int hook_run_chained(const char *path, char **argv, const char *in,
    size_t len)
{
	int fds[2], status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return 0;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		fprintf(stderr, "runner: warning: cannot run '%s': %s\n", path,
		    strerror(errno));
		return 1;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		argv[0] = (char *)path;
		execv(path, argv);
		fprintf(stderr, "runner: cannot run '%s': %s\n", path,
		    strerror(errno));
		_exit(126);
	}
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	write_all(fds[1], in, len);
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
