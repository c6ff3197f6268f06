/*
 * runner check [FILE]: validate a pipeline file with the same parser and
 * messages a job uses.
 */
#include "cli.h"
#include "pipeline.h"
#include "util.h"

#include <stdio.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner check [--dump] [FILE]\n"
    "\n"
    "Validate a pipeline file (default: .runner.yml). Prints 'ok' and the\n"
    "stages, or the first problem as FILE:LINE:COLUMN: message, and exits\n"
    "1. --dump prints the parsed stages in full.\n";

int cmd_check(int argc, char **argv)
{
	const char *file = PIPELINE_NAME, *home_opt = NULL;
	struct pipeline *pl = NULL;
	struct sbuf out = SBUF_INIT;
	int dump = 0, rc;

	/* --home is accepted like everywhere, and not needed here */
	const struct opt opts[] = {
		OPT_BOOL(0, "dump", &dump,
		    "print the pipeline as runner reads it"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
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
