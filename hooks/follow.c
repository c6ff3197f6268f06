/*
 * The lines a push is told about its jobs (follow.h). The jobs are read
 * from the store every FOLLOW_POLL_MS; what a line says comes from the
 * job's record only, so that the hook of the runner's own user and the
 * daemon answering another user's hook say the same.
 */
#include "follow.h"
#include "chunks.h"
#include "jobs.h"
#include "store.h"
#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How much of a log's end is read for its last lines, and how long one
 * of those lines may be. */
#define TAIL_BYTES (64 * 1024)
#define TAIL_LINE_MAX 400
#define MAX_STAGES 256

static int say(struct say *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int say(struct say *s, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	rc = s->line(s, sb.buf);
	sbuf_release(&sb);
	return rc;
}

/* A job's page: base_url without its trailing slashes, /job/ID. */
static char *job_url(const char *base_url, int64_t id)
{
	size_t n;

	if (!base_url || !*base_url)
		return NULL;
	n = strlen(base_url);
	while (n > 1 && base_url[n - 1] == '/')
		n--;
	return xasprintf("%.*s/job/%lld", (int)n, base_url, (long long)id);
}

void follow_say_queued(struct say *s, int64_t id, int duplicate,
    const char *ref, const char *commit, const char *env,
    const char *base_url)
{
	int tag = !strncmp(ref, "refs/tags/", 10);
	char *url = job_url(base_url, id);
	struct sbuf name = SBUF_INIT;
	const char *shown = ref + (tag ? 10 : !strncmp(ref, "refs/heads/", 11) ?
	    11 : 0);

	sbuf_add_display(&name, shown, strlen(shown));
	say(s, "runner: %s %s #%lld for %s %.7s%s%s%s%s%s", duplicate ?
	    "already queued" : "queued", tag ? "release" : "job",
	    (long long)id, name.buf, commit, tag && env ? " (" : "",
	    tag && env ? env : "", tag && env ? ")" : "", url ? ": " : "",
	    url ? url : "");
	sbuf_release(&name);
	free(url);
}

/* Text for a terminal: escape sequences (colours) dropped, other control
 * characters shown escaped, at most TAIL_LINE_MAX bytes. */
static void add_plain(struct sbuf *out, const char *p, size_t n)
{
	struct sbuf raw = SBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\x1b' && i + 1 < n && p[i + 1] == '[') {
			i += 2;
			while (i < n && !(p[i] >= 0x40 && p[i] <= 0x7e))
				i++;
			continue;
		}
		if (p[i] == '\r')
			continue;
		sbuf_addch(&raw, p[i]);
	}
	if (raw.len > TAIL_LINE_MAX) {
		sbuf_truncate(&raw, TAIL_LINE_MAX);
		sbuf_adds(&raw, "...");
	}
	sbuf_add_display(out, raw.buf, raw.len);
	sbuf_release(&raw);
}

/* The end of stage `r`'s log: its file, or what a host that shares only
 * the store sent through it. */
static void log_end(struct store *st, const struct job *j,
    const struct stage_rec *r, struct sbuf *out)
{
	int fd = r->log_path ? open(r->log_path, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC) : -1;
	struct stat sb;

	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		off_t from = sb.st_size > TAIL_BYTES ? sb.st_size - TAIL_BYTES : 0;
		sbuf_grow(out, TAIL_BYTES);
		ssize_t n = pread(fd, out->buf, TAIL_BYTES, from);
		if (n > 0) {
			out->len = (size_t)n;
			out->buf[n] = '\0';
		}
	} else if (!store_is_sqlite(st)) {
		int next = 0;
		store_log_read(st, j->id, r->idx, 0, out, &next);
		if (out->len > TAIL_BYTES) {
			memmove(out->buf, out->buf + out->len - TAIL_BYTES,
			    TAIL_BYTES);
			sbuf_truncate(out, TAIL_BYTES);
		}
	}
	if (fd >= 0)
		close(fd);
}

static int failed_step(enum step_state s)
{
	return s == STEP_FAILED || s == STEP_TIMED_OUT ||
	    s == STEP_INTERRUPTED || s == STEP_CANCELED;
}

/*
 * A job that ended without success: the last lines of its failing
 * stage's log, then one line that stands out with the state, the stage
 * and the job's page.
 */
