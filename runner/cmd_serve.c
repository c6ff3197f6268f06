/*
 * runner serve: run the daemon in the foreground (a service manager or
 * `&` puts it in the background). It logs to stderr.
 */
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>
#include <unistd.h>

static const char usage[] =
    "usage: runner serve [--home DIR] [--workers N]\n"
    "\n"
    "Run the supervisor and N worker processes (default: 'workers' in\n"
    "runner.yml, else the number of cores). Jobs queued while the daemon\n"
    "was down run when it starts; jobs a dead daemon left running are\n"
    "queued again. SIGTERM or SIGINT stops it: running stages get\n"
    "'shutdown_grace' to finish, then are killed and their jobs recorded\n"
    "'interrupted'. Logs go to stderr.\n";

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	struct config *conf = NULL;
	int c, workers = 0, rc = EXIT_FAIL;
	char *home, *end;

	while ((c = getopt_long(argc, argv, "hw:", opts, NULL)) != -1) {
		if (c == 'H') {
			home_opt = optarg;
		} else if (c == 'w') {
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 256) {
				cli_error("--workers must be a number from 1 to 256, "
				    "not '%s'", optarg);
				return EXIT_USAGE;
			}
			workers = (int)v;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		} else {
			return cli_usage(usage);
		}
	}
	if (optind != argc)
		return cli_usage(usage);
	home = cli_home(home_opt);
	if (config_load(home, &conf) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	if (!workers)
		workers = conf->workers;
	if (!workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n > 0 ? (int)n : 1;
	}
	if (daemon_serve(home, conf, workers) < 0) {
		cli_error("%s", error_last());
		goto out;
	}
	rc = EXIT_OK;
out:
	config_free(conf);
	free(home);
	return rc;
}
