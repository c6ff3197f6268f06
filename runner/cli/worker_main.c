/*
 * runner-worker: the half of runner that links libgit2, libcurl and
 * libarchive. The supervisor starts it as each of its workers and as its
 * notifier; `runner` hands it the commands that need those libraries
 * (exec, so they behave exactly as if runner ran them).
 */
#include "cli.h"
#include "util.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct command worker_commands[] = {
	{ "artifacts",   cmd_artifacts,   "list a job's artifacts, or extract them safely" },
	{ "deploy",      cmd_deploy,      "deploy a passed build's artifact to an environment" },
	{ "run",         cmd_run,         "queue a build of a branch's head by hand, with variables" },
	{ "notify",      cmd_notify,      "list notification targets, or send a test event to one" },
	{ "pre-receive", cmd_pre_receive, "the pre-receive hook (install-hook --pre-receive)" },
};

/* The daemon's children: `worker HOME PARENT SLOT` and `notifier HOME
 * PARENT SLOT`, with the supervisor's wake-up pipe on descriptor 3; SLOT
 * is the worker's number (the notifier's -1). */
static const struct {
	const char *name;
	worker_child *fn;
} children[] = {
	{ "worker", worker_main },
	{ "notifier", notifier_main },
};

static int usage(void)
{
	fprintf(stderr, "usage: runner-worker COMMAND [ARGS]\n"
	    "\n"
	    "The part of runner that links libgit2, libcurl and libarchive:\n"
	    "'runner serve' starts it as its workers and notifier, and runner\n"
	    "runs these commands through it:\n\n");
	for (size_t i = 0; i < sizeof(worker_commands) /
	    sizeof(*worker_commands); i++)
		fprintf(stderr, "  %-12s %s\n", worker_commands[i].name,
		    worker_commands[i].summary);
	fprintf(stderr, "\nRun them as 'runner COMMAND'.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(children) / sizeof(*children); i++) {
		if (strcmp(argv[1], children[i].name))
			continue;
		if (argc != 5)
			return usage();
		return children[i].fn(argv[2], 3, (pid_t)atoi(argv[3]),
		    atoi(argv[4]));
	}
	for (size_t i = 0; i < sizeof(worker_commands) /
	    sizeof(*worker_commands); i++) {
		if (strcmp(argv[1], worker_commands[i].name))
			continue;
		int rc = worker_commands[i].fn(argc - 1, argv + 1);
		error_clear();
		return rc;
	}
	return usage();
}
