/*
 * Artifacts: files of the workspace matched by globs, archived as one
 * tar.zst per job with its sha256, and extracted again without ever writing
 * outside the destination.
 */
#ifndef RUNNER_ARTIFACT_H
#define RUNNER_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct artifact_writer;
struct glob_set;

/*
 * Globs relative to a tree: '*' and '?' stay within one path component,
 * '**' crosses them, '[...]' is a class. A glob that matches a directory
 * takes everything under it.
 */
int glob_set_compile(char *const *globs, size_t n, struct glob_set **out);
/* 1 if `path` matches, 0 if not; -1 with a message naming the glob when
 * one backtracked past its match limit. */
int glob_set_match(const struct glob_set *g, const char *path);
void glob_set_free(struct glob_set *g);

/* Start writing an archive at `path` (the caller renames it when done). */
int artifact_open(const char *path, struct artifact_writer **out);
/* Fail the archive, with a message saying so, once it would grow past
 * `bytes` (0: no bound). */
void artifact_set_max(struct artifact_writer *w, int64_t bytes);
/*
 * Make artifact_add() stop with an error once mono_ms() reaches
 * `deadline_ms` (0: never) or when `canceled(arg)` returns non-zero
 * (asked at most every 250 ms).
 */
void artifact_set_stop(struct artifact_writer *w, int64_t deadline_ms,
    int (*canceled)(void *arg), void *arg);
/*
 * Add the files under `root` matched by `globs`; files already added are
 * skipped. Symlinks are stored as symlinks, never followed. *matched is
 * the number of new entries.
 */
int artifact_add(struct artifact_writer *w, const char *root,
    char *const *globs, size_t nglobs, size_t *matched);
/* Finish the archive; fills the hex sha256, size and file count. */
int artifact_close(struct artifact_writer *w, char sha256[65],
    int64_t *size, int64_t *files);
/* Drop an unfinished archive and remove its file. */
void artifact_abort(struct artifact_writer *w);

/*
 * A copy of the artifact of build `id` (recorded at `recorded` with
 * `sha256`) that this host can read: the recorded file when this host
 * sees it, else HOME/artifacts/ID.tar.zst, fetched from the store (a host
 * that shares only the store sent it there) and checked against its
 * sha256 first. *path is the caller's to free.
 */
struct store;
int artifact_local(struct store *s, const char *home, int64_t id,
    const char *recorded, const char *sha256, char **path);

/* Send the artifact of build `id` at `path` (recorded already) to a
 * shared store, for hosts that do not see this one's files. */
int artifact_upload(struct store *s, int64_t id, const char *path);

/* sha256 of a file, as 64 hex digits. */
int sha256_file(const char *path, char out[65]);
/*
 * Extract `archive` into `dest` (created if needed). With `sha256`, the
 * file's digest must match first. Absolute paths, '..', links leading out
 * and special files are refused, naming the entry.
 */
int artifact_extract(const char *archive, const char *dest,
    const char *sha256);

/*
 * Make the extracted release at `dir` read-only to repository code: owned
 * by this process's user, group `gid` ((gid_t)-1: unchanged) with read
 * (and search) rights, nothing for others, writable by no one but the
 * owner. It is walked by descriptors, never through a link, and `dir`
 * itself is opened last: made closed (0700) before extracting into it,
 * it lets nobody in before every file in it is read-only. Then append
 * its manifest (manifest.h) to `manifest`.
 */
struct sbuf;
int release_seal(const char *dir, gid_t gid, struct sbuf *manifest);

#endif
