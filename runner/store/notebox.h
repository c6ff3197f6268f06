/*
 * Git notes waiting for whoever may write their repository. The notifier
 * (the daemon's user) keeps each commit's note text in
 * HOME/notes/DEV-INO/COMMIT, DEV-INO naming the repository's folder by its
 * device and inode; a writer that may write the repository takes them
 * from there: a root daemon's helper that has become the repository's
 * owner, or the repository's hook (the git server's user, a member of the
 * home's group) at the next push, when the daemon may not write the
 * repository itself (it runs as its own user, or under a read-only
 * system). notes/, each repository's folder and its notes are the
 * runner's user's alone (0700, 0600): a hook of another user asks the
 * daemon for its own repository's over ask.sock (ask.h), where it proves
 * that it owns the repository; the group's members, all the git server's
 * accounts, do not read each other's. The daemon removes a note once it
 * is in the repository.
 */
#ifndef RUNNER_NOTEBOX_H
#define RUNNER_NOTEBOX_H

#include <stddef.h>
#include <stdint.h>

struct run_user;
struct sbuf;

#define NOTEBOX_DIR "notes"
/* The ref of the notes. Only the runner writes it: a push's update of it
 * is refused by the pre-receive hook and undone by the post-receive one,
 * so that no pusher passes off a failed job as passed. */
#define NOTES_REF "refs/notes/runner"
/* Is `ref` NOTES_REF, or below it (refs/notes/runner/x, which would keep
 * the runner from ever making NOTES_REF)? */
int notebox_is_notes_ref(const char *ref);
/* bounds of what a writer reads: the notes of one repository, and one */
#define NOTEBOX_MAX 256
#define NOTEBOX_MAX_TEXT (64 * 1024)
/* ... and the repositories one writer is given */
#define NOTEBOX_MAX_REPOS 32
/* The program that writes them, with libgit2 (beside runner-hook). */
#define NOTEBOX_WRITER "runner-worker"
#define NOTEBOX_WRITER_COMMAND "notes-write"
/* ... and the command that tells which of them are in place. */
#define NOTEBOX_CHECK_COMMAND "notes-check"
/* The store's setting NOTES_SETTING + REPO: why the notes of REPO cannot
 * be written, a line, and its fix (doctor and status show them). */
#define NOTES_SETTING "notes:"

struct notebox_note {
	char commit[65];	/* hex: sha1 or sha256 */
	char *text;
	int64_t mtime_ms;	/* when the daemon left it */
	int in_place;		/* notebox_check(): the repository has it */
	size_t repo;		/* which of the writer's repositories */
};

/* Is `s` a commit id, 40 or 64 lowercase hex digits (a note's name)? */
int notebox_commit_name(const char *s);

struct stat;
/*
 * Repository `repo`'s folder as fstat shows it, reached from '/' one
 * folder at a time without following a link (the paths of the store are
 * real paths: a link on the way is someone's doing). *root_only is set
 * when root and no one else may change any folder on the way (each
 * root's, and writable by others only with the sticky bit): root may
 * write there. 0, or an error.
 */
int notebox_repo_stat(const char *repo, struct stat *st, int *root_only);

/* HOME/notes/DEV-INO of repository `repo`, reached as notebox_repo_stat()
 * does (caller frees), or NULL with an error when the repository cannot
 * be reached so. */
char *notebox_dir(const char *home, const char *repo);

/* As the runner's user: leave `text` as the note of `commit` (hex) for
 * `repo`, replacing one left before. 0, or an error naming the file. */
int notebox_put(const char *home, const char *repo, const char *commit,
    const char *text);

/*
 * The notes waiting for `repo`, oldest first, at most NOTEBOX_MAX: each
 * file opened without following a link and taken only if it is a regular
 * file of at most NOTEBOX_MAX_TEXT bytes named by a commit id. 0 (none
 * waiting: *n is 0), or an error. Free with notebox_notes_free().
 */
int notebox_list(const char *home, const char *repo, struct notebox_note **out,
    size_t *n);
void notebox_notes_free(struct notebox_note *v, size_t n);
/* The same for the repository folder `st` shows (its device and inode). */
int notebox_list_of(const char *home, const struct stat *st,
    struct notebox_note **out, size_t *n);

/* As the runner's user: the note of `commit` is in the repository; remove
 * it unless it was replaced by another text meanwhile. */
void notebox_done(const char *home, const char *repo, const char *commit,
    const char *text);

/* The notes as the writer reads them on its stdin: for each, "COMMIT
 * LENGTH REPOSITORY\n" and the text; REPOSITORY is the number of its
 * repository among the writer's (v[i].repo, from 0). */
void notebox_frame(struct sbuf *sb, const struct notebox_note *v, size_t n);
/* Read them back (bounded as notebox_list), for a writer of `nrepos`
 * repositories. 0, or ERR_INVALID. */
int notebox_unframe(const char *buf, size_t len, size_t nrepos,
    struct notebox_note **out, size_t *n);

/*
 * Have notes `v` written into their repositories (v[i].repo of `repos`,
 * at most NOTEBOX_MAX notes) by one NOTEBOX_WRITER, started as `user`
 * (NULL: as this process's user; needs root otherwise) with a clean
 * environment (PATH and LANG; no HOME) in '/': what runs with the
 * repositories' owner's rights is a fresh program that is given the notes
 * and nothing else of this process. `user` must own them all. 0 when all
 * are written, or an error with what the writer said; written[i] (may be
 * NULL) is set for each repository whose notes were all written, also
 * when another's failed.
 */
int notebox_deliver(const char *const *repos, size_t nrepos,
    const struct notebox_note *v, size_t n, const struct run_user *user,
    unsigned char *written);

/*
 * Which of notes `v` `repo` has already (each v[i].in_place), as
 * NOTEBOX_WRITER NOTEBOX_CHECK_COMMAND, started as notebox_deliver()
 * starts the writer, sees them within 10 s: the daemon opens no
 * repository another user may change in a process of its own (a FIFO
 * there would hold it). 0, or an error (then none is in place).
 */
int notebox_check(const char *repo, struct notebox_note *v, size_t n,
    const struct run_user *user);

#endif
