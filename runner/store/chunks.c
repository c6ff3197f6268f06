/*
 * Logs and artifacts in the store, for hosts that share only it
 * (chunks.h).
 */
#include "chunks.h"
#include "store_int.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An artifact travels in pieces of this size: one statement each. */
#define ARTIFACT_CHUNK (1 << 20)
/* A log's end is read from at most this many of its last chunks. */
#define TAIL_CHUNKS 64

enum q {
	C_LOG_ADD = BASE_CHUNKS, C_LOG_GET, C_ART_ID, C_ART_ADD, C_ART_GET,
	C_LOG_DROP, C_ART_DROP, C_LOG_NOTE, C_LOG_LAST, C_END
};
_Static_assert((int)C_END <= (int)BASE_REPOS, "chunk statements overlap");

STORE_SQL(chunks) = {
	[C_LOG_ADD] = "INSERT INTO log_chunks (job_id, idx, seq, data) VALUES "
	    "(?1, ?2, ?3, ?4)",
	[C_LOG_GET] = "SELECT seq, data FROM log_chunks WHERE job_id = ?1 AND "
	    "idx = ?2 AND seq >= ?3 ORDER BY seq",
	[C_ART_ID] = "SELECT id FROM artifacts WHERE job_id = ?1 ORDER BY id "
	    "LIMIT 1",
	[C_ART_ADD] = "INSERT INTO artifact_chunks (artifact_id, seq, data) "
	    "VALUES (?1, ?2, ?3)",
	[C_ART_GET] = "SELECT data FROM artifact_chunks WHERE artifact_id = ?1 "
	    "AND seq = ?2",
	[C_LOG_DROP] = "DELETE FROM log_chunks WHERE job_id = ?1",
	[C_ART_DROP] = "DELETE FROM artifact_chunks WHERE artifact_id IN "
	    "(SELECT id FROM artifacts WHERE job_id = ?1)",
	/* "JOB IDX" to those who follow logs (PostgreSQL alone runs it;
	 * SQLite's words only give the same row) */
	[C_LOG_NOTE] = "SELECT count(*) FROM /*sqlite*/ (SELECT ?1) /*pg: "
	    "pg_notify(" PG_LOG_CHANNEL ", $1)*/",
	/* the last ?3 chunks of a log, newest first */
	[C_LOG_LAST] = "SELECT seq, data FROM log_chunks WHERE job_id = ?1 AND "
	    "idx = ?2 ORDER BY seq DESC LIMIT ?3",
};

int store_chunks_drop(struct store *s, int64_t id, int logs, int artifact)
{
	int error = 0;

	if (logs)
		error = run(s, C_LOG_DROP, sql, "remove sent logs",
		    ARGS(arg_int(id)));
	if (!error && artifact)
		error = run(s, C_ART_DROP, sql, "remove a sent artifact",
		    ARGS(arg_int(id)));
	return error;
}

int store_log_append(struct store *s, int64_t id, int idx, int seq,
    const char *buf, size_t len)
{
	char note[48];
	int error;

	if (!s->pg)
		return run(s, C_LOG_ADD, sql, "store a log", ARGS(arg_int(id),
		    arg_int(idx), arg_int(seq), arg_blob(buf, len)));
	/* the chunk and the word of it in one transaction: a reader woken
	 * finds the chunk */
	snprintf(note, sizeof(note), "%lld %d", (long long)id, idx);
	if ((error = begin(s)) < 0)
		return error;
	if ((error = run(s, C_LOG_ADD, sql, "store a log", ARGS(arg_int(id),
	    arg_int(idx), arg_int(seq), arg_blob(buf, len)))) < 0 ||
	    (error = run(s, C_LOG_NOTE, sql, "tell of a log",
	    ARGS(arg_text(note)))) < 0) {
		rollback(s);
		return error;
	}
	return commit(s);
}

int store_log_watch(struct store *s)
{
	if (!s->pg)
		return error_set(ERR_NOTFOUND, "store '%s': SQLite tells no one",
		    s->path);
	return pg_listen_logs(s);
}

struct heard {
	void (*fn)(int64_t id, int idx, void *arg);
	void *arg;
	int n;
};

static void one_heard(const char *payload, void *arg)
{
	struct heard *h = arg;
	long long id;
	int idx;

	if (sscanf(payload, "%lld %d", &id, &idx) == 2) {
		h->fn((int64_t)id, idx, h->arg);
		h->n++;
	}
}

int store_log_heard(struct store *s, void (*fn)(int64_t id, int idx,
    void *arg), void *arg)
{
	struct heard h = { fn, arg, 0 };
	int rc;

	if (!s->pg)
		return 0;
	rc = pg_heard_each(s, one_heard, &h);
	return rc < 0 ? rc : h.n;
}

