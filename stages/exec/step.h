/*
 * The steps of a job: one command run with its environment, secrets,
 * sandbox, user and log, its outcome recorded in the store. A build
 * (build.h) and a deployment (deploy.h) are two kinds of job over them.
 */
#ifndef RUNNER_STEP_H
#define RUNNER_STEP_H

#include "stage.h"
#include "state.h"

struct config;
struct job;
struct store;

struct job_ctx {
	const char *home;
	const struct config *conf;
	struct store *store;
	/* Who runs repository code, when the daemon is root: `build_user`
	 * this worker's build stages (runner.yml build_user-N, a user per
	 * worker, so that per-user limits count per job), `user` the build
	 * user itself, the commands of environments without a user of
	 * their own. NULL: the runner's own user, confined unless trusted. */
	const struct run_user *user;
	const struct run_user *build_user;
	/* Worker events (cancel, shutdown) for the stage runner. */
	int event_fd;
	enum stage_event (*on_event)(void *arg);
	void *arg;
	const int *stopping;	/* set once the daemon is shutting down */
	/* The worker's number, which names the workspace it keeps between
	 * builds (build.c); -1: it keeps none. */
	int slot;
	/* How the job ended, once its end is recorded (for the worker's log
	 * line; `ended` 0: ask the store) */
	int ended;
	enum job_state ended_state;
	char *ended_error;
	/* Why the job must end failed at once (the store's disk is full),
	 * set by on_event; the stage running is killed. The worker's. */
	char *fail;
};

/*
 * Does this host (runner.yml host: labels) have every label in `need`?
 * If not, the job goes back to the queue with what it needs, for another
 * host (the claims of hosts without them pass it by), and the log says
 * why ("job #N: WHAT on hosts labelled ..."): 1, with *error the store's
 * answer. Else 0.
 */
struct job;
int job_hand_on(struct job_ctx *ctx, const struct job *job,
    const char *const *need, size_t n, const char *what, int *error);

/* Does this host send its logs and artifacts through the store (it has
 * runner.yml host: sources, so the git server does not see its files)? */
int job_ships(const struct job_ctx *ctx);
/* Send the whole log `log` of step `idx` through the store, when this
 * host does (a step recorded without running a command). */
int job_ship_log(struct job_ctx *ctx, int64_t job, int idx, const char *log);
/* The repository of `job` as this host reads it: the git server's path,
 * or its fetched copy (fetch.h). *path is the caller's to free. */
int job_source(struct job_ctx *ctx, const struct job *job, char **path);

/* One command run as a recorded, logged step of a job. */
struct job_step {
	const char *name;	/* the stage name shown */
	const char *what;	/* "stage", "deploy"...: used in messages */
	const char *script;
	const char *cwd;
	char *const *env;	/* extra KEY=VALUE, NULL-terminated */
	char *const *secrets;	/* runner.yml secrets it is given, by name */
	const struct run_limits *limits;	/* NULL: runner.yml's */
	int isolate, network;	/* bubblewrap, and the network in it */
	int64_t timeout_ms;	/* 0: default_timeout */
	int keep_detached;	/* deploys may leave services running */
	/* Commands of an environment: its name (NULL for build stages), the
	 * paths it reads (its releases) and writes (its state folder, what
	 * runner.yml grants), and the user it runs as (NULL: ctx->user). */
	const char *env_name;
	const char *const *ro;
	const char *const *rw;
	const struct run_user *user;
	/* A build stage's bounds on the disk (0: runner.yml's `disk`): its
	 * workspace (cwd), measured while it runs, and the job's logs. */
	int64_t workspace_max;
	int64_t logs_max;
	/* keep_detached in a sandbox: the services stay in the command's
	 * pid namespace, whose init is told here as soon as it is up (to be
	 * recorded: ending the init ends them all); a store error returned
	 * ends the step */
	int (*on_services)(void *arg, pid_t init, uint64_t pidns);
	void *services_arg;
	const char *preamble;	/* written to the log first, or NULL */
};

/* Does repository code run under bubblewrap, `isolate` being what
 * runner.yml says for its repository? */
int job_confined(const struct job_ctx *ctx, int isolate);

/*
 * Give a workspace or state folder to `user` (when the daemon switches
 * users): it and everything below it, walked by descriptors with the
 * folder after its children (chown_tree_at): a link changes owner itself,
 * a file with a second name or a mount point is refused. Returns 0 or -1
 * with a message naming the path.
 */
int job_give(const char *path, const struct run_user *user);

/*
 * Run `st` as the next stage of `job`. *err (caller frees) says why it
 * did not pass, or stays NULL. Returns a negative code only when the
 * store failed.
 */
int job_step(struct job_ctx *ctx, const struct job *job,
    const struct job_step *st, char **err);

/*
 * Run `st` as stage `idx` of `job`, its output in `log`. On return
 * res->state is the stage's state and res->error (caller frees) why it did
 * not pass; res->fd is the log, still open for notes. Returns 0, or a
 * negative code if the store failed.
 */
struct step_result {
	enum step_state state;
	char *error;
	int fd;
	int exit_code;
	int canceled, interrupted;
	int disk_full;		/* it ended because the disk is full */
};
int step_run_logged(struct job_ctx *ctx, const struct job *job, int idx,
    const char *log, const struct job_step *st, struct step_result *res);
/*
 * The benchmark's baseline for a stage's start: `st` started `n` times one
 * after the other as step_run_logged would start it (stage_spawn: the
 * same environment, sandbox, filter, user and limits), output discarded,
 * each waited for; no log, no store. 0, or -1 with a message.
 */
int step_spawn_loop(struct job_ctx *ctx, const struct job *job,
    const struct job_step *st, int n);
/* Append a line of the runner's own ("[runner: MSG]") to a step's log. */
void step_note(int fd, const char *msg);

/* Create the log folder of `job`. */
int job_logs_dir(struct job_ctx *ctx, const struct job *job);

/* Log file of stage `idx` named `name` of job `id`. Caller frees. */
char *job_log_path(const char *home, int64_t id, int idx, const char *name);
/* The workspace of job `id`. Caller frees. */
char *job_workspace_path(const char *home, int64_t id);
/* The artifact archive of job `id`. Caller frees. */
char *job_artifact_path(const char *home, int64_t id);

#endif
