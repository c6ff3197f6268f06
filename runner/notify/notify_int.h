/*
 * Inside runner/notify, shared by notify.c, which routes and delivers,
 * the description of a job (describe.c) and the formats (slack.c,
 * pagerduty.c, email.c, webhook.c).
 */
#ifndef RUNNER_NOTIFY_INT_H
#define RUNNER_NOTIFY_INT_H

#include <stdint.h>

struct job;
struct notify_target;
struct sbuf;
struct stage_rec;

#define LOG_TAIL_LINES 50
#define LOG_TAIL_BYTES (64 * 1024)

/* describe.c: a job described, the same in every format */
void notify_summary(struct sbuf *sb, const char *kind, const struct job *j);
void notify_details(struct sbuf *sb, const struct job *j, const char *nl,
    const char *base);
void notify_log_tail(struct sbuf *sb, const char *path, const char *nl);
void notify_add_display(struct sbuf *sb, const char *s);
const struct stage_rec *notify_failing_stage(const struct job *j);

/* the formats: each a body, stored with the notification */
char *slack_body(const char *kind, const struct job *j,
    const char *base);
char *pagerduty_body(const char *kind, const struct job *j,
    const char *action, const char *dedup, const char *base);
char *email_body(const struct notify_target *t, const char *kind,
    const struct job *j, int64_t event_id, const char *base);
char *webhook_body(const char *kind, const char *tags,
    const struct job *j, int64_t event_id, const char *base);

#endif
