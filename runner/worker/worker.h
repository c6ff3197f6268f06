/*
 * The daemon's children, run in runner-worker: the workers, which claim
 * jobs from the store and run them, and the notifier, which routes events
 * and delivers notifications.
 */
#ifndef RUNNER_WORKER_H
#define RUNNER_WORKER_H

#include <sys/types.h>

/*
 * Run until SIGTERM (or, when runner.yml's idle_exit passes with nothing
 * to do, leave) and return the exit code. `wake_r` is the read end of the
 * pipe the supervisor pokes; `parent` is the supervisor; `slot` is the
 * worker's number, which names the user its build stages run as (-1 for
 * the notifier).
 */
typedef int worker_child(const char *home, int wake_r, pid_t parent,
    int slot);
worker_child worker_main, notifier_main;

#endif
