/*
 * The globs of artifact paths (artifact.h): each written as fnmatch(3)
 * reads it, with ** across folders, compiled to a pcre2 pattern and
 * matched against one path with bounded backtracking.
 */
#include "artifact.h"
#include "util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* A glob is matched against one path of at most PATH_MAX bytes; one
 * that backtracks past this many steps is an error naming it, as ref
 * patterns are (refmatch.c). */
#define GLOB_MATCH_LIMIT 100000
#define GLOB_DEPTH_LIMIT 1000

struct glob_set {
	pcre2_code **re;
	char **globs;		/* as written, for messages */
	size_t n;
	pcre2_match_data *md;
	pcre2_match_context *ctx;
};

/*
 * The ']' that ends the bracket expression opening at `p`, as fnmatch(3)
 * reads it: a ']' right after '[' or '[!' is a member, and so is what
 * stands inside a "[:class:]"; NULL if it never ends (then '[' is
 * literal).
 */
static const char *class_end(const char *p)
{
	const char *q = p + 1;

	if (*q == '!' || *q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q && *q != ']') {
		const char *e;
		if (q[0] == '[' && q[1] == ':' && (e = strstr(q + 2, ":]"))) {
			q = e + 2;
			continue;
		}
		q++;
	}
	return *q ? q : NULL;
}

/* A bracket expression as a pcre2 class; never matches '/', as with
 * FNM_PATHNAME. */
static void class_to_regex(const char *p, const char *end, struct sbuf *re)
{
	const char *q = p + 1;

	sbuf_addch(re, '[');
	if (*q == '!' || *q == '^') {
		sbuf_adds(re, "^/");
		q++;
	}
	if (*q == ']') {
		sbuf_adds(re, "\\]");
		q++;
	}
	while (q < end) {
		const char *e;
		if (q[0] == '[' && q[1] == ':' && (e = strstr(q + 2, ":]")) &&
		    e < end) {
			sbuf_add(re, q, (size_t)(e + 2 - q));
			q = e + 2;
			continue;
		}
		if (strchr("\\[]^", *q))
			sbuf_addch(re, '\\');
		sbuf_addch(re, *q++);
	}
	sbuf_addch(re, ']');
}

static void glob_to_regex(const char *g, struct sbuf *re)
{
	const char *end;

	sbuf_adds(re, "^");
	for (const char *p = g; *p; p++) {
		if (p[0] == '*' && p[1] == '*') {
			if (p[2] == '/') {
				sbuf_adds(re, "(?:.*/)?");
				p += 2;
			} else {
				sbuf_adds(re, ".*");
				p++;
			}
		} else if (*p == '*') {
			sbuf_adds(re, "[^/]*");
		} else if (*p == '?') {
			sbuf_adds(re, "[^/]");
		} else if (*p == '[' && (end = class_end(p))) {
			class_to_regex(p, end, re);
			p = end;
		} else {
			if (strchr("\\^$.|+(){}[]", *p))
				sbuf_addch(re, '\\');
			sbuf_addch(re, *p);
		}
	}
	sbuf_adds(re, "$");
}

int glob_set_compile(char *const *globs, size_t n, struct glob_set **out)
{
	struct glob_set *g = xcalloc(1, sizeof(*g));
	struct sbuf re = SBUF_INIT;

	g->re = xcalloc(n ? n : 1, sizeof(*g->re));
	g->globs = xcalloc(n ? n : 1, sizeof(*g->globs));
	for (size_t i = 0; i < n; i++) {
		int code;
		PCRE2_SIZE off;
		const char *glob = globs[i];

		while (glob[0] == '.' && glob[1] == '/')
			glob += 2;
		/* "dist/" names the directory "dist" */
		char *trimmed = xstrdup(glob);
		size_t tl = strlen(trimmed);
		while (tl > 1 && trimmed[tl - 1] == '/')
			trimmed[--tl] = '\0';
		sbuf_reset(&re);
		glob_to_regex(trimmed, &re);
		free(trimmed);
		/* names are bytes: '**' spans newlines, '$' is the very end */
		g->re[i] = pcre2_compile((PCRE2_SPTR)re.buf, re.len,
		    PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY, &code, &off, NULL);
		if (!g->re[i]) {
			sbuf_release(&re);
			glob_set_free(g);
			return error_set(ERR_INVALID, "bad glob '%s'", globs[i]);
		}
		g->globs[i] = xstrdup(globs[i]);
		g->n++;
	}
	g->md = pcre2_match_data_create(1, NULL);
	g->ctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(g->ctx, GLOB_MATCH_LIMIT);
	pcre2_set_depth_limit(g->ctx, GLOB_DEPTH_LIMIT);
	sbuf_release(&re);
	*out = g;
	return 0;
}

int glob_set_match(const struct glob_set *g, const char *path)
{
	size_t len = strlen(path);

	/* the path itself, then each parent directory */
	for (;;) {
		for (size_t i = 0; i < g->n; i++) {
			int rc = pcre2_match(g->re[i], (PCRE2_SPTR)path, len, 0, 0,
			    g->md, g->ctx);
			if (rc >= 0)
				return 1;
			if (rc == PCRE2_ERROR_MATCHLIMIT ||
			    rc == PCRE2_ERROR_DEPTHLIMIT)
				return error_set(ERR_INVALID, "glob '%s' hit its match "
				    "limit on '%.*s' (make it simpler: fewer '**')",
				    g->globs[i], (int)len, path);
		}
		while (len && path[len - 1] != '/')
			len--;
		if (!len)
			return 0;
		len--;
	}
}

void glob_set_free(struct glob_set *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		pcre2_code_free(g->re[i]);
		free(g->globs[i]);
	}
	free(g->re);
	free(g->globs);
	pcre2_match_data_free(g->md);
	pcre2_match_context_free(g->ctx);
	free(g);
}
