/*
 * The outbox in the store (outbox.h): the end of a job records its event
 * in the same transaction; the notifier routes events to notifications,
 * one per target, and records each delivery attempt.
 */
#include "outbox.h"
#include "store_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum q {
	Q_EVENT_JOB = BASE_OUTBOX, Q_EVENT_INS, Q_EVENTS_UNROUTED,
	Q_EVENT_ROUTED, Q_EVENTS_ALL_ROUTED, Q_NOTIF_INS, Q_NOTIF_DUE,
	Q_NOTIF_RESULT, Q_NOTIF_JOB, Q_NOTIF_OPEN, Q_NOTIF_COUNT,
	Q_NOTIF_LAST_ACTION, Q_UNSENT, Q_NOTIF_TAKE,
	Q_OUTBOX_END
};
_Static_assert((int)Q_OUTBOX_END <= (int)BASE_ADMIN, "outbox statements overlap");

#define NOTIF_COLS "id, event_id, job_id, target, service, event, action, " \
	"dedup, body, state, error, attempts, status, next_ms, created_ms, " \
	"done_ms"

STORE_SQL(outbox) = {
	/* what an ended job is, and how the ref's build before it ended */
	[Q_EVENT_JOB] = "SELECT kind, state, env, (SELECT p.state FROM jobs p "
	    "WHERE p.kind = 'build' AND p.repo = j.repo AND p.ref = j.ref AND "
	    BUILD_BEFORE("p.", "j.") " AND p.state IN (" SQ(N_PASSED) ", "
	    SQ(N_FAILED) ", " SQ(N_ERROR) ") ORDER BY p.id DESC LIMIT 1), CASE "
	    "WHEN EXISTS (SELECT 1 FROM approvals a WHERE a.job_id = j.id AND "
	    "a.have < a.need) THEN 1 ELSE 0 END FROM jobs j WHERE id = ?1",
	[Q_EVENT_INS] = "INSERT INTO events (job_id, kind, tags, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[Q_EVENTS_UNROUTED] = "SELECT id, job_id, kind, tags, created_ms FROM "
	    "events WHERE routed = 0 ORDER BY id LIMIT ?1",
	/* once: hosts sharing a store route the same events */
	[Q_EVENT_ROUTED] = "UPDATE events SET routed = 1 WHERE id = ?1 AND "
	    "routed = 0",
	[Q_EVENTS_ALL_ROUTED] = "UPDATE events SET routed = 1 WHERE routed = 0",
	[Q_NOTIF_INS] = "INSERT INTO notifications (event_id, job_id, target, "
	    "service, event, action, dedup, body, next_ms, created_ms) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
	/* the literal state lets SQLite use the partial index */
	[Q_NOTIF_DUE] = "SELECT " NOTIF_COLS " FROM notifications WHERE state "
	    "= " SQ(N_PENDING) " ORDER BY next_ms, id LIMIT 1",
	/* the one due first, taken until ?2: hosts that share a store
	 * each run a notifier, and one that looks while another sends
	 * passes it by (PostgreSQL: a row being taken is skipped) */
	[Q_NOTIF_TAKE] = "UPDATE notifications SET next_ms = ?2 WHERE id = "
	    "(SELECT id FROM notifications WHERE state = " SQ(N_PENDING) " AND "
	    "next_ms <= ?1 ORDER BY next_ms, id LIMIT 1 "
	    "/*pg: FOR UPDATE SKIP LOCKED*/) RETURNING " NOTIF_COLS,
	[Q_NOTIF_RESULT] = "UPDATE notifications SET state = ?2, attempts = "
	    "?3, status = ?4, error = ?5, next_ms = ?6, done_ms = ?7 WHERE id = "
	    "?1",
	[Q_NOTIF_JOB] = "SELECT " NOTIF_COLS " FROM notifications WHERE job_id "
	    "= ?1 ORDER BY id",
	[Q_NOTIF_OPEN] = "SELECT " NOTIF_COLS " FROM notifications WHERE state "
	    "IN (" SQ(N_PENDING) ", " SQ(N_DEAD) ") ORDER BY id DESC LIMIT ?1",
	[Q_NOTIF_COUNT] = "SELECT count(*) FROM notifications WHERE "
	    STATE_IS("state", "1"),
	[Q_NOTIF_LAST_ACTION] = "SELECT action FROM notifications WHERE target "
	    "= ?1 AND dedup = ?2 ORDER BY id DESC LIMIT 1",
	[Q_UNSENT] = "SELECT (SELECT count(*) FROM events WHERE routed = 0) + "
	    "(SELECT count(*) FROM notifications WHERE state = " SQ(N_PENDING)
	    ")",
};

