/*
 * Notifications: routing the store's events to the targets of runner.yml
 * (Slack, PagerDuty, e-mail, signed webhooks) and delivering them with
 * libcurl. The daemon's notifier process drives both; `runner notify test`
 * delivers one by hand. Secrets (webhook URLs, keys, passwords) are only
 * ever shown masked.
 */
#ifndef RUNNER_NOTIFY_H
#define RUNNER_NOTIFY_H

#include <stdint.h>

struct config;
struct job;
struct notification;
struct notify_target;
struct sbuf;
struct store;

/* Connect and whole-attempt timeouts of a delivery. */
#define NOTIFY_CONNECT_TIMEOUT_MS 5000
#define NOTIFY_TIMEOUT_MS 15000
/* How long a notification being sent is taken from the other notifiers
 * sharing the store (store_notif_take): past it, one whose notifier died
 * while sending is sent by another. */
#define NOTIFY_TAKEN_MS 60000
/* The events routed together: their git notes go to one writer per
 * owner of repositories (notes.h; at most NOTEBOX_MAX notes each). */
#define NOTIFY_BATCH 256
/* The longest wait between attempts, also for a Retry-After. */
#define NOTIFY_MAX_BACKOFF_MS (60 * 60 * 1000)

/*
 * Route every event not routed yet: one notification per target whose
 * `on` list and `repos` pattern match (PagerDuty targets also get a
 * `resolve` when what they were paged about is healthy again), and the
 * git notes of their commits (notes.h), a batch of events at a time.
 * Returns the number of notifications queued, or an error; *writers (may
 * be NULL) counts the notes writers started.
 */
int notify_route(struct store *s, const char *home, const struct config *c,
    int *writers);

/*
 * The body for `kind` (an event kind, or "test") of job `j` to target `t`;
 * `action` is PagerDuty's trigger or resolve. For e-mail, `event_id` makes
 * the Message-ID.
 */
char *notify_body(const struct notify_target *t, const char *kind,
    const char *tags, const struct job *j, int64_t event_id,
    const char *action, const char *dedup, const char *base_url);

struct delivery {
	int ok;			/* accepted (2xx, or the SMTP server took it) */
	int retry;		/* failed in a way worth another attempt */
	long status;		/* HTTP or SMTP reply code, 0 if none */
	int64_t retry_after_ms;	/* a 429's or 503's Retry-After, else -1 */
	int64_t took_ms;
	char error[512];	/* what went wrong, secrets masked */
};

/*
 * One attempt at delivering `x` to `t`. `stop`, if set, is asked during
 * the transfer; when it says yes the attempt is abandoned (not counted).
 * Returns 0 after an attempt (see d->ok), -1 if it was stopped.
 */
int notify_deliver(const struct notify_target *t,
    const struct notification *x, int (*stop)(void *), void *arg,
    struct delivery *d);

/*
 * Deliver `x` once and record the outcome: delivered, pending again with
 * the next attempt's time (exponential backoff, or Retry-After), or dead
 * after the target's retries. A target no longer configured makes it dead.
 */
int notify_attempt(struct store *s, const struct config *c,
    struct notification *x, int (*stop)(void *), void *arg);

/* Where `t` sends, with every secret part masked. */
void notify_describe(struct sbuf *sb, const struct notify_target *t);
/* Replace every secret of `t` that occurs in `text` by "***". */
void notify_redact(const struct notify_target *t, char *text);

#endif
