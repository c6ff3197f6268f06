/*
 * runner check [FILE]: validate a pipeline file with the same parser and
 * messages a job uses; runner check --config [FILE]: validate a runner.yml
 * as the daemon does when it starts or reloads, so that a reload can be
 * preceded by a check (the systemd unit's ExecReload).
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
    "   or: runner check --config [--home DIR] [FILE]\n"
    "\n"
    "Validate a pipeline file (default: .runner.yml). Prints 'ok' and the\n"
    "stages, or the first problem as FILE:LINE:COLUMN: message, and exits\n"
    "1. --dump prints the parsed stages in full.\n"
    "\n"
    "--config validates a runner.yml instead (default: the home's) as the\n"
    "daemon reads it when it starts or reloads: the same checks, the same\n"
    "FILE:LINE:COLUMN messages. Exits 0 when the daemon would take it, 1\n"
    "when it would not (a reload then keeps the last good configuration;\n"
    "a start fails), 2 on a usage error. The systemd unit's ExecReload\n"
    "runs it before it signals the daemon.\n";

/* runner check --config: what serve and SIGHUP would say of `file`. */
static int check_config(const char *file)
{
	struct config *c = NULL;

	if (config_check_file(file, &c) < 0)
		return cli_error("%s", error_last());
	printf("%s: ok, %zu repositor%s, %zu environment%s, %zu notify "
	    "target%s, %zu schedule%s\n", file, c->nrepos, c->nrepos == 1 ?
	    "y" : "ies", c->nenvs, c->nenvs == 1 ? "" : "s", c->nnotify,
	    c->nnotify == 1 ? "" : "s", c->nschedules, c->nschedules == 1 ?
	    "" : "s");
	config_free(c);
	return EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	const char *file = PIPELINE_NAME, *home_opt = NULL;
	struct pipeline *pl = NULL;
	struct sbuf out = SBUF_INIT;
	int dump = 0, config = 0, rc;

	/* --home: whose runner.yml gives the defaults --dump shows, and the
	 * one --config checks */
	const struct opt opts[] = {
		OPT_BOOL(0, "dump", &dump,
		    "print the pipeline as runner reads it"),
		OPT_BOOL(0, "config", &config,
		    "validate a runner.yml (default: the home's)"),
		OPT_END(),
	};

	if ((rc = cli_parse(argc, argv, usage, opts, &home_opt)) >= 0)
		return rc;
	if (argc - optind > 1 || (config && dump))
		return cli_usage(usage);
	if (config) {
		char *home = cli_home(home_opt);
		char *path = optind < argc ? xstrdup(argv[optind]) :
		    xasprintf("%s/%s", home, CONFIG_FILE);
		rc = check_config(path);
		free(path);
		free(home);
		return rc;
	}
	if (optind < argc)
		file = argv[optind];
	if (pipeline_load(file, &pl) < 0)
		return cli_error("%s", error_last());
	if (dump) {
		/* the defaults in effect: runner.yml's, where there is one */
		struct config *conf = NULL;
		char *home = cli_home(home_opt);
		int64_t def = 30 * 60 * 1000;
		if (cli_config(home, 1, &conf) == 0)
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
