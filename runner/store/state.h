/*
 * The states of jobs, steps, environments and notifications, with their
 * names (as stored, printed and sent) written here once, and the job
 * state machine: which transitions are legal. The store refuses any other
 * (store_job_move, jobs.h).
 *
 *   queued ──▶ running ──▶ passed | failed | error | canceled | interrupted
 *     │           │        (builds)
 *     │           ├──▶ healthy | rolled_back | rejected | failed |
 *     │           │    canceled | interrupted   (deployments)
 *     │           └──▶ queued   (recovery: a build whose worker died)
 *     └──▶ superseded | canceled | rejected
 */
#ifndef RUNNER_STATE_H
#define RUNNER_STATE_H

/* The names, for the tables in state.c and the store's SQL (SQ() quotes
 * one for SQL text). */
#define N_QUEUED "queued"
#define N_RUNNING "running"
#define N_PASSED "passed"
#define N_FAILED "failed"
#define N_ERROR "error"
#define N_CANCELED "canceled"
#define N_SUPERSEDED "superseded"
#define N_INTERRUPTED "interrupted"
#define N_HEALTHY "healthy"
#define N_ROLLED_BACK "rolled_back"
#define N_REJECTED "rejected"
#define N_PENDING "pending"
#define N_TIMED_OUT "timed_out"
#define N_SKIPPED "skipped"
#define N_DEPLOYING "deploying"
#define N_DELIVERED "delivered"
#define N_DEAD "dead"
#define SQ(name) "'" name "'"

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_PASSED,		/* a build whose stages all passed */
	JOB_FAILED,		/* a stage failed; a deployment that failed */
	JOB_ERROR,		/* the build could not run its stages */
	JOB_CANCELED,
	JOB_SUPERSEDED,		/* a newer push to the same ref came first */
	JOB_INTERRUPTED,	/* the daemon stopped or died */
	JOB_HEALTHY,		/* a deployment that serves and passed checks */
	JOB_ROLLED_BACK,	/* failed, and the previous release serves */
	JOB_REJECTED,		/* refused before anything was deployed */
	JOB_STATES
};

/* A stage of a build, or a step of a deployment. */
enum step_state {
	STEP_PENDING,
	STEP_RUNNING,
	STEP_PASSED,
	STEP_FAILED,
	STEP_TIMED_OUT,
	STEP_CANCELED,
	STEP_INTERRUPTED,
	STEP_SKIPPED,
	STEP_STATES
};

/* An environment, by its latest deployment. */
enum env_state {
	ENV_DEPLOYING,
	ENV_HEALTHY,
	ENV_FAILED,
	ENV_STATES
};

enum notif_state {
	NOTIF_PENDING,
	NOTIF_DELIVERED,
	NOTIF_DEAD,
	NOTIF_STATES
};

/* The name of a state ("queued"...). */
const char *job_state_name(enum job_state s);
const char *step_state_name(enum step_state s);
const char *env_state_name(enum env_state s);
const char *notif_state_name(enum notif_state s);

/* The state of a name, or -1 for a name that is none (a store written
 * by a newer version). */
int job_state_parse(const char *name);
int step_state_parse(const char *name);
int env_state_parse(const char *name);
int notif_state_parse(const char *name);

/* Has a job in this state ended (nothing will change it again)? */
int job_state_final(enum job_state s);
/* May a job go from `from` to `to`? */
int job_state_legal(enum job_state from, enum job_state to);

#endif