/*
 * The event an ended job causes, recorded in the transaction that ends it
 * (the outbox): `kind` is the most specific name, `tags` every kind a
 * target's `on` list may name to hear of it.
 */
int outbox_job_ended(struct store *s, int64_t id)
{
	struct stmt *st = stmt_bound(s, Q_EVENT_JOB, sql, ARGS(arg_int(id)));
	const char *kind = NULL;
	char tags[96] = "";
	int rc;

	if (!st)
		return -1;
	if ((rc = step(st)) != STEP_ROW) {
		reset(st);
		return rc == STEP_DONE ? 0 : db_error(s, "read job for event");
	}
	const char *k = col_str(st, 0);
	int state = job_state_parse(col_str(st, 1));
	const char *env = col_str(st, 2);
	int before = job_state_parse(col_str(st, 3));
	int prod = env && !strcmp(env, "production");

	if (!strcmp(k, "build")) {
		if (state == JOB_PASSED && before >= 0 && before != JOB_PASSED)
			kind = "job_fixed";
		else if (state == JOB_PASSED)
			kind = "job_passed";
		else if (state == JOB_FAILED)
			kind = "job_failed";
		else if (state == JOB_ERROR)
			kind = "job_error";
		if (kind)
			snprintf(tags, sizeof(tags), "%s%s", kind,
			    !strcmp(kind, "job_fixed") ? " job_passed" : "");
	} else if (state == JOB_REJECTED && col_int(st, 4)) {
		/* held for want of approvals (audit.h): not refused */
		kind = "approval_needed";
		snprintf(tags, sizeof(tags), "%s", kind);
	} else if (state == JOB_HEALTHY || state == JOB_REJECTED) {
		kind = state == JOB_HEALTHY ? "deployed" : "rejected";
		snprintf(tags, sizeof(tags), "%s", kind);
	} else if (state == JOB_ROLLED_BACK || state == JOB_FAILED ||
	    state == JOB_INTERRUPTED) {
		int rb = state == JOB_ROLLED_BACK;
		kind = rb ? "rolled_back" : prod ? "production_failed" :
		    "deploy_failed";
		snprintf(tags, sizeof(tags), "%sdeploy_failed%s",
		    rb ? "rolled_back " : "", prod ? " production_failed" : "");
	}
	reset(st);	/* the texts above are not used past here */
	if (!kind)
		return 0;
	return run(s, Q_EVENT_INS, sql, "record event", ARGS(arg_int(id),
	    arg_text(kind), arg_text(tags), arg_int(now_ms())));
}

int store_events_unrouted(struct store *s, int limit, struct event **out,
    size_t *n)
{
	struct stmt *st = stmt_bound(s, Q_EVENTS_UNROUTED, sql,
	    ARGS(arg_int(limit)));
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		struct event *e;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		e = &(*out)[(*n)++];
		e->id = col_int64(st, 0);
		e->job_id = col_int64(st, 1);
		e->kind = col_text(st, 2);
		e->tags = col_text(st, 3);
		e->created_ms = col_int64(st, 4);
	}
	reset(st);
	if (rc != STEP_DONE) {
		events_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read events");
	}
	return 0;
}

void events_free(struct event *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].kind);
		free(v[i].tags);
	}
	free(v);
}

