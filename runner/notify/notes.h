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

/* While jobs keep ending, the notifier routes their events at most this
 * often after a batch that started a notes writer: the notes of the jobs
 * that ended meanwhile go to one writer, not one each. */
#define NOTES_BATCH_MS 3000

/*
 * Write (again) the notes of the commits of jobs `ids` (the jobs of a
 * batch of events), a note per commit, or have them written (notes.c
 * says by whom): one writer per owner of repositories. The number of
 * writers started, or an error of the store.
 */
int notes_record(struct store *s, const struct config *c, const char *home,
    const int64_t *ids, size_t n);

struct sbuf;
/* The writer (runner-worker notes-write REPO..., as the repositories'
 * owner): the notes framed as notebox_frame() does, each into its
 * repository of `repos`; the number of each repository whose notes are
 * all written, a line each, into `out`, and what failed, a line each,
 * into `err`. 0, or an error when any failed. */
int notes_write_frames(const char *const *repos, size_t nrepos,
    const char *buf, size_t len, struct sbuf *out, struct sbuf *err);

/* The checker (runner-worker notes-check REPO, started as the writer
 * is): for each of the framed notes that `repo` has with the same text,
 * its commit and a newline into `out`. 0 or an error. */
int notes_check_frames(const char *repo, const char *buf, size_t len,
    struct sbuf *out);

#endif
