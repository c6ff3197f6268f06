/*
 * Writing JSON into an sbuf. Strings are escaped per RFC 8259; bytes that
 * are not valid UTF-8 become U+FFFD, so output is always valid JSON.
 */
#ifndef RUNNER_JSON_H
#define RUNNER_JSON_H

#include <stdint.h>

struct sbuf;
struct job;

void json_str(struct sbuf *sb, const char *s);	/* NULL gives null */
/* A job object as documented for `status --json` and `show --json`. */
void json_job(struct sbuf *sb, const struct job *j);
/* The check results of a deploy job, as a JSON array. */
void json_checks(struct sbuf *sb, const struct job *j);

/* A notification (never its body) as documented for status and show. */
struct notification;
void json_notification(struct sbuf *sb, const struct notification *x);

#endif
