/*
 * `runner serve`: a supervisor and a pool of forked workers. The
 * supervisor owns the wake-up socket and the signals; each worker claims
 * jobs from the store and runs them.
 */
#ifndef RUNNER_DAEMON_H
#define RUNNER_DAEMON_H

#include <sys/types.h>

struct config;

#define LOCK_FILE "runner.pid"

/* Serve `home` until SIGTERM or SIGINT. Returns 0 after a clean stop. */
int daemon_serve(const char *home, const struct config *conf, int workers);

/* The pid of the daemon serving `home`, or 0 if none holds the lock. */
int daemon_pid(const char *home);
/* When the daemon serving `home` started (ms since the epoch), or 0. */
int64_t daemon_since(const char *home);

/* A timestamped line on the daemon's log (stderr). */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The children's main functions (in runner-worker, see worker.c): they
 * run until SIGTERM and return the exit code. `wake_r` is the read end of
 * the pipe the supervisor pokes; `parent` is the supervisor.
 */
typedef int daemon_child(const char *home, int wake_r, pid_t parent);
daemon_child daemon_worker_main, daemon_notifier_main;

#endif
