/*
 * A repository's refs read from its files, with no link followed and no
 * FIFO waited on: for a repository whose owner is not the reader, who
 * may make a ref (or a folder on the way to it) a link to a file of the
 * reader's, or a FIFO that would hold it. libgit2 and git would follow
 * both.
 */
#ifndef RUNNER_REFFILE_H
#define RUNNER_REFFILE_H

#include <stddef.h>

struct sbuf;

/* Open `name` (a relative path) below folder `dir`, each part of it
 * without following a link; its last part with `last` (open's flags).
 * -1 and errno on a failure. */
int reffile_open_below(int dir, const char *name, int last);

/* File `name` below folder `dir` (each part of its path reached without
 * a link), read only if it is a regular file of one name (a hard link to
 * a file of the reader's is no ref), at most `max` bytes, into `out`.
 * ERR_NOTFOUND if it is not there. */
int reffile_read(int dir, const char *name, size_t max, struct sbuf *out);

/* An object id of 40 or 64 hex digits at the start of `s`, ended by
 * `end` or the string's end: its length, else 0. */
size_t reffile_hex_id(const char *s, char end);

#endif
