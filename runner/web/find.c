/*
 * Finding things on the web page (find.h): a history page's query read
 * and checked, links that keep its filters, the form that sets them and
 * the links to older jobs. The query is the visitor's: every value is
 * bounded and checked before the store sees it, and escaped wherever the
 * page shows it again (chart_esc: XML's entities, which are HTML's).
 */
#include "find.h"
#include "web_int.h"
#include "jobs.h"
#include "chart.h"
#include "repos.h"
#include "state.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* A branch's or person's name at most; git allows longer refs, which no
 * page links to. */
#define FIND_MAX 255

/* A query parameter escaped for a URL (find.h). */
void url_param(struct sbuf *sb, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~/", c)) {
			sbuf_addch(sb, (char)c);
		} else {
			sbuf_addch(sb, '%');
			sbuf_addch(sb, hex[c >> 4]);
			sbuf_addch(sb, hex[c & 15]);
		}
	}
}

static const char *const page_path[] = {
	[FIND_OVERVIEW] = "/", [FIND_REPO] = "/repo", [FIND_BRANCH] = "/branch",
};

struct keys {
	const struct find *f;
	char *bad;		/* the first key the page does not take */
};

static enum MHD_Result key_known(void *cls, enum MHD_ValueKind kind,
    const char *key, const char *value)
{
	static const char *const known[] = { "r", "b", "s", "p", "before" };
	struct keys *k = cls;

	(void)kind;
	(void)value;
	for (size_t i = 0; i < sizeof(known) / sizeof(*known); i++)
		if (!strcmp(key, known[i]))
			return MHD_YES;
	if (!k->bad)
		k->bad = xstrdup(key);
	return MHD_YES;
}

/* An empty value is none: a form sends its empty fields. */
static const char *given(struct MHD_Connection *c, const char *key)
{
	const char *v = web_arg(c, key);
	return v && *v ? v : NULL;
}

/* Printable, not too long: what a name of a branch or person can be. */
static int plain(const char *v)
{
	size_t n = strlen(v);

	if (n > FIND_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

/* git's rules for a branch name, as far as a page needs them. */
static int branch_name(const char *b)
{
	if (!plain(b) || strpbrk(b, " ~^:?*[\\") || strstr(b, "..") ||
	    strstr(b, "@{") || *b == '/' || *b == '-' ||
	    b[strlen(b) - 1] == '/' || b[strlen(b) - 1] == '.')
		return 0;
	return 1;
}

static int states_list(struct sbuf *sb)
{
	for (int i = 0; i < JOB_STATES; i++)
		sbuf_addf(sb, "%s%s", i ? ", " : "",
		    job_state_name((enum job_state)i));
	return 0;
}

int find_parse(struct MHD_Connection *c, struct store *st,
    enum find_page page, struct find *f)
{
	struct keys k = { f, NULL };
	const char *before;

	memset(f, 0, sizeof(*f));
	f->page = page;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, key_known, &k);
	if (k.bad) {
		int e = error_set(ERR_INVALID, "unknown query parameter '%.64s' "
		    "(this page takes r, b, s, p and before)", k.bad);
		free(k.bad);
		return e;
	}
	f->r = given(c, "r");
	f->b = given(c, "b");
	f->s = given(c, "s");
	f->p = given(c, "p");
	if (page != FIND_OVERVIEW && !f->r)
		return error_set(ERR_NOTFOUND, "no such repository: give its "
		    "name as 'r'");
	if (page == FIND_BRANCH && !f->b)
		return error_set(ERR_NOTFOUND, "no such branch: give its name "
		    "as 'b'");
	if (f->r && !(f->repo = web_find_repo(st, f->r)))
		return error_set(page == FIND_OVERVIEW ? ERR_INVALID :
		    ERR_NOTFOUND, "no repository '%.*s' ('r')", FIND_MAX, f->r);
	if (f->b) {
		if (!strncmp(f->b, "refs/", 5) && branch_name(f->b + 5))
			f->ref = xstrdup(f->b);
		else if (branch_name(f->b))
			f->ref = xasprintf("refs/heads/%s", f->b);
		else
			return error_set(ERR_INVALID, "'b' is not a branch name "
			    "(no spaces, control characters, '..' or any of "
			    "~^:?*[\\, at most %d bytes)", FIND_MAX);
	}
	if (f->s && job_state_parse(f->s) < 0) {
		struct sbuf sb = SBUF_INIT;
		int e;
		states_list(&sb);
		e = error_set(ERR_INVALID, "unknown state '%.32s' in 's' (one "
		    "of %s)", f->s, sb.buf);
		sbuf_release(&sb);
		return e;
	}
	if (f->p && !plain(f->p))
		return error_set(ERR_INVALID, "'p' is not a person's name (no "
		    "control characters, at most %d bytes)", FIND_MAX);
	if ((before = given(c, "before"))) {
		f->before = web_number(before);
		if (f->before <= 0 || f->before >= INT64_MAX / 2)
			return error_set(ERR_INVALID, "'before' must be a job "
			    "number, like before=120, not '%.32s'", before);
	}
	return 0;
}

void find_release(struct find *f)
{
	free(f->repo);
	free(f->ref);
	memset(f, 0, sizeof(*f));
}

void find_query(const struct find *f, struct job_query *q)
{
	memset(q, 0, sizeof(*q));
	q->repo = f->repo;
	q->ref = f->ref;
	q->state = f->s;
	q->pushed_by = f->p;
	q->before = f->before;
}

int find_match(const struct find *f, const struct job *j)
{
	return (!f->repo || !strcmp(f->repo, j->repo)) &&
	    (!f->ref || !strcmp(f->ref, j->ref)) &&
	    (!f->s || !strcmp(f->s, job_state_name(j->state))) &&
	    (!f->p || (j->pushed_by && !strcmp(f->p, j->pushed_by)));
}

int find_any(const struct find *f)
{
	return f->s || f->p || (f->page == FIND_OVERVIEW && (f->r || f->b)) ||
	    (f->page == FIND_REPO && f->b);
}

void find_url(struct sbuf *sb, const struct find *f, int64_t before)
{
	const char *keys[] = { "r", "b", "s", "p" };
	const char *vals[] = { f->r, f->b, f->s, f->p };
	int first = 1;

	sbuf_adds(sb, page_path[f->page]);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		struct sbuf u = SBUF_INIT;
		if (!vals[i])
			continue;
		sbuf_addf(sb, "%s%s=", first ? "?" : "&amp;", keys[i]);
		url_param(&u, vals[i]);
		chart_esc(sb, u.buf);
		sbuf_release(&u);
		first = 0;
	}
	if (before > 0)
		sbuf_addf(sb, "%sbefore=%lld", first ? "?" : "&amp;",
		    (long long)before);
}