int store_log_read(struct store *s, int64_t id, int idx, int from,
    struct sbuf *out, int *next)
{
	struct stmt *st = stmt_bound(s, C_LOG_GET, sql, ARGS(arg_int(id),
	    arg_int(idx), arg_int(from)));
	int rc, n = 0;

	*next = from;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		/* chunks are appended in order; a gap is one still being
		 * written: stop before it */
		if (col_int(st, 0) != *next)
			break;
		if (col_blob(st, 1, out) < 0) {
			reset(st);
			return -1;
		}
		*next += 1;
		n++;
	}
	if (rc < 0)
		n = db_error(s, "read a log");
	reset(st);
	return n;
}

int store_log_tail(struct store *s, int64_t id, int idx, size_t max,
    struct sbuf *out)
{
	struct stmt *st = stmt_bound(s, C_LOG_LAST, sql, ARGS(arg_int(id),
	    arg_int(idx), arg_int(TAIL_CHUNKS)));
	struct sbuf *part = NULL;
	size_t n = 0, len = 0;
	int rc = STEP_DONE, at = -1, error = 0;

	if (!st)
		return -1;
	/* newest first, while they follow each other, up to `max` bytes */
	while (len < max && (rc = step(st)) == STEP_ROW) {
		int seq = col_int(st, 0);
		if (at >= 0 && seq != at - 1)
			break;
		at = seq;
		part = xrealloc(part, (n + 1) * sizeof(*part));
		part[n] = (struct sbuf)SBUF_INIT;
		if (col_blob(st, 1, &part[n++]) < 0) {
			error = -1;
			break;
		}
		len += part[n - 1].len;
	}
	if (!error && rc < 0)
		error = db_error(s, "read a log");
	reset(st);
	for (size_t i = n; i-- > 0;) {
		/* the oldest part cut to `max` */
		size_t skip = i == n - 1 && len > max ? len - max : 0;
		if (!error)
			sbuf_add(out, part[i].buf + (skip < part[i].len ? skip :
			    part[i].len), skip < part[i].len ? part[i].len - skip :
			    0);
		sbuf_release(&part[i]);
	}
	free(part);
	return error ? error : (int)n;
}

int store_artifact_put(struct store *s, int64_t id, int fd)
{
	int64_t art = first_id(s, C_ART_ID, sql, ARGS(arg_int(id)));
	char *buf;
	int error = 0;

	if (!art)
		return error_set(ERR_NOTFOUND, "job #%lld has no artifact "
		    "recorded", (long long)id);
	buf = xmalloc(ARTIFACT_CHUNK);
	for (int seq = 0;; seq++) {
		size_t len = 0;
		ssize_t n;
		while (len < ARTIFACT_CHUNK && (n = read(fd, buf + len,
		    ARTIFACT_CHUNK - len)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				error = error_set(-1, "cannot read the artifact "
				    "of job #%lld: %s", (long long)id,
				    strerror(errno));
				goto out;
			}
			len += (size_t)n;
		}
		if (!len && seq)
			break;
		if ((error = run(s, C_ART_ADD, sql, "store an artifact",
		    ARGS(arg_int(art), arg_int(seq), arg_blob(buf, len)))) < 0)
			break;
		if (len < ARTIFACT_CHUNK)
			break;
	}
out:
	free(buf);
	return error;
}

int64_t store_artifact_fetch(struct store *s, int64_t id, int fd)
{
	int64_t art = first_id(s, C_ART_ID, sql, ARGS(arg_int(id))), total = 0;
	struct sbuf buf = SBUF_INIT;
	int rc = 0;

	if (!art)
		return 0;
	for (int seq = 0;; seq++) {
		struct stmt *st = stmt_bound(s, C_ART_GET, sql,
		    ARGS(arg_int(art), arg_int(seq)));
		if (!st)
			return -1;
		sbuf_reset(&buf);
		rc = step(st);
		if (rc == STEP_ROW && col_blob(st, 0, &buf) < 0)
			rc = -1;
		else if (rc < 0)
			rc = db_error(s, "read an artifact");
		reset(st);
		if (rc != STEP_ROW)
			break;
		if (write_all(fd, buf.buf, buf.len) < 0) {
			rc = error_set(-1, "cannot write the artifact of job "
			    "#%lld: %s", (long long)id, strerror(errno));
			break;
		}
		total += (int64_t)buf.len;
	}
	sbuf_release(&buf);
	return rc < 0 ? rc : total;
}
