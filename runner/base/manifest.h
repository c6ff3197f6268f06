/*
 * The manifest of a release: one line per file and symbolic link of the
 * extracted artifact, with its sha256 (or link target), mode, size and
 * inode change time. The worker writes it when it extracts a release
 * (artifact.c); `runner status` and `runner releases` compare a release
 * with it using lstat alone, so that they need no hashing: any write,
 * rename, chmod or new file changes what lstat sees (the change time
 * cannot be set back by a user).
 */
#ifndef RUNNER_MANIFEST_H
#define RUNNER_MANIFEST_H

#include <stddef.h>
#include <sys/stat.h>

struct sbuf;

/* Append the line of entry `rel` (a path relative to the release) with
 * its status `st` and `digest`: the hex sha256 of a file, or a link's
 * target. */
void manifest_add(struct sbuf *m, const char *rel, const struct stat *st,
    const char *digest);
/* How many entries a manifest lists. */
size_t manifest_count(const char *manifest);
/*
 * Compare the release at `dir` with `manifest`: returns how many entries
 * changed, went missing or were added (0: as extracted), and the first of
 * them in *first (caller frees; NULL when none), or a negative code when
 * `dir` cannot be read.
 */
int manifest_check(const char *dir, const char *manifest, char **first);

#endif
