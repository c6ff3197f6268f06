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

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dump", no_argument, NULL, 'd' },
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = PIPELINE_NAME;
	struct pipeline *pl = NULL;
	struct sbuf out = SBUF_INIT;
	int c, dump = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'd')
			dump = 1;
		else if (c == 'H')
			;	/* accepted like everywhere; not needed here */
		else if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		} else
			return cli_usage(usage);
	}
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
