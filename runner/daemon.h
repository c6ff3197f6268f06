/*
 * `runner serve`: a supervisor and a pool of forked workers. The
 * supervisor owns the wake-up socket and the signals; each worker claims
 * jobs from the store and runs them.
 */
#ifndef RUNNER_DAEMON_H
#define RUNNER_DAEMON_H

struct config;

#define LOCK_FILE "runner.pid"

/* Serve `home` until SIGTERM or SIGINT. Returns 0 after a clean stop. */
int daemon_serve(const char *home, const struct config *conf, int workers);

/* The pid of the daemon serving `home`, or 0 if none holds the lock. */
int daemon_pid(const char *home);

#endif
