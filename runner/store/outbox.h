/*
 * The outbox in the store: events that ended jobs cause, and the
 * notifications they are routed to.
 */
#ifndef RUNNER_OUTBOX_H
#define RUNNER_OUTBOX_H

#include "state.h"

#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * The outbox. The end of a job or deployment records an event in the same
 * transaction (job_passed, job_fixed, job_failed, job_error, deployed,
 * rejected, rolled_back, deploy_failed, production_failed); the daemon
 * routes each event to notifications, one per target, and delivers them.
 */
struct event {
	int64_t id, job_id;
	char *kind;	/* the most specific kind */
	char *tags;	/* every kind it answers to, space-separated */
	int64_t created_ms;
};

struct notification {
	int64_t id, event_id, job_id;
	char *target;	/* the name of the notify entry */
	char *service;	/* slack pagerduty email webhook */
	char *event;	/* the event's kind, or "test" */
	char *action;	/* PagerDuty: trigger or resolve */
	char *dedup;	/* PagerDuty: the incident key */
	char *body;	/* what is sent (without secrets) */
	enum notif_state state;
	char *error;	/* the last failure, secrets masked */
	int attempts;
	int status;	/* the last HTTP or SMTP reply code, 0: none */
	int64_t next_ms;	/* pending: when the next attempt is due */
	int64_t created_ms, done_ms;
};

/* The oldest events not routed yet (at most `limit`). */
int store_events_unrouted(struct store *s, int limit, struct event **out,
    size_t *n);
void events_free(struct event *v, size_t n);
/* Queue an event's notifications and mark it routed (relaxed: a lost
 * routing is done again, and the first delivery result syncs it); an
 * event that another host routed meanwhile is left as it routed it. */
int store_event_route(struct store *s, int64_t event_id,
    const struct notification *v, size_t n);
/* Mark every event routed, to no one (no targets are configured). */
int store_events_drop(struct store *s);
/* The pending notification due first (ERR_NOTFOUND if none). */
int store_notif_next(struct store *s, struct notification **out);
/*
 * Take the pending notification due first by `now` (ERR_NOTFOUND if none
 * is due) to send it: its next_ms becomes `until`, so that no other
 * notifier sharing the store takes it before its result is recorded or
 * `until` passes (a notifier that died while sending).
 */
int store_notif_take(struct store *s, int64_t now, int64_t until,
    struct notification **out);
/* Record an attempt: state, attempts, status, error, next_ms, done_ms. */
int store_notif_result(struct store *s, const struct notification *x);
int store_notifs_of_job(struct store *s, int64_t job_id,
    struct notification ***out, size_t *n);
/* The newest pending and dead notifications. */
int store_notifs_open(struct store *s, int limit,
    struct notification ***out, size_t *n);
int store_notif_count(struct store *s, enum notif_state state,
    int64_t *out);
/* The action of the last notification of `target` with `dedup`, or NULL. */
char *store_notif_last_action(struct store *s, const char *target,
    const char *dedup);
void notif_free(struct notification *x);
void notifs_free(struct notification **v, size_t n);

/* How many events and notifications wait for the notifier; an error
 * (negative) when the store cannot say. */
int64_t store_unsent(struct store *s);

#endif
