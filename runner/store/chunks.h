/*
 * What a host that does not share the git server's files sends through
 * the store, so that every host shows and deploys the same: the logs of
 * the stages it runs, in chunks as they are written, and its artifacts.
 * A stage's chunks go with its stage row (a new attempt starts afresh),
 * an artifact's with its artifact row.
 */
#ifndef RUNNER_CHUNKS_H
#define RUNNER_CHUNKS_H

#include "store.h"

#include <stddef.h>
#include <stdint.h>

struct sbuf;

/* Append chunk `seq` (from 0) of the log of stage `idx` of job `id`;
 * PostgreSQL tells those who watch logs when it commits. */
int store_log_append(struct store *s, int64_t id, int idx, int seq,
    const char *buf, size_t len);

/*
 * Be told when a chunk of a log is stored, by any host (PostgreSQL's
 * LISTEN, on this connection): then store_fd() is readable, and
 * store_log_heard() calls `fn` with the job and stage of each chunk
 * stored since (returns how many, or < 0 when the connection broke: the
 * next statement opens it again, listening again). SQLite: ERR_NOTFOUND
 * (its logs are files, watched with inotify).
 */
int store_log_watch(struct store *s);
int store_log_heard(struct store *s, void (*fn)(int64_t id, int idx,
    void *arg), void *arg);

/*
 * The log of stage `idx` of job `id` from chunk `from` on, appended to
 * `out`; *next is the chunk to ask for next time. Returns how many
 * chunks there were (0: none, or none yet), or a negative code.
 */
int store_log_read(struct store *s, int64_t id, int idx, int from,
    struct sbuf *out, int *next);

/*
 * The end of the log of stage `idx` of job `id`, at most `max` bytes, read
 * from its last chunks (never the whole log), appended to `out`. Returns
 * how many chunks it read (0: none), or a negative code.
 */
int store_log_tail(struct store *s, int64_t id, int idx, size_t max,
    struct sbuf *out);

/* Copy the artifact of job `id` (recorded already) from the file `fd`
 * into the store. */
int store_artifact_put(struct store *s, int64_t id, int fd);

/*
 * Write the artifact of job `id` that the store holds to `fd`. Returns
 * the bytes written, 0 when the store holds none (its host shares the
 * files), or a negative code.
 */
int64_t store_artifact_fetch(struct store *s, int64_t id, int fd);

/* runner gc: forget what job `id` sent of its logs, of its artifact. */
int store_chunks_drop(struct store *s, int64_t id, int logs, int artifact);

#endif