static void option(struct sbuf *sb, const char *value, const char *label,
    const char *chosen)
{
	sbuf_adds(sb, "<option value='");
	chart_esc(sb, value);
	sbuf_addf(sb, "'%s>", chosen && !strcmp(chosen, value) ?
	    " selected" : "");
	chart_esc(sb, label);
	sbuf_adds(sb, "</option>");
}

void find_form(struct sbuf *sb, struct store *st, const struct find *f)
{
	sbuf_adds(sb, "<form class=find role=search method=get action='");
	sbuf_adds(sb, page_path[f->page]);
	sbuf_adds(sb, "'>");
	if (f->page == FIND_OVERVIEW) {
		struct repo_name *v = NULL;
		size_t n = 0;
		if (store_repo_names(st, &v, &n) < 0)
			error_clear();
		sbuf_adds(sb, "<label>repository <select name=r>");
		option(sb, "", "any", NULL);
		for (size_t i = 0; i < n; i++)
			option(sb, v[i].name, v[i].name, f->r);
		sbuf_adds(sb, "</select></label>");
		repo_names_free(v, n);
	} else {
		sbuf_adds(sb, "<input type=hidden name=r value='");
		chart_esc(sb, f->r);
		sbuf_adds(sb, "'>");
	}
	if (f->page == FIND_BRANCH) {
		sbuf_adds(sb, "<input type=hidden name=b value='");
		chart_esc(sb, f->b);
		sbuf_adds(sb, "'>");
	} else {
		sbuf_adds(sb, "<label>branch <input name=b size=12 value='");
		chart_esc(sb, f->b ? f->b : "");
		sbuf_adds(sb, "'></label>");
	}
	sbuf_adds(sb, "<label>state <select name=s>");
	option(sb, "", "any", NULL);
	for (int i = 0; i < JOB_STATES; i++)
		option(sb, job_state_name((enum job_state)i),
		    job_state_name((enum job_state)i), f->s);
	sbuf_adds(sb, "</select></label><label>pushed by <input name=p size=10 "
	    "value='");
	chart_esc(sb, f->p ? f->p : "");
	sbuf_adds(sb, "'></label><button>filter</button>");
	if (find_any(f)) {
		struct find all = *f;
		all.s = all.p = NULL;
		if (f->page == FIND_OVERVIEW)
			all.r = all.b = NULL;
		if (f->page == FIND_REPO)
			all.b = NULL;
		sbuf_adds(sb, " <a href='");
		find_url(sb, &all, 0);
		sbuf_adds(sb, "'>all</a>");
	}
	sbuf_adds(sb, "</form>");
}

void find_pager(struct sbuf *sb, const struct find *f, struct job *const *v,
    size_t n, int limit)
{
	int older = n && (int)n == limit, newer = f->before > 0;

	if (!older && !newer)
		return;
	sbuf_adds(sb, "<nav class=pager aria-label='pages of history'>");
	if (newer) {
		sbuf_adds(sb, "<a href='");
		find_url(sb, f, 0);
		sbuf_adds(sb, "'>newest</a> ");
	}
	if (older) {
		sbuf_adds(sb, "<a rel=next href='");
		find_url(sb, f, v[n - 1]->id);
		sbuf_adds(sb, "'>older</a>");
	}
	sbuf_adds(sb, "</nav>");
}
