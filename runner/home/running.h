/*
 * Whether a daemon serves a home: who holds its lock (runner.pid, which
 * `runner serve` takes and writes its pid into), since when, as whom.
 * What status, doctor and the web page ask, without the supervisor.
 */
#ifndef RUNNER_RUNNING_H
#define RUNNER_RUNNING_H

#include <stdint.h>
#include <sys/types.h>

#define LOCK_FILE "runner.pid"

/* The pid of the daemon serving `home`, or 0 if none holds the lock. */
int daemon_pid(const char *home);
/*
 * The user the daemon of `home` runs as: the running daemon's, else the
 * home's owner (root's home is served by root, the home of 'runner' by
 * 'runner'). What doctor and status judge for, whoever runs them.
 */
uid_t daemon_uid(const char *home);
/* When the daemon serving `home` started (ms since the epoch), or 0. */
int64_t daemon_since(const char *home);

#endif
