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

/*
 * The program beside `runner` that links libgit2, libcurl and libarchive
 * (as git's git-remote-http alone links libcurl): the daemon's workers
 * and notifier, and the commands that need those libraries. `runner`
 * itself stays small, so that status, show, log and the supervisor start
 * fast.
 */
#define WORKER_PROGRAM "runner-worker"
/* The web page's program (libmicrohttpd), started when runner.yml says
 * http: listen. */
#define WEB_PROGRAM "runner-web"

/* Serve `home` until SIGTERM or SIGINT. Returns 0 after a clean stop.
 * SIGHUP reads runner.yml again and reopens `log_file` (NULL: none). */
int daemon_serve(const char *home, const struct config *conf, int workers,
    const char *log_file);

/* The pid of the daemon serving `home`, or 0 if none holds the lock. */
int daemon_pid(const char *home);
/*
 * Can the daemon run repository code confined here (the users of the
 * security model, those of `workers` workers among them, bubblewrap)? 0,
 * or an error saying what to do; with trust_repositories, 0 and a warning
 * in the log.
 */
int daemon_check_confinement(const char *home, const struct config *c,
    int workers);
/*
 * The user the daemon of `home` runs as: the running daemon's, else the
 * home's owner (root's home is served by root, the home of 'runner' by
 * 'runner'). What doctor and status judge for, whoever runs them.
 */
uid_t daemon_uid(const char *home);
/* When the daemon serving `home` started (ms since the epoch), or 0. */
int64_t daemon_since(const char *home);

#endif
