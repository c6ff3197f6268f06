/*
 * The post-receive path. It does the least work that makes a push durable:
 * parse, match, one INSERT transaction, one datagram. Everything else
 * (checkout, reading the pipeline) waits for the daemon.
 */
#include "hook.h"
#include "config.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

static int is_zero(const char *hex)
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

int hook_post_receive(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, FILE *msg)
{
	struct config *conf = NULL;
	struct store *store = NULL;
	struct push *pushes = NULL;
	struct enqueued *res = NULL;
	pcre2_code *re = NULL;
	pcre2_match_data *md = NULL;
	pcre2_match_context *mctx = NULL;
	size_t np = 0;
	const char *pattern;
	int error, code;
	PCRE2_SIZE off;

	if (config_load(home, &conf) < 0) {
		fprintf(msg, "runner: warning: %s (using the default trigger)\n",
		    error_last());
		conf = NULL;
		if (config_parse("defaults", "", 0, &conf) < 0)
			return -1;
	}
	pattern = config_branches(conf, repo);
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code,
	    &off, NULL);
	if (!re) {
		fprintf(msg, "runner: warning: bad branch pattern '%s'; nothing "
		    "queued\n", pattern);
		error = -1;
		goto out;
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(mctx, 100000);
	pcre2_set_depth_limit(mctx, 1000);

	pushes = xcalloc(n ? n : 1, sizeof(*pushes));
	for (size_t i = 0; i < n; i++) {
		const struct hook_update *u = &updates[i];
		const char *branch;

		if (is_zero(u->new) || strncmp(u->ref, "refs/heads/", 11))
			continue;
		branch = u->ref + 11;
		int rc = pcre2_match(re, (PCRE2_SPTR)branch, strlen(branch), 0, 0,
		    md, mctx);
		if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
			fprintf(msg, "runner: warning: branch pattern '%s' hit its "
			    "match limit on '%s'; not queued\n", pattern, branch);
			continue;
		}
		if (rc < 0)
			continue;
		pushes[np++] = (struct push){ repo, u->ref, u->old, u->new };
	}
	if (!np) {
		error = 0;
		goto out;
	}
	if ((error = store_open(home, STORE_OPEN, &store)) < 0) {
		fprintf(msg, "runner: warning: %s; nothing queued, the push "
		    "itself is fine\n", error_last());
		goto out;
	}
	res = xcalloc(np, sizeof(*res));
	if ((error = store_enqueue(store, pushes, np, res)) < 0) {
		fprintf(msg, "runner: warning: %s; nothing queued, the push "
		    "itself is fine\n", error_last());
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		fprintf(msg, "runner: %s job #%lld for %s %.7s\n",
		    res[i].duplicate ? "already queued" : "queued",
		    (long long)res[i].id, pushes[i].ref + 11, pushes[i].new);
	hook_wake(home, "wake");
	error = (int)np;
out:
	free(res);
	free(pushes);
	pcre2_match_context_free(mctx);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	store_close(store);
	config_free(conf);
	return error;
}
