/*
 * `runner serve`: a supervisor and a pool of forked workers. The
 * supervisor owns the wake-up socket and the signals; each worker claims
 * jobs from the store and runs them.
 */
#ifndef RUNNER_DAEMON_H
#define RUNNER_DAEMON_H

#include <sys/types.h>

struct config;

/* Serve `home` until SIGTERM or SIGINT. Returns 0 after a clean stop.
 * SIGHUP reads runner.yml again and reopens `log_file` (NULL: none). */
int daemon_serve(const char *home, const struct config *conf, int workers,
    const char *log_file);

/*
 * Can the daemon run repository code confined here (the users of the
 * security model, those of `workers` workers among them, bubblewrap)? 0,
 * or an error saying what to do; with trust_repositories, 0 and a warning
 * in the log.
 */
int daemon_check_confinement(const char *home, const struct config *c,
    int workers);

#endif
