/*
 * runner: the command-line entry point. It finds the subcommand in the
 * table and hands over; each command lives in its own cmd_*.c file.
 */
#include "cli.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RUNNER_VERSION
#define RUNNER_VERSION "dev"
#endif

const struct command commands[] = {
	{ "init",         cmd_init,         "create a home: store, directories, commented runner.yml" },
	{ "install-hook", cmd_install_hook, "install the post-receive hook into a bare repository" },
	{ "serve",        cmd_serve,        "run the daemon: a supervisor and a pool of workers" },
	{ "status",       cmd_status,       "show the queue, running jobs and recent results" },
	{ "show",         cmd_show,         "show one job: stages, exit codes, durations, artifacts" },
	{ "log",          cmd_log,          "print or follow the log of a job or one of its stages" },
	{ "cancel",       cmd_cancel,       "cancel a queued or running job" },
	{ "run",          cmd_worker,       "queue a build of a branch's head by hand, with variables" },
	{ "retry",        cmd_retry,        "queue a new job for the same commit as a finished one" },
	{ "artifacts",    cmd_worker,       "list a job's artifacts, or extract them safely" },
	{ "deploy",       cmd_worker,       "deploy a passed build's artifact to an environment" },
	{ "rollback",     cmd_rollback,     "redeploy the previous release of an environment" },
	{ "releases",     cmd_releases,     "list the releases of an environment" },
	{ "notify",       cmd_worker,       "list notification targets, or send a test event to one" },
	{ "check",        cmd_check,        "validate a pipeline file" },
	{ "gc",           cmd_gc,           "remove what retention lets go, and say what it freed" },
	{ "pause",        cmd_pause,        "hold the queue: pushes queue, no job starts" },
	{ "resume",       cmd_resume,       "release a paused queue" },
	{ "drain",        cmd_drain,        "let a build host finish its jobs and claim no new one" },
	{ "web",          cmd_web,          "serve the read-only web page (the daemon starts it by itself)" },
	{ "doctor",       cmd_doctor,       "check the home, users, repositories and store; say how to fix" },
	{ "pre-receive",  cmd_worker,       "the pre-receive hook (install-hook --pre-receive)" },
	{ "verify",       cmd_worker,       "check the signed provenance of a build's artifact" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: runner COMMAND [OPTIONS] [ARGS]\n"
	    "\n"
	    "A git-hook-driven CI runner: a push runs the stages of the\n"
	    "pushed commit's .runner.yml and records the result.\n"
	    "\n"
	    "Commands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-13s %s\n", c->name, c->summary);
	fprintf(f,
	    "\n"
	    "Every command takes --home DIR (default $RUNNER_HOME, else\n"
	    "~/.runner) and --help.\n"
	    "\n"
	    "Exit codes:\n"
	    "  0  success\n"
	    "  1  failure (the message says what and where)\n"
	    "  2  usage error (unknown command or option, missing argument)\n"
	    "\n"
	    "See 'runner COMMAND --help' and docs/ for details.\n");
}

static int run(const struct command *c, int argc, char **argv)
{
	return c->fn(argc, argv);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char *sub[] = { argv[2], "--help", NULL };
			for (const struct command *c = commands; c->name; c++)
				if (!strcmp(c->name, argv[2]))
					return run(c, 2, sub);
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("runner %s\n", RUNNER_VERSION);
		return EXIT_OK;
	}
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(c->name, argv[1]))
			continue;
		rc = run(c, argc - 1, argv + 1);
		error_clear();
		return rc;
	}
	fprintf(stderr, "runner: unknown command '%s' (see 'runner --help')\n",
	    argv[1]);
	return EXIT_USAGE;
}
