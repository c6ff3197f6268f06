/*
 * What runs inside `git receive-pack`: parse the post-receive input, match
 * pushed branches against the repository's trigger, enqueue one job per
 * match in one durable transaction, wake the daemon. Never fails a push.
 */
#ifndef RUNNER_HOOK_H
#define RUNNER_HOOK_H

#include <stddef.h>
#include <stdio.h>

#include "spool.h"

#define HOOK_MAX_INPUT (4 * 1024 * 1024)
#define HOOK_MAX_LINES 10000
/* The longest ref name taken. git's files backend keeps each ref as a
 * file below the repository, so the longest ref git accepts is a path
 * (PATH_MAX); any ref a push can create fits. */
#define HOOK_REF_MAX 4096
/* A release tag that matches release_tags deploys to this environment. */
#define RELEASE_ENV "production"

/* An all-zero object id: the ref is being deleted. */
int hook_zero_id(const char *hex);

struct hook_update {
	char old[65], new[65];
	char *ref;
};

/*
 * Parse "OLD NEW REF" lines. Malformed lines are skipped and counted in
 * *bad. The caller frees *out with hook_updates_free().
 */
void hook_parse(const char *buf, size_t len, struct hook_update **out,
    size_t *n, size_t *bad);
void hook_updates_free(struct hook_update *u, size_t n);

/*
 * The spool: when the store cannot take a push (missing, locked past
 * HOOK_STORE_WAIT_MS, read-only, full), the hook writes the pushes to
 * HOME/spool/ instead, durably, and the daemon enqueues them later.
 */
#define HOOK_STORE_WAIT_MS 1000
/* A PostgreSQL store: how long the hook waits for the daemon to queue
 * the pushes it spooled, and say their jobs (hook.c, hand_to_daemon). */
#define HOOK_TAKE_MS 2000
/* Enqueue what the spool holds that `conf`'s triggers match, and remove
 * the files once their jobs are in the store. An entry that is not a
 * regular file with one name, or names a repository its owner does not
 * own, is moved to spool/refused/ with its reason and a line on the log;
 * one naming a repository the daemon cannot read now waits in
 * spool/held/ with its reason (spool.h), tried again with `retry_held`.
 * *held is the number of entries held after this look. Returns the
 * number of jobs queued, or a negative code (the files stay). */
struct store;
struct config;
int hook_spool_ingest(const char *home, const struct config *conf,
    struct store *s, int retry_held, size_t *held);
/* The store cannot be opened (`why`): the runner's own hooks that wait
 * for their spooled pushes (hand_to_daemon in hook.c) are told so; the
 * entries stay. */
void hook_spool_unqueued(const char *home, const char *why);

/* With no daemon serving, the hook checkpoints the WAL past this many
 * pages, so that opening the store stays cheap (see hook.c). */
#define HOOK_WAL_PAGES 64

/*
 * The updates of `n` that runner.yml's triggers for `repo` match, as
 * pushes into `out` (room for `n`; they point into `updates`). Returns
 * how many.
 */
struct push;
size_t hook_match(const struct config *conf, const char *repo,
    const struct hook_update *updates, size_t n, struct push *out,
    FILE *msg);

/*
 * Queue jobs for `updates` pushed to the bare repository `repo` (absolute).
 * One line per job queued, and warnings, go to `msg`. Returns the number
 * of jobs queued, or a negative code (with a message already written).
 */
int hook_post_receive(const char *home, const char *repo,
    const struct hook_update *updates, size_t n, FILE *msg);

struct sbuf;
/*
 * The push options (git push -o) the runner reads from git's
 * GIT_PUSH_OPTION_*: ci.skip sets *skip, ci.wait *wait (the hook then
 * follows the jobs it queued in the push's output); each valid
 * ci.variable=NAME=VALUE
 * is a "NAME=VALUE\n" line added to `vars`; an invalid one, or any other
 * ci.* option, is a warning on `msg`. Options of other tools are left
 * alone.
 */
void hook_push_options(FILE *msg, int *skip, int *wait, struct sbuf *vars);
/* Read all of stdin, keeping the first HOOK_MAX_INPUT bytes in `in` and,
 * with keep_fd >= 0, writing every byte to keep_fd too. */
void hook_read_input(struct sbuf *in, int *truncated, int keep_fd);
/* Run the hook that was installed before ours, with the same arguments
 * (argv[0] is replaced) and all of the input, read from `in_fd` from its
 * start (-1: /dev/null); returns its exit code. */
int hook_run_chained(const char *path, char **argv, int in_fd);

#endif
