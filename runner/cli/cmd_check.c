/*
 * runner check [FILE]: validate a pipeline file with the same parser and
 * messages a job uses.
 */
#include "cli.h"
#include "pipeline.h"
#include "util.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
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

	/* --home: whose runner.yml gives the defaults --dump shows */
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
	if (pipeline_load(file, &pl) < 0)
		return cli_error("%s", error_last());
	if (dump) {
		/* the defaults in effect: runner.yml's, where there is one */
		struct config *conf = NULL;
		char *home = cli_home(home_opt);
		int64_t def = 30 * 60 * 1000;
		if (config_load(home, &conf) == 0)
			def = conf->default_timeout_ms;
		config_free(conf);
		free(home);
		pipeline_dump(pl, def, &out);
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
