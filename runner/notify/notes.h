/*
 * Results recorded in the repository: every ended build and deployment of
 * a commit as a git note of it under refs/notes/runner (runner.yml repos:
 * notes: false turns it off), so that `git fetch origin
 * refs/notes/runner:refs/notes/runner && git log --notes=runner` shows
 * them. The notifier writes them as it routes the events of ended jobs.
 */
#ifndef RUNNER_NOTES_H
#define RUNNER_NOTES_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

#define NOTES_REF "refs/notes/runner"

/* Write (again) the note of job `job_id`'s commit, or have it written
 * (notes.c says by whom). 0, or an error of the store. */
int notes_record(struct store *s, const struct config *c, const char *home,
    int64_t job_id);

/* The writer (runner-worker notes-write REPO, as the repository's owner):
 * the notes framed as notebox_frame() does, into `repo`. 0 or an error. */
int notes_write_frames(const char *repo, const char *buf, size_t len);

struct sbuf;
/* The checker (runner-worker notes-check REPO, started as the writer
 * is): for each of the framed notes that `repo` has with the same text,
 * its commit and a newline into `out`. 0 or an error. */
int notes_check_frames(const char *repo, const char *buf, size_t len,
    struct sbuf *out);

#endif