int store_event_route(struct store *s, int64_t event_id,
    const struct notification *v, size_t n)
{
	int64_t now = now_ms();
	int error;

	if ((error = begin(s)) < 0)	/* relaxed: see store.h */
		return error;
	/* first: another host that routes it at the same moment waits
	 * here, and then finds it routed */
	if ((error = run(s, Q_EVENT_ROUTED, sql, "route event",
	    ARGS(arg_int(event_id)))) < 0)
		goto out;
	if (changes(s) == 0) {
		rollback(s);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((error = run(s, Q_NOTIF_INS, sql, "queue notification",
		    ARGS(arg_int(event_id), arg_int(v[i].job_id),
		    arg_text(v[i].target), arg_text(v[i].service),
		    arg_text(v[i].event), arg_text(v[i].action),
		    arg_text(v[i].dedup), arg_text(v[i].body),
		    arg_int(now)))) < 0)
			goto out;
	error = commit(s);
out:
	if (error < 0)
		rollback(s);
	return error;
}

int store_events_drop(struct store *s)
{
	int error;

	if ((error = begin(s)) < 0)	/* relaxed: see store.h */
		return error;
	if ((error = run(s, Q_EVENTS_ALL_ROUTED, sql, "route events",
	    NO_ARGS)) < 0 || (error = commit(s)) < 0)
		rollback(s);
	return error;
}

static struct notification *notif_from_row(struct stmt *st)
{
	struct notification *x = xcalloc(1, sizeof(*x));

	x->id = col_int64(st, 0);
	x->event_id = col_int64(st, 1);
	x->job_id = col_int64(st, 2);
	x->target = col_text(st, 3);
	x->service = col_text(st, 4);
	x->event = col_text(st, 5);
	x->action = col_text(st, 6);
	x->dedup = col_text(st, 7);
	x->body = col_text(st, 8);
	x->state = (enum notif_state)notif_state_parse(
	    col_str(st, 9));
	x->error = col_text(st, 10);
	x->attempts = col_int(st, 11);
	x->status = col_int(st, 12);
	x->next_ms = col_int64(st, 13);
	x->created_ms = col_int64(st, 14);
	x->done_ms = col_int64(st, 15);
	return x;
}

static int notif_list(struct store *s, struct stmt *st,
    struct notification ***out, size_t *n)
{
	int rc;

	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	while ((rc = step(st)) == STEP_ROW) {
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = notif_from_row(st);
	}
	reset(st);
	if (rc != STEP_DONE) {
		notifs_free(*out, *n);
		*out = NULL;
		*n = 0;
		return db_error(s, "read notifications");
	}
	return 0;
}

/* The one notification `st` reads, if any (ERR_NOTFOUND if none). */
static int notif_one(struct store *s, struct stmt *st,
    struct notification **out)
{
	struct notification **v;
	size_t n;
	int error;

	*out = NULL;
	if ((error = notif_list(s, st, &v, &n)) < 0)
		return error;
	if (n)
		*out = v[0];
	for (size_t i = 1; i < n; i++)
		notif_free(v[i]);
	free(v);
	return n ? 0 : ERR_NOTFOUND;
}

int store_notif_next(struct store *s, struct notification **out)
{
	return notif_one(s, stmt(s, Q_NOTIF_DUE, sql), out);
}

int store_notif_take(struct store *s, int64_t now, int64_t until,
    struct notification **out)
{
	return notif_one(s, stmt_bound(s, Q_NOTIF_TAKE, sql,
	    ARGS(arg_int(now), arg_int(until))), out);
}

int store_notif_result(struct store *s, const struct notification *x)
{
	int error;

	if ((error = begin_durable(s)) < 0)
		return error;
	if ((error = run(s, Q_NOTIF_RESULT, sql, "record delivery",
	    ARGS(arg_int(x->id), arg_text(notif_state_name(x->state)),
	    arg_int(x->attempts), arg_int(x->status), arg_text(x->error),
	    arg_int(x->next_ms), arg_id(x->done_ms)))) < 0 ||
	    (error = commit(s)) < 0)
		rollback(s);
	return error;
}

int store_notifs_of_job(struct store *s, int64_t job_id,
    struct notification ***out, size_t *n)
{
	return notif_list(s, stmt_bound(s, Q_NOTIF_JOB, sql,
	    ARGS(arg_int(job_id))), out, n);
}

int store_notifs_open(struct store *s, int limit, struct notification ***out,
    size_t *n)
{
	return notif_list(s, stmt_bound(s, Q_NOTIF_OPEN, sql,
	    ARGS(arg_int(limit))), out, n);
}

int store_notif_count(struct store *s, enum notif_state state, int64_t *out)
{
	struct stmt *st = stmt_bound(s, Q_NOTIF_COUNT, sql,
	    ARGS(arg_text(notif_state_name(state))));
	int rc;

	if (!st)
		return -1;
	rc = step(st);
	*out = rc == STEP_ROW ? col_int64(st, 0) : 0;
	reset(st);
	return rc == STEP_ROW ? 0 : db_error(s, "count");
}

char *store_notif_last_action(struct store *s, const char *target,
    const char *dedup)
{
	struct stmt *st = stmt_bound(s, Q_NOTIF_LAST_ACTION, sql,
	    ARGS(arg_text(target), arg_text(dedup)));
	char *action = NULL;

	if (!st)
		return NULL;
	if (step(st) == STEP_ROW)
		action = col_text(st, 0);
	reset(st);
	return action;
}

int64_t store_unsent(struct store *s)
{
	return first_id(s, Q_UNSENT, sql, NO_ARGS);
}

void notif_free(struct notification *x)
{
	if (!x)
		return;
	free(x->target);
	free(x->service);
	free(x->event);
	free(x->action);
	free(x->dedup);
	free(x->body);
	free(x->error);
	free(x);
}

void notifs_free(struct notification **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		notif_free(v[i]);
	free(v);
}
