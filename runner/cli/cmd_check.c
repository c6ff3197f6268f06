/*
 * runner check [FILE]: validate a pipeline file with the same parser and
 * messages a job uses.
 */
#include "cli.h"
#include "pipeline.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
    "usage: runner check [--dump] [FILE]\n"
    "\n"
    "Validate a pipeline file (default: .runner.yml). Prints 'ok' and the\n"
    "stages, or the first problem as FILE:LINE:COLUMN: message, and exits\n"
    "1. --dump prints the parsed stages in full.\n";

static int on_opt(int c, const char *arg, void *ctx)
{
	(void)arg;
	if (c == 'd')
		*(int *)ctx = 1;
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dump", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = PIPELINE_NAME, *home_opt = NULL;
	struct pipeline *pl = NULL;
	struct sbuf out = SBUF_INIT;
	int dump = 0, rc;

	/* --home is accepted like everywhere, and not needed here */
	if ((rc = cli_options(argc, argv, usage, NULL, opts, on_opt, &dump,
	    &home_opt)) >= 0)
		return rc;
	if (argc - optind > 1)
		return cli_usage(usage);
	if (optind < argc)
		file = argv[optind];
	if (pipeline_load(file, &pl) < 0) {
		fprintf(stderr, "%s\n", error_last());
		return EXIT_FAIL;
	}
	if (dump) {
		pipeline_dump(pl, &out);
	} else {
		sbuf_addf(&out, "%s: ok, %zu stage%s:", file, pl->nstages,
		    pl->nstages == 1 ? "" : "s");
		for (size_t i = 0; i < pl->nstages; i++)
			sbuf_addf(&out, " %s", pl->stages[i].name);
		sbuf_addch(&out, '\n');
	}
	fputs(out.buf, stdout);
	sbuf_release(&out);
	pipeline_free(pl);
	return EXIT_OK;
}
