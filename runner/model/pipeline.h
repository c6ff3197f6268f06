/*
 * The pipeline file, `.runner.yml`, as read from a pushed commit: an ordered
 * list of stages, each a shell script with a timeout, extra variables and
 * artifact globs. The schema is documented in docs/pipeline.md.
 */
#ifndef RUNNER_PIPELINE_H
#define RUNNER_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "run.h"

#define PIPELINE_FILE "/.runner.yml"
#define PIPELINE_NAME ".runner.yml"
#define PIPELINE_MAX_BYTES (1024 * 1024)
#define PIPELINE_MAX_STAGES 100

struct sbuf;

/* Where a key stands in the file, for messages about its value. */
struct ypos {
	size_t line, col;
};

struct stage_def {
	char *name;
	char *run;		/* one script; a list is joined with newlines */
	int64_t timeout_ms;	/* 0: the server's default */
	char **env;		/* "KEY=VALUE", NULL-terminated */
	size_t nenv;
	char **artifacts;	/* globs, NULL-terminated */
	size_t nartifacts;
	char **secrets;		/* names of runner.yml secrets it is given */
	size_t nsecrets;
	struct run_limits limits;	/* 0s: runner.yml's */
	int isolate;		/* -1: runner.yml's; 0 or 1 */
	int network;		/* -1: runner.yml's; 0 or 1 */
	char *only, *except;	/* patterns on the branch or tag name */
	char **runs_on;		/* labels its host must have */
	size_t nruns_on;
	struct ypos isolate_at, network_at;
	size_t line;
};

/* A check after a deploy: an HTTP GET, or a command like a stage. */
struct check_def {
	char *http;		/* absolute URL, or a path relative to the url */
	int64_t expect;		/* status; default 200 */
	int64_t max_latency_ms;	/* default 1s */
	int64_t retries;	/* default 10, 0.5 s apart */
	char *run;		/* a command check instead */
	int64_t timeout_ms;
	size_t line;
};

/* The verification window after a production deploy. */
struct verify_def {
	int set;
	int64_t window_ms;		/* default 30s */
	int64_t interval_ms;		/* default 1s */
	double max_error_rate;		/* a fraction: "0.1%" is 0.001 */
	int64_t max_latency_ms;		/* p95 bound; default 1s */
	/* resources (verify.c, usage.c); 0: not checked */
	double max_cpu_pct;		/* 100 is one CPU, or a cgroup's quota */
	double max_memory_pct;		/* of the memory the source has */
	int64_t max_memory_bytes;	/* or an absolute size */
};

struct env_def {
	char *name;
	char *url;
	char *deploy;
	char *backup;
	char *restore;
	int signed_tag;			/* requires: signed-tag */
	int64_t timeout_ms;		/* of each command; default 10m */
	struct check_def *checks;
	size_t nchecks;
	struct verify_def verify;
	char **require_env;
	size_t nrequire_env;
	char *require_changelog;
	int64_t require_tls_days;
	char **secrets;		/* given to its commands and checks */
	size_t nsecrets;
	size_t line;
};

struct pipeline {
	struct stage_def *stages;
	size_t nstages;
	char **runs_on;		/* labels the host of every stage must have */
	size_t nruns_on;
	struct env_def *envs;
	size_t nenvs;
	struct disk_limits disk;	/* 0s: runner.yml's; never more */
};

/* Every label a host needs to run the whole pipeline (its own runs_on
 * and its stages'), each once; NULL-terminated, the caller frees the
 * array only. */
const char **pipeline_labels(const struct pipeline *pl, size_t *n);

/* The environment called `name`, or NULL. */
const struct env_def *pipeline_env(const struct pipeline *pl,
    const char *name);

/*
 * Parse a pipeline from `buf`; messages name `file` with line and column.
 * The caller frees *out with pipeline_free().
 */
int pipeline_parse(const char *file, const char *buf, size_t len,
    struct pipeline **out);
/* Read and parse a pipeline file on disk (`runner check`). */
int pipeline_load(const char *path, struct pipeline **out);
void pipeline_free(struct pipeline *pl);
/* A dump of the parsed pipeline with the defaults in effect (runner.yml's
 * `default_timeout` where a stage sets none), for golden tests and
 * `check --dump`. */
void pipeline_dump(const struct pipeline *pl, int64_t default_timeout_ms,
    struct sbuf *out);

/* The schema of .runner.yml (schema.h). */
struct schema;
extern const struct schema pipeline_schema;

#endif
