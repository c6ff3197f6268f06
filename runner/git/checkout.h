/*
 * The pushed commit, read from the bare repository with libgit2: its
 * pipeline file and subject, and a checkout into a fresh workspace that is
 * a real git work tree (objects borrowed through alternates, HEAD detached
 * at the commit, the repository's tags copied), so `git describe` and
 * `git log` work inside a stage.
 */
#ifndef RUNNER_CHECKOUT_H
#define RUNNER_CHECKOUT_H

#include <stddef.h>
#include <sys/types.h>

struct sbuf;
struct source;

/*
 * Keep libgit2 initialised for the life of the process (a worker), so that
 * each job does not set it up and tear it down again.
 */
void checkout_global_init(void);

/* Open `commit` (40 or 64 hex) in the bare repository `repo`. */
int source_open(const char *repo, const char *commit, struct source **out);
/*
 * May the owner of repository `repo` read `commit` and its tree there?
 * Asked by a root process of a repository of another user, before it
 * reads the commit with root's rights: the owner may have linked packs
 * of a repository of root's into its own (objects/pack/, alternates) and
 * named one of its commits in a spool entry, which git's receive-pack
 * never checked. git runs as the owner (PATH and LANG only, a bound of
 * GIT_REF_TIMEOUT_MS). 0 when it may, or when the question does not
 * arise (not root; a repository of root's); ERR_INVALID with the reason,
 * also when, as root, a link is on the way to `repo` (whose owner is
 * judged by the folder reached with no link followed).
 * In a worker (checkout_global_init) it also turns libgit2's hashing of
 * each object read on for such a repository, off for the others.
 */
int source_owner_reads(const char *repo, const char *commit);
void source_free(struct source *src);
/* The commit's subject line; owned by `src`. */
const char *source_subject(const struct source *src);
/* The commit `ref` (a branch's or tag's name, or a full ref) points to
 * in `repo`, as hex into `hex` (room for 65), and the full ref name into
 * *full (caller frees). */
int source_ref_head(const char *repo, const char *ref, char **full,
    char *hex);
/* The commit's whole message; owned by `src`. */
const char *source_message(const struct source *src);
/* Read the file at `path` in the commit's tree (ERR_NOTFOUND if none). */
int source_read(struct source *src, const char *path, size_t max,
    struct sbuf *out);
/* Write the commit's tree into `dest`, which must not exist yet. */
int source_checkout(struct source *src, const char *dest);
/*
 * The same into `dest` holding the workspace of an earlier job, its files
 * `owner`'s and `group`'s ((gid_t)-1: any group) (or into a new one where
 * there is none), made exactly what source_checkout makes of nothing:
 * what the tree has is written over, into the same files and folders
 * where they may stay (plain files and folders of `owner` and `group`, a
 * file with no other name, no inode flag or extended attribute left of
 * the last job's, their modes reset), and everything else removed, walked
 * by descriptors, never following a link. *made (when not NULL) gets how
 * many files and folders it made rather than kept: those are the
 * caller's, to give away (job_give); with none, the tree is already all
 * `owner`'s and `group`'s.
 */
int source_checkout_over(struct source *src, const char *dest, uid_t owner,
    gid_t group, int *made);

/* Read and parse the commit's pipeline file (.runner.yml); with
 * `digest`, the file's sha256 in hex too (the provenance names it). */
struct pipeline;
int source_pipeline(struct source *src, struct pipeline **out,
    char digest[65]);

#endif
