/*
 * The store's records as JSON: the documented shapes of `status --json`,
 * `show --json` and the notifications' payloads.
 */
#ifndef RUNNER_RECORDS_H
#define RUNNER_RECORDS_H

struct sbuf;
struct job;
struct notification;

/* A job object as documented for `status --json` and `show --json`. */
void json_job(struct sbuf *sb, const struct job *j);
/* The check results of a deploy job, as a JSON array. */
void json_checks(struct sbuf *sb, const struct job *j);
/* A notification (never its body) as documented for status and show. */
void json_notification(struct sbuf *sb, const struct notification *x);

#endif
