/*
 * Inside stages/deploy, shared by the files of one deployment: its
 * state (`struct deploy`) and what each file gives the others.
 */
#ifndef RUNNER_DEPLOY_INT_H
#define RUNNER_DEPLOY_INT_H

#include "config.h"
#include "pipeline.h"
#include "run.h"
#include "state.h"
#include "store.h"
#include "util.h"

struct service;

struct deploy {
	struct job_ctx *ctx;
	struct job *job;
	char *repo;		/* where this host reads the repository */
	const struct repo_conf *rc;
	struct pipeline *pl;
	const struct env_def *env;
	struct job *source;	/* the build deployed */
	struct job *prev;	/* the release serving before, if any */
	char *ws;
	char *tmp;
	char *state_dir;	/* the environment's own, kept across releases */
	/* HOME/backups/REPO/ENV/ID: where this deployment's backup command
	 * saves the data of the release serving before it */
	char *backup_dir;
	/* the backup a restore puts back: the one taken when the release
	 * being returned to stopped serving; NULL if there is none */
	char *restore_dir;
	struct run_user grant_user;	/* runner.yml's user for it, if any */
	const struct run_user *user;	/* who runs its commands */
	enum job_state state;	/* the outcome; JOB_RUNNING: none yet */
	char *error;
	char *host;		/* this host's name, for its services */
	int answered;		/* an http check of it got its answer */
	/* said in the log of the next command: the services ended */
	struct sbuf ended;
};


/* deploy.c: the outcome and the log of the deployment */
void deploy_set_outcome(struct deploy *d, enum job_state state, char *error);
void deploy_reject(struct deploy *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int deploy_wait_ms(struct deploy *d, int64_t ms);
int deploy_record_step(struct deploy *d, const char *name, int ok,
    const char *error, const char *text, int64_t started);

/* gates.c: whether it may happen, and of which build */
void deploy_resolve(struct deploy *d);
void deploy_gates(struct deploy *d, const char *ws);

/* quorum.c: approvals. A deployment an approval tag queued becomes its
 * release's: the approval tag's name (caller frees), or NULL (not one,
 * or rejected). Then 0 when the release `rel` has the approvals it
 * needs (recorded), 1 when it is held or rejected (the outcome set). */
struct tag_info;
char *deploy_approval_release(struct deploy *d);
int deploy_quorum(struct deploy *d, const struct tag_info *rel,
    const char *approval);

/* release.c: its folders */
int deploy_prepare(struct deploy *d, const char *commit, const char *ws,
    struct pipeline **pl);
int deploy_extract_release(struct deploy *d, const struct job *build,
    const struct job *rel, char **why);
int deploy_env_user(struct deploy *d);
int deploy_state_dir(struct deploy *d);
char *deploy_release_dir(const struct deploy *d);

/* services.c: the environment's commands and their services */
int deploy_end_services(struct deploy *d, char **why);
int deploy_run_cmd(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, int64_t timeout_ms,
    int keep_detached, char **err);
int deploy_service_alive(const struct service *svc);
int deploy_command(struct deploy *d, const char *name, const char *script,
    const char *ws, const struct job *release, char **err);

/* verify.c: the checks */
int deploy_run_checks(struct deploy *d, const char *ws,
    const struct job *release, int *ok);
int deploy_verify(struct deploy *d, int *ok);
int deploy_endpoint_check(struct deploy *d, int *ok);

/* usage.c: the CPU and memory the verification window measures */
enum usage_kind { USAGE_HOST, USAGE_SESSION, USAGE_CGROUP, USAGE_PROMETHEUS };
struct usage {
	enum usage_kind kind;
	char *what;		/* the source, as the log and figures say it */
	int cgfd;		/* USAGE_CGROUP: its folder */
	uint64_t *ns;		/* USAGE_SESSION: the services' pid namespaces */
	size_t nns;
	const char *url, *cpu_series, *mem_series;	/* USAGE_PROMETHEUS */
	double cpus;		/* how many CPUs are 100 % */
	int64_t mem_total;	/* how many bytes are 100 % */
	double last_busy, last_all;	/* the reading before */
	int64_t last_ms;
	int primed;
};
/* Pick the environment's sharpest source into `u` (released with
 * usage_release, also after a failure). */
int usage_open(struct deploy *d, struct usage *u);
/* One sample: the CPU percentage since the one before (-1 for the first,
 * and when the one before is less than 250 ms ago: it then counts from
 * that one at the next) and the bytes in memory now. -1 with the message when the source
 * cannot be read this time. */
int usage_sample(struct usage *u, double *cpu, int64_t *mem);
void usage_release(struct usage *u);
/* The sum of series `name` over its label sets in Prometheus's text
 * format; ERR_NOTFOUND when it has none. */
int usage_prom_value(const char *text, const char *name, double *out);

#endif
