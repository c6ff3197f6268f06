/*
 * What failed, at a glance (page.h): on a failed job's page, the failing
 * stage's last lines with their colours, and the failing check of a
 * deployment with its status, latency and the start of the body it got;
 * on an environment's page, the deployments refused before anything was
 * deployed, with their reasons. A log is read from its end only (a log
 * may be 64 MiB and more); one a build host sent through the store is
 * read from its last chunks.
 */
#include "page.h"
#include "web_int.h"
#include "chunks.h"
#include "envs.h"
#include "jobs.h"
#include "state.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How much of a log's end is read at first, and at most, for its last
 * lines: a window that grows by 4 until it holds them. */
#define TAIL_FIRST (8 * 1024)
#define TAIL_MAX (1024 * 1024)
/* Lines the runner may add at the end of a log, read beyond the
 * excerpt's and left out of it. */
#define RUNNER_NOTES 3
/* An environment's page lists its last refused deployments. */
#define REJECTED_SHOWN 20

/* Where the last `lines` lines of `buf` start; *whole: `buf` is the
 * whole log (else a line cut at its start is left out). */
static size_t last_lines(const char *buf, size_t len, int lines, int whole,
    int *found)
{
	size_t end = len;

	*found = 0;
	if (end && buf[end - 1] == '\n')
		end--;		/* the last line's own end */
	for (size_t i = end; i > 0; i--)
		if (buf[i - 1] == '\n' && ++*found == lines)
			return i;
	if (whole || !len)
		return 0;
	/* the window starts in a line: from the next one */
	const char *nl = memchr(buf, '\n', end);
	return nl ? (size_t)(nl - buf) + 1 : 0;
}

/* The last `lines` lines of the log file `path`, read from its end. */
static int file_last_lines(const char *path, int lines, struct sbuf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	size_t want = TAIL_FIRST;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	for (;;) {
		size_t size = (size_t)st.st_size, len = size < want ? size : want;
		ssize_t n;
		int found;
		buf = xrealloc(buf, len + 1);
		if ((n = pread(fd, buf, len, (off_t)(size - len))) < 0)
			break;
		len = (size_t)n;
		size_t at = last_lines(buf, len, lines, len >= size, &found);
		if (found >= lines || len >= size || want >= TAIL_MAX) {
			sbuf_add(out, buf + at, len - at);
			break;
		}
		want *= 4;
	}
	free(buf);
	close(fd);
	return 0;
}

/* The last `lines` lines of a log its host sent through the store. */
static int sent_last_lines(struct store *st, const struct job *j,
    const struct stage_rec *s, int lines, struct sbuf *out)
{
	struct sbuf text = SBUF_INIT;
	int found;

	if (!st || store_log_tail(st, j->id, s->idx, TAIL_MAX, &text) <= 0) {
		sbuf_release(&text);
		error_clear();
		return -1;
	}
	/* cut to TAIL_MAX: its first line may be cut too */
	size_t at = last_lines(text.buf, text.len, lines, text.len < TAIL_MAX,
	    &found);
	sbuf_add(out, text.buf + at, text.len - at);
	sbuf_release(&text);
	return 0;
}

int page_log_last_lines(struct store *st, const struct job *j,
    const struct stage_rec *s, int lines, struct sbuf *out)
{
	if (s->log_path && access(s->log_path, F_OK) == 0)
		return file_last_lines(s->log_path, lines, out);
	return sent_last_lines(st, j, s, lines, out);
}

/* What the stage wrote, without the lines the runner adds at the end
 * ("[runner: stage 'x' failed with exit code 3]": the page says it
 * above), and its last `lines` lines of that. */
static void output_only(struct sbuf *text, int lines)
{
	int found;

	for (;;) {
		size_t end = text->len;
		if (end && text->buf[end - 1] == '\n')
			end--;
		const char *nl = memrchr(text->buf, '\n', end);
		size_t at = nl ? (size_t)(nl - text->buf) + 1 : 0;
		if (end == 0 || strncmp(text->buf + at, "[runner: ", 9))
			break;
		sbuf_truncate(text, at);
	}
	size_t at = last_lines(text->buf, text->len, lines, 1, &found);
	memmove(text->buf, text->buf + at, text->len - at);
	sbuf_truncate(text, text->len - at);
}

/* The stage that failed: the first that ended badly. */
static const struct stage_rec *failed_stage(const struct job *j)
{
	for (size_t i = 0; i < j->nstages; i++)
		if (j->stages[i].state == STEP_FAILED ||
		    j->stages[i].state == STEP_TIMED_OUT)
			return &j->stages[i];
	return NULL;
}