static int say_failure(struct store *st, const struct job *j,
    const char *base_url, struct say *s)
{
	const struct stage_rec *r = NULL;
	struct sbuf line = SBUF_INIT, log = SBUF_INIT, what = SBUF_INIT;
	char *url = job_url(base_url, j->id);
	int rc = 0;

	for (size_t k = 0; k < j->nstages && !r; k++)
		if (failed_step(j->stages[k].state))
			r = &j->stages[k];
	if (r) {
		log_end(st, j, r, &log);
		/* the last lines, the last one not ended by a newline too */
		size_t end = log.len, at = end, lines = 0;
		while (end && log.buf[end - 1] == '\n')
			end--;
		at = end;
		while (at > 0 && lines < FOLLOW_EXCERPT_LINES) {
			at--;
			if (log.buf[at] == '\n' && ++lines == FOLLOW_EXCERPT_LINES) {
				at++;
				break;
			}
		}
		if (end) {
			rc = say(s, "runner: the last lines of the log of %s '%s' "
			    "(job #%lld):", j->kind == KIND_DEPLOY ? "step" : "stage",
			    r->name, (long long)j->id);
			for (size_t p = at; p < end && rc == 0; ) {
				const char *nl = memchr(log.buf + p, '\n', end - p);
				size_t ll = nl ? (size_t)(nl - log.buf) - p : end - p;
				sbuf_reset(&line);
				add_plain(&line, log.buf + p, ll);
				rc = say(s, "runner: | %s", line.buf);
				p += ll + 1;
			}
		}
		sbuf_addf(&what, ", %s '%s' %s", j->kind == KIND_DEPLOY ? "step" :
		    "stage", r->name, step_state_name(r->state));
		if (r->exit_code > 0)
			sbuf_addf(&what, " (exit code %d)", r->exit_code);
	} else if (j->error) {
		sbuf_adds(&what, ": ");
		add_plain(&what, j->error, strlen(j->error));
	}
	/* upper case stands out among git's lines */
	sbuf_reset(&line);
	for (const char *p = job_state_name(j->state); *p; p++)
		sbuf_addch(&line, *p == '_' ? ' ' : *p >= 'a' && *p <= 'z' ?
		    (char)(*p - 'a' + 'A') : *p);
	if (rc == 0)
		rc = say(s, "runner: ==== %s: %s #%lld%s%s%s ====", line.buf,
		    j->kind == KIND_DEPLOY ? "deployment" : "job", (long long)j->id,
		    j->kind == KIND_DEPLOY && j->env ? " to " : "",
		    j->kind == KIND_DEPLOY && j->env ? j->env : "", what.buf);
	if (rc == 0 && url)
		rc = say(s, "runner: see %s", url);
	sbuf_release(&line);
	sbuf_release(&log);
	sbuf_release(&what);
	free(url);
	return rc;
}

struct followed {
	int64_t id;
	int done;
	signed char seen[MAX_STAGES];	/* last state said, -1 none */
};

static void add_followed(struct followed **v, size_t *n, int64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].id == id)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].id = id;
	memset((*v)[*n].seen, -1, sizeof((*v)[*n].seen));
	(*n)++;
}

static int succeeded(enum job_state s)
{
	return s == JOB_PASSED || s == JOB_HEALTHY || s == JOB_SUPERSEDED;
}

/* Say what changed in job (*all)[i]: 1 when it has ended, 0 not yet, -1
 * when the reader is gone. (The array may grow: what a passed build
 * deployed is added to it.) */
