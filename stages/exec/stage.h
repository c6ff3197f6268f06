/*
 * Running one stage: `/bin/sh -e -c SCRIPT` in its own session and process
 * group, stdin from /dev/null, stdout and stderr in order into the log, a
 * timeout that ends the whole tree (SIGTERM, a grace period, SIGKILL), and
 * nothing left behind when it ends.
 */
#ifndef RUNNER_STAGE_H
#define RUNNER_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "run.h"

struct masker;

enum stage_event {
	STAGE_EV_NONE,
	STAGE_EV_CANCEL,	/* end it now */
	STAGE_EV_SHUTDOWN,	/* let it run up to the shutdown grace */
};

struct stage_spec {
	const char *script;
	const char *cwd;
	char *const *envp;
	int log_fd;			/* where output goes */
	uint64_t log_cap;		/* bytes kept at most; 0: no cap */
	int64_t timeout_ms;		/* 0: none */
	int64_t kill_grace_ms;		/* SIGTERM to SIGKILL */
	int64_t shutdown_grace_ms;
	int keep_detached;		/* leave processes that left the group */
	int event_fd;			/* -1, or readable when on_event has news */
	enum stage_event (*on_event)(void *arg);
	void (*on_start)(pid_t pgid, void *arg);
	/* called every tick_ms while the stage runs (0: never), after its
	 * output so far is in the log */
	void (*on_tick)(void *arg);
	int64_t tick_ms;
	/* a sandbox whose pid namespace outlives the command
	 * (sandbox->keep_ns): called once its init is up, with the init's
	 * pid and the namespace's inode, before the command's end is known */
	void (*on_sandbox)(pid_t init, uint64_t pidns, void *arg);
	void *arg;
	struct masker *mask;		/* secrets to mask in the log, or NULL */
	struct run_limits limits;
	const struct run_user *user;	/* run as this user, or NULL */
	const struct run_sandbox *sandbox;	/* under bubblewrap, or NULL */
};

enum stage_end {
	STAGE_EXITED,
	STAGE_TIMED_OUT,
	STAGE_CANCELED,
	STAGE_INTERRUPTED,
	STAGE_SPAWN_FAILED,
};

struct stage_result {
	enum stage_end end;
	int exit_code;		/* as a shell reports it: 128 + signal */
	int64_t duration_ms;
	int log_errno;		/* a failed log write (ENOSPC...), else 0 */
	uint64_t log_bytes;
	int capped;
};

/* Run a stage to its end. Returns 0 (see out->end) or -1 if it could not
 * be started at all. */
int stage_run(const struct stage_spec *spec, struct stage_result *out);

/*
 * Start the stage's shell as stage_run does (its session, user, sandbox,
 * limits, environment), its output to `out_fd`, and return: no log, no
 * watch, the caller waits for *pid. For the benchmark's baseline.
 */
int stage_spawn(const struct stage_spec *spec, int out_fd, pid_t *pid);

/*
 * Make this process a subreaper, so that descendants which leave the
 * stage's process group are reparented here and can be ended.
 */
void stage_become_subreaper(void);
/* End and reap every child of this process and their descendants. */
void stage_sweep_children(void);


#endif
