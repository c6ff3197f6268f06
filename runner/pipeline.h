/*
 * The pipeline file, `.runner.yml`, as read from a pushed commit: an ordered
 * list of stages, each a shell script with a timeout, extra variables and
 * artifact globs. The schema is documented in docs/pipeline.md.
 */
#ifndef RUNNER_PIPELINE_H
#define RUNNER_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#define PIPELINE_FILE "/.runner.yml"
#define PIPELINE_NAME ".runner.yml"
#define PIPELINE_MAX_BYTES (1024 * 1024)
#define PIPELINE_MAX_STAGES 100

struct sbuf;

struct stage_def {
	char *name;
	char *run;		/* one script; a list is joined with newlines */
	int64_t timeout_ms;	/* 0: the server's default */
	char **env;		/* "KEY=VALUE", NULL-terminated */
	size_t nenv;
	char **artifacts;	/* globs, NULL-terminated */
	size_t nartifacts;
	size_t line;
};

struct pipeline {
	struct stage_def *stages;
	size_t nstages;
};

/*
 * Parse a pipeline from `buf`; messages name `file` with line and column.
 * The caller frees *out with pipeline_free().
 */
int pipeline_parse(const char *file, const char *buf, size_t len,
    struct pipeline **out);
/* Read and parse a pipeline file on disk (`runner check`). */
int pipeline_load(const char *path, struct pipeline **out);
void pipeline_free(struct pipeline *pl);
/* A dump of the parsed pipeline, for golden tests and `check --dump`. */
void pipeline_dump(const struct pipeline *pl, struct sbuf *out);

#endif
