/*
 * Git notes written in this process with libgit2 (the notifier's results
 * under refs/notes/runner), instead of a git process per note.
 */
#ifndef RUNNER_NOTE_H
#define RUNNER_NOTE_H

#include <sys/types.h>

/*
 * Make `text` the note of `commit` (hex) under `ref` in the bare
 * repository `repo`, replacing the one it had. With `uid` and `gid` not
 * -1 (a runner running as root), the files are written as that user
 * (filesystem ids), so that the objects and the ref belong to the
 * repository's owner like the rest; with umask 022, as a push writes
 * them. The update of the ref is a compare-and-swap: another writer in
 * between makes it fail, and it is tried again.
 */
int note_write(const char *repo, const char *ref, const char *commit,
    const char *text, uid_t uid, gid_t gid);

#endif
