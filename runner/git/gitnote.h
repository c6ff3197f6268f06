/*
 * Git notes read and written in this process with libgit2 (the
 * notifier's results under refs/notes/runner), instead of a git process
 * per note. Whoever calls it may write the repository: its owner (the
 * hook, or a helper a root daemon started as the owner).
 */
#ifndef RUNNER_GITNOTE_H
#define RUNNER_GITNOTE_H

#include <stddef.h>

/*
 * A repository opened once for the notes of a batch. libgit2 is set up
 * at the first open of the process and stays so (its set-up reads the
 * system's CA bundle): a process writes all its notes with one set-up.
 */
struct note_repo;
/* Open the bare repository `repo`: 0 and *out (note_repo_free()), or an
 * error naming it. */
int note_repo_open(const char *repo, struct note_repo **out);
void note_repo_free(struct note_repo *nr);
struct note_text {
	const char *commit;	/* hex */
	const char *text;
};
/*
 * Notes `v` into the open repository, as note_write() writes one (of
 * two for one commit, the later counts): all that say something new in
 * one commit of `ref`, one tree written and the ref moved once. 0, or an
 * error naming the repository.
 */
int note_repo_write_all(struct note_repo *nr, const char *ref,
    const struct note_text *v, size_t n);
/* note_write() and note_read() on an open repository. */
int note_repo_write(struct note_repo *nr, const char *ref, const char *commit,
    const char *text);
int note_repo_read(struct note_repo *nr, const char *ref, const char *commit,
    char **text);

/*
 * Make `text` the note of `commit` (hex) under `ref` in the bare
 * repository `repo`, replacing another one; a note that already says
 * `text` is left as it is. libgit2 reads the repository's configuration
 * alone (no global, XDG or system one: whose HOME would it be?), and the
 * files are made with the repository folder's own mode bits (a 0750
 * repository gets 0640 objects). What it reads of the notes is bounded
 * as note_read() bounds it. The update of the ref is a compare-and-swap:
 * another writer in between makes it fail, and it is tried again.
 */
int note_write(const char *repo, const char *ref, const char *commit,
    const char *text);

/* The note of `commit` under `ref`: 1 and *text (caller frees), 0 when
 * there is none, 2 when it is over 1 MiB (not read, so never a note of
 * ours), or an error (a notes commit or tree over 16 MiB, which is not
 * read either). Reads only. */
int note_read(const char *repo, const char *ref, const char *commit,
    char **text);

#endif
