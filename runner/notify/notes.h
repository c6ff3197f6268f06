/*
 * Results recorded in the repository: every ended build and deployment of
 * a commit as a git note of it under refs/notes/runner (runner.yml repos:
 * notes: false turns it off), so that `git fetch origin
 * refs/notes/runner:refs/notes/runner && git log --notes=runner` shows
 * them. The notifier writes them as it routes the events of ended jobs.
 */
#ifndef RUNNER_NOTES_H
#define RUNNER_NOTES_H

#include <stdint.h>

struct config;
struct store;

/* Write (again) the note of job `job_id`'s commit. 0, or an error. */
int notes_record(struct store *s, const struct config *c, int64_t job_id);

#endif
