/*
 * The daemon's children, run in runner-worker: the workers, which claim
 * jobs from the store and run them, the notifier, which routes events
 * and delivers notifications, and the answers to hooks (answer.c).
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

/*
 * `answer HOME PARENT -1`, with a connection to HOME/ask.sock that the
 * supervisor accepted as descriptor 3 (`wake_r`): answer the one hook at
 * its other end (ask.h) and return.
 */
worker_child answer_main;

#endif
