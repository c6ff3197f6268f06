/*
 * The store's records as JSON: the documented shapes of `status --json`,
 * `show --json`, `releases --json` and the notifications' payloads,
 * written with the JSON writer (json.h) as member `key` (NULL in an array).
 */
#ifndef RUNNER_RECORDS_H
#define RUNNER_RECORDS_H

struct json;
struct job;
struct notification;

/* A job object as documented for `status --json` and `show --json`. */
void json_job(struct json *w, const char *key, const struct job *j);
/* Its members alone, for an object that says more about the job. */
void json_job_members(struct json *w, const struct job *j);
/* The check results of a deploy job, as an array. */
void json_checks(struct json *w, const char *key, const struct job *j);
/* A notification (never its body) as documented for status and show. */
void json_notification(struct json *w, const char *key,
    const struct notification *x);

#endif