static int follow_one(struct store *st, struct followed **all, size_t *n,
    size_t i, const char *base_url, struct say *s)
{
	struct followed *f = &(*all)[i];
	struct job *j = NULL;
	struct sbuf sb = SBUF_INIT, err = SBUF_INIT;
	int ended = 0;

	if (store_job_get(st, f->id, &j) < 0)
		return 0;	/* locked for a moment: next time */
	for (size_t k = 0; k < j->nstages && k < MAX_STAGES && ended >= 0;
	    k++) {
		const struct stage_rec *r = &j->stages[k];
		if (r->state == STEP_PENDING || (int)r->state == f->seen[k])
			continue;
		f->seen[k] = (signed char)r->state;
		sbuf_reset(&sb);
		if (r->state == STEP_RUNNING) {
			if (say(s, "runner: #%lld %s started", (long long)j->id,
			    r->name) < 0)
				ended = -1;
			continue;
		}
		if (r->started_ms && r->finished_ms) {
			sbuf_adds(&sb, " in ");
			format_duration(&sb, r->finished_ms - r->started_ms);
		}
		if (r->exit_code > 0)
			sbuf_addf(&sb, " (exit code %d)", r->exit_code);
		if (say(s, "runner: #%lld %s %s%s", (long long)j->id, r->name,
		    step_state_name(r->state), sb.buf) < 0)
			ended = -1;
	}
	if (ended == 0 && job_state_final(j->state)) {
		/* the end told is on disk (a worker's is synced behind it:
		 * store_sync_behind) */
		if (store_sync_now(st) < 0) {
			say(s, "runner: the end of #%lld cannot be told: %s",
			    (long long)j->id, error_last());
			ended = -1;
		}
	}
	if (ended == 0 && job_state_final(j->state)) {
		sbuf_reset(&sb);
		if (j->started_ms && j->finished_ms)
			format_duration(&sb, j->finished_ms - j->started_ms);
		if (j->error)
			add_plain(&err, j->error, strlen(j->error));
		if (say(s, "runner: %s #%lld%s%s %s%s%s%s%s", j->kind ==
		    KIND_DEPLOY ? "deployment" : "job", (long long)j->id,
		    j->kind == KIND_DEPLOY ? " to " : "", j->kind == KIND_DEPLOY &&
		    j->env ? j->env : "", job_state_name(j->state), sb.len ?
		    " in " : "", sb.buf, err.len ? ": " : "", err.buf) < 0)
			ended = -1;
		else if (!succeeded(j->state) &&
		    say_failure(st, j, base_url, s) < 0)
			ended = -1;
		else
			ended = 1;
		/* a passed build's deployments: followed too */
		if (ended > 0 && j->kind == KIND_BUILD &&
		    j->state == JOB_PASSED) {
			struct job **v = NULL;
			size_t nv = 0;
			/* f is not used after this: the array may move */
			if (store_jobs_of_commit(st, j->repo, j->commit, &v, &nv) == 0)
				for (size_t k = 0; k < nv; k++)
					if (v[k]->kind == KIND_DEPLOY &&
					    v[k]->source_job == j->id)
						add_followed(all, n, v[k]->id);
			jobs_free(v, nv);
		}
	}
	sbuf_release(&sb);
	sbuf_release(&err);
	job_free(j);
	return ended;
}

int follow_jobs(struct store *st, const int64_t *ids, size_t nids,
    int64_t timeout_ms, const char *base_url, int own, struct say *s)
{
	struct followed *v = NULL;
	size_t n = 0, left;
	int64_t end = mono_ms() + timeout_ms;
	int rc = 0;

	for (size_t i = 0; i < nids; i++)
		add_followed(&v, &n, ids[i]);
	if (say(s, "runner: waiting for the job%s (ci.wait; Ctrl-C stops the "
	    "waiting, not the job)", nids == 1 ? "" : "s") < 0) {
		free(v);
		return -1;
	}
	for (;;) {
		left = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (!v[i].done) {
				int ended = follow_one(st, &v, &n, i, base_url, s);
				if (ended < 0)
					rc = -1;
				v[i].done = ended > 0;
			}
			left += !v[i].done;
		}
		if (rc < 0 || !left)
			break;
		if (s->gone && s->gone(s)) {
			rc = -1;
			break;
		}
		if (mono_ms() >= end) {
			struct sbuf sb = SBUF_INIT;
			char *url = NULL;
			for (size_t i = 0; i < n && !url; i++)
				if (!v[i].done)
					url = job_url(base_url, v[i].id);
			format_duration(&sb, timeout_ms);
			say(s, "runner: stopped waiting after %s (runner.yml "
			    "wait_timeout); the jobs go on%s%s", sb.buf, url ? ": " :
			    own ? ": 'runner status'" : "", url ? url : "");
			sbuf_release(&sb);
			free(url);
			rc = 1;
			break;
		}
		poll(NULL, 0, FOLLOW_POLL_MS);
	}
	free(v);
	return rc;
}