static void failed_check(struct sbuf *sb, const struct job *j)
{
	const struct check_rec *c = NULL;

	for (size_t i = 0; i < j->nchecks && !c; i++)
		if (!j->checks[i].ok)
			c = &j->checks[i];
	if (!c)
		return;
	sbuf_adds(sb, "<div id=failed-check><p>check <code>");
	html(sb, c->name);
	sbuf_adds(sb, "</code> failed: ");
	if (c->status)
		sbuf_addf(sb, "status <b class=status>%d</b>, ", c->status);
	else
		sbuf_adds(sb, "no response, ");
	sbuf_addf(sb, "latency <b class=latency>%lldms</b>",
	    (long long)c->latency_ms);
	if (c->error) {
		sbuf_adds(sb, "<br><span class='state failed'>");
		html(sb, c->error);
		sbuf_adds(sb, "</span>");
	}
	sbuf_adds(sb, "</p>");
	if (c->body && *c->body) {
		sbuf_adds(sb, "<p class=note>the start of the body it got:</p>"
		    "<pre class=body>");
		html(sb, c->body);
		sbuf_adds(sb, "</pre>");
	}
	sbuf_adds(sb, "</div>");
}

void page_job_failed(struct sbuf *sb, struct store *st, const struct job *j)
{
	const struct stage_rec *s;
	struct sbuf text = SBUF_INIT;
	struct ansi a = ANSI_INIT;

	if (j->state != JOB_FAILED && j->state != JOB_ROLLED_BACK &&
	    j->state != JOB_ERROR)
		return;
	s = failed_stage(j);
	if (!s && !j->nchecks)
		return;
	sbuf_adds(sb, "<section id=failed><h2>What failed</h2>");
	if (j->kind == KIND_DEPLOY)
		failed_check(sb, j);
	if (s && page_log_last_lines(st, j, s, EXCERPT_LINES + RUNNER_NOTES,
	    &text) == 0) {
		output_only(&text, EXCERPT_LINES);
		sbuf_addf(sb, "<p>%s <a href='/job/%lld/log/%d'>",
		    j->kind == KIND_DEPLOY ? "step" : "stage", (long long)j->id,
		    s->idx);
		html(sb, s->name);
		sbuf_addf(sb, "</a>, %s", step_state_name(s->state));
		if (s->exit_code >= 0)
			sbuf_addf(sb, " with exit code %d", s->exit_code);
		sbuf_addf(sb, ": its last %d lines</p><pre class=log "
		    "id=failed-log>", EXCERPT_LINES);
		ansi_html(&a, text.buf, text.len, sb);
		if (a.bold || a.fg >= 0)
			sbuf_adds(sb, "</span>");
		sbuf_adds(sb, "</pre>");
	}
	sbuf_adds(sb, "</section>");
	sbuf_release(&text);
}

/* The refused deployments `v`, as a table. */
static void rejected_table(struct sbuf *sb, struct job *const *v, size_t n)
{
	sbuf_adds(sb, "<h2>Rejected</h2>");
	if (!n) {
		sbuf_adds(sb, "<p class=note>none</p>");
		return;
	}
	sbuf_adds(sb, "<table id=rejected><tr><th>deployment</th><th>tag or "
	    "branch</th><th>commit</th><th>pushed by</th><th>when</th><th>why"
	    "</th></tr>");
	for (size_t i = 0; i < n; i++) {
		const struct job *j = v[i];
		sbuf_adds(sb, "<tr class=refused><td>");
		job_link(sb, j->id);
		sbuf_adds(sb, "</td><td>");
		html(sb, j->tag ? j->tag : ref_short_name(j->ref));
		sbuf_addf(sb, "</td><td><code>%.7s</code></td><td>", j->commit);
		html(sb, j->pushed_by ? j->pushed_by : j->requested_by ?
		    j->requested_by : "");
		sbuf_adds(sb, "</td><td>");
		when(sb, j->finished_ms ? j->finished_ms : j->created_ms);
		sbuf_adds(sb, "</td><td class=why>");
		html(sb, j->error ? j->error : "");
		sbuf_adds(sb, "</td></tr>");
	}
	sbuf_adds(sb, "</table>");
}

void page_env_rejected(struct sbuf *sb, struct store *st,
    const struct env_rec *e)
{
	struct job **v = NULL;
	size_t n = 0;

	if (store_rejected(st, e->repo, e->name, REJECTED_SHOWN, &v, &n) < 0)
		error_clear();
	rejected_table(sb, v, n);
	jobs_free(v, n);
}

int page_env_refused(struct sbuf *sb, struct store *st, const char *repo,
    const char *env)
{
	struct job **v = NULL;
	size_t n = 0;
	char *name = repo_short_name(repo), *title;

	if (store_rejected(st, repo, env, REJECTED_SHOWN, &v, &n) < 0 || !n) {
		free(name);
		error_clear();
		return ERR_NOTFOUND;
	}
	title = xasprintf("%s %s", name, env);
	page_begin(sb, title);
	sbuf_adds(sb, "<h1>Environment ");
	html(sb, env);
	sbuf_adds(sb, " <span id=env-state class='state none'>nothing "
	    "deployed</span></h1><p>of ");
	repo_link(sb, repo);
	sbuf_adds(sb, ": every deployment so far was refused.</p>");
	page_approvals_waiting(sb, st, repo, env);
	rejected_table(sb, v, n);
	page_end(sb);
	jobs_free(v, n);
	free(title);
	free(name);
	return 0;
}
