/*
 * State names and the job state machine (state.h).
 */
#include "state.h"

#include <string.h>

static const char *const job_names[JOB_STATES] = {
	[JOB_QUEUED] = N_QUEUED,
	[JOB_RUNNING] = N_RUNNING,
	[JOB_PASSED] = N_PASSED,
	[JOB_FAILED] = N_FAILED,
	[JOB_ERROR] = N_ERROR,
	[JOB_CANCELED] = N_CANCELED,
	[JOB_SUPERSEDED] = N_SUPERSEDED,
	[JOB_INTERRUPTED] = N_INTERRUPTED,
	[JOB_HEALTHY] = N_HEALTHY,
	[JOB_ROLLED_BACK] = N_ROLLED_BACK,
	[JOB_REJECTED] = N_REJECTED,
};

static const char *const step_names[STEP_STATES] = {
	[STEP_PENDING] = N_PENDING,
	[STEP_RUNNING] = N_RUNNING,
	[STEP_PASSED] = N_PASSED,
	[STEP_FAILED] = N_FAILED,
	[STEP_TIMED_OUT] = N_TIMED_OUT,
	[STEP_CANCELED] = N_CANCELED,
	[STEP_INTERRUPTED] = N_INTERRUPTED,
	[STEP_SKIPPED] = N_SKIPPED,
};

static const char *const env_names[ENV_STATES] = {
	[ENV_DEPLOYING] = N_DEPLOYING,
	[ENV_HEALTHY] = N_HEALTHY,
	[ENV_FAILED] = N_FAILED,
};

static const char *const notif_names[NOTIF_STATES] = {
	[NOTIF_PENDING] = N_PENDING,
	[NOTIF_DELIVERED] = N_DELIVERED,
	[NOTIF_DEAD] = N_DEAD,
};

#define BIT(s) (1u << (s))
/* legal[from]: the states a job may go to from `from` */
static const unsigned legal[JOB_STATES] = {
	[JOB_QUEUED] = BIT(JOB_RUNNING) | BIT(JOB_SUPERSEDED) |
	    BIT(JOB_CANCELED) | BIT(JOB_REJECTED),
	[JOB_RUNNING] = BIT(JOB_PASSED) | BIT(JOB_FAILED) | BIT(JOB_ERROR) |
	    BIT(JOB_CANCELED) | BIT(JOB_INTERRUPTED) | BIT(JOB_HEALTHY) |
	    BIT(JOB_ROLLED_BACK) | BIT(JOB_REJECTED) | BIT(JOB_QUEUED),
};

static const char *name_of(const char *const *names, int n, int s)
{
	return s >= 0 && s < n && names[s] ? names[s] : "unknown";
}

static int parse(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

const char *job_state_name(enum job_state s)
{
	return name_of(job_names, JOB_STATES, (int)s);
}

const char *step_state_name(enum step_state s)
{
	return name_of(step_names, STEP_STATES, (int)s);
}

const char *env_state_name(enum env_state s)
{
	return name_of(env_names, ENV_STATES, (int)s);
}

const char *notif_state_name(enum notif_state s)
{
	return name_of(notif_names, NOTIF_STATES, (int)s);
}

int job_state_parse(const char *name)
{
	return parse(job_names, JOB_STATES, name);
}

int step_state_parse(const char *name)
{
	return parse(step_names, STEP_STATES, name);
}

int env_state_parse(const char *name)
{
	return parse(env_names, ENV_STATES, name);
}

int notif_state_parse(const char *name)
{
	return parse(notif_names, NOTIF_STATES, name);
}

int job_state_final(enum job_state s)
{
	return s != JOB_QUEUED && s != JOB_RUNNING;
}

int job_state_legal(enum job_state from, enum job_state to)
{
	return (unsigned)from < JOB_STATES && (unsigned)to < JOB_STATES &&
	    (legal[from] & BIT(to)) != 0;
}
